//! VP9 uncompressed header parser (VP9 bitstream spec §6.2 / §7.2).
//!
//! # The idea
//!
//! The uncompressed header is a plain MSB-first bit string at the start of
//! every frame. Several of its elements are *persistent*: when a frame does
//! not code them, the decoder keeps the previous frame's values (loop filter
//! deltas, segmentation features and probabilities, colour config, the sizes
//! of the eight reference slots). That memory lives in [`ParserState`], one
//! per decoding context, and is updated exactly like GStreamer's
//! `GstVp9StatefulParser` (which is what `v4l2slvp9dec` sends to the kernel):
//!
//! - `setup_past_independence` (key frames, intra-only and error-resilient
//!   frames) resets the loop filter deltas to `1, 0, -1, -1` / `0, 0` and
//!   clears the segmentation features and `abs_or_delta_update`;
//! - segmentation tree / prediction probabilities are only replaced when the
//!   frame updates the map (prediction probabilities become 255 when the map
//!   is updated without temporal prediction) and are otherwise kept, even when
//!   segmentation is disabled;
//! - `loop_filter_delta_update` keeps its last value on frames that disable
//!   the deltas (GStreamer's parser does not clear it).
//!
//! Parsing works on a copy of the state that is committed only on success, so
//! a malformed frame leaves the context untouched. Every read is bounds
//! checked ([`CodecError::Truncated`]); nothing here panics on any input.

use crate::codec::CodecError;

/// MSB-first bit reader over a byte slice (VP9 has no emulation prevention).
#[derive(Clone, Debug)]
pub struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader on the first bit of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// Bits consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// `f(n)`: an unsigned n-bit number, n <= 32.
    pub fn f(&mut self, n: u32) -> Result<u32, CodecError> {
        let mut v: u32 = 0;
        for _ in 0..n.min(32) {
            let byte = *self.data.get(self.pos / 8).ok_or(CodecError::Truncated)?;
            let bit = (byte >> (7 - (self.pos % 8))) & 1;
            v = (v << 1) | u32::from(bit);
            self.pos += 1;
        }
        Ok(v)
    }

    /// One bit as a flag.
    pub fn flag(&mut self) -> Result<bool, CodecError> {
        Ok(self.f(1)? == 1)
    }

    /// `su(n)`: n-bit magnitude followed by a sign bit.
    pub fn su(&mut self, n: u32) -> Result<i32, CodecError> {
        let v = self.f(n)? as i32;
        Ok(if self.flag()? { -v } else { v })
    }
}

/// Loop filter parameters (current values after applying the persistent state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoopFilter {
    /// loop_filter_level.
    pub level: u8,
    /// loop_filter_sharpness.
    pub sharpness: u8,
    /// loop_filter_delta_enabled.
    pub delta_enabled: bool,
    /// loop_filter_delta_update (persistent when the deltas are disabled, as in GStreamer).
    pub delta_update: bool,
    /// loop_filter_ref_deltas[INTRA, LAST, GOLDEN, ALTREF] (persistent).
    pub ref_deltas: [i8; 4],
    /// loop_filter_mode_deltas (persistent).
    pub mode_deltas: [i8; 2],
}

/// Quantisation parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quantization {
    /// base_q_idx.
    pub base_q_idx: u8,
    /// delta_q_y_dc.
    pub delta_q_y_dc: i8,
    /// delta_q_uv_dc.
    pub delta_q_uv_dc: i8,
    /// delta_q_uv_ac.
    pub delta_q_uv_ac: i8,
}

impl Quantization {
    /// `Lossless` of §7.2.9.
    pub fn lossless(&self) -> bool {
        self.base_q_idx == 0 && self.delta_q_y_dc == 0 && self.delta_q_uv_dc == 0 && self.delta_q_uv_ac == 0
    }
}

