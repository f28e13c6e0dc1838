//! HEVC slice segment header re-parser (ITU-T H.265 7.3.6.1).
//!
//! # The idea
//!
//! VA hands over the slice NAL unit untouched, with most of its header already
//! decoded into `VASliceParameterBufferHEVC`, but not the pieces the V4L2
//! uAPI additionally wants: the size of the header (for `data_byte_offset`),
//! the bit sizes of the short-term and long-term RPS syntax, the entry points,
//! `slice_pic_order_cnt_lsb`, `no_output_of_prior_pics_flag`,
//! `nuh_temporal_id_plus1`, `NumDeltaPocs[RefRpsIdx]`... So the header is
//! parsed again, with the SPS/PPS values it depends on taken from the VA
//! picture parameters ([`SliceHeaderContext`]).
//!
//! Two things the header syntax needs are not in VA's picture parameters:
//!
//! - the SPS short-term RPS sets, needed only when a slice header codes its own
//!   RPS *predicted* from an SPS set (`inter_ref_pic_set_prediction_flag`): the
//!   loop length `NumDeltaPocs[RefRpsIdx] + 1` is then recovered from VA's
//!   `st_rps_bits` (the bit size of that `st_ref_pic_set()`), by reading
//!   `used_by_curr_pic_flag`/`use_delta_flag` pairs until exactly that many
//!   bits are consumed;
//! - `NumPicTotalCurr` (for `ref_pic_lists_modification()`): counted from the
//!   VA reference frames flagged `RPS_ST_CURR_BEFORE/AFTER` or `RPS_LT_CURR`.
//!
//! Range extension and SCC syntax (`cu_chroma_qp_offset_enabled_flag`,
//! `slice_act_*_qp_offset`, `use_integer_mv_flag`) is never present: the plain
//! `VAPictureParameterBufferHEVC` describes Main / Main10 only.
//!
//! Every size is counted like GStreamer's `gsth265parser` does: RPS sizes in
//! RBSP bits (emulation-prevention bytes not counted), header sizes both ways.

use crate::codec::bitreader::BitReader;
use crate::codec::CodecError;

/// Slice types (slice_type syntax element values).
pub const SLICE_B: u8 = 0;
/// P slice.
pub const SLICE_P: u8 = 1;
/// I slice.
pub const SLICE_I: u8 = 2;

/// The SPS/PPS values a slice segment header depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SliceHeaderContext {
    /// dependent_slice_segments_enabled_flag.
    pub dependent_slice_segments_enabled: bool,
    /// num_extra_slice_header_bits.
    pub num_extra_slice_header_bits: u8,
    /// output_flag_present_flag.
    pub output_flag_present: bool,
    /// separate_colour_plane_flag.
    pub separate_colour_plane: bool,
    /// chroma_format_idc (ChromaArrayType is 0 with separate colour planes).
    pub chroma_format_idc: u8,
    /// log2_max_pic_order_cnt_lsb_minus4 + 4.
    pub log2_max_pic_order_cnt_lsb: u8,
    /// num_short_term_ref_pic_sets.
    pub num_short_term_ref_pic_sets: u8,
    /// long_term_ref_pics_present_flag.
    pub long_term_ref_pics_present: bool,
    /// num_long_term_ref_pics_sps.
    pub num_long_term_ref_pics_sps: u8,
    /// sps_temporal_mvp_enabled_flag.
    pub sps_temporal_mvp_enabled: bool,
    /// sample_adaptive_offset_enabled_flag.
    pub sample_adaptive_offset_enabled: bool,
    /// lists_modification_present_flag.
    pub lists_modification_present: bool,
    /// cabac_init_present_flag.
    pub cabac_init_present: bool,
    /// weighted_pred_flag.
    pub weighted_pred: bool,
    /// weighted_bipred_flag.
    pub weighted_bipred: bool,
    /// pps_slice_chroma_qp_offsets_present_flag.
    pub pps_slice_chroma_qp_offsets_present: bool,
    /// deblocking_filter_override_enabled_flag.
    pub deblocking_filter_override_enabled: bool,
    /// pps_deblocking_filter_disabled_flag.
    pub pps_deblocking_filter_disabled: bool,
    /// pps_beta_offset_div2.
    pub pps_beta_offset_div2: i8,
    /// pps_tc_offset_div2.
    pub pps_tc_offset_div2: i8,
    /// pps_loop_filter_across_slices_enabled_flag.
    pub pps_loop_filter_across_slices_enabled: bool,
    /// tiles_enabled_flag.
    pub tiles_enabled: bool,
    /// entropy_coding_sync_enabled_flag.
    pub entropy_coding_sync_enabled: bool,
    /// slice_segment_header_extension_present_flag.
    pub slice_segment_header_extension_present: bool,
    /// num_ref_idx_l0_default_active_minus1 (0..14; more is an error).
    pub num_ref_idx_l0_default_active_minus1: u8,
    /// num_ref_idx_l1_default_active_minus1 (0..14; more is an error).
    pub num_ref_idx_l1_default_active_minus1: u8,
    /// PicSizeInCtbsY (gives the length of slice_segment_address).
    pub pic_size_in_ctbs_y: u32,
    /// VA's `st_rps_bits`: size of the slice header's `st_ref_pic_set()`
    /// (0 when unknown). Only needed for inter-predicted slice RPSs.
    pub st_rps_bits: u32,
    /// NumPicTotalCurr (only needed with lists_modification_present_flag).
    pub num_pic_total_curr: u32,
}

