//! Tests: header parsers on real libvpx output, translation of one recorded
//! VA picture to exact control structs.

use super::compressed::parse_compressed_header;
use super::header::{parse_uncompressed_header, ParserState, UncompressedHeader};
use super::*;
use crate::va_sys::ffi::{VASliceParameterBufferVP9, VASurfaceID};
use std::collections::HashMap;
use v4l2r::bindings::{v4l2_vp9_loop_filter, v4l2_vp9_quantization, v4l2_vp9_segmentation};

/// Splits an IVF file into frames, and VP9 superframes into their frames
/// (what FFmpeg's vp9_superframe_split does before the hwaccel sees them).
pub(super) fn ivf_frames(file: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 32;
    while pos + 12 <= file.len() {
        let size = u32::from_le_bytes(file[pos..pos + 4].try_into().unwrap()) as usize;
        let pkt = &file[pos + 12..pos + 12 + size];
        pos += 12 + size;
        let last = pkt[pkt.len() - 1];
        if last & 0xe0 == 0xc0 {
            let n = usize::from(last & 7) + 1;
            let mag = usize::from((last >> 3) & 3) + 1;
            let idx_len = 2 + mag * n;
            if pkt.len() >= idx_len && pkt[pkt.len() - idx_len] == last {
                let mut off = 0;
                let mut p = pkt.len() - idx_len + 1;
                for _ in 0..n {
                    let mut sz = 0usize;
                    for b in 0..mag {
                        sz |= usize::from(pkt[p + b]) << (8 * b);
                    }
                    p += mag;
                    out.push(pkt[off..off + sz].to_vec());
                    off += sz;
                }
                continue;
            }
        }
        out.push(pkt.to_vec());
    }
    out
}

pub(super) const P0: &[u8] = include_bytes!("../../../tests/data/vp9/p0.ivf");
pub(super) const P2: &[u8] = include_bytes!("../../../tests/data/vp9/p2.ivf");

fn parse_all(file: &[u8]) -> Vec<UncompressedHeader> {
    let mut st = ParserState::default();
    ivf_frames(file).iter().map(|f| parse_uncompressed_header(f, &mut st, None).unwrap()).collect()
}

struct Surfaces(HashMap<VASurfaceID, u64>);
impl RefResolver for Surfaces {
    fn timestamp(&self, surface: VASurfaceID) -> Option<u64> {
        self.0.get(&surface).copied()
    }
}

#[test]
fn ivf_superframe_split() {
    // 10 packets, the second is a superframe (hidden ARF + shown frame).
    let f = ivf_frames(P0);
    assert_eq!(f.len(), 11);
    assert_eq!((f[1].len(), f[2].len()), (456, 54)); // checked against trace_headers (superframe index)
    assert_eq!(ivf_frames(P2).len(), 6);
}

