//! VA-API H.264 picture → V4L2 stateless H.264 controls.
//!
//! # The idea
//!
//! Field by field, the controls are filled from the most faithful source:
//!
//! - SPS / PPS: from `VAPictureParameterBufferH264` (its bitfield words are
//!   decoded with bindgen's own accessors), plus the VA profile for
//!   `profile_idc`, plus the slice headers for `pic_parameter_set_id` and the
//!   PPS `num_ref_idx_lX_default_active_minus1` (recovered from any slice that
//!   does not override them).
//! - DECODE_PARAMS: POCs of the current picture from `CurrPic`, syntax elements
//!   (`frame_num`, `idr_pic_id`, `pic_order_cnt_lsb`, bit sizes, ...) from the
//!   first slice header, the DPB from `ReferenceFrames` with each surface
//!   resolved to the timestamp of the CAPTURE buffer that holds it.
//! - SLICE_PARAMS / PRED_WEIGHTS: from each slice header (GStreamer semantics
//!   for absent elements), reference lists from VA's `RefPicList0/1` mapped to
//!   DPB indices.
//!
//! DPB entries are sorted by timestamp. Timestamps come from a per-context
//! frame counter, i.e. decode order, which is also the order GStreamer keeps
//! its DPB in, so DPB indices (and with them the reference-list indices)
//! line up with GStreamer's for ordinary streams.

use super::slice_header::{parse_slice_header, SliceHeader, SliceHeaderContext, SLICE_B, SLICE_P};
use super::{H264Controls, H264Picture, RefResolver};
use crate::codec::CodecError;
use crate::va_sys::ffi::{
    _VAPictureParameterBufferH264__bindgen_ty_1__bindgen_ty_1 as SeqBits,
    _VAPictureParameterBufferH264__bindgen_ty_2__bindgen_ty_1 as PicBits, __BindgenBitfieldUnit, VAIQMatrixBufferH264, VAPictureH264,
    VAProfile, VAProfileH264Baseline, VAProfileH264ConstrainedBaseline, VAProfileH264High, VAProfileH264Main, VAProfileH264MultiviewHigh,
    VAProfileH264StereoHigh, VASurfaceID, VA_INVALID_SURFACE, VA_PICTURE_H264_BOTTOM_FIELD, VA_PICTURE_H264_INVALID,
    VA_PICTURE_H264_LONG_TERM_REFERENCE, VA_PICTURE_H264_TOP_FIELD,
};
use v4l2r::bindings::{
    v4l2_ctrl_h264_decode_params, v4l2_ctrl_h264_pps, v4l2_ctrl_h264_pred_weights, v4l2_ctrl_h264_scaling_matrix,
    v4l2_ctrl_h264_slice_params, v4l2_ctrl_h264_sps, v4l2_h264_dpb_entry, v4l2_h264_reference, V4L2_H264_BOTTOM_FIELD_REF,
    V4L2_H264_DECODE_PARAM_FLAG_BFRAME, V4L2_H264_DECODE_PARAM_FLAG_BOTTOM_FIELD, V4L2_H264_DECODE_PARAM_FLAG_FIELD_PIC,
    V4L2_H264_DECODE_PARAM_FLAG_IDR_PIC, V4L2_H264_DECODE_PARAM_FLAG_PFRAME, V4L2_H264_DPB_ENTRY_FLAG_ACTIVE,
    V4L2_H264_DPB_ENTRY_FLAG_FIELD, V4L2_H264_DPB_ENTRY_FLAG_LONG_TERM, V4L2_H264_DPB_ENTRY_FLAG_VALID, V4L2_H264_FRAME_REF,
    V4L2_H264_PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT, V4L2_H264_PPS_FLAG_CONSTRAINED_INTRA_PRED,
    V4L2_H264_PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT, V4L2_H264_PPS_FLAG_ENTROPY_CODING_MODE,
    V4L2_H264_PPS_FLAG_REDUNDANT_PIC_CNT_PRESENT, V4L2_H264_PPS_FLAG_SCALING_MATRIX_PRESENT, V4L2_H264_PPS_FLAG_TRANSFORM_8X8_MODE,
    V4L2_H264_PPS_FLAG_WEIGHTED_PRED, V4L2_H264_SLICE_FLAG_DIRECT_SPATIAL_MV_PRED, V4L2_H264_SLICE_FLAG_SP_FOR_SWITCH,
    V4L2_H264_SPS_CONSTRAINT_SET0_FLAG, V4L2_H264_SPS_CONSTRAINT_SET1_FLAG, V4L2_H264_SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO,
    V4L2_H264_SPS_FLAG_DIRECT_8X8_INFERENCE, V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY, V4L2_H264_SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED,
    V4L2_H264_SPS_FLAG_MB_ADAPTIVE_FRAME_FIELD, V4L2_H264_SPS_FLAG_SEPARATE_COLOUR_PLANE, V4L2_H264_TOP_FIELD_REF,
};