impl SliceHeaderContext {
    fn chroma_array_type(&self) -> u8 {
        if self.separate_colour_plane {
            0
        } else {
            self.chroma_format_idc
        }
    }
}

/// pred_weight_table() of one slice, in V4L2 terms (`ChromaOffsetLX` derived
/// per equation 7-56, as GStreamer's v4l2slh265dec sends it). Entries whose
/// weight flag is 0 stay 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PredWeightTable {
    /// luma_log2_weight_denom.
    pub luma_log2_weight_denom: u8,
    /// delta_chroma_log2_weight_denom (0 when ChromaArrayType is 0).
    pub delta_chroma_log2_weight_denom: i8,
    /// `delta_luma_weight_lX[i]` per list.
    pub delta_luma_weight: [[i8; 16]; 2],
    /// `luma_offset_lX[i]` per list.
    pub luma_offset: [[i8; 16]; 2],
    /// `delta_chroma_weight_lX[i][j]` per list.
    pub delta_chroma_weight: [[[i8; 2]; 16]; 2],
    /// `ChromaOffsetLX[i][j]` per list (derived, clamped to -128..=127).
    pub chroma_offset: [[[i8; 2]; 16]; 2],
    /// `luma_weight_lX_flag[i]` per list.
    pub luma_weight_flag: [[bool; 16]; 2],
    /// `chroma_weight_lX_flag[i]` per list.
    pub chroma_weight_flag: [[bool; 16]; 2],
}

