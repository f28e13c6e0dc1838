//! VP9: VA-API buffers → V4L2 stateless VP9 controls.
//!
//! # The idea
//!
//! One VA picture carries a `VADecPictureParameterBufferVP9`, one
//! `VASliceParameterBufferVP9` and the frame's bytes. FFmpeg (`vaapi_vp9.c`)
//! passes the *whole* frame as slice data, uncompressed header first (its
//! picture parameters give `frame_header_length_in_bytes` and
//! `first_partition_size` = compressed header size); superframes are split
//! before they reach the hwaccel, and `show_existing_frame` frames never reach
//! it at all (FFmpeg just outputs the referenced frame).
//!
//! VA leaves out much of what `V4L2_CID_STATELESS_VP9_FRAME` needs: loop
//! filter ref/mode deltas, the quantiser deltas, raw segmentation features,
//! `refresh_frame_flags`, `reset_frame_context`, the interpolation filter, the
//! reference sign biases, `tx_mode` and `reference_mode`, and all of
//! `V4L2_CID_STATELESS_VP9_COMPRESSED_HDR`. So the translation re-parses the
//! frame itself:
//!
//! - [`header`]: the uncompressed header, with the per-stream memory
//!   ([`Vp9State`]) that VP9 keeps between frames;
//! - [`compressed`]: a boolean decoder over the compressed header, yielding the
//!   probability deltas, `tx_mode` and `reference_mode`.
//!
//! VA then supplies only what the bitstream cannot: which surfaces the eight
//! reference slots hold (`reference_frames[8]`), mapped to V4L2 timestamps by
//! the caller's [`RefResolver`], and the frame size to use when the stream
//! starts on a frame whose size is inherited from a slot we never saw.
//!
//! The output mirrors GStreamer's `v4l2slvp9dec`
//! (`sys/v4l2codecs/gstv4l2codecvp9dec.c` on top of `GstVp9StatefulParser`)
//! field by field; see [`build_controls_with_state`] for the details and the
//! few intentional differences.
//!
//! How the driver uses it:
//! - keep one [`Vp9State`] per context and call [`build_controls_with_state`]
//!   for every picture in decode order (the stateless [`build_controls`] is
//!   only exact for frames that code everything, e.g. key frames);
//! - call [`frame_info`] first if it wants to special-case a
//!   `show_existing_frame` frame (nothing to decode: output the slot's surface);
//! - set FRAME, plus COMPRESSED_HDR when the device exposes it
//!   ([`Vp9Controls::specs`]); put [`append_bitstream`]'s bytes in the OUTPUT
//!   buffer (coded format `V4L2_PIX_FMT_VP9_FRAME`);
//! - reject cleanly (e.g. `VA_STATUS_ERROR_UNIMPLEMENTED`) when
//!   [`Vp9Controls::needs_reference_scaling`] is set and the device cannot
//!   scale references, and reallocate CAPTURE when the frame size changes on a
//!   key / intra-only frame.

pub mod compressed;
pub mod header;

use crate::codec::h264::RefResolver;
use crate::codec::CodecError;
use crate::va_sys::ffi::{
    _VADecPictureParameterBufferVP9__bindgen_ty_1__bindgen_ty_1 as PicBits, __BindgenBitfieldUnit, VADecPictureParameterBufferVP9,
    VA_INVALID_SURFACE,
};
#[cfg(test)]
use crate::va_sys::ffi::{VAProfile, VAProfileVP9Profile0, VAProfileVP9Profile2};
use compressed::parse_compressed_header;
use header::{parse_uncompressed_header, ParserState, UncompressedHeader};
use v4l2r::bindings::{
    v4l2_ctrl_vp9_compressed_hdr, v4l2_ctrl_vp9_frame, V4L2_VP9_FRAME_FLAG_ALLOW_HIGH_PREC_MV, V4L2_VP9_FRAME_FLAG_COLOR_RANGE_FULL_SWING,
    V4L2_VP9_FRAME_FLAG_ERROR_RESILIENT, V4L2_VP9_FRAME_FLAG_INTRA_ONLY, V4L2_VP9_FRAME_FLAG_KEY_FRAME,
    V4L2_VP9_FRAME_FLAG_PARALLEL_DEC_MODE, V4L2_VP9_FRAME_FLAG_REFRESH_FRAME_CTX, V4L2_VP9_FRAME_FLAG_SHOW_FRAME,
    V4L2_VP9_FRAME_FLAG_X_SUBSAMPLING, V4L2_VP9_FRAME_FLAG_Y_SUBSAMPLING, V4L2_VP9_LOOP_FILTER_FLAG_DELTA_ENABLED,
    V4L2_VP9_LOOP_FILTER_FLAG_DELTA_UPDATE, V4L2_VP9_SEGMENTATION_FLAG_ABS_OR_DELTA_UPDATE, V4L2_VP9_SEGMENTATION_FLAG_ENABLED,
    V4L2_VP9_SEGMENTATION_FLAG_TEMPORAL_UPDATE, V4L2_VP9_SEGMENTATION_FLAG_UPDATE_DATA, V4L2_VP9_SEGMENTATION_FLAG_UPDATE_MAP,
    V4L2_VP9_SIGN_BIAS_ALT, V4L2_VP9_SIGN_BIAS_GOLDEN, V4L2_VP9_SIGN_BIAS_LAST,
};

