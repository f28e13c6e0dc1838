//! VA-API HEVC picture → V4L2 stateless HEVC controls.
//!
//! # The idea
//!
//! - SPS / PPS: from `VAPictureParameterBufferHEVC` (its two bitfield words
//!   decoded with bindgen's own accessors, so the layout is the libva one),
//!   plus `slice_pic_parameter_set_id` from the first slice header.
//! - DECODE_PARAMS: the DPB from VA's `ReferenceFrames` (valid entries, sorted
//!   by timestamp, i.e. decode order), the three RPS lists from the
//!   `VA_PICTURE_HEVC_RPS_*` flags (StCurrBefore by decreasing POC, StCurrAfter
//!   by increasing POC: the order 8.3.2 builds them in), picture flags and
//!   bit sizes from the first slice header.
//! - SLICE_PARAMS: one per slice segment from the re-parsed header, reference
//!   lists from VA's `RefPicList` (indices into `ReferenceFrames`) mapped to
//!   DPB indices.

use super::slice_header::{parse_slice_header_reusing, start_code_len, SliceHeader, SliceHeaderContext, SLICE_B, SLICE_I};
use super::{HevcControls, HevcPicture, RefResolver};
use crate::codec::CodecError;
use crate::v4l2::HevcEntryPointOffset;
use crate::va_sys::ffi::{
    _VAPictureParameterBufferHEVC__bindgen_ty_1__bindgen_ty_1 as PicBits,
    _VAPictureParameterBufferHEVC__bindgen_ty_2__bindgen_ty_1 as SliceParsingBits,
    _VASliceParameterBufferHEVC__bindgen_ty_1__bindgen_ty_1 as LongSliceBits, __BindgenBitfieldUnit, VAPictureHEVC, VASurfaceID,
    VA_INVALID_SURFACE, VA_PICTURE_HEVC_BOTTOM_FIELD, VA_PICTURE_HEVC_FIELD_PIC, VA_PICTURE_HEVC_INVALID,
    VA_PICTURE_HEVC_LONG_TERM_REFERENCE, VA_PICTURE_HEVC_RPS_LT_CURR, VA_PICTURE_HEVC_RPS_ST_CURR_AFTER,
    VA_PICTURE_HEVC_RPS_ST_CURR_BEFORE,
};
#[cfg(test)]
use crate::va_sys::ffi::{VAProfile, VAProfileHEVCMain, VAProfileHEVCMain10};
use v4l2r::bindings::*;

/// Decoded `pic_fields` of `VAPictureParameterBufferHEVC`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PicFields {
    /// chroma_format_idc.
    pub chroma_format_idc: u8,
    /// separate_colour_plane_flag.
    pub separate_colour_plane: bool,
    /// pcm_enabled_flag.
    pub pcm_enabled: bool,
    /// scaling_list_enabled_flag.
    pub scaling_list_enabled: bool,
    /// transform_skip_enabled_flag.
    pub transform_skip_enabled: bool,
    /// amp_enabled_flag.
    pub amp_enabled: bool,
    /// strong_intra_smoothing_enabled_flag.
    pub strong_intra_smoothing_enabled: bool,
    /// sign_data_hiding_enabled_flag.
    pub sign_data_hiding_enabled: bool,
    /// constrained_intra_pred_flag.
    pub constrained_intra_pred: bool,
    /// cu_qp_delta_enabled_flag.
    pub cu_qp_delta_enabled: bool,
    /// weighted_pred_flag.
    pub weighted_pred: bool,
    /// weighted_bipred_flag.
    pub weighted_bipred: bool,
    /// transquant_bypass_enabled_flag.
    pub transquant_bypass_enabled: bool,
    /// tiles_enabled_flag.
    pub tiles_enabled: bool,
    /// entropy_coding_sync_enabled_flag.
    pub entropy_coding_sync_enabled: bool,
    /// pps_loop_filter_across_slices_enabled_flag.
    pub pps_loop_filter_across_slices_enabled: bool,
    /// loop_filter_across_tiles_enabled_flag.
    pub loop_filter_across_tiles_enabled: bool,
    /// pcm_loop_filter_disabled_flag.
    pub pcm_loop_filter_disabled: bool,
}

impl PicFields {
    /// Decodes the `pic_fields.value` word with bindgen's accessors.
    pub fn from_value(value: u32) -> Self {
        let b = PicBits { _bitfield_align_1: [], _bitfield_1: __BindgenBitfieldUnit::new(value.to_ne_bytes()) };
        PicFields {
            chroma_format_idc: b.chroma_format_idc() as u8,
            separate_colour_plane: b.separate_colour_plane_flag() != 0,
            pcm_enabled: b.pcm_enabled_flag() != 0,
            scaling_list_enabled: b.scaling_list_enabled_flag() != 0,
            transform_skip_enabled: b.transform_skip_enabled_flag() != 0,
            amp_enabled: b.amp_enabled_flag() != 0,
            strong_intra_smoothing_enabled: b.strong_intra_smoothing_enabled_flag() != 0,
            sign_data_hiding_enabled: b.sign_data_hiding_enabled_flag() != 0,
            constrained_intra_pred: b.constrained_intra_pred_flag() != 0,
            cu_qp_delta_enabled: b.cu_qp_delta_enabled_flag() != 0,
            weighted_pred: b.weighted_pred_flag() != 0,
            weighted_bipred: b.weighted_bipred_flag() != 0,
            transquant_bypass_enabled: b.transquant_bypass_enabled_flag() != 0,
            tiles_enabled: b.tiles_enabled_flag() != 0,
            entropy_coding_sync_enabled: b.entropy_coding_sync_enabled_flag() != 0,
            pps_loop_filter_across_slices_enabled: b.pps_loop_filter_across_slices_enabled_flag() != 0,
            loop_filter_across_tiles_enabled: b.loop_filter_across_tiles_enabled_flag() != 0,
            pcm_loop_filter_disabled: b.pcm_loop_filter_disabled_flag() != 0,
        }
    }
}

