//! Unit tests of the VP8 header re-parser and translator.
//!
//! - Boolean decoder: round trips through a boolean *encoder* written here
//!   from RFC 6386 7.3 (random bits and probabilities), and synthetic headers
//!   with every optional part (segmentation, deltas, quantiser deltas).
//! - Real encoder output: `tests/data/vp8/testsrc.ivf` (libvpx, commands in
//!   `tests/data/vp8/README`); `trace_headers` does not know VP8, so the
//!   values are checked against what the encoder was told (`-sharpness 3`,
//!   which libvpx codes as 0 on key frames), libvpx's default loop filter
//!   deltas on the key frame, the key frame's size (`ffprobe`: 176x144), libvpx's fixed choices for
//!   version 0 (normal loop filter, colour space 0, no segmentation, one DCT
//!   partition) and the frame layout (partition sizes add up to the frame).
//! - Translation of the key frame and an inter frame from VA buffers filled
//!   the way FFmpeg's `vaapi_vp8.c` fills them (frame without its
//!   uncompressed chunk) and the way GStreamer-va does (whole frame, offset).

use super::header::*;
use super::*;
use crate::codec::CodecError;
use crate::va_sys::ffi::{
    _VAPictureParameterBufferVP8__bindgen_ty_1 as PicUnion, _VAPictureParameterBufferVP8__bindgen_ty_1__bindgen_ty_1 as PicBits,
    VASurfaceID, VA_INVALID_SURFACE,
};
use std::collections::HashMap;
use v4l2r::bindings::*;

pub(super) const IVF: &[u8] = include_bytes!("../../../tests/data/vp8/testsrc.ivf");

fn ivf_frames(d: &[u8]) -> Vec<&[u8]> {
    let mut p = usize::from(u16::from_le_bytes([d[6], d[7]]));
    let mut out = Vec::new();
    while p + 12 <= d.len() {
        let n = u32::from_le_bytes([d[p], d[p + 1], d[p + 2], d[p + 3]]) as usize;
        out.push(&d[p + 12..p + 12 + n]);
        p += 12 + n;
    }
    out
}

/// RFC 6386 7.3 boolean encoder (test-only, to feed the decoder).
struct BoolEncoder {
    out: Vec<u8>,
    range: u32,
    bottom: u32,
    bit_count: i32,
}

impl BoolEncoder {
    fn new() -> Self {
        BoolEncoder { out: Vec::new(), range: 255, bottom: 0, bit_count: 24 }
    }
    fn carry(&mut self) {
        let mut i = self.out.len();
        while i > 0 && self.out[i - 1] == 255 {
            self.out[i - 1] = 0;
            i -= 1;
        }
        if i > 0 {
            self.out[i - 1] += 1;
        }
    }
    fn bool(&mut self, prob: u8, bit: bool) {
        let split = 1 + (((self.range - 1) * u32::from(prob)) >> 8);
        if bit {
            self.bottom = self.bottom.wrapping_add(split);
            self.range -= split;
        } else {
            self.range = split;
        }
        while self.range < 128 {
            self.range <<= 1;
            if self.bottom & (1 << 31) != 0 {
                self.carry();
            }
            self.bottom <<= 1;
            self.bit_count -= 1;
            if self.bit_count == 0 {
                self.out.push((self.bottom >> 24) as u8);
                self.bottom &= (1 << 24) - 1;
                self.bit_count = 8;
            }
        }
    }
    fn lit(&mut self, n: u32, v: u32) {
        for i in (0..n).rev() {
            self.bool(128, (v >> i) & 1 != 0);
        }
    }
    fn flag(&mut self, b: bool) {
        self.bool(128, b);
    }
    fn signed(&mut self, n: u32, v: i32) {
        self.lit(n, v.unsigned_abs());
        self.flag(v < 0);
    }
    fn finish(mut self) -> Vec<u8> {
        for _ in 0..32 {
            self.bool(128, false);
        }
        self.out
    }
}

#[test]
fn bool_decoder_round_trips() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let items: Vec<(u8, bool)> = (0..5000)
        .map(|_| {
            let r = next();
            let prob = (r as u8).max(1);
            // Skew the bits towards the probable value, as real data is.
            (prob, ((r >> 8) as u8) >= prob)
        })
        .collect();
    let mut e = BoolEncoder::new();
    for &(p, b) in &items {
        e.bool(p, b);
    }
    let data = e.finish();
    let mut d = BoolDecoder::new(&data).unwrap();
    for (i, &(p, b)) in items.iter().enumerate() {
        assert_eq!(d.read_bool(p), b, "bool {i}");
    }
}

