//! VA-API VP8 frame → `v4l2_ctrl_vp8_frame`.
//!
//! # The idea
//!
//! Locate the frame in the slice data (with or without its uncompressed
//! chunk), re-parse the first partition's header for the raw values VA only
//! gives combined, then fill the control from VA where VA carries the value
//! and from the header or the context's [`Vp8State`] where it does not.

use super::header::{parse_first_partition, FirstPartHeader, FrameTag};
use super::{RefResolver, Vp8Controls, Vp8Picture};
use crate::codec::CodecError;
use crate::va_sys::ffi::{
    _VAPictureParameterBufferVP8__bindgen_ty_1__bindgen_ty_1 as PicBits, __BindgenBitfieldUnit, VASurfaceID, VA_INVALID_SURFACE,
};
#[cfg(test)]
use crate::va_sys::ffi::{VAProfile, VAProfileVP8Version0_3};
use v4l2r::bindings::{
    v4l2_ctrl_vp8_frame, v4l2_vp8_entropy, v4l2_vp8_entropy_coder_state, v4l2_vp8_loop_filter, v4l2_vp8_quantization, v4l2_vp8_segment,
    V4L2_VP8_FRAME_FLAG_KEY_FRAME, V4L2_VP8_FRAME_FLAG_MB_NO_SKIP_COEFF, V4L2_VP8_FRAME_FLAG_SHOW_FRAME, V4L2_VP8_FRAME_FLAG_SIGN_BIAS_ALT,
    V4L2_VP8_FRAME_FLAG_SIGN_BIAS_GOLDEN, V4L2_VP8_LF_ADJ_ENABLE, V4L2_VP8_LF_DELTA_UPDATE, V4L2_VP8_LF_FILTER_TYPE_SIMPLE,
    V4L2_VP8_SEGMENT_FLAG_DELTA_VALUE_MODE, V4L2_VP8_SEGMENT_FLAG_ENABLED, V4L2_VP8_SEGMENT_FLAG_UPDATE_FEATURE_DATA,
    V4L2_VP8_SEGMENT_FLAG_UPDATE_MAP,
};

/// Decoded `pic_fields` of `VAPictureParameterBufferVP8`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PicFields {
    /// A key frame. Note VA's `key_frame` bit is the frame tag's bit: **0**
    /// means key frame (FFmpeg writes `!s->keyframe`); this field is the
    /// decoded meaning.
    pub key_frame: bool,
    /// version.
    pub version: u8,
    /// segmentation_enabled.
    pub segmentation_enabled: bool,
    /// update_mb_segmentation_map.
    pub update_mb_segmentation_map: bool,
    /// update_segment_feature_data.
    pub update_segment_feature_data: bool,
    /// filter_type (1 = simple).
    pub filter_type_simple: bool,
    /// sharpness_level.
    pub sharpness_level: u8,
    /// loop_filter_adj_enable.
    pub loop_filter_adj_enable: bool,
    /// mode_ref_lf_delta_update.
    pub mode_ref_lf_delta_update: bool,
    /// sign_bias_golden.
    pub sign_bias_golden: bool,
    /// sign_bias_alternate.
    pub sign_bias_alternate: bool,
    /// mb_no_coeff_skip.
    pub mb_no_coeff_skip: bool,
    /// loop_filter_disable.
    pub loop_filter_disable: bool,
}

impl PicFields {
    /// Decodes the `.value` word with bindgen's accessors.
    pub fn from_value(value: u32) -> Self {
        let b = value.to_ne_bytes();
        let bits =
            PicBits { _bitfield_align_1: [], _bitfield_1: __BindgenBitfieldUnit::new([b[0], b[1], b[2]]), __bindgen_padding_0: b[3] };
        PicFields {
            key_frame: bits.key_frame() == 0,
            version: bits.version() as u8,
            segmentation_enabled: bits.segmentation_enabled() != 0,
            update_mb_segmentation_map: bits.update_mb_segmentation_map() != 0,
            update_segment_feature_data: bits.update_segment_feature_data() != 0,
            filter_type_simple: bits.filter_type() != 0,
            sharpness_level: bits.sharpness_level() as u8,
            loop_filter_adj_enable: bits.loop_filter_adj_enable() != 0,
            mode_ref_lf_delta_update: bits.mode_ref_lf_delta_update() != 0,
            sign_bias_golden: bits.sign_bias_golden() != 0,
            sign_bias_alternate: bits.sign_bias_alternate() != 0,
            mb_no_coeff_skip: bits.mb_no_coeff_skip() != 0,
            loop_filter_disable: bits.loop_filter_disable() != 0,
        }
    }
}