/// Decoded `seq_fields` of `VAPictureParameterBufferH264`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqFields {
    /// chroma_format_idc.
    pub chroma_format_idc: u8,
    /// residual_colour_transform_flag, i.e. separate_colour_plane_flag.
    pub separate_colour_plane: bool,
    /// gaps_in_frame_num_value_allowed_flag.
    pub gaps_in_frame_num_value_allowed: bool,
    /// frame_mbs_only_flag.
    pub frame_mbs_only: bool,
    /// mb_adaptive_frame_field_flag.
    pub mb_adaptive_frame_field: bool,
    /// direct_8x8_inference_flag.
    pub direct_8x8_inference: bool,
    /// log2_max_frame_num_minus4.
    pub log2_max_frame_num_minus4: u8,
    /// pic_order_cnt_type.
    pub pic_order_cnt_type: u8,
    /// log2_max_pic_order_cnt_lsb_minus4.
    pub log2_max_pic_order_cnt_lsb_minus4: u8,
    /// delta_pic_order_always_zero_flag.
    pub delta_pic_order_always_zero: bool,
}

impl SeqFields {
    /// Decodes the `seq_fields.value` word with bindgen's accessors (so the
    /// bit layout is the one of the libva headers the crate was built with).
    pub fn from_value(value: u32) -> Self {
        let b = value.to_ne_bytes();
        let bits =
            SeqBits { _bitfield_align_1: [], _bitfield_1: __BindgenBitfieldUnit::new([b[0], b[1], b[2]]), __bindgen_padding_0: b[3] };
        SeqFields {
            chroma_format_idc: bits.chroma_format_idc() as u8,
            separate_colour_plane: bits.residual_colour_transform_flag() != 0,
            gaps_in_frame_num_value_allowed: bits.gaps_in_frame_num_value_allowed_flag() != 0,
            frame_mbs_only: bits.frame_mbs_only_flag() != 0,
            mb_adaptive_frame_field: bits.mb_adaptive_frame_field_flag() != 0,
            direct_8x8_inference: bits.direct_8x8_inference_flag() != 0,
            log2_max_frame_num_minus4: bits.log2_max_frame_num_minus4() as u8,
            pic_order_cnt_type: bits.pic_order_cnt_type() as u8,
            log2_max_pic_order_cnt_lsb_minus4: bits.log2_max_pic_order_cnt_lsb_minus4() as u8,
            delta_pic_order_always_zero: bits.delta_pic_order_always_zero_flag() != 0,
        }
    }
}

/// Decoded `pic_fields` of `VAPictureParameterBufferH264`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PicFields {
    /// entropy_coding_mode_flag.
    pub entropy_coding_mode: bool,
    /// weighted_pred_flag.
    pub weighted_pred: bool,
    /// weighted_bipred_idc.
    pub weighted_bipred_idc: u8,
    /// transform_8x8_mode_flag.
    pub transform_8x8_mode: bool,
    /// field_pic_flag of the current picture.
    pub field_pic: bool,
    /// constrained_intra_pred_flag.
    pub constrained_intra_pred: bool,
    /// pic_order_present_flag, i.e. bottom_field_pic_order_in_frame_present_flag.
    pub bottom_field_pic_order_in_frame_present: bool,
    /// deblocking_filter_control_present_flag.
    pub deblocking_filter_control_present: bool,
    /// redundant_pic_cnt_present_flag.
    pub redundant_pic_cnt_present: bool,
    /// reference_pic_flag (nal_ref_idc != 0).
    pub reference_pic: bool,
}

impl PicFields {
    /// Decodes the `pic_fields.value` word with bindgen's accessors.
    pub fn from_value(value: u32) -> Self {
        let b = value.to_ne_bytes();
        let bits = PicBits {
            _bitfield_align_1: [],
            _bitfield_1: __BindgenBitfieldUnit::new([b[0], b[1]]),
            __bindgen_padding_0: u16::from_ne_bytes([b[2], b[3]]),
        };
        PicFields {
            entropy_coding_mode: bits.entropy_coding_mode_flag() != 0,
            weighted_pred: bits.weighted_pred_flag() != 0,
            weighted_bipred_idc: bits.weighted_bipred_idc() as u8,
            transform_8x8_mode: bits.transform_8x8_mode_flag() != 0,
            field_pic: bits.field_pic_flag() != 0,
            constrained_intra_pred: bits.constrained_intra_pred_flag() != 0,
            bottom_field_pic_order_in_frame_present: bits.pic_order_present_flag() != 0,
            deblocking_filter_control_present: bits.deblocking_filter_control_present_flag() != 0,
            redundant_pic_cnt_present: bits.redundant_pic_cnt_present_flag() != 0,
            reference_pic: bits.reference_pic_flag() != 0,
        }
    }
}

