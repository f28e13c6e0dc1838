//! Unit tests of the HEVC re-parser and translator.
//!
//! - Real encoder output: the streams in `tests/data/hevc` (libx265 via
//!   `gen-streams.sh`), every slice segment re-parsed and compared with the
//!   values FFmpeg's `trace_headers` prints ([`super::oracle`], checked against
//!   trace_headers).
//! - Synthetic headers written with a small bit writer for syntax x265 does not
//!   produce here: inter-predicted slice RPS (needs VA's `st_rps_bits`),
//!   long-term pictures, dependent slice segments, emulation-prevention bytes.
//! - Translation of real pictures (VA buffers filled by hand the way FFmpeg's
//!   `vaapi_hevc.c` fills them, from the trace_headers values) to exact controls.
//! - Malformed input: truncations and noise never panic.

// VA buffers are filled field by field, the way vaapi_hevc.c does.
#![allow(clippy::field_reassign_with_default)]

use super::oracle::{self, Row};
use super::slice_header::*;
use super::translate::{LongSliceFlags, PicFields, SliceParsingFields};
use super::*;
use crate::codec::CodecError;
use crate::va_sys::ffi::{
    _VAPictureParameterBufferHEVC__bindgen_ty_1 as PicUnion, _VAPictureParameterBufferHEVC__bindgen_ty_1__bindgen_ty_1 as PicBits,
    _VAPictureParameterBufferHEVC__bindgen_ty_2 as SliceParsingUnion,
    _VAPictureParameterBufferHEVC__bindgen_ty_2__bindgen_ty_1 as SliceParsingBits,
    _VASliceParameterBufferHEVC__bindgen_ty_1 as LongSliceUnion, _VASliceParameterBufferHEVC__bindgen_ty_1__bindgen_ty_1 as LongSliceBits,
    VAPictureHEVC, VAProfileHEVCMain, VAProfileHEVCMain10, VASurfaceID, VA_INVALID_SURFACE, VA_PICTURE_HEVC_INVALID,
    VA_PICTURE_HEVC_LONG_TERM_REFERENCE, VA_PICTURE_HEVC_RPS_LT_CURR, VA_PICTURE_HEVC_RPS_ST_CURR_AFTER,
    VA_PICTURE_HEVC_RPS_ST_CURR_BEFORE,
};
use std::collections::HashMap;
use v4l2r::bindings::*;

pub(super) const BFRAMES_WP: &[u8] = include_bytes!("../../../tests/data/hevc/bframes-wp.hevc");
pub(super) const SLICES: &[u8] = include_bytes!("../../../tests/data/hevc/slices.hevc");
pub(super) const MAIN10_SCALING: &[u8] = include_bytes!("../../../tests/data/hevc/main10-scaling.hevc");

use crate::codec::nal::split_annexb;

pub(super) fn slices_of(stream: &[u8]) -> Vec<&[u8]> {
    split_annexb(stream).into_iter().filter(|n| (n[0] >> 1) & 0x3f <= 21).collect()
}

fn row_of(h: &SliceHeader) -> Row {
    Row {
        nal_unit_type: h.nal_unit_type,
        nuh_temporal_id_plus1: h.nuh_temporal_id_plus1,
        first_slice_segment_in_pic_flag: h.first_slice_segment_in_pic_flag,
        no_output_of_prior_pics_flag: h.no_output_of_prior_pics_flag,
        slice_segment_address: h.slice_segment_address,
        slice_type: h.slice_type,
        slice_pic_order_cnt_lsb: h.slice_pic_order_cnt_lsb,
        short_term_ref_pic_set_size: h.short_term_ref_pic_set_size,
        slice_temporal_mvp_enabled_flag: h.slice_temporal_mvp_enabled_flag,
        slice_sao_luma_flag: h.slice_sao_luma_flag,
        slice_sao_chroma_flag: h.slice_sao_chroma_flag,
        num_ref_idx_l0_active_minus1: h.num_ref_idx_l0_active_minus1,
        num_ref_idx_l1_active_minus1: h.num_ref_idx_l1_active_minus1,
        mvd_l1_zero_flag: h.mvd_l1_zero_flag,
        collocated_from_l0_flag: h.collocated_from_l0_flag,
        collocated_ref_idx: h.collocated_ref_idx,
        luma_log2_weight_denom: h.pred_weight_table.map(|t| t.luma_log2_weight_denom),
        delta_chroma_log2_weight_denom: h.pred_weight_table.map_or(0, |t| t.delta_chroma_log2_weight_denom),
        five_minus_max_num_merge_cand: h.five_minus_max_num_merge_cand,
        slice_qp_delta: h.slice_qp_delta,
        num_entry_point_offsets: h.num_entry_point_offsets,
        entry_point_offset_minus1: &[],
        header_bits: h.header_bits,
    }
}

fn check_stream(stream: &[u8], ctx: &SliceHeaderContext, rows: &[Row]) {
    let slices = slices_of(stream);
    assert_eq!(slices.len(), rows.len(), "slice count");
    let mut prev: Option<SliceHeader> = None;
    for (i, (nal, row)) in slices.iter().zip(rows).enumerate() {
        let h = parse_slice_header(nal, ctx, prev.as_ref()).unwrap_or_else(|e| panic!("slice {i}: {e}"));
        let mut got = row_of(&h);
        assert_eq!(h.entry_point_offset_minus1, row.entry_point_offset_minus1, "slice {i} entry points");
        got.entry_point_offset_minus1 = row.entry_point_offset_minus1;
        assert_eq!(&got, row, "slice {i}");
        // Raw and RBSP header sizes agree with the bytes: no EPB in these headers.
        assert_eq!(h.header_raw_bytes, h.header_bits / 8 + h.header_epb_count, "slice {i}");
        assert_eq!(h.data_byte_offset(), row.header_bits / 8);
        assert!(!h.dependent_slice_segment_flag);
        prev = Some(h);
    }
}

#[test]
fn bframes_wp_slice_headers_match_trace_headers() {
    check_stream(BFRAMES_WP, &oracle::BFRAMES_WP_CTX, oracle::BFRAMES_WP_SLICES);
}

#[test]
fn slices_slice_headers_match_trace_headers() {
    check_stream(SLICES, &oracle::SLICES_CTX, oracle::SLICES_SLICES);
}

#[test]
fn main10_scaling_slice_headers_match_trace_headers() {
    check_stream(MAIN10_SCALING, &oracle::MAIN10_SCALING_CTX, oracle::MAIN10_SCALING_SLICES);
}

#[test]
fn start_code_in_front_is_accepted() {
    let nal = slices_of(BFRAMES_WP)[2];
    let mut with_sc = vec![0, 0, 0, 1];
    with_sc.extend_from_slice(nal);
    let a = parse_slice_header(nal, &oracle::BFRAMES_WP_CTX, None).unwrap();
    let b = parse_slice_header(&with_sc, &oracle::BFRAMES_WP_CTX, None).unwrap();
    assert_eq!(a, b);
}