/// A synthetic inter-frame header with every optional part present.
#[test]
fn synthetic_header_with_segmentation_and_deltas() {
    let mut e = BoolEncoder::new();
    e.flag(true); // segmentation_enabled
    e.flag(true); // update_mb_segmentation_map
    e.flag(true); // update_segment_feature_data
    e.flag(false); // segment_feature_mode: delta
    for q in [5, -3, 0, 127] {
        e.flag(q != 0);
        if q != 0 {
            e.signed(7, q);
        }
    }
    for l in [-63, 0, 7, 1] {
        e.flag(l != 0);
        if l != 0 {
            e.signed(6, l);
        }
    }
    for p in [Some(10u32), None, Some(200)] {
        e.flag(p.is_some());
        if let Some(p) = p {
            e.lit(8, p);
        }
    }
    e.flag(true); // filter_type simple
    e.lit(6, 42);
    e.lit(3, 5);
    e.flag(true); // loop_filter_adj_enable
    e.flag(true); // mode_ref_lf_delta_update
    for r in [Some(2), None, Some(-2), Some(-1)] {
        e.flag(r.is_some());
        if let Some(r) = r {
            e.signed(6, r);
        }
    }
    for m in [Some(4), Some(-2), None, Some(2)] {
        e.flag(m.is_some());
        if let Some(m) = m {
            e.signed(6, m);
        }
    }
    e.lit(2, 3); // 8 partitions
    e.lit(7, 99);
    for d in [0, -15, 15, 1, -1] {
        e.flag(d != 0);
        if d != 0 {
            e.signed(4, d);
        }
    }
    e.flag(false); // refresh_golden_frame
    e.flag(true); // refresh_alternate_frame
    e.lit(2, 2); // copy_buffer_to_golden
    e.flag(true); // sign_bias_golden
    e.flag(false); // sign_bias_alternate
    e.flag(false); // refresh_entropy_probs
    e.flag(true); // refresh_last
    let data = e.finish();
    let h = parse_first_partition(&data, false).unwrap();
    assert_eq!(
        h,
        FirstPartHeader {
            color_space: false,
            clamping_type: false,
            segmentation_enabled: true,
            update_mb_segmentation_map: true,
            update_segment_feature_data: true,
            segment_feature_mode_absolute: false,
            quantizer_update: [5, -3, 0, 127],
            lf_update: [-63, 0, 7, 1],
            segment_probs: [10, 255, 200],
            filter_type_simple: true,
            loop_filter_level: 42,
            sharpness_level: 5,
            loop_filter_adj_enable: true,
            mode_ref_lf_delta_update: true,
            ref_frame_delta: [Some(2), None, Some(-2), Some(-1)],
            mb_mode_delta: [Some(4), Some(-2), None, Some(2)],
            log2_nbr_of_dct_partitions: 3,
            y_ac_qi: 99,
            y_dc_delta: 0,
            y2_dc_delta: -15,
            y2_ac_delta: 15,
            uv_dc_delta: 1,
            uv_ac_delta: -1,
            refresh_golden_frame: false,
            refresh_alternate_frame: true,
            copy_buffer_to_golden: 2,
            copy_buffer_to_alternate: 0,
            sign_bias_golden: true,
            sign_bias_alternate: false,
            refresh_entropy_probs: false,
            refresh_last: true,
        }
    );
}