/// State kept across pictures of one context: the PPS reference-index
/// defaults recovered so far, per `pic_parameter_set_id`. With it, pictures
/// whose slices all override (or have no) reference counts, e.g. I frames,
/// still get the PPS value GStreamer would send.
///
/// It also keeps the translation's lists from picture to picture (emptied),
/// so that in steady state a picture allocates nothing: the slice headers,
/// the DPB, and the per-slice control lists [`H264State::reuse`] gives back.
#[derive(Clone, Debug)]
pub struct H264State {
    num_ref_idx_defaults: Vec<(Option<u8>, Option<u8>)>,
    headers: Vec<SliceHeader>,
    dpb_refs: Vec<DpbRef>,
    slice_params: Vec<v4l2_ctrl_h264_slice_params>,
    pred_weights: Vec<v4l2_ctrl_h264_pred_weights>,
    uses_pred_weights: Vec<bool>,
}

impl Default for H264State {
    fn default() -> Self {
        H264State {
            num_ref_idx_defaults: vec![(None, None); 256],
            headers: Vec::new(),
            dpb_refs: Vec::new(),
            slice_params: Vec::new(),
            pred_weights: Vec::new(),
            uses_pred_weights: Vec::new(),
        }
    }
}

impl H264State {
    /// A fresh state (call again on a new context or stream).
    pub fn new() -> Self {
        Self::default()
    }

    /// Take back the per-slice lists of a picture's controls once they were
    /// submitted: the next picture fills them again.
    pub fn reuse(&mut self, ctrls: H264Controls) {
        let H264Controls { mut slice_params, mut pred_weights, mut uses_pred_weights, .. } = ctrls;
        slice_params.clear();
        pred_weights.clear();
        uses_pred_weights.clear();
        self.slice_params = slice_params;
        self.pred_weights = pred_weights;
        self.uses_pred_weights = uses_pred_weights;
    }
}

/// `profile_idc` for a VA profile (0 when unknown).
pub fn profile_idc(profile: VAProfile) -> u8 {
    #[allow(non_upper_case_globals)]
    match profile {
        VAProfileH264ConstrainedBaseline | VAProfileH264Baseline => 66,
        VAProfileH264Main => 77,
        VAProfileH264High => 100,
        VAProfileH264MultiviewHigh => 118,
        VAProfileH264StereoHigh => 128,
        _ => 0,
    }
}

/// VA profiles the driver may advertise when the device accepts
/// `V4L2_PIX_FMT_H264_SLICE`.
///
/// - ConstrainedBaseline, Main, High: 8-bit 4:2:0, everything the V4L2
///   stateless uAPI describes and every stateless H.264 decoder (hantro G1,
///   rkvdec, cedrus, visl) handles.
/// - Not Baseline: its extra tools (FMO/ASO slice groups, redundant slices)
///   have no place in the uAPI (no slice group map) and no hardware support;
///   libva itself deprecated `VAProfileH264Baseline`, apps fall back to
///   ConstrainedBaseline.
/// - Not High10 / High 4:2:2 / High 4:4:4: VA 1.17 has no H.264 10-bit or
///   4:2:2 profile; the one exposed (`VAProfileH264High10` does not exist in
///   1.17) would need a 10-bit CAPTURE format negotiation this driver does not
///   do. The `h264-high10` test stream is the negative test.
/// - Not MultiviewHigh / StereoHigh: MVC NAL units (type 20) are outside the uAPI.
#[cfg(test)]
pub fn va_profiles() -> &'static [VAProfile] {
    const PROFILES: [VAProfile; 3] = [VAProfileH264ConstrainedBaseline, VAProfileH264Main, VAProfileH264High];
    &PROFILES
}

/// Bytes to put into the OUTPUT (bitstream) buffer for one slice: with a
/// `00 00 01` start code when `annex_b` is true. A start code already in
/// front of `slice` is dropped first, so the output is the same whether or
/// not the application passed one (GStreamer always writes a 3-byte start code).
pub fn append_slice(out: &mut Vec<u8>, slice: &[u8], annex_b: bool) {
    crate::codec::nal::append_nal(out, slice, annex_b)
}

