//! VA-API MPEG-2 picture → V4L2 stateless MPEG-2 controls.
//!
//! # The idea
//!
//! A field-for-field copy where VA carries the value, a documented derivation
//! where it does not, and a small [`Mpeg2State`] for what MPEG-2 itself keeps
//! across pictures (quantiser matrices) or what can only be inferred over
//! several pictures (whether the sequence is progressive).

use super::{Mpeg2Controls, Mpeg2Picture, RefResolver};
use crate::codec::CodecError;
#[cfg(test)]
use crate::va_sys::ffi::VAProfileMPEG2Main;
use crate::va_sys::ffi::{
    _VAPictureParameterBufferMPEG2__bindgen_ty_1__bindgen_ty_1 as PicExtBits, __BindgenBitfieldUnit, VAIQMatrixBufferMPEG2, VAProfile,
    VAProfileMPEG2Simple, VASurfaceID, VA_INVALID_SURFACE,
};
use v4l2r::bindings::{
    v4l2_ctrl_mpeg2_picture, v4l2_ctrl_mpeg2_quantisation, v4l2_ctrl_mpeg2_sequence, V4L2_MPEG2_PIC_FLAG_ALT_SCAN,
    V4L2_MPEG2_PIC_FLAG_CONCEALMENT_MV, V4L2_MPEG2_PIC_FLAG_FRAME_PRED_DCT, V4L2_MPEG2_PIC_FLAG_INTRA_VLC, V4L2_MPEG2_PIC_FLAG_PROGRESSIVE,
    V4L2_MPEG2_PIC_FLAG_Q_SCALE_TYPE, V4L2_MPEG2_PIC_FLAG_REPEAT_FIRST, V4L2_MPEG2_PIC_FLAG_TOP_FIELD_FIRST, V4L2_MPEG2_PIC_FRAME,
    V4L2_MPEG2_SEQ_FLAG_PROGRESSIVE,
};

/// The standard's zigzag scan: `ZIGZAG[i]` is the raster index of the i-th
/// coefficient in scan order (ISO/IEC 13818-2 figure 7-2, scan 0).
pub(crate) const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56,
    57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// The default intra quantiser matrix in raster order (ISO/IEC 13818-2 6.3.11).
const DEFAULT_INTRA_RASTER: [u8; 64] = [
    8, 16, 19, 22, 26, 27, 29, 34, //
    16, 16, 22, 24, 27, 29, 34, 37, //
    19, 22, 26, 27, 29, 34, 34, 38, //
    22, 22, 26, 27, 29, 34, 37, 40, //
    22, 26, 27, 29, 32, 35, 40, 48, //
    26, 27, 29, 32, 35, 40, 48, 58, //
    26, 27, 29, 34, 38, 46, 56, 69, //
    27, 29, 35, 38, 46, 56, 69, 83,
];

/// The default intra matrix in zigzag (bitstream, VA and V4L2) order.
pub(crate) const fn default_intra_zigzag() -> [u8; 64] {
    let mut out = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        out[i] = DEFAULT_INTRA_RASTER[ZIGZAG[i] as usize];
        i += 1;
    }
    out
}

/// Decoded `picture_coding_extension` of `VAPictureParameterBufferMPEG2`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PicExt {
    /// intra_dc_precision (0..3: 8..11 bits).
    pub intra_dc_precision: u8,
    /// picture_structure: 1 top field, 2 bottom field, 3 frame.
    pub picture_structure: u8,
    /// top_field_first.
    pub top_field_first: bool,
    /// frame_pred_frame_dct.
    pub frame_pred_frame_dct: bool,
    /// concealment_motion_vectors.
    pub concealment_motion_vectors: bool,
    /// q_scale_type.
    pub q_scale_type: bool,
    /// intra_vlc_format.
    pub intra_vlc_format: bool,
    /// alternate_scan.
    pub alternate_scan: bool,
    /// repeat_first_field.
    pub repeat_first_field: bool,
    /// progressive_frame.
    pub progressive_frame: bool,
    /// is_first_field: a frame picture, or the first field of a pair.
    pub is_first_field: bool,
}