/// Frames 0..2 of p0.ivf, checked against trace_headers.
#[test]
fn uncompressed_header_p0() {
    let h = parse_all(P0);
    let k = &h[0];
    assert!(k.key_frame && k.show_frame && !k.error_resilient_mode && !k.intra_only);
    assert_eq!((k.profile, k.color.bit_depth, k.color.color_space, k.color.color_range), (0, 8, 0, false));
    assert_eq!((k.width, k.height, k.render_width, k.render_height), (176, 144, 176, 144));
    assert!(k.refresh_frame_context && k.frame_parallel_decoding_mode);
    assert_eq!((k.frame_context_idx, k.refresh_frame_flags), (0, 0xff));
    assert_eq!((k.lf.level, k.lf.sharpness, k.lf.delta_enabled, k.lf.delta_update), (7, 0, true, true));
    assert_eq!((k.lf.ref_deltas, k.lf.mode_deltas), ([1, 0, -1, -1], [0, 0]));
    assert_eq!(k.quant, header::Quantization { base_q_idx: 54, ..Default::default() });
    assert!(k.seg.enabled && k.seg.update_map && !k.seg.temporal_update && k.seg.update_data && !k.seg.abs_or_delta_update);
    assert_eq!(k.seg.tree_probs, [181, 50, 255, 158, 131, 255, 128]);
    assert_eq!(k.seg.pred_probs, [255; 3]);
    let q: Vec<(bool, i16)> = (0..8).map(|s| (k.seg.feature_enabled[s][0], k.seg.feature_data[s][0])).collect();
    assert_eq!(q, [(true, -36), (true, -30), (true, -20), (false, 0), (true, 21), (false, 0), (false, 0), (false, 0)]);
    assert!((0..8).all(|s| k.seg.feature_enabled[s][1..] == [false; 3]));
    assert_eq!((k.tile_cols_log2, k.tile_rows_log2, k.header_size_in_bytes), (0, 0, 66));
    assert_eq!(k.uncompressed_header_size, 33); // header_size_in_bytes at bit 243: (243 + 16 + 7) / 8

    let a = &h[1]; // hidden alt-ref frame of the superframe
    assert!(!a.key_frame && !a.show_frame && !a.intra_only && !a.error_resilient_mode);
    assert_eq!((a.reset_frame_context, a.refresh_frame_flags), (0, 4));
    assert_eq!((a.ref_frame_idx, a.ref_frame_sign_bias), ([0, 1, 2], [false, false, false]));
    assert_eq!((a.found_ref, a.width, a.height), (Some(0), 176, 144));
    assert!(a.allow_high_precision_mv && !a.is_filter_switchable);
    assert_eq!((a.raw_interpolation_filter, a.v4l2_interpolation_filter()), (1, 0)); // literal 1 = EIGHTTAP
    assert_eq!((a.frame_context_idx, a.lf.level, a.lf.delta_enabled, a.lf.delta_update), (1, 6, true, false));
    assert_eq!(a.lf.ref_deltas, [1, 0, -1, -1]); // persistent
    assert_eq!(a.quant.base_q_idx, 83);
    assert!(a.seg.enabled && a.seg.update_map && a.seg.temporal_update && a.seg.update_data);
    assert_eq!(a.seg.tree_probs, [159, 43, 255, 255, 137, 255, 128]);
    assert_eq!(a.seg.pred_probs, [171, 106, 13]);
    assert_eq!(a.seg.feature_data[0][0], -54);
    assert_eq!(a.seg.feature_data[4][0], 22);
    assert_eq!((a.header_size_in_bytes, a.uncompressed_header_size), (39, 28)); // bit 203

    let f = &h[2];
    assert!(f.show_frame && !f.key_frame);
    assert_eq!((f.refresh_frame_flags, f.ref_frame_sign_bias), (1, [false, false, true]));
    assert_eq!((f.lf.level, f.quant.base_q_idx, f.frame_context_idx), (16, 128, 0));
    assert!(f.seg.enabled && !f.seg.update_map && !f.seg.update_data);
    // Not coded: kept from the previous frame (GStreamer parser semantics).
    assert_eq!(f.seg.tree_probs, [159, 43, 255, 255, 137, 255, 128]);
    assert_eq!(f.seg.feature_data[0][0], -54);
    assert_eq!((f.header_size_in_bytes, f.uncompressed_header_size), (3, 11)); // bit 66
}

/// Profile 2 (10 bit), checked against trace_headers.
#[test]
fn uncompressed_header_p2() {
    let h = parse_all(P2);
    assert_eq!((h[0].profile, h[0].color.bit_depth, h[0].key_frame), (2, 10, true)); // ten_or_twelve_bit = 0
    assert_eq!((h[0].header_size_in_bytes, h[0].uncompressed_header_size), (78, 18)); // bit 125
    assert_eq!((h[1].profile, h[1].color.bit_depth), (2, 10)); // inherited
    assert!(h[1].is_filter_switchable);
    assert_eq!(h[1].v4l2_interpolation_filter(), 4);
    assert_eq!((h[1].lf.level, h[1].quant.base_q_idx, h[1].seg.enabled), (11, 82, false));
    assert_eq!((h[1].header_size_in_bytes, h[1].uncompressed_header_size), (7, 10));
    // bit 62
}