/// Segmentation parameters (current values after applying the persistent state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segmentation {
    /// segmentation_enabled.
    pub enabled: bool,
    /// segmentation_update_map.
    pub update_map: bool,
    /// segmentation_temporal_update.
    pub temporal_update: bool,
    /// segmentation_update_data.
    pub update_data: bool,
    /// segmentation_abs_or_delta_update (persistent).
    pub abs_or_delta_update: bool,
    /// segmentation_tree_probs (persistent, 255 = not coded).
    pub tree_probs: [u8; 7],
    /// segmentation_pred_prob (persistent, 255 = not coded).
    pub pred_probs: [u8; 3],
    /// feature_enabled[segment][ALT_Q, ALT_L, REF_FRAME, SKIP] (persistent).
    pub feature_enabled: [[bool; 4]; 8],
    /// feature_value[segment][feature] (persistent).
    pub feature_data: [[i16; 4]; 8],
}

/// Colour configuration (§6.2.2), persistent between key / intra-only frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColorConfig {
    /// 8, 10 or 12.
    pub bit_depth: u8,
    /// color_space.
    pub color_space: u8,
    /// color_range (true = full swing).
    pub color_range: bool,
    /// subsampling_x.
    pub subsampling_x: bool,
    /// subsampling_y.
    pub subsampling_y: bool,
}

impl Default for ColorConfig {
    fn default() -> Self {
        ColorConfig { bit_depth: 8, color_space: 0, color_range: false, subsampling_x: true, subsampling_y: true }
    }
}

/// What persists from frame to frame in one stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParserState {
    /// Loop filter memory.
    pub lf: LoopFilter,
    /// Segmentation memory.
    pub seg: Segmentation,
    /// Colour config of the last key / intra-only frame; None before the first one.
    pub color: Option<ColorConfig>,
    /// Frame size held by each of the eight reference slots (None = never written).
    pub ref_sizes: [Option<(u32, u32)>; 8],
}

/// The uncompressed header of one frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UncompressedHeader {
    /// profile (0..3).
    pub profile: u8,
    /// show_existing_frame.
    pub show_existing_frame: bool,
    /// frame_to_show_map_idx (only with show_existing_frame).
    pub frame_to_show_map_idx: u8,
    /// frame_type == KEY_FRAME.
    pub key_frame: bool,
    /// show_frame.
    pub show_frame: bool,
    /// error_resilient_mode.
    pub error_resilient_mode: bool,
    /// intra_only (false for key frames).
    pub intra_only: bool,
    /// reset_frame_context as coded (0..3).
    pub reset_frame_context: u8,
    /// Colour config in effect for this frame (coded or inherited).
    pub color: ColorConfig,
    /// refresh_frame_flags (0xff for key frames).
    pub refresh_frame_flags: u8,
    /// ref_frame_idx[LAST, GOLDEN, ALTREF] (0 on intra frames).
    pub ref_frame_idx: [u8; 3],
    /// ref_frame_sign_bias[LAST, GOLDEN, ALTREF] (false on intra frames).
    pub ref_frame_sign_bias: [bool; 3],
    /// Index `i` of the first found_ref[i] set (size copied from ref_frame_idx[i]).
    pub found_ref: Option<u8>,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Render width (= width unless render_and_frame_size_different).
    pub render_width: u32,
    /// Render height.
    pub render_height: u32,
    /// allow_high_precision_mv.
    pub allow_high_precision_mv: bool,
    /// is_filter_switchable.
    pub is_filter_switchable: bool,
    /// raw_interpolation_filter (the 2-bit literal, when not switchable).
    pub raw_interpolation_filter: u8,
    /// refresh_frame_context (0 when error resilient).
    pub refresh_frame_context: bool,
    /// frame_parallel_decoding_mode (1 when error resilient).
    pub frame_parallel_decoding_mode: bool,
    /// frame_context_idx.
    pub frame_context_idx: u8,
    /// Loop filter.
    pub lf: LoopFilter,
    /// Quantisation.
    pub quant: Quantization,
    /// Segmentation.
    pub seg: Segmentation,
    /// tile_cols_log2.
    pub tile_cols_log2: u8,
    /// tile_rows_log2.
    pub tile_rows_log2: u8,
    /// header_size_in_bytes: size of the compressed header.
    pub header_size_in_bytes: u16,
    /// Size of the uncompressed header in bytes, trailing bits included.
    pub uncompressed_header_size: usize,
}

