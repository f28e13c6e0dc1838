//! The crate's only definitions of V4L2 pixel formats (fourccs) and of fourcc
//! rendering.
//!
//! `V4L2_PIX_FMT_*` are function-like macros in videodev2.h (`v4l2_fourcc(a, b,
//! c, d)`), so bindgen leaves them out of v4l2r's bindings; v4l2r's
//! [`PixelFormat::from_fourcc`] does the packing, and each format the crate
//! names is one constant here. VA fourccs come from the libva bindings
//! (`crate::va_sys::ffi::VA_FOURCC_*`), DRM fourccs from the `drm-fourcc`
//! crate; [`fourcc_to_string`] renders all three (one little-endian packing).

use v4l2r::PixelFormat;

/// `v4l2_fourcc(a, b, c, d)` (v4l2r's packing): for codes the crate does not
/// name (tests, probes of formats it refuses).
pub const fn fourcc(code: &[u8; 4]) -> u32 {
    PixelFormat::from_fourcc(code).to_u32()
}

/// Parse a 4-character code ("S264"); `None` unless exactly 4 ASCII bytes.
#[cfg(test)]
pub fn parse_fourcc(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() != 4 || !b.iter().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        return None;
    }
    Some(fourcc(&[b[0], b[1], b[2], b[3]]))
}

/// Printable form of a fourcc ("S264"; non-printable bytes as '.'), V4L2, VA
/// or DRM alike; the V4L2 big-endian flag (bit 31) is shown as a "-BE" suffix.
pub fn fourcc_to_string(f: u32) -> String {
    let be = f & (1 << 31) != 0;
    let bytes = (f & !(1 << 31)).to_le_bytes();
    let mut s: String = bytes.iter().map(|&c| if c.is_ascii_graphic() || c == b' ' { c as char } else { '.' }).collect();
    if be {
        s.push_str("-BE");
    }
    s
}

// Coded (OUTPUT queue) formats of stateless decoders.
pub const V4L2_PIX_FMT_H264_SLICE: u32 = fourcc(b"S264");
pub const V4L2_PIX_FMT_HEVC_SLICE: u32 = fourcc(b"S265");
pub const V4L2_PIX_FMT_MPEG2_SLICE: u32 = fourcc(b"MG2S");
pub const V4L2_PIX_FMT_VP8_FRAME: u32 = fourcc(b"VP8F");
pub const V4L2_PIX_FMT_VP9_FRAME: u32 = fourcc(b"VP9F");
pub const V4L2_PIX_FMT_AV1_FRAME: u32 = fourcc(b"AV1F");
pub const V4L2_PIX_FMT_FWHT_STATELESS: u32 = fourcc(b"SFWH");

// Decoded (CAPTURE queue) formats, linear.
/// `V4L2_PIX_FMT_NV12` (single-planar).
pub const V4L2_PIX_FMT_NV12: u32 = fourcc(b"NV12");
/// `V4L2_PIX_FMT_NV12M` (two buffers).
pub const V4L2_PIX_FMT_NV12M: u32 = fourcc(b"NM12");
/// `V4L2_PIX_FMT_P010` (single-planar).
pub const V4L2_PIX_FMT_P010: u32 = fourcc(b"P010");
/// `V4L2_PIX_FMT_YUV420` (single-planar).
pub const V4L2_PIX_FMT_YUV420: u32 = fourcc(b"YU12");
/// `V4L2_PIX_FMT_YUV420M` (three buffers).
pub const V4L2_PIX_FMT_YUV420M: u32 = fourcc(b"YM12");
/// `V4L2_PIX_FMT_YVU420` (single-planar).
pub const V4L2_PIX_FMT_YVU420: u32 = fourcc(b"YV12");
/// `V4L2_PIX_FMT_YVU420M` (three buffers).
pub const V4L2_PIX_FMT_YVU420M: u32 = fourcc(b"YM21");
#[cfg(test)]
pub const V4L2_PIX_FMT_NV15: u32 = fourcc(b"NV15");
/// Allwinner tiled NV12 (cedrus).
pub const V4L2_PIX_FMT_NV12_32L32: u32 = fourcc(b"ST12");
/// Hantro / Rockchip 4x4 tiled NV12.
pub const V4L2_PIX_FMT_NV12_4L4: u32 = fourcc(b"VT12");
/// MediaTek 16x32 tiled NV12.
pub const V4L2_PIX_FMT_MM21: u32 = fourcc(b"MM21");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourcc_values_match_videodev2() {
        // Values as the kernel computes them (v4l2_fourcc is little-endian packing).
        assert_eq!(V4L2_PIX_FMT_NV12, 0x3231_564e);
        assert_eq!(V4L2_PIX_FMT_H264_SLICE, 0x3436_3253);
        assert_eq!(V4L2_PIX_FMT_MPEG2_SLICE, u32::from_le_bytes(*b"MG2S"));
    }

    #[test]
    fn parse_and_print_round_trip() {
        for s in ["S264", "MG2S", "VP8F", "VP9F", "S265", "AV1F", "NV12"] {
            let f = parse_fourcc(s).unwrap();
            assert_eq!(fourcc_to_string(f), s);
        }
        assert_eq!(parse_fourcc("NV1"), None);
        assert_eq!(parse_fourcc("NV123"), None);
        assert_eq!(parse_fourcc("N\u{e9}1"), None);
        assert_eq!(fourcc_to_string(0), "....");
        assert_eq!(fourcc_to_string(V4L2_PIX_FMT_NV12 | (1 << 31)), "NV12-BE");
    }
}
