//! H.264 slice header re-parser (ITU-T H.264 §7.3.3).
//!
//! # The idea
//!
//! VA-API hands the driver the slice NAL unit untouched plus a
//! `VASliceParameterBufferH264` with most of the header already decoded. The
//! V4L2 stateless uAPI additionally wants a few things VA leaves out:
//! `nal_ref_idc`, `idr_pic_id`, the raw `pic_order_cnt_lsb` / `delta_pic_order_cnt*`
//! values, the size in bits of `dec_ref_pic_marking()` and of the
//! picture-order-count syntax, and the offset of `slice_data()`. All of them
//! are cheap to recover by walking the slice header again; the only state the
//! walk needs is a handful of SPS/PPS fields, which the driver takes from the VA
//! picture parameter buffer ([`SliceHeaderContext`]).
//!
//! # Bit sizes, and what "emulation prevention accounted for" means
//!
//! The sizes are counted the way GStreamer's `gsth264parser.c` counts them,
//! because `v4l2slh264dec` is the reference the traces are compared with, and
//! because that is what the kernel drivers were written against:
//!
//! - `pic_order_cnt_bit_size` and `dec_ref_pic_marking_bit_size`: RBSP bits,
//!   i.e. raw bits minus 8 for each emulation-prevention byte met inside the
//!   element (current GStreamer subtracts `8 * epb`; older releases counted raw
//!   bits for these two. No slice of the project's test streams has an EPB in
//!   its first 24 bytes, so every version agrees on them);
//! - `header_bit_size` = `8 * nal_header_bytes + rbsp bits of the header`
//!   (GStreamer: `8 * header_bytes + header_size - 8 * n_emulation_prevention_bytes`),
//!   measured up to, not including, `cabac_alignment_one_bit`. This is also
//!   what FFmpeg stores in `VASliceParameterBufferH264::slice_data_bit_offset`.
//!   The start code, when present, is not counted. The raw (escaped) size is
//!   kept in [`SliceHeader::header_bit_size_raw`] for drivers that want it.
//!
//! # Robustness
//!
//! Every value is range checked like GStreamer does (`READ_UE_MAX`,
//! `READ_SE_ALLOWED`), loops are bounded, and truncated input yields
//! [`CodecError::Truncated`]. Nothing panics.

use crate::codec::bitreader::BitReader;
use crate::codec::CodecError;

/// Slice types after `% 5` (Table 7-6).
pub const SLICE_P: u8 = 0;
/// B slice.
pub const SLICE_B: u8 = 1;
/// I slice.
pub const SLICE_I: u8 = 2;
/// SP slice.
pub const SLICE_SP: u8 = 3;
/// SI slice.
pub const SLICE_SI: u8 = 4;

/// NAL unit type of a non-IDR coded slice.
pub const NAL_SLICE: u8 = 1;
/// NAL unit type of an IDR coded slice.
pub const NAL_SLICE_IDR: u8 = 5;