/// Decoded `slice_parsing_fields` of `VAPictureParameterBufferHEVC`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SliceParsingFields {
    /// lists_modification_present_flag.
    pub lists_modification_present: bool,
    /// long_term_ref_pics_present_flag.
    pub long_term_ref_pics_present: bool,
    /// sps_temporal_mvp_enabled_flag.
    pub sps_temporal_mvp_enabled: bool,
    /// cabac_init_present_flag.
    pub cabac_init_present: bool,
    /// output_flag_present_flag.
    pub output_flag_present: bool,
    /// dependent_slice_segments_enabled_flag.
    pub dependent_slice_segments_enabled: bool,
    /// pps_slice_chroma_qp_offsets_present_flag.
    pub pps_slice_chroma_qp_offsets_present: bool,
    /// sample_adaptive_offset_enabled_flag.
    pub sample_adaptive_offset_enabled: bool,
    /// deblocking_filter_override_enabled_flag.
    pub deblocking_filter_override_enabled: bool,
    /// pps_disable_deblocking_filter_flag.
    pub pps_disable_deblocking_filter: bool,
    /// slice_segment_header_extension_present_flag.
    pub slice_segment_header_extension_present: bool,
    /// RapPicFlag.
    pub rap_pic: bool,
    /// IdrPicFlag.
    pub idr_pic: bool,
    /// IntraPicFlag.
    pub intra_pic: bool,
}

impl SliceParsingFields {
    /// Decodes the `slice_parsing_fields.value` word with bindgen's accessors.
    pub fn from_value(value: u32) -> Self {
        let b = SliceParsingBits { _bitfield_align_1: [], _bitfield_1: __BindgenBitfieldUnit::new(value.to_ne_bytes()) };
        SliceParsingFields {
            lists_modification_present: b.lists_modification_present_flag() != 0,
            long_term_ref_pics_present: b.long_term_ref_pics_present_flag() != 0,
            sps_temporal_mvp_enabled: b.sps_temporal_mvp_enabled_flag() != 0,
            cabac_init_present: b.cabac_init_present_flag() != 0,
            output_flag_present: b.output_flag_present_flag() != 0,
            dependent_slice_segments_enabled: b.dependent_slice_segments_enabled_flag() != 0,
            pps_slice_chroma_qp_offsets_present: b.pps_slice_chroma_qp_offsets_present_flag() != 0,
            sample_adaptive_offset_enabled: b.sample_adaptive_offset_enabled_flag() != 0,
            deblocking_filter_override_enabled: b.deblocking_filter_override_enabled_flag() != 0,
            pps_disable_deblocking_filter: b.pps_disable_deblocking_filter_flag() != 0,
            slice_segment_header_extension_present: b.slice_segment_header_extension_present_flag() != 0,
            rap_pic: b.RapPicFlag() != 0,
            idr_pic: b.IdrPicFlag() != 0,
            intra_pic: b.IntraPicFlag() != 0,
        }
    }
}

/// Decoded `LongSliceFlags` of `VASliceParameterBufferHEVC` (only used for
/// consistency checks: the slice header itself is re-parsed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LongSliceFlags {
    /// LastSliceOfPic.
    pub last_slice_of_pic: bool,
    /// dependent_slice_segment_flag.
    pub dependent_slice_segment: bool,
    /// slice_type.
    pub slice_type: u8,
}

impl LongSliceFlags {
    /// Decodes the `LongSliceFlags.value` word with bindgen's accessors.
    pub fn from_value(value: u32) -> Self {
        let b = LongSliceBits { _bitfield_align_1: [], _bitfield_1: __BindgenBitfieldUnit::new(value.to_ne_bytes()) };
        LongSliceFlags {
            last_slice_of_pic: b.LastSliceOfPic() != 0,
            dependent_slice_segment: b.dependent_slice_segment_flag() != 0,
            slice_type: b.slice_type() as u8,
        }
    }
}

/// State carried across the pictures of one context.
#[derive(Clone, Debug, Default)]
pub struct HevcState {
    annex_b: bool,
    /// The last picture's slice headers (their entry point lists are reused).
    headers: Vec<SliceHeader>,
    dpb_refs: Vec<(usize, u64)>,
    /// The lists of the last picture's controls, given back by [`HevcState::reuse`].
    slice_params: Vec<v4l2_ctrl_hevc_slice_params>,
    entry_point_offsets: Vec<Vec<HevcEntryPointOffset>>,
}

impl HevcState {
    /// A fresh state: slices are sent without start codes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the OUTPUT buffer carries Annex-B start codes
    /// (`V4L2_STATELESS_HEVC_START_CODE_ANNEX_B`): then `bit_size` and
    /// `data_byte_offset` include the 3-byte start code [`append_slice`] writes.
    pub fn set_annex_b(&mut self, annex_b: bool) {
        self.annex_b = annex_b;
    }

