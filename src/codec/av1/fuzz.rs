//! Fuzz target of the AV1 translation (see [`crate::codec::fuzz`]): the key
//! and inter frame parameters of `tiles.ivf` as the unit tests fill them (or
//! random bytes), with boundary values in tile counts and sizes, reference
//! indices, segmentation and film grain, and tile data of the test streams
//! (real tile offsets, or a frame OBU cut anywhere), real or damaged, through
//! [`build_controls_with_state`] and [`append_bitstream`].

use super::tests::{
    frames, inter_pic, key_pic, picture, slice_param, tiles_of, INTER_PIC_FIELDS, KEY_LF_FIELDS, KEY_MODE_FIELDS, KEY_PIC_FIELDS, RT, TILES,
};
use super::*;
use crate::codec::fuzz::{havoc, mutate_bytes, random_pod, run, surface, tweak_one_field, FuzzRefs, Rng, Tweak};
use crate::va_sys::ffi::{VAFilmGrainStructAV1, VASegmentationStructAV1, VASliceParameterBufferAV1, VAWarpedMotionParamsAV1};

/// Executions of the bounded run in `cargo test`.
const ITERS: u64 = 50_000;

impl Tweak for VASegmentationStructAV1 {
    fn tweak(mut self, r: &mut Rng) -> Self {
        tweak_one_field!(self, r; feature_data, feature_mask);
        self
    }
}

impl Tweak for VAFilmGrainStructAV1 {
    fn tweak(mut self, r: &mut Rng) -> Self {
        tweak_one_field!(self, r;
            grain_seed, num_y_points, point_y_value, point_y_scaling, num_cb_points, point_cb_value,
            point_cb_scaling, num_cr_points, point_cr_value, point_cr_scaling, ar_coeffs_y, ar_coeffs_cb,
            ar_coeffs_cr, cb_mult, cb_luma_mult, cb_offset, cr_mult, cr_luma_mult, cr_offset,
        );
        self
    }
}

impl Tweak for VAWarpedMotionParamsAV1 {
    fn tweak(mut self, r: &mut Rng) -> Self {
        tweak_one_field!(self, r; wmtype, wmmat, invalid);
        self
    }
}

fn tweak_pic(p: &mut VADecPictureParameterBufferAV1, r: &mut Rng) {
    tweak_one_field!(p, r;
        profile, order_hint_bits_minus_1, bit_depth_idx, matrix_coefficients, current_frame,
        current_display_picture, anchor_frames_num, frame_width_minus1, frame_height_minus1,
        output_frame_width_in_tiles_minus_1, output_frame_height_in_tiles_minus_1, ref_frame_map,
        ref_frame_idx, primary_ref_frame, order_hint, seg_info, film_grain_info, tile_cols, tile_rows,
        width_in_sbs_minus_1, height_in_sbs_minus_1, tile_count_minus_1, context_update_tile_id,
        superres_scale_denominator, interp_filter, filter_level, filter_level_u, filter_level_v,
        ref_deltas, mode_deltas, base_qindex, y_dc_delta_q, u_dc_delta_q, u_ac_delta_q, v_dc_delta_q,
        v_ac_delta_q, cdef_damping_minus_3, cdef_bits, cdef_y_strengths, cdef_uv_strengths, wm,
    );
}

fn tweak_tile(s: &mut VASliceParameterBufferAV1, r: &mut Rng) {
    tweak_one_field!(s, r;
        slice_data_size, slice_data_offset, slice_data_flag, tile_row, tile_column, tg_start, tg_end,
        anchor_frame_idx, tile_idx_in_tile_list,
    );
}

/// The bitfield words of a picture: the seed's, tweaked, or random.
struct Words {
    seq: u32,
    pic: u32,
    lf: u8,
    qm: u16,
    mode: u32,
    lr: u16,
    seg: u32,
    fg: u32,
}