/// trace_headers does not print the compressed header, so the bool decoder is
/// checked structurally on every frame of both streams: the marker bit is 0,
/// the symbols end within header_size_in_bytes and the padding is zero
/// (exit_bool), which a misparse practically never satisfies; plus the values
/// that follow from the uncompressed header (no interp_filter updates without
/// a switchable filter, no hp updates without allow_high_precision_mv,
/// reference_mode SINGLE when all sign biases are equal).
#[test]
fn compressed_header_all_frames() {
    for file in [P0, P2] {
        let mut st = ParserState::default();
        for f in ivf_frames(file) {
            let h = parse_uncompressed_header(&f, &mut st, None).unwrap();
            let c = parse_compressed_header(&f, &h).unwrap();
            assert!(c.tx_mode <= 4);
            assert_eq!(c.probs.tx_mode, c.tx_mode);
            if !h.is_filter_switchable {
                assert_eq!(c.probs.interp_filter, [[0; 2]; 4]);
            }
            if !h.allow_high_precision_mv {
                assert_eq!((c.probs.mv.class0_hp, c.probs.mv.hp), ([0; 2], [0; 2]));
            }
            let sb = h.ref_frame_sign_bias;
            if sb[0] == sb[1] && sb[0] == sb[2] {
                assert_eq!(c.reference_mode, 0);
                assert_eq!(c.probs.comp_ref, [0; 5]);
            }
            if h.is_intra() {
                assert_eq!(c.probs.inter_mode, [[0; 3]; 7]);
                assert_eq!(c.probs.mv, Default::default());
            }
            // Every delta is an inv_map_table value (odd for mv updates).
            assert!(c.probs.mv.joint.iter().all(|&v| v == 0 || v & 1 == 1));
        }
    }
    // The key frame updates coefficient probabilities with TX_MODE_SELECT.
    let f = &ivf_frames(P0)[0];
    let h = parse_uncompressed_header(f, &mut ParserState::default(), None).unwrap();
    let c = parse_compressed_header(f, &h).unwrap();
    assert_eq!(c.tx_mode, 4);
    assert!(c.probs.coef.iter().flatten().flatten().flatten().flatten().flatten().any(|&v| v != 0));
}

#[test]
fn inv_map_table_shape() {
    let t = compressed::tests_support::inv_map();
    assert_eq!(&t[..3], &[7, 20, 33]);
    assert_eq!((t[19], t[20], t[25], t[26]), (254, 1, 6, 8));
    assert_eq!((t[253], t[254]), (253, 253));
}

pub(super) fn pic_fields_value(f: impl FnOnce(&mut PicBits)) -> u32 {
    let mut bits = PicBits { _bitfield_align_1: [], _bitfield_1: __BindgenBitfieldUnit::new([0; 4]) };
    f(&mut bits);
    bits._bitfield_1.get(0, 32) as u32
}

/// The VA buffers of p0.ivf's key frame (frame 0) as FFmpeg's vaapi_vp9.c
/// fills them (see `build_controls_p0_frame2`), for host tests of the decode
/// flow (`crate::driver::alloc_tests`): picture parameters, slice parameters
/// (the whole frame) and the frame.
pub(crate) fn p0_key_frame() -> (VADecPictureParameterBufferVP9, VASliceParameterBufferVP9, Vec<u8>) {
    let data = ivf_frames(P0).swap_remove(0);
    let mut pic = VADecPictureParameterBufferVP9 { frame_width: 176, frame_height: 144, profile: 0, bit_depth: 8, ..Default::default() };
    pic.reference_frames = [VA_INVALID_SURFACE; 8];
    pic.pic_fields.value = pic_fields_value(|b| {
        b.set_subsampling_x(1);
        b.set_subsampling_y(1);
        b.set_show_frame(1);
    });
    let slice = VASliceParameterBufferVP9 { slice_data_size: data.len() as u32, ..Default::default() };
    (pic, slice, data)
}

