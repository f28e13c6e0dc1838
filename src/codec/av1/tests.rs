//! Tests: two frames of a real libaom stream (tests/data/av1/tiles.ivf, two
//! tile columns), with VA buffers built by hand the way FFmpeg's
//! `vaapi_av1.c` fills them. Expected values checked against
//! `ffmpeg -i tiles.ivf -c copy -bsf:v trace_headers -f null -`.

use super::*;
use std::collections::HashMap;

pub(super) const TILES: &[u8] = include_bytes!("../../../tests/data/av1/tiles.ivf");
pub(super) const RT: &[u8] = include_bytes!("../../../tests/data/av1/rt.ivf");

fn ivf_packets(file: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut pos = 32;
    while pos + 12 <= file.len() {
        let size = u32::from_le_bytes(file[pos..pos + 4].try_into().unwrap()) as usize;
        out.push(&file[pos + 12..pos + 12 + size]);
        pos += 12 + size;
    }
    out
}

/// (obu_type, payload) of every OBU of a packet (no extension headers here).
fn obus(mut pkt: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while !pkt.is_empty() {
        let ty = (pkt[0] >> 3) & 15;
        assert_eq!(pkt[0] & 6, 2, "has_size_field, no extension");
        let (mut size, mut i) = (0usize, 1);
        loop {
            let b = pkt[i];
            size |= usize::from(b & 0x7f) << (7 * (i - 1));
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        out.push((ty, &pkt[i..i + size]));
        pkt = &pkt[i + size..];
    }
    out
}

/// The OBU_FRAME payloads (type 6), in decode order.
pub(super) fn frames(file: &[u8]) -> Vec<&[u8]> {
    ivf_packets(file).into_iter().flat_map(obus).filter(|(t, _)| *t == 6).map(|(_, p)| p).collect()
}

/// What FFmpeg's get_tiles_info() makes of a tile group's tile data: (offset, size) per tile.
fn ffmpeg_tiles(tile_data: &[u8], n: usize, tile_size_bytes: usize) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    for i in 0..n {
        if i == n - 1 {
            out.push((pos as u32, (tile_data.len() - pos) as u32));
        } else {
            let mut size = 0usize;
            for k in 0..tile_size_bytes {
                size |= usize::from(tile_data[pos + k]) << (8 * k);
            }
            size += 1;
            pos += tile_size_bytes;
            out.push((pos as u32, size as u32));
            pos += size;
        }
    }
    out
}

pub(super) fn slice_param(offset: u32, size: u32, col: u16) -> VASliceParameterBufferAV1 {
    VASliceParameterBufferAV1 {
        slice_data_size: size,
        slice_data_offset: offset,
        tile_column: col,
        tg_start: 0,
        tg_end: 1,
        ..Default::default()
    }
}

struct Surfaces(HashMap<VASurfaceID, u64>);
impl RefResolver for Surfaces {
    fn timestamp(&self, surface: VASurfaceID) -> Option<u64> {
        self.0.get(&surface).copied()
    }
}

// Union words as FFmpeg packs them (bit positions from va_dec_av1.h).
pub(super) const SEQ_FIELDS: u32 = (1 << 2) // enable_filter_intra
    | (1 << 3) // enable_intra_edge_filter
    | (1 << 5) // enable_masked_compound
    | (1 << 7) // enable_order_hint
    | (1 << 9) // enable_cdef
    | (1 << 12) // subsampling_x
    | (1 << 13); // subsampling_y

