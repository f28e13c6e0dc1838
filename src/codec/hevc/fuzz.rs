//! Fuzz target of the HEVC translation (see [`crate::codec::fuzz`]): picture
//! parameters of `bframes-wp.hevc` (as the unit tests fill them) or random
//! bytes, with boundary values in their counts, and 1..4 slice segments of
//! the test streams, real or damaged, through [`build_controls_with_state`]
//! and [`append_slice`].

use super::tests::{bframes_wp_pic, bframes_wp_words, main10_iq, slice_param, slices_of, va_pic, BFRAMES_WP, MAIN10_SCALING, SLICES};
use super::*;
use crate::codec::fuzz::{havoc, mutate_bytes, random_pod, run, surface, tweak_one_field, FuzzRefs, Rng, Tweak};
use crate::va_sys::ffi::{
    VA_PICTURE_HEVC_BOTTOM_FIELD, VA_PICTURE_HEVC_FIELD_PIC, VA_PICTURE_HEVC_INVALID, VA_PICTURE_HEVC_LONG_TERM_REFERENCE,
    VA_PICTURE_HEVC_RPS_LT_CURR, VA_PICTURE_HEVC_RPS_ST_CURR_AFTER, VA_PICTURE_HEVC_RPS_ST_CURR_BEFORE,
};

/// Executions of the bounded run in `cargo test`.
const ITERS: u64 = 50_000;

fn tweak_pic(p: &mut VAPictureParameterBufferHEVC, r: &mut Rng) {
    tweak_one_field!(p, r;
        CurrPic, ReferenceFrames, pic_width_in_luma_samples, pic_height_in_luma_samples,
        sps_max_dec_pic_buffering_minus1, bit_depth_luma_minus8, bit_depth_chroma_minus8,
        pcm_sample_bit_depth_luma_minus1, pcm_sample_bit_depth_chroma_minus1,
        log2_min_luma_coding_block_size_minus3, log2_diff_max_min_luma_coding_block_size,
        log2_min_transform_block_size_minus2, log2_diff_max_min_transform_block_size,
        log2_min_pcm_luma_coding_block_size_minus3, log2_diff_max_min_pcm_luma_coding_block_size,
        max_transform_hierarchy_depth_intra, max_transform_hierarchy_depth_inter, init_qp_minus26,
        diff_cu_qp_delta_depth, pps_cb_qp_offset, pps_cr_qp_offset, log2_parallel_merge_level_minus2,
        num_tile_columns_minus1, num_tile_rows_minus1, column_width_minus1, row_height_minus1,
        log2_max_pic_order_cnt_lsb_minus4, num_short_term_ref_pic_sets, num_long_term_ref_pic_sps,
        num_ref_idx_l0_default_active_minus1, num_ref_idx_l1_default_active_minus1,
        pps_beta_offset_div2, pps_tc_offset_div2, num_extra_slice_header_bits, st_rps_bits,
    );
}

fn tweak_slice(s: &mut VASliceParameterBufferHEVC, r: &mut Rng) {
    tweak_one_field!(s, r;
        slice_data_size, slice_data_offset, slice_data_flag, slice_data_byte_offset, slice_segment_address,
        RefPicList, collocated_ref_idx, num_ref_idx_l0_active_minus1, num_ref_idx_l1_active_minus1,
        slice_qp_delta, luma_log2_weight_denom, delta_chroma_log2_weight_denom, delta_luma_weight_l0,
        five_minus_max_num_merge_cand, num_entry_point_offsets, entry_offset_to_subset_array,
        slice_data_num_emu_prevn_bytes,
    );
}