#[test]
fn truncated_and_noisy_slices_never_panic() {
    for (stream, ctx) in
        [(BFRAMES_WP, &oracle::BFRAMES_WP_CTX), (SLICES, &oracle::SLICES_CTX), (MAIN10_SCALING, &oracle::MAIN10_SCALING_CTX)]
    {
        for nal in slices_of(stream) {
            let full = parse_slice_header(nal, ctx, None).ok();
            for len in 0..nal.len().min(24) {
                let r = parse_slice_header(&nal[..len], ctx, None);
                if let Some(h) = &full {
                    if (len as u32) < h.header_raw_bytes {
                        assert!(r.is_err(), "prefix of {len} bytes parsed");
                    }
                }
            }
        }
    }
    // Deterministic noise (xorshift), every context flag on.
    let ctx = SliceHeaderContext {
        dependent_slice_segments_enabled: true,
        num_extra_slice_header_bits: 2,
        output_flag_present: true,
        separate_colour_plane: true,
        chroma_format_idc: 1,
        log2_max_pic_order_cnt_lsb: 16,
        num_short_term_ref_pic_sets: 3,
        long_term_ref_pics_present: true,
        num_long_term_ref_pics_sps: 5,
        sps_temporal_mvp_enabled: true,
        sample_adaptive_offset_enabled: true,
        lists_modification_present: true,
        cabac_init_present: true,
        weighted_pred: true,
        weighted_bipred: true,
        pps_slice_chroma_qp_offsets_present: true,
        deblocking_filter_override_enabled: true,
        pps_deblocking_filter_disabled: false,
        pps_beta_offset_div2: 0,
        pps_tc_offset_div2: 0,
        pps_loop_filter_across_slices_enabled: true,
        tiles_enabled: true,
        entropy_coding_sync_enabled: true,
        slice_segment_header_extension_present: true,
        num_ref_idx_l0_default_active_minus1: 3,
        num_ref_idx_l1_default_active_minus1: 3,
        pic_size_in_ctbs_y: 0,
        st_rps_bits: 13,
        num_pic_total_curr: 5,
    };
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let prev = parse_slice_header(slices_of(BFRAMES_WP)[1], &oracle::BFRAMES_WP_CTX, None).unwrap();
    for i in 0..4000 {
        let mut buf = vec![0u8; 2 + (i % 40)];
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        buf[0] &= 0x7f;
        let _ = parse_slice_header(&buf, &ctx, Some(&prev));
        let _ = parse_slice_header(&buf, &ctx, None);
        let _ = parse_slice_header(&buf, &oracle::BFRAMES_WP_CTX, None);
    }
}

// ---------------------------------------------------------------------------
// Synthetic headers

#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bits: u32,
}