/// A parsed slice segment header with the sizes the uAPI asks for.
///
/// Elements absent from the bitstream hold their inferred value (H.265 7.4.7.1),
/// which is also what GStreamer's parser leaves in them, except the reference
/// counts of a P slice without override, where `num_ref_idx_l1_active_minus1`
/// is the PPS default (as in GStreamer).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SliceHeader {
    /// nal_unit_type.
    pub nal_unit_type: u8,
    /// nuh_layer_id.
    pub nuh_layer_id: u8,
    /// nuh_temporal_id_plus1.
    pub nuh_temporal_id_plus1: u8,
    /// first_slice_segment_in_pic_flag.
    pub first_slice_segment_in_pic_flag: bool,
    /// no_output_of_prior_pics_flag.
    pub no_output_of_prior_pics_flag: bool,
    /// slice_pic_parameter_set_id.
    pub slice_pic_parameter_set_id: u8,
    /// dependent_slice_segment_flag.
    pub dependent_slice_segment_flag: bool,
    /// slice_segment_address.
    pub slice_segment_address: u32,
    /// slice_type.
    pub slice_type: u8,
    /// pic_output_flag (1 when absent).
    pub pic_output_flag: bool,
    /// colour_plane_id.
    pub colour_plane_id: u8,
    /// slice_pic_order_cnt_lsb (0 for IDR pictures).
    pub slice_pic_order_cnt_lsb: u16,
    /// short_term_ref_pic_set_sps_flag.
    pub short_term_ref_pic_set_sps_flag: bool,
    /// short_term_ref_pic_set_idx.
    pub short_term_ref_pic_set_idx: u8,
    /// inter_ref_pic_set_prediction_flag of the slice header's st_ref_pic_set().
    pub inter_ref_pic_set_prediction_flag: bool,
    /// `NumDeltaPocs[RefRpsIdx]` of an inter-predicted slice header RPS, else 0.
    pub num_delta_pocs_of_ref_rps_idx: u8,
    /// num_negative_pics of an explicit slice header RPS.
    pub num_negative_pics: u8,
    /// num_positive_pics of an explicit slice header RPS.
    pub num_positive_pics: u8,
    /// Size of the slice header's st_ref_pic_set() in RBSP bits (0 when the SPS set is used).
    pub short_term_ref_pic_set_size: u32,
    /// num_long_term_sps.
    pub num_long_term_sps: u8,
    /// num_long_term_pics.
    pub num_long_term_pics: u8,
    /// Size of the long-term part (num_long_term_sps .. last delta_poc_msb_cycle_lt) in RBSP bits.
    pub long_term_ref_pic_set_size: u32,
    /// slice_temporal_mvp_enabled_flag.
    pub slice_temporal_mvp_enabled_flag: bool,
    /// slice_sao_luma_flag.
    pub slice_sao_luma_flag: bool,
    /// slice_sao_chroma_flag.
    pub slice_sao_chroma_flag: bool,
    /// num_ref_idx_active_override_flag.
    pub num_ref_idx_active_override_flag: bool,
    /// num_ref_idx_l0_active_minus1.
    pub num_ref_idx_l0_active_minus1: u8,
    /// num_ref_idx_l1_active_minus1.
    pub num_ref_idx_l1_active_minus1: u8,
    /// mvd_l1_zero_flag.
    pub mvd_l1_zero_flag: bool,
    /// cabac_init_flag.
    pub cabac_init_flag: bool,
    /// collocated_from_l0_flag (1 when absent).
    pub collocated_from_l0_flag: bool,
    /// collocated_ref_idx (0 when absent).
    pub collocated_ref_idx: u8,
    /// pred_weight_table(), when present.
    pub pred_weight_table: Option<PredWeightTable>,
    /// five_minus_max_num_merge_cand.
    pub five_minus_max_num_merge_cand: u8,
    /// slice_qp_delta.
    pub slice_qp_delta: i8,
    /// slice_cb_qp_offset.
    pub slice_cb_qp_offset: i8,
    /// slice_cr_qp_offset.
    pub slice_cr_qp_offset: i8,
    /// deblocking_filter_override_flag.
    pub deblocking_filter_override_flag: bool,
    /// slice_deblocking_filter_disabled_flag (PPS value when absent).
    pub slice_deblocking_filter_disabled_flag: bool,
    /// slice_beta_offset_div2 (PPS value when absent).
    pub slice_beta_offset_div2: i8,
    /// slice_tc_offset_div2 (PPS value when absent).
    pub slice_tc_offset_div2: i8,
    /// slice_loop_filter_across_slices_enabled_flag (PPS value when absent).
    pub slice_loop_filter_across_slices_enabled_flag: bool,
    /// num_entry_point_offsets.
    pub num_entry_point_offsets: u32,
    /// offset_len_minus1.
    pub offset_len_minus1: u8,
    /// `entry_point_offset_minus1[i]`.
    pub entry_point_offset_minus1: Vec<u32>,
    /// slice_segment_header_extension_length.
    pub slice_segment_header_extension_length: u16,
    /// RBSP bits from the start of the NAL unit header to slice_data()
    /// (byte_alignment() included, so a multiple of 8).
    pub header_bits: u32,
    /// Emulation-prevention bytes inside the header (counted as GStreamer does).
    pub header_epb_count: u32,
    /// Raw (escaped) bytes from the NAL unit header to slice_data().
    pub header_raw_bytes: u32,
}