    /// Take back the per-slice lists of a picture's controls once they were
    /// submitted: the next picture fills them again (no allocation per picture).
    pub fn reuse(&mut self, ctrls: HevcControls) {
        let HevcControls { mut slice_params, entry_point_offsets, .. } = ctrls;
        slice_params.clear();
        self.slice_params = slice_params;
        self.entry_point_offsets = entry_point_offsets;
    }
}

/// VA profiles to advertise when the device accepts `V4L2_PIX_FMT_HEVC_SLICE`:
/// Main always, Main10 when the device also takes a 10-bit SPS with P010
/// output (`ten_bit`). Main Still Picture and the range extensions are not
/// offered: the plain VA HEVC buffers cannot carry RExt syntax.
#[cfg(test)]
pub fn va_profiles(ten_bit: bool) -> Vec<VAProfile> {
    if ten_bit {
        vec![VAProfileHEVCMain, VAProfileHEVCMain10]
    } else {
        vec![VAProfileHEVCMain]
    }
}

/// Bytes to put into the OUTPUT buffer for one slice: with a `00 00 01` start
/// code when `annex_b`; a start code already in front of `slice` is dropped
/// first.
pub fn append_slice(out: &mut Vec<u8>, slice: &[u8], annex_b: bool) {
    crate::codec::nal::append_nal(out, slice, annex_b)
}

/// Translates one picture with a fresh [`HevcState`] (no start codes).
#[cfg(test)]
pub fn build_controls(p: &HevcPicture, refs: &dyn RefResolver) -> Result<HevcControls, CodecError> {
    build_controls_with_state(p, refs, &mut HevcState::default())
}

fn valid(va: &VAPictureHEVC) -> bool {
    va.flags & VA_PICTURE_HEVC_INVALID == 0 && va.picture_id != VA_INVALID_SURFACE
}

/// The slice header context for a picture.
pub fn header_context(p: &HevcPicture) -> SliceHeaderContext {
    let pic = p.pic;
    let pf = PicFields::from_value(p.pic_fields);
    let sf = SliceParsingFields::from_value(p.slice_parsing_fields);
    let ctb_log2 = u32::from(pic.log2_min_luma_coding_block_size_minus3) + 3 + u32::from(pic.log2_diff_max_min_luma_coding_block_size);
    let ctb = 1u32 << ctb_log2.min(16);
    let w = u32::from(pic.pic_width_in_luma_samples).div_ceil(ctb);
    let h = u32::from(pic.pic_height_in_luma_samples).div_ceil(ctb);
    let num_pic_total_curr = pic
        .ReferenceFrames
        .iter()
        .filter(|r| {
            valid(r)
                && r.flags & (VA_PICTURE_HEVC_RPS_ST_CURR_BEFORE | VA_PICTURE_HEVC_RPS_ST_CURR_AFTER | VA_PICTURE_HEVC_RPS_LT_CURR) != 0
        })
        .count() as u32;
    SliceHeaderContext {
        dependent_slice_segments_enabled: sf.dependent_slice_segments_enabled,
        num_extra_slice_header_bits: pic.num_extra_slice_header_bits,
        output_flag_present: sf.output_flag_present,
        separate_colour_plane: pf.separate_colour_plane,
        chroma_format_idc: pf.chroma_format_idc,
        log2_max_pic_order_cnt_lsb: pic.log2_max_pic_order_cnt_lsb_minus4.saturating_add(4),
        num_short_term_ref_pic_sets: pic.num_short_term_ref_pic_sets,
        long_term_ref_pics_present: sf.long_term_ref_pics_present,
        num_long_term_ref_pics_sps: pic.num_long_term_ref_pic_sps,
        sps_temporal_mvp_enabled: sf.sps_temporal_mvp_enabled,
        sample_adaptive_offset_enabled: sf.sample_adaptive_offset_enabled,
        lists_modification_present: sf.lists_modification_present,
        cabac_init_present: sf.cabac_init_present,
        weighted_pred: pf.weighted_pred,
        weighted_bipred: pf.weighted_bipred,
        pps_slice_chroma_qp_offsets_present: sf.pps_slice_chroma_qp_offsets_present,
        deblocking_filter_override_enabled: sf.deblocking_filter_override_enabled,
        pps_deblocking_filter_disabled: sf.pps_disable_deblocking_filter,
        pps_beta_offset_div2: pic.pps_beta_offset_div2,
        pps_tc_offset_div2: pic.pps_tc_offset_div2,
        pps_loop_filter_across_slices_enabled: pf.pps_loop_filter_across_slices_enabled,
        tiles_enabled: pf.tiles_enabled,
        entropy_coding_sync_enabled: pf.entropy_coding_sync_enabled,
        slice_segment_header_extension_present: sf.slice_segment_header_extension_present,
        num_ref_idx_l0_default_active_minus1: pic.num_ref_idx_l0_default_active_minus1,
        num_ref_idx_l1_default_active_minus1: pic.num_ref_idx_l1_default_active_minus1,
        pic_size_in_ctbs_y: w * h,
        st_rps_bits: pic.st_rps_bits,
        num_pic_total_curr,
    }
}

/// Whether the tile column (or row) sizes equal the uniform spacing of 6.5.1.
fn is_uniform(sizes_minus1: &[u16], n_minus1: u8, total_ctbs: u32) -> bool {
    let n = u32::from(n_minus1) + 1;
    (0..n).all(|i| {
        let expect = ((i + 1) * total_ctbs) / n - (i * total_ctbs) / n;
        match sizes_minus1.get(i as usize) {
            Some(&s) => u32::from(s) + 1 == expect,
            None => true, // the last size VA cannot carry is implied
        }
    })
}