/// Picture parameters shared by the two frames (sequence header of tiles.ivf).
#[allow(clippy::field_reassign_with_default)]
fn base_pic() -> VADecPictureParameterBufferAV1 {
    let mut p = VADecPictureParameterBufferAV1::default();
    p.profile = 0;
    p.order_hint_bits_minus_1 = 6;
    p.bit_depth_idx = 0;
    p.matrix_coefficients = 6;
    p.frame_width_minus1 = 175;
    p.frame_height_minus1 = 143;
    p.tile_cols = 2;
    p.tile_rows = 1;
    p.width_in_sbs_minus_1[0] = 1;
    p.width_in_sbs_minus_1[1] = 0;
    p.height_in_sbs_minus_1[0] = 2;
    p.superres_scale_denominator = 8;
    p.ref_deltas = [1, 0, 0, 0, -1, 0, -1, -1];
    for wm in p.wm.iter_mut() {
        wm.wmmat[2] = 1 << 16;
        wm.wmmat[5] = 1 << 16;
    }
    p
}

/// Frame 0: key frame (trace_headers: frame_type 0, show_frame 1,
/// allow_screen_content_tools 1, order_hint 0, tile_cols_log2 1,
/// tile_size_bytes_minus1 1, base_q_idx 22, loop_filter_level 0/0,
/// loop_filter_delta_enabled 1, cdef_damping_minus_3 0, cdef_bits 0,
/// cdef_uv_sec_strength[0] 2, tx_mode 2; tile data starts at bit 112 of the
/// OBU, i.e. payload byte 11).
pub(super) fn key_pic() -> VADecPictureParameterBufferAV1 {
    let mut p = base_pic();
    p.current_frame = 10;
    p.current_display_picture = 10;
    p.ref_frame_map = [VA_INVALID_SURFACE; 8];
    p.primary_ref_frame = 7;
    p.order_hint = 0;
    p.base_qindex = 22;
    p.cdef_uv_strengths[0] = 2;
    p
}
/// The VA buffers of tiles.ivf's key frame (two tiles) as FFmpeg 5.x renders
/// them (see `key_frame_controls`) into surface `target`, for host tests of
/// the decode flow (`crate::driver::alloc_tests`): picture parameters, and per
/// tile its parameters and the whole tile data.
pub(crate) fn key_frame(target: VASurfaceID) -> (VADecPictureParameterBufferAV1, Vec<(VASliceParameterBufferAV1, &'static [u8])>) {
    let mut pic = key_pic();
    pic.current_frame = target;
    pic.current_display_picture = target;
    pic.seq_info_fields.value = SEQ_FIELDS;
    pic.pic_info_fields.value = KEY_PIC_FIELDS;
    pic.loop_filter_info_fields.value = KEY_LF_FIELDS;
    pic.mode_control_fields.value = KEY_MODE_FIELDS;
    let tiles = tiles_of(&frames(TILES)[0][11..], 2).into_iter().map(|t| (t.param, t.data)).collect();
    (pic, tiles)
}

pub(super) const KEY_PIC_FIELDS: u32 = (1 << 2) | (1 << 6) | (1 << 14); // show_frame, allow_screen_content_tools, uniform
pub(super) const KEY_LF_FIELDS: u8 = 1 << 3; // mode_ref_delta_enabled
pub(super) const KEY_MODE_FIELDS: u32 = 2 << 7; // tx_mode SELECT

/// Frame 1: hidden inter frame (trace_headers: frame_type 1, show_frame 0,
/// showable_frame 1, allow_screen_content_tools 1, order_hint 6,
/// primary_ref_frame 7, refresh_frame_flags 2, ref_frame_idx all 0,
/// allow_high_precision_mv 1, interpolation_filter 0,
/// is_motion_mode_switchable 1, use_ref_frame_mvs 1,
/// tile_size_bytes_minus1 0, base_q_idx 73, loop_filter_level 8/8/4/5,
/// cdef_damping_minus_3 1, cdef_y_sec_strength[0] 2, cdef_uv_sec_strength[0]
/// 2, tx_mode 2, reference_select 0, allow_warped_motion 1; tile data at
/// payload byte 18).
pub(super) fn inter_pic() -> VADecPictureParameterBufferAV1 {
    let mut p = base_pic();
    p.current_frame = 11;
    p.current_display_picture = 11;
    p.ref_frame_map = [10; 8];
    p.ref_frame_idx = [0; 7];
    p.primary_ref_frame = 7;
    p.order_hint = 6;
    p.base_qindex = 73;
    p.filter_level = [8, 8];
    p.filter_level_u = 4;
    p.filter_level_v = 5;
    p.cdef_damping_minus_3 = 1;
    p.cdef_y_strengths[0] = 2;
    p.cdef_uv_strengths[0] = 2;
    p
}
pub(super) const INTER_PIC_FIELDS: u32 = 1 // frame_type INTER
    | (1 << 3) // showable_frame
    | (1 << 6) // allow_screen_content_tools
    | (1 << 10) // allow_high_precision_mv
    | (1 << 11) // is_motion_mode_switchable
    | (1 << 12) // use_ref_frame_mvs
    | (1 << 14) // uniform_tile_spacing_flag
    | (1 << 15); // allow_warped_motion

pub(super) fn picture<'a>(
    pic: &'a VADecPictureParameterBufferAV1,
    pic_fields: u32,
    lf: u8,
    mode: u32,
    tiles: &'a [Av1Tile<'a>],
) -> Av1Picture<'a> {
    Av1Picture {
        pic,
        seq_info_fields: SEQ_FIELDS,
        pic_info_fields: pic_fields,
        loop_filter_info_fields: lf,
        qmatrix_fields: 0,
        mode_control_fields: mode,
        loop_restoration_fields: 0,
        segment_info_fields: 0,
        film_grain_info_fields: 0,
        tiles,
    }
}

