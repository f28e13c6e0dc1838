//! Unit tests of the MPEG-2 translator.
//!
//! Streams: `tests/data/mpeg2/{progressive,interlaced}.m2v`, FFmpeg's
//! mpeg2video encoder (commands in `tests/data/mpeg2/README`). VA buffers are
//! filled by hand the way FFmpeg's `vaapi_mpeg2.c` fills them, from the values
//! `ffmpeg -bsf:v trace_headers` prints for the picture (checked by hand
//! against trace_headers; the values are quoted next to each buffer).
//! FFmpeg's encoder writes frame pictures only, so field pictures are tested
//! with synthetic buffers.

use super::translate::{default_intra_zigzag, ZIGZAG};
use super::*;
use crate::codec::CodecError;
use crate::va_sys::ffi::{
    _VAPictureParameterBufferMPEG2__bindgen_ty_1 as PicExtUnion, _VAPictureParameterBufferMPEG2__bindgen_ty_1__bindgen_ty_1 as PicExtBits,
    VAPictureParameterBufferMPEG2, VAProfileMPEG2Main, VAProfileMPEG2Simple, VASurfaceID, VA_INVALID_SURFACE,
};
use std::collections::HashMap;
use v4l2r::bindings::*;

pub(super) const PROGRESSIVE: &[u8] = include_bytes!("../../../tests/data/mpeg2/progressive.m2v");
pub(super) const INTERLACED: &[u8] = include_bytes!("../../../tests/data/mpeg2/interlaced.m2v");

struct Refs(HashMap<VASurfaceID, u64>);

impl RefResolver for Refs {
    fn timestamp(&self, surface: VASurfaceID) -> Option<u64> {
        self.0.get(&surface).copied()
    }
}

fn refs() -> Refs {
    Refs(HashMap::from([(10, 1000), (11, 2000)]))
}

/// Start-code units of an elementary stream: (start code value, bytes from
/// the `00 00 01` on, up to the next start code).
fn units(data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 4 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts.iter().enumerate().map(|(k, &s)| (data[s + 3], &data[s..starts.get(k + 1).copied().unwrap_or(data.len())])).collect()
}

/// The slices of picture `n` (decode order), as FFmpeg's vaapi_mpeg2 would
/// describe them: data from the start code, macroblock_offset after the
/// 32-bit start code, 5-bit quantiser_scale_code and extra_bit_slice = 0.
fn picture_slices(data: &[u8], n: usize) -> Vec<Mpeg2Slice<'_>> {
    let mut pic = None;
    let mut out = Vec::new();
    for (code, bytes) in units(data) {
        if code == 0 {
            pic = Some(pic.map_or(0, |p| p + 1));
            continue;
        }
        if pic == Some(n) && (1..=0xaf).contains(&code) {
            let param = VASliceParameterBufferMPEG2 {
                slice_data_size: bytes.len() as u32,
                slice_data_offset: 0,
                slice_data_flag: 0,
                macroblock_offset: 38,
                slice_horizontal_position: 0,
                slice_vertical_position: u32::from(code) - 1,
                quantiser_scale_code: i32::from(bytes[4] >> 3),
                intra_slice_flag: 0,
                va_reserved: [0; 4],
            };
            out.push(Mpeg2Slice { param, data: bytes });
        }
    }
    out
}

pub(super) fn ext_value(f: impl FnOnce(&mut PicExtBits)) -> u32 {
    let mut b = PicExtBits::default();
    f(&mut b);
    b._bitfield_1.get(0, 16) as u32
}

pub(super) fn pic_param(coding_type: i32, f_code: i32, ext: u32, fwd: VASurfaceID, bwd: VASurfaceID) -> VAPictureParameterBufferMPEG2 {
    VAPictureParameterBufferMPEG2 {
        horizontal_size: 176,
        vertical_size: 144,
        forward_reference_picture: fwd,
        backward_reference_picture: bwd,
        picture_coding_type: coding_type,
        f_code,
        picture_coding_extension: PicExtUnion { value: ext },
        va_reserved: [0; 4],
    }
}