/// What FFmpeg's vaapi_vp9.c fills for p0.ivf frame 2 (inter, shown), decoded
/// after frame 0 (key, into surface 10 = all slots) and frame 1 (hidden ARF,
/// surface 11 → slot 2). Surfaces map to V4L2 timestamps 1000, 2000.
#[test]
fn build_controls_p0_frame2() {
    let frames = ivf_frames(P0);
    let mut state = Vp9State::default();
    let surfaces = Surfaces(HashMap::from([(10, 1000), (11, 2000)]));

    let mut pic = VADecPictureParameterBufferVP9 { frame_width: 176, frame_height: 144, profile: 0, bit_depth: 8, ..Default::default() };
    pic.reference_frames = [VA_INVALID_SURFACE; 8];
    let key_fields = pic_fields_value(|b| {
        b.set_subsampling_x(1);
        b.set_subsampling_y(1);
        b.set_show_frame(1);
    });
    let k = build_controls_with_state(&Vp9Picture { pic: &pic, pic_fields: key_fields, data: &frames[0] }, &surfaces, &mut state).unwrap();
    assert_eq!(k.frame.flags & V4L2_VP9_FRAME_FLAG_KEY_FRAME, V4L2_VP9_FRAME_FLAG_KEY_FRAME);
    assert_eq!((k.frame.last_frame_ts, k.frame.golden_frame_ts, k.frame.alt_frame_ts), (0, 0, 0));
    assert_eq!(k.refresh_frame_flags, 0xff);

    pic.reference_frames = [10; 8];
    let arf_fields = pic_fields_value(|b| {
        b.set_subsampling_x(1);
        b.set_subsampling_y(1);
        b.set_frame_type(1);
        b.set_allow_high_precision_mv(1);
        b.set_mcomp_filter_type(1);
        b.set_refresh_frame_context(1);
        b.set_frame_parallel_decoding_mode(1);
        b.set_frame_context_idx(1);
        b.set_segmentation_enabled(1);
        b.set_segmentation_update_map(1);
        b.set_segmentation_temporal_update(1);
        b.set_golden_ref_frame(1);
        b.set_alt_ref_frame(2);
    });
    let a = build_controls_with_state(&Vp9Picture { pic: &pic, pic_fields: arf_fields, data: &frames[1] }, &surfaces, &mut state).unwrap();
    assert_eq!(a.frame.flags & V4L2_VP9_FRAME_FLAG_SHOW_FRAME, 0);
    assert_eq!(a.refresh_frame_flags, 4);

    pic.reference_frames = [10, 10, 11, 10, 10, 10, 10, 10];
    pic.filter_level = 16;
    pic.frame_header_length_in_bytes = 11;
    pic.first_partition_size = 3;
    pic.mb_segment_tree_probs = [159, 43, 255, 255, 137, 255, 128];
    pic.segment_pred_probs = [255; 3];
    let fields = pic_fields_value(|b| {
        b.set_subsampling_x(1);
        b.set_subsampling_y(1);
        b.set_frame_type(1);
        b.set_show_frame(1);
        b.set_allow_high_precision_mv(1);
        b.set_mcomp_filter_type(1);
        b.set_refresh_frame_context(1);
        b.set_frame_parallel_decoding_mode(1);
        b.set_segmentation_enabled(1);
        b.set_last_ref_frame(0);
        b.set_golden_ref_frame(1);
        b.set_alt_ref_frame(2);
        b.set_alt_ref_frame_sign_bias(1);
    });
    assert_eq!(PicFields::from_value(fields).alt_ref_frame, 2);
    let p = Vp9Picture { pic: &pic, pic_fields: fields, data: &frames[2] };
    let c = build_controls_with_state(&p, &surfaces, &mut state).unwrap();

    let mut seg_enabled = [0u8; 8];
    let mut seg_data = [[0i16; 4]; 8];
    for (s, q) in [(0, -54), (1, -45), (2, -30), (4, 22)] {
        seg_enabled[s] = 1; // V4L2_VP9_SEGMENT_FEATURE_ENABLED(ALT_Q)
        seg_data[s][0] = q;
    }
    let expected = v4l2_ctrl_vp9_frame {
        lf: v4l2_vp9_loop_filter {
            ref_deltas: [1, 0, -1, -1],
            mode_deltas: [0, 0],
            level: 16,
            sharpness: 0,
            flags: V4L2_VP9_LOOP_FILTER_FLAG_DELTA_ENABLED as u8,
            reserved: [0; 7],
        },
        quant: v4l2_vp9_quantization { base_q_idx: 128, ..Default::default() },
        seg: v4l2_vp9_segmentation {
            feature_data: seg_data,
            feature_enabled: seg_enabled,
            tree_probs: [159, 43, 255, 255, 137, 255, 128],
            pred_probs: [171, 106, 13], // kept from the ARF, as GStreamer's parser does
            flags: V4L2_VP9_SEGMENTATION_FLAG_ENABLED as u8,
            reserved: [0; 5],
        },
        flags: V4L2_VP9_FRAME_FLAG_SHOW_FRAME
            | V4L2_VP9_FRAME_FLAG_ALLOW_HIGH_PREC_MV
            | V4L2_VP9_FRAME_FLAG_REFRESH_FRAME_CTX
            | V4L2_VP9_FRAME_FLAG_PARALLEL_DEC_MODE
            | V4L2_VP9_FRAME_FLAG_X_SUBSAMPLING
            | V4L2_VP9_FRAME_FLAG_Y_SUBSAMPLING,
        compressed_header_size: 3,
        uncompressed_header_size: 11,
        frame_width_minus_1: 175,
        frame_height_minus_1: 143,
        render_width_minus_1: 175,
        render_height_minus_1: 143,
        last_frame_ts: 1000,
        golden_frame_ts: 1000,
        alt_frame_ts: 2000,
        ref_frame_sign_bias: V4L2_VP9_SIGN_BIAS_ALT as u8,
        reset_frame_context: 0,
        frame_context_idx: 0,
        profile: 0,
        bit_depth: 8,
        interpolation_filter: 0, // literal 1 → EIGHTTAP
        tile_cols_log2: 0,
        tile_rows_log2: 0,
        reference_mode: 0, // compound allowed (ALT sign bias differs) but coded SINGLE
        reserved: [0; 7],
    };
    assert_eq!(c.frame, expected);
    assert_eq!(c.compressed_hdr.tx_mode, 3); // ALLOW_32X32
    assert_eq!(c.refresh_frame_flags, 1);
    assert!(!c.needs_reference_scaling);

    let specs = c.specs(true);
    assert_eq!(specs.len(), 2);
    assert_eq!(specs[0].id, v4l2r::bindings::V4L2_CID_STATELESS_VP9_FRAME);
    assert_eq!(specs[0].data.len(), std::mem::size_of::<v4l2_ctrl_vp9_frame>());
    assert_eq!(specs[1].data.len(), 2040);
    assert_eq!(c.specs(false).len(), 1);

    let mut out = Vec::new();
    append_bitstream(&mut out, &p);
    assert_eq!(out, frames[2]);
}