/// FFmpeg 5.x style: one slice data buffer (the whole tile data) per tile.
pub(super) fn tiles_of(tile_data: &[u8], tsb: usize) -> Vec<Av1Tile<'_>> {
    ffmpeg_tiles(tile_data, 2, tsb)
        .into_iter()
        .enumerate()
        .map(|(i, (off, size))| Av1Tile { param: slice_param(off, size, i as u16), data: tile_data })
        .collect()
}

#[test]
fn stream_layout() {
    let f = frames(TILES);
    assert_eq!(f.len(), 9); // + one OBU_FRAME_HEADER (show_existing_frame), checked against trace_headers
    assert_eq!((f[0].len(), f[1].len()), (1672, 248)); // obu_size, checked against trace_headers
    assert_eq!(frames(RT).len(), 8);
}

#[test]
fn bitfields_decode() {
    let i = fields::PicInfo::from_value(INTER_PIC_FIELDS);
    assert_eq!(i.frame_type, 1);
    assert!(i.showable_frame && !i.show_frame && i.allow_warped_motion && i.uniform_tile_spacing_flag);
    let s = fields::SeqInfo::from_value(SEQ_FIELDS);
    assert!(s.enable_order_hint && s.enable_cdef && s.subsampling_x && !s.mono_chrome);
    let m = fields::ModeControl::from_value(KEY_MODE_FIELDS | 1 << 9 | 1 << 11);
    assert_eq!((m.tx_mode, m.reference_select, m.skip_mode_present), (2, true, true));
    let l = fields::LoopFilterInfo::from_value(KEY_LF_FIELDS | 5);
    assert_eq!((l.sharpness_level, l.mode_ref_delta_enabled, l.mode_ref_delta_update), (5, true, false));
    let r = fields::LoopRestorationInfo::from_value(1 | 2 << 2 | 3 << 4 | 2 << 6 | 1 << 8);
    assert_eq!((r.frame_restoration_type, r.lr_unit_shift, r.lr_uv_shift), ([1, 2, 3], 2, 1));
}

