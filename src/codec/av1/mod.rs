//! AV1: VA-API buffers → V4L2 stateless AV1 controls.
//!
//! # The idea
//!
//! FFmpeg (`vaapi_av1.c`) sends one `VADecPictureParameterBufferAV1` per frame
//! and, per tile, one `VASliceParameterBufferAV1` whose `slice_data_offset` /
//! `slice_data_size` locate the tile inside a slice data buffer. That buffer
//! is the *tile data of one tile group* (`tile_data` of an OBU_FRAME or
//! OBU_TILE_GROUP after its headers): FFmpeg 5.x copies it once per tile,
//! FFmpeg 6.1+ once per tile group with all the tile's parameters. The
//! offsets skip the `tile_size_minus_1` fields. **The frame header OBU is
//! never handed over**, so unlike VP9 nothing can be re-parsed: every control
//! field comes from VA, from what earlier frames told us ([`Av1State`]), or is
//! derived by the rules of the AV1 specification.
//!
//! OUTPUT buffer ([`append_bitstream`]): the tiles' payloads, concatenated in
//! the order given; `V4L2_CID_STATELESS_AV1_TILE_GROUP_ENTRY` names each one
//! by offset into that buffer, size, row and column. (GStreamer queues the
//! whole OBUs instead; both are valid for `V4L2_PIX_FMT_AV1_FRAME` because the
//! tile entries carry the offsets.)
//!
//! # What VA lacks, and how it is filled in
//!
//! Exact derivations (spec rules):
//! - `order_hints[]`, `skip_mode_frame[]` / SKIP_MODE_ALLOWED: from the order
//!   hint each reference surface was decoded with (remembered per surface);
//! - tile `mi_col_starts` / `mi_row_starts` from the tile sizes; `tile_size_bytes`
//!   from the gap the size fields leave between VA tile offsets (0 for a
//!   single-tile frame, where it is not coded);
//! - `seg_id_pre_skip`, `last_active_seg_id` from the feature mask;
//! - `diff_uv_delta` from the u/v deltas differing; `loop_restoration_size`
//!   from the shifts; CDEF strengths split from VA's packed `pri << 2 | sec`
//!   (secondary 3 means 4, as in the spec and the kernel drivers);
//! - global motion `is_global` / `is_rot_zoom` / `is_translation` from the type;
//! - film grain `ar_coeffs_*_plus_128` (FFmpeg subtracts 128 from every entry).
//! - `refresh_frame_flags` is 0xff for shown key frames and switch frames.
//!
//! Not in VA, best effort (documented, see [`build_controls_with_state`]):
//! - `refresh_frame_flags` of other frames. It is only known one frame late:
//!   the next frame's `ref_frame_map` shows which slots took the surface
//!   ([`Av1Controls::previous_refresh_frame_flags`]). Until then we send the
//!   previous frame's observed flags (`refresh_frame_flags_exact == false`).
//! - sequence `enable_warped_motion`, `enable_ref_frame_mvs`,
//!   `enable_superres`, `enable_restoration`, `separate_uv_delta_q`: set as soon
//!   as a frame uses the tool; before that libaom's defaults (warped motion on,
//!   ref frame MVs on with order hints, the others off);
//! - `max_frame_{width,height}_minus_1`: the largest frame seen so far, and
//!   FRAME_SIZE_OVERRIDE set for frames smaller than that;
//! - render size = frame size (upscaled width × height);
//! - `current_frame_id`, `buffer_removal_time[]`,
//!   BUFFER_REMOVAL_TIME_PRESENT, FRAME_REFS_SHORT_SIGNALING: 0 (VA already
//!   resolved the references; no decoder needs them);
//! - film grain `update_grain` is always set and `film_grain_params_ref_idx`
//!   is 0: FFmpeg hands over the effective (loaded) parameters.
//!
//! How the driver uses it:
//! - read the eight union words at the VA edge into [`Av1Picture`];
//! - pair every slice parameter with the slice data buffer it came with
//!   ([`Av1Tile`]);
//! - keep one [`Av1State`] per context, call [`build_controls_with_state`] in
//!   decode order, set [`Av1Controls::specs`], fill OUTPUT with
//!   [`append_bitstream`].

pub mod fields;

use std::collections::HashMap;

use crate::codec::h264::RefResolver;
use crate::codec::CodecError;
use crate::va_sys::ffi::{VADecPictureParameterBufferAV1, VASliceParameterBufferAV1, VASurfaceID, VA_INVALID_SURFACE};
#[cfg(test)]
use crate::va_sys::ffi::{VAProfile, VAProfileAV1Profile0};
use fields::{FilmGrainInfo, LoopFilterInfo, LoopRestorationInfo, ModeControl, PicInfo, QmatrixInfo, SegmentInfo, SeqInfo};
use v4l2r::bindings as b;
use v4l2r::bindings::{v4l2_ctrl_av1_film_grain, v4l2_ctrl_av1_frame, v4l2_ctrl_av1_sequence, v4l2_ctrl_av1_tile_group_entry};

/// AV1 frame types.
const KEY_FRAME: u8 = 0;
const INTRA_ONLY_FRAME: u8 = 2;
const SWITCH_FRAME: u8 = 3;

/// VA profiles to advertise. AV1 Main (Profile0) covers 8- and 10-bit 4:2:0;
/// `ten_bit` only decides whether 10-bit streams are accepted (see
/// [`accepts_bit_depth`]), the profile list is the same.
#[cfg(test)]
pub fn va_profiles(_ten_bit: bool) -> Vec<VAProfile> {
    vec![VAProfileAV1Profile0]
}