impl SliceHeader {
    /// IRAP picture (nal_unit_type 16..=23).
    pub fn is_irap(&self) -> bool {
        (16..=23).contains(&self.nal_unit_type)
    }
    /// IDR picture (IDR_W_RADL or IDR_N_LP).
    pub fn is_idr(&self) -> bool {
        self.nal_unit_type == 19 || self.nal_unit_type == 20
    }
    /// P or B slice.
    pub fn is_inter(&self) -> bool {
        self.slice_type == SLICE_P || self.slice_type == SLICE_B
    }
    /// `data_byte_offset` as GStreamer's v4l2slh265dec computes it (without a
    /// start code): NAL header bytes + header bytes − emulation-prevention
    /// bytes, i.e. the RBSP byte offset of slice_data().
    pub fn data_byte_offset(&self) -> u32 {
        self.header_bits / 8
    }
}

pub use crate::codec::nal::start_code_len;

/// Ceil(Log2(x)), 0 for x <= 1.
pub fn ceil_log2(x: u32) -> u32 {
    if x <= 1 {
        0
    } else {
        32 - (x - 1).leading_zeros()
    }
}

fn bits_since(r: &BitReader, start: u64) -> u32 {
    u32::try_from(r.rbsp_bits_read() - start).unwrap_or(u32::MAX)
}

/// Parses the slice segment header of one slice NAL unit (`nal` may start with
/// an Annex-B start code). `prev` is the header of the previous independent
/// slice segment of the same picture: a dependent slice segment takes its
/// values from it (7.4.7.1); without it a dependent segment is an error.
/// (The decode path uses [`parse_slice_header_reusing`].)
#[cfg(test)]
pub fn parse_slice_header(nal: &[u8], ctx: &SliceHeaderContext, prev: Option<&SliceHeader>) -> Result<SliceHeader, CodecError> {
    parse_slice_header_reusing(nal, ctx, prev, Vec::new())
}

