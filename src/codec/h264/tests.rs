//! Unit tests of the H.264 re-parser and translator.
//!
//! - Real encoder output: the streams in `tests/data/h264` (x264 via
//!   `gen-streams.sh`), every slice re-parsed and compared with the values
//!   FFmpeg's `trace_headers` prints ([`super::oracle`], checked against
//!   trace_headers).
//! - Synthetic headers written with a small bit writer, for the syntax x264
//!   never produces (field pictures, POC type 1, explicit bi-prediction weights,
//!   SP/SI, slice groups, every MMCO, emulation-prevention bytes inside the header).
//! - Translation of real pictures (VA buffers filled by hand the way FFmpeg's
//!   `vaapi_h264.c` fills them, from the trace_headers values) to exact controls.
//! - Malformed input: truncations and noise never panic.

use super::oracle::{self, Row};
use super::slice_header::*;
use super::translate::{PicFields, SeqFields};
use super::*;
use crate::codec::CodecError;
use crate::va_sys::ffi::{
    _VAPictureParameterBufferH264__bindgen_ty_1 as SeqUnion, _VAPictureParameterBufferH264__bindgen_ty_1__bindgen_ty_1 as SeqBits,
    _VAPictureParameterBufferH264__bindgen_ty_2 as PicUnion, _VAPictureParameterBufferH264__bindgen_ty_2__bindgen_ty_1 as PicBits,
    VAPictureH264, VAProfileH264ConstrainedBaseline, VAProfileH264High, VAProfileH264Main, VA_INVALID_SURFACE,
    VA_PICTURE_H264_BOTTOM_FIELD, VA_PICTURE_H264_INVALID, VA_PICTURE_H264_LONG_TERM_REFERENCE, VA_PICTURE_H264_SHORT_TERM_REFERENCE,
    VA_PICTURE_H264_TOP_FIELD,
};
use std::collections::HashMap;
use v4l2r::bindings::*;

pub(super) const CABAC_BFRAMES_WP: &[u8] = include_bytes!("../../../tests/data/h264/cabac-bframes-wp.h264");
pub(super) const CAVLC_SLICES: &[u8] = include_bytes!("../../../tests/data/h264/cavlc-slices.h264");
pub(super) const MBAFF: &[u8] = include_bytes!("../../../tests/data/h264/mbaff.h264");
pub(super) const BASELINE_POC2: &[u8] = include_bytes!("../../../tests/data/h264/baseline-poc2.h264");

use crate::codec::nal::split_annexb;

pub(super) fn slices_of(stream: &[u8]) -> Vec<&[u8]> {
    split_annexb(stream).into_iter().filter(|n| matches!(n[0] & 0x1f, 1 | 5)).collect()
}

fn check_stream(stream: &[u8], ctx: &SliceHeaderContext, rows: &[Row]) {
    let slices = slices_of(stream);
    assert_eq!(slices.len(), rows.len(), "slice count");
    for (i, (nal, row)) in slices.iter().zip(rows).enumerate() {
        let h = parse_slice_header(nal, ctx).unwrap_or_else(|e| panic!("slice {i}: {e}"));
        let got = Row {
            nal_ref_idc: h.nal_ref_idc,
            nal_unit_type: h.nal_unit_type,
            first_mb_in_slice: h.first_mb_in_slice,
            slice_type_raw: h.slice_type_raw,
            frame_num: h.frame_num,
            field_pic_flag: h.field_pic_flag,
            bottom_field_flag: h.bottom_field_flag,
            idr_pic_id: h.idr_pic_id,
            pic_order_cnt_lsb: h.pic_order_cnt_lsb,
            delta_pic_order_cnt_bottom: h.delta_pic_order_cnt_bottom,
            num_ref_idx_l0_active_minus1: h.num_ref_idx_l0_active_minus1,
            num_ref_idx_l1_active_minus1: h.num_ref_idx_l1_active_minus1,
            num_ref_idx_active_override_flag: h.num_ref_idx_active_override_flag,
            luma_log2_weight_denom: h.pred_weight_table.map(|t| t.luma_log2_weight_denom),
            cabac_init_idc: h.cabac_init_idc,
            slice_qp_delta: h.slice_qp_delta,
            disable_deblocking_filter_idc: h.disable_deblocking_filter_idc,
            pic_order_cnt_bit_size: h.pic_order_cnt_bit_size,
            dec_ref_pic_marking_bit_size: h.dec_ref_pic_marking_bit_size,
            header_bit_size: h.header_bit_size,
        };
        assert_eq!(&got, row, "slice {i}");
        assert_eq!(h.header_bit_size_raw, h.header_bit_size + 8 * h.header_epb_count, "slice {i}");

        // The same NAL with a 3- or 4-byte start code in front parses identically.
        for sc in [&[0u8, 0, 1][..], &[0, 0, 0, 1][..]] {
            let mut with_sc = sc.to_vec();
            with_sc.extend_from_slice(nal);
            let h2 = parse_slice_header(&with_sc, ctx).unwrap();
            assert_eq!(h2.start_code_len, sc.len());
            assert_eq!(SliceHeader { start_code_len: 0, ..h2 }, h);
        }
    }
}

#[test]
fn reparse_cabac_bframes_weighted_p() {
    check_stream(CABAC_BFRAMES_WP, &oracle::CABAC_BFRAMES_WP_CTX, oracle::CABAC_BFRAMES_WP_SLICES);
}

#[test]
fn reparse_cavlc_four_slices() {
    check_stream(CAVLC_SLICES, &oracle::CAVLC_SLICES_CTX, oracle::CAVLC_SLICES_SLICES);
}

#[test]
fn reparse_mbaff_interlaced() {
    check_stream(MBAFF, &oracle::MBAFF_CTX, oracle::MBAFF_SLICES);
}

#[test]
fn reparse_constrained_baseline_poc2() {
    check_stream(BASELINE_POC2, &oracle::BASELINE_POC2_CTX, oracle::BASELINE_POC2_SLICES);
}