/// VA profiles to advertise: Profile0, plus Profile2 when the device has a
/// 10-bit CAPTURE format (P010 and friends).
#[cfg(test)]
pub fn va_profiles(ten_bit: bool) -> Vec<VAProfile> {
    let mut v = vec![VAProfileVP9Profile0];
    if ten_bit {
        v.push(VAProfileVP9Profile2);
    }
    v
}

/// Everything VA gave for one picture.
///
/// `pic_fields` is `pic.pic_fields.value`, read at the VA edge (reading a
/// union is `unsafe`; this layer is safe-only).
#[derive(Clone, Copy)]
pub struct Vp9Picture<'a> {
    /// Picture parameter buffer.
    pub pic: &'a VADecPictureParameterBufferVP9,
    /// `pic.pic_fields.value`.
    pub pic_fields: u32,
    /// The frame's bytes: `slice_data_offset .. + slice_data_size` of the
    /// slice data buffer (uncompressed header first).
    pub data: &'a [u8],
}

/// Decoded `pic_fields` of `VADecPictureParameterBufferVP9` (the parts used here).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PicFields {
    /// subsampling_x.
    pub subsampling_x: bool,
    /// subsampling_y.
    pub subsampling_y: bool,
    /// frame_type (0 = key frame).
    pub frame_type: u8,
    /// show_frame.
    pub show_frame: bool,
    /// intra_only.
    pub intra_only: bool,
    /// last_ref_frame: index into reference_frames.
    pub last_ref_frame: u8,
    /// golden_ref_frame.
    pub golden_ref_frame: u8,
    /// alt_ref_frame.
    pub alt_ref_frame: u8,
}

impl PicFields {
    /// Decodes the `.value` word with bindgen's accessors (bit layout of the
    /// libva headers the crate was built with).
    pub fn from_value(value: u32) -> Self {
        let bits = PicBits { _bitfield_align_1: [], _bitfield_1: __BindgenBitfieldUnit::new(value.to_ne_bytes()) };
        PicFields {
            subsampling_x: bits.subsampling_x() != 0,
            subsampling_y: bits.subsampling_y() != 0,
            frame_type: bits.frame_type() as u8,
            show_frame: bits.show_frame() != 0,
            intra_only: bits.intra_only() != 0,
            last_ref_frame: bits.last_ref_frame() as u8,
            golden_ref_frame: bits.golden_ref_frame() as u8,
            alt_ref_frame: bits.alt_ref_frame() as u8,
        }
    }
}

/// The V4L2 controls for one frame, plus what the driver needs to know about it.
#[derive(Clone, Debug)]
pub struct Vp9Controls {
    /// V4L2_CID_STATELESS_VP9_FRAME.
    pub frame: v4l2_ctrl_vp9_frame,
    /// V4L2_CID_STATELESS_VP9_COMPRESSED_HDR.
    pub compressed_hdr: v4l2_ctrl_vp9_compressed_hdr,
    /// refresh_frame_flags (0xff on key frames): which slots this frame replaces.
    #[cfg(test)]
    pub refresh_frame_flags: u8,
    /// An inter frame whose size differs from one of its (known) references:
    /// the device must scale references (VP9 allows it, many decoders cannot).
    pub needs_reference_scaling: bool,
}