/// The libvpx stream (see the module docs for the oracle).
#[test]
fn real_frames_parse() {
    let frames = ivf_frames(IVF);
    assert_eq!(frames.len(), 4);
    for (i, f) in frames.iter().enumerate() {
        let tag = FrameTag::parse(f).unwrap();
        assert_eq!(tag.key_frame, i == 0);
        assert_eq!((tag.version, tag.show_frame), (0, true));
        if i == 0 {
            assert_eq!((tag.width, tag.height, tag.horizontal_scale, tag.vertical_scale), (176, 144, 0, 0));
        }
        let mut rebuilt = Vec::new();
        tag.write(&mut rebuilt).unwrap();
        assert_eq!(rebuilt, &f[..tag.len()]);
        let h = parse_first_partition(&f[tag.len()..], tag.key_frame).unwrap();
        // `-sharpness 3`; libvpx codes 0 on key frames.
        assert_eq!(h.sharpness_level, if i == 0 { 0 } else { 3 }, "frame {i}");
        // Low quantiser for this tiny frame at 200 kbit/s, hence no loop filter.
        assert_eq!((h.y_ac_qi, h.loop_filter_level), (4, 0), "frame {i}");
        assert!(h.refresh_entropy_probs && h.refresh_last);
        assert_eq!(h.mode_ref_lf_delta_update, i == 0, "deltas coded on the key frame only");
        assert!(!h.color_space && !h.clamping_type && !h.segmentation_enabled && !h.filter_type_simple);
        assert_eq!(h.log2_nbr_of_dct_partitions, 0);
        assert!(h.y_ac_qi <= 127 && h.loop_filter_level <= 63);
        // One DCT partition: it is everything after the first partition.
        assert!(tag.len() + tag.first_part_size as usize <= f.len());
    }
    // Hand-checked values of the key frame's header.
    let h = parse_first_partition(&frames[0][10..], true).unwrap();
    // libvpx's default deltas (ref: intra +2, last 0, golden -2, altref -2;
    // mode: B_PRED +4, ZERO_MV -2, MV +2, SPLIT +4), last-frame delta not coded.
    assert!(h.loop_filter_adj_enable && h.mode_ref_lf_delta_update);
    assert_eq!(h.ref_frame_delta, [Some(2), None, Some(-2), Some(-2)]);
    assert_eq!(h.mb_mode_delta, [Some(4), Some(-2), Some(2), Some(4)]);
}

struct Refs(HashMap<VASurfaceID, u64>);

impl RefResolver for Refs {
    fn timestamp(&self, surface: VASurfaceID) -> Option<u64> {
        self.0.get(&surface).copied()
    }
}

fn pic_value(f: impl FnOnce(&mut PicBits)) -> u32 {
    let mut b = PicBits::default();
    f(&mut b);
    b._bitfield_1.get(0, 24) as u32
}

/// VA buffers for a frame of the libvpx stream as FFmpeg's vaapi_vp8 fills
/// them (values from the re-parsed header; macroblock_offset and the coder
/// state are arbitrary here: the translator passes them through).
pub(super) fn va_for(frame: &[u8], key: bool) -> (VAPictureParameterBufferVP8, u32, VAIQMatrixBufferVP8, VASliceParameterBufferVP8) {
    let tag = FrameTag::parse(frame).unwrap();
    let h = parse_first_partition(&frame[tag.len()..], key).unwrap();
    let fields = pic_value(|b| {
        b.set_key_frame(u32::from(!key));
        b.set_version(0);
        b.set_filter_type(0);
        b.set_sharpness_level(u32::from(h.sharpness_level));
        b.set_loop_filter_adj_enable(u32::from(h.loop_filter_adj_enable));
        b.set_mode_ref_lf_delta_update(u32::from(h.mode_ref_lf_delta_update));
        b.set_sign_bias_golden(u32::from(h.sign_bias_golden));
        b.set_mb_no_coeff_skip(1);
    });
    let pic = VAPictureParameterBufferVP8 {
        frame_width: 176,
        frame_height: 144,
        last_ref_frame: if key { VA_INVALID_SURFACE } else { 20 },
        golden_ref_frame: if key { VA_INVALID_SURFACE } else { 20 },
        alt_ref_frame: if key { VA_INVALID_SURFACE } else { 21 },
        out_of_loop_frame: VA_INVALID_SURFACE,
        pic_fields: PicUnion { value: fields },
        mb_segment_tree_probs: [255; 3],
        loop_filter_level: [h.loop_filter_level; 4],
        loop_filter_deltas_ref_frame: [2, 0, -2, -2],
        loop_filter_deltas_mode: [4, -2, 2, 4],
        prob_skip_false: 200,
        prob_intra: 77, // stale on key frames in FFmpeg
        prob_last: 88,
        prob_gf: 99,
        y_mode_probs: [145, 156, 163, 128],
        uv_mode_probs: [142, 114, 183],
        mv_probs: [[7; 19], [9; 19]],
        bool_coder_ctx: crate::va_sys::ffi::VABoolCoderContextVPX { range: 200, value: 17, count: 3 },
        va_reserved: [0; 4],
    };
    let mut iq = VAIQMatrixBufferVP8::default();
    for row in iq.quantization_index.iter_mut() {
        *row = [u16::from(h.y_ac_qi); 6];
    }
    let macroblock_offset = 123;
    let mut partition_size = [0u32; 9];
    partition_size[0] = tag.first_part_size - 16; // ceil(123 / 8) = 16
    partition_size[1] = (frame.len() - tag.len() - tag.first_part_size as usize) as u32;
    let slice = VASliceParameterBufferVP8 {
        slice_data_size: (frame.len() - tag.len()) as u32,
        slice_data_offset: 0,
        slice_data_flag: 0,
        macroblock_offset,
        num_of_partitions: 2,
        partition_size,
        va_reserved: [0; 4],
    };
    (pic, fields, iq, slice)
}