/// The SPS/PPS-derived fields the slice header syntax depends on.
///
/// All of them are in `VAPictureParameterBufferH264` except the PPS defaults
/// for `num_ref_idx_lX_active_minus1`, for which the translator passes the
/// per-slice active counts from `VASliceParameterBufferH264` (they are equal
/// whenever `num_ref_idx_active_override_flag` is 0, the only case where the
/// default is used).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SliceHeaderContext {
    /// `separate_colour_plane_flag` (VA: `residual_colour_transform_flag`).
    pub separate_colour_plane: bool,
    /// ChromaArrayType: 0 when monochrome or separate colour planes, else chroma_format_idc.
    pub chroma_array_type: u8,
    /// log2_max_frame_num_minus4 + 4.
    pub log2_max_frame_num: u8,
    /// frame_mbs_only_flag.
    pub frame_mbs_only: bool,
    /// pic_order_cnt_type.
    pub pic_order_cnt_type: u8,
    /// log2_max_pic_order_cnt_lsb_minus4 + 4.
    pub log2_max_pic_order_cnt_lsb: u8,
    /// delta_pic_order_always_zero_flag.
    pub delta_pic_order_always_zero: bool,
    /// bottom_field_pic_order_in_frame_present_flag (VA: `pic_order_present_flag`).
    pub bottom_field_pic_order_in_frame_present: bool,
    /// redundant_pic_cnt_present_flag.
    pub redundant_pic_cnt_present: bool,
    /// weighted_pred_flag.
    pub weighted_pred: bool,
    /// weighted_bipred_idc.
    pub weighted_bipred_idc: u8,
    /// entropy_coding_mode_flag.
    pub entropy_coding_mode: bool,
    /// deblocking_filter_control_present_flag.
    pub deblocking_filter_control_present: bool,
    /// Used for num_ref_idx_l0_active_minus1 when the slice does not override it.
    pub num_ref_idx_l0_default_active_minus1: u8,
    /// Used for num_ref_idx_l1_active_minus1 when a B slice does not override it.
    pub num_ref_idx_l1_default_active_minus1: u8,
    /// num_slice_groups_minus1.
    pub num_slice_groups_minus1: u8,
    /// slice_group_map_type.
    pub slice_group_map_type: u8,
    /// slice_group_change_rate_minus1.
    pub slice_group_change_rate_minus1: u32,
    /// PicSizeInMapUnits = PicWidthInMbs * PicHeightInMapUnits.
    pub pic_size_in_map_units: u32,
}

/// pred_weight_table() (§7.3.3.2), with the inferred defaults filled in the way
/// GStreamer does (`1 << denom` weights, 0 offsets, for the active entries).
/// Index 0 is list 0, index 1 list 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PredWeightTable {
    /// luma_log2_weight_denom.
    pub luma_log2_weight_denom: u8,
    /// chroma_log2_weight_denom (0 when ChromaArrayType is 0).
    pub chroma_log2_weight_denom: u8,
    /// luma_weight_lX.
    pub luma_weight: [[i16; 32]; 2],
    /// luma_offset_lX.
    pub luma_offset: [[i16; 32]; 2],
    /// chroma_weight_lX (Cb, Cr).
    pub chroma_weight: [[[i16; 2]; 32]; 2],
    /// chroma_offset_lX (Cb, Cr).
    pub chroma_offset: [[[i16; 2]; 32]; 2],
}