#[test]
fn key_frame_controls() {
    let f = frames(TILES);
    let data = &f[0][11..];
    let tiles = tiles_of(data, 2);
    assert_eq!(tiles[0].param.slice_data_offset, 2);
    let pic = key_pic();
    let p = picture(&pic, KEY_PIC_FIELDS, KEY_LF_FIELDS, KEY_MODE_FIELDS, &tiles);
    let mut st = Av1State::default();
    let refs = Surfaces(HashMap::from([(10, 1000)]));
    let c = build_controls_with_state(&p, &refs, &mut st).unwrap();

    let s = &c.sequence;
    assert_eq!((s.seq_profile, s.order_hint_bits, s.bit_depth), (0, 7, 8));
    assert_eq!((s.max_frame_width_minus_1, s.max_frame_height_minus_1), (175, 143));
    let expect_seq = b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_FILTER_INTRA
        | b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_INTRA_EDGE_FILTER
        | b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_MASKED_COMPOUND
        | b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_WARPED_MOTION
        | b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_ORDER_HINT
        | b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_REF_FRAME_MVS
        | b::V4L2_AV1_SEQUENCE_FLAG_ENABLE_CDEF
        | b::V4L2_AV1_SEQUENCE_FLAG_SUBSAMPLING_X
        | b::V4L2_AV1_SEQUENCE_FLAG_SUBSAMPLING_Y;
    assert_eq!(s.flags, expect_seq); // = the sequence header in trace_headers

    let fr = &c.frame;
    assert_eq!(fr.frame_type, 0);
    assert_eq!(fr.flags, b::V4L2_AV1_FRAME_FLAG_SHOW_FRAME | b::V4L2_AV1_FRAME_FLAG_ALLOW_SCREEN_CONTENT_TOOLS);
    assert_eq!((fr.order_hint, fr.refresh_frame_flags, fr.primary_ref_frame), (0, 0xff, 7));
    assert!(c.refresh_frame_flags_exact);
    assert_eq!((fr.frame_width_minus_1, fr.frame_height_minus_1, fr.upscaled_width), (175, 143, 176));
    assert_eq!((fr.render_width_minus_1, fr.render_height_minus_1, fr.superres_denom), (175, 143, 8));
    assert_eq!((fr.tx_mode, fr.interpolation_filter), (2, 0));
    assert_eq!(fr.quantization.base_q_idx, 22);
    assert_eq!(fr.quantization.flags, 0);
    assert_eq!(fr.loop_filter.level, [0, 0, 0, 0]);
    assert_eq!(fr.loop_filter.flags, b::V4L2_AV1_LOOP_FILTER_FLAG_DELTA_ENABLED as u8);
    assert_eq!(fr.loop_filter.ref_deltas, [1, 0, 0, 0, -1, 0, -1, -1]);
    assert_eq!((fr.cdef.damping_minus_3, fr.cdef.bits), (0, 0));
    assert_eq!((fr.cdef.y_pri_strength[0], fr.cdef.y_sec_strength[0]), (0, 0));
    assert_eq!((fr.cdef.uv_pri_strength[0], fr.cdef.uv_sec_strength[0]), (0, 2));
    assert_eq!(fr.reference_frame_ts, [0; 8]);
    assert_eq!(fr.order_hints, [0; 8]);
    assert_eq!(fr.skip_mode_frame, [0, 0]);
    assert_eq!(fr.global_motion.flags, [0; 8]);
    assert_eq!(fr.global_motion.params[1], [0, 0, 1 << 16, 0, 0, 1 << 16]);

    let t = &fr.tile_info;
    assert_eq!((t.tile_cols, t.tile_rows, t.context_update_tile_id), (2, 1, 0));
    assert_eq!(t.flags, b::V4L2_AV1_TILE_INFO_FLAG_UNIFORM_TILE_SPACING as u8);
    assert_eq!(t.tile_size_bytes, 2); // tile_size_bytes_minus1 = 1
    assert_eq!(&t.mi_col_starts[..3], &[0, 32, 44]);
    assert_eq!(&t.mi_row_starts[..2], &[0, 36]);
    assert_eq!(&t.width_in_sbs_minus_1[..2], &[1, 0]);
    assert_eq!(t.height_in_sbs_minus_1[0], 2);

    // Tiles: payloads back to back in OUTPUT.
    let (s0, s1) = (tiles[0].param.slice_data_size, tiles[1].param.slice_data_size);
    assert_eq!(s0 + s1 + 2, data.len() as u32);
    assert_eq!(c.tile_group_entries.len(), 2);
    let e = &c.tile_group_entries;
    assert_eq!((e[0].tile_offset, e[0].tile_size, e[0].tile_row, e[0].tile_col), (0, s0, 0, 0));
    assert_eq!((e[1].tile_offset, e[1].tile_size, e[1].tile_row, e[1].tile_col), (s0, s1, 0, 1));
    let mut out = Vec::new();
    append_bitstream(&mut out, &p);
    assert_eq!(out.len() as u32, s0 + s1);
    assert_eq!(&out[..s0 as usize], &data[2..2 + s0 as usize]);
    assert_eq!(&out[s0 as usize..], &data[2 + s0 as usize..]);

    assert!(c.film_grain.is_none());
    assert_eq!(c.specs().len(), 3);
    assert_eq!(st.order_hint_of(10), Some(0));
}