#[test]
fn profile2_bit_depth_and_stateless_keyframe() {
    let frames = ivf_frames(P2);
    let pic = VADecPictureParameterBufferVP9 { frame_width: 176, frame_height: 144, profile: 2, bit_depth: 10, ..Default::default() };
    let p = Vp9Picture { pic: &pic, pic_fields: 0, data: &frames[0] };
    let c = build_controls(&p, &Surfaces(HashMap::new())).unwrap();
    assert_eq!((c.frame.profile, c.frame.bit_depth), (2, 10));
    assert_eq!((c.frame.compressed_header_size, c.frame.uncompressed_header_size), (78, 18));
}

#[test]
fn missing_reference_and_scaling() {
    let frames = ivf_frames(P0);
    let pic = VADecPictureParameterBufferVP9 {
        frame_width: 176,
        frame_height: 144,
        reference_frames: [VA_INVALID_SURFACE; 8],
        ..Default::default()
    };
    let mut state = Vp9State::default();
    let p = Vp9Picture { pic: &pic, pic_fields: 0, data: &frames[2] };
    assert_eq!(build_controls_with_state(&p, &Surfaces(HashMap::new()), &mut state).unwrap_err(), CodecError::MissingReference);
    assert_eq!(state.parser, ParserState::default(), "state untouched on error");

    // Slot 2 last held a 352x288 picture: the 176x144 inter frame must scale it.
    let pic = VADecPictureParameterBufferVP9 { reference_frames: [7; 8], ..pic };
    state.parser.ref_sizes = [Some((176, 144)); 8];
    state.parser.ref_sizes[2] = Some((352, 288));
    let p = Vp9Picture { pic: &pic, ..p };
    let c = build_controls_with_state(&p, &Surfaces(HashMap::from([(7, 5)])), &mut state).unwrap();
    assert!(c.needs_reference_scaling);
    assert_eq!((c.frame.frame_width_minus_1, c.frame.last_frame_ts), (175, 5));
}

#[test]
fn show_existing_frame() {
    // frame_marker 10, profile 0, show_existing_frame 1, frame_to_show_map_idx 001.
    let data = [0b1000_1001u8];
    let info = frame_info(&data).unwrap();
    assert_eq!(info.show_existing_frame, Some(1));
    let pic = VADecPictureParameterBufferVP9::default();
    let p = Vp9Picture { pic: &pic, pic_fields: 0, data: &data };
    assert!(matches!(build_controls(&p, &Surfaces(HashMap::new())), Err(CodecError::Unsupported(_))));
    let info = frame_info(&ivf_frames(P0)[1]).unwrap();
    assert_eq!(info, FrameInfo { profile: 0, show_existing_frame: None, key_frame: false, show_frame: false });
}