/// The IQ buffer FFmpeg sends for a stream without matrices in its sequence
/// header (trace_headers: load_intra_quantiser_matrix = 0,
/// load_non_intra_quantiser_matrix = 0): all four loaded, the defaults.
pub(super) fn ffmpeg_default_iq() -> VAIQMatrixBufferMPEG2 {
    let intra = default_intra_zigzag();
    VAIQMatrixBufferMPEG2 {
        load_intra_quantiser_matrix: 1,
        load_non_intra_quantiser_matrix: 1,
        load_chroma_intra_quantiser_matrix: 1,
        load_chroma_non_intra_quantiser_matrix: 1,
        intra_quantiser_matrix: intra,
        non_intra_quantiser_matrix: [16; 64],
        chroma_intra_quantiser_matrix: intra,
        chroma_non_intra_quantiser_matrix: [16; 64],
        va_reserved: [0; 4],
    }
}

/// The VA buffers of one MPEG-2 picture, as an application renders them
/// (host tests of the decode flow, `crate::driver::decode_flow_tests`).
pub(crate) struct VaPicture {
    pub pic: VAPictureParameterBufferMPEG2,
    pub iq: VAIQMatrixBufferMPEG2,
    /// Each slice's parameters (offset 0 into its own data buffer) and data.
    pub slices: Vec<(VASliceParameterBufferMPEG2, &'static [u8])>,
}

fn va_picture(stream: &'static [u8], n: usize, pic: VAPictureParameterBufferMPEG2) -> VaPicture {
    let slices = picture_slices(stream, n).into_iter().map(|s| (s.param, s.data)).collect();
    VaPicture { pic, iq: ffmpeg_default_iq(), slices }
}

/// The I frame of progressive.m2v (picture 0), as in
/// `progressive_i_frame_checked_against_trace_headers`.
pub(crate) fn progressive_i_frame() -> VaPicture {
    let ext = ext_value(|b| {
        b.set_picture_structure(3);
        b.set_frame_pred_frame_dct(1);
        b.set_progressive_frame(1);
        b.set_is_first_field(1);
    });
    va_picture(PROGRESSIVE, 0, pic_param(1, 0xffff, ext, VA_INVALID_SURFACE, VA_INVALID_SURFACE))
}

/// An intra field picture over the slices of interlaced.m2v's picture 0
/// (synthetic like `field_pair`: FFmpeg's encoder writes no field pictures):
/// the top field first, or the bottom field second.
pub(crate) fn intra_field(first: bool) -> VaPicture {
    let ext = ext_value(|b| {
        b.set_picture_structure(if first { 1 } else { 2 });
        b.set_top_field_first(1);
        b.set_is_first_field(u32::from(first));
    });
    va_picture(INTERLACED, 0, pic_param(1, 0xffff, ext, VA_INVALID_SURFACE, VA_INVALID_SURFACE))
}

#[test]
fn default_intra_matrix_in_zigzag_order() {
    let z = default_intra_zigzag();
    assert_eq!(&z[..12], &[8, 16, 16, 19, 16, 19, 22, 22, 22, 22, 22, 22]);
    assert_eq!(&z[60..], &[58, 69, 69, 83]);
    let mut seen = [false; 64];
    for &r in ZIGZAG.iter() {
        seen[r as usize] = true;
    }
    assert!(seen.iter().all(|&s| s), "zigzag is a permutation");
}

#[test]
fn pic_ext_decodes_every_bit() {
    let v = ext_value(|b| {
        b.set_intra_dc_precision(2);
        b.set_picture_structure(2);
        b.set_top_field_first(1);
        b.set_frame_pred_frame_dct(1);
        b.set_concealment_motion_vectors(1);
        b.set_q_scale_type(1);
        b.set_intra_vlc_format(1);
        b.set_alternate_scan(1);
        b.set_repeat_first_field(1);
        b.set_progressive_frame(1);
        b.set_is_first_field(1);
    });
    let e = PicExt::from_value(v);
    assert_eq!(
        e,
        PicExt {
            intra_dc_precision: 2,
            picture_structure: 2,
            top_field_first: true,
            frame_pred_frame_dct: true,
            concealment_motion_vectors: true,
            q_scale_type: true,
            intra_vlc_format: true,
            alternate_scan: true,
            repeat_first_field: true,
            progressive_frame: true,
            is_first_field: true,
        }
    );
    assert_eq!(PicExt::from_value(0), PicExt::default());
}

/// Interlaced stream, third picture in decode order: the first B frame
/// (checked by hand against trace_headers):
/// sequence: horizontal_size_value 176, vertical_size_value 144,
/// profile_and_level_indication 72, progressive_sequence 0, chroma_format 1,
/// vbv_buffer_size_value 3 (not in VA);
/// picture: picture_coding_type 3, f_code[0][0] 1, f_code[0][1] 1,
/// f_code[1][0] 4, f_code[1][1] 4, intra_dc_precision 0,
/// picture_structure 3, top_field_first 1, frame_pred_frame_dct 0,
/// concealment_motion_vectors 0, q_scale_type 0, intra_vlc_format 0,
/// alternate_scan 0, repeat_first_field 0, progressive_frame 0;
/// slices: slice_vertical_position 1..10 (FFmpeg pads interlaced pictures to
/// a multiple of 32 lines), quantiser_scale_code 12.
#[test]
fn interlaced_b_frame_checked_against_trace_headers() {
    let slices = picture_slices(INTERLACED, 2);
    assert_eq!(slices.len(), 10);
    assert_eq!(slices[9].param.slice_vertical_position, 9);
    assert!(slices.iter().all(|s| s.param.quantiser_scale_code == 12));
    let ext = ext_value(|b| {
        b.set_picture_structure(3);
        b.set_top_field_first(1);
        b.set_is_first_field(1);
    });
    // B picture: forward = the I frame (surface 10), backward = the P frame (11).
    let pic = pic_param(3, 0x1144, ext, 10, 11);
    let iq = ffmpeg_default_iq();
    let p = Mpeg2Picture { pic: &pic, picture_coding_extension: ext, iq: Some(&iq), slices: &slices, profile: VAProfileMPEG2Main };
    let c = build_controls(&p, &refs()).unwrap();
    assert_eq!(
        c.sequence,
        v4l2_ctrl_mpeg2_sequence {
            horizontal_size: 176,
            vertical_size: 144,
            vbv_buffer_size: 0,
            profile_and_level_indication: 72,
            chroma_format: 1,
            flags: 0,
        }
    );
    assert_eq!(
        c.picture,
        v4l2_ctrl_mpeg2_picture {
            backward_ref_ts: 2000,
            forward_ref_ts: 1000,
            flags: V4L2_MPEG2_PIC_FLAG_TOP_FIELD_FIRST,
            f_code: [[1, 1], [4, 4]],
            picture_coding_type: V4L2_MPEG2_PIC_CODING_TYPE_B as u8,
            picture_structure: V4L2_MPEG2_PIC_FRAME as u8,
            intra_dc_precision: 0,
            reserved: [0; 5],
        }
    );
    assert_eq!(c.quantisation.intra_quantiser_matrix, default_intra_zigzag());
    assert_eq!(c.quantisation.non_intra_quantiser_matrix, [16; 64]);
    assert!(!c.hold_capture && !c.second_field);

    // OUTPUT buffer: the slices back to back, exactly the stream's bytes from
    // the first slice start code to the next picture's header.
    let mut out = Vec::new();
    append_bitstream(&mut out, &p);
    let first = slices[0].data.as_ptr() as usize - INTERLACED.as_ptr() as usize;
    assert_eq!(out, &INTERLACED[first..first + out.len()]);
    assert_eq!(&INTERLACED[first + out.len()..first + out.len() + 4], &[0, 0, 1, 0]);

    let specs = c.specs();
    assert_eq!(specs.len(), 3);
    assert_eq!(specs[0].id, V4L2_CID_STATELESS_MPEG2_SEQUENCE);
    assert_eq!(specs[1].data.len(), std::mem::size_of::<v4l2_ctrl_mpeg2_picture>());
    assert_eq!(specs[2].data.len(), std::mem::size_of::<v4l2_ctrl_mpeg2_quantisation>());
}

/// Progressive stream, first picture (I): progressive_sequence 1,
/// picture_coding_type 1, f_code all 15, top_field_first 0,
/// frame_pred_frame_dct 1, progressive_frame 1 (checked by hand against
/// trace_headers). No references: both timestamps "none".
#[test]
fn progressive_i_frame_checked_against_trace_headers() {
    let slices = picture_slices(PROGRESSIVE, 0);
    assert_eq!(slices.len(), 9);
    let ext = ext_value(|b| {
        b.set_picture_structure(3);
        b.set_frame_pred_frame_dct(1);
        b.set_progressive_frame(1);
        b.set_is_first_field(1);
    });
    let pic = pic_param(1, 0xffff, ext, VA_INVALID_SURFACE, VA_INVALID_SURFACE);
    let iq = ffmpeg_default_iq();
    let p = Mpeg2Picture { pic: &pic, picture_coding_extension: ext, iq: Some(&iq), slices: &slices, profile: VAProfileMPEG2Main };
    let mut state = Mpeg2State::new();
    let c = build_controls_with_state(&p, &refs(), &mut state).unwrap();
    assert_eq!(c.sequence.flags, V4L2_MPEG2_SEQ_FLAG_PROGRESSIVE as u8);
    assert_eq!(c.sequence.profile_and_level_indication, 72);
    assert_eq!(c.picture.f_code, [[15, 15], [15, 15]]);
    assert_eq!(c.picture.picture_coding_type, V4L2_MPEG2_PIC_CODING_TYPE_I as u8);
    assert_eq!(c.picture.flags, V4L2_MPEG2_PIC_FLAG_FRAME_PRED_DCT | V4L2_MPEG2_PIC_FLAG_PROGRESSIVE);
    assert_eq!((c.picture.forward_ref_ts, c.picture.backward_ref_ts), (u64::MAX, u64::MAX));

    // One interlaced picture makes the sequence interlaced for good.
    let ext_i = ext_value(|b| {
        b.set_picture_structure(3);
        b.set_is_first_field(1);
    });
    let pic_i = pic_param(2, 0x11ff, ext_i, 10, VA_INVALID_SURFACE);
    let p_i = Mpeg2Picture { pic: &pic_i, picture_coding_extension: ext_i, ..p };
    let c = build_controls_with_state(&p_i, &refs(), &mut state).unwrap();
    assert_eq!(c.sequence.flags, 0);
    assert_eq!(c.picture.forward_ref_ts, 1000);
    let c = build_controls_with_state(&p, &refs(), &mut state).unwrap();
    assert_eq!(c.sequence.flags, 0);
}

/// A field pair (synthetic: FFmpeg's encoder writes no field pictures):
/// top field I first, then the bottom field coded as P. VA names the
/// previous reference frame for the second field (as FFmpeg does); the
/// decoder finds the first field in the destination buffer itself.
#[test]
fn field_pair() {
    let slices = picture_slices(INTERLACED, 0);
    let top = ext_value(|b| {
        b.set_picture_structure(1);
        b.set_top_field_first(1);
        b.set_is_first_field(1);
    });
    let bottom = ext_value(|b| {
        b.set_picture_structure(2);
        b.set_top_field_first(1);
    });
    let pic_top = pic_param(1, 0xffff, top, VA_INVALID_SURFACE, VA_INVALID_SURFACE);
    let pic_bot = pic_param(2, 0x11ff, bottom, 11, VA_INVALID_SURFACE);
    let base = Mpeg2Picture { pic: &pic_top, picture_coding_extension: top, iq: None, slices: &slices, profile: VAProfileMPEG2Main };
    let mut state = Mpeg2State::new();
    let c1 = build_controls_with_state(&base, &refs(), &mut state).unwrap();
    assert_eq!(c1.picture.picture_structure, V4L2_MPEG2_PIC_TOP_FIELD as u8);
    assert!(c1.hold_capture && !c1.second_field);
    assert_eq!(c1.sequence.flags, 0);
    let p2 = Mpeg2Picture { pic: &pic_bot, picture_coding_extension: bottom, ..base };
    let c2 = build_controls_with_state(&p2, &refs(), &mut state).unwrap();
    assert_eq!(c2.picture.picture_structure, V4L2_MPEG2_PIC_BOTTOM_FIELD as u8);
    assert_eq!(c2.picture.picture_coding_type, V4L2_MPEG2_PIC_CODING_TYPE_P as u8);
    assert!(!c2.hold_capture && c2.second_field);
    assert_eq!(c2.picture.forward_ref_ts, 2000);
    assert_eq!(c2.picture.backward_ref_ts, u64::MAX);
    assert_eq!(c2.picture.flags, V4L2_MPEG2_PIC_FLAG_TOP_FIELD_FIRST);
}

#[test]
fn quantiser_matrices_persist_and_luma_loads_set_chroma() {
    let slices = picture_slices(PROGRESSIVE, 0);
    let ext = ext_value(|b| {
        b.set_picture_structure(3);
        b.set_progressive_frame(1);
        b.set_is_first_field(1);
    });
    let pic = pic_param(1, 0xffff, ext, VA_INVALID_SURFACE, VA_INVALID_SURFACE);
    let mut custom = [0u8; 64];
    for (i, v) in custom.iter_mut().enumerate() {
        *v = 8 + i as u8;
    }
    let iq = VAIQMatrixBufferMPEG2 {
        load_intra_quantiser_matrix: 1,
        intra_quantiser_matrix: custom,
        non_intra_quantiser_matrix: [99; 64], // not loaded: ignored
        ..Default::default()
    };
    let p = Mpeg2Picture { pic: &pic, picture_coding_extension: ext, iq: Some(&iq), slices: &slices, profile: VAProfileMPEG2Simple };
    let mut state = Mpeg2State::new();
    let c = build_controls_with_state(&p, &refs(), &mut state).unwrap();
    assert_eq!(c.quantisation.intra_quantiser_matrix, custom);
    assert_eq!(c.quantisation.chroma_intra_quantiser_matrix, custom);
    assert_eq!(c.quantisation.non_intra_quantiser_matrix, [16; 64]);
    assert_eq!(c.sequence.profile_and_level_indication, 0x58);
    // Next picture without IQ buffer: unchanged.
    let c = build_controls_with_state(&Mpeg2Picture { iq: None, ..p }, &refs(), &mut state).unwrap();
    assert_eq!(c.quantisation.intra_quantiser_matrix, custom);
    // A stateless translation starts from the defaults.
    let c = build_controls(&Mpeg2Picture { iq: None, ..p }, &refs()).unwrap();
    assert_eq!(c.quantisation.intra_quantiser_matrix, default_intra_zigzag());
}

#[test]
fn slices_without_start_code_get_one() {
    let slices = picture_slices(PROGRESSIVE, 0);
    let stripped: Vec<Mpeg2Slice> = slices.iter().map(|s| Mpeg2Slice { param: s.param, data: &s.data[4..] }).collect();
    let ext = ext_value(|b| b.set_picture_structure(3));
    let pic = pic_param(1, 0xffff, ext, VA_INVALID_SURFACE, VA_INVALID_SURFACE);
    let p = Mpeg2Picture { pic: &pic, picture_coding_extension: ext, iq: None, slices: &slices, profile: VAProfileMPEG2Main };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    append_bitstream(&mut a, &p);
    let p2 = Mpeg2Picture { slices: &stripped, ..p };
    build_controls(&p2, &refs()).unwrap();
    append_bitstream(&mut b, &p2);
    assert_eq!(a, b);
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let slices = picture_slices(PROGRESSIVE, 0);
    let ext = ext_value(|b| b.set_picture_structure(3));
    let pic = pic_param(1, 0xffff, ext, VA_INVALID_SURFACE, VA_INVALID_SURFACE);
    let p = Mpeg2Picture { pic: &pic, picture_coding_extension: ext, iq: None, slices: &slices, profile: VAProfileMPEG2Main };
    assert_eq!(build_controls(&Mpeg2Picture { slices: &[], ..p }, &refs()).unwrap_err(), CodecError::NoSlices);
    let empty = [Mpeg2Slice { param: slices[0].param, data: &[] }];
    assert_eq!(build_controls(&Mpeg2Picture { slices: &empty, ..p }, &refs()).unwrap_err(), CodecError::NoSlices);
    let mut far = slices[0].param;
    far.slice_vertical_position = 200;
    let bad = [Mpeg2Slice { param: far, data: &[0x12, 0x34] }];
    assert!(matches!(build_controls(&Mpeg2Picture { slices: &bad, ..p }, &refs()), Err(CodecError::Invalid(_))));
    let mut out = Vec::new();
    append_bitstream(&mut out, &Mpeg2Picture { slices: &bad, ..p });
    assert!(out.is_empty());
    let zero = ext_value(|_| {});
    assert!(build_controls(&Mpeg2Picture { picture_coding_extension: zero, ..p }, &refs()).is_err());
    let pic_t = pic_param(9, 0, ext, 0, 0);
    assert!(build_controls(&Mpeg2Picture { pic: &pic_t, ..p }, &refs()).is_err());

    // Noise in every VA field: never a panic; unknown references are "none".
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..2000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut pic = pic_param((seed & 7) as i32, (seed >> 8) as i32, (seed >> 24) as u32, (seed >> 40) as u32 & 15, 12);
        pic.horizontal_size = (seed >> 48) as u16;
        let q = Mpeg2Picture { pic: &pic, picture_coding_extension: (seed >> 24) as u32, ..p };
        if let Ok(c) = build_controls(&q, &refs()) {
            assert!(c.picture.backward_ref_ts == u64::MAX);
        }
    }
}