#[test]
fn hidden_inter_frame_controls() {
    let f = frames(TILES);
    let key_tiles = tiles_of(&f[0][11..], 2);
    let data = &f[1][18..];
    let tiles = tiles_of(data, 1);
    let refs = Surfaces(HashMap::from([(10, 1000), (11, 2000)]));
    let mut st = Av1State::default();
    let kp = key_pic();
    build_controls_with_state(&picture(&kp, KEY_PIC_FIELDS, KEY_LF_FIELDS, KEY_MODE_FIELDS, &key_tiles), &refs, &mut st).unwrap();

    let pic = inter_pic();
    let p = picture(&pic, INTER_PIC_FIELDS, KEY_LF_FIELDS, KEY_MODE_FIELDS, &tiles);
    let c = build_controls_with_state(&p, &refs, &mut st).unwrap();
    let fr = &c.frame;
    assert_eq!(fr.frame_type, 1);
    assert_eq!(
        fr.flags,
        b::V4L2_AV1_FRAME_FLAG_SHOWABLE_FRAME
            | b::V4L2_AV1_FRAME_FLAG_ALLOW_SCREEN_CONTENT_TOOLS
            | b::V4L2_AV1_FRAME_FLAG_ALLOW_HIGH_PRECISION_MV
            | b::V4L2_AV1_FRAME_FLAG_IS_MOTION_MODE_SWITCHABLE
            | b::V4L2_AV1_FRAME_FLAG_USE_REF_FRAME_MVS
            | b::V4L2_AV1_FRAME_FLAG_ALLOW_WARPED_MOTION
    );
    assert_eq!((fr.order_hint, fr.primary_ref_frame), (6, 7));
    assert_eq!(fr.ref_frame_idx, [0; 7]);
    assert_eq!(fr.reference_frame_ts, [1000; 8]);
    assert_eq!(fr.order_hints, [0; 8]); // every reference is the key frame, order_hint 0
    assert_eq!(fr.quantization.base_q_idx, 73);
    assert_eq!(fr.loop_filter.level, [8, 8, 4, 5]);
    assert_eq!((fr.cdef.damping_minus_3, fr.cdef.y_sec_strength[0], fr.cdef.uv_sec_strength[0]), (1, 2, 2));
    assert_eq!(fr.tile_info.tile_size_bytes, 1); // tile_size_bytes_minus1 = 0
    assert_eq!(fr.skip_mode_frame, [0, 0]); // reference_select 0
                                            // refresh_frame_flags (2 in trace_headers) is not in VA: predicted.
    assert!(!c.refresh_frame_flags_exact);
    // The key frame went into all eight slots (shown key frame: 0xff), which
    // this frame's ref_frame_map confirms; that is also the prediction.
    assert_eq!(c.previous_refresh_frame_flags, Some(0xff));
    assert_eq!(fr.refresh_frame_flags, 0xff);
    let e = &c.tile_group_entries;
    assert_eq!(e[0].tile_size + e[1].tile_size + 1, data.len() as u32);

    // The next frame's ref_frame_map shows where frame 1 went: slot 1
    // (refresh_frame_flags = 2 in trace_headers).
    let mut next = inter_pic();
    next.current_frame = 12;
    next.ref_frame_map = [10, 11, 10, 10, 10, 10, 10, 10];
    next.order_hint = 3;
    let c2 = build_controls_with_state(&picture(&next, INTER_PIC_FIELDS, 0, 0, &tiles), &refs, &mut st).unwrap();
    assert_eq!(c2.previous_refresh_frame_flags, Some(2));
    // Nothing learnt yet about what follows slot 1: the prediction rotates to slot 2.
    assert_eq!(c2.frame.refresh_frame_flags, 4);
    assert_eq!(c2.frame.reference_frame_ts, [1000, 2000, 1000, 1000, 1000, 1000, 1000, 1000]);
}