impl BitWriter {
    fn put(&mut self, n: u32, v: u32) -> &mut Self {
        for i in (0..n).rev() {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if (v >> i) & 1 == 1 {
                *self.bytes.last_mut().unwrap() |= 0x80 >> (self.bits % 8);
            }
            self.bits += 1;
        }
        self
    }
    fn ue(&mut self, v: u32) -> &mut Self {
        let x = v + 1;
        let len = 32 - x.leading_zeros();
        self.put(len - 1, 0).put(len, x)
    }
    fn se(&mut self, v: i32) -> &mut Self {
        self.ue(if v > 0 { 2 * v as u32 - 1 } else { (-2 * v) as u32 })
    }
    /// byte_alignment() and emulation prevention.
    fn finish(&mut self) -> Vec<u8> {
        self.put(1, 1);
        while !self.bits.is_multiple_of(8) {
            self.put(1, 0);
        }
        let mut out = Vec::new();
        let mut zeros = 0;
        for &b in &self.bytes {
            if zeros >= 2 && b <= 3 {
                out.push(3);
                zeros = 0;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            out.push(b);
        }
        out
    }
}

fn base_ctx() -> SliceHeaderContext {
    SliceHeaderContext { chroma_format_idc: 1, log2_max_pic_order_cnt_lsb: 8, pic_size_in_ctbs_y: 99, ..Default::default() }
}

/// TRAIL_R, P slice, slice header RPS predicted from SPS set 0 of 2.
fn inter_rps_slice() -> Vec<u8> {
    let mut w = BitWriter::default();
    w.put(16, 0x0201); // TRAIL_R, layer 0, tid+1 = 1
    w.put(1, 1).ue(0).ue(1); // first slice, pps 0, P
    w.put(8, 5).put(1, 0); // poc lsb 5, explicit RPS
    w.put(1, 1).ue(0).put(1, 0).ue(0); // inter_ref_pic_set_prediction, delta_idx_minus1, sign, abs_delta_rps_minus1
    w.put(1, 1).put(2, 0b01).put(1, 1); // 3 entries: used, (not used, use_delta), used
    w.put(1, 0).ue(0).se(-3); // no override, five_minus 0, qp delta
    w.finish()
}

#[test]
fn inter_predicted_slice_rps_needs_and_uses_st_rps_bits() {
    let nal = inter_rps_slice();
    let mut ctx = SliceHeaderContext { num_short_term_ref_pic_sets: 2, st_rps_bits: 8, ..base_ctx() };
    let h = parse_slice_header(&nal, &ctx, None).unwrap();
    assert!(h.inter_ref_pic_set_prediction_flag);
    assert_eq!(h.short_term_ref_pic_set_size, 8);
    assert_eq!(h.num_delta_pocs_of_ref_rps_idx, 2);
    assert_eq!(h.slice_pic_order_cnt_lsb, 5);
    assert_eq!(h.slice_qp_delta, -3);
    ctx.st_rps_bits = 0;
    assert!(matches!(parse_slice_header(&nal, &ctx, None), Err(CodecError::Unsupported(_))));
    ctx.st_rps_bits = 6; // ends inside the (used=0, use_delta) pair
    assert!(parse_slice_header(&nal, &ctx, None).is_err());
}

#[test]
fn long_term_pictures_and_sps_rps_index() {
    let mut w = BitWriter::default();
    w.put(16, 0x0201).put(1, 1).ue(0).ue(2); // I slice of a TRAIL_R picture
    w.put(8, 9).put(1, 1).put(2, 2); // poc 9, SPS RPS #2 of 3 (2 bits)
    w.ue(1).ue(1); // num_long_term_sps, num_long_term_pics
    w.put(2, 3).put(1, 1).ue(4); // lt_idx_sps (Ceil(Log2(4)) = 2 bits), msb present, cycle 4
    w.put(8, 200).put(1, 1).put(1, 0); // poc_lsb_lt, used, no msb
    w.se(1);
    let nal = w.finish();
    let ctx = SliceHeaderContext {
        num_short_term_ref_pic_sets: 3,
        long_term_ref_pics_present: true,
        num_long_term_ref_pics_sps: 4,
        ..base_ctx()
    };
    let h = parse_slice_header(&nal, &ctx, None).unwrap();
    assert_eq!(h.short_term_ref_pic_set_idx, 2);
    assert_eq!(h.short_term_ref_pic_set_size, 0);
    assert_eq!((h.num_long_term_sps, h.num_long_term_pics), (1, 1));
    assert_eq!(h.long_term_ref_pic_set_size, 3 + 3 + (2 + 1 + 5) + (8 + 1 + 1));
    assert_eq!(h.slice_qp_delta, 1);
}

#[test]
fn dependent_slice_segments_inherit_and_epbs_are_counted() {
    let ctx = SliceHeaderContext { dependent_slice_segments_enabled: true, entropy_coding_sync_enabled: true, ..base_ctx() };
    let mut w = BitWriter::default();
    w.put(16, 0x2801).put(1, 1).put(1, 0).ue(0).ue(2).se(4).ue(0); // IDR_N_LP, I, qp +4, no entry points
    let first = parse_slice_header(&w.finish(), &ctx, None).unwrap();
    assert!(first.is_irap() && first.is_idr());
    let mut w = BitWriter::default();
    // dependent segment at CTB 0 with entry point offsets that produce 00 00 0x.
    w.put(16, 0x2801).put(1, 0).put(1, 0).ue(0).put(1, 1).put(7, 0);
    w.ue(2).ue(15).put(16, 0).put(16, 1);
    let nal = w.finish();
    assert!(nal.windows(3).any(|x| x == [0, 0, 3]), "test needs an EPB in the header");
    let h = parse_slice_header(&nal, &ctx, Some(&first)).unwrap();
    assert!(h.dependent_slice_segment_flag);
    assert_eq!(h.slice_type, SLICE_I);
    assert_eq!(h.slice_qp_delta, 4);
    assert_eq!(h.entry_point_offset_minus1, vec![0, 1]);
    assert!(h.header_epb_count >= 1);
    assert_eq!(h.header_raw_bytes, h.header_bits / 8 + h.header_epb_count);
    assert!(parse_slice_header(&nal, &ctx, None).is_err());
}

#[test]
fn pred_weight_table_and_chroma_offset_derivation() {
    let mut w = BitWriter::default();
    w.put(16, 0x0201).put(1, 1).ue(0).ue(1); // TRAIL_R, first, pps 0, P
    w.put(8, 4).put(1, 0).ue(1).ue(0).ue(0).put(1, 1); // poc 4, RPS {-1 used}
    w.put(1, 0); // no override: one reference
    w.ue(6).se(-1); // luma denom 6, chroma denom 5
    w.put(1, 1).put(1, 1); // luma / chroma weight flags of ref 0
    w.se(3).se(-2); // delta_luma_weight, luma_offset
    w.se(-4).se(10).se(2).se(-300); // (delta_chroma_weight, delta_chroma_offset) × 2
    w.ue(1).se(0); // five_minus_max_num_merge_cand, slice_qp_delta
    let nal = w.finish();
    let ctx = SliceHeaderContext { weighted_pred: true, ..base_ctx() };
    let h = parse_slice_header(&nal, &ctx, None).unwrap();
    assert_eq!(h.short_term_ref_pic_set_size, 3 + 1 + 1 + 1); // no inter flag for idx 0
    let t = h.pred_weight_table.unwrap();
    assert_eq!((t.luma_log2_weight_denom, t.delta_chroma_log2_weight_denom), (6, -1));
    assert_eq!((t.delta_luma_weight[0][0], t.luma_offset[0][0]), (3, -2));
    assert_eq!(t.delta_chroma_weight[0][0], [-4, 2]);
    // 7-56: 128 + 10 - ((128 * 28) >> 5) = 26; 128 - 300 - ((128 * 34) >> 5) clamps to -128.
    assert_eq!(t.chroma_offset[0][0], [26, -128]);
    assert_eq!(t.delta_luma_weight[1], [0; 16]);
    assert_eq!(h.five_minus_max_num_merge_cand, 1);
}

// ---------------------------------------------------------------------------
// Translation

fn pic_value(f: impl FnOnce(&mut PicBits)) -> u32 {
    let mut b = PicBits::default();
    f(&mut b);
    b._bitfield_1.get(0, 32) as u32
}

fn slice_parsing_value(f: impl FnOnce(&mut SliceParsingBits)) -> u32 {
    let mut b = SliceParsingBits::default();
    f(&mut b);
    b._bitfield_1.get(0, 32) as u32
}

fn long_slice_value(f: impl FnOnce(&mut LongSliceBits)) -> u32 {
    let mut b = LongSliceBits::default();
    f(&mut b);
    b._bitfield_1.get(0, 32) as u32
}

#[test]
fn bitfield_words_decode_like_bindgen() {
    let v = pic_value(|b| {
        b.set_chroma_format_idc(1);
        b.set_weighted_bipred_flag(1);
        b.set_pcm_loop_filter_disabled_flag(1);
    });
    let f = PicFields::from_value(v);
    assert_eq!(f.chroma_format_idc, 1);
    assert!(f.weighted_bipred && f.pcm_loop_filter_disabled && !f.weighted_pred);
    let v = slice_parsing_value(|b| {
        b.set_sample_adaptive_offset_enabled_flag(1);
        b.set_IdrPicFlag(1);
    });
    let f = SliceParsingFields::from_value(v);
    assert!(f.sample_adaptive_offset_enabled && f.idr_pic && !f.rap_pic);
    let f = LongSliceFlags::from_value(long_slice_value(|b| {
        b.set_slice_type(1);
        b.set_LastSliceOfPic(1);
    }));
    assert_eq!(f, LongSliceFlags { last_slice_of_pic: true, dependent_slice_segment: false, slice_type: 1 });
}

struct Refs(HashMap<VASurfaceID, u64>);

impl RefResolver for Refs {
    fn timestamp(&self, surface: VASurfaceID) -> Option<u64> {
        self.0.get(&surface).copied()
    }
}

pub(super) fn invalid_pic() -> VAPictureHEVC {
    VAPictureHEVC { picture_id: VA_INVALID_SURFACE, pic_order_cnt: 0, flags: VA_PICTURE_HEVC_INVALID, va_reserved: [0; 4] }
}

pub(super) fn va_pic(surface: VASurfaceID, poc: i32, flags: u32) -> VAPictureHEVC {
    VAPictureHEVC { picture_id: surface, pic_order_cnt: poc, flags, va_reserved: [0; 4] }
}

/// `pic_fields` / `slice_parsing_fields` words of `bframes-wp.hevc`.
pub(super) fn bframes_wp_words() -> (u32, u32) {
    (
        pic_value(|b| {
            b.set_chroma_format_idc(1);
            b.set_strong_intra_smoothing_enabled_flag(1);
            b.set_sign_data_hiding_enabled_flag(1);
            b.set_cu_qp_delta_enabled_flag(1);
            b.set_weighted_pred_flag(1);
            b.set_weighted_bipred_flag(1);
            b.set_entropy_coding_sync_enabled_flag(1);
            b.set_pps_loop_filter_across_slices_enabled_flag(1);
        }),
        slice_parsing_value(|b| {
            b.set_sps_temporal_mvp_enabled_flag(1);
            b.set_sample_adaptive_offset_enabled_flag(1);
        }),
    )
}

/// Picture parameters of `bframes-wp.hevc` as FFmpeg's vaapi_hevc.c fills them
/// (values from trace_headers of its SPS/PPS).
pub(super) fn bframes_wp_pic(curr_poc: i32) -> VAPictureParameterBufferHEVC {
    let mut pp = VAPictureParameterBufferHEVC::default();
    pp.CurrPic = va_pic(20, curr_poc, 0);
    pp.ReferenceFrames = [invalid_pic(); 15];
    pp.pic_width_in_luma_samples = 176;
    pp.pic_height_in_luma_samples = 144;
    pp.pic_fields = PicUnion { value: bframes_wp_words().0 };
    pp.sps_max_dec_pic_buffering_minus1 = 4;
    pp.log2_diff_max_min_luma_coding_block_size = 3;
    pp.log2_diff_max_min_transform_block_size = 3;
    pp.diff_cu_qp_delta_depth = 1;
    pp.pcm_sample_bit_depth_luma_minus1 = 0xff; // FFmpeg: pcm.bit_depth - 1 with PCM off
    pp.pcm_sample_bit_depth_chroma_minus1 = 0xff;
    pp.log2_min_pcm_luma_coding_block_size_minus3 = 0xfd;
    pp.slice_parsing_fields = SliceParsingUnion { value: bframes_wp_words().1 };
    pp.log2_max_pic_order_cnt_lsb_minus4 = 4;
    pp
}

fn expected_bframes_sps() -> v4l2_ctrl_hevc_sps {
    v4l2_ctrl_hevc_sps {
        pic_width_in_luma_samples: 176,
        pic_height_in_luma_samples: 144,
        log2_max_pic_order_cnt_lsb_minus4: 4,
        sps_max_dec_pic_buffering_minus1: 4,
        log2_diff_max_min_luma_coding_block_size: 3,
        log2_diff_max_min_luma_transform_block_size: 3,
        chroma_format_idc: 1,
        flags: u64::from(
            V4L2_HEVC_SPS_FLAG_SAMPLE_ADAPTIVE_OFFSET
                | V4L2_HEVC_SPS_FLAG_SPS_TEMPORAL_MVP_ENABLED
                | V4L2_HEVC_SPS_FLAG_STRONG_INTRA_SMOOTHING_ENABLED,
        ),
        ..Default::default()
    }
}

/// The third picture of `bframes-wp.hevc` (decode order): B, POC 2, refs POC 0
/// (StCurrBefore) and POC 4 (StCurrAfter), 2 WPP entry points.
#[test]
fn translates_bframes_wp_b_picture_exactly() {
    let nal = slices_of(BFRAMES_WP)[2];
    let mut pp = bframes_wp_pic(2);
    // FFmpeg's DPB slot order need not be decode order: POC 4 first here.
    pp.ReferenceFrames[0] = va_pic(11, 4, VA_PICTURE_HEVC_RPS_ST_CURR_AFTER);
    pp.ReferenceFrames[1] = va_pic(10, 0, VA_PICTURE_HEVC_RPS_ST_CURR_BEFORE);
    let mut sp = VASliceParameterBufferHEVC::default();
    sp.slice_data_size = nal.len() as u32;
    sp.slice_data_byte_offset = 11;
    sp.RefPicList = [[0xff; 15]; 2];
    sp.RefPicList[0][0] = 1; // POC 0
    sp.RefPicList[1][0] = 0; // POC 4
    let lsf = long_slice_value(|b| {
        b.set_LastSliceOfPic(1);
        b.set_slice_type(0);
        b.set_slice_sao_luma_flag(1);
        b.set_slice_sao_chroma_flag(1);
        b.set_slice_temporal_mvp_enabled_flag(1);
    });
    sp.LongSliceFlags = LongSliceUnion { value: lsf };
    sp.collocated_ref_idx = 0;
    sp.slice_qp_delta = 9;
    sp.luma_log2_weight_denom = 7;
    sp.delta_chroma_log2_weight_denom = -1;
    sp.five_minus_max_num_merge_cand = 2;
    let slices = [HevcSlice { param: sp, long_slice_flags: lsf, data: nal }];
    let (pic_fields, slice_parsing_fields) = bframes_wp_words();
    let p = HevcPicture { pic: &pp, pic_fields, slice_parsing_fields, iq: None, slices: &slices };
    let refs = Refs(HashMap::from([(10, 1_000), (11, 2_000)]));
    let mut state = HevcState::new();
    let c = build_controls_with_state(&p, &refs, &mut state).unwrap();

    assert_eq!(format!("{:?}", c.sps), format!("{:?}", expected_bframes_sps()));
    let pps = v4l2_ctrl_hevc_pps {
        diff_cu_qp_delta_depth: 1,
        flags: u64::from(
            V4L2_HEVC_PPS_FLAG_SIGN_DATA_HIDING_ENABLED
                | V4L2_HEVC_PPS_FLAG_CU_QP_DELTA_ENABLED
                | V4L2_HEVC_PPS_FLAG_WEIGHTED_PRED
                | V4L2_HEVC_PPS_FLAG_WEIGHTED_BIPRED
                | V4L2_HEVC_PPS_FLAG_ENTROPY_CODING_SYNC_ENABLED
                | V4L2_HEVC_PPS_FLAG_PPS_LOOP_FILTER_ACROSS_SLICES_ENABLED,
        ),
        ..Default::default()
    };
    assert_eq!(format!("{:?}", c.pps), format!("{pps:?}"));
    assert!(!c.has_scaling_matrix);

    let mut dp = v4l2_ctrl_hevc_decode_params {
        pic_order_cnt_val: 2,
        short_term_ref_pic_set_size: 14,
        num_active_dpb_entries: 2,
        num_poc_st_curr_before: 1,
        num_poc_st_curr_after: 1,
        poc_st_curr_before: [0xff; 16],
        poc_st_curr_after: [0xff; 16],
        poc_lt_curr: [0xff; 16],
        ..Default::default()
    };
    dp.poc_st_curr_before[0] = 0;
    dp.poc_st_curr_after[0] = 1;
    dp.dpb[0] = v4l2_hevc_dpb_entry { timestamp: 1_000, flags: 0, field_pic: 0, reserved: 0, pic_order_cnt_val: 0 };
    dp.dpb[1] = v4l2_hevc_dpb_entry { timestamp: 2_000, flags: 0, field_pic: 0, reserved: 0, pic_order_cnt_val: 4 };
    assert_eq!(format!("{:?}", c.decode_params), format!("{dp:?}"));

    let mut s = v4l2_ctrl_hevc_slice_params {
        bit_size: nal.len() as u32 * 8,
        data_byte_offset: 11, // 88 header bits (trace_headers), no EPB
        num_entry_point_offsets: 2,
        nal_unit_type: 1,
        nuh_temporal_id_plus1: 1,
        slice_type: 0,
        slice_pic_order_cnt: 2,
        five_minus_max_num_merge_cand: 2,
        slice_qp_delta: 9,
        ref_idx_l0: [0xff; 16],
        ref_idx_l1: [0xff; 16],
        short_term_ref_pic_set_size: 14,
        flags: u64::from(
            V4L2_HEVC_SLICE_PARAMS_FLAG_SLICE_SAO_LUMA
                | V4L2_HEVC_SLICE_PARAMS_FLAG_SLICE_SAO_CHROMA
                | V4L2_HEVC_SLICE_PARAMS_FLAG_SLICE_TEMPORAL_MVP_ENABLED,
        ),
        ..Default::default()
    };
    s.ref_idx_l0[0] = 0;
    s.ref_idx_l1[0] = 1;
    s.pred_weight_table.luma_log2_weight_denom = 7;
    s.pred_weight_table.delta_chroma_log2_weight_denom = -1;
    assert_eq!(c.slice_params.len(), 1);
    assert_eq!(format!("{:?}", c.slice_params[0]), format!("{s:?}"));
    assert_eq!(offset_values(&c.entry_point_offsets), [vec![5, 4]]);

    // With start codes: 3 more bytes in front.
    state.set_annex_b(true);
    let c = build_controls_with_state(&p, &refs, &mut state).unwrap();
    assert_eq!(c.slice_params[0].data_byte_offset, 14);
    assert_eq!(c.slice_params[0].bit_size, (nal.len() as u32 + 3) * 8);
    let mut out = Vec::new();
    append_slice(&mut out, nal, true);
    assert_eq!(&out[..3], &[0, 0, 1]);
    assert_eq!(&out[3..], nal);
}

pub(super) fn slice_param(nal: &[u8], l0: &[u8], l1: &[u8]) -> VASliceParameterBufferHEVC {
    let mut sp = VASliceParameterBufferHEVC::default();
    sp.slice_data_size = nal.len() as u32;
    sp.slice_data_flag = 0; // VA_SLICE_DATA_FLAG_ALL
    sp.RefPicList = [[0xff; 15]; 2];
    sp.RefPicList[0][..l0.len()].copy_from_slice(l0);
    sp.RefPicList[1][..l1.len()].copy_from_slice(l1);
    sp
}

/// Picture parameters of the second picture of `slices.hevc` (P, POC 3) into
/// surface `target`, its one reference (POC 0) in surface `reference`.
fn two_slice_p_pic(target: VASurfaceID, reference: VASurfaceID) -> VAPictureParameterBufferHEVC {
    let mut pp = VAPictureParameterBufferHEVC::default();
    pp.CurrPic = va_pic(target, 3, 0);
    pp.ReferenceFrames = [invalid_pic(); 15];
    pp.ReferenceFrames[0] = va_pic(reference, 0, VA_PICTURE_HEVC_RPS_ST_CURR_BEFORE);
    pp.pic_width_in_luma_samples = 176;
    pp.pic_height_in_luma_samples = 144;
    pp.sps_max_dec_pic_buffering_minus1 = 4;
    pp.log2_diff_max_min_luma_coding_block_size = 1;
    pp.log2_diff_max_min_transform_block_size = 2;
    pp.pps_beta_offset_div2 = 1;
    pp.pps_tc_offset_div2 = -1;
    pp.log2_max_pic_order_cnt_lsb_minus4 = 4;
    pp.pic_fields = PicUnion {
        value: pic_value(|b| {
            b.set_chroma_format_idc(1);
            b.set_strong_intra_smoothing_enabled_flag(1);
            b.set_sign_data_hiding_enabled_flag(1);
            b.set_cu_qp_delta_enabled_flag(1);
            b.set_weighted_pred_flag(1);
            b.set_entropy_coding_sync_enabled_flag(1);
        }),
    };
    pp.slice_parsing_fields = SliceParsingUnion { value: slice_parsing_value(|b| b.set_sps_temporal_mvp_enabled_flag(1)) };
    pp
}

/// The VA buffers of the second picture of `slices.hevc` (P, two slices with
/// entry points) as in `translates_two_slice_p_picture_exactly`, decoded into
/// surface `target` with its reference in `reference`, for host tests of the
/// decode flow (`crate::driver::alloc_tests`): picture parameters, and each
/// slice's parameters (offset 0 into its own data buffer) and data.
pub(crate) fn two_slice_p_picture(
    target: VASurfaceID,
    reference: VASurfaceID,
) -> (VAPictureParameterBufferHEVC, Vec<(VASliceParameterBufferHEVC, &'static [u8])>) {
    let lsf = long_slice_value(|b| b.set_slice_type(1));
    let slices = slices_of(SLICES)[2..4]
        .iter()
        .map(|&nal| {
            let mut param = slice_param(nal, &[0], &[]);
            param.LongSliceFlags.value = lsf;
            (param, nal)
        })
        .collect();
    (two_slice_p_pic(target, reference), slices)
}

/// Second picture of `slices.hevc`: P, POC 3, two slices (CTB address 0 and
/// 44), one reference (POC 0); PPS deblocking offsets 1 / -1 inherited by the
/// slices. Slice-based use: one SLICE_PARAMS per slice.
#[test]
fn translates_two_slice_p_picture_exactly() {
    let all = slices_of(SLICES);
    let (s0, s1) = (all[2], all[3]);
    let pp = two_slice_p_pic(21, 10);
    let (pic_fields, slice_parsing_fields) = crate::va_sys::abi::hevc_bitfields(&pp);
    let lsf = long_slice_value(|b| b.set_slice_type(1));
    let slices = [
        HevcSlice { param: slice_param(s0, &[0], &[]), long_slice_flags: lsf, data: s0 },
        HevcSlice { param: slice_param(s1, &[0], &[]), long_slice_flags: lsf, data: s1 },
    ];
    let p = HevcPicture { pic: &pp, pic_fields, slice_parsing_fields, iq: None, slices: &slices };
    let refs = Refs(HashMap::from([(10, 1_000)]));
    let c = build_controls(&p, &refs).unwrap();

    let sps = v4l2_ctrl_hevc_sps {
        pic_width_in_luma_samples: 176,
        pic_height_in_luma_samples: 144,
        log2_max_pic_order_cnt_lsb_minus4: 4,
        sps_max_dec_pic_buffering_minus1: 4,
        log2_diff_max_min_luma_coding_block_size: 1,
        log2_diff_max_min_luma_transform_block_size: 2,
        chroma_format_idc: 1,
        flags: u64::from(V4L2_HEVC_SPS_FLAG_SPS_TEMPORAL_MVP_ENABLED | V4L2_HEVC_SPS_FLAG_STRONG_INTRA_SMOOTHING_ENABLED),
        ..Default::default()
    };
    assert_eq!(format!("{:?}", c.sps), format!("{sps:?}"));
    let pps = v4l2_ctrl_hevc_pps {
        pps_beta_offset_div2: 1,
        pps_tc_offset_div2: -1,
        flags: u64::from(
            V4L2_HEVC_PPS_FLAG_SIGN_DATA_HIDING_ENABLED
                | V4L2_HEVC_PPS_FLAG_CU_QP_DELTA_ENABLED
                | V4L2_HEVC_PPS_FLAG_WEIGHTED_PRED
                | V4L2_HEVC_PPS_FLAG_ENTROPY_CODING_SYNC_ENABLED
                | V4L2_HEVC_PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT,
        ),
        ..Default::default()
    };
    assert_eq!(format!("{:?}", c.pps), format!("{pps:?}"));

    let mut dp = v4l2_ctrl_hevc_decode_params {
        pic_order_cnt_val: 3,
        short_term_ref_pic_set_size: 8,
        num_active_dpb_entries: 1,
        num_poc_st_curr_before: 1,
        poc_st_curr_before: [0xff; 16],
        poc_st_curr_after: [0xff; 16],
        poc_lt_curr: [0xff; 16],
        ..Default::default()
    };
    dp.poc_st_curr_before[0] = 0;
    dp.dpb[0] = v4l2_hevc_dpb_entry { timestamp: 1_000, flags: 0, field_pic: 0, reserved: 0, pic_order_cnt_val: 0 };
    assert_eq!(format!("{:?}", c.decode_params), format!("{dp:?}"));

    // Values checked against trace_headers (see oracle::SLICES_SLICES[2..4]).
    let expect = |nal: &[u8], addr: u32, header_bits: u32, entry_points: u32| {
        let mut s = v4l2_ctrl_hevc_slice_params {
            bit_size: nal.len() as u32 * 8,
            data_byte_offset: header_bits / 8,
            num_entry_point_offsets: entry_points,
            nal_unit_type: 1,
            nuh_temporal_id_plus1: 1,
            slice_type: 1,
            slice_pic_order_cnt: 3,
            five_minus_max_num_merge_cand: 2,
            slice_qp_delta: 7,
            slice_beta_offset_div2: 1,
            slice_tc_offset_div2: -1,
            slice_segment_addr: addr,
            ref_idx_l0: [0xff; 16],
            ref_idx_l1: [0xff; 16],
            short_term_ref_pic_set_size: 8,
            flags: u64::from(V4L2_HEVC_SLICE_PARAMS_FLAG_SLICE_TEMPORAL_MVP_ENABLED | V4L2_HEVC_SLICE_PARAMS_FLAG_COLLOCATED_FROM_L0),
            ..Default::default()
        };
        s.ref_idx_l0[0] = 0;
        s.pred_weight_table.luma_log2_weight_denom = 7;
        s.pred_weight_table.delta_chroma_log2_weight_denom = -1;
        format!("{s:?}")
    };
    assert_eq!(c.slice_params.len(), 2);
    assert_eq!(format!("{:?}", c.slice_params[0]), expect(s0, 0, 80, 3));
    assert_eq!(format!("{:?}", c.slice_params[1]), expect(s1, 44, 104, 4));
    assert_eq!(offset_values(&c.entry_point_offsets), [vec![5, 2, 3], vec![3, 3, 42, 50]]);
}

pub(super) fn main10_iq() -> VAIQMatrixBufferHEVC {
    let mut iq = VAIQMatrixBufferHEVC::default();
    for (m, l) in iq.ScalingList4x4.iter_mut().enumerate() {
        for (i, v) in l.iter_mut().enumerate() {
            *v = 16 + (m + i) as u8;
        }
    }
    for (m, l) in iq.ScalingList8x8.iter_mut().enumerate() {
        l.iter_mut().enumerate().for_each(|(i, v)| *v = 16 + (m * 2 + i) as u8);
    }
    for (m, l) in iq.ScalingList16x16.iter_mut().enumerate() {
        l.iter_mut().enumerate().for_each(|(i, v)| *v = 20 + (m * 3 + i) as u8);
    }
    for (m, l) in iq.ScalingList32x32.iter_mut().enumerate() {
        l.iter_mut().enumerate().for_each(|(i, v)| *v = 30 + (m * 5 + i) as u8);
    }
    iq.ScalingListDC16x16 = [16, 16, 16, 17, 17, 17];
    iq.ScalingListDC32x32 = [16, 18];
    iq
}

/// First picture of `main10-scaling.hevc`: IDR, 10 bit, SPS scaling lists
/// (defaults: the IQ buffer carries them, here with marker values).
#[test]
fn translates_main10_idr_with_scaling_matrix() {
    let nal = slices_of(MAIN10_SCALING)[0];
    let mut pp = VAPictureParameterBufferHEVC::default();
    pp.CurrPic = va_pic(30, 0, 0);
    pp.ReferenceFrames = [invalid_pic(); 15];
    pp.pic_width_in_luma_samples = 176;
    pp.pic_height_in_luma_samples = 144;
    pp.bit_depth_luma_minus8 = 2;
    pp.bit_depth_chroma_minus8 = 2;
    pp.sps_max_dec_pic_buffering_minus1 = 2;
    pp.log2_diff_max_min_luma_coding_block_size = 3;
    pp.log2_diff_max_min_transform_block_size = 3;
    pp.diff_cu_qp_delta_depth = 1;
    pp.log2_max_pic_order_cnt_lsb_minus4 = 4;
    let pic_fields = pic_value(|b| {
        b.set_chroma_format_idc(1);
        b.set_scaling_list_enabled_flag(1);
        b.set_strong_intra_smoothing_enabled_flag(1);
        b.set_sign_data_hiding_enabled_flag(1);
        b.set_cu_qp_delta_enabled_flag(1);
        b.set_weighted_pred_flag(1);
        b.set_pps_loop_filter_across_slices_enabled_flag(1);
    });
    let slice_parsing_fields = slice_parsing_value(|b| {
        b.set_sps_temporal_mvp_enabled_flag(1);
        b.set_sample_adaptive_offset_enabled_flag(1);
        b.set_RapPicFlag(1);
        b.set_IdrPicFlag(1);
        b.set_IntraPicFlag(1);
    });
    let lsf = long_slice_value(|b| b.set_slice_type(2));
    let slices = [HevcSlice { param: slice_param(nal, &[], &[]), long_slice_flags: lsf, data: nal }];
    let iq = main10_iq();
    let p = HevcPicture { pic: &pp, pic_fields, slice_parsing_fields, iq: Some(&iq), slices: &slices };
    let c = build_controls(&p, &Refs(HashMap::new())).unwrap();
    assert_eq!((c.sps.bit_depth_luma_minus8, c.sps.bit_depth_chroma_minus8), (2, 2));
    assert_eq!(
        c.sps.flags,
        u64::from(
            V4L2_HEVC_SPS_FLAG_SCALING_LIST_ENABLED
                | V4L2_HEVC_SPS_FLAG_SAMPLE_ADAPTIVE_OFFSET
                | V4L2_HEVC_SPS_FLAG_SPS_TEMPORAL_MVP_ENABLED
                | V4L2_HEVC_SPS_FLAG_STRONG_INTRA_SMOOTHING_ENABLED
        )
    );
    assert!(c.has_scaling_matrix);
    assert_eq!(c.scaling_matrix.scaling_list_4x4, iq.ScalingList4x4);
    assert_eq!(c.scaling_matrix.scaling_list_8x8, iq.ScalingList8x8);
    assert_eq!(c.scaling_matrix.scaling_list_16x16, iq.ScalingList16x16);
    assert_eq!(c.scaling_matrix.scaling_list_32x32, iq.ScalingList32x32);
    assert_eq!(c.scaling_matrix.scaling_list_dc_coef_16x16, [16, 16, 16, 17, 17, 17]);
    assert_eq!(c.scaling_matrix.scaling_list_dc_coef_32x32, [16, 18]);
    let dp = &c.decode_params;
    assert_eq!(dp.flags, u64::from(V4L2_HEVC_DECODE_PARAM_FLAG_IRAP_PIC | V4L2_HEVC_DECODE_PARAM_FLAG_IDR_PIC));
    assert_eq!((dp.num_active_dpb_entries, dp.num_poc_st_curr_before, dp.short_term_ref_pic_set_size), (0, 0, 0));
    let s = &c.slice_params[0];
    let row = &oracle::MAIN10_SCALING_SLICES[0];
    assert_eq!((s.nal_unit_type, s.slice_type, s.slice_qp_delta), (row.nal_unit_type, 2, row.slice_qp_delta));
    assert_eq!(s.data_byte_offset, row.header_bits / 8);
    assert_eq!(s.ref_idx_l0, [0xff; 16]);
    assert_eq!(s.num_entry_point_offsets, 0);
    let sao = |on: bool, f: u32| if on { u64::from(f) } else { 0 };
    let lf = u64::from(V4L2_HEVC_SLICE_PARAMS_FLAG_SLICE_LOOP_FILTER_ACROSS_SLICES_ENABLED);
    assert_eq!(
        s.flags & !lf,
        sao(row.slice_sao_luma_flag, V4L2_HEVC_SLICE_PARAMS_FLAG_SLICE_SAO_LUMA)
            | sao(row.slice_sao_chroma_flag, V4L2_HEVC_SLICE_PARAMS_FLAG_SLICE_SAO_CHROMA)
            | u64::from(V4L2_HEVC_SLICE_PARAMS_FLAG_COLLOCATED_FROM_L0)
    );

    // Scaling lists on but no IQ buffer: refused.
    let p = HevcPicture { iq: None, ..p };
    assert!(matches!(build_controls(&p, &Refs(HashMap::new())), Err(CodecError::Invalid(_))));
}

/// DPB built from VA reference frames: long-term, StFoll, unknown and
/// duplicate surfaces; the lists point into the timestamp-sorted DPB.
#[test]
fn dpb_long_term_unknown_and_duplicate_references() {
    let nal = slices_of(BFRAMES_WP)[1]; // P, POC 4, one reference
    let mut pp = bframes_wp_pic(4);
    pp.ReferenceFrames[0] = va_pic(12, -8, VA_PICTURE_HEVC_LONG_TERM_REFERENCE | VA_PICTURE_HEVC_RPS_LT_CURR);
    pp.ReferenceFrames[1] = va_pic(10, 0, VA_PICTURE_HEVC_RPS_ST_CURR_BEFORE);
    pp.ReferenceFrames[2] = va_pic(99, -2, VA_PICTURE_HEVC_RPS_ST_CURR_BEFORE);
    pp.ReferenceFrames[3] = va_pic(13, -4, 0);
    pp.ReferenceFrames[4] = va_pic(10, 0, VA_PICTURE_HEVC_RPS_ST_CURR_BEFORE);
    let (pic_fields, slice_parsing_fields) = bframes_wp_words();
    let lsf = long_slice_value(|b| b.set_slice_type(1));
    let slices = [HevcSlice { param: slice_param(nal, &[2], &[]), long_slice_flags: lsf, data: nal }];
    let p = HevcPicture { pic: &pp, pic_fields, slice_parsing_fields, iq: None, slices: &slices };
    let refs = Refs(HashMap::from([(12, 500), (10, 1_000), (13, 700)]));
    let c = build_controls(&p, &refs).unwrap();
    let dp = &c.decode_params;
    assert_eq!(dp.num_active_dpb_entries, 3);
    let got: Vec<(u64, u8, i32)> = dp.dpb[..3].iter().map(|e| (e.timestamp, e.flags, e.pic_order_cnt_val)).collect();
    assert_eq!(got, vec![(500, V4L2_HEVC_DPB_ENTRY_LONG_TERM_REFERENCE as u8, -8), (700, 0, -4), (1_000, 0, 0)]);
    assert_eq!((dp.num_poc_st_curr_before, dp.num_poc_st_curr_after, dp.num_poc_lt_curr), (1, 0, 1));
    assert_eq!(dp.poc_st_curr_before[..2], [2, 0xff]);
    assert_eq!(dp.poc_lt_curr[..2], [0, 0xff]);
    assert_eq!(c.slice_params[0].ref_idx_l0[0], 0xff); // unknown surface 99
    let slices = [HevcSlice { param: slice_param(nal, &[1], &[]), long_slice_flags: lsf, data: nal }];
    let p = HevcPicture { slices: &slices, ..p };
    assert_eq!(build_controls(&p, &refs).unwrap().slice_params[0].ref_idx_l0[..2], [2, 0xff]);
}

#[test]
fn st_curr_lists_follow_poc_order() {
    let nal = slices_of(BFRAMES_WP)[1];
    let mut pp = bframes_wp_pic(8);
    pp.ReferenceFrames[0] = va_pic(10, 2, VA_PICTURE_HEVC_RPS_ST_CURR_BEFORE);
    pp.ReferenceFrames[1] = va_pic(11, 6, VA_PICTURE_HEVC_RPS_ST_CURR_BEFORE);
    pp.ReferenceFrames[2] = va_pic(12, 12, VA_PICTURE_HEVC_RPS_ST_CURR_AFTER);
    pp.ReferenceFrames[3] = va_pic(13, 10, VA_PICTURE_HEVC_RPS_ST_CURR_AFTER);
    let (pic_fields, slice_parsing_fields) = bframes_wp_words();
    let slices = [HevcSlice { param: slice_param(nal, &[0], &[]), long_slice_flags: 0, data: nal }];
    let p = HevcPicture { pic: &pp, pic_fields, slice_parsing_fields, iq: None, slices: &slices };
    let refs = Refs(HashMap::from([(10, 1), (11, 2), (12, 3), (13, 4)]));
    let dp = build_controls(&p, &refs).unwrap().decode_params;
    assert_eq!(dp.poc_st_curr_before[..3], [1, 0, 0xff]); // POC 6, then 2
    assert_eq!(dp.poc_st_curr_after[..3], [3, 2, 0xff]); // POC 10, then 12
}

#[test]
fn bad_pictures_are_errors_not_panics() {
    let nal = slices_of(BFRAMES_WP)[0];
    let pp = bframes_wp_pic(0);
    let (pic_fields, slice_parsing_fields) = bframes_wp_words();
    let ok = [HevcSlice { param: slice_param(nal, &[], &[]), long_slice_flags: 0, data: nal }];
    let p = HevcPicture { pic: &pp, pic_fields, slice_parsing_fields, iq: None, slices: &ok };
    let refs = Refs(HashMap::new());
    assert!(build_controls(&p, &refs).is_ok());
    assert_eq!(build_controls(&HevcPicture { slices: &[], ..p }, &refs).unwrap_err(), CodecError::NoSlices);
    let empty = [HevcSlice { param: slice_param(nal, &[], &[]), long_slice_flags: 0, data: &[0, 0, 1] }];
    assert_eq!(build_controls(&HevcPicture { slices: &empty, ..p }, &refs).unwrap_err(), CodecError::NoSlices);
    let mut bad = pp;
    bad.log2_diff_max_min_luma_coding_block_size = 7;
    assert!(build_controls(&HevcPicture { pic: &bad, ..p }, &refs).is_err());
    let mut bad = pp;
    bad.pic_width_in_luma_samples = 0;
    assert!(build_controls(&HevcPicture { pic: &bad, ..p }, &refs).is_err());
    let mut bad = pp;
    bad.num_tile_columns_minus1 = 200;
    assert!(build_controls(&HevcPicture { pic: &bad, ..p }, &refs).is_err());
    // A default list size above 14 (VA copies the PPS value) is refused, not
    // used as an index into the 16-entry weight tables (found by the fuzz target).
    let b_nal = slices_of(BFRAMES_WP)[2];
    let b_slice = [HevcSlice { param: slice_param(b_nal, &[0], &[0]), long_slice_flags: 0, data: b_nal }];
    for (l0, l1) in [(15, 0), (0, 15), (255, 255)] {
        let mut bad = bframes_wp_pic(2);
        bad.num_ref_idx_l0_default_active_minus1 = l0;
        bad.num_ref_idx_l1_default_active_minus1 = l1;
        let q = HevcPicture { pic: &bad, slices: &b_slice, ..p };
        assert_eq!(build_controls(&q, &refs).unwrap_err(), CodecError::Invalid("num_ref_idx_l0/l1_default_active_minus1 above 14"));
        let mut ctx = translate::header_context(&q);
        assert!(parse_slice_header(b_nal, &ctx, None).is_err());
        (ctx.num_ref_idx_l0_default_active_minus1, ctx.num_ref_idx_l1_default_active_minus1) = (1, 0);
        assert!(parse_slice_header(b_nal, &ctx, None).is_ok());
    }
    // Every VA field at its extreme with every truncation of a real slice.
    let mut wild = pp;
    wild.log2_max_pic_order_cnt_lsb_minus4 = 12;
    wild.num_short_term_ref_pic_sets = 255;
    wild.num_long_term_ref_pic_sps = 255;
    wild.num_extra_slice_header_bits = 255;
    wild.st_rps_bits = u32::MAX;
    wild.ReferenceFrames = [va_pic(1, i32::MIN, !VA_PICTURE_HEVC_INVALID); 15];
    for len in 0..=nal.len() {
        let s = [HevcSlice { param: slice_param(nal, &[0xfe; 15], &[14; 15]), long_slice_flags: u32::MAX, data: &nal[..len] }];
        for words in [(pic_fields, slice_parsing_fields), (u32::MAX, u32::MAX)] {
            for pic in [&pp, &wild] {
                let q = HevcPicture { pic, pic_fields: words.0, slice_parsing_fields: words.1, slices: &s, ..p };
                let _ = build_controls(&q, &Refs(HashMap::from([(1, u64::MAX)])));
            }
        }
    }
}

#[test]
fn profiles_and_append_slice() {
    assert_eq!(va_profiles(false), vec![VAProfileHEVCMain]);
    assert_eq!(va_profiles(true), vec![VAProfileHEVCMain, VAProfileHEVCMain10]);
    let mut out = Vec::new();
    append_slice(&mut out, &[0, 0, 0, 1, 0x26, 0x01, 0xaf], false);
    append_slice(&mut out, &[0x02, 0x01, 0x80], true);
    assert_eq!(out, vec![0x26, 0x01, 0xaf, 0, 0, 1, 0x02, 0x01, 0x80]);
}

/// Tiles: sizes copied, UNIFORM_SPACING inferred from them. The real slice's
/// entry point syntax is the same with tiles as with WPP, so the bframes-wp
/// picture is reused with tiles switched on (3×3 CTBs of 64).
#[test]
fn tile_sizes_and_uniform_spacing() {
    let nal = slices_of(BFRAMES_WP)[0];
    let (_, slice_parsing_fields) = bframes_wp_words();
    let pic_fields = pic_value(|b| {
        b.set_chroma_format_idc(1);
        b.set_tiles_enabled_flag(1);
        b.set_loop_filter_across_tiles_enabled_flag(1);
        b.set_pps_loop_filter_across_slices_enabled_flag(1);
    });
    let slices = [HevcSlice { param: slice_param(nal, &[], &[]), long_slice_flags: 0, data: nal }];
    let run = |cols: &[u16], rows: &[u16]| {
        let mut pp = bframes_wp_pic(0);
        pp.num_tile_columns_minus1 = cols.len() as u8 - 1;
        pp.num_tile_rows_minus1 = rows.len() as u8 - 1;
        pp.column_width_minus1[..cols.len()].copy_from_slice(cols);
        pp.row_height_minus1[..rows.len()].copy_from_slice(rows);
        let p = HevcPicture { pic: &pp, pic_fields, slice_parsing_fields, iq: None, slices: &slices };
        build_controls(&p, &Refs(HashMap::new())).unwrap().pps
    };
    let tiles = u64::from(V4L2_HEVC_PPS_FLAG_TILES_ENABLED | V4L2_HEVC_PPS_FLAG_LOOP_FILTER_ACROSS_TILES_ENABLED);
    let uniform = u64::from(V4L2_HEVC_PPS_FLAG_UNIFORM_SPACING);
    let pps = run(&[0, 0, 0], &[0, 1]);
    assert_eq!((pps.num_tile_columns_minus1, pps.num_tile_rows_minus1), (2, 1));
    assert_eq!(pps.column_width_minus1[..4], [0, 0, 0, 0]);
    assert_eq!(pps.row_height_minus1[..3], [0, 1, 0]);
    assert_eq!(pps.flags & (tiles | uniform), tiles | uniform);
    let pps = run(&[1, 0], &[2]);
    assert_eq!(pps.column_width_minus1[..3], [1, 0, 0]);
    assert_eq!(pps.flags & (tiles | uniform), tiles);
}

/// The B picture of `bframes-wp.hevc` with `num_ref_idx_l0_default_active_minus1`
/// 255: its slice takes the default list size, and its pred weight table has
/// 16 entries. This panicked before the value was checked (the driver's test
/// of a failed translation uses it).
pub(crate) fn wild_default_list_size() -> Result<HevcControls, CodecError> {
    let nal = slices_of(BFRAMES_WP)[2];
    let mut pp = bframes_wp_pic(2);
    pp.num_ref_idx_l0_default_active_minus1 = 255;
    let (pic_fields, slice_parsing_fields) = bframes_wp_words();
    let slices = [HevcSlice { param: slice_param(nal, &[0], &[0]), long_slice_flags: 0, data: nal }];
    let p = HevcPicture { pic: &pp, pic_fields, slice_parsing_fields, iq: None, slices: &slices };
    build_controls(&p, &Refs(HashMap::new()))
}

/// The entry point offsets of each slice as plain numbers.
fn offset_values(offsets: &[Vec<crate::v4l2::HevcEntryPointOffset>]) -> Vec<Vec<u32>> {
    offsets.iter().map(|slice| slice.iter().map(|o| o.0).collect()).collect()
}