impl PicExt {
    /// Decodes the `.value` word with bindgen's accessors (the bit layout of
    /// the libva headers the crate was built with).
    pub fn from_value(value: u32) -> Self {
        let b = value.to_ne_bytes();
        let bits = PicExtBits {
            _bitfield_align_1: [],
            _bitfield_1: __BindgenBitfieldUnit::new([b[0], b[1]]),
            __bindgen_padding_0: u16::from_ne_bytes([b[2], b[3]]),
        };
        PicExt {
            intra_dc_precision: bits.intra_dc_precision() as u8,
            picture_structure: bits.picture_structure() as u8,
            top_field_first: bits.top_field_first() != 0,
            frame_pred_frame_dct: bits.frame_pred_frame_dct() != 0,
            concealment_motion_vectors: bits.concealment_motion_vectors() != 0,
            q_scale_type: bits.q_scale_type() != 0,
            intra_vlc_format: bits.intra_vlc_format() != 0,
            alternate_scan: bits.alternate_scan() != 0,
            repeat_first_field: bits.repeat_first_field() != 0,
            progressive_frame: bits.progressive_frame() != 0,
            is_first_field: bits.is_first_field() != 0,
        }
    }
}

/// What a decoding context remembers between pictures.
#[derive(Clone, Copy, Debug)]
pub struct Mpeg2State {
    /// Matrices in force (zigzag order); initially the standard defaults.
    quant: v4l2_ctrl_mpeg2_quantisation,
    /// A picture that cannot belong to a progressive sequence was seen.
    interlaced_seen: bool,
}

impl Default for Mpeg2State {
    fn default() -> Self {
        let intra = default_intra_zigzag();
        Mpeg2State {
            quant: v4l2_ctrl_mpeg2_quantisation {
                intra_quantiser_matrix: intra,
                non_intra_quantiser_matrix: [16; 64],
                chroma_intra_quantiser_matrix: intra,
                chroma_non_intra_quantiser_matrix: [16; 64],
            },
            interlaced_seen: false,
        }
    }
}

impl Mpeg2State {
    /// A fresh state (new context or new stream).
    pub fn new() -> Self {
        Self::default()
    }

    fn load(&mut self, iq: &VAIQMatrixBufferMPEG2) {
        let q = &mut self.quant;
        // A luma matrix load also sets the chroma copy (what 4:2:0 decoding
        // uses and what FFmpeg keeps); an explicit chroma load overrides it.
        if iq.load_intra_quantiser_matrix != 0 {
            q.intra_quantiser_matrix = iq.intra_quantiser_matrix;
            q.chroma_intra_quantiser_matrix = iq.intra_quantiser_matrix;
        }
        if iq.load_non_intra_quantiser_matrix != 0 {
            q.non_intra_quantiser_matrix = iq.non_intra_quantiser_matrix;
            q.chroma_non_intra_quantiser_matrix = iq.non_intra_quantiser_matrix;
        }
        if iq.load_chroma_intra_quantiser_matrix != 0 {
            q.chroma_intra_quantiser_matrix = iq.chroma_intra_quantiser_matrix;
        }
        if iq.load_chroma_non_intra_quantiser_matrix != 0 {
            q.chroma_non_intra_quantiser_matrix = iq.chroma_non_intra_quantiser_matrix;
        }
    }
}

/// VA profiles the driver may advertise when the device accepts
/// `V4L2_PIX_FMT_MPEG2_SLICE`: Simple and Main, both 4:2:0 8-bit, which is
/// all the V4L2 uAPI's decoders handle (4:2:2 profile streams are refused by
/// every stateless MPEG-2 driver, and VA has no 4:2:2 MPEG-2 profile).
#[cfg(test)]
pub fn va_profiles() -> &'static [VAProfile] {
    const PROFILES: [VAProfile; 2] = [VAProfileMPEG2Simple, VAProfileMPEG2Main];
    &PROFILES
}

/// Whether a slice's bytes begin with a `00 00 01` start code.
fn has_start_code(data: &[u8]) -> bool {
    data.len() >= 4 && data[0] == 0 && data[1] == 0 && data[2] == 1
}

/// The slice start code value (`slice_vertical_position` + 1) to synthesise
/// for a slice given without start code, if representable (01..AF).
fn synth_start_code(vpos: u32) -> Option<u8> {
    let code = vpos.checked_add(1)?;
    if (1..=0xaf).contains(&code) {
        Some(code as u8)
    } else {
        None
    }
}