/// VP8 coefficient probabilities, `[block type][band][context][token]`.
type CoeffProbs = [[[[u8; 11]; 3]; 8]; 4];

/// What VP8 (and GStreamer's parser, whose values the traces are compared
/// with) keeps across frames of one context.
#[derive(Clone, Debug, Default)]
pub struct Vp8State {
    /// Segment feature data: (absolute mode, quantizer values, loop filter values).
    segment_data: Option<(bool, [i8; 4], [i8; 4])>,
    /// update_mb_segmentation_map / update_segment_feature_data of the last
    /// frame with segmentation enabled (GStreamer's parser leaves them as they
    /// were on frames without segmentation).
    segment_updates: (bool, bool),
    /// mode_ref_lf_delta_update of the last frame with adjustments enabled (same reason).
    lf_delta_update: bool,
    /// The last coefficient probabilities VA gave.
    coeff_probs: Option<Box<CoeffProbs>>,
}

impl Vp8State {
    /// A fresh state (new context or new stream).
    pub fn new() -> Self {
        Self::default()
    }
}

/// VA profiles the driver may advertise when the device accepts
/// `V4L2_PIX_FMT_VP8_FRAME`: VA has a single VP8 profile (versions 0-3).
#[cfg(test)]
pub fn va_profiles() -> &'static [VAProfile] {
    const PROFILES: [VAProfile; 1] = [VAProfileVP8Version0_3];
    &PROFILES
}

/// Where the frame is in the slice data.
struct Located<'a> {
    /// The uncompressed chunk's values.
    tag: FrameTag,
    /// The chunk's bytes when the application passed them (else rebuilt).
    chunk: Option<&'a [u8]>,
    /// From the first partition's first byte to the end of the frame.
    body: &'a [u8],
}

fn locate<'a>(p: &Vp8Picture<'a>, pf: &PicFields) -> Result<Located<'a>, CodecError> {
    let s = &p.slice;
    let off = s.slice_data_offset as usize;
    let hdr_len = if pf.key_frame { 10 } else { 3 };
    let end = off.saturating_add(s.slice_data_size as usize).min(p.data.len());
    let body = p.data.get(off..end).filter(|b| !b.is_empty()).ok_or(CodecError::Truncated)?;
    if off >= hdr_len {
        if let Some(chunk) = p.data.get(off - hdr_len..off) {
            if let Ok(tag) = FrameTag::parse(chunk) {
                if tag.key_frame == pf.key_frame {
                    return Ok(Located { tag, chunk: Some(chunk), body });
                }
            }
        }
    }
    let width = u16::try_from(p.pic.frame_width).map_err(|_| CodecError::Invalid("VP8 frame width"))?;
    let height = u16::try_from(p.pic.frame_height).map_err(|_| CodecError::Invalid("VP8 frame height"))?;
    let first_part_size =
        s.partition_size[0].checked_add(s.macroblock_offset.div_ceil(8)).ok_or(CodecError::Invalid("VP8 first partition size"))?;
    let tag = FrameTag {
        key_frame: pf.key_frame,
        version: pf.version,
        show_frame: true,
        first_part_size,
        width: if pf.key_frame { width } else { 0 },
        horizontal_scale: 0,
        height: if pf.key_frame { height } else { 0 },
        vertical_scale: 0,
    };
    tag.check()?;
    Ok(Located { tag, chunk: None, body })
}

/// Appends the OUTPUT buffer bytes: the whole frame, uncompressed chunk
/// included (the application's own or rebuilt, see the module docs). Appends
/// nothing for a frame [`build_controls`] rejects.
pub fn append_bitstream(out: &mut Vec<u8>, p: &Vp8Picture) {
    let pf = PicFields::from_value(p.pic_fields);
    let Ok(loc) = locate(p, &pf) else { return };
    let start = out.len();
    match loc.chunk {
        Some(c) => out.extend_from_slice(c),
        None => {
            if loc.tag.write(out).is_err() {
                out.truncate(start);
                return;
            }
        }
    }
    out.extend_from_slice(loc.body);
}

/// Translates one frame with a throw-away [`Vp8State`]; see
/// [`build_controls_with_state`].
#[cfg(test)]
pub fn build_controls(p: &Vp8Picture, refs: &dyn RefResolver) -> Result<Vp8Controls, CodecError> {
    build_controls_with_state(p, refs, &mut Vp8State::default())
}