/// Whether a stream with VA `bit_depth_idx` (0 = 8, 1 = 10, 2 = 12 bit) can be
/// decoded by a device with (`ten_bit`) or without a 10-bit CAPTURE format.
pub fn accepts_bit_depth(bit_depth_idx: u8, ten_bit: bool) -> bool {
    bit_depth_idx == 0 || (bit_depth_idx == 1 && ten_bit)
}

/// One tile: its VA parameters and the slice data buffer they index.
#[derive(Clone, Copy)]
pub struct Av1Tile<'a> {
    /// The slice parameter (one per tile).
    pub param: VASliceParameterBufferAV1,
    /// The whole slice data buffer the parameter came with (the tile group's
    /// tile data); `param.slice_data_offset .. + slice_data_size` is the tile.
    pub data: &'a [u8],
}

impl Av1Tile<'_> {
    fn payload(&self) -> Option<&[u8]> {
        let start = self.param.slice_data_offset as usize;
        let end = start.checked_add(self.param.slice_data_size as usize)?;
        self.data.get(start..end)
    }
}

/// Everything VA gave for one frame. The `*_fields` words are the unions'
/// `.value`, read at the VA edge (reading a union is `unsafe`).
#[derive(Clone, Copy)]
pub struct Av1Picture<'a> {
    /// Picture parameter buffer.
    pub pic: &'a VADecPictureParameterBufferAV1,
    /// `pic.seq_info_fields.value`.
    pub seq_info_fields: u32,
    /// `pic.pic_info_fields.value`.
    pub pic_info_fields: u32,
    /// `pic.loop_filter_info_fields.value`.
    pub loop_filter_info_fields: u8,
    /// `pic.qmatrix_fields.value`.
    pub qmatrix_fields: u16,
    /// `pic.mode_control_fields.value`.
    pub mode_control_fields: u32,
    /// `pic.loop_restoration_fields.value`.
    pub loop_restoration_fields: u16,
    /// `pic.seg_info.segment_info_fields.value`.
    pub segment_info_fields: u32,
    /// `pic.film_grain_info.film_grain_info_fields.value`.
    pub film_grain_info_fields: u32,
    /// The tiles, in decode order.
    pub tiles: &'a [Av1Tile<'a>],
}

/// The V4L2 controls for one frame.
#[derive(Clone, Debug)]
pub struct Av1Controls {
    /// V4L2_CID_STATELESS_AV1_SEQUENCE.
    pub sequence: v4l2_ctrl_av1_sequence,
    /// V4L2_CID_STATELESS_AV1_FRAME.
    pub frame: v4l2_ctrl_av1_frame,
    /// V4L2_CID_STATELESS_AV1_TILE_GROUP_ENTRY, one per tile.
    pub tile_group_entries: Vec<v4l2_ctrl_av1_tile_group_entry>,
    /// V4L2_CID_STATELESS_AV1_FILM_GRAIN, when the sequence has film grain.
    pub film_grain: Option<v4l2_ctrl_av1_film_grain>,
    /// Whether `frame.refresh_frame_flags` is known (shown key frame, switch
    /// frame) rather than predicted.
    pub refresh_frame_flags_exact: bool,
    /// The true `refresh_frame_flags` of the previous frame, as this frame's
    /// `ref_frame_map` reveals it (None after a key frame or at the start).
    #[cfg(test)]
    pub previous_refresh_frame_flags: Option<u8>,
}

impl Av1Controls {
    /// The payloads: SEQUENCE, FRAME, TILE_GROUP_ENTRY (array), FILM_GRAIN.
    pub fn specs(&self) -> crate::codec::Specs<'_, 4> {
        let mut v = crate::codec::Specs::new(crate::v4l2::ControlSpec::new(&self.sequence));
        v.push(crate::v4l2::ControlSpec::new(&self.frame));
        v.push(crate::v4l2::ControlSpec::from_slice(&self.tile_group_entries));
        if let Some(fg) = &self.film_grain {
            v.push(crate::v4l2::ControlSpec::new(fg));
        }
        v
    }
}

/// What a decoded surface holds, as far as later frames care.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SurfaceInfo {
    order_hint: u8,
}

/// Per-stream memory. One per VA context; reset (`Default`) on seek / flush.
#[derive(Clone, Debug, Default)]
pub struct Av1State {
    /// Order hint each surface was last decoded with.
    surfaces: HashMap<VASurfaceID, SurfaceInfo>,
    /// (profile, bit_depth_idx, seq_info_fields, order_hint_bits_minus_1) of
    /// the current sequence; a change resets the sticky flags below.
    sequence_key: Option<(u8, u8, u32, u8)>,
    /// Sequence flags VA omits, learnt from frames using the tools.
    seen_warped_motion: bool,
    seen_ref_frame_mvs: bool,
    seen_superres: bool,
    seen_restoration: bool,
    seen_separate_uv_delta_q: bool,
    /// Largest upscaled frame size seen in the sequence.
    max_size: (u32, u32),
    /// Surface of the previous frame (to observe its refresh flags).
    previous_surface: Option<VASurfaceID>,
    /// Refresh prediction for pictures whose flags are not known yet ([`RefreshPredictor`]).
    refresh: RefreshPredictor,
    /// The map of the state before the last picture: the next picture's
    /// working copy is cloned into it (no allocation per picture).
    spare_surfaces: HashMap<VASurfaceID, SurfaceInfo>,
    /// The tile list of a submitted picture's controls ([`Av1State::reuse`]).
    spare_tiles: Vec<v4l2_ctrl_av1_tile_group_entry>,
}