impl Vp9Controls {
    /// The control payloads: FRAME, then COMPRESSED_HDR if the device has it.
    pub fn specs(&self, with_compressed_hdr: bool) -> crate::codec::Specs<'_, 2> {
        let mut v = crate::codec::Specs::new(crate::v4l2::ControlSpec::new(&self.frame));
        if with_compressed_hdr {
            v.push(crate::v4l2::ControlSpec::new(&self.compressed_hdr));
        }
        v
    }
}

/// Per-stream memory (see [`header::ParserState`]). One per VA context; reset
/// it (`Default`) on a seek / flush.
#[derive(Clone, Debug, Default)]
pub struct Vp9State {
    /// The uncompressed-header parser's memory.
    pub parser: ParserState,
}

impl Vp9State {
    /// No frame has filled a reference slot yet: an inter frame arriving now names
    /// references this state never saw, e.g. after an application opened a new VA context
    /// for an inter frame that changes the frame size (its references are pictures of the
    /// old context, in another V4L2 session): that frame needs reference scaling.
    pub fn has_no_references(&self) -> bool {
        self.parser.ref_sizes.iter().all(Option::is_none)
    }
}

/// A quick look at a frame without touching any state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg(test)]
pub struct FrameInfo {
    /// profile (0..3).
    pub profile: u8,
    /// `Some(slot)` for a show_existing_frame frame: nothing to decode, show
    /// the picture held in reference slot `slot`.
    pub show_existing_frame: Option<u8>,
    /// Key frame.
    pub key_frame: bool,
    /// show_frame (true for show_existing_frame).
    pub show_frame: bool,
}

/// Reads the first header bits of a frame.
#[cfg(test)]
pub fn frame_info(data: &[u8]) -> Result<FrameInfo, CodecError> {
    let mut r = header::BitReader::new(data);
    if r.f(2)? != 2 {
        return Err(CodecError::Invalid("VP9 frame_marker"));
    }
    let lo = r.f(1)? as u8;
    let hi = r.f(1)? as u8;
    let profile = (hi << 1) | lo;
    if profile == 3 {
        r.f(1)?;
    }
    if r.flag()? {
        let slot = r.f(3)? as u8;
        return Ok(FrameInfo { profile, show_existing_frame: Some(slot), key_frame: false, show_frame: true });
    }
    let key_frame = !r.flag()?;
    let show_frame = r.flag()?;
    Ok(FrameInfo { profile, show_existing_frame: None, key_frame, show_frame })
}

/// What goes in the OUTPUT buffer: the whole frame, headers included, as
/// `V4L2_PIX_FMT_VP9_FRAME` expects (and as GStreamer queues it).
pub fn append_bitstream(out: &mut Vec<u8>, p: &Vp9Picture) {
    out.extend_from_slice(p.data);
}

/// Stateless translation: exact for frames that do not depend on earlier
/// headers (key frames, intra-only / error-resilient frames that code their
/// loop filter deltas...). Drivers should use [`build_controls_with_state`].
#[cfg(test)]
pub fn build_controls(p: &Vp9Picture, refs: &dyn RefResolver) -> Result<Vp9Controls, CodecError> {
    build_controls_with_state(p, refs, &mut Vp9State::default())
}

fn resolve(p: &Vp9Picture, refs: &dyn RefResolver, slot: u8) -> Option<u64> {
    let surface = *p.pic.reference_frames.get(usize::from(slot))?;
    if surface == VA_INVALID_SURFACE {
        return None;
    }
    refs.timestamp(surface)
}