fn ref_ts(surface: VASurfaceID, refs: &dyn RefResolver, what: &str) -> u64 {
    if surface == VA_INVALID_SURFACE {
        return 0;
    }
    refs.timestamp(surface).unwrap_or_else(|| {
        log::warn!("vp8: {what} reference surface {surface:#x} unknown");
        0
    })
}

/// Translates one frame.
///
/// Sources, and comparison with GStreamer's `v4l2slvp8dec`:
///
/// - From VA, as GStreamer: flags (key frame, no-skip-coeff, sign biases),
///   version, width/height, sharpness, filter type, loop filter adjustment
///   flag and deltas, segment tree probabilities, mode and MV probabilities,
///   coefficient probabilities, `coder_state` (`bool_coder_ctx`),
///   `first_part_header_bits` (`macroblock_offset`), `num_dct_parts`
///   (`num_of_partitions - 1`), `dct_part_sizes`, `first_part_size`.
/// - `prob_skip_false`: VA's when `mb_no_coeff_skip`, else 0; `prob_intra`,
///   `prob_last`, `prob_gf`: 0 on key frames. FFmpeg leaves stale values in
///   these VA fields when the header does not code them; GStreamer sends 0.
/// - From the re-parsed header: `lf.level` (VA has only per-segment levels),
///   `quant` (VA has only per-segment clipped indices), segment feature data
///   and its mode when the frame updates them.
/// - From [`Vp8State`]: segment feature data of earlier frames (derived from
///   VA's per-segment results in delta mode if the context never saw them),
///   the segment update flags and `LF_DELTA_UPDATE` of the last frame that
///   coded them (GStreamer's parser keeps both that way), the coefficient
///   probabilities when VA sends none.
/// - `SHOW_FRAME`, `horizontal_scale`, `vertical_scale`: from the frame's
///   uncompressed chunk when the application passes it (GStreamer-va); with
///   FFmpeg, which does not, `SHOW_FRAME` is set and the scales are 0.
///   **Differs** from GStreamer for hidden (alt-ref) frames and scaled key
///   frames; decoders use neither.
/// - Reference timestamps: VA's surfaces resolved, 0 when VA names none (the
///   value GStreamer leaves). Key frames carry whatever VA names (don't-care,
///   normalisation R1).
pub fn build_controls_with_state(p: &Vp8Picture, refs: &dyn RefResolver, state: &mut Vp8State) -> Result<Vp8Controls, CodecError> {
    let pic = p.pic;
    let pf = PicFields::from_value(p.pic_fields);
    let s = &p.slice;
    let num_dct_parts = s.num_of_partitions.checked_sub(1).ok_or(CodecError::Invalid("VP8 num_of_partitions"))?;
    if ![1, 2, 4, 8].contains(&num_dct_parts) {
        return Err(CodecError::Invalid("VP8 num_of_partitions"));
    }
    let loc = locate(p, &pf)?;
    let h: FirstPartHeader = parse_first_partition(loc.body, pf.key_frame)?;
    if 1u8 << h.log2_nbr_of_dct_partitions != num_dct_parts {
        log::warn!("vp8: VA says {num_dct_parts} DCT partitions, the frame header {}", 1u8 << h.log2_nbr_of_dct_partitions);
    }

    // --- segmentation --------------------------------------------------------
    if pf.segmentation_enabled {
        state.segment_updates = (h.update_mb_segmentation_map, h.update_segment_feature_data);
        if h.update_segment_feature_data {
            state.segment_data = Some((h.segment_feature_mode_absolute, h.quantizer_update, h.lf_update));
        } else if state.segment_data.is_none() {
            // Never seen: deltas that reproduce VA's per-segment results.
            let mut q = [0i8; 4];
            let mut l = [0i8; 4];
            for i in 0..4 {
                q[i] = (i32::from(p.iq.quantization_index[i][0]) - i32::from(h.y_ac_qi)).clamp(-127, 127) as i8;
                l[i] = (i32::from(pic.loop_filter_level[i]) - i32::from(h.loop_filter_level)).clamp(-63, 63) as i8;
            }
            state.segment_data = Some((false, q, l));
        }
    }
    let (absolute, quant_update, lf_update) = state.segment_data.unwrap_or((false, [0; 4], [0; 4]));
    let flag = |b: bool, v: u32| if b { v } else { 0 };
    let segment = v4l2_vp8_segment {
        quant_update,
        lf_update,
        segment_probs: pic.mb_segment_tree_probs,
        padding: 0,
        flags: flag(pf.segmentation_enabled, V4L2_VP8_SEGMENT_FLAG_ENABLED)
            | flag(state.segment_updates.0, V4L2_VP8_SEGMENT_FLAG_UPDATE_MAP)
            | flag(state.segment_updates.1, V4L2_VP8_SEGMENT_FLAG_UPDATE_FEATURE_DATA)
            | flag(!absolute, V4L2_VP8_SEGMENT_FLAG_DELTA_VALUE_MODE),
    };

    // --- loop filter -----------------------------------------------------------
    if pf.loop_filter_adj_enable {
        state.lf_delta_update = pf.mode_ref_lf_delta_update;
    }
    let lf = v4l2_vp8_loop_filter {
        ref_frm_delta: pic.loop_filter_deltas_ref_frame,
        mb_mode_delta: pic.loop_filter_deltas_mode,
        sharpness_level: pf.sharpness_level,
        level: h.loop_filter_level,
        padding: 0,
        flags: flag(pf.loop_filter_adj_enable, V4L2_VP8_LF_ADJ_ENABLE)
            | flag(state.lf_delta_update, V4L2_VP8_LF_DELTA_UPDATE)
            | flag(pf.filter_type_simple, V4L2_VP8_LF_FILTER_TYPE_SIMPLE),
    };

    let quant = v4l2_vp8_quantization {
        y_ac_qi: h.y_ac_qi,
        y_dc_delta: h.y_dc_delta,
        y2_dc_delta: h.y2_dc_delta,
        y2_ac_delta: h.y2_ac_delta,
        uv_dc_delta: h.uv_dc_delta,
        uv_ac_delta: h.uv_ac_delta,
        padding: 0,
    };

    // --- entropy -----------------------------------------------------------------
    if let Some(probs) = p.probs {
        match &mut state.coeff_probs {
            Some(kept) => **kept = probs.dct_coeff_probs,
            None => state.coeff_probs = Some(Box::new(probs.dct_coeff_probs)),
        }
    }
    let coeff_probs = **state.coeff_probs.as_ref().ok_or(CodecError::Invalid("VP8 frame without probability buffer"))?;
    let entropy = v4l2_vp8_entropy {
        coeff_probs,
        y_mode_probs: pic.y_mode_probs,
        uv_mode_probs: pic.uv_mode_probs,
        mv_probs: pic.mv_probs,
        padding: [0; 3],
    };

    let mut dct_part_sizes = [0u32; 8];
    dct_part_sizes[..usize::from(num_dct_parts)].copy_from_slice(&s.partition_size[1..=usize::from(num_dct_parts)]);

    let key = pf.key_frame;
    let frame = v4l2_ctrl_vp8_frame {
        segment,
        lf,
        quant,
        entropy,
        coder_state: v4l2_vp8_entropy_coder_state {
            range: pic.bool_coder_ctx.range,
            value: pic.bool_coder_ctx.value,
            bit_count: pic.bool_coder_ctx.count,
            padding: 0,
        },
        width: u16::try_from(pic.frame_width).map_err(|_| CodecError::Invalid("VP8 frame width"))?,
        height: u16::try_from(pic.frame_height).map_err(|_| CodecError::Invalid("VP8 frame height"))?,
        horizontal_scale: loc.tag.horizontal_scale,
        vertical_scale: loc.tag.vertical_scale,
        version: pf.version,
        prob_skip_false: if pf.mb_no_coeff_skip { pic.prob_skip_false } else { 0 },
        prob_intra: if key { 0 } else { pic.prob_intra },
        prob_last: if key { 0 } else { pic.prob_last },
        prob_gf: if key { 0 } else { pic.prob_gf },
        num_dct_parts,
        first_part_size: loc.tag.first_part_size,
        first_part_header_bits: s.macroblock_offset,
        dct_part_sizes,
        last_frame_ts: ref_ts(pic.last_ref_frame, refs, "last"),
        golden_frame_ts: ref_ts(pic.golden_ref_frame, refs, "golden"),
        alt_frame_ts: ref_ts(pic.alt_ref_frame, refs, "alt"),
        flags: u64::from(
            flag(key, V4L2_VP8_FRAME_FLAG_KEY_FRAME)
                | flag(loc.tag.show_frame, V4L2_VP8_FRAME_FLAG_SHOW_FRAME)
                | flag(pf.mb_no_coeff_skip, V4L2_VP8_FRAME_FLAG_MB_NO_SKIP_COEFF)
                | flag(pf.sign_bias_golden, V4L2_VP8_FRAME_FLAG_SIGN_BIAS_GOLDEN)
                | flag(pf.sign_bias_alternate, V4L2_VP8_FRAME_FLAG_SIGN_BIAS_ALT),
        ),
    };
    Ok(Vp8Controls { frame })
}