impl Av1State {
    /// Take back the tile list of a picture's controls once they were
    /// submitted: the next picture fills it again.
    pub fn reuse(&mut self, ctrls: Av1Controls) {
        let mut tiles = ctrls.tile_group_entries;
        tiles.clear();
        self.spare_tiles = tiles;
    }
}

/// Predicts `refresh_frame_flags` of a picture that must be queued before the next
/// picture shows its true flags (an application that syncs each frame at once).
///
/// The true flags of every picture are learnt one picture late (from the next
/// `ref_frame_map`), so the sequence of flags is known up to the previous picture.
/// Encoders refresh slots in a repeating pattern (libaom's real-time mode rotates the
/// LAST slot 1, 2, 4, .. 32, 1, ..), so the prediction is what followed the previous
/// picture's flags the last time they occurred; before a pattern has been seen, a single
/// slot is followed by the next slot (a rotation), anything else by itself.
#[derive(Clone, Debug)]
pub struct RefreshPredictor {
    /// Exact flags of the picture before the previous one, and of the previous one.
    before_last: Option<u8>,
    last: Option<u8>,
    /// `successor[f]`: the flags that last followed a picture with flags `f`.
    successor: [Option<u8>; 256],
}

impl Default for RefreshPredictor {
    fn default() -> Self {
        RefreshPredictor { before_last: None, last: None, successor: [None; 256] }
    }
}

impl RefreshPredictor {
    /// The previous picture's flags became known (`None`: not observable, e.g. the
    /// current picture is a key frame with an empty map).
    fn learn_previous(&mut self, flags: Option<u8>) {
        if let Some(t) = flags {
            if let Some(b) = self.before_last {
                self.successor[usize::from(b)] = Some(t);
            }
            self.last = Some(t);
        }
    }

    /// The prediction for the current picture.
    fn predict(&self) -> u8 {
        match self.last {
            Some(p) => self.successor[usize::from(p)].unwrap_or(if p.count_ones() == 1 { p.rotate_left(1) } else { p }),
            None => 0x01,
        }
    }

    /// Move on to the next picture; `exact` are the current picture's flags if known now.
    fn advance(&mut self, exact: Option<u8>) {
        self.before_last = self.last;
        self.last = exact;
    }
}

impl Av1State {
    /// The order hint `surface` was decoded with, if we decoded it.
    #[cfg(test)]
    pub fn order_hint_of(&self, surface: VASurfaceID) -> Option<u8> {
        self.surfaces.get(&surface).map(|s| s.order_hint)
    }
}

/// Stateless translation (fresh [`Av1State`]): exact only where nothing is
/// learnt from earlier frames. Drivers use [`build_controls_with_state`].
#[cfg(test)]
pub fn build_controls(p: &Av1Picture, refs: &dyn RefResolver) -> Result<Av1Controls, CodecError> {
    build_controls_with_state(p, refs, &mut Av1State::default())
}

/// get_relative_dist() of the spec.
fn relative_dist(a: u32, b: u32, enable_order_hint: bool, order_hint_bits: u32) -> i32 {
    if !enable_order_hint || order_hint_bits == 0 || order_hint_bits > 31 {
        return 0;
    }
    let diff = a.wrapping_sub(b) as i32;
    let m = 1i32 << (order_hint_bits - 1);
    (diff & (m - 1)) - (diff & m)
}

/// skip_mode_params(): SkipModeFrame[0..2] (reference frame types), or None
/// when skip mode is not allowed.
fn skip_mode_frames(
    intra: bool,
    reference_select: bool,
    enable_order_hint: bool,
    order_hint_bits: u32,
    order_hint: u32,
    ref_hints: &[u32; 7],
) -> Option<[u8; 2]> {
    if intra || !reference_select || !enable_order_hint {
        return None;
    }
    let dist = |a: u32, b: u32| relative_dist(a, b, enable_order_hint, order_hint_bits);
    let mut forward: Option<(usize, u32)> = None;
    let mut backward: Option<(usize, u32)> = None;
    for (i, &h) in ref_hints.iter().enumerate() {
        let d = dist(h, order_hint);
        if d < 0 {
            if forward.is_none_or(|(_, fh)| dist(h, fh) > 0) {
                forward = Some((i, h));
            }
        } else if d > 0 && backward.is_none_or(|(_, bh)| dist(h, bh) < 0) {
            backward = Some((i, h));
        }
    }
    let (fi, fh) = forward?;
    let other = match backward {
        Some((bi, _)) => bi,
        None => {
            let mut second: Option<(usize, u32)> = None;
            for (i, &h) in ref_hints.iter().enumerate() {
                if dist(h, fh) < 0 && second.is_none_or(|(_, sh)| dist(h, sh) > 0) {
                    second = Some((i, h));
                }
            }
            second?.0
        }
    };
    Some([1 + fi.min(other) as u8, 1 + fi.max(other) as u8])
}