/// A parsed slice header plus the sizes the V4L2 uAPI needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SliceHeader {
    /// Bytes of Annex-B start code skipped in front of the NAL unit (0, 3 or 4).
    pub start_code_len: usize,
    /// NAL unit header length in bytes (1 for the slice types handled here).
    pub nal_header_bytes: usize,
    /// nal_ref_idc.
    pub nal_ref_idc: u8,
    /// nal_unit_type (1 or 5).
    pub nal_unit_type: u8,
    /// first_mb_in_slice.
    pub first_mb_in_slice: u32,
    /// slice_type as coded (0..=9).
    pub slice_type_raw: u8,
    /// pic_parameter_set_id.
    pub pic_parameter_set_id: u8,
    /// colour_plane_id.
    pub colour_plane_id: u8,
    /// frame_num.
    pub frame_num: u16,
    /// field_pic_flag.
    pub field_pic_flag: bool,
    /// bottom_field_flag.
    pub bottom_field_flag: bool,
    /// idr_pic_id (0 for non-IDR).
    pub idr_pic_id: u16,
    /// pic_order_cnt_lsb.
    pub pic_order_cnt_lsb: u16,
    /// delta_pic_order_cnt_bottom.
    pub delta_pic_order_cnt_bottom: i32,
    /// delta_pic_order_cnt[0..2].
    pub delta_pic_order_cnt: [i32; 2],
    /// redundant_pic_cnt.
    pub redundant_pic_cnt: u8,
    /// direct_spatial_mv_pred_flag.
    pub direct_spatial_mv_pred_flag: bool,
    /// num_ref_idx_active_override_flag.
    pub num_ref_idx_active_override_flag: bool,
    /// num_ref_idx_l0_active_minus1 (GStreamer semantics: 0 for I/SI slices).
    pub num_ref_idx_l0_active_minus1: u8,
    /// num_ref_idx_l1_active_minus1 (GStreamer semantics: 0 unless B slice).
    pub num_ref_idx_l1_active_minus1: u8,
    /// ref_pic_list_modification_flag_l0.
    pub ref_pic_list_modification_flag_l0: bool,
    /// ref_pic_list_modification_flag_l1.
    pub ref_pic_list_modification_flag_l1: bool,
    /// pred_weight_table(), when present in this slice.
    pub pred_weight_table: Option<PredWeightTable>,
    /// no_output_of_prior_pics_flag (IDR).
    pub no_output_of_prior_pics_flag: bool,
    /// long_term_reference_flag (IDR).
    pub long_term_reference_flag: bool,
    /// adaptive_ref_pic_marking_mode_flag (non-IDR).
    pub adaptive_ref_pic_marking_mode_flag: bool,
    /// Number of memory_management_control_operation entries (terminating 0 excluded).
    pub num_mmco: u32,
    /// cabac_init_idc.
    pub cabac_init_idc: u8,
    /// slice_qp_delta.
    pub slice_qp_delta: i8,
    /// sp_for_switch_flag.
    pub sp_for_switch_flag: bool,
    /// slice_qs_delta.
    pub slice_qs_delta: i8,
    /// disable_deblocking_filter_idc.
    pub disable_deblocking_filter_idc: u8,
    /// slice_alpha_c0_offset_div2.
    pub slice_alpha_c0_offset_div2: i8,
    /// slice_beta_offset_div2.
    pub slice_beta_offset_div2: i8,
    /// slice_group_change_cycle.
    pub slice_group_change_cycle: u32,
    /// Size in RBSP bits of pic_order_cnt_lsb .. delta_pic_order_cnt[1].
    pub pic_order_cnt_bit_size: u32,
    /// Size in RBSP bits of dec_ref_pic_marking() (0 when nal_ref_idc is 0).
    pub dec_ref_pic_marking_bit_size: u32,
    /// Offset of slice_data() from the NAL header start, in RBSP bits (GStreamer's
    /// `header_bit_size`, FFmpeg's `slice_data_bit_offset`).
    pub header_bit_size: u32,
    /// The same offset in raw (escaped) bits, i.e. within the bytes the hardware reads.
    pub header_bit_size_raw: u32,
    /// Emulation-prevention bytes met inside the header.
    pub header_epb_count: u32,
}

impl SliceHeader {
    /// slice_type % 5 (P=0, B=1, I=2, SP=3, SI=4).
    pub fn slice_type(&self) -> u8 {
        self.slice_type_raw % 5
    }
    /// True for IDR slices.
    pub fn is_idr(&self) -> bool {
        self.nal_unit_type == NAL_SLICE_IDR
    }
    /// True for B slices.
    pub fn is_b(&self) -> bool {
        self.slice_type() == SLICE_B
    }
    /// True for P and SP slices.
    pub fn is_p_or_sp(&self) -> bool {
        matches!(self.slice_type(), SLICE_P | SLICE_SP)
    }
    /// True for I and SI slices.
    pub fn is_intra(&self) -> bool {
        matches!(self.slice_type(), SLICE_I | SLICE_SI)
    }
}

pub use crate::codec::nal::start_code_len;

/// Ceil(Log2(x)) for x >= 1.
fn ceil_log2(x: u32) -> u32 {
    if x <= 1 {
        0
    } else {
        32 - (x - 1).leading_zeros()
    }
}

fn bits_between(r: &BitReader, start: u64) -> u32 {
    u32::try_from(r.rbsp_bits_read().saturating_sub(start)).unwrap_or(u32::MAX)
}