/// [`parse_slice_header`], reading the entry point offsets into `spare`
/// (cleared first): a list kept from picture to picture allocates nothing.
pub fn parse_slice_header_reusing(
    nal: &[u8],
    ctx: &SliceHeaderContext,
    prev: Option<&SliceHeader>,
    mut spare: Vec<u32>,
) -> Result<SliceHeader, CodecError> {
    let nal = nal.get(start_code_len(nal)..).unwrap_or(&[]);
    let mut r = BitReader::new(nal);
    if r.read_bit()? {
        return Err(CodecError::Invalid("forbidden_zero_bit"));
    }
    let nal_unit_type = r.read_bits(6)? as u8;
    let nuh_layer_id = r.read_bits(6)? as u8;
    let nuh_temporal_id_plus1 = r.read_bits(3)? as u8;
    if nal_unit_type > 21 || (10..=15).contains(&nal_unit_type) {
        return Err(CodecError::Invalid("nal_unit_type is not a coded slice segment"));
    }
    if nuh_temporal_id_plus1 == 0 {
        return Err(CodecError::Invalid("nuh_temporal_id_plus1"));
    }
    let mut h = SliceHeader {
        nal_unit_type,
        nuh_layer_id,
        nuh_temporal_id_plus1,
        pic_output_flag: true,
        collocated_from_l0_flag: true,
        slice_deblocking_filter_disabled_flag: ctx.pps_deblocking_filter_disabled,
        slice_beta_offset_div2: ctx.pps_beta_offset_div2,
        slice_tc_offset_div2: ctx.pps_tc_offset_div2,
        slice_loop_filter_across_slices_enabled_flag: ctx.pps_loop_filter_across_slices_enabled,
        ..Default::default()
    };
    h.first_slice_segment_in_pic_flag = r.read_flag()?;
    if (16..=23).contains(&nal_unit_type) {
        h.no_output_of_prior_pics_flag = r.read_flag()?;
    }
    h.slice_pic_parameter_set_id = r.read_ue_max(63, "slice_pic_parameter_set_id")? as u8;
    if !h.first_slice_segment_in_pic_flag {
        if ctx.dependent_slice_segments_enabled {
            h.dependent_slice_segment_flag = r.read_flag()?;
        }
        h.slice_segment_address = r.read_bits(ceil_log2(ctx.pic_size_in_ctbs_y))?;
        if h.slice_segment_address >= ctx.pic_size_in_ctbs_y.max(1) {
            return Err(CodecError::Invalid("slice_segment_address"));
        }
    }

    if h.dependent_slice_segment_flag {
        let p = prev.ok_or(CodecError::Invalid("dependent slice segment without a preceding slice"))?;
        // Copy everything of the independent segment but this NAL's own values.
        let own = h.clone();
        h = p.clone();
        h.nal_unit_type = own.nal_unit_type;
        h.nuh_layer_id = own.nuh_layer_id;
        h.nuh_temporal_id_plus1 = own.nuh_temporal_id_plus1;
        h.first_slice_segment_in_pic_flag = false;
        h.no_output_of_prior_pics_flag = own.no_output_of_prior_pics_flag;
        h.slice_pic_parameter_set_id = own.slice_pic_parameter_set_id;
        h.dependent_slice_segment_flag = true;
        h.slice_segment_address = own.slice_segment_address;
        h.num_entry_point_offsets = 0;
        h.offset_len_minus1 = 0;
        h.entry_point_offset_minus1 = Vec::new();
        h.slice_segment_header_extension_length = 0;
    } else {
        parse_independent_part(&mut r, ctx, &mut h)?;
    }

    if ctx.tiles_enabled || ctx.entropy_coding_sync_enabled {
        h.num_entry_point_offsets = r.read_ue_max(ctx.pic_size_in_ctbs_y.max(1).saturating_mul(2), "num_entry_point_offsets")?;
        if h.num_entry_point_offsets > 0 {
            h.offset_len_minus1 = r.read_ue_max(31, "offset_len_minus1")? as u8;
            let n = h.num_entry_point_offsets as usize;
            spare.clear();
            spare.reserve(n.min(1024));
            for _ in 0..n {
                spare.push(r.read_bits(u32::from(h.offset_len_minus1) + 1)?);
            }
            h.entry_point_offset_minus1 = spare;
        }
    }
    if ctx.slice_segment_header_extension_present {
        h.slice_segment_header_extension_length = r.read_ue_max(256, "slice_segment_header_extension_length")? as u16;
        r.skip_bits(8 * u64::from(h.slice_segment_header_extension_length))?;
    }
    // byte_alignment(): alignment_bit_equal_to_one, then zeros.
    if !r.read_bit()? {
        return Err(CodecError::Invalid("alignment_bit_equal_to_one"));
    }
    while !r.is_byte_aligned() {
        if r.read_bit()? {
            return Err(CodecError::Invalid("alignment_bit_equal_to_zero"));
        }
    }
    h.header_bits = u32::try_from(r.rbsp_bits_read()).map_err(|_| CodecError::Invalid("slice header size"))?;
    h.header_epb_count = r.epb_count() as u32;
    h.header_raw_bytes = (r.raw_bits_read() / 8) as u32;
    Ok(h)
}