/// VA picture → V4L2 controls, with the stream memory in `state`.
///
/// Field sources (GStreamer `v4l2slav1dec` semantics where VA has the value):
/// SEQUENCE flags, profile, `order_hint_bits` (0 without order hints),
/// `bit_depth` from `seq_info_fields` / `bit_depth_idx`; FRAME from
/// `pic_info_fields` and the plain members, `frame_width_minus_1` being the
/// coded width after superres downscaling and `upscaled_width` VA's
/// `frame_width_minus1 + 1`; `reference_frame_ts[i]` from `ref_frame_map[i]`
/// (0 for an empty or unknown slot, as GStreamer does); `ref_frame_idx` as
/// given. Global motion entry 0 (intra) stays zero like GStreamer's.
///
/// `refresh_frame_flags`: 0xff for a shown key frame and a switch frame;
/// otherwise the previous frame's observed flags (or 0x01 if none were seen
/// yet) — a prediction, flagged by `refresh_frame_flags_exact == false`.
///
/// Errors: `NoSlices` without tiles, `Invalid` for tiles outside their buffer
/// or impossible tile counts, `Unsupported` for profiles 1/2, 12-bit,
/// large-scale tile, `MissingReference` when an inter frame's reference slot
/// names an unknown surface. State is updated only on success.
pub fn build_controls_with_state(p: &Av1Picture, refs: &dyn RefResolver, state: &mut Av1State) -> Result<Av1Controls, CodecError> {
    let pic = p.pic;
    let seq = SeqInfo::from_value(p.seq_info_fields);
    let info = PicInfo::from_value(p.pic_info_fields);
    let lf = LoopFilterInfo::from_value(p.loop_filter_info_fields);
    let qm = QmatrixInfo::from_value(p.qmatrix_fields);
    let mode = ModeControl::from_value(p.mode_control_fields);
    let lr = LoopRestorationInfo::from_value(p.loop_restoration_fields);
    let seg = SegmentInfo::from_value(p.segment_info_fields);
    let fg = FilmGrainInfo::from_value(p.film_grain_info_fields);

    if p.tiles.is_empty() {
        return Err(CodecError::NoSlices);
    }
    if pic.profile != 0 {
        return Err(CodecError::Unsupported("AV1 profiles other than Main"));
    }
    let bit_depth = match pic.bit_depth_idx {
        0 => 8,
        1 => 10,
        _ => return Err(CodecError::Unsupported("12-bit AV1")),
    };
    if pic.order_hint_bits_minus_1 > 7 {
        return Err(CodecError::Invalid("AV1 order_hint_bits_minus_1 > 7"));
    }
    if info.large_scale_tile {
        return Err(CodecError::Unsupported("AV1 large-scale tile"));
    }
    let tile_cols = usize::from(pic.tile_cols);
    let tile_rows = usize::from(pic.tile_rows);
    if tile_cols == 0
        || tile_rows == 0
        || tile_cols > pic.width_in_sbs_minus_1.len()
        || tile_rows > pic.height_in_sbs_minus_1.len()
        || tile_cols * tile_rows > b::V4L2_AV1_MAX_TILE_COUNT as usize
    {
        return Err(CodecError::Invalid("AV1 tile_cols / tile_rows"));
    }
    if p.tiles.len() > tile_cols * tile_rows {
        return Err(CodecError::Invalid("AV1: more tiles than tile_cols * tile_rows"));
    }

    // The picture works on a copy (the state is unchanged when it fails); its
    // map and list are the kept ones, not fresh allocations.
    let saved_surfaces = std::mem::take(&mut state.surfaces);
    let spare_tiles = std::mem::take(&mut state.spare_tiles);
    let mut surfaces = std::mem::take(&mut state.spare_surfaces);
    let mut st = state.clone();
    state.surfaces = saved_surfaces;
    surfaces.clone_from(&state.surfaces);
    st.surfaces = surfaces;
    let key = (pic.profile, pic.bit_depth_idx, p.seq_info_fields, pic.order_hint_bits_minus_1);
    if st.sequence_key != Some(key) {
        st.sequence_key = Some(key);
        st.seen_warped_motion = false;
        st.seen_ref_frame_mvs = false;
        st.seen_superres = false;
        st.seen_restoration = false;
        st.seen_separate_uv_delta_q = false;
        st.max_size = (0, 0);
    }

    let intra = info.frame_type == KEY_FRAME || info.frame_type == INTRA_ONLY_FRAME;
    let order_hint_bits = if seq.enable_order_hint { u32::from(pic.order_hint_bits_minus_1) + 1 } else { 0 };

    // Frame size: VA gives the upscaled size; superres shrinks the coded width.
    let upscaled_width = u32::from(pic.frame_width_minus1) + 1;
    let frame_height = u32::from(pic.frame_height_minus1) + 1;
    let denom = if info.use_superres { u32::from(pic.superres_scale_denominator).max(9) } else { 8 };
    let frame_width = ((upscaled_width * 8 + denom / 2) / denom).max(1);

    // Learn what the sequence header must have said.
    st.seen_warped_motion |= info.allow_warped_motion;
    st.seen_ref_frame_mvs |= info.use_ref_frame_mvs;
    st.seen_superres |= info.use_superres;
    st.seen_restoration |= lr.frame_restoration_type.iter().any(|&t| t != 0);
    let diff_uv_delta = pic.u_dc_delta_q != pic.v_dc_delta_q || pic.u_ac_delta_q != pic.v_ac_delta_q;
    st.seen_separate_uv_delta_q |= diff_uv_delta;
    st.max_size = (st.max_size.0.max(upscaled_width), st.max_size.1.max(frame_height));

    // References.
    let previous_refresh_frame_flags = match st.previous_surface {
        Some(prev) if info.frame_type != KEY_FRAME => {
            Some(pic.ref_frame_map.iter().enumerate().fold(0u8, |acc, (i, &s)| if s == prev { acc | (1 << i) } else { acc }))
        }
        _ => None,
    };
    st.refresh.learn_previous(previous_refresh_frame_flags);
    let mut reference_frame_ts = [0u64; 8];
    for (ts, &surface) in reference_frame_ts.iter_mut().zip(pic.ref_frame_map.iter()) {
        if surface != VA_INVALID_SURFACE {
            *ts = refs.timestamp(surface).unwrap_or(0);
        }
    }
    let mut ref_hints = [0u32; 7];
    let mut order_hints = [0u32; 8];
    if !intra {
        for (i, &idx) in pic.ref_frame_idx.iter().enumerate() {
            let surface = *pic.ref_frame_map.get(usize::from(idx)).ok_or(CodecError::Invalid("AV1 ref_frame_idx"))?;
            if surface == VA_INVALID_SURFACE || refs.timestamp(surface).is_none() {
                return Err(CodecError::MissingReference);
            }
            let hint = u32::from(st.surfaces.get(&surface).map_or(0, |s| s.order_hint));
            ref_hints[i] = hint;
            order_hints[i + 1] = hint;
        }
    }
    let skip =
        skip_mode_frames(intra, mode.reference_select, seq.enable_order_hint, order_hint_bits, u32::from(pic.order_hint), &ref_hints);

    let (refresh_frame_flags, refresh_frame_flags_exact) =
        if (info.frame_type == KEY_FRAME && info.show_frame) || info.frame_type == SWITCH_FRAME {
            (0xff, true)
        } else {
            (st.refresh.predict(), false)
        };
    st.refresh.advance(refresh_frame_flags_exact.then_some(refresh_frame_flags));

    // SEQUENCE.
    let flag = |c: bool, v: u32| if c { v } else { 0 };
    let flags = flag(seq.still_picture, b::V4L2_AV1_SEQUENCE_FLAG_STILL_PICTURE)
        | flag(seq.use_128x128_superblock, b::V4L2_AV1_SEQUENCE_FLAG_USE_128X128_SUPERBLOCK)
        | flag(seq.enable_filter_intra, b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_FILTER_INTRA)
        | flag(seq.enable_intra_edge_filter, b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_INTRA_EDGE_FILTER)
        | flag(seq.enable_interintra_compound, b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_INTERINTRA_COMPOUND)
        | flag(seq.enable_masked_compound, b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_MASKED_COMPOUND)
        | flag(st.seen_warped_motion || !seq.still_picture, b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_WARPED_MOTION)
        | flag(seq.enable_dual_filter, b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_DUAL_FILTER)
        | flag(seq.enable_order_hint, b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_ORDER_HINT)
        | flag(seq.enable_jnt_comp, b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_JNT_COMP)
        | flag(st.seen_ref_frame_mvs || seq.enable_order_hint, b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_REF_FRAME_MVS)
        | flag(st.seen_superres, b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_SUPERRES)
        | flag(seq.enable_cdef, b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_CDEF)
        | flag(st.seen_restoration, b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_RESTORATION)
        | flag(seq.mono_chrome, b::V4L2_AV1_SEQUENCE_FLAG_MONO_CHROME)
        | flag(seq.color_range, b::V4L2_AV1_SEQUENCE_FLAG_COLOR_RANGE)
        | flag(seq.subsampling_x, b::V4L2_AV1_SEQUENCE_FLAG_SUBSAMPLING_X)
        | flag(seq.subsampling_y, b::V4L2_AV1_SEQUENCE_FLAG_SUBSAMPLING_Y)
        | flag(seq.film_grain_params_present, b::V4L2_AV1_SEQUENCE_FLAG_FILM_GRAIN_PARAMS_PRESENT)
        | flag(st.seen_separate_uv_delta_q, b::V4L2_AV1_SEQUENCE_FLAG_SEPARATE_UV_DELTA_Q);
    let sequence = v4l2_ctrl_av1_sequence {
        flags,
        seq_profile: pic.profile,
        order_hint_bits: order_hint_bits as u8,
        bit_depth,
        max_frame_width_minus_1: (st.max_size.0 - 1) as u16,
        max_frame_height_minus_1: (st.max_size.1 - 1) as u16,
        ..Default::default()
    };

    // FRAME.
    let mut f = v4l2_ctrl_av1_frame::default();
    let (tile_info, tile_size_bytes) = tile_info(p, &seq, &info, frame_width, frame_height)?;
    f.tile_info = tile_info;
    f.tile_info.tile_size_bytes = tile_size_bytes;

    let q = &mut f.quantization;
    q.flags = (flag(diff_uv_delta, b::V4L2_AV1_QUANTIZATION_FLAG_DIFF_UV_DELTA)
        | flag(qm.using_qmatrix, b::V4L2_AV1_QUANTIZATION_FLAG_USING_QMATRIX)
        | flag(mode.delta_q_present_flag, b::V4L2_AV1_QUANTIZATION_FLAG_DELTA_Q_PRESENT)) as u8;
    q.base_q_idx = pic.base_qindex;
    q.delta_q_y_dc = pic.y_dc_delta_q;
    q.delta_q_u_dc = pic.u_dc_delta_q;
    q.delta_q_u_ac = pic.u_ac_delta_q;
    q.delta_q_v_dc = pic.v_dc_delta_q;
    q.delta_q_v_ac = pic.v_ac_delta_q;
    if qm.using_qmatrix {
        q.qm_y = qm.qm_y;
        q.qm_u = qm.qm_u;
        q.qm_v = qm.qm_v;
    }
    q.delta_q_res = mode.log2_delta_q_res;
    f.superres_denom = denom as u8;

    let s = &mut f.segmentation;
    let mut seg_id_pre_skip = false;
    let mut last_active_seg_id = 0u8;
    if seg.enabled {
        for (i, &mask) in pic.seg_info.feature_mask.iter().enumerate() {
            if mask != 0 {
                last_active_seg_id = i as u8;
            }
            if mask & 0xe0 != 0 {
                seg_id_pre_skip = true;
            }
            s.feature_enabled[i] = mask;
        }
        s.feature_data = pic.seg_info.feature_data;
    }
    s.flags = (flag(seg.enabled, b::V4L2_AV1_SEGMENTATION_FLAG_ENABLED)
        | flag(seg.update_map, b::V4L2_AV1_SEGMENTATION_FLAG_UPDATE_MAP)
        | flag(seg.temporal_update, b::V4L2_AV1_SEGMENTATION_FLAG_TEMPORAL_UPDATE)
        | flag(seg.update_data, b::V4L2_AV1_SEGMENTATION_FLAG_UPDATE_DATA)
        | flag(seg_id_pre_skip, b::V4L2_AV1_SEGMENTATION_FLAG_SEG_ID_PRE_SKIP)) as u8;
    s.last_active_seg_id = last_active_seg_id;

    let l = &mut f.loop_filter;
    l.flags = (flag(lf.mode_ref_delta_enabled, b::V4L2_AV1_LOOP_FILTER_FLAG_DELTA_ENABLED)
        | flag(lf.mode_ref_delta_update, b::V4L2_AV1_LOOP_FILTER_FLAG_DELTA_UPDATE)
        | flag(mode.delta_lf_present_flag, b::V4L2_AV1_LOOP_FILTER_FLAG_DELTA_LF_PRESENT)
        | flag(mode.delta_lf_multi, b::V4L2_AV1_LOOP_FILTER_FLAG_DELTA_LF_MULTI)) as u8;
    l.level = [pic.filter_level[0], pic.filter_level[1], pic.filter_level_u, pic.filter_level_v];
    l.sharpness = lf.sharpness_level;
    l.ref_deltas = pic.ref_deltas;
    l.mode_deltas = pic.mode_deltas;
    l.delta_lf_res = mode.log2_delta_lf_res;

    let c = &mut f.cdef;
    c.damping_minus_3 = pic.cdef_damping_minus_3;
    c.bits = pic.cdef_bits;
    let n = (1usize << pic.cdef_bits.min(3)).min(8);
    let sec = |v: u8| if v & 3 == 3 { 4 } else { v & 3 };
    for i in 0..n {
        c.y_pri_strength[i] = pic.cdef_y_strengths[i] >> 2;
        c.y_sec_strength[i] = sec(pic.cdef_y_strengths[i]);
        c.uv_pri_strength[i] = pic.cdef_uv_strengths[i] >> 2;
        c.uv_sec_strength[i] = sec(pic.cdef_uv_strengths[i]);
    }

    if let Some(frames) = skip {
        f.skip_mode_frame = frames;
    }
    f.primary_ref_frame = pic.primary_ref_frame;

    let r = &mut f.loop_restoration;
    let uses_lr = lr.frame_restoration_type.iter().any(|&t| t != 0);
    let uses_chroma_lr = lr.frame_restoration_type[1..].iter().any(|&t| t != 0);
    r.flags = (flag(uses_lr, b::V4L2_AV1_LOOP_RESTORATION_FLAG_USES_LR)
        | flag(uses_chroma_lr, b::V4L2_AV1_LOOP_RESTORATION_FLAG_USES_CHROMA_LR)) as u8;
    r.frame_restoration_type = lr.frame_restoration_type.map(u32::from);
    if uses_lr {
        r.lr_unit_shift = lr.lr_unit_shift;
        r.lr_uv_shift = lr.lr_uv_shift;
        let luma = 256u32 >> 2u8.saturating_sub(lr.lr_unit_shift).min(2);
        r.loop_restoration_size = [luma, luma >> lr.lr_uv_shift.min(1), luma >> lr.lr_uv_shift.min(1)];
    }

    let g = &mut f.global_motion;
    for (i, wm) in pic.wm.iter().enumerate() {
        let t = wm.wmtype;
        let idx = i + 1;
        g.flags[idx] = (flag(t != 0, b::V4L2_AV1_GLOBAL_MOTION_FLAG_IS_GLOBAL)
            | flag(t == 2, b::V4L2_AV1_GLOBAL_MOTION_FLAG_IS_ROT_ZOOM)
            | flag(t == 1, b::V4L2_AV1_GLOBAL_MOTION_FLAG_IS_TRANSLATION)) as u8;
        g.type_[idx] = t.min(3);
        g.params[idx].copy_from_slice(&wm.wmmat[..6]);
        if wm.invalid != 0 {
            g.invalid |= 1 << idx;
        }
    }

    let frame_size_override = (upscaled_width, frame_height) != st.max_size;
    f.flags = flag(info.show_frame, b::V4L2_AV1_FRAME_FLAG_SHOW_FRAME)
        | flag(info.showable_frame, b::V4L2_AV1_FRAME_FLAG_SHOWABLE_FRAME)
        | flag(info.error_resilient_mode, b::V4L2_AV1_FRAME_FLAG_ERROR_RESILIENT_MODE)
        | flag(info.disable_cdf_update, b::V4L2_AV1_FRAME_FLAG_DISABLE_CDF_UPDATE)
        | flag(info.allow_screen_content_tools, b::V4L2_AV1_FRAME_FLAG_ALLOW_SCREEN_CONTENT_TOOLS)
        | flag(info.force_integer_mv, b::V4L2_AV1_FRAME_FLAG_FORCE_INTEGER_MV)
        | flag(info.allow_intrabc, b::V4L2_AV1_FRAME_FLAG_ALLOW_INTRABC)
        | flag(info.use_superres, b::V4L2_AV1_FRAME_FLAG_USE_SUPERRES)
        | flag(info.allow_high_precision_mv, b::V4L2_AV1_FRAME_FLAG_ALLOW_HIGH_PRECISION_MV)
        | flag(info.is_motion_mode_switchable, b::V4L2_AV1_FRAME_FLAG_IS_MOTION_MODE_SWITCHABLE)
        | flag(info.use_ref_frame_mvs, b::V4L2_AV1_FRAME_FLAG_USE_REF_FRAME_MVS)
        | flag(info.disable_frame_end_update_cdf, b::V4L2_AV1_FRAME_FLAG_DISABLE_FRAME_END_UPDATE_CDF)
        | flag(info.allow_warped_motion, b::V4L2_AV1_FRAME_FLAG_ALLOW_WARPED_MOTION)
        | flag(mode.reference_select, b::V4L2_AV1_FRAME_FLAG_REFERENCE_SELECT)
        | flag(mode.reduced_tx_set_used, b::V4L2_AV1_FRAME_FLAG_REDUCED_TX_SET)
        | flag(skip.is_some(), b::V4L2_AV1_FRAME_FLAG_SKIP_MODE_ALLOWED)
        | flag(mode.skip_mode_present, b::V4L2_AV1_FRAME_FLAG_SKIP_MODE_PRESENT)
        | flag(frame_size_override, b::V4L2_AV1_FRAME_FLAG_FRAME_SIZE_OVERRIDE);
    f.frame_type = u32::from(info.frame_type);
    f.order_hint = u32::from(pic.order_hint);
    f.upscaled_width = upscaled_width;
    f.interpolation_filter = u32::from(pic.interp_filter.min(4));
    f.tx_mode = u32::from(mode.tx_mode.min(2));
    f.frame_width_minus_1 = frame_width - 1;
    f.frame_height_minus_1 = frame_height - 1;
    f.render_width_minus_1 = (upscaled_width - 1) as u16;
    f.render_height_minus_1 = (frame_height - 1) as u16;
    f.order_hints = order_hints;
    f.reference_frame_ts = reference_frame_ts;
    f.ref_frame_idx = pic.ref_frame_idx.map(|i| i as i8);
    f.refresh_frame_flags = refresh_frame_flags;

    // TILE_GROUP_ENTRY: offsets into the concatenated payloads.
    let mut tile_group_entries = spare_tiles;
    tile_group_entries.clear();
    let mut offset = 0u32;
    for t in p.tiles {
        let payload = t.payload().ok_or(CodecError::Invalid("AV1 tile outside its slice data buffer"))?;
        if usize::from(t.param.tile_row) >= tile_rows || usize::from(t.param.tile_column) >= tile_cols {
            return Err(CodecError::Invalid("AV1 tile row/column"));
        }
        let size = payload.len() as u32;
        tile_group_entries.push(v4l2_ctrl_av1_tile_group_entry {
            tile_offset: offset,
            tile_size: size,
            tile_row: u32::from(t.param.tile_row),
            tile_col: u32::from(t.param.tile_column),
        });
        offset = offset.checked_add(size).ok_or(CodecError::Invalid("AV1 frame too large"))?;
    }

    let film_grain = seq.film_grain_params_present.then(|| film_grain_control(pic, &fg));

    st.surfaces.insert(pic.current_frame, SurfaceInfo { order_hint: pic.order_hint });
    st.previous_surface = Some(pic.current_frame);
    let before = std::mem::replace(state, st);
    state.spare_surfaces = before.surfaces;
    Ok(Av1Controls {
        sequence,
        frame: f,
        tile_group_entries,
        film_grain,
        refresh_frame_flags_exact,
        #[cfg(test)]
        previous_refresh_frame_flags,
    })
}