/// Translates one picture with a throw-away [`H264State`]; see
/// [`build_controls_with_state`].
#[cfg(test)]
pub fn build_controls(p: &H264Picture, refs: &dyn RefResolver) -> Result<H264Controls, CodecError> {
    build_controls_with_state(p, refs, &mut H264State::default())
}

fn is_flat(iq: &VAIQMatrixBufferH264) -> bool {
    iq.ScalingList4x4.iter().flatten().all(|&v| v == 16) && iq.ScalingList8x8.iter().flatten().all(|&v| v == 16)
}

/// A reference picture of the VA DPB, after validation.
#[derive(Clone, Copy, Debug)]
struct DpbRef {
    surface: VASurfaceID,
    ts: u64,
    va: VAPictureH264,
}

fn va_fields(flags: u32) -> u8 {
    let top = flags & VA_PICTURE_H264_TOP_FIELD != 0;
    let bottom = flags & VA_PICTURE_H264_BOTTOM_FIELD != 0;
    match (top, bottom) {
        (true, false) => V4L2_H264_TOP_FIELD_REF as u8,
        (false, true) => V4L2_H264_BOTTOM_FIELD_REF as u8,
        _ => V4L2_H264_FRAME_REF as u8,
    }
}

/// Translates one picture's VA buffers into the V4L2 H.264 controls.
///
/// # What matches GStreamer's v4l2slh264dec and what cannot
///
/// Identical (on conformant streams): every PPS field except the ones listed
/// below, every DECODE_PARAMS field (nal_ref_idc, frame_num, idr_pic_id,
/// pic_order_cnt_lsb, delta_pic_order_cnt*, both bit sizes, POCs, flags), the
/// DPB (same order: decode order; same pic_num/frame_num rules), every
/// SLICE_PARAMS field including `header_bit_size` (RBSP bits, NAL header
/// included, EPBs not counted), PRED_WEIGHTS (zero when the slice has no
/// pred_weight_table), SCALING_MATRIX when the stream has scaling lists.
///
/// Differences the trace comparison must normalise (VA does not carry the value):
/// - `sps.level_idc`: always 0.
/// - `sps.constraint_set_flags`: 0x03 (set0|set1) for ConstrainedBaseline, 0
///   otherwise; GStreamer sends the SPS bits (x264 Main/High streams may have
///   other bits set).
/// - `sps.profile_idc`: from the VA profile (CB/Baseline 66, Main 77, High
///   100); differs when an app decodes e.g. a Main stream with the High profile.
/// - `sps.seq_parameter_set_id`, `pps.seq_parameter_set_id`: 0.
/// - `sps.num_ref_frames_in_pic_order_cnt_cycle`, `offset_for_ref_frame`,
///   `offset_for_non_ref_pic`, `offset_for_top_to_bottom_field`: 0 (only used
///   by POC type 1, whose POCs VA already computed).
/// - `SPS_FLAG_QPPRIME_Y_ZERO_TRANSFORM_BYPASS`: never set (High 4:4:4 only).
/// - `pps.num_ref_idx_l0/l1_default_active_minus1`: recovered from the first
///   slice that does not override it, else the value remembered in `state`
///   for that PPS id, else 0. GStreamer sends the PPS value; the two differ
///   only on the first pictures that give no hint (typically the IDR).
///   Decoding is unaffected: a default only matters for a slice that does not
///   override it, and that slice is where it is recovered from.
/// - SCALING_MATRIX / `PPS_FLAG_SCALING_MATRIX_PRESENT`: VA always carries a
///   matrix (FFmpeg sends flat 16s when the stream has none); a flat matrix is
///   treated as "not present", as GStreamer does for streams without scaling
///   lists. A stream that explicitly codes flat lists would get the flag from
///   GStreamer and not from us (same decoded output).
/// - `decode_params.flags` PFRAME/BFRAME: OR over all slices (GStreamer's
///   frame-based behaviour; in slice-based mode GStreamer sends the first
///   slice's type only).
/// - DPB `FIELD` flag and the parity of field pairs: VA does not say whether a
///   reference was coded as fields; [`RefResolver::field_coded`] answers, else
///   an entry with a single referenced field counts as a field.
/// - DPB entries whose surface the resolver does not know are left out (with
///   a warning) and list entries naming them get index 0xff; GStreamer never
///   has unknown references.
/// - Reference-list entries past `num_ref_idx_lX_active_minus1` and of unused
///   lists are `{fields: 0xff, index: 0xff}`, as GStreamer's memset.
pub fn build_controls_with_state(p: &H264Picture, refs: &dyn RefResolver, state: &mut H264State) -> Result<H264Controls, CodecError> {
    let pic = p.pic;
    let seq = SeqFields::from_value(p.seq_fields);
    let pf = PicFields::from_value(p.pic_fields);
    if p.slices.is_empty() {
        return Err(CodecError::NoSlices);
    }
    if seq.chroma_format_idc > 3 || pic.bit_depth_luma_minus8 > 6 || pic.bit_depth_chroma_minus8 > 6 {
        return Err(CodecError::Invalid("chroma_format_idc / bit depth"));
    }
    if seq.log2_max_frame_num_minus4 > 12 || seq.log2_max_pic_order_cnt_lsb_minus4 > 12 || seq.pic_order_cnt_type > 2 {
        return Err(CodecError::Invalid("log2_max_frame_num / pic_order_cnt"));
    }

    let width_mbs = u32::from(pic.picture_width_in_mbs_minus1) + 1;
    let frame_height_mbs = u32::from(pic.picture_height_in_mbs_minus1) + 1;
    let map_unit_height = if seq.frame_mbs_only { frame_height_mbs } else { frame_height_mbs.div_ceil(2) };
    let chroma_array_type = if seq.separate_colour_plane { 0 } else { seq.chroma_format_idc };
    // Two 16-bit VA sizes: their product overflows u32 at the extremes.
    let pic_size_in_map_units = width_mbs.checked_mul(map_unit_height).ok_or(CodecError::Invalid("picture size in map units"))?;

    // --- slice headers -------------------------------------------------------
    let mut headers = std::mem::take(&mut state.headers);
    headers.clear();
    for s in p.slices {
        let ctx = SliceHeaderContext {
            separate_colour_plane: seq.separate_colour_plane,
            chroma_array_type,
            log2_max_frame_num: seq.log2_max_frame_num_minus4 + 4,
            frame_mbs_only: seq.frame_mbs_only,
            pic_order_cnt_type: seq.pic_order_cnt_type,
            log2_max_pic_order_cnt_lsb: seq.log2_max_pic_order_cnt_lsb_minus4 + 4,
            delta_pic_order_always_zero: seq.delta_pic_order_always_zero,
            bottom_field_pic_order_in_frame_present: pf.bottom_field_pic_order_in_frame_present,
            redundant_pic_cnt_present: pf.redundant_pic_cnt_present,
            weighted_pred: pf.weighted_pred,
            weighted_bipred_idc: pf.weighted_bipred_idc,
            entropy_coding_mode: pf.entropy_coding_mode,
            deblocking_filter_control_present: pf.deblocking_filter_control_present,
            num_ref_idx_l0_default_active_minus1: s.param.num_ref_idx_l0_active_minus1.min(31),
            num_ref_idx_l1_default_active_minus1: s.param.num_ref_idx_l1_active_minus1.min(31),
            num_slice_groups_minus1: pic.num_slice_groups_minus1,
            slice_group_map_type: pic.slice_group_map_type,
            slice_group_change_rate_minus1: u32::from(pic.slice_group_change_rate_minus1),
            pic_size_in_map_units,
        };
        headers.push(parse_slice_header(s.data, &ctx)?);
    }
    let h0 = &headers[0];

    // --- PPS reference-index defaults ---------------------------------------
    let slot = &mut state.num_ref_idx_defaults[usize::from(h0.pic_parameter_set_id)];
    for h in &headers {
        if h.num_ref_idx_active_override_flag || h.pic_parameter_set_id != h0.pic_parameter_set_id {
            continue;
        }
        if h.is_p_or_sp() || h.is_b() {
            slot.0.get_or_insert(h.num_ref_idx_l0_active_minus1);
        }
        if h.is_b() {
            slot.1.get_or_insert(h.num_ref_idx_l1_active_minus1);
        }
    }
    let (l0_default, l1_default) = (slot.0.unwrap_or(0), slot.1.unwrap_or(0));

    // --- scaling matrix -------------------------------------------------------
    let has_scaling_matrix = matches!(p.iq, Some(iq) if !is_flat(iq));
    let mut scaling_matrix = v4l2_ctrl_h264_scaling_matrix { scaling_list_4x4: [[16; 16]; 6], scaling_list_8x8: [[16; 64]; 6] };
    if let (true, Some(iq)) = (has_scaling_matrix, p.iq) {
        scaling_matrix.scaling_list_4x4 = iq.ScalingList4x4;
        scaling_matrix.scaling_list_8x8 = [[0; 64]; 6];
        scaling_matrix.scaling_list_8x8[0] = iq.ScalingList8x8[0];
        scaling_matrix.scaling_list_8x8[1] = iq.ScalingList8x8[1];
        if seq.chroma_format_idc == 3 {
            // VA has no Cb/Cr 8x8 lists; the fall-back rule of Table 7-2 (case A) copies Y.
            for i in [2, 4] {
                scaling_matrix.scaling_list_8x8[i] = iq.ScalingList8x8[0];
                scaling_matrix.scaling_list_8x8[i + 1] = iq.ScalingList8x8[1];
            }
        }
    }

    // --- SPS -----------------------------------------------------------------
    let mut sps = v4l2_ctrl_h264_sps {
        profile_idc: profile_idc(p.profile),
        constraint_set_flags: if p.profile == VAProfileH264ConstrainedBaseline {
            (V4L2_H264_SPS_CONSTRAINT_SET0_FLAG | V4L2_H264_SPS_CONSTRAINT_SET1_FLAG) as u8
        } else {
            0
        },
        level_idc: 0,
        seq_parameter_set_id: 0,
        chroma_format_idc: seq.chroma_format_idc,
        bit_depth_luma_minus8: pic.bit_depth_luma_minus8,
        bit_depth_chroma_minus8: pic.bit_depth_chroma_minus8,
        log2_max_frame_num_minus4: seq.log2_max_frame_num_minus4,
        pic_order_cnt_type: seq.pic_order_cnt_type,
        log2_max_pic_order_cnt_lsb_minus4: seq.log2_max_pic_order_cnt_lsb_minus4,
        max_num_ref_frames: pic.num_ref_frames,
        pic_width_in_mbs_minus1: pic.picture_width_in_mbs_minus1,
        pic_height_in_map_units_minus1: (map_unit_height - 1) as u16,
        ..Default::default()
    };
    let flag = |b: bool, f: u32| if b { f } else { 0 };
    sps.flags = flag(seq.separate_colour_plane, V4L2_H264_SPS_FLAG_SEPARATE_COLOUR_PLANE)
        | flag(seq.delta_pic_order_always_zero, V4L2_H264_SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO)
        | flag(seq.gaps_in_frame_num_value_allowed, V4L2_H264_SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED)
        | flag(seq.frame_mbs_only, V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY)
        | flag(seq.mb_adaptive_frame_field, V4L2_H264_SPS_FLAG_MB_ADAPTIVE_FRAME_FIELD)
        | flag(seq.direct_8x8_inference, V4L2_H264_SPS_FLAG_DIRECT_8X8_INFERENCE);

    // --- PPS -----------------------------------------------------------------
    let pps = v4l2_ctrl_h264_pps {
        pic_parameter_set_id: h0.pic_parameter_set_id,
        seq_parameter_set_id: 0,
        num_slice_groups_minus1: pic.num_slice_groups_minus1,
        num_ref_idx_l0_default_active_minus1: l0_default,
        num_ref_idx_l1_default_active_minus1: l1_default,
        weighted_bipred_idc: pf.weighted_bipred_idc,
        pic_init_qp_minus26: pic.pic_init_qp_minus26,
        pic_init_qs_minus26: pic.pic_init_qs_minus26,
        chroma_qp_index_offset: pic.chroma_qp_index_offset,
        second_chroma_qp_index_offset: pic.second_chroma_qp_index_offset,
        flags: (flag(pf.entropy_coding_mode, V4L2_H264_PPS_FLAG_ENTROPY_CODING_MODE)
            | flag(pf.bottom_field_pic_order_in_frame_present, V4L2_H264_PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT)
            | flag(pf.weighted_pred, V4L2_H264_PPS_FLAG_WEIGHTED_PRED)
            | flag(pf.deblocking_filter_control_present, V4L2_H264_PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT)
            | flag(pf.constrained_intra_pred, V4L2_H264_PPS_FLAG_CONSTRAINED_INTRA_PRED)
            | flag(pf.redundant_pic_cnt_present, V4L2_H264_PPS_FLAG_REDUNDANT_PIC_CNT_PRESENT)
            | flag(pf.transform_8x8_mode, V4L2_H264_PPS_FLAG_TRANSFORM_8X8_MODE)
            | flag(has_scaling_matrix, V4L2_H264_PPS_FLAG_SCALING_MATRIX_PRESENT)) as u16,
    };

    // --- DPB -------------------------------------------------------------------
    let mut dpb_refs = std::mem::take(&mut state.dpb_refs);
    dpb_refs.clear();
    for va in pic.ReferenceFrames.iter() {
        if va.flags & VA_PICTURE_H264_INVALID != 0 || va.picture_id == VA_INVALID_SURFACE {
            continue;
        }
        if let Some(prev) = dpb_refs.iter_mut().find(|d| d.surface == va.picture_id) {
            // Same frame listed once per field: merge, as FFmpeg's dpb_add does.
            prev.va.flags |= va.flags & (VA_PICTURE_H264_TOP_FIELD | VA_PICTURE_H264_BOTTOM_FIELD);
            if va.flags & VA_PICTURE_H264_TOP_FIELD != 0 {
                prev.va.TopFieldOrderCnt = va.TopFieldOrderCnt;
            }
            if va.flags & VA_PICTURE_H264_BOTTOM_FIELD != 0 {
                prev.va.BottomFieldOrderCnt = va.BottomFieldOrderCnt;
            }
            continue;
        }
        match refs.timestamp(va.picture_id) {
            Some(ts) => dpb_refs.push(DpbRef { surface: va.picture_id, ts, va: *va }),
            None => log::warn!("h264: reference surface {:#x} unknown, left out of the DPB", va.picture_id),
        }
    }
    dpb_refs.sort_by_key(|d| d.ts);

    let cur_field = h0.field_pic_flag;
    let cur_bottom = h0.bottom_field_flag;
    let max_frame_num = 1i64 << (seq.log2_max_frame_num_minus4 + 4);
    let mut decode_params = v4l2_ctrl_h264_decode_params::default();
    for (i, d) in dpb_refs.iter().enumerate() {
        let long_term = d.va.flags & VA_PICTURE_H264_LONG_TERM_REFERENCE != 0;
        let fields = va_fields(d.va.flags);
        let field_coded = refs.field_coded(d.surface).unwrap_or(fields != V4L2_H264_FRAME_REF as u8);
        // Parity of the entry's (first) field, for field decoding.
        let entry_bottom = match fields as u32 {
            V4L2_H264_TOP_FIELD_REF => false,
            V4L2_H264_BOTTOM_FIELD_REF => true,
            _ => field_coded && d.va.BottomFieldOrderCnt < d.va.TopFieldOrderCnt,
        };
        let base: i64 = if long_term {
            i64::from(d.va.frame_idx)
        } else {
            let fnum = i64::from(d.va.frame_idx);
            if fnum > i64::from(h0.frame_num) {
                fnum - max_frame_num
            } else {
                fnum
            }
        };
        let pic_num = if !cur_field {
            base
        } else if entry_bottom == cur_bottom {
            2 * base + 1
        } else {
            2 * base
        };
        decode_params.dpb[i] = v4l2_h264_dpb_entry {
            reference_ts: d.ts,
            pic_num: pic_num as i32 as u32,
            frame_num: d.va.frame_idx as u16,
            fields,
            reserved: [0; 5],
            // A reference with one field decoded (the first field of the current frame,
            // or a lone field) has no count for the other: 0, as GStreamer sends.
            top_field_order_cnt: if fields == V4L2_H264_BOTTOM_FIELD_REF as u8 { 0 } else { d.va.TopFieldOrderCnt },
            bottom_field_order_cnt: if fields == V4L2_H264_TOP_FIELD_REF as u8 { 0 } else { d.va.BottomFieldOrderCnt },
            flags: V4L2_H264_DPB_ENTRY_FLAG_VALID
                | V4L2_H264_DPB_ENTRY_FLAG_ACTIVE
                | flag(long_term, V4L2_H264_DPB_ENTRY_FLAG_LONG_TERM)
                | flag(field_coded, V4L2_H264_DPB_ENTRY_FLAG_FIELD),
        };
    }

    // --- decode params ---------------------------------------------------------
    decode_params.nal_ref_idc = u16::from(h0.nal_ref_idc);
    decode_params.frame_num = h0.frame_num;
    decode_params.top_field_order_cnt = pic.CurrPic.TopFieldOrderCnt;
    decode_params.bottom_field_order_cnt = pic.CurrPic.BottomFieldOrderCnt;
    decode_params.idr_pic_id = h0.idr_pic_id;
    decode_params.pic_order_cnt_lsb = h0.pic_order_cnt_lsb;
    decode_params.delta_pic_order_cnt_bottom = h0.delta_pic_order_cnt_bottom;
    decode_params.delta_pic_order_cnt0 = h0.delta_pic_order_cnt[0];
    decode_params.delta_pic_order_cnt1 = h0.delta_pic_order_cnt[1];
    decode_params.dec_ref_pic_marking_bit_size = h0.dec_ref_pic_marking_bit_size;
    decode_params.pic_order_cnt_bit_size = h0.pic_order_cnt_bit_size;
    decode_params.slice_group_change_cycle = h0.slice_group_change_cycle;
    decode_params.flags = flag(h0.is_idr(), V4L2_H264_DECODE_PARAM_FLAG_IDR_PIC)
        | flag(h0.field_pic_flag, V4L2_H264_DECODE_PARAM_FLAG_FIELD_PIC)
        | flag(h0.bottom_field_flag, V4L2_H264_DECODE_PARAM_FLAG_BOTTOM_FIELD);
    for h in &headers {
        match h.slice_type() {
            SLICE_P => decode_params.flags |= V4L2_H264_DECODE_PARAM_FLAG_PFRAME,
            SLICE_B => decode_params.flags |= V4L2_H264_DECODE_PARAM_FLAG_BFRAME,
            _ => {}
        }
    }

    // --- slice params and weights ---------------------------------------------
    let map_ref = |va: &VAPictureH264| -> v4l2_h264_reference {
        if va.flags & VA_PICTURE_H264_INVALID != 0 || va.picture_id == VA_INVALID_SURFACE {
            return v4l2_h264_reference { fields: 0xff, index: 0xff };
        }
        let index = dpb_refs.iter().position(|d| d.surface == va.picture_id).map_or(0xff, |i| i as u8);
        let fields = if cur_field { va_fields(va.flags) } else { V4L2_H264_FRAME_REF as u8 };
        v4l2_h264_reference { fields, index }
    };
    let mut slice_params = std::mem::take(&mut state.slice_params);
    let mut pred_weights = std::mem::take(&mut state.pred_weights);
    let mut uses_pred_weights = std::mem::take(&mut state.uses_pred_weights);
    slice_params.clear();
    pred_weights.clear();
    uses_pred_weights.clear();
    for (h, s) in headers.iter().zip(p.slices) {
        let none = v4l2_h264_reference { fields: 0xff, index: 0xff };
        let mut sp = v4l2_ctrl_h264_slice_params {
            header_bit_size: h.header_bit_size,
            first_mb_in_slice: h.first_mb_in_slice,
            slice_type: h.slice_type(),
            colour_plane_id: h.colour_plane_id,
            redundant_pic_cnt: h.redundant_pic_cnt,
            cabac_init_idc: h.cabac_init_idc,
            slice_qp_delta: h.slice_qp_delta,
            slice_qs_delta: h.slice_qs_delta,
            disable_deblocking_filter_idc: h.disable_deblocking_filter_idc,
            slice_alpha_c0_offset_div2: h.slice_alpha_c0_offset_div2,
            slice_beta_offset_div2: h.slice_beta_offset_div2,
            num_ref_idx_l0_active_minus1: h.num_ref_idx_l0_active_minus1,
            num_ref_idx_l1_active_minus1: h.num_ref_idx_l1_active_minus1,
            reserved: 0,
            ref_pic_list0: [none; 32],
            ref_pic_list1: [none; 32],
            flags: flag(h.direct_spatial_mv_pred_flag, V4L2_H264_SLICE_FLAG_DIRECT_SPATIAL_MV_PRED)
                | flag(h.sp_for_switch_flag, V4L2_H264_SLICE_FLAG_SP_FOR_SWITCH),
        };
        if !h.is_intra() {
            let n = usize::from(h.num_ref_idx_l0_active_minus1) + 1;
            for (dst, va) in sp.ref_pic_list0.iter_mut().zip(s.param.RefPicList0.iter()).take(n) {
                *dst = map_ref(va);
            }
        }
        if h.is_b() {
            let n = usize::from(h.num_ref_idx_l1_active_minus1) + 1;
            for (dst, va) in sp.ref_pic_list1.iter_mut().zip(s.param.RefPicList1.iter()).take(n) {
                *dst = map_ref(va);
            }
        }
        slice_params.push(sp);

        let mut pw = v4l2_ctrl_h264_pred_weights::default();
        if let Some(t) = &h.pred_weight_table {
            pw.luma_log2_weight_denom = u16::from(t.luma_log2_weight_denom);
            pw.chroma_log2_weight_denom = u16::from(t.chroma_log2_weight_denom);
            for l in 0..2 {
                pw.weight_factors[l].luma_weight = t.luma_weight[l];
                pw.weight_factors[l].luma_offset = t.luma_offset[l];
                pw.weight_factors[l].chroma_weight = t.chroma_weight[l];
                pw.weight_factors[l].chroma_offset = t.chroma_offset[l];
            }
        }
        pred_weights.push(pw);
        uses_pred_weights.push(h.pred_weight_table.is_some());
    }

    state.headers = headers;
    state.dpb_refs = dpb_refs;
    Ok(H264Controls { sps, pps, scaling_matrix, decode_params, slice_params, pred_weights, uses_pred_weights, has_scaling_matrix })
}