fn parse_independent_part(r: &mut BitReader, ctx: &SliceHeaderContext, h: &mut SliceHeader) -> Result<(), CodecError> {
    r.skip_bits(u64::from(ctx.num_extra_slice_header_bits))?;
    h.slice_type = r.read_ue_max(2, "slice_type")? as u8;
    if ctx.output_flag_present {
        h.pic_output_flag = r.read_flag()?;
    }
    if ctx.separate_colour_plane {
        h.colour_plane_id = r.read_bits(2)? as u8;
        if h.colour_plane_id > 2 {
            return Err(CodecError::Invalid("colour_plane_id"));
        }
    }
    if !h.is_idr() {
        if ctx.log2_max_pic_order_cnt_lsb < 4 || ctx.log2_max_pic_order_cnt_lsb > 16 {
            return Err(CodecError::Invalid("log2_max_pic_order_cnt_lsb"));
        }
        h.slice_pic_order_cnt_lsb = r.read_bits(u32::from(ctx.log2_max_pic_order_cnt_lsb))? as u16;
        h.short_term_ref_pic_set_sps_flag = r.read_flag()?;
        if !h.short_term_ref_pic_set_sps_flag {
            let start = r.rbsp_bits_read();
            parse_slice_st_rps(r, ctx, h)?;
            h.short_term_ref_pic_set_size = bits_since(r, start);
        } else {
            if ctx.num_short_term_ref_pic_sets == 0 {
                return Err(CodecError::Invalid("short_term_ref_pic_set_sps_flag without SPS sets"));
            }
            if ctx.num_short_term_ref_pic_sets > 1 {
                h.short_term_ref_pic_set_idx = r.read_bits(ceil_log2(u32::from(ctx.num_short_term_ref_pic_sets)))? as u8;
                if h.short_term_ref_pic_set_idx >= ctx.num_short_term_ref_pic_sets {
                    return Err(CodecError::Invalid("short_term_ref_pic_set_idx"));
                }
            }
        }
        if ctx.long_term_ref_pics_present {
            let start = r.rbsp_bits_read();
            if ctx.num_long_term_ref_pics_sps > 0 {
                h.num_long_term_sps = r.read_ue_max(u32::from(ctx.num_long_term_ref_pics_sps), "num_long_term_sps")? as u8;
            }
            h.num_long_term_pics = r.read_ue_max(32, "num_long_term_pics")? as u8;
            let total = u32::from(h.num_long_term_sps) + u32::from(h.num_long_term_pics);
            if total > 32 {
                return Err(CodecError::Invalid("num_long_term_sps + num_long_term_pics"));
            }
            for i in 0..total {
                if i < u32::from(h.num_long_term_sps) {
                    if ctx.num_long_term_ref_pics_sps > 1 {
                        r.read_bits(ceil_log2(u32::from(ctx.num_long_term_ref_pics_sps)))?;
                        // lt_idx_sps
                    }
                } else {
                    r.read_bits(u32::from(ctx.log2_max_pic_order_cnt_lsb))?; // poc_lsb_lt
                    r.read_flag()?; // used_by_curr_pic_lt_flag
                }
                if r.read_flag()? {
                    r.read_ue()?; // delta_poc_msb_cycle_lt
                }
            }
            h.long_term_ref_pic_set_size = bits_since(r, start);
        }
        if ctx.sps_temporal_mvp_enabled {
            h.slice_temporal_mvp_enabled_flag = r.read_flag()?;
        }
    }
    if ctx.sample_adaptive_offset_enabled {
        h.slice_sao_luma_flag = r.read_flag()?;
        if ctx.chroma_array_type() != 0 {
            h.slice_sao_chroma_flag = r.read_flag()?;
        }
    }
    if h.is_inter() {
        let b = h.slice_type == SLICE_B;
        h.num_ref_idx_active_override_flag = r.read_flag()?;
        if h.num_ref_idx_active_override_flag {
            h.num_ref_idx_l0_active_minus1 = r.read_ue_max(14, "num_ref_idx_l0_active_minus1")? as u8;
            if b {
                h.num_ref_idx_l1_active_minus1 = r.read_ue_max(14, "num_ref_idx_l1_active_minus1")? as u8;
            }
        } else {
            // The defaults come from VA (the PPS): 0..14 like the coded values.
            if ctx.num_ref_idx_l0_default_active_minus1 > 14 || ctx.num_ref_idx_l1_default_active_minus1 > 14 {
                return Err(CodecError::Invalid("num_ref_idx_l0/l1_default_active_minus1 above 14"));
            }
            h.num_ref_idx_l0_active_minus1 = ctx.num_ref_idx_l0_default_active_minus1;
            h.num_ref_idx_l1_active_minus1 = ctx.num_ref_idx_l1_default_active_minus1;
        }
        if ctx.lists_modification_present && ctx.num_pic_total_curr > 1 {
            let len = ceil_log2(ctx.num_pic_total_curr);
            let lists = if b { 2 } else { 1 };
            for l in 0..lists {
                if r.read_flag()? {
                    let n = if l == 0 { h.num_ref_idx_l0_active_minus1 } else { h.num_ref_idx_l1_active_minus1 };
                    r.skip_bits(u64::from(len) * (u64::from(n) + 1))?; // list_entry_lX
                }
            }
        }
        if b {
            h.mvd_l1_zero_flag = r.read_flag()?;
        }
        if ctx.cabac_init_present {
            h.cabac_init_flag = r.read_flag()?;
        }
        if h.slice_temporal_mvp_enabled_flag {
            if b {
                h.collocated_from_l0_flag = r.read_flag()?;
            }
            let n = if h.collocated_from_l0_flag { h.num_ref_idx_l0_active_minus1 } else { h.num_ref_idx_l1_active_minus1 };
            if n > 0 {
                h.collocated_ref_idx = r.read_ue_max(u32::from(n), "collocated_ref_idx")? as u8;
            }
        }
        if (ctx.weighted_pred && h.slice_type == SLICE_P) || (ctx.weighted_bipred && b) {
            h.pred_weight_table = Some(parse_pred_weight_table(r, ctx, h)?);
        }
        h.five_minus_max_num_merge_cand = r.read_ue_max(4, "five_minus_max_num_merge_cand")? as u8;
    }
    h.slice_qp_delta = r.read_se_range(-87, 51, "slice_qp_delta")? as i8;
    if ctx.pps_slice_chroma_qp_offsets_present {
        h.slice_cb_qp_offset = r.read_se_range(-12, 12, "slice_cb_qp_offset")? as i8;
        h.slice_cr_qp_offset = r.read_se_range(-12, 12, "slice_cr_qp_offset")? as i8;
    }
    if ctx.deblocking_filter_override_enabled {
        h.deblocking_filter_override_flag = r.read_flag()?;
    }
    if h.deblocking_filter_override_flag {
        h.slice_deblocking_filter_disabled_flag = r.read_flag()?;
        if !h.slice_deblocking_filter_disabled_flag {
            h.slice_beta_offset_div2 = r.read_se_range(-6, 6, "slice_beta_offset_div2")? as i8;
            h.slice_tc_offset_div2 = r.read_se_range(-6, 6, "slice_tc_offset_div2")? as i8;
        }
    }
    if ctx.pps_loop_filter_across_slices_enabled
        && (h.slice_sao_luma_flag || h.slice_sao_chroma_flag || !h.slice_deblocking_filter_disabled_flag)
    {
        h.slice_loop_filter_across_slices_enabled_flag = r.read_flag()?;
    }
    Ok(())
}