#[test]
fn empty_and_malformed_never_panic() {
    let pic = VADecPictureParameterBufferVP9 { frame_width: 176, frame_height: 144, reference_frames: [1; 8], ..Default::default() };
    let refs = Surfaces(HashMap::from([(1, 1)]));
    let p = Vp9Picture { pic: &pic, pic_fields: 0, data: &[] };
    assert_eq!(build_controls(&p, &refs).unwrap_err(), CodecError::NoSlices);
    assert!(frame_info(&[]).is_err());
    for file in [P0, P2] {
        for f in ivf_frames(file) {
            // Every truncation and a few bit flips in the headers.
            for n in 0..f.len().min(120) {
                let p = Vp9Picture { data: &f[..n], ..p };
                let _ = build_controls(&p, &refs);
                let _ = frame_info(&f[..n]);
            }
            for bit in 0..(f.len().min(100) * 8) {
                let mut g = f.clone();
                g[bit / 8] ^= 0x80 >> (bit % 8);
                let p = Vp9Picture { data: &g, ..p };
                let _ = build_controls(&p, &refs);
            }
        }
    }
    // Pseudo-random garbage.
    let mut x: u32 = 0x1234_5678;
    for _ in 0..2000 {
        let len = (x % 64) as usize;
        let buf: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let p = Vp9Picture { data: &buf, ..p };
        let _ = build_controls(&p, &refs);
    }
}

#[test]
fn profiles() {
    assert_eq!(va_profiles(false), vec![VAProfileVP9Profile0]);
    assert_eq!(va_profiles(true), vec![VAProfileVP9Profile0, VAProfileVP9Profile2]);
}

/// tests/streams/vp9-refscale.ivf (scripts/make-streams): frames 0-4 176x144 (key first),
/// frame 5 an inter frame of 128x96 predicted from 176x144 references, frame 10 a 128x96
/// key frame.
#[test]
fn refscale_stream_inter_frame_size_change() {
    const RS: &[u8] = include_bytes!("../../../tests/streams/vp9-refscale.ivf");
    let frames = ivf_frames(RS);
    assert_eq!(frames.len(), 14);
    // Surface i holds frame i, timestamp (i + 1) * 1000; every slot names the surface of
    // the frame that last refreshed it.
    let surfaces = Surfaces((0..14).map(|i| (i as VASurfaceID, (i as u64 + 1) * 1000)).collect());
    let mut slots = [VA_INVALID_SURFACE; 8];
    let mut state = Vp9State::default();
    assert!(state.has_no_references());
    let size = |i: usize| if i < 5 { (176, 144) } else { (128, 96) };
    for (i, data) in frames.iter().enumerate().take(6) {
        let (w, h) = size(i);
        let pic = VADecPictureParameterBufferVP9 { frame_width: w, frame_height: h, reference_frames: slots, ..Default::default() };
        let p = Vp9Picture { pic: &pic, pic_fields: 0, data };
        let c = build_controls_with_state(&p, &surfaces, &mut state).unwrap();
        assert_eq!((c.frame.frame_width_minus_1 + 1, c.frame.frame_height_minus_1 + 1), (w, h), "frame {i}");
        assert_eq!(c.needs_reference_scaling, i == 5, "frame {i}");
        assert!(!state.has_no_references());
        for (s, slot) in slots.iter_mut().enumerate() {
            if c.refresh_frame_flags & (1 << s) != 0 {
                *slot = i as VASurfaceID;
            }
        }
    }
    // What a client that opens a new context for frame 5 gets: a fresh state that knows no
    // reference, and surfaces of the old context that this one cannot resolve.
    let mut fresh = Vp9State::default();
    let pic = VADecPictureParameterBufferVP9 { frame_width: 128, frame_height: 96, reference_frames: slots, ..Default::default() };
    let p = Vp9Picture { pic: &pic, pic_fields: 0, data: &frames[5] };
    assert_eq!(build_controls_with_state(&p, &Surfaces(HashMap::new()), &mut fresh).unwrap_err(), CodecError::MissingReference);
    assert!(fresh.has_no_references());
    // The key frame decodes in either state and resets every slot to 128x96.
    let p = Vp9Picture { pic: &pic, pic_fields: 0, data: &frames[10] };
    let c = build_controls_with_state(&p, &Surfaces(HashMap::new()), &mut fresh).unwrap();
    assert_ne!(c.frame.flags & V4L2_VP9_FRAME_FLAG_KEY_FRAME, 0);
    assert_eq!(fresh.parser.ref_sizes, [Some((128, 96)); 8]);
}