/// The VA buffers of the key frame of testsrc.ivf as FFmpeg renders them (see
/// `key_frame_translation_ffmpeg_and_gstreamer_layouts`), for host tests of
/// the decode flow (`crate::driver::alloc_tests`): picture parameters, IQ
/// matrix, slice parameters and the slice data (the frame after its 10-byte
/// uncompressed chunk).
pub(crate) fn key_frame() -> (VAPictureParameterBufferVP8, VAIQMatrixBufferVP8, VASliceParameterBufferVP8, &'static [u8]) {
    let f = ivf_frames(IVF)[0];
    let (pic, _, iq, slice) = va_for(f, true);
    (pic, iq, slice, &f[10..])
}

#[test]
fn key_frame_translation_ffmpeg_and_gstreamer_layouts() {
    let frames = ivf_frames(IVF);
    let f = frames[0];
    let h = parse_first_partition(&f[10..], true).unwrap();
    let (pic, fields, iq, slice) = va_for(f, true);
    let mut probs = VAProbabilityDataBufferVP8::default();
    probs.dct_coeff_probs[1][2][0][5] = 33;
    let refs = Refs(HashMap::from([(20, 1000), (21, 2000)]));
    let ffmpeg = Vp8Picture { pic: &pic, pic_fields: fields, iq: &iq, probs: Some(&probs), slice, data: &f[10..] };
    let c = build_controls(&ffmpeg, &refs).unwrap().frame;
    assert_eq!((c.width, c.height, c.horizontal_scale, c.vertical_scale, c.version), (176, 144, 0, 0, 0));
    assert_eq!(c.flags, u64::from(V4L2_VP8_FRAME_FLAG_KEY_FRAME | V4L2_VP8_FRAME_FLAG_SHOW_FRAME | V4L2_VP8_FRAME_FLAG_MB_NO_SKIP_COEFF));
    assert_eq!(c.lf.sharpness_level, 0);
    assert_eq!(c.lf.level, h.loop_filter_level);
    assert_eq!(c.lf.flags, V4L2_VP8_LF_ADJ_ENABLE | V4L2_VP8_LF_DELTA_UPDATE);
    assert_eq!(c.lf.ref_frm_delta, [2, 0, -2, -2]);
    assert_eq!(c.lf.mb_mode_delta, [4, -2, 2, 4]);
    assert_eq!(c.quant.y_ac_qi, h.y_ac_qi);
    assert_eq!(c.segment.flags, V4L2_VP8_SEGMENT_FLAG_DELTA_VALUE_MODE);
    assert_eq!(c.segment.segment_probs, [255; 3]);
    assert_eq!(c.entropy.coeff_probs[1][2][0][5], 33);
    assert_eq!(c.entropy.y_mode_probs, [145, 156, 163, 128]);
    assert_eq!(c.entropy.mv_probs[1], [9; 19]);
    assert_eq!((c.coder_state.range, c.coder_state.value, c.coder_state.bit_count), (200, 17, 3));
    assert_eq!((c.prob_skip_false, c.prob_intra, c.prob_last, c.prob_gf), (200, 0, 0, 0));
    assert_eq!(c.num_dct_parts, 1);
    assert_eq!(c.first_part_size, FrameTag::parse(f).unwrap().first_part_size);
    assert_eq!(c.first_part_header_bits, 123);
    assert_eq!(c.dct_part_sizes, [slice.partition_size[1], 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!((c.last_frame_ts, c.golden_frame_ts, c.alt_frame_ts), (0, 0, 0));
    let mut out = Vec::new();
    append_bitstream(&mut out, &ffmpeg);
    assert_eq!(out, f, "rebuilt uncompressed chunk + VA data = the frame");

    // GStreamer-va: the whole frame, first partition at offset 10, size = frame size.
    let mut gslice = slice;
    gslice.slice_data_offset = 10;
    gslice.slice_data_size = f.len() as u32;
    let gst = Vp8Picture { slice: gslice, data: f, ..ffmpeg };
    let g = build_controls(&gst, &refs).unwrap().frame;
    assert_eq!(crate::v4l2::ControlSpec::new(&g).data, crate::v4l2::ControlSpec::new(&c).data);
    let mut out2 = Vec::new();
    append_bitstream(&mut out2, &gst);
    assert_eq!(out2, f);

    let ctrls = Vp8Controls { frame: c };
    let specs = ctrls.specs();
    assert_eq!(specs[0].id, V4L2_CID_STATELESS_VP8_FRAME);
    assert_eq!(specs[0].data.len(), std::mem::size_of::<v4l2_ctrl_vp8_frame>());
}

#[test]
fn inter_frame_references_and_state() {
    let frames = ivf_frames(IVF);
    let refs = Refs(HashMap::from([(20, 1000), (21, 2000)]));
    let mut state = Vp8State::new();
    let (kpic, kfields, kiq, kslice) = va_for(frames[0], true);
    let probs = VAProbabilityDataBufferVP8::default();
    let key = Vp8Picture { pic: &kpic, pic_fields: kfields, iq: &kiq, probs: Some(&probs), slice: kslice, data: &frames[0][10..] };
    build_controls_with_state(&key, &refs, &mut state).unwrap();

    let f = frames[1];
    let (pic, fields, iq, slice) = va_for(f, false);
    // No probability buffer: the state's are used.
    let p = Vp8Picture { pic: &pic, pic_fields: fields, iq: &iq, probs: None, slice, data: &f[3..] };
    let c = build_controls_with_state(&p, &refs, &mut state).unwrap().frame;
    assert_eq!(c.flags & u64::from(V4L2_VP8_FRAME_FLAG_KEY_FRAME), 0);
    assert_eq!((c.last_frame_ts, c.golden_frame_ts, c.alt_frame_ts), (1000, 1000, 2000));
    assert_eq!((c.prob_intra, c.prob_last, c.prob_gf), (77, 88, 99));
    assert_eq!((c.width, c.height), (176, 144));
    let mut out = Vec::new();
    append_bitstream(&mut out, &p);
    assert_eq!(out, f);
    // Statelessly, a frame without probabilities cannot be translated.
    assert_eq!(build_controls(&p, &refs).unwrap_err(), CodecError::Invalid("VP8 frame without probability buffer"));
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let frames = ivf_frames(IVF);
    let refs = Refs(HashMap::new());
    let (pic, fields, iq, slice) = va_for(frames[0], true);
    let probs = VAProbabilityDataBufferVP8::default();
    let p = Vp8Picture { pic: &pic, pic_fields: fields, iq: &iq, probs: Some(&probs), slice, data: &frames[0][10..] };
    let mut s3 = slice;
    s3.num_of_partitions = 4; // 3 DCT partitions
    assert!(matches!(build_controls(&Vp8Picture { slice: s3, ..p }, &refs), Err(CodecError::Invalid(_))));
    s3.num_of_partitions = 0;
    assert!(matches!(build_controls(&Vp8Picture { slice: s3, ..p }, &refs), Err(CodecError::Invalid(_))));
    assert_eq!(build_controls(&Vp8Picture { data: &[], ..p }, &refs).unwrap_err(), CodecError::Truncated);
    let mut big = pic;
    big.frame_width = 20000;
    assert!(build_controls(&Vp8Picture { pic: &big, ..p }, &refs).is_err());
    assert!(FrameTag::parse(&[0x10, 0x02]).is_err());
    assert!(FrameTag::parse(&[0x10, 0x02, 0x00, 1, 2, 3, 0, 0, 0, 0]).is_err());

    let mut seed = 0x1234_5678_9abc_def1u64;
    let mut noise = vec![0u8; 64];
    for _ in 0..3000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        for b in noise.iter_mut() {
            seed = seed.rotate_left(5) ^ 0x5851_f42d;
            *b = seed as u8;
        }
        let mut sl = slice;
        sl.slice_data_offset = (seed % 80) as u32;
        sl.slice_data_size = (seed >> 8) as u32 % 100;
        sl.macroblock_offset = (seed >> 16) as u32;
        sl.num_of_partitions = (seed >> 24) as u8 % 10;
        sl.partition_size = [(seed >> 32) as u32; 9];
        let q = Vp8Picture { pic_fields: (seed >> 40) as u32, slice: sl, data: &noise, ..p };
        let _ = build_controls(&q, &refs);
        let mut out = Vec::new();
        append_bitstream(&mut out, &q);
        let _ = parse_first_partition(&noise[..(seed % 64) as usize], seed & 1 == 0);
    }
}