/// st_ref_pic_set(num_short_term_ref_pic_sets) of a slice header (7.3.7).
fn parse_slice_st_rps(r: &mut BitReader, ctx: &SliceHeaderContext, h: &mut SliceHeader) -> Result<(), CodecError> {
    let start = r.rbsp_bits_read();
    let idx = ctx.num_short_term_ref_pic_sets;
    if idx != 0 {
        h.inter_ref_pic_set_prediction_flag = r.read_flag()?;
    }
    if h.inter_ref_pic_set_prediction_flag {
        r.read_ue_max(u32::from(idx) - 1, "delta_idx_minus1")?;
        r.read_flag()?; // delta_rps_sign
        r.read_ue_max(32767, "abs_delta_rps_minus1")?;
        // The loop runs NumDeltaPocs[RefRpsIdx] + 1 times; the SPS set is not
        // known here, VA's st_rps_bits tells where the syntax ends.
        let total = u64::from(ctx.st_rps_bits);
        if total == 0 {
            return Err(CodecError::Unsupported("inter-predicted slice RPS without VA st_rps_bits"));
        }
        let mut n = 0u32;
        while r.rbsp_bits_read() - start < total {
            if !r.read_flag()? {
                r.read_flag()?; // use_delta_flag
            }
            n += 1;
            if n > 33 {
                return Err(CodecError::Invalid("inter RPS longer than 33 entries"));
            }
        }
        if r.rbsp_bits_read() - start != total || n == 0 {
            return Err(CodecError::Invalid("st_rps_bits does not match the slice RPS"));
        }
        h.num_delta_pocs_of_ref_rps_idx = (n - 1) as u8;
    } else {
        h.num_negative_pics = r.read_ue_max(16, "num_negative_pics")? as u8;
        h.num_positive_pics = r.read_ue_max(16, "num_positive_pics")? as u8;
        if u32::from(h.num_negative_pics) + u32::from(h.num_positive_pics) > 16 {
            return Err(CodecError::Invalid("num_negative_pics + num_positive_pics"));
        }
        for _ in 0..(u32::from(h.num_negative_pics) + u32::from(h.num_positive_pics)) {
            r.read_ue_max(32767, "delta_poc_minus1")?;
            r.read_flag()?; // used_by_curr_pic_sX_flag
        }
    }
    Ok(())
}