/// A DPB of real-looking references: surfaces the resolver may know, RPS classes.
fn references(p: &mut VAPictureParameterBufferHEVC, r: &mut Rng) {
    let classes = [
        VA_PICTURE_HEVC_RPS_ST_CURR_BEFORE,
        VA_PICTURE_HEVC_RPS_ST_CURR_AFTER,
        VA_PICTURE_HEVC_RPS_LT_CURR | VA_PICTURE_HEVC_LONG_TERM_REFERENCE,
        0,
        VA_PICTURE_HEVC_FIELD_PIC | VA_PICTURE_HEVC_BOTTOM_FIELD | VA_PICTURE_HEVC_RPS_ST_CURR_BEFORE,
    ];
    for f in p.ReferenceFrames.iter_mut().take(r.below(16)) {
        *f = va_pic(surface(r), r.below(64) as i32 - 32, *r.pick(&classes));
    }
    if r.chance(1, 8) {
        p.ReferenceFrames[r.below(15)].flags |= VA_PICTURE_HEVC_INVALID;
    }
}

#[test]
fn fuzz_translation() {
    let streams: Vec<Vec<&[u8]>> = [
        BFRAMES_WP,
        SLICES,
        MAIN10_SCALING,
        &include_bytes!("../../../tests/streams/hevc-main.hevc")[..],
        &include_bytes!("../../../tests/streams/hevc-slices.hevc")[..],
        &include_bytes!("../../../tests/streams/hevc-main10.hevc")[..],
    ]
    .iter()
    .map(|s| slices_of(s))
    .collect();
    let (pic_fields, slice_parsing_fields) = bframes_wp_words();
    run("hevc", ITERS, |r, out| {
        let mut state = HevcState::new();
        let refs = FuzzRefs::new(r);
        for _ in 0..=r.below(3) {
            let annex_b = r.chance(1, 2);
            state.set_annex_b(annex_b);
            let (mut pic, mut words) = (bframes_wp_pic(r.below(40) as i32), (pic_fields, slice_parsing_fields));
            references(&mut pic, r);
            match r.below(16) {
                0 => {
                    pic = random_pod(r);
                    words = (r.next_u64() as u32, r.next_u64() as u32);
                }
                1..=3 => words = (words.0.tweak(r), words.1.tweak(r)),
                4..=7 => {}
                _ => havoc(&mut pic, r, tweak_pic),
            }
            let iq = match r.below(4) {
                0 => Some(random_pod(r)),
                1 => Some(main10_iq()),
                _ => None,
            };
            // Half the time the stream the picture parameters belong to.
            let stream = if r.chance(1, 2) { &streams[0] } else { r.pick(&streams) };
            let first = r.below(stream.len());
            let datas: Vec<Vec<u8>> =
                stream[first..].iter().take(1 + r.below(4)).map(|d| if r.chance(1, 3) { mutate_bytes(d, r) } else { d.to_vec() }).collect();
            let slices: Vec<HevcSlice> = datas
                .iter()
                .map(|d| {
                    let l0: Vec<u8> = (0..r.below(16)).map(|_| r.below(17) as u8).collect();
                    let l1: Vec<u8> = (0..r.below(16)).map(|_| r.below(17) as u8).collect();
                    let mut param = slice_param(d, &l0, &l1);
                    if r.chance(1, 3) {
                        havoc(&mut param, r, tweak_slice);
                    }
                    HevcSlice { param, long_slice_flags: if r.chance(1, 4) { r.next_u64() as u32 } else { 0 }, data: d }
                })
                .collect();
            let p = HevcPicture { pic: &pic, pic_fields: words.0, slice_parsing_fields: words.1, iq: iq.as_ref(), slices: &slices };
            let res = build_controls_with_state(&p, &refs, &mut state);
            out.note(&res);
            if let Ok(c) = res {
                assert_eq!(c.slice_params.len(), slices.len());
                let _: Vec<crate::v4l2::HevcEntryPointOffset> = c.entry_point_offsets.iter().flatten().copied().collect();
            }
            let mut out = Vec::new();
            for s in &slices {
                append_slice(&mut out, s.data, annex_b);
            }
        }
    });
}
