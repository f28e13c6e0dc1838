//! Fuzz target of the H.264 translation (see [`crate::codec::fuzz`]): picture
//! parameters of `cabac-bframes-wp.h264` (as the unit tests fill them) or
//! random bytes, with boundary values in their counts, and 1..4 slices of the
//! test streams, real or damaged, through [`build_controls_with_state`] and
//! [`append_slice`].

use super::tests::{cabac_pic_param, flat_iq, slices_of, va_pic, BASELINE_POC2, CABAC_BFRAMES_WP, CAVLC_SLICES, MBAFF};
use super::*;
use crate::codec::fuzz::{havoc, mutate_bytes, random_pod, run, surface, tweak_one_field, FuzzRefs, Rng, Tweak};
use crate::va_sys::ffi::{
    VAProfileH264ConstrainedBaseline, VAProfileH264High, VAProfileH264Main, VA_PICTURE_H264_BOTTOM_FIELD, VA_PICTURE_H264_INVALID,
    VA_PICTURE_H264_LONG_TERM_REFERENCE, VA_PICTURE_H264_SHORT_TERM_REFERENCE, VA_PICTURE_H264_TOP_FIELD,
};

/// Executions of the bounded run in `cargo test`.
const ITERS: u64 = 50_000;

fn tweak_pic(p: &mut VAPictureParameterBufferH264, r: &mut Rng) {
    tweak_one_field!(p, r;
        CurrPic, ReferenceFrames, picture_width_in_mbs_minus1, picture_height_in_mbs_minus1,
        bit_depth_luma_minus8, bit_depth_chroma_minus8, num_ref_frames, num_slice_groups_minus1,
        slice_group_map_type, slice_group_change_rate_minus1, pic_init_qp_minus26, pic_init_qs_minus26,
        chroma_qp_index_offset, second_chroma_qp_index_offset, frame_num,
    );
}

fn tweak_slice(s: &mut VASliceParameterBufferH264, r: &mut Rng) {
    tweak_one_field!(s, r;
        slice_data_size, slice_data_offset, slice_data_flag, slice_data_bit_offset, first_mb_in_slice,
        slice_type, direct_spatial_mv_pred_flag, num_ref_idx_l0_active_minus1, num_ref_idx_l1_active_minus1,
        cabac_init_idc, slice_qp_delta, disable_deblocking_filter_idc, RefPicList0, RefPicList1,
        luma_log2_weight_denom, chroma_log2_weight_denom, luma_weight_l0_flag, luma_weight_l0,
        chroma_weight_l0_flag, luma_weight_l1_flag,
    );
}

/// A DPB of real-looking references: surfaces the resolver may know, frames and fields.
fn references(p: &mut VAPictureParameterBufferH264, r: &mut Rng) {
    let flags = [
        VA_PICTURE_H264_SHORT_TERM_REFERENCE,
        VA_PICTURE_H264_LONG_TERM_REFERENCE,
        VA_PICTURE_H264_SHORT_TERM_REFERENCE | VA_PICTURE_H264_TOP_FIELD,
        VA_PICTURE_H264_SHORT_TERM_REFERENCE | VA_PICTURE_H264_BOTTOM_FIELD,
        VA_PICTURE_H264_INVALID,
    ];
    for f in p.ReferenceFrames.iter_mut().take(r.below(17)) {
        let poc = r.below(64) as i32;
        *f = va_pic(surface(r), r.below(20) as u32, *r.pick(&flags), poc, poc + r.below(2) as i32);
    }
}

#[test]
fn fuzz_translation() {
    let streams: Vec<Vec<&[u8]>> = [
        CABAC_BFRAMES_WP,
        CAVLC_SLICES,
        MBAFF,
        BASELINE_POC2,
        &include_bytes!("../../../tests/streams/h264-bframes.h264")[..],
        &include_bytes!("../../../tests/streams/h264-slices.h264")[..],
        &include_bytes!("../../../tests/streams/h264-paff.h264")[..],
        &include_bytes!("../../../tests/streams/h264-mbaff.h264")[..],
        &include_bytes!("../../../tests/streams/h264-high10.h264")[..],
    ]
    .iter()
    .map(|s| slices_of(s))
    .collect();
    run("h264", ITERS, |r, out| {
        let mut state = H264State::new();
        let refs = FuzzRefs::new(r);
        for _ in 0..=r.below(3) {
            let curr = va_pic(surface(r), r.below(16) as u32, VA_PICTURE_H264_SHORT_TERM_REFERENCE, 0, 0);
            let (mut pic, mut seq, mut pf) = cabac_pic_param(curr, r.below(16) as u16, &[], r.chance(1, 2));
            references(&mut pic, r);
            match r.below(16) {
                0 => {
                    pic = random_pod(r);
                    (seq, pf) = (r.next_u64() as u32, r.next_u64() as u32);
                }
                1..=3 => (seq, pf) = (seq.tweak(r), pf.tweak(r)),
                4..=7 => {}
                _ => havoc(&mut pic, r, tweak_pic),
            }
            let iq = match r.below(4) {
                0 => Some(random_pod(r)),
                1 => Some(flat_iq()),
                _ => None,
            };
            // Half the time the stream the picture parameters belong to.
            let stream = if r.chance(1, 2) { &streams[0] } else { r.pick(&streams) };
            let first = r.below(stream.len());
            let datas: Vec<Vec<u8>> =
                stream[first..].iter().take(1 + r.below(4)).map(|d| if r.chance(1, 3) { mutate_bytes(d, r) } else { d.to_vec() }).collect();
            let slices: Vec<SliceInput> = datas
                .iter()
                .map(|d| {
                    let mut param = VASliceParameterBufferH264 {
                        slice_data_size: d.len() as u32,
                        slice_type: r.below(10) as u8,
                        num_ref_idx_l0_active_minus1: r.below(4) as u8,
                        num_ref_idx_l1_active_minus1: r.below(4) as u8,
                        ..Default::default()
                    };
                    for e in param.RefPicList0.iter_mut().chain(param.RefPicList1.iter_mut()).take(r.below(64)) {
                        *e = *r.pick(&pic.ReferenceFrames);
                    }
                    if r.chance(1, 3) {
                        havoc(&mut param, r, tweak_slice);
                    }
                    SliceInput { param, data: d }
                })
                .collect();
            let any = r.next_u64() as i32;
            let profile = *r.pick(&[VAProfileH264ConstrainedBaseline, VAProfileH264Main, VAProfileH264High, any]);
            let p = H264Picture { pic: &pic, seq_fields: seq, pic_fields: pf, iq: iq.as_ref(), slices: &slices, profile };
            let res = build_controls_with_state(&p, &refs, &mut state);
            out.note(&res);
            if let Ok(c) = res {
                assert_eq!(c.slice_params.len(), slices.len());
                assert_eq!(c.pred_weights.len(), slices.len());
            }
            let mut bits = Vec::new();
            for s in &slices {
                append_slice(&mut bits, s.data, r.chance(1, 2));
            }
        }
    });
}