/// Appends the OUTPUT buffer bytes of the picture: every slice from its start
/// code on, in order. A slice given without a start code gets one built from
/// its `slice_vertical_position` (slices [`build_controls`] rejects are skipped).
pub fn append_bitstream(out: &mut Vec<u8>, p: &Mpeg2Picture) {
    for s in p.slices {
        if has_start_code(s.data) {
            out.extend_from_slice(s.data);
        } else if let (false, Some(code)) = (s.data.is_empty(), synth_start_code(s.param.slice_vertical_position)) {
            out.extend_from_slice(&[0, 0, 1, code]);
            out.extend_from_slice(s.data);
        }
    }
}

/// Translates one picture with a throw-away [`Mpeg2State`] (default matrices
/// wherever the picture loads none); see [`build_controls_with_state`].
#[cfg(test)]
pub fn build_controls(p: &Mpeg2Picture, refs: &dyn RefResolver) -> Result<Mpeg2Controls, CodecError> {
    build_controls_with_state(p, refs, &mut Mpeg2State::default())
}

/// `profile_and_level_indication` from the VA profile and the picture size.
///
/// VA gives the profile only. The level is the lowest of Main (8), High-1440
/// (6), High (4) whose size limits the picture fits, which is what encoders
/// write for ordinary streams (FFmpeg's encoder chooses the same way);
/// Simple profile exists at Main level only. Layout as in the standard
/// (escape bit 7, profile bits 6..4, level bits 3..0): Main@Main = 0x48.
fn profile_and_level(profile: VAProfile, width: u16, height: u16) -> u16 {
    let profile_id: u16 = if profile == VAProfileMPEG2Simple { 5 } else { 4 };
    let level: u16 = if profile == VAProfileMPEG2Simple || (width <= 720 && height <= 576) {
        8
    } else if width <= 1440 && height <= 1152 {
        6
    } else {
        4
    };
    (profile_id << 4) | level
}

/// Resolves a VA reference to a V4L2 timestamp; `u64::MAX` (GStreamer's
/// `GST_CLOCK_TIME_NONE`, what it sends for an absent neighbour) when there is none.
fn ref_ts(surface: VASurfaceID, refs: &dyn RefResolver, what: &str) -> u64 {
    if surface == VA_INVALID_SURFACE {
        return u64::MAX;
    }
    refs.timestamp(surface).unwrap_or_else(|| {
        log::warn!("mpeg2: {what} reference surface {surface:#x} unknown");
        u64::MAX
    })
}