/// pred_weight_table() (7.3.6.3).
fn parse_pred_weight_table(r: &mut BitReader, ctx: &SliceHeaderContext, h: &SliceHeader) -> Result<PredWeightTable, CodecError> {
    let mut t = PredWeightTable { luma_log2_weight_denom: r.read_ue_max(7, "luma_log2_weight_denom")? as u8, ..Default::default() };
    let chroma = ctx.chroma_array_type() != 0;
    if chroma {
        let d = r.read_se_range(-7, 7, "delta_chroma_log2_weight_denom")?;
        let c = i32::from(t.luma_log2_weight_denom) + d;
        if !(0..=7).contains(&c) {
            return Err(CodecError::Invalid("ChromaLog2WeightDenom"));
        }
        t.delta_chroma_log2_weight_denom = d as i8;
    }
    let chroma_denom = (i32::from(t.luma_log2_weight_denom) + i32::from(t.delta_chroma_log2_weight_denom)) as u32;
    let lists = if h.slice_type == SLICE_B { 2 } else { 1 };
    for l in 0..lists {
        let n = usize::from(if l == 0 { h.num_ref_idx_l0_active_minus1 } else { h.num_ref_idx_l1_active_minus1 }) + 1;
        // The flags are skipped only for a reference equal to the current
        // picture (same POC and layer), which needs pps_curr_pic_ref (SCC).
        for i in 0..n {
            t.luma_weight_flag[l][i] = r.read_flag()?;
        }
        if chroma {
            for i in 0..n {
                t.chroma_weight_flag[l][i] = r.read_flag()?;
            }
        }
        for i in 0..n {
            if t.luma_weight_flag[l][i] {
                t.delta_luma_weight[l][i] = r.read_se_range(-128, 127, "delta_luma_weight")? as i8;
                t.luma_offset[l][i] = r.read_se_range(-128, 127, "luma_offset")? as i8;
            }
            if t.chroma_weight_flag[l][i] {
                for j in 0..2 {
                    let dw = r.read_se_range(-128, 127, "delta_chroma_weight")?;
                    let doff = r.read_se_range(-512, 511, "delta_chroma_offset")?;
                    t.delta_chroma_weight[l][i][j] = dw as i8;
                    // 7-56 with WpOffsetHalfRangeC = 128 (no high precision offsets).
                    let w = (1i32 << chroma_denom) + dw;
                    let off = 128 + doff - ((128 * w) >> chroma_denom);
                    t.chroma_offset[l][i][j] = off.clamp(-128, 127) as i8;
                }
            }
        }
    }
    Ok(t)
}