#[test]
fn skip_mode_rules() {
    // Forward (hint 2) and backward (hint 6) references around order hint 4.
    let hints = [2, 2, 6, 2, 6, 6, 6];
    assert_eq!(skip_mode_frames(false, true, true, 7, 4, &hints), Some([1, 3]));
    // Only forward references: the two nearest.
    let hints = [3, 1, 1, 2, 1, 1, 1];
    assert_eq!(skip_mode_frames(false, true, true, 7, 4, &hints), Some([1, 4]));
    assert_eq!(skip_mode_frames(false, false, true, 7, 4, &hints), None);
    assert_eq!(skip_mode_frames(true, true, true, 7, 4, &hints), None);
    // Wrap-around of 7-bit order hints: 127 is before 1.
    assert_eq!(relative_dist(127, 1, true, 7), -2);
}

#[test]
fn errors_never_panic() {
    let f = frames(TILES);
    let data = &f[0][11..];
    let refs = Surfaces(HashMap::new());
    let pic = key_pic();
    // No tiles.
    let p = picture(&pic, KEY_PIC_FIELDS, 0, 0, &[]);
    assert_eq!(build_controls(&p, &refs).unwrap_err(), CodecError::NoSlices);
    // Tile outside its buffer.
    let bad = [Av1Tile { param: slice_param(10, u32::MAX, 0), data }];
    let p = picture(&pic, KEY_PIC_FIELDS, 0, 0, &bad);
    assert!(build_controls(&p, &refs).is_err());
    let mut out = Vec::new();
    append_bitstream(&mut out, &p);
    assert!(out.is_empty());
    // Inter frame with an unknown reference.
    let ip = inter_pic();
    let tiles = tiles_of(&f[1][18..], 1);
    let p = picture(&ip, INTER_PIC_FIELDS, 0, 0, &tiles);
    assert_eq!(build_controls(&p, &refs).unwrap_err(), CodecError::MissingReference);
    // Garbage everywhere.
    fn garbage<'a>(g: &'a VADecPictureParameterBufferAV1, tiles: &'a [Av1Tile<'a>]) -> Av1Picture<'a> {
        Av1Picture {
            seq_info_fields: u32::MAX,
            pic_info_fields: !(1 << 16),
            loop_filter_info_fields: u8::MAX,
            qmatrix_fields: u16::MAX,
            mode_control_fields: u32::MAX,
            loop_restoration_fields: u16::MAX,
            segment_info_fields: u32::MAX,
            film_grain_info_fields: u32::MAX,
            ..picture(g, 0, 0, 0, tiles)
        }
    }
    let mut g = key_pic();
    g.tile_cols = 200;
    g.cdef_bits = 9;
    g.bit_depth_idx = 1;
    assert!(build_controls(&garbage(&g, &tiles), &refs).is_err());
    g.tile_cols = 2;
    g.order_hint_bits_minus_1 = 255;
    assert!(build_controls(&garbage(&g, &tiles), &refs).is_err());
    g.order_hint_bits_minus_1 = 7;
    g.ref_frame_idx = [200; 7];
    assert!(build_controls(&garbage(&g, &tiles), &refs).is_err());
    g.ref_frame_idx = [0; 7];
    g.ref_frame_map = [10; 8];
    g.superres_scale_denominator = 255;
    g.film_grain_info.num_y_points = 255;
    let refs = Surfaces(HashMap::from([(10, 1)]));
    let c = build_controls(&garbage(&g, &tiles), &refs).unwrap();
    assert!(c.film_grain.is_some());
    assert_eq!(c.specs().len(), 4);
}