#[test]
fn pred_weight_table_of_a_real_p_slice() {
    // Slice 5 of cabac-bframes-wp (checked against trace_headers): denominators 0,
    // luma_weight_l0_flag[1] = 1 with weight 1, offset -1; other entries inferred.
    let nal = slices_of(CABAC_BFRAMES_WP)[5];
    let h = parse_slice_header(nal, &oracle::CABAC_BFRAMES_WP_CTX).unwrap();
    assert!(h.ref_pic_list_modification_flag_l0);
    let t = h.pred_weight_table.unwrap();
    assert_eq!((t.luma_log2_weight_denom, t.chroma_log2_weight_denom), (0, 0));
    assert_eq!(&t.luma_weight[0][..5], &[1, 1, 1, 1, 0]);
    assert_eq!(&t.luma_offset[0][..5], &[0, -1, 0, 0, 0]);
    assert_eq!(&t.chroma_weight[0][..5], &[[1, 1], [1, 1], [1, 1], [1, 1], [0, 0]]);
    assert_eq!(t.chroma_offset[0], [[0, 0]; 32]);
    assert_eq!(t.luma_weight[1], [0; 32]);
}

// ---------------------------------------------------------------------------
// Synthetic headers

/// Writes RBSP bits; `escaped()` inserts emulation-prevention bytes.
#[derive(Default)]
struct BitWriter {
    bits: Vec<bool>,
}