/// Fills a V4L2 tile size array from VA's (which holds one entry less): the
/// sizes VA carries are copied, a missing last one is derived from the total.
fn tile_sizes<const N: usize>(va: &[u16], n_minus1: u8, total_ctbs: u32) -> [u8; N] {
    let mut out = [0u8; N];
    let n = (usize::from(n_minus1) + 1).min(N);
    let mut used = 0u32;
    for (i, o) in out.iter_mut().enumerate().take(n) {
        let size_minus1 = match va.get(i) {
            Some(&s) => u32::from(s),
            None => total_ctbs.saturating_sub(used).saturating_sub(1),
        };
        used += size_minus1 + 1;
        *o = size_minus1.min(255) as u8;
    }
    out
}

/// Translates one picture's VA buffers into the V4L2 HEVC controls.
///
/// # What VA lacks, and what is sent instead
///
/// - `sps.video_parameter_set_id`, `sps.seq_parameter_set_id`: 0.
/// - `sps.sps_max_num_reorder_pics`, `sps_max_latency_increase_plus1`,
///   `sps_max_sub_layers_minus1`: 0 (output-order hints only, the driver
///   outputs in decode order anyway).
/// - `pps.pic_parameter_set_id`: `slice_pic_parameter_set_id` of the first slice (exact).
/// - `PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT`: set when any of its
///   dependent syntax is non-default (override enabled, PPS deblocking
///   disabled, beta/tc offsets non-zero); a PPS coding the flag with all
///   defaults gets 0 (same decoding).
/// - `PPS_FLAG_UNIFORM_SPACING`: set when the tile sizes equal uniform spacing.
/// - the last tile column/row size when there are 20 columns / 22 rows
///   (VA holds 19 / 21): derived from the picture size.
/// - `decode_params.poc_lt_curr` order: VA's `ReferenceFrames` order (the
///   slice header order is not recoverable); StCurrBefore/After are sorted by
///   POC, which is the order of 8.3.2.
/// - DPB `field_pic`: `V4L2_HEVC_SEI_PIC_STRUCT_TOP/BOTTOM_FIELD` from VA's
///   `FIELD_PIC`/`BOTTOM_FIELD` flags, else FRAME; GStreamer sends the SEI
///   pic_struct. `slice_params.pic_struct`: 0.
/// - `slice_params.slice_pic_order_cnt`: `CurrPic.pic_order_cnt`, as GStreamer.
/// - DPB entries whose surface the resolver does not know are left out (a
///   warning); list entries naming them get 0xff.
/// - SCALING_MATRIX: VA's IQ buffer as is (FFmpeg fills it in raster order
///   with the real DC values, which is the uAPI layout); sent when the SPS
///   enables scaling lists, an error if then no IQ buffer came.
///
/// Exact from the slice headers: `data_byte_offset` (RBSP bytes of the header
/// including the NAL header, plus 3 with start codes: GStreamer's
/// definition), `bit_size` (NAL bytes × 8, plus 24 with start codes),
/// both RPS bit sizes (RBSP bits, in SLICE_PARAMS and, for the first slice, in
/// DECODE_PARAMS), `num_entry_point_offsets` and the offsets,
/// `num_delta_pocs_of_ref_rps_idx`, the pred weight table (chroma offsets
/// derived per 7-56), `NO_OUTPUT_OF_PRIOR` / IRAP / IDR flags.
pub fn build_controls_with_state(p: &HevcPicture, refs: &dyn RefResolver, state: &mut HevcState) -> Result<HevcControls, CodecError> {
    let pic = p.pic;
    let pf = PicFields::from_value(p.pic_fields);
    let sf = SliceParsingFields::from_value(p.slice_parsing_fields);
    if p.slices.is_empty() || p.slices.iter().any(|s| s.data.len() <= start_code_len(s.data)) {
        return Err(CodecError::NoSlices);
    }
    if pf.chroma_format_idc > 3 || pic.bit_depth_luma_minus8 > 8 || pic.bit_depth_chroma_minus8 > 8 {
        return Err(CodecError::Invalid("chroma_format_idc / bit depth"));
    }
    if pic.log2_max_pic_order_cnt_lsb_minus4 > 12 {
        return Err(CodecError::Invalid("log2_max_pic_order_cnt_lsb_minus4"));
    }
    if u32::from(pic.log2_min_luma_coding_block_size_minus3) + u32::from(pic.log2_diff_max_min_luma_coding_block_size) > 3 {
        return Err(CodecError::Invalid("CTB size"));
    }
    if pic.pic_width_in_luma_samples == 0 || pic.pic_height_in_luma_samples == 0 {
        return Err(CodecError::Invalid("picture size"));
    }
    if pic.num_tile_columns_minus1 > 19 || pic.num_tile_rows_minus1 > 21 {
        return Err(CodecError::Invalid("tile count"));
    }
    // 7.4.3.3: num_ref_idx_lX_default_active_minus1 is 0..14; a slice without
    // num_ref_idx_active_override_flag takes it as its list size (16-entry arrays).
    if pic.num_ref_idx_l0_default_active_minus1 > 14 || pic.num_ref_idx_l1_default_active_minus1 > 14 {
        return Err(CodecError::Invalid("num_ref_idx_l0/l1_default_active_minus1 above 14"));
    }

    // --- slice headers -----------------------------------------------------------
    let ctx = header_context(p);
    // The last picture's headers: each slot's entry point list is parsed into again.
    let mut headers = std::mem::take(&mut state.headers);
    for (i, s) in p.slices.iter().enumerate() {
        let spare = headers.get_mut(i).map(|h| std::mem::take(&mut h.entry_point_offset_minus1)).unwrap_or_default();
        let prev = headers[..i.min(headers.len())].iter().rev().find(|h| !h.dependent_slice_segment_flag);
        let h = parse_slice_header_reusing(s.data, &ctx, prev, spare)?;
        let lf = LongSliceFlags::from_value(s.long_slice_flags);
        if lf.slice_type != h.slice_type {
            log::debug!("hevc: VA slice_type {} differs from the bitstream's {}", lf.slice_type, h.slice_type);
        }
        if i < headers.len() {
            headers[i] = h;
        } else {
            headers.push(h);
        }
    }
    headers.truncate(p.slices.len());
    let h0 = &headers[0];

    // --- SPS -------------------------------------------------------------------
    let flag = |b: bool, f: u32| if b { u64::from(f) } else { 0 };
    let mut sps = v4l2_ctrl_hevc_sps {
        pic_width_in_luma_samples: pic.pic_width_in_luma_samples,
        pic_height_in_luma_samples: pic.pic_height_in_luma_samples,
        bit_depth_luma_minus8: pic.bit_depth_luma_minus8,
        bit_depth_chroma_minus8: pic.bit_depth_chroma_minus8,
        log2_max_pic_order_cnt_lsb_minus4: pic.log2_max_pic_order_cnt_lsb_minus4,
        sps_max_dec_pic_buffering_minus1: pic.sps_max_dec_pic_buffering_minus1,
        log2_min_luma_coding_block_size_minus3: pic.log2_min_luma_coding_block_size_minus3,
        log2_diff_max_min_luma_coding_block_size: pic.log2_diff_max_min_luma_coding_block_size,
        log2_min_luma_transform_block_size_minus2: pic.log2_min_transform_block_size_minus2,
        log2_diff_max_min_luma_transform_block_size: pic.log2_diff_max_min_transform_block_size,
        max_transform_hierarchy_depth_inter: pic.max_transform_hierarchy_depth_inter,
        max_transform_hierarchy_depth_intra: pic.max_transform_hierarchy_depth_intra,
        num_short_term_ref_pic_sets: pic.num_short_term_ref_pic_sets,
        num_long_term_ref_pics_sps: pic.num_long_term_ref_pic_sps,
        chroma_format_idc: pf.chroma_format_idc,
        flags: flag(pf.separate_colour_plane, V4L2_HEVC_SPS_FLAG_SEPARATE_COLOUR_PLANE)
            | flag(pf.scaling_list_enabled, V4L2_HEVC_SPS_FLAG_SCALING_LIST_ENABLED)
            | flag(pf.amp_enabled, V4L2_HEVC_SPS_FLAG_AMP_ENABLED)
            | flag(sf.sample_adaptive_offset_enabled, V4L2_HEVC_SPS_FLAG_SAMPLE_ADAPTIVE_OFFSET)
            | flag(sf.long_term_ref_pics_present, V4L2_HEVC_SPS_FLAG_LONG_TERM_REF_PICS_PRESENT)
            | flag(sf.sps_temporal_mvp_enabled, V4L2_HEVC_SPS_FLAG_SPS_TEMPORAL_MVP_ENABLED)
            | flag(pf.strong_intra_smoothing_enabled, V4L2_HEVC_SPS_FLAG_STRONG_INTRA_SMOOTHING_ENABLED),
        ..Default::default()
    };
    if pf.pcm_enabled {
        sps.pcm_sample_bit_depth_luma_minus1 = pic.pcm_sample_bit_depth_luma_minus1;
        sps.pcm_sample_bit_depth_chroma_minus1 = pic.pcm_sample_bit_depth_chroma_minus1;
        sps.log2_min_pcm_luma_coding_block_size_minus3 = pic.log2_min_pcm_luma_coding_block_size_minus3;
        sps.log2_diff_max_min_pcm_luma_coding_block_size = pic.log2_diff_max_min_pcm_luma_coding_block_size;
        sps.flags |=
            u64::from(V4L2_HEVC_SPS_FLAG_PCM_ENABLED) | flag(pf.pcm_loop_filter_disabled, V4L2_HEVC_SPS_FLAG_PCM_LOOP_FILTER_DISABLED);
    }

    // --- PPS -------------------------------------------------------------------
    let ctb_log2 = u32::from(pic.log2_min_luma_coding_block_size_minus3) + 3 + u32::from(pic.log2_diff_max_min_luma_coding_block_size);
    let ctb = 1u32 << ctb_log2;
    let width_ctbs = u32::from(pic.pic_width_in_luma_samples).div_ceil(ctb);
    let height_ctbs = u32::from(pic.pic_height_in_luma_samples).div_ceil(ctb);
    let deblocking_control_present = sf.deblocking_filter_override_enabled
        || sf.pps_disable_deblocking_filter
        || pic.pps_beta_offset_div2 != 0
        || pic.pps_tc_offset_div2 != 0;
    let uniform = pf.tiles_enabled
        && is_uniform(&pic.column_width_minus1, pic.num_tile_columns_minus1, width_ctbs)
        && is_uniform(&pic.row_height_minus1, pic.num_tile_rows_minus1, height_ctbs);
    let mut pps = v4l2_ctrl_hevc_pps {
        pic_parameter_set_id: h0.slice_pic_parameter_set_id,
        num_extra_slice_header_bits: pic.num_extra_slice_header_bits,
        num_ref_idx_l0_default_active_minus1: pic.num_ref_idx_l0_default_active_minus1,
        num_ref_idx_l1_default_active_minus1: pic.num_ref_idx_l1_default_active_minus1,
        init_qp_minus26: pic.init_qp_minus26,
        diff_cu_qp_delta_depth: pic.diff_cu_qp_delta_depth,
        pps_cb_qp_offset: pic.pps_cb_qp_offset,
        pps_cr_qp_offset: pic.pps_cr_qp_offset,
        pps_beta_offset_div2: pic.pps_beta_offset_div2,
        pps_tc_offset_div2: pic.pps_tc_offset_div2,
        log2_parallel_merge_level_minus2: pic.log2_parallel_merge_level_minus2,
        flags: flag(sf.dependent_slice_segments_enabled, V4L2_HEVC_PPS_FLAG_DEPENDENT_SLICE_SEGMENT_ENABLED)
            | flag(sf.output_flag_present, V4L2_HEVC_PPS_FLAG_OUTPUT_FLAG_PRESENT)
            | flag(pf.sign_data_hiding_enabled, V4L2_HEVC_PPS_FLAG_SIGN_DATA_HIDING_ENABLED)
            | flag(sf.cabac_init_present, V4L2_HEVC_PPS_FLAG_CABAC_INIT_PRESENT)
            | flag(pf.constrained_intra_pred, V4L2_HEVC_PPS_FLAG_CONSTRAINED_INTRA_PRED)
            | flag(pf.transform_skip_enabled, V4L2_HEVC_PPS_FLAG_TRANSFORM_SKIP_ENABLED)
            | flag(pf.cu_qp_delta_enabled, V4L2_HEVC_PPS_FLAG_CU_QP_DELTA_ENABLED)
            | flag(sf.pps_slice_chroma_qp_offsets_present, V4L2_HEVC_PPS_FLAG_PPS_SLICE_CHROMA_QP_OFFSETS_PRESENT)
            | flag(pf.weighted_pred, V4L2_HEVC_PPS_FLAG_WEIGHTED_PRED)
            | flag(pf.weighted_bipred, V4L2_HEVC_PPS_FLAG_WEIGHTED_BIPRED)
            | flag(pf.transquant_bypass_enabled, V4L2_HEVC_PPS_FLAG_TRANSQUANT_BYPASS_ENABLED)
            | flag(pf.tiles_enabled, V4L2_HEVC_PPS_FLAG_TILES_ENABLED)
            | flag(pf.entropy_coding_sync_enabled, V4L2_HEVC_PPS_FLAG_ENTROPY_CODING_SYNC_ENABLED)
            | flag(pf.loop_filter_across_tiles_enabled, V4L2_HEVC_PPS_FLAG_LOOP_FILTER_ACROSS_TILES_ENABLED)
            | flag(pf.pps_loop_filter_across_slices_enabled, V4L2_HEVC_PPS_FLAG_PPS_LOOP_FILTER_ACROSS_SLICES_ENABLED)
            | flag(sf.deblocking_filter_override_enabled, V4L2_HEVC_PPS_FLAG_DEBLOCKING_FILTER_OVERRIDE_ENABLED)
            | flag(sf.pps_disable_deblocking_filter, V4L2_HEVC_PPS_FLAG_PPS_DISABLE_DEBLOCKING_FILTER)
            | flag(sf.lists_modification_present, V4L2_HEVC_PPS_FLAG_LISTS_MODIFICATION_PRESENT)
            | flag(sf.slice_segment_header_extension_present, V4L2_HEVC_PPS_FLAG_SLICE_SEGMENT_HEADER_EXTENSION_PRESENT)
            | flag(deblocking_control_present, V4L2_HEVC_PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT)
            | flag(uniform, V4L2_HEVC_PPS_FLAG_UNIFORM_SPACING),
        ..Default::default()
    };
    if pf.tiles_enabled {
        pps.num_tile_columns_minus1 = pic.num_tile_columns_minus1;
        pps.num_tile_rows_minus1 = pic.num_tile_rows_minus1;
        pps.column_width_minus1 = tile_sizes(&pic.column_width_minus1, pic.num_tile_columns_minus1, width_ctbs);
        pps.row_height_minus1 = tile_sizes(&pic.row_height_minus1, pic.num_tile_rows_minus1, height_ctbs);
    }

    // --- scaling matrix ------------------------------------------------------------
    let mut scaling_matrix = v4l2_ctrl_hevc_scaling_matrix::default();
    let has_scaling_matrix = pf.scaling_list_enabled;
    if has_scaling_matrix {
        let iq = p.iq.ok_or(CodecError::Invalid("scaling lists enabled but no IQ matrix buffer"))?;
        scaling_matrix.scaling_list_4x4 = iq.ScalingList4x4;
        scaling_matrix.scaling_list_8x8 = iq.ScalingList8x8;
        scaling_matrix.scaling_list_16x16 = iq.ScalingList16x16;
        scaling_matrix.scaling_list_32x32 = iq.ScalingList32x32;
        scaling_matrix.scaling_list_dc_coef_16x16 = iq.ScalingListDC16x16;
        scaling_matrix.scaling_list_dc_coef_32x32 = iq.ScalingListDC32x32;
    }

    // --- DPB ---------------------------------------------------------------------
    // (VA index, timestamp) of every usable reference.
    let mut dpb_refs = std::mem::take(&mut state.dpb_refs);
    dpb_refs.clear();
    for (i, va) in pic.ReferenceFrames.iter().enumerate() {
        if !valid(va) || dpb_refs.iter().any(|&(j, _)| pic.ReferenceFrames[j].picture_id == va.picture_id) {
            continue;
        }
        match refs.timestamp(va.picture_id) {
            Some(ts) => dpb_refs.push((i, ts)),
            None => log::warn!("hevc: reference surface {:#x} unknown, left out of the DPB", va.picture_id),
        }
    }
    dpb_refs.sort_by_key(|&(_, ts)| ts);
    let dpb_index_of_surface = |surface: VASurfaceID| -> Option<u8> {
        dpb_refs.iter().position(|&(j, _)| pic.ReferenceFrames[j].picture_id == surface).map(|i| i as u8)
    };

    let mut decode_params = v4l2_ctrl_hevc_decode_params {
        pic_order_cnt_val: pic.CurrPic.pic_order_cnt,
        short_term_ref_pic_set_size: h0.short_term_ref_pic_set_size.min(u32::from(u16::MAX)) as u16,
        long_term_ref_pic_set_size: h0.long_term_ref_pic_set_size.min(u32::from(u16::MAX)) as u16,
        num_active_dpb_entries: dpb_refs.len() as u8,
        num_delta_pocs_of_ref_rps_idx: h0.num_delta_pocs_of_ref_rps_idx,
        poc_st_curr_before: [0xff; 16],
        poc_st_curr_after: [0xff; 16],
        poc_lt_curr: [0xff; 16],
        flags: flag(h0.is_irap(), V4L2_HEVC_DECODE_PARAM_FLAG_IRAP_PIC)
            | flag(h0.is_idr(), V4L2_HEVC_DECODE_PARAM_FLAG_IDR_PIC)
            | flag(h0.no_output_of_prior_pics_flag, V4L2_HEVC_DECODE_PARAM_FLAG_NO_OUTPUT_OF_PRIOR),
        ..Default::default()
    };
    for (k, &(j, ts)) in dpb_refs.iter().enumerate() {
        let va = &pic.ReferenceFrames[j];
        let field_pic = if va.flags & VA_PICTURE_HEVC_FIELD_PIC == 0 {
            V4L2_HEVC_SEI_PIC_STRUCT_FRAME
        } else if va.flags & VA_PICTURE_HEVC_BOTTOM_FIELD != 0 {
            V4L2_HEVC_SEI_PIC_STRUCT_BOTTOM_FIELD
        } else {
            V4L2_HEVC_SEI_PIC_STRUCT_TOP_FIELD
        };
        decode_params.dpb[k] = v4l2_hevc_dpb_entry {
            timestamp: ts,
            flags: if va.flags & VA_PICTURE_HEVC_LONG_TERM_REFERENCE != 0 { V4L2_HEVC_DPB_ENTRY_LONG_TERM_REFERENCE as u8 } else { 0 },
            field_pic: field_pic as u8,
            reserved: 0,
            pic_order_cnt_val: va.pic_order_cnt,
        };
    }
    // The RPS lists as DPB indices: (dpb index, poc) per class.
    // (at most 15 references: kept inline, no allocation)
    let class = |f: u32| -> ([(u8, i32); 16], usize) {
        let mut out = [(0u8, 0i32); 16];
        let mut n = 0;
        for (k, &(j, _)) in dpb_refs.iter().enumerate().filter(|(_, &(j, _))| pic.ReferenceFrames[j].flags & f != 0).take(16) {
            out[n] = (k as u8, pic.ReferenceFrames[j].pic_order_cnt);
            n += 1;
        }
        (out, n)
    };
    let (mut before, n) = class(VA_PICTURE_HEVC_RPS_ST_CURR_BEFORE);
    let before = &mut before[..n];
    before.sort_by_key(|&(_, poc)| std::cmp::Reverse(poc));
    let (mut after, n) = class(VA_PICTURE_HEVC_RPS_ST_CURR_AFTER);
    let after = &mut after[..n];
    after.sort_by_key(|&(_, poc)| poc);
    let (mut lt, n) = class(VA_PICTURE_HEVC_RPS_LT_CURR);
    let lt = &mut lt[..n];
    lt.sort_by_key(|&(k, _)| dpb_refs.get(usize::from(k)).map_or(0, |&(j, _)| j));
    for (dst, src) in [
        (&mut decode_params.poc_st_curr_before, &*before),
        (&mut decode_params.poc_st_curr_after, &*after),
        (&mut decode_params.poc_lt_curr, &*lt),
    ] {
        for (d, &(k, _)) in dst.iter_mut().zip(src.iter()) {
            *d = k;
        }
    }
    decode_params.num_poc_st_curr_before = before.len() as u8;
    decode_params.num_poc_st_curr_after = after.len() as u8;
    decode_params.num_poc_lt_curr = lt.len() as u8;

    // --- slice params ------------------------------------------------------------
    let sc = if state.annex_b { 3u32 } else { 0 };
    let map_ref = |va_idx: u8| -> u8 {
        if va_idx == 0xff {
            return 0xff;
        }
        match pic.ReferenceFrames.get(usize::from(va_idx)) {
            Some(va) if valid(va) => dpb_index_of_surface(va.picture_id).unwrap_or(0xff),
            _ => 0xff,
        }
    };
    let mut slice_params = std::mem::take(&mut state.slice_params);
    slice_params.clear();
    let mut entry_point_offsets = std::mem::take(&mut state.entry_point_offsets);
    entry_point_offsets.resize_with(headers.len(), Vec::new);
    for ((h, s), offsets) in headers.iter().zip(p.slices).zip(entry_point_offsets.iter_mut()) {
        let nal_len = (s.data.len() - start_code_len(s.data)) as u64;
        let mut sp = v4l2_ctrl_hevc_slice_params {
            bit_size: u32::try_from((nal_len + u64::from(sc)) * 8).map_err(|_| CodecError::Invalid("slice size"))?,
            data_byte_offset: h.data_byte_offset() + sc,
            num_entry_point_offsets: h.num_entry_point_offsets,
            nal_unit_type: h.nal_unit_type,
            nuh_temporal_id_plus1: h.nuh_temporal_id_plus1,
            slice_type: h.slice_type,
            colour_plane_id: h.colour_plane_id,
            slice_pic_order_cnt: pic.CurrPic.pic_order_cnt,
            num_ref_idx_l0_active_minus1: h.num_ref_idx_l0_active_minus1,
            num_ref_idx_l1_active_minus1: h.num_ref_idx_l1_active_minus1,
            collocated_ref_idx: h.collocated_ref_idx,
            five_minus_max_num_merge_cand: h.five_minus_max_num_merge_cand,
            slice_qp_delta: h.slice_qp_delta,
            slice_cb_qp_offset: h.slice_cb_qp_offset,
            slice_cr_qp_offset: h.slice_cr_qp_offset,
            slice_beta_offset_div2: h.slice_beta_offset_div2,
            slice_tc_offset_div2: h.slice_tc_offset_div2,
            slice_segment_addr: h.slice_segment_address,
            ref_idx_l0: [0xff; 16],
            ref_idx_l1: [0xff; 16],
            short_term_ref_pic_set_size: h.short_term_ref_pic_set_size.min(u32::from(u16::MAX)) as u16,
            long_term_ref_pic_set_size: h.long_term_ref_pic_set_size.min(u32::from(u16::MAX)) as u16,
            flags: flag(h.slice_sao_luma_flag, V4L2_HEVC_SLICE_PARAMS_FLAG_SLICE_SAO_LUMA)
                | flag(h.slice_sao_chroma_flag, V4L2_HEVC_SLICE_PARAMS_FLAG_SLICE_SAO_CHROMA)
                | flag(h.slice_temporal_mvp_enabled_flag, V4L2_HEVC_SLICE_PARAMS_FLAG_SLICE_TEMPORAL_MVP_ENABLED)
                | flag(h.mvd_l1_zero_flag, V4L2_HEVC_SLICE_PARAMS_FLAG_MVD_L1_ZERO)
                | flag(h.cabac_init_flag, V4L2_HEVC_SLICE_PARAMS_FLAG_CABAC_INIT)
                | flag(h.collocated_from_l0_flag, V4L2_HEVC_SLICE_PARAMS_FLAG_COLLOCATED_FROM_L0)
                | flag(h.slice_deblocking_filter_disabled_flag, V4L2_HEVC_SLICE_PARAMS_FLAG_SLICE_DEBLOCKING_FILTER_DISABLED)
                | flag(h.slice_loop_filter_across_slices_enabled_flag, V4L2_HEVC_SLICE_PARAMS_FLAG_SLICE_LOOP_FILTER_ACROSS_SLICES_ENABLED)
                | flag(h.dependent_slice_segment_flag, V4L2_HEVC_SLICE_PARAMS_FLAG_DEPENDENT_SLICE_SEGMENT),
            ..Default::default()
        };
        if h.slice_type != SLICE_I {
            let n = usize::from(h.num_ref_idx_l0_active_minus1) + 1;
            for (d, &v) in sp.ref_idx_l0.iter_mut().zip(s.param.RefPicList[0].iter()).take(n) {
                *d = map_ref(v);
            }
        }
        if h.slice_type == SLICE_B {
            let n = usize::from(h.num_ref_idx_l1_active_minus1) + 1;
            for (d, &v) in sp.ref_idx_l1.iter_mut().zip(s.param.RefPicList[1].iter()).take(n) {
                *d = map_ref(v);
            }
        }
        if let Some(t) = &h.pred_weight_table {
            let w = &mut sp.pred_weight_table;
            w.luma_log2_weight_denom = t.luma_log2_weight_denom;
            w.delta_chroma_log2_weight_denom = t.delta_chroma_log2_weight_denom;
            w.delta_luma_weight_l0 = t.delta_luma_weight[0];
            w.luma_offset_l0 = t.luma_offset[0];
            w.delta_chroma_weight_l0 = t.delta_chroma_weight[0];
            w.chroma_offset_l0 = t.chroma_offset[0];
            w.delta_luma_weight_l1 = t.delta_luma_weight[1];
            w.luma_offset_l1 = t.luma_offset[1];
            w.delta_chroma_weight_l1 = t.delta_chroma_weight[1];
            w.chroma_offset_l1 = t.chroma_offset[1];
        }
        slice_params.push(sp);
        offsets.clear();
        offsets.extend(h.entry_point_offset_minus1.iter().map(|&o| HevcEntryPointOffset(o.saturating_add(1))));
    }
    state.headers = headers;
    state.dpb_refs = dpb_refs;

    Ok(HevcControls { sps, pps, decode_params, scaling_matrix, has_scaling_matrix, slice_params, entry_point_offsets })
}