impl UncompressedHeader {
    /// FrameIsIntra.
    pub fn is_intra(&self) -> bool {
        self.key_frame || self.intra_only
    }

    /// Interpolation filter in V4L2 numbering (`V4L2_VP9_INTERP_FILTER_*`:
    /// EIGHTTAP 0, EIGHTTAP_SMOOTH 1, EIGHTTAP_SHARP 2, BILINEAR 3, SWITCHABLE 4).
    /// The coded literal uses literal_to_type = {SMOOTH, EIGHTTAP, SHARP, BILINEAR}.
    /// Intra frames code no filter: 0, as GStreamer sends.
    pub fn v4l2_interpolation_filter(&self) -> u8 {
        if self.is_intra() {
            0
        } else if self.is_filter_switchable {
            4
        } else {
            [1, 0, 2, 3][usize::from(self.raw_interpolation_filter & 3)]
        }
    }
}

const SYNC_CODE: u32 = 0x49_83_42;

/// Parses the uncompressed header at the start of `data` (one frame, not a
/// superframe), updating `state` on success only.
///
/// `size_hint` is used for `frame_size_with_refs()` when the referenced slot's
/// size is unknown to `state` (e.g. decoding started mid-stream): the VA
/// picture parameters carry the frame size.
pub fn parse_uncompressed_header(
    data: &[u8],
    state: &mut ParserState,
    size_hint: Option<(u32, u32)>,
) -> Result<UncompressedHeader, CodecError> {
    let mut st = state.clone();
    let h = parse_inner(data, &mut st, size_hint)?;
    *state = st;
    Ok(h)
}

fn parse_color_config(r: &mut BitReader, profile: u8) -> Result<ColorConfig, CodecError> {
    let bit_depth = if profile >= 2 {
        if r.flag()? {
            12
        } else {
            10
        }
    } else {
        8
    };
    let color_space = r.f(3)? as u8;
    let mut c = ColorConfig { bit_depth, color_space, color_range: false, subsampling_x: true, subsampling_y: true };
    if color_space != 7 {
        c.color_range = r.flag()?;
        if profile == 1 || profile == 3 {
            c.subsampling_x = r.flag()?;
            c.subsampling_y = r.flag()?;
            if c.subsampling_x && c.subsampling_y {
                return Err(CodecError::Invalid("VP9 4:2:0 in profile 1/3"));
            }
            if r.flag()? {
                return Err(CodecError::Invalid("VP9 color_config reserved_zero"));
            }
        }
    } else {
        c.color_range = true;
        if profile == 1 || profile == 3 {
            c.subsampling_x = false;
            c.subsampling_y = false;
            if r.flag()? {
                return Err(CodecError::Invalid("VP9 color_config reserved_zero"));
            }
        } else {
            return Err(CodecError::Invalid("VP9 sRGB in profile 0/2"));
        }
    }
    Ok(c)
}

fn read_size(r: &mut BitReader) -> Result<(u32, u32), CodecError> {
    let w = r.f(16)? + 1;
    let h = r.f(16)? + 1;
    Ok((w, h))
}

fn read_render_size(r: &mut BitReader, h: &mut UncompressedHeader) -> Result<(), CodecError> {
    if r.flag()? {
        let (w, hh) = read_size(r)?;
        h.render_width = w;
        h.render_height = hh;
    } else {
        h.render_width = h.width;
        h.render_height = h.height;
    }
    Ok(())
}

fn setup_past_independence(st: &mut ParserState) {
    st.seg.feature_enabled = [[false; 4]; 8];
    st.seg.feature_data = [[0; 4]; 8];
    st.seg.abs_or_delta_update = false;
    st.lf.delta_enabled = true;
    st.lf.ref_deltas = [1, 0, -1, -1];
    st.lf.mode_deltas = [0, 0];
}

fn read_prob(r: &mut BitReader) -> Result<u8, CodecError> {
    Ok(if r.flag()? { r.f(8)? as u8 } else { 255 })
}