impl BitWriter {
    fn u(&mut self, n: u32, v: u64) -> &mut Self {
        for i in (0..n).rev() {
            self.bits.push((v >> i) & 1 == 1);
        }
        self
    }
    fn flag(&mut self, b: bool) -> &mut Self {
        self.u(1, b as u64)
    }
    fn ue(&mut self, v: u32) -> &mut Self {
        let x = u64::from(v) + 1;
        let len = 64 - x.leading_zeros();
        self.u(len - 1, 0).u(len, x)
    }
    fn se(&mut self, v: i32) -> &mut Self {
        let k = if v > 0 { 2 * v as i64 - 1 } else { -2 * v as i64 };
        self.ue(k as u32)
    }
    fn len(&self) -> u32 {
        self.bits.len() as u32
    }
    /// NAL header byte, then the escaped RBSP (with stop bit and a few data bytes).
    fn nal(&self, header: u8) -> Vec<u8> {
        let mut bits = self.bits.clone();
        // Some slice data: ones and zeros, then the stop bit.
        bits.extend([true, false, true, true, false, false, true, false, true]);
        while !bits.len().is_multiple_of(8) {
            bits.push(false);
        }
        let rbsp: Vec<u8> = bits.chunks(8).map(|c| c.iter().fold(0u8, |a, &b| (a << 1) | b as u8)).collect();
        let mut out = vec![header];
        let mut zeros = 0;
        for b in rbsp {
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
    SliceHeaderContext {
        chroma_array_type: 1,
        log2_max_frame_num: 8,
        frame_mbs_only: false,
        pic_order_cnt_type: 1,
        log2_max_pic_order_cnt_lsb: 4,
        bottom_field_pic_order_in_frame_present: true,
        entropy_coding_mode: true,
        deblocking_filter_control_present: true,
        pic_size_in_map_units: 99,
        ..Default::default()
    }
}

#[test]
fn field_idr_poc_type1_with_emulation_prevention_in_header() {
    let ctx = base_ctx();
    let mut w = BitWriter::default();
    w.ue(0).ue(7).ue(0); // first_mb, slice_type I (all I), pps 0
    w.u(8, 0); // frame_num
    w.flag(true).flag(true); // field_pic_flag, bottom_field_flag
    w.ue(0); // idr_pic_id
    let poc_start = w.len();
    w.se(1 << 25); // delta_pic_order_cnt[0]: 26 leading zero bits -> "00 00 01" needs escaping
                   // delta_pic_order_cnt[1] absent: field picture
    let poc_bits = w.len() - poc_start;
    let drpm_start = w.len();
    w.flag(false).flag(true); // no_output_of_prior_pics_flag, long_term_reference_flag
    let drpm_bits = w.len() - drpm_start;
    w.se(-3); // slice_qp_delta
    w.ue(1); // disable_deblocking_filter_idc = 1: no offsets
    let header_bits = w.len();
    let nal = w.nal(0x65);
    assert!(nal.windows(3).any(|x| x == [0, 0, 3]), "test needs an EPB: {nal:02x?}");

    let h = parse_slice_header(&nal, &ctx).unwrap();
    assert_eq!(h.nal_unit_type, 5);
    assert_eq!(h.nal_ref_idc, 3);
    assert!(h.field_pic_flag && h.bottom_field_flag);
    assert_eq!(h.delta_pic_order_cnt, [1 << 25, 0]);
    assert_eq!(h.pic_order_cnt_bit_size, poc_bits);
    assert_eq!(h.dec_ref_pic_marking_bit_size, drpm_bits);
    assert!(h.long_term_reference_flag);
    assert_eq!(h.slice_qp_delta, -3);
    assert_eq!(h.disable_deblocking_filter_idc, 1);
    assert_eq!(h.header_bit_size, 8 + header_bits);
    assert!(h.header_epb_count >= 1);
    assert_eq!(h.header_bit_size_raw, h.header_bit_size + 8 * h.header_epb_count);
}

#[test]
fn every_mmco_and_explicit_bipred_weights() {
    let ctx = SliceHeaderContext {
        weighted_bipred_idc: 1,
        chroma_array_type: 1,
        log2_max_frame_num: 4,
        frame_mbs_only: true,
        pic_order_cnt_type: 0,
        log2_max_pic_order_cnt_lsb: 8,
        bottom_field_pic_order_in_frame_present: true,
        redundant_pic_cnt_present: true,
        entropy_coding_mode: true,
        deblocking_filter_control_present: true,
        num_ref_idx_l0_default_active_minus1: 1,
        num_ref_idx_l1_default_active_minus1: 0,
        ..Default::default()
    };
    let mut w = BitWriter::default();
    w.ue(33).ue(1).ue(3); // first_mb 33, B, pps 3
    w.u(4, 9); // frame_num
    let poc_start = w.len();
    w.u(8, 200).se(-1); // pic_order_cnt_lsb, delta_pic_order_cnt_bottom
    let poc_bits = w.len() - poc_start;
    w.ue(2); // redundant_pic_cnt
    w.flag(false); // direct_spatial_mv_pred_flag
    w.flag(false); // no override: defaults 1 / 0 -> 2 + 1 entries
    w.flag(true).ue(0).ue(0).ue(2).ue(5).ue(3); // list0 modification
    w.flag(true).ue(1).ue(3).ue(3); // list1 modification
                                    // pred_weight_table
    w.ue(5).ue(3); // denoms
    w.flag(true).se(-7).se(9).flag(true).se(2).se(-2).se(4).se(-4); // l0[0]
    w.flag(false).flag(false); // l0[1]
    w.flag(false).flag(true).se(11).se(12).se(13).se(14); // l1[0]
    let drpm_start = w.len();
    w.flag(true);
    w.ue(1).ue(4).ue(2).ue(7).ue(3).ue(1).ue(2).ue(4).ue(5).ue(5).ue(6).ue(1).ue(0);
    let drpm_bits = w.len() - drpm_start;
    w.ue(2); // cabac_init_idc
    w.se(10); // slice_qp_delta
    w.ue(0).se(-6).se(6); // deblocking
    let header_bits = w.len();
    let nal = w.nal(0x21); // nal_ref_idc 1, type 1

    let h = parse_slice_header(&nal, &ctx).unwrap();
    assert_eq!((h.first_mb_in_slice, h.slice_type(), h.pic_parameter_set_id), (33, SLICE_B, 3));
    assert_eq!((h.pic_order_cnt_lsb, h.delta_pic_order_cnt_bottom), (200, -1));
    assert_eq!(h.pic_order_cnt_bit_size, poc_bits);
    assert_eq!(h.redundant_pic_cnt, 2);
    assert_eq!((h.num_ref_idx_l0_active_minus1, h.num_ref_idx_l1_active_minus1), (1, 0));
    let t = h.pred_weight_table.unwrap();
    assert_eq!((t.luma_log2_weight_denom, t.chroma_log2_weight_denom), (5, 3));
    assert_eq!(&t.luma_weight[0][..3], &[-7, 32, 0]);
    assert_eq!(&t.luma_offset[0][..2], &[9, 0]);
    assert_eq!(t.chroma_weight[0][0], [2, 4]);
    assert_eq!(t.chroma_offset[0][0], [-2, -4]);
    assert_eq!(t.chroma_weight[0][1], [8, 8]);
    assert_eq!(&t.luma_weight[1][..2], &[32, 0]);
    assert_eq!(t.chroma_weight[1][0], [11, 13]);
    assert_eq!(t.chroma_offset[1][0], [12, 14]);
    assert!(h.adaptive_ref_pic_marking_mode_flag);
    assert_eq!(h.num_mmco, 6);
    assert_eq!(h.dec_ref_pic_marking_bit_size, drpm_bits);
    assert_eq!(h.cabac_init_idc, 2);
    assert_eq!(h.slice_qp_delta, 10);
    assert_eq!((h.slice_alpha_c0_offset_div2, h.slice_beta_offset_div2), (-6, 6));
    assert_eq!(h.header_bit_size, 8 + header_bits);
}

#[test]
fn sp_slice_colour_plane_and_slice_groups() {
    let ctx = SliceHeaderContext {
        separate_colour_plane: true,
        chroma_array_type: 0,
        log2_max_frame_num: 5,
        frame_mbs_only: true,
        pic_order_cnt_type: 2,
        log2_max_pic_order_cnt_lsb: 4,
        num_slice_groups_minus1: 1,
        slice_group_map_type: 4,
        slice_group_change_rate_minus1: 1,
        pic_size_in_map_units: 99, // Ceil(Log2(99 / 2 + 1)) = 6 bits
        weighted_pred: true,
        ..Default::default()
    };
    let mut w = BitWriter::default();
    w.ue(0).ue(3).ue(0).u(2, 2).u(5, 17); // SP, colour_plane_id 2, frame_num 17
    w.flag(true).ue(0); // override: 1 entry
    w.flag(false); // no modification
    w.ue(0).flag(false); // weights: denom 0 (no chroma: ChromaArrayType 0), l0[0] flag 0
    w.se(1).flag(true).se(-2); // slice_qp_delta, sp_for_switch_flag, slice_qs_delta
    w.u(6, 37); // slice_group_change_cycle
    let header_bits = w.len();
    let nal = w.nal(0x01); // nal_ref_idc 0: no dec_ref_pic_marking
    let h = parse_slice_header(&nal, &ctx).unwrap();
    assert_eq!(h.slice_type(), SLICE_SP);
    assert_eq!(h.colour_plane_id, 2);
    assert_eq!(h.frame_num, 17);
    assert_eq!(h.pic_order_cnt_bit_size, 0);
    assert_eq!(h.dec_ref_pic_marking_bit_size, 0);
    assert!(h.sp_for_switch_flag);
    assert_eq!(h.slice_qs_delta, -2);
    assert_eq!(h.slice_group_change_cycle, 37);
    assert_eq!(h.pred_weight_table.unwrap().chroma_log2_weight_denom, 0);
    assert_eq!(h.header_bit_size, 8 + header_bits);
}

#[test]
fn rejects_what_is_not_a_slice() {
    let ctx = base_ctx();
    assert_eq!(parse_slice_header(&[], &ctx), Err(CodecError::Truncated));
    assert_eq!(parse_slice_header(&[0, 0, 1], &ctx), Err(CodecError::Truncated));
    assert!(matches!(parse_slice_header(&[0x67, 0x42], &ctx), Err(CodecError::Invalid(_))));
    assert!(matches!(parse_slice_header(&[0x85, 0x88], &ctx), Err(CodecError::Invalid(_))));
    assert!(matches!(parse_slice_header(&[0x74, 0x88], &ctx), Err(CodecError::Unsupported(_))));
    assert!(matches!(parse_slice_header(&[0x05, 0x88], &ctx), Err(CodecError::Invalid(_)))); // IDR, ref_idc 0
                                                                                             // slice_type 10
    let mut w = BitWriter::default();
    w.ue(0).ue(10);
    assert!(matches!(parse_slice_header(&w.nal(0x21), &ctx), Err(CodecError::Invalid(_))));
    // Bad context
    let bad = SliceHeaderContext { log2_max_frame_num: 17, ..ctx };
    assert!(parse_slice_header(&[0x21, 0x88, 0x80], &bad).is_err());
}

#[test]
fn truncated_and_noisy_slices_never_panic() {
    let streams: [(&[u8], SliceHeaderContext); 4] = [
        (CABAC_BFRAMES_WP, oracle::CABAC_BFRAMES_WP_CTX),
        (CAVLC_SLICES, oracle::CAVLC_SLICES_CTX),
        (MBAFF, oracle::MBAFF_CTX),
        (BASELINE_POC2, oracle::BASELINE_POC2_CTX),
    ];
    for (stream, ctx) in streams {
        for nal in slices_of(stream) {
            let full = parse_slice_header(nal, &ctx).unwrap();
            let header_bytes = (full.header_bit_size_raw as usize).div_ceil(8);
            for cut in 0..=header_bytes.min(nal.len()) {
                let r = parse_slice_header(&nal[..cut], &ctx);
                if cut * 8 < full.header_bit_size_raw as usize {
                    assert_eq!(r, Err(CodecError::Truncated), "cut {cut}");
                }
            }
        }
    }
    // Pseudo-random noise, with every context: errors are fine, panics are not.
    let mut seed = 0x1234_5678_u32;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let ctxs = [oracle::CABAC_BFRAMES_WP_CTX, oracle::MBAFF_CTX, base_ctx()];
    for i in 0..3000 {
        let len = (next() % 24) as usize;
        let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if let Some(b) = buf.first_mut() {
            *b = (*b & 0x60) | if i % 2 == 0 { 1 } else { 5 };
        }
        for ctx in &ctxs {
            let _ = parse_slice_header(&buf, ctx);
        }
    }
}

// ---------------------------------------------------------------------------
// Translation

fn seq_value(f: impl FnOnce(&mut SeqBits)) -> u32 {
    let mut b = SeqBits::default();
    f(&mut b);
    b._bitfield_1.get(0, 24) as u32
}

fn pic_value(f: impl FnOnce(&mut PicBits)) -> u32 {
    let mut b = PicBits::default();
    f(&mut b);
    b._bitfield_1.get(0, 16) as u32
}

#[test]
fn bitfield_words_decode_like_bindgen() {
    let v = seq_value(|b| {
        b.set_chroma_format_idc(1);
        b.set_frame_mbs_only_flag(1);
        b.set_direct_8x8_inference_flag(1);
        b.set_log2_max_frame_num_minus4(11);
        b.set_pic_order_cnt_type(2);
        b.set_log2_max_pic_order_cnt_lsb_minus4(9);
        b.set_delta_pic_order_always_zero_flag(1);
    });
    let s = SeqFields::from_value(v);
    assert_eq!(
        s,
        SeqFields {
            chroma_format_idc: 1,
            frame_mbs_only: true,
            direct_8x8_inference: true,
            log2_max_frame_num_minus4: 11,
            pic_order_cnt_type: 2,
            log2_max_pic_order_cnt_lsb_minus4: 9,
            delta_pic_order_always_zero: true,
            ..Default::default()
        }
    );
    let v = pic_value(|b| {
        b.set_weighted_bipred_idc(2);
        b.set_field_pic_flag(1);
        b.set_redundant_pic_cnt_present_flag(1);
        b.set_reference_pic_flag(1);
    });
    let p = PicFields::from_value(v);
    assert_eq!(
        p,
        PicFields { weighted_bipred_idc: 2, field_pic: true, redundant_pic_cnt_present: true, reference_pic: true, ..Default::default() }
    );
}

struct Surfaces(HashMap<u32, u64>);
impl RefResolver for Surfaces {
    fn timestamp(&self, surface: u32) -> Option<u64> {
        self.0.get(&surface).copied()
    }
}

pub(super) fn va_pic(id: u32, frame_idx: u32, flags: u32, top: i32, bottom: i32) -> VAPictureH264 {
    VAPictureH264 { picture_id: id, frame_idx, flags, TopFieldOrderCnt: top, BottomFieldOrderCnt: bottom, va_reserved: [0; 4] }
}

fn invalid_pic() -> VAPictureH264 {
    va_pic(VA_INVALID_SURFACE, 0, VA_PICTURE_H264_INVALID, 0, 0)
}

const ST: u32 = VA_PICTURE_H264_SHORT_TERM_REFERENCE;

/// The VA picture parameters FFmpeg's vaapi_h264.c fills for cabac-bframes-wp
/// (SPS/PPS values from trace_headers: High, 11x9 MBs, max_num_ref_frames 4,
/// log2_max_frame_num 4, POC type 0 with 6-bit lsb, CABAC, weighted_pred 1,
/// weighted_bipred_idc 2, pic_init_qp -3, chroma_qp_index_offset -2, 8x8 transform).
pub(super) fn cabac_pic_param(
    curr: VAPictureH264,
    frame_num: u16,
    refs: &[VAPictureH264],
    reference: bool,
) -> (VAPictureParameterBufferH264, u32, u32) {
    let seq = seq_value(|b| {
        b.set_chroma_format_idc(1);
        b.set_frame_mbs_only_flag(1);
        b.set_direct_8x8_inference_flag(1);
        b.set_MinLumaBiPredSize8x8(0);
        b.set_log2_max_frame_num_minus4(0);
        b.set_pic_order_cnt_type(0);
        b.set_log2_max_pic_order_cnt_lsb_minus4(2);
    });
    let pf = pic_value(|b| {
        b.set_entropy_coding_mode_flag(1);
        b.set_weighted_pred_flag(1);
        b.set_weighted_bipred_idc(2);
        b.set_transform_8x8_mode_flag(1);
        b.set_deblocking_filter_control_present_flag(1);
        b.set_reference_pic_flag(reference as u32);
    });
    let mut frames = [invalid_pic(); 16];
    frames[..refs.len()].copy_from_slice(refs);
    let p = VAPictureParameterBufferH264 {
        CurrPic: curr,
        ReferenceFrames: frames,
        picture_width_in_mbs_minus1: 10,
        picture_height_in_mbs_minus1: 8,
        bit_depth_luma_minus8: 0,
        bit_depth_chroma_minus8: 0,
        num_ref_frames: 4,
        seq_fields: SeqUnion { value: seq },
        num_slice_groups_minus1: 0,
        slice_group_map_type: 0,
        slice_group_change_rate_minus1: 0,
        pic_init_qp_minus26: -3,
        pic_init_qs_minus26: 0,
        chroma_qp_index_offset: -2,
        second_chroma_qp_index_offset: -2,
        pic_fields: PicUnion { value: pf },
        frame_num,
        va_reserved: [0; 8],
    };
    (p, seq, pf)
}

pub(super) fn flat_iq() -> VAIQMatrixBufferH264 {
    VAIQMatrixBufferH264 { ScalingList4x4: [[16; 16]; 6], ScalingList8x8: [[16; 64]; 2], va_reserved: [0; 4] }
}

// Surfaces and timestamps of the decode order of cabac-bframes-wp:
// IDR (fn 0, POC 0), P (fn 1, POC 8), B-ref (fn 2, POC 4), b (POC 2), b (POC 6),
// P (fn 3, POC 16), B-ref (fn 4, POC 12), ...
const S_IDR: u32 = 10;
const S_P1: u32 = 11;
const S_B2: u32 = 12;
const S_P3: u32 = 15;
const S_B4: u32 = 16;

fn resolver() -> Surfaces {
    Surfaces(HashMap::from([(S_IDR, 1000), (S_P1, 2000), (S_B2, 3000), (13, 4000), (14, 5000), (S_P3, 6000)]))
}

fn expect_dpb_entry(e: &v4l2_h264_dpb_entry, ts: u64, frame_num: u16, poc: i32) {
    assert_eq!(
        *e,
        v4l2_h264_dpb_entry {
            reference_ts: ts,
            pic_num: u32::from(frame_num),
            frame_num,
            fields: V4L2_H264_FRAME_REF as u8,
            reserved: [0; 5],
            top_field_order_cnt: poc,
            bottom_field_order_cnt: poc,
            flags: V4L2_H264_DPB_ENTRY_FLAG_VALID | V4L2_H264_DPB_ENTRY_FLAG_ACTIVE,
        }
    );
}

fn r(index: u8) -> v4l2_h264_reference {
    v4l2_h264_reference { fields: V4L2_H264_FRAME_REF as u8, index }
}
const NONE: v4l2_h264_reference = v4l2_h264_reference { fields: 0xff, index: 0xff };

/// Picture 6 of cabac-bframes-wp: a reference B frame (b-pyramid), frame_num 4,
/// POC 12, two MMCO 1, no num_ref_idx override. Every expected value below is
/// read off trace_headers by hand (see the listing in the comment).
#[test]
fn translate_reference_b_frame_checked_by_hand() {
    // trace_headers, slice 6:
    //   0 nal_ref_idc 10 = 2, nal_unit_type 1; 9 slice_type 00111 = 6 (B)
    //   15 frame_num 0100 = 4; 19 pic_order_cnt_lsb 001100 = 12 (6 bits)
    //   25 direct_spatial_mv_pred_flag 1; 26 num_ref_idx_active_override_flag 0
    //   29 adaptive_ref_pic_marking_mode_flag 1 .. 44 memory_management_control_operation 0 (16 bits)
    //   45 cabac_init_idc 0; 46 slice_qp_delta = -11; 55..57 deblocking 0/0/0; 58 cabac_alignment_one_bit
    let nal = slices_of(CABAC_BFRAMES_WP)[6];
    let refs = [
        va_pic(S_P3, 3, ST, 16, 16), // FFmpeg lists short_ref most recent first
        va_pic(S_B2, 2, ST, 4, 4),
        va_pic(S_P1, 1, ST, 8, 8),
        va_pic(S_IDR, 0, ST, 0, 0),
    ];
    let (pp, seq, pf) = cabac_pic_param(va_pic(S_B4, 4, ST, 12, 12), 4, &refs, true);
    let mut sp = VASliceParameterBufferH264 {
        slice_data_size: nal.len() as u32,
        slice_data_bit_offset: 58,
        slice_type: 1,
        direct_spatial_mv_pred_flag: 1,
        num_ref_idx_l0_active_minus1: 2,
        num_ref_idx_l1_active_minus1: 0,
        slice_qp_delta: -11,
        ..Default::default()
    };
    sp.RefPicList0 = [invalid_pic(); 32];
    sp.RefPicList1 = [invalid_pic(); 32];
    // List 0: POC below 12 descending (8, 4, 0); list 1: POC above 12 (16).
    sp.RefPicList0[..3].copy_from_slice(&[refs[2], refs[1], refs[3]]);
    sp.RefPicList1[0] = refs[0];
    let iq = flat_iq();
    let slices = [SliceInput { param: sp, data: nal }];
    let picture = H264Picture { pic: &pp, seq_fields: seq, pic_fields: pf, iq: Some(&iq), slices: &slices, profile: VAProfileH264High };
    let c = build_controls(&picture, &resolver()).unwrap();

    assert_eq!(
        c.sps,
        v4l2_ctrl_h264_sps {
            profile_idc: 100,
            chroma_format_idc: 1,
            log2_max_pic_order_cnt_lsb_minus4: 2,
            max_num_ref_frames: 4,
            pic_width_in_mbs_minus1: 10,
            pic_height_in_map_units_minus1: 8,
            flags: V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY | V4L2_H264_SPS_FLAG_DIRECT_8X8_INFERENCE,
            ..Default::default()
        }
    );
    assert_eq!(
        c.pps,
        v4l2_ctrl_h264_pps {
            pic_parameter_set_id: 0,
            seq_parameter_set_id: 0,
            num_slice_groups_minus1: 0,
            num_ref_idx_l0_default_active_minus1: 2, // recovered: no override in this slice
            num_ref_idx_l1_default_active_minus1: 0,
            weighted_bipred_idc: 2,
            pic_init_qp_minus26: -3,
            pic_init_qs_minus26: 0,
            chroma_qp_index_offset: -2,
            second_chroma_qp_index_offset: -2,
            flags: (V4L2_H264_PPS_FLAG_ENTROPY_CODING_MODE
                | V4L2_H264_PPS_FLAG_WEIGHTED_PRED
                | V4L2_H264_PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT
                | V4L2_H264_PPS_FLAG_TRANSFORM_8X8_MODE) as u16,
        }
    );
    assert!(!c.has_scaling_matrix, "flat IQ matrix means no scaling matrix");

    let d = &c.decode_params;
    // DPB in decode order (timestamps ascending): IDR, P1, B2, P3.
    expect_dpb_entry(&d.dpb[0], 1000, 0, 0);
    expect_dpb_entry(&d.dpb[1], 2000, 1, 8);
    expect_dpb_entry(&d.dpb[2], 3000, 2, 4);
    expect_dpb_entry(&d.dpb[3], 6000, 3, 16);
    assert_eq!(d.dpb[4], v4l2_h264_dpb_entry::default());
    assert_eq!(d.nal_ref_idc, 2);
    assert_eq!(d.frame_num, 4);
    assert_eq!((d.top_field_order_cnt, d.bottom_field_order_cnt), (12, 12));
    assert_eq!(d.idr_pic_id, 0);
    assert_eq!(d.pic_order_cnt_lsb, 12);
    assert_eq!((d.delta_pic_order_cnt_bottom, d.delta_pic_order_cnt0, d.delta_pic_order_cnt1), (0, 0, 0));
    assert_eq!(d.dec_ref_pic_marking_bit_size, 16); // bits 29..45
    assert_eq!(d.pic_order_cnt_bit_size, 6); // bits 19..25
    assert_eq!(d.slice_group_change_cycle, 0);
    assert_eq!(d.flags, V4L2_H264_DECODE_PARAM_FLAG_BFRAME);

    assert_eq!(c.slice_params.len(), 1);
    let s = &c.slice_params[0];
    assert_eq!(s.header_bit_size, 58); // = FFmpeg's slice_data_bit_offset
    assert_eq!(s.header_bit_size, u32::from(sp.slice_data_bit_offset));
    assert_eq!(s.first_mb_in_slice, 0);
    assert_eq!(s.slice_type, V4L2_H264_SLICE_TYPE_B as u8);
    assert_eq!((s.colour_plane_id, s.redundant_pic_cnt, s.cabac_init_idc), (0, 0, 0));
    assert_eq!((s.slice_qp_delta, s.slice_qs_delta), (-11, 0));
    assert_eq!((s.disable_deblocking_filter_idc, s.slice_alpha_c0_offset_div2, s.slice_beta_offset_div2), (0, 0, 0));
    assert_eq!((s.num_ref_idx_l0_active_minus1, s.num_ref_idx_l1_active_minus1), (2, 0));
    assert_eq!(s.flags, V4L2_H264_SLICE_FLAG_DIRECT_SPATIAL_MV_PRED);
    assert_eq!(&s.ref_pic_list0[..4], &[r(1), r(2), r(0), NONE]);
    assert!(s.ref_pic_list0[3..].iter().all(|&e| e == NONE));
    assert_eq!(s.ref_pic_list1[0], r(3));
    assert!(s.ref_pic_list1[1..].iter().all(|&e| e == NONE));
    assert_eq!(c.pred_weights, vec![v4l2_ctrl_h264_pred_weights::default()]);
    assert_eq!(c.uses_pred_weights, vec![false]);
}

/// Picture 5 of cabac-bframes-wp: P frame, frame_num 3, POC 16, 4 list-0
/// entries built by modification (P1, P1, B2, IDR: x264 duplicates P1 with
/// another weight), explicit weights (entry 1: weight 1, offset -1).
#[test]
fn translate_weighted_p_frame_with_reordered_list() {
    let nal = slices_of(CABAC_BFRAMES_WP)[5];
    let refs = [va_pic(S_B2, 2, ST, 4, 4), va_pic(S_P1, 1, ST, 8, 8), va_pic(S_IDR, 0, ST, 0, 0)];
    let (pp, seq, pf) = cabac_pic_param(va_pic(S_P3, 3, ST, 16, 16), 3, &refs, true);
    let mut sp = VASliceParameterBufferH264 {
        slice_data_size: nal.len() as u32,
        slice_data_bit_offset: 89,
        slice_type: 0,
        num_ref_idx_l0_active_minus1: 3,
        slice_qp_delta: -11,
        luma_weight_l0_flag: 1,
        ..Default::default()
    };
    sp.RefPicList0 = [invalid_pic(); 32];
    sp.RefPicList1 = [invalid_pic(); 32];
    sp.RefPicList0[..4].copy_from_slice(&[refs[1], refs[1], refs[0], refs[2]]);
    let slices = [SliceInput { param: sp, data: nal }];
    let picture = H264Picture { pic: &pp, seq_fields: seq, pic_fields: pf, iq: None, slices: &slices, profile: VAProfileH264High };
    let mut state = H264State::new();
    let c = build_controls_with_state(&picture, &resolver(), &mut state).unwrap();

    // Overridden in the slice, nothing remembered yet: 0 (GStreamer would send the PPS value 2).
    assert_eq!(c.pps.num_ref_idx_l0_default_active_minus1, 0);
    let d = &c.decode_params;
    expect_dpb_entry(&d.dpb[0], 1000, 0, 0);
    expect_dpb_entry(&d.dpb[1], 2000, 1, 8);
    expect_dpb_entry(&d.dpb[2], 3000, 2, 4);
    assert_eq!(d.dpb[3], v4l2_h264_dpb_entry::default());
    assert_eq!((d.nal_ref_idc, d.frame_num, d.pic_order_cnt_lsb), (2, 3, 16));
    assert_eq!((d.dec_ref_pic_marking_bit_size, d.pic_order_cnt_bit_size), (1, 6));
    assert_eq!(d.flags, V4L2_H264_DECODE_PARAM_FLAG_PFRAME);
    let s = &c.slice_params[0];
    assert_eq!(s.header_bit_size, 89);
    assert_eq!(s.slice_type, V4L2_H264_SLICE_TYPE_P as u8);
    assert_eq!(s.num_ref_idx_l0_active_minus1, 3);
    assert_eq!(&s.ref_pic_list0[..5], &[r(1), r(1), r(2), r(0), NONE]);
    assert!(s.ref_pic_list1.iter().all(|&e| e == NONE));
    assert!(c.uses_pred_weights[0]);
    let w = &c.pred_weights[0];
    assert_eq!((w.luma_log2_weight_denom, w.chroma_log2_weight_denom), (0, 0));
    assert_eq!(&w.weight_factors[0].luma_weight[..5], &[1, 1, 1, 1, 0]);
    assert_eq!(&w.weight_factors[0].luma_offset[..5], &[0, -1, 0, 0, 0]);
    assert_eq!(&w.weight_factors[0].chroma_weight[..5], &[[1, 1], [1, 1], [1, 1], [1, 1], [0, 0]]);
    assert_eq!(w.weight_factors[1], v4l2_h264_weight_factors::default());
    assert!(!c.has_scaling_matrix);

    // The state remembers the PPS default once a slice reveals it (picture 6).
    let nal6 = slices_of(CABAC_BFRAMES_WP)[6];
    let mut sp6 = VASliceParameterBufferH264 { num_ref_idx_l0_active_minus1: 2, slice_type: 1, ..Default::default() };
    sp6.RefPicList0 = [invalid_pic(); 32];
    sp6.RefPicList1 = [invalid_pic(); 32];
    let s6 = [SliceInput { param: sp6, data: nal6 }];
    let p6 = H264Picture { slices: &s6, ..picture };
    build_controls_with_state(&p6, &resolver(), &mut state).unwrap();
    let c = build_controls_with_state(&picture, &resolver(), &mut state).unwrap();
    assert_eq!(c.pps.num_ref_idx_l0_default_active_minus1, 2);
}

/// The VA buffers of the IDR of cavlc-slices (4 slices, Main profile, CAVLC)
/// as in `translate_idr_with_four_slices_and_scaling_matrix`, decoded into
/// surface `target`, for host tests of the decode flow
/// (`crate::driver::decode_flow_tests`): picture parameters, IQ matrix, and
/// each slice's parameters (offset 0 into its own data buffer) and data.
pub(crate) fn cavlc_idr_four_slices(
    target: u32,
) -> (VAPictureParameterBufferH264, VAIQMatrixBufferH264, Vec<(VASliceParameterBufferH264, &'static [u8])>) {
    let seq = seq_value(|b| {
        b.set_chroma_format_idc(1);
        b.set_frame_mbs_only_flag(1);
        b.set_direct_8x8_inference_flag(1);
        b.set_log2_max_pic_order_cnt_lsb_minus4(2);
    });
    let pf = pic_value(|b| {
        b.set_weighted_bipred_idc(2);
        b.set_deblocking_filter_control_present_flag(1);
        b.set_reference_pic_flag(1);
    });
    let (mut pp, _, _) = cabac_pic_param(va_pic(target, 0, ST, 0, 0), 0, &[], true);
    pp.seq_fields = SeqUnion { value: seq };
    pp.pic_fields = PicUnion { value: pf };
    pp.num_ref_frames = 2;
    let slices = slices_of(CAVLC_SLICES)[..4]
        .iter()
        .map(|&d| {
            let mut param = VASliceParameterBufferH264 { slice_data_size: d.len() as u32, slice_type: 2, ..Default::default() };
            param.RefPicList0 = [invalid_pic(); 32];
            param.RefPicList1 = [invalid_pic(); 32];
            (param, d)
        })
        .collect();
    (pp, flat_iq(), slices)
}

/// IDR of cavlc-slices: 4 slices (Main, CAVLC), empty DPB, scaling matrix passthrough.
#[test]
fn translate_idr_with_four_slices_and_scaling_matrix() {
    let all = slices_of(CAVLC_SLICES);
    let seq = seq_value(|b| {
        b.set_chroma_format_idc(1);
        b.set_frame_mbs_only_flag(1);
        b.set_direct_8x8_inference_flag(1);
        b.set_log2_max_pic_order_cnt_lsb_minus4(2);
    });
    let pf = pic_value(|b| {
        b.set_weighted_bipred_idc(2);
        b.set_deblocking_filter_control_present_flag(1);
        b.set_reference_pic_flag(1);
    });
    let (mut pp, _, _) = cabac_pic_param(va_pic(20, 0, ST, 0, 0), 0, &[], true);
    pp.seq_fields = SeqUnion { value: seq };
    pp.pic_fields = PicUnion { value: pf };
    pp.num_ref_frames = 2;
    let rows = oracle::CAVLC_SLICES_SLICES;
    let inputs: Vec<SliceInput> = all[..4]
        .iter()
        .map(|d| SliceInput { param: VASliceParameterBufferH264 { slice_type: 2, ..Default::default() }, data: d })
        .collect();
    let mut iq = flat_iq();
    iq.ScalingList4x4[1][3] = 20;
    iq.ScalingList8x8[1][63] = 40;
    let picture = H264Picture { pic: &pp, seq_fields: seq, pic_fields: pf, iq: Some(&iq), slices: &inputs, profile: VAProfileH264Main };
    let c = build_controls(&picture, &resolver()).unwrap();
    assert_eq!(c.sps.profile_idc, 77);
    assert_eq!(c.sps.max_num_ref_frames, 2);
    assert_eq!(c.pps.flags & V4L2_H264_PPS_FLAG_ENTROPY_CODING_MODE as u16, 0);
    assert!(c.has_scaling_matrix);
    assert_ne!(c.pps.flags & V4L2_H264_PPS_FLAG_SCALING_MATRIX_PRESENT as u16, 0);
    assert_eq!(c.scaling_matrix.scaling_list_4x4, iq.ScalingList4x4);
    assert_eq!(c.scaling_matrix.scaling_list_8x8[1], iq.ScalingList8x8[1]);
    assert_eq!(c.scaling_matrix.scaling_list_8x8[2], [0; 64]);
    assert_eq!(c.decode_params.dpb, [v4l2_h264_dpb_entry::default(); 16]);
    assert_eq!(c.decode_params.flags, V4L2_H264_DECODE_PARAM_FLAG_IDR_PIC);
    assert_eq!(c.decode_params.dec_ref_pic_marking_bit_size, rows[0].dec_ref_pic_marking_bit_size);
    assert_eq!(c.slice_params.len(), 4);
    for (s, row) in c.slice_params.iter().zip(rows) {
        assert_eq!(s.header_bit_size, row.header_bit_size);
        assert_eq!(s.first_mb_in_slice, row.first_mb_in_slice);
        assert_eq!(s.slice_type, V4L2_H264_SLICE_TYPE_I as u8);
        assert_eq!(s.slice_qp_delta, row.slice_qp_delta);
        assert!(s.ref_pic_list0.iter().chain(s.ref_pic_list1.iter()).all(|&e| e == NONE));
    }
    assert_eq!(c.pred_weights.len(), 4);
}

/// Second (bottom) field of a reference field pair: the first field is in the DPB
/// as a single top field, lists carry parities, pic_num follows 8.2.4.1.
#[test]
fn translate_second_field_and_long_term() {
    let ctx_seq = seq_value(|b| {
        b.set_chroma_format_idc(1);
        b.set_frame_mbs_only_flag(0);
        b.set_log2_max_frame_num_minus4(0);
        b.set_pic_order_cnt_type(0);
        b.set_log2_max_pic_order_cnt_lsb_minus4(0);
    });
    let pf = pic_value(|b| {
        b.set_field_pic_flag(1);
        b.set_reference_pic_flag(1);
    });
    // Slice: P, frame_num 5, bottom field, poc lsb 9, 2 refs, nal_ref_idc 1, no deblocking syntax.
    let mut w = BitWriter::default();
    w.ue(0).ue(5).ue(0).u(4, 5).flag(true).flag(true).u(4, 9);
    w.flag(true).ue(1).flag(false); // override: 2 entries, no modification
    w.flag(false); // adaptive_ref_pic_marking_mode_flag
    w.se(0);
    let nal = w.nal(0x21);
    let cur = 30;
    let long = 31;
    let refs = [
        va_pic(cur, 5, ST | VA_PICTURE_H264_TOP_FIELD, 8, 9),       // first field of this frame
        va_pic(long, 2, VA_PICTURE_H264_LONG_TERM_REFERENCE, 0, 1), // long_term_frame_idx 2
        va_pic(99, 4, ST, 4, 5),                                    // unknown surface: left out
    ];
    let (mut pp, _, _) = cabac_pic_param(va_pic(cur, 5, ST | VA_PICTURE_H264_BOTTOM_FIELD, 8, 9), 5, &refs, true);
    pp.seq_fields = SeqUnion { value: ctx_seq };
    pp.pic_fields = PicUnion { value: pf };
    pp.picture_height_in_mbs_minus1 = 17; // 18 MBs of frame height = 9 map units
    let mut sp = VASliceParameterBufferH264 { slice_type: 0, num_ref_idx_l0_active_minus1: 1, ..Default::default() };
    sp.RefPicList0 = [invalid_pic(); 32];
    sp.RefPicList1 = [invalid_pic(); 32];
    sp.RefPicList0[0] = va_pic(cur, 5, ST | VA_PICTURE_H264_TOP_FIELD, 8, 0);
    sp.RefPicList0[1] = va_pic(long, 2, VA_PICTURE_H264_LONG_TERM_REFERENCE | VA_PICTURE_H264_BOTTOM_FIELD, 0, 1);
    let slices = [SliceInput { param: sp, data: &nal }];
    let res = Surfaces(HashMap::from([(cur, 7000), (long, 500)]));
    let picture = H264Picture { pic: &pp, seq_fields: ctx_seq, pic_fields: pf, iq: None, slices: &slices, profile: VAProfileH264Main };
    let c = build_controls(&picture, &res).unwrap();
    assert_eq!(c.sps.pic_height_in_map_units_minus1, 8);
    assert_eq!(c.sps.flags & V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY, 0);
    let d = &c.decode_params;
    assert_eq!(
        d.flags,
        V4L2_H264_DECODE_PARAM_FLAG_FIELD_PIC | V4L2_H264_DECODE_PARAM_FLAG_BOTTOM_FIELD | V4L2_H264_DECODE_PARAM_FLAG_PFRAME
    );
    assert_eq!((d.top_field_order_cnt, d.bottom_field_order_cnt), (8, 9));
    assert_eq!(d.pic_order_cnt_lsb, 9);
    // DPB sorted by timestamp: long-term frame (ts 500) then the first field (ts 7000).
    assert_eq!(d.dpb[0].reference_ts, 500);
    assert_eq!(d.dpb[0].frame_num, 2);
    assert_eq!(d.dpb[0].fields, V4L2_H264_FRAME_REF as u8);
    // Long-term, current is a bottom field, entry parity top (frame): opposite -> 2 * idx.
    assert_eq!(d.dpb[0].pic_num, 4);
    assert_eq!(d.dpb[0].flags, V4L2_H264_DPB_ENTRY_FLAG_VALID | V4L2_H264_DPB_ENTRY_FLAG_ACTIVE | V4L2_H264_DPB_ENTRY_FLAG_LONG_TERM);
    assert_eq!(d.dpb[1].reference_ts, 7000);
    assert_eq!(d.dpb[1].fields, V4L2_H264_TOP_FIELD_REF as u8);
    assert_eq!(d.dpb[1].pic_num, 10); // 2 * FrameNumWrap(5), opposite parity
    assert_eq!(d.dpb[1].flags, V4L2_H264_DPB_ENTRY_FLAG_VALID | V4L2_H264_DPB_ENTRY_FLAG_ACTIVE | V4L2_H264_DPB_ENTRY_FLAG_FIELD);
    // Only the top field is decoded: its bottom count is 0 (as GStreamer sends), not VA's 9.
    assert_eq!((d.dpb[1].top_field_order_cnt, d.dpb[1].bottom_field_order_cnt), (8, 0));
    assert_eq!(d.dpb[2], v4l2_h264_dpb_entry::default());
    let s = &c.slice_params[0];
    assert_eq!(s.ref_pic_list0[0], v4l2_h264_reference { fields: V4L2_H264_TOP_FIELD_REF as u8, index: 1 });
    assert_eq!(s.ref_pic_list0[1], v4l2_h264_reference { fields: V4L2_H264_BOTTOM_FIELD_REF as u8, index: 0 });
    assert_eq!(s.ref_pic_list0[2], NONE);
}

#[test]
fn translation_errors_and_helpers() {
    let (pp, seq, pf) = cabac_pic_param(va_pic(1, 0, 0, 0, 0), 0, &[], true);
    let picture = H264Picture { pic: &pp, seq_fields: seq, pic_fields: pf, iq: None, slices: &[], profile: VAProfileH264High };
    assert_eq!(build_controls(&picture, &resolver()).err(), Some(CodecError::NoSlices));
    let garbage = [SliceInput { param: Default::default(), data: &[0x65, 0x00, 0x00] }];
    let picture = H264Picture { slices: &garbage, ..picture };
    assert!(build_controls(&picture, &resolver()).is_err());
    // 65536 x 65536 macroblocks: the map unit count overflows u32 (found by
    // the fuzz target in an overflow-checked build): an error, not a panic or a wrap.
    let idr = slices_of(CABAC_BFRAMES_WP)[0];
    let one = [SliceInput { param: Default::default(), data: idr }];
    let mut huge = pp;
    (huge.picture_width_in_mbs_minus1, huge.picture_height_in_mbs_minus1) = (u16::MAX, u16::MAX);
    let p = H264Picture { pic: &huge, slices: &one, ..picture };
    assert_eq!(build_controls(&p, &resolver()).err(), Some(CodecError::Invalid("picture size in map units")));
    assert!(build_controls(&H264Picture { pic: &pp, ..p }, &resolver()).is_ok());

    assert_eq!(va_profiles(), &[VAProfileH264ConstrainedBaseline, VAProfileH264Main, VAProfileH264High]);
    assert_eq!(translate::profile_idc(VAProfileH264ConstrainedBaseline), 66);

    let mut out = Vec::new();
    append_slice(&mut out, &[0x65, 0x88], true);
    append_slice(&mut out, &[0, 0, 0, 1, 0x41, 0x9a], true);
    append_slice(&mut out, &[0, 0, 1, 0x01, 0x02], false);
    append_slice(&mut out, &[0x01, 0x03], false);
    assert_eq!(out, [0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x41, 0x9a, 0x01, 0x02, 0x01, 0x03]);
}