/// Parses the slice header of the H.264 slice NAL unit in `data` (NAL header
/// first, optionally preceded by an Annex-B start code).
pub fn parse_slice_header(data: &[u8], ctx: &SliceHeaderContext) -> Result<SliceHeader, CodecError> {
    let sc = start_code_len(data);
    let nal = data.get(sc..).ok_or(CodecError::Truncated)?;
    let &first = nal.first().ok_or(CodecError::Truncated)?;
    if first & 0x80 != 0 {
        return Err(CodecError::Invalid("forbidden_zero_bit set"));
    }
    let mut h = SliceHeader {
        start_code_len: sc,
        nal_header_bytes: 1,
        nal_ref_idc: (first >> 5) & 0x3,
        nal_unit_type: first & 0x1f,
        ..Default::default()
    };
    match h.nal_unit_type {
        NAL_SLICE | NAL_SLICE_IDR => {}
        2..=4 => return Err(CodecError::Unsupported("data partitioning")),
        20 | 21 => return Err(CodecError::Unsupported("MVC/SVC slice extension")),
        _ => return Err(CodecError::Invalid("not a slice NAL unit")),
    }
    if h.nal_unit_type == NAL_SLICE_IDR && h.nal_ref_idc == 0 {
        return Err(CodecError::Invalid("IDR slice with nal_ref_idc 0"));
    }
    if !(4..=16).contains(&ctx.log2_max_frame_num) || !(4..=16).contains(&ctx.log2_max_pic_order_cnt_lsb) {
        return Err(CodecError::Invalid("log2_max_frame_num / log2_max_pic_order_cnt_lsb out of range"));
    }
    if ctx.pic_order_cnt_type > 2 {
        return Err(CodecError::Invalid("pic_order_cnt_type"));
    }

    let mut r = BitReader::new(&nal[1..]);

    h.first_mb_in_slice = r.read_ue()?;
    h.slice_type_raw = r.read_ue_max(9, "slice_type")? as u8;
    h.pic_parameter_set_id = r.read_ue_max(255, "pic_parameter_set_id")? as u8;

    // Defaults for elements that might be absent (GStreamer semantics).
    if h.is_intra() {
        h.num_ref_idx_l0_active_minus1 = 0;
        h.num_ref_idx_l1_active_minus1 = 0;
    } else {
        h.num_ref_idx_l0_active_minus1 = ctx.num_ref_idx_l0_default_active_minus1;
        h.num_ref_idx_l1_active_minus1 = if h.is_b() { ctx.num_ref_idx_l1_default_active_minus1 } else { 0 };
    }

    if ctx.separate_colour_plane {
        h.colour_plane_id = r.read_bits(2)? as u8;
    }
    h.frame_num = r.read_bits(u32::from(ctx.log2_max_frame_num))? as u16;
    if !ctx.frame_mbs_only {
        h.field_pic_flag = r.read_flag()?;
        if h.field_pic_flag {
            h.bottom_field_flag = r.read_flag()?;
        }
    }
    let max_frame_num = 1u32 << ctx.log2_max_frame_num;
    let max_pic_num = if h.field_pic_flag { 2 * max_frame_num } else { max_frame_num };

    if h.is_idr() {
        h.idr_pic_id = r.read_ue_max(u32::from(u16::MAX), "idr_pic_id")? as u16;
    }

    let poc_start = r.rbsp_bits_read();
    if ctx.pic_order_cnt_type == 0 {
        h.pic_order_cnt_lsb = r.read_bits(u32::from(ctx.log2_max_pic_order_cnt_lsb))? as u16;
        if ctx.bottom_field_pic_order_in_frame_present && !h.field_pic_flag {
            h.delta_pic_order_cnt_bottom = r.read_se()?;
        }
    }
    if ctx.pic_order_cnt_type == 1 && !ctx.delta_pic_order_always_zero {
        h.delta_pic_order_cnt[0] = r.read_se()?;
        if ctx.bottom_field_pic_order_in_frame_present && !h.field_pic_flag {
            h.delta_pic_order_cnt[1] = r.read_se()?;
        }
    }
    h.pic_order_cnt_bit_size = bits_between(&r, poc_start);

    if ctx.redundant_pic_cnt_present {
        h.redundant_pic_cnt = r.read_ue_max(127, "redundant_pic_cnt")? as u8;
    }
    if h.is_b() {
        h.direct_spatial_mv_pred_flag = r.read_flag()?;
    }
    if h.is_p_or_sp() || h.is_b() {
        h.num_ref_idx_active_override_flag = r.read_flag()?;
        if h.num_ref_idx_active_override_flag {
            h.num_ref_idx_l0_active_minus1 = r.read_ue_max(31, "num_ref_idx_l0_active_minus1")? as u8;
            if h.is_b() {
                h.num_ref_idx_l1_active_minus1 = r.read_ue_max(31, "num_ref_idx_l1_active_minus1")? as u8;
            }
        }
    }
    if h.num_ref_idx_l0_active_minus1 > 31 || h.num_ref_idx_l1_active_minus1 > 31 {
        return Err(CodecError::Invalid("num_ref_idx_active_minus1 above 31"));
    }

    // ref_pic_list_modification()
    if !h.is_intra() {
        h.ref_pic_list_modification_flag_l0 = parse_ref_pic_list_modification(&mut r, max_pic_num)?;
    }
    if h.is_b() {
        h.ref_pic_list_modification_flag_l1 = parse_ref_pic_list_modification(&mut r, max_pic_num)?;
    }

    if (ctx.weighted_pred && h.is_p_or_sp()) || (ctx.weighted_bipred_idc == 1 && h.is_b()) {
        h.pred_weight_table = Some(parse_pred_weight_table(&mut r, &h, ctx.chroma_array_type)?);
    }

    if h.nal_ref_idc != 0 {
        let start = r.rbsp_bits_read();
        if h.is_idr() {
            h.no_output_of_prior_pics_flag = r.read_flag()?;
            h.long_term_reference_flag = r.read_flag()?;
        } else {
            h.adaptive_ref_pic_marking_mode_flag = r.read_flag()?;
            if h.adaptive_ref_pic_marking_mode_flag {
                loop {
                    let op = r.read_ue_max(6, "memory_management_control_operation")?;
                    if op == 0 {
                        break;
                    }
                    h.num_mmco += 1;
                    if h.num_mmco > 66 {
                        return Err(CodecError::Invalid("too many memory_management_control_operation"));
                    }
                    if op == 1 || op == 3 {
                        r.read_ue()?; // difference_of_pic_nums_minus1
                    }
                    if op == 2 {
                        r.read_ue()?; // long_term_pic_num
                    }
                    if op == 3 || op == 6 {
                        r.read_ue()?; // long_term_frame_idx
                    }
                    if op == 4 {
                        r.read_ue()?; // max_long_term_frame_idx_plus1
                    }
                }
            }
        }
        h.dec_ref_pic_marking_bit_size = bits_between(&r, start);
    }

    if ctx.entropy_coding_mode && !h.is_intra() {
        h.cabac_init_idc = r.read_ue_max(2, "cabac_init_idc")? as u8;
    }
    h.slice_qp_delta = r.read_se_range(-87, 77, "slice_qp_delta")? as i8;
    if matches!(h.slice_type(), SLICE_SP | SLICE_SI) {
        if h.slice_type() == SLICE_SP {
            h.sp_for_switch_flag = r.read_flag()?;
        }
        h.slice_qs_delta = r.read_se_range(-51, 51, "slice_qs_delta")? as i8;
    }
    if ctx.deblocking_filter_control_present {
        h.disable_deblocking_filter_idc = r.read_ue_max(2, "disable_deblocking_filter_idc")? as u8;
        if h.disable_deblocking_filter_idc != 1 {
            h.slice_alpha_c0_offset_div2 = r.read_se_range(-6, 6, "slice_alpha_c0_offset_div2")? as i8;
            h.slice_beta_offset_div2 = r.read_se_range(-6, 6, "slice_beta_offset_div2")? as i8;
        }
    }
    if ctx.num_slice_groups_minus1 > 0 && (3..=5).contains(&ctx.slice_group_map_type) {
        let rate = ctx.slice_group_change_rate_minus1.saturating_add(1);
        let n = ceil_log2(ctx.pic_size_in_map_units / rate + 1);
        h.slice_group_change_cycle = r.read_bits(n)?;
    }

    h.header_epb_count = r.epb_count() as u32;
    let rbsp = u32::try_from(r.rbsp_bits_read()).map_err(|_| CodecError::Invalid("slice header too long"))?;
    let raw = u32::try_from(r.raw_bits_read()).map_err(|_| CodecError::Invalid("slice header too long"))?;
    h.header_bit_size = 8 * h.nal_header_bytes as u32 + rbsp;
    h.header_bit_size_raw = 8 * h.nal_header_bytes as u32 + raw;
    Ok(h)
}

