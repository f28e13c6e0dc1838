//! Configs: which VA profiles the display offers and which device decodes each.
//!
//! The capability table is keyed by the V4L2 coded format a device accepts on
//! its OUTPUT queue (visl-style, table-driven): a profile is advertised exactly
//! when some discovered device takes the coded format behind it. With several
//! decoders on one board the profiles are the union, and each config is routed
//! to the first device that can decode it.

use crate::device::DecoderNode;
use crate::va::ffi;

/// Codecs the driver implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    H264,
    Mpeg2,
    Vp8,
    Vp9,
    Av1,
    Hevc,
}

/// One row of the capability table.
pub struct CodecSupport {
    pub codec: Codec,
    /// V4L2 coded pixel format on the OUTPUT queue.
    pub coded_fourcc: u32,
    /// VA profiles this coded format lets us decode.
    pub profiles: &'static [ffi::VAProfile],
    /// VA render-target format of the decoded surfaces.
    pub rt_format: u32,
}

/// The capability table: one row per implemented codec.
pub fn codec_table() -> [CodecSupport; 6] {
    [
        CodecSupport {
            codec: Codec::H264,
            coded_fourcc: crate::v4l2::V4L2_PIX_FMT_H264_SLICE,
            profiles: crate::codec::h264::va_profiles(),
            rt_format: ffi::VA_RT_FORMAT_YUV420,
        },
        CodecSupport {
            codec: Codec::Mpeg2,
            coded_fourcc: crate::v4l2::V4L2_PIX_FMT_MPEG2_SLICE,
            profiles: crate::codec::mpeg2::va_profiles(),
            rt_format: ffi::VA_RT_FORMAT_YUV420,
        },
        CodecSupport {
            codec: Codec::Vp8,
            coded_fourcc: crate::v4l2::V4L2_PIX_FMT_VP8_FRAME,
            profiles: crate::codec::vp8::va_profiles(),
            rt_format: ffi::VA_RT_FORMAT_YUV420,
        },
        // 8-bit only until P010 output exists (profile 2 needs a 10-bit CAPTURE format).
        CodecSupport {
            codec: Codec::Vp9,
            coded_fourcc: crate::v4l2::V4L2_PIX_FMT_VP9_FRAME,
            profiles: &[ffi::VAProfileVP9Profile0],
            rt_format: ffi::VA_RT_FORMAT_YUV420,
        },
        // Main only: Main10 needs P010 output (and a device that accepts a 10-bit SPS).
        CodecSupport {
            codec: Codec::Hevc,
            coded_fourcc: crate::v4l2::V4L2_PIX_FMT_HEVC_SLICE,
            profiles: &[ffi::VAProfileHEVCMain],
            rt_format: ffi::VA_RT_FORMAT_YUV420,
        },
        // Main profile; 10-bit streams are refused until P010 output exists.
        CodecSupport {
            codec: Codec::Av1,
            coded_fourcc: crate::v4l2::V4L2_PIX_FMT_AV1_FRAME,
            profiles: &[ffi::VAProfileAV1Profile0],
            rt_format: ffi::VA_RT_FORMAT_YUV420,
        },
    ]
}

/// A VA config: a profile routed to a device.
#[derive(Debug, Clone)]
pub struct Config {
    pub profile: ffi::VAProfile,
    pub entrypoint: ffi::VAEntrypoint,
    pub codec: Codec,
    pub coded_fourcc: u32,
    /// Index into the driver's device list.
    pub device: usize,
    pub rt_format: u32,
}

/// Every profile some device can decode, without duplicates, in table order.
pub fn supported_profiles(devices: &[DecoderNode]) -> Vec<ffi::VAProfile> {
    let mut out = Vec::new();
    for row in codec_table() {
        if devices.iter().any(|d| d.coded_formats.contains(&row.coded_fourcc)) {
            for p in row.profiles {
                if !out.contains(p) {
                    out.push(*p);
                }
            }
        }
    }
    out
}

/// Route `profile` to a device: the table row and the index of the first device
/// whose OUTPUT queue takes the row's coded format.
pub fn route(devices: &[DecoderNode], profile: ffi::VAProfile) -> Option<(CodecSupport, usize)> {
    codec_table().into_iter().find_map(|row| {
        if !row.profiles.contains(&profile) {
            return None;
        }
        let dev = devices.iter().position(|d| d.coded_formats.contains(&row.coded_fourcc))?;
        Some((row, dev))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn node(formats: &[u32]) -> DecoderNode {
        DecoderNode {
            video_path: PathBuf::from("/dev/video0"),
            media_path: None,
            driver: "test".into(),
            card: "test".into(),
            coded_formats: formats.to_vec(),
            multiplanar: true,
        }
    }

    #[test]
    fn profiles_follow_coded_formats() {
        assert!(supported_profiles(&[]).is_empty());
        assert!(supported_profiles(&[node(&[0x1234])]).is_empty());
        let h264 = crate::v4l2::V4L2_PIX_FMT_H264_SLICE;
        let p = supported_profiles(&[node(&[h264])]);
        assert!(p.contains(&ffi::VAProfileH264Main));
        assert!(p.contains(&ffi::VAProfileH264High));
        // Two devices with the same codec: no duplicates.
        let p2 = supported_profiles(&[node(&[h264]), node(&[h264])]);
        assert_eq!(p, p2);
    }

    #[test]
    fn route_picks_first_capable_device() {
        let h264 = crate::v4l2::V4L2_PIX_FMT_H264_SLICE;
        let devs = [node(&[0x1234]), node(&[h264])];
        let (row, dev) = route(&devs, ffi::VAProfileH264High).unwrap();
        assert_eq!(row.codec, Codec::H264);
        assert_eq!(dev, 1);
        assert!(route(&devs, ffi::VAProfileVP9Profile0).is_none());
        assert!(route(&[], ffi::VAProfileH264High).is_none());
    }
}