/// Translates one picture (frame or field).
///
/// Field sources, and where the values differ from GStreamer's `v4l2slmpeg2dec`:
///
/// - `sequence.horizontal_size` / `vertical_size`: VA.
/// - `sequence.chroma_format`: 1 (4:2:0), the only format of the VA profiles.
/// - `sequence.profile_and_level_indication`: VA profile + level guessed from
///   the size ([`profile_and_level`]), standard layout. **Differs**: GStreamer
///   sends `profile << 4 | level << 1 | escape` (0x50 for Main@Main, where the
///   bitstream says 0x48). No decoder reads it.
/// - `sequence.vbv_buffer_size`: **0**. It is only in the sequence header,
///   which VA does not pass; GStreamer sends `value * 16 * 1024`. No decoder
///   reads it.
/// - `sequence.flags` PROGRESSIVE: inferred — set while every picture seen so
///   far in the context is a progressive frame picture (a progressive sequence
///   has only those). Equals the bitstream flag for ordinary progressive and
///   interlaced streams; an interlaced sequence that opens with progressive
///   frames is reported progressive until its first interlaced picture.
/// - `picture.*`: VA one to one (`f_code` unpacked from VA's
///   `f[0][0] << 12 | f[0][1] << 8 | f[1][0] << 4 | f[1][1]`, picture coding
///   type I/P/B/D = 1/2/3/4 in both APIs). Equal to GStreamer.
/// - `picture.forward_ref_ts` / `backward_ref_ts`: VA's forward/backward
///   references resolved; `u64::MAX` when VA gives none (I pictures, P
///   pictures' backward reference, B pictures after an open GOP's broken
///   link), as GStreamer sends. GStreamer also sends the previous reference
///   as `forward_ref_ts` of I pictures, a don't-care (normalisation R1).
/// - `quantisation`: the matrices in force after applying VA's IQ buffer to
///   the state. The chroma matrices equal the luma ones (FFmpeg's values);
///   GStreamer leaves zeros for 4:2:0 (normalisation M1).
pub fn build_controls_with_state(p: &Mpeg2Picture, refs: &dyn RefResolver, state: &mut Mpeg2State) -> Result<Mpeg2Controls, CodecError> {
    if p.slices.is_empty() {
        return Err(CodecError::NoSlices);
    }
    for s in p.slices {
        if s.data.is_empty() {
            return Err(CodecError::NoSlices);
        }
        if !has_start_code(s.data) && synth_start_code(s.param.slice_vertical_position).is_none() {
            return Err(CodecError::Invalid("slice without start code and vertical position beyond 174"));
        }
    }
    let pic = p.pic;
    let ext = PicExt::from_value(p.picture_coding_extension);
    if !(1..=3).contains(&ext.picture_structure) {
        return Err(CodecError::Invalid("picture_structure"));
    }
    let coding_type = u8::try_from(pic.picture_coding_type).unwrap_or(0);
    if !(1..=4).contains(&coding_type) {
        return Err(CodecError::Invalid("picture_coding_type"));
    }
    if pic.horizontal_size == 0 || pic.vertical_size == 0 {
        return Err(CodecError::Invalid("picture size"));
    }
    let frame = u32::from(ext.picture_structure) == V4L2_MPEG2_PIC_FRAME;

    if let Some(iq) = p.iq {
        state.load(iq);
    }
    if !(ext.progressive_frame && frame) {
        state.interlaced_seen = true;
    }

    let sequence = v4l2_ctrl_mpeg2_sequence {
        horizontal_size: pic.horizontal_size,
        vertical_size: pic.vertical_size,
        vbv_buffer_size: 0,
        profile_and_level_indication: profile_and_level(p.profile, pic.horizontal_size, pic.vertical_size),
        chroma_format: 1,
        flags: if state.interlaced_seen { 0 } else { V4L2_MPEG2_SEQ_FLAG_PROGRESSIVE as u8 },
    };

    let f = pic.f_code as u32;
    let nib = |shift: u32| ((f >> shift) & 0xf) as u8;
    let flag = |b: bool, v: u32| if b { v } else { 0 };
    let picture = v4l2_ctrl_mpeg2_picture {
        backward_ref_ts: ref_ts(pic.backward_reference_picture, refs, "backward"),
        forward_ref_ts: ref_ts(pic.forward_reference_picture, refs, "forward"),
        flags: flag(ext.top_field_first, V4L2_MPEG2_PIC_FLAG_TOP_FIELD_FIRST)
            | flag(ext.frame_pred_frame_dct, V4L2_MPEG2_PIC_FLAG_FRAME_PRED_DCT)
            | flag(ext.concealment_motion_vectors, V4L2_MPEG2_PIC_FLAG_CONCEALMENT_MV)
            | flag(ext.q_scale_type, V4L2_MPEG2_PIC_FLAG_Q_SCALE_TYPE)
            | flag(ext.intra_vlc_format, V4L2_MPEG2_PIC_FLAG_INTRA_VLC)
            | flag(ext.alternate_scan, V4L2_MPEG2_PIC_FLAG_ALT_SCAN)
            | flag(ext.repeat_first_field, V4L2_MPEG2_PIC_FLAG_REPEAT_FIRST)
            | flag(ext.progressive_frame, V4L2_MPEG2_PIC_FLAG_PROGRESSIVE),
        f_code: [[nib(12), nib(8)], [nib(4), nib(0)]],
        picture_coding_type: coding_type,
        picture_structure: ext.picture_structure,
        intra_dc_precision: ext.intra_dc_precision,
        reserved: [0; 5],
    };

    Ok(Mpeg2Controls {
        sequence,
        picture,
        quantisation: state.quant,
        hold_capture: !frame && ext.is_first_field,
        second_field: !frame && !ext.is_first_field,
    })
}