#[test]
fn fuzz_translation() {
    let tiles_frames = frames(TILES);
    // (tile data, tile size bytes) of the two frames the unit tests check.
    let seeds: [(&[u8], usize); 2] = [(&tiles_frames[0][11..], 2), (&tiles_frames[1][18..], 1)];
    let others: Vec<&[u8]> = [
        RT,
        &include_bytes!("../../../tests/streams/av1.ivf")[..],
        &include_bytes!("../../../tests/streams/av1-10bit.ivf")[..],
        &include_bytes!("../../../tests/streams/av1-resize.ivf")[..],
    ]
    .iter()
    .flat_map(|s| frames(s))
    .collect();
    run("av1", ITERS, |r, out| {
        let mut state = Av1State::default();
        let refs = FuzzRefs::new(r);
        for _ in 0..=r.below(3) {
            let key = r.chance(1, 2);
            let mut pic = if key { key_pic() } else { inter_pic() };
            if r.chance(1, 2) {
                for s in pic.ref_frame_map.iter_mut() {
                    *s = surface(r);
                }
            }
            let seq_fields = super::tests::SEQ_FIELDS;
            let mut w = Words {
                seq: seq_fields,
                pic: if key { KEY_PIC_FIELDS } else { INTER_PIC_FIELDS },
                lf: KEY_LF_FIELDS,
                qm: 0,
                mode: KEY_MODE_FIELDS,
                lr: 0,
                seg: 0,
                fg: 0,
            };
            match r.below(16) {
                0 => {
                    pic = random_pod(r);
                    w = Words {
                        seq: r.next_u64() as u32,
                        pic: r.next_u64() as u32,
                        lf: r.next_u64() as u8,
                        qm: r.next_u64() as u16,
                        mode: r.next_u64() as u32,
                        lr: r.next_u64() as u16,
                        seg: r.next_u64() as u32,
                        fg: r.next_u64() as u32,
                    };
                }
                1..=4 => match r.below(8) {
                    0 => w.seq = w.seq.tweak(r),
                    1 => w.pic = w.pic.tweak(r),
                    2 => w.lf = w.lf.tweak(r),
                    3 => w.qm = w.qm.tweak(r),
                    4 => w.mode = w.mode.tweak(r),
                    5 => w.lr = w.lr.tweak(r),
                    6 => w.seg = w.seg.tweak(r),
                    _ => w.fg = w.fg.tweak(r),
                },
                5..=7 => {}
                _ => havoc(&mut pic, r, tweak_pic),
            }
            // Tile data: a seed frame's with FFmpeg's tile layout, or a frame OBU cut anywhere.
            let (data, mut params): (Vec<u8>, Vec<VASliceParameterBufferAV1>) = if r.chance(1, 2) {
                let (d, tsb) = seeds[usize::from(!key)];
                (d.to_vec(), tiles_of(d, tsb).iter().map(|t| t.param).collect())
            } else {
                let f = *r.pick(&others);
                let d = f[r.below(f.len().min(40))..].to_vec();
                let n = 1 + r.below(3);
                let step = (d.len() / n) as u32;
                let params = (0..n).map(|i| slice_param(i as u32 * step, step, i as u16)).collect();
                (d, params)
            };
            let data = if r.chance(1, 3) { mutate_bytes(&data, r) } else { data };
            if r.chance(1, 3) {
                for t in params.iter_mut() {
                    if r.chance(1, 2) {
                        havoc(t, r, tweak_tile);
                    }
                }
            }
            if r.chance(1, 8) {
                params.push(random_pod(r));
            }
            let tiles: Vec<Av1Tile> = params.iter().map(|&param| Av1Tile { param, data: &data }).collect();
            let p = Av1Picture {
                seq_info_fields: w.seq,
                pic_info_fields: w.pic,
                loop_filter_info_fields: w.lf,
                qmatrix_fields: w.qm,
                mode_control_fields: w.mode,
                loop_restoration_fields: w.lr,
                segment_info_fields: w.seg,
                film_grain_info_fields: w.fg,
                ..picture(&pic, 0, 0, 0, &tiles)
            };
            let _ = accepts_bit_depth(pic.bit_depth_idx, r.chance(1, 2));
            let res = build_controls_with_state(&p, &refs, &mut state);
            out.note(&res);
            if let Ok(c) = &res {
                let _ = c.specs();
            }
            let mut bits = Vec::new();
            append_bitstream(&mut bits, &p);
        }
    });
}