/// tile_info(): the V4L2 tile info (without `tile_size_bytes`) and TileSizeBytes.
fn tile_info(
    p: &Av1Picture,
    seq: &SeqInfo,
    info: &PicInfo,
    frame_width: u32,
    frame_height: u32,
) -> Result<(b::v4l2_av1_tile_info, u8), CodecError> {
    let pic = p.pic;
    let mut t = b::v4l2_av1_tile_info::default();
    let cols = usize::from(pic.tile_cols);
    let rows = usize::from(pic.tile_rows);
    t.flags = if info.uniform_tile_spacing_flag { b::V4L2_AV1_TILE_INFO_FLAG_UNIFORM_TILE_SPACING as u8 } else { 0 };
    t.context_update_tile_id = pic.context_update_tile_id.min(255) as u8;
    t.tile_cols = cols as u8;
    t.tile_rows = rows as u8;
    let sb_shift = if seq.use_128x128_superblock { 5 } else { 4 };
    let mi_cols = 2 * ((frame_width + 7) >> 3);
    let mi_rows = 2 * ((frame_height + 7) >> 3);
    let mut start = 0u32;
    for i in 0..cols {
        t.mi_col_starts[i] = (start << sb_shift).min(mi_cols);
        t.width_in_sbs_minus_1[i] = u32::from(pic.width_in_sbs_minus_1[i]);
        start = start.saturating_add(u32::from(pic.width_in_sbs_minus_1[i]) + 1);
    }
    t.mi_col_starts[cols] = mi_cols;
    let mut start = 0u32;
    for i in 0..rows {
        t.mi_row_starts[i] = (start << sb_shift).min(mi_rows);
        t.height_in_sbs_minus_1[i] = u32::from(pic.height_in_sbs_minus_1[i]);
        start = start.saturating_add(u32::from(pic.height_in_sbs_minus_1[i]) + 1);
    }
    t.mi_row_starts[rows] = mi_rows;
    Ok((t, tile_size_bytes(p.tiles)))
}