#[test]
fn film_grain_round_trip() {
    let mut pic = key_pic();
    let g = &mut pic.film_grain_info;
    g.grain_seed = 1234;
    g.num_y_points = 2;
    g.point_y_value[..2].copy_from_slice(&[0, 255]);
    g.point_y_scaling[..2].copy_from_slice(&[20, 40]);
    // FFmpeg: ar_coeffs_y[i] = ar_coeffs_y_plus_128[i] - 128 for every entry.
    g.ar_coeffs_y = [-128; 24];
    g.ar_coeffs_y[0] = 5;
    g.ar_coeffs_cb = [-128; 25];
    g.ar_coeffs_cr = [-128; 25];
    g.cb_mult = 128;
    g.cb_offset = 256;
    let fg =
        fields::FilmGrainInfo { apply_grain: true, overlap_flag: true, grain_scaling_minus_8: 3, ar_coeff_lag: 1, ..Default::default() };
    let c = film_grain_control(&pic, &fg);
    assert_eq!(
        c.flags,
        (b::V4L2_AV1_FILM_GRAIN_FLAG_APPLY_GRAIN | b::V4L2_AV1_FILM_GRAIN_FLAG_UPDATE_GRAIN | b::V4L2_AV1_FILM_GRAIN_FLAG_OVERLAP) as u8
    );
    assert_eq!((c.grain_seed, c.num_y_points, c.grain_scaling_minus_8, c.ar_coeff_lag), (1234, 2, 3, 1));
    assert_eq!(&c.point_y_scaling[..3], &[20, 40, 0]);
    assert_eq!(c.ar_coeffs_y_plus_128[0], 133);
    assert_eq!(c.ar_coeffs_y_plus_128[1], 0);
    assert_eq!((c.cb_mult, c.cb_offset), (128, 256));
    assert_eq!(film_grain_control(&pic, &Default::default()), v4l2_ctrl_av1_film_grain::default());
}

/// The refresh predictor on the flags libaom's real-time mode produces (trace_headers of
/// tests/streams/av1.ivf: key frame, then slots 1, 2, .. 5, 0, 1, ..), fed as the driver
/// sees them when the application syncs every frame: each picture's true flags arrive
/// with the next picture.
#[test]
fn refresh_predictor_learns_the_rotation() {
    let truth = [0xffu8, 2, 4, 8, 16, 32, 1, 2, 4, 8, 16, 32, 1];
    let mut p = RefreshPredictor::default();
    let mut guesses = Vec::new();
    for (k, &t) in truth.iter().enumerate() {
        // The current picture's map shows the previous picture's flags (none before a key frame).
        p.learn_previous(if k == 0 { None } else { Some(truth[k - 1]) });
        let key = k == 0;
        if !key {
            guesses.push(p.predict());
        }
        p.advance(key.then_some(t));
    }
    // After the key frame nothing is learnt (0xff kept); single slots rotate; the first
    // wrap (32 -> 1) is missed; from then on the learnt successors are right.
    assert_eq!(guesses, [0xff, 4, 8, 16, 32, 64, 2, 4, 8, 16, 32, 1]);
    let right = guesses.iter().zip(&truth[1..]).filter(|(g, t)| g == t).count();
    assert_eq!(right, 10);
}