/// Parses one ref_pic_list_modification_flag_lX and its entries; returns the flag.
fn parse_ref_pic_list_modification(r: &mut BitReader, max_pic_num: u32) -> Result<bool, CodecError> {
    let flag = r.read_flag()?;
    if !flag {
        return Ok(false);
    }
    // At most 32 modifications plus the terminating 3 (GStreamer's bound).
    for _ in 0..33 {
        let idc = r.read_ue_max(3, "modification_of_pic_nums_idc")?;
        match idc {
            0 | 1 => {
                r.read_ue_max(max_pic_num - 1, "abs_diff_pic_num_minus1")?;
            }
            2 => {
                r.read_ue()?; // long_term_pic_num
            }
            _ => return Ok(true),
        }
    }
    Err(CodecError::Invalid("ref_pic_list_modification too long"))
}

#[allow(clippy::needless_range_loop)] // indices run over two arrays and a count
fn parse_pred_weight_table(r: &mut BitReader, h: &SliceHeader, chroma_array_type: u8) -> Result<PredWeightTable, CodecError> {
    let mut p = PredWeightTable { luma_log2_weight_denom: r.read_ue_max(7, "luma_log2_weight_denom")? as u8, ..Default::default() };
    let lists = if h.is_b() { 2 } else { 1 };
    let counts = [usize::from(h.num_ref_idx_l0_active_minus1) + 1, usize::from(h.num_ref_idx_l1_active_minus1) + 1];
    let default_luma = 1i16 << p.luma_log2_weight_denom;
    for l in 0..lists {
        for i in 0..counts[l] {
            p.luma_weight[l][i] = default_luma;
        }
    }
    if chroma_array_type != 0 {
        p.chroma_log2_weight_denom = r.read_ue_max(7, "chroma_log2_weight_denom")? as u8;
        let default_chroma = 1i16 << p.chroma_log2_weight_denom;
        for l in 0..lists {
            for i in 0..counts[l] {
                p.chroma_weight[l][i] = [default_chroma; 2];
            }
        }
    }
    for l in 0..lists {
        for i in 0..counts[l] {
            if r.read_flag()? {
                p.luma_weight[l][i] = r.read_se_range(-128, 127, "luma_weight")? as i16;
                p.luma_offset[l][i] = r.read_se_range(-128, 127, "luma_offset")? as i16;
            }
            if chroma_array_type != 0 && r.read_flag()? {
                for j in 0..2 {
                    p.chroma_weight[l][i][j] = r.read_se_range(-128, 127, "chroma_weight")? as i16;
                    p.chroma_offset[l][i][j] = r.read_se_range(-128, 127, "chroma_offset")? as i16;
                }
            }
        }
    }
    Ok(p)
}