fn parse_inner(data: &[u8], st: &mut ParserState, size_hint: Option<(u32, u32)>) -> Result<UncompressedHeader, CodecError> {
    let mut r = BitReader::new(data);
    let mut h = UncompressedHeader::default();
    if r.f(2)? != 2 {
        return Err(CodecError::Invalid("VP9 frame_marker"));
    }
    let lo = r.f(1)? as u8;
    let hi = r.f(1)? as u8;
    h.profile = (hi << 1) | lo;
    if h.profile == 3 && r.flag()? {
        return Err(CodecError::Invalid("VP9 reserved_zero after profile"));
    }
    h.show_existing_frame = r.flag()?;
    if h.show_existing_frame {
        h.frame_to_show_map_idx = r.f(3)? as u8;
        h.uncompressed_header_size = r.position().div_ceil(8);
        return Ok(h);
    }
    h.key_frame = !r.flag()?; // frame_type: 0 = KEY_FRAME
    h.show_frame = r.flag()?;
    h.error_resilient_mode = r.flag()?;
    if h.key_frame {
        if r.f(24)? != SYNC_CODE {
            return Err(CodecError::Invalid("VP9 frame_sync_code"));
        }
        let c = parse_color_config(&mut r, h.profile)?;
        st.color = Some(c);
        h.color = c;
        let (w, hh) = read_size(&mut r)?;
        h.width = w;
        h.height = hh;
        read_render_size(&mut r, &mut h)?;
        h.refresh_frame_flags = 0xff;
    } else {
        if !h.show_frame {
            h.intra_only = r.flag()?;
        }
        if !h.error_resilient_mode {
            h.reset_frame_context = r.f(2)? as u8;
        }
        if h.intra_only {
            if r.f(24)? != SYNC_CODE {
                return Err(CodecError::Invalid("VP9 frame_sync_code"));
            }
            let c = if h.profile > 0 { parse_color_config(&mut r, h.profile)? } else { ColorConfig::default() };
            st.color = Some(c);
            h.color = c;
            h.refresh_frame_flags = r.f(8)? as u8;
            let (w, hh) = read_size(&mut r)?;
            h.width = w;
            h.height = hh;
            read_render_size(&mut r, &mut h)?;
        } else {
            h.color = st.color.unwrap_or_default();
            h.refresh_frame_flags = r.f(8)? as u8;
            for i in 0..3 {
                h.ref_frame_idx[i] = r.f(3)? as u8;
                h.ref_frame_sign_bias[i] = r.flag()?;
            }
            for i in 0..3u8 {
                if r.flag()? {
                    h.found_ref = Some(i);
                    break;
                }
            }
            match h.found_ref {
                Some(i) => {
                    let slot = usize::from(h.ref_frame_idx[usize::from(i)]);
                    let (w, hh) = st.ref_sizes[slot].or(size_hint).ok_or(CodecError::MissingReference)?;
                    h.width = w;
                    h.height = hh;
                }
                None => {
                    let (w, hh) = read_size(&mut r)?;
                    h.width = w;
                    h.height = hh;
                }
            }
            read_render_size(&mut r, &mut h)?;
            h.allow_high_precision_mv = r.flag()?;
            h.is_filter_switchable = r.flag()?;
            if !h.is_filter_switchable {
                h.raw_interpolation_filter = r.f(2)? as u8;
            }
        }
    }
    if !h.error_resilient_mode {
        h.refresh_frame_context = r.flag()?;
        h.frame_parallel_decoding_mode = r.flag()?;
    } else {
        h.refresh_frame_context = false;
        h.frame_parallel_decoding_mode = true;
    }
    h.frame_context_idx = r.f(2)? as u8;
    if h.is_intra() || h.error_resilient_mode {
        setup_past_independence(st);
    }

    // Loop filter params (§6.2.8), into the persistent state.
    st.lf.level = r.f(6)? as u8;
    st.lf.sharpness = r.f(3)? as u8;
    st.lf.delta_enabled = r.flag()?;
    if st.lf.delta_enabled {
        st.lf.delta_update = r.flag()?;
        if st.lf.delta_update {
            for i in 0..4 {
                if r.flag()? {
                    st.lf.ref_deltas[i] = r.su(6)? as i8;
                }
            }
            for i in 0..2 {
                if r.flag()? {
                    st.lf.mode_deltas[i] = r.su(6)? as i8;
                }
            }
        }
    }
    h.lf = st.lf;

    // Quantisation params (§6.2.9).
    h.quant.base_q_idx = r.f(8)? as u8;
    let delta_q = |r: &mut BitReader| -> Result<i8, CodecError> { Ok(if r.flag()? { r.su(4)? as i8 } else { 0 }) };
    h.quant.delta_q_y_dc = delta_q(&mut r)?;
    h.quant.delta_q_uv_dc = delta_q(&mut r)?;
    h.quant.delta_q_uv_ac = delta_q(&mut r)?;

    // Segmentation params (§6.2.11), into the persistent state.
    st.seg.update_map = false;
    st.seg.update_data = false;
    st.seg.temporal_update = false;
    st.seg.enabled = r.flag()?;
    if st.seg.enabled {
        st.seg.update_map = r.flag()?;
        if st.seg.update_map {
            for i in 0..7 {
                st.seg.tree_probs[i] = read_prob(&mut r)?;
            }
            st.seg.temporal_update = r.flag()?;
            for i in 0..3 {
                st.seg.pred_probs[i] = if st.seg.temporal_update { read_prob(&mut r)? } else { 255 };
            }
        }
        st.seg.update_data = r.flag()?;
        if st.seg.update_data {
            st.seg.abs_or_delta_update = r.flag()?;
            const BITS: [u32; 4] = [8, 6, 2, 0];
            const SIGNED: [bool; 4] = [true, true, false, false];
            for seg in 0..8 {
                for feat in 0..4 {
                    let enabled = r.flag()?;
                    st.seg.feature_enabled[seg][feat] = enabled;
                    let mut value = 0i32;
                    if enabled && BITS[feat] > 0 {
                        value = if SIGNED[feat] { r.su(BITS[feat])? } else { r.f(BITS[feat])? as i32 };
                    }
                    st.seg.feature_data[seg][feat] = value as i16;
                }
            }
        }
    }
    h.seg = st.seg;

    // Tile info (§6.2.13).
    if h.width == 0 || h.height == 0 || h.width > 65536 || h.height > 65536 {
        return Err(CodecError::Invalid("VP9 frame size"));
    }
    let mi_cols = h.width.div_ceil(8);
    let sb64_cols = mi_cols.div_ceil(8);
    let mut min_log2 = 0u32;
    while (64u32 << min_log2) < sb64_cols {
        min_log2 += 1;
    }
    let mut max_log2 = 1u32;
    while (sb64_cols >> max_log2) >= 4 {
        max_log2 += 1;
    }
    max_log2 -= 1;
    let mut cols = min_log2;
    while cols < max_log2 {
        if r.flag()? {
            cols += 1;
        } else {
            break;
        }
    }
    if cols > 6 {
        return Err(CodecError::Invalid("VP9 tile_cols_log2"));
    }
    h.tile_cols_log2 = cols as u8;
    let mut rows = r.f(1)?;
    if rows == 1 {
        rows += r.f(1)?;
    }
    h.tile_rows_log2 = rows as u8;

    h.header_size_in_bytes = r.f(16)? as u16;
    if h.header_size_in_bytes == 0 {
        return Err(CodecError::Invalid("VP9 header_size_in_bytes == 0"));
    }
    h.uncompressed_header_size = r.position().div_ceil(8);
    if h.uncompressed_header_size + usize::from(h.header_size_in_bytes) > data.len() {
        return Err(CodecError::Truncated);
    }

    for (i, slot) in st.ref_sizes.iter_mut().enumerate() {
        if h.refresh_frame_flags & (1 << i) != 0 {
            *slot = Some((h.width, h.height));
        }
    }
    Ok(h)
}