/// VA picture → V4L2 controls, with the stream memory in `state`.
///
/// Field sources (GStreamer `v4l2slvp9dec` semantics):
/// - everything syntax-related from the re-parsed headers: flags, sizes,
///   loop filter (deltas persistent), quantisation, segmentation (features and
///   probabilities persistent, sent even when segmentation is off, as
///   GStreamer does), `reset_frame_context` mapped 0/1 → NONE, 2 → SPEC,
///   3 → ALL, interpolation filter in V4L2 numbering (0 on intra frames),
///   `tx_mode` / `reference_mode` and the deltas from the compressed header;
/// - `profile` from the bitstream; `bit_depth`, subsampling and colour range
///   from the last key / intra-only colour config, or from VA (`bit_depth`,
///   `pic_fields.subsampling_*`) when the stream started elsewhere;
/// - `last/golden/alt_frame_ts`: the surfaces in `reference_frames[ref_frame_idx[i]]`.
///   On intra frames `ref_frame_idx` is all zero, so all three name slot 0,
///   exactly like GStreamer (0 where the slot is empty).
///
/// Intentional differences from GStreamer: GStreamer parses the compressed
/// header only when the device exposes COMPRESSED_HDR (otherwise its
/// `reference_mode` stays 0); we always parse it, so `reference_mode` is right
/// for every device. Timestamps are whatever the resolver gives (GStreamer
/// uses frame number × 1000).
///
/// Errors: `NoSlices` for empty data, `Unsupported` for a
/// `show_existing_frame` frame (nothing to decode; see [`frame_info`]),
/// `MissingReference` when an inter frame names a slot whose surface is
/// unknown, `Invalid` / `Truncated` for malformed headers.
pub fn build_controls_with_state(p: &Vp9Picture, refs: &dyn RefResolver, state: &mut Vp9State) -> Result<Vp9Controls, CodecError> {
    if p.data.is_empty() {
        return Err(CodecError::NoSlices);
    }
    let va = PicFields::from_value(p.pic_fields);
    let hint = (p.pic.frame_width != 0 && p.pic.frame_height != 0).then_some((u32::from(p.pic.frame_width), u32::from(p.pic.frame_height)));
    // Parse on a copy: commit only when the whole frame translated.
    let mut parser = state.parser.clone();
    let had_color = parser.color.is_some();
    let ref_sizes_before = parser.ref_sizes;
    let h = parse_uncompressed_header(p.data, &mut parser, hint)?;
    if h.show_existing_frame {
        return Err(CodecError::Unsupported("VP9 show_existing_frame: nothing to decode"));
    }
    let ch = parse_compressed_header(p.data, &h)?;

    let mut color = h.color;
    if !h.is_intra() && !had_color {
        // Stream joined mid-way: take what VA knows.
        color.bit_depth = if p.pic.bit_depth != 0 { p.pic.bit_depth } else { color.bit_depth };
        color.subsampling_x = va.subsampling_x;
        color.subsampling_y = va.subsampling_y;
    }

    let (last_ts, golden_ts, alt_ts) = if h.is_intra() {
        let ts = resolve(p, refs, 0).unwrap_or(0);
        (ts, ts, ts)
    } else {
        let get = |i: usize| resolve(p, refs, h.ref_frame_idx[i]).ok_or(CodecError::MissingReference);
        (get(0)?, get(1)?, get(2)?)
    };

    let needs_reference_scaling = !h.is_intra()
        && h.ref_frame_idx.iter().filter_map(|&slot| ref_sizes_before[usize::from(slot)]).any(|size| size != (h.width, h.height));

    let frame = frame_control(&h, &ch, &color, [last_ts, golden_ts, alt_ts]);
    state.parser = parser;
    Ok(Vp9Controls {
        frame,
        compressed_hdr: ch.probs,
        #[cfg(test)]
        refresh_frame_flags: h.refresh_frame_flags,
        needs_reference_scaling,
    })
}