/// TileSizeBytes, seen in the VA offsets: every tile but the last of a tile
/// group is preceded by its `tile_size_minus_1` (TileSizeBytes bytes), so the
/// first tile of a multi-tile group starts at offset TileSizeBytes. 0 when no
/// tile group has two tiles (then it is not coded).
fn tile_size_bytes(tiles: &[Av1Tile]) -> u8 {
    // End of the previous tile in the current tile group (0 at a group start).
    let mut prev_end = 0u64;
    let mut prev_tg = None;
    for t in tiles {
        let (off, size) = (u64::from(t.param.slice_data_offset), u64::from(t.param.slice_data_size));
        if off < prev_end || prev_tg != Some(t.param.tg_start) {
            prev_end = 0;
        }
        let gap = off - prev_end.min(off);
        if (1..=4).contains(&gap) {
            return gap as u8;
        }
        prev_end = off + size;
        prev_tg = Some(t.param.tg_start);
    }
    0
}

fn film_grain_control(pic: &VADecPictureParameterBufferAV1, fg: &FilmGrainInfo) -> v4l2_ctrl_av1_film_grain {
    let mut c = v4l2_ctrl_av1_film_grain::default();
    if !fg.apply_grain {
        return c;
    }
    let g = &pic.film_grain_info;
    let flag = |c: bool, v: u32| if c { v as u8 } else { 0 };
    c.flags = flag(true, b::V4L2_AV1_FILM_GRAIN_FLAG_APPLY_GRAIN)
        | flag(true, b::V4L2_AV1_FILM_GRAIN_FLAG_UPDATE_GRAIN)
        | flag(fg.chroma_scaling_from_luma, b::V4L2_AV1_FILM_GRAIN_FLAG_CHROMA_SCALING_FROM_LUMA)
        | flag(fg.overlap_flag, b::V4L2_AV1_FILM_GRAIN_FLAG_OVERLAP)
        | flag(fg.clip_to_restricted_range, b::V4L2_AV1_FILM_GRAIN_FLAG_CLIP_TO_RESTRICTED_RANGE);
    c.grain_seed = g.grain_seed;
    c.film_grain_params_ref_idx = 0;
    c.num_y_points = g.num_y_points.min(14);
    c.point_y_value[..14].copy_from_slice(&g.point_y_value);
    c.point_y_scaling[..14].copy_from_slice(&g.point_y_scaling);
    c.num_cb_points = g.num_cb_points.min(10);
    c.point_cb_value[..10].copy_from_slice(&g.point_cb_value);
    c.point_cb_scaling[..10].copy_from_slice(&g.point_cb_scaling);
    c.num_cr_points = g.num_cr_points.min(10);
    c.point_cr_value[..10].copy_from_slice(&g.point_cr_value);
    c.point_cr_scaling[..10].copy_from_slice(&g.point_cr_scaling);
    c.grain_scaling_minus_8 = fg.grain_scaling_minus_8;
    c.ar_coeff_lag = fg.ar_coeff_lag;
    let plus_128 = |v: i8| (i16::from(v) + 128) as u8;
    for (d, &s) in c.ar_coeffs_y_plus_128.iter_mut().zip(g.ar_coeffs_y.iter()) {
        *d = plus_128(s);
    }
    for (d, &s) in c.ar_coeffs_cb_plus_128.iter_mut().zip(g.ar_coeffs_cb.iter()) {
        *d = plus_128(s);
    }
    for (d, &s) in c.ar_coeffs_cr_plus_128.iter_mut().zip(g.ar_coeffs_cr.iter()) {
        *d = plus_128(s);
    }
    c.ar_coeff_shift_minus_6 = fg.ar_coeff_shift_minus_6;
    c.grain_scale_shift = fg.grain_scale_shift;
    c.cb_mult = g.cb_mult;
    c.cb_luma_mult = g.cb_luma_mult;
    c.cb_offset = g.cb_offset;
    c.cr_mult = g.cr_mult;
    c.cr_luma_mult = g.cr_luma_mult;
    c.cr_offset = g.cr_offset;
    c
}

/// What goes in the OUTPUT buffer: every tile's payload, concatenated in the
/// order of `p.tiles` (the offsets [`build_controls_with_state`] puts in the
/// tile group entries). Tiles outside their buffer are skipped (the
/// translation rejects such a picture anyway).
pub fn append_bitstream(out: &mut Vec<u8>, p: &Av1Picture) {
    for t in p.tiles {
        if let Some(payload) = t.payload() {
            out.extend_from_slice(payload);
        }
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
pub(crate) mod tests;