fn frame_control(
    h: &UncompressedHeader,
    ch: &compressed::CompressedHeader,
    color: &header::ColorConfig,
    ts: [u64; 3],
) -> v4l2_ctrl_vp9_frame {
    let mut f = v4l2_ctrl_vp9_frame::default();
    let flag = |c: bool, v: u32| if c { v } else { 0 };
    f.flags = flag(h.key_frame, V4L2_VP9_FRAME_FLAG_KEY_FRAME)
        | flag(h.show_frame, V4L2_VP9_FRAME_FLAG_SHOW_FRAME)
        | flag(h.error_resilient_mode, V4L2_VP9_FRAME_FLAG_ERROR_RESILIENT)
        | flag(h.intra_only, V4L2_VP9_FRAME_FLAG_INTRA_ONLY)
        | flag(h.allow_high_precision_mv, V4L2_VP9_FRAME_FLAG_ALLOW_HIGH_PREC_MV)
        | flag(h.refresh_frame_context, V4L2_VP9_FRAME_FLAG_REFRESH_FRAME_CTX)
        | flag(h.frame_parallel_decoding_mode, V4L2_VP9_FRAME_FLAG_PARALLEL_DEC_MODE)
        | flag(color.subsampling_x, V4L2_VP9_FRAME_FLAG_X_SUBSAMPLING)
        | flag(color.subsampling_y, V4L2_VP9_FRAME_FLAG_Y_SUBSAMPLING)
        | flag(color.color_range, V4L2_VP9_FRAME_FLAG_COLOR_RANGE_FULL_SWING);
    f.compressed_header_size = h.header_size_in_bytes;
    f.uncompressed_header_size = h.uncompressed_header_size as u16;
    f.profile = h.profile;
    f.frame_context_idx = h.frame_context_idx;
    f.bit_depth = color.bit_depth;
    f.interpolation_filter = h.v4l2_interpolation_filter();
    f.tile_cols_log2 = h.tile_cols_log2;
    f.tile_rows_log2 = h.tile_rows_log2;
    f.reference_mode = ch.reference_mode;
    f.frame_width_minus_1 = (h.width - 1) as u16;
    f.frame_height_minus_1 = (h.height - 1) as u16;
    f.render_width_minus_1 = (h.render_width.max(1) - 1) as u16;
    f.render_height_minus_1 = (h.render_height.max(1) - 1) as u16;
    let sb = h.ref_frame_sign_bias;
    f.ref_frame_sign_bias =
        (flag(sb[0], V4L2_VP9_SIGN_BIAS_LAST) | flag(sb[1], V4L2_VP9_SIGN_BIAS_GOLDEN) | flag(sb[2], V4L2_VP9_SIGN_BIAS_ALT)) as u8;
    f.reset_frame_context = match h.reset_frame_context {
        2 => 1,
        3 => 2,
        _ => 0,
    };
    f.last_frame_ts = ts[0];
    f.golden_frame_ts = ts[1];
    f.alt_frame_ts = ts[2];

    f.lf.flags = (flag(h.lf.delta_enabled, V4L2_VP9_LOOP_FILTER_FLAG_DELTA_ENABLED)
        | flag(h.lf.delta_update, V4L2_VP9_LOOP_FILTER_FLAG_DELTA_UPDATE)) as u8;
    f.lf.level = h.lf.level;
    f.lf.sharpness = h.lf.sharpness;
    f.lf.ref_deltas = h.lf.ref_deltas;
    f.lf.mode_deltas = h.lf.mode_deltas;

    f.quant.base_q_idx = h.quant.base_q_idx;
    f.quant.delta_q_y_dc = h.quant.delta_q_y_dc;
    f.quant.delta_q_uv_dc = h.quant.delta_q_uv_dc;
    f.quant.delta_q_uv_ac = h.quant.delta_q_uv_ac;

    let s = &h.seg;
    f.seg.flags = (flag(s.enabled, V4L2_VP9_SEGMENTATION_FLAG_ENABLED)
        | flag(s.update_map, V4L2_VP9_SEGMENTATION_FLAG_UPDATE_MAP)
        | flag(s.temporal_update, V4L2_VP9_SEGMENTATION_FLAG_TEMPORAL_UPDATE)
        | flag(s.update_data, V4L2_VP9_SEGMENTATION_FLAG_UPDATE_DATA)
        | flag(s.abs_or_delta_update, V4L2_VP9_SEGMENTATION_FLAG_ABS_OR_DELTA_UPDATE)) as u8;
    f.seg.tree_probs = s.tree_probs;
    f.seg.pred_probs = s.pred_probs;
    for i in 0..8 {
        f.seg.feature_enabled[i] =
            s.feature_enabled[i].iter().enumerate().fold(0u8, |acc, (feat, &on)| acc | if on { 1 << feat } else { 0 });
    }
    f.seg.feature_data = s.feature_data;
    f
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
pub(crate) mod tests;
