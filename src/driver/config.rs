//! Configs: which VA profiles the display offers and which device decodes each.
//!
//! The capability table is keyed by the V4L2 coded format a device accepts on
//! its OUTPUT queue (visl-style, table-driven): a profile is advertised exactly
//! when some discovered device takes the coded format behind it. With several
//! decoders on one board the profiles are the union, and each config is routed
//! to the first device that can decode it. 10-bit profiles (HEVCMain10,
//! VP9Profile2) are advertised only for nodes whose 10-bit probe succeeded
//! (`DecoderNode::ten_bit_formats`, see `crate::device::tenbit`); AV1Profile0
//! covers both depths and gets `VA_RT_FORMAT_YUV420_10` on such nodes.
//! Coded formats whose CAPTURE formats the driver cannot describe (tiled only)
//! are not in `DecoderNode::coded_formats` at all (`crate::device::coded`).
//!
//! Picture size limits come from the device (`VIDIOC_ENUM_FRAMESIZES` of the
//! coded format on the routed node, [`frame_sizes`]): they are the config's
//! `VAConfigAttribMaxPictureWidth/Height`, its surface attributes' min/max
//! width/height, and the range `vaCreateContext` accepts.

use super::backend::{self, NewBackend, StreamModeControls};
use crate::device::coded::FrameSizes;
use crate::device::DecoderNode;
use crate::va_sys::ffi;

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

/// Bit depths a VA profile decodes, which decides where it is advertised and
/// which CAPTURE format its contexts negotiate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// 8-bit only: advertised wherever the coded format is; NV12 surfaces.
    Eight,
    /// 10-bit only (HEVCMain10, VP9Profile2): advertised only on nodes whose
    /// 10-bit probe succeeded; P010 surfaces.
    Ten,
    /// 8- or 10-bit (AV1Profile0): advertised wherever the coded format is;
    /// 10-bit (P010 surfaces) only on nodes whose 10-bit probe succeeded.
    Both,
}

/// One row of the capability table.
pub struct CodecSupport {
    pub codec: Codec,
    /// V4L2 coded pixel format on the OUTPUT queue.
    pub coded_fourcc: u32,
    /// VA profiles this coded format lets us decode, with their bit depths.
    pub profiles: &'static [(ffi::VAProfile, Depth)],
    /// Decode-mode and start-code controls (H.264, HEVC), read and set at
    /// context creation.
    pub stream_mode_controls: Option<&'static StreamModeControls>,
    /// The codec's backend, created with each context.
    pub backend: NewBackend,
}

/// The codec table: one row per implemented codec, with what the driver needs
/// to advertise, route and decode it (the profile lists equal the codec
/// modules' `va_profiles(ten_bit = true)`: a unit test checks). Adding a codec
/// is its backend module plus a row here (see [`crate::driver::backend`]).
pub fn codec_table() -> [CodecSupport; 6] {
    [
        CodecSupport {
            codec: Codec::H264,
            coded_fourcc: crate::v4l2::V4L2_PIX_FMT_H264_SLICE,
            profiles: &[
                (ffi::VAProfileH264ConstrainedBaseline, Depth::Eight),
                (ffi::VAProfileH264Main, Depth::Eight),
                (ffi::VAProfileH264High, Depth::Eight),
            ],
            stream_mode_controls: Some(&backend::h264::STREAM_MODE_CONTROLS),
            backend: backend::h264::new,
        },
        CodecSupport {
            codec: Codec::Mpeg2,
            coded_fourcc: crate::v4l2::V4L2_PIX_FMT_MPEG2_SLICE,
            profiles: &[(ffi::VAProfileMPEG2Simple, Depth::Eight), (ffi::VAProfileMPEG2Main, Depth::Eight)],
            stream_mode_controls: None,
            backend: backend::mpeg2::new,
        },
        CodecSupport {
            codec: Codec::Vp8,
            coded_fourcc: crate::v4l2::V4L2_PIX_FMT_VP8_FRAME,
            profiles: &[(ffi::VAProfileVP8Version0_3, Depth::Eight)],
            stream_mode_controls: None,
            backend: backend::vp8::new,
        },
        CodecSupport {
            codec: Codec::Vp9,
            coded_fourcc: crate::v4l2::V4L2_PIX_FMT_VP9_FRAME,
            profiles: &[(ffi::VAProfileVP9Profile0, Depth::Eight), (ffi::VAProfileVP9Profile2, Depth::Ten)],
            stream_mode_controls: None,
            backend: backend::vp9::new,
        },
        CodecSupport {
            codec: Codec::Hevc,
            coded_fourcc: crate::v4l2::V4L2_PIX_FMT_HEVC_SLICE,
            profiles: &[(ffi::VAProfileHEVCMain, Depth::Eight), (ffi::VAProfileHEVCMain10, Depth::Ten)],
            stream_mode_controls: Some(&backend::hevc::STREAM_MODE_CONTROLS),
            backend: backend::hevc::new,
        },
        CodecSupport {
            codec: Codec::Av1,
            coded_fourcc: crate::v4l2::V4L2_PIX_FMT_AV1_FRAME,
            profiles: &[(ffi::VAProfileAV1Profile0, Depth::Both)],
            stream_mode_controls: None,
            backend: backend::av1::new,
        },
    ]
}

/// Whether `node` can decode a profile of depth `depth` of a row's coded format.
fn node_offers(node: &DecoderNode, coded_fourcc: u32, depth: Depth) -> bool {
    match depth {
        Depth::Eight | Depth::Both => node.supports(coded_fourcc),
        Depth::Ten => node.supports_ten_bit(coded_fourcc),
    }
}

/// VA render-target formats of a profile of depth `depth` on a node that
/// does (`ten_bit`) or does not decode 10-bit for its coded format.
pub fn rt_format_for(depth: Depth, ten_bit: bool) -> u32 {
    match depth {
        Depth::Eight => ffi::VA_RT_FORMAT_YUV420,
        Depth::Ten => ffi::VA_RT_FORMAT_YUV420_10,
        Depth::Both if ten_bit => ffi::VA_RT_FORMAT_YUV420 | ffi::VA_RT_FORMAT_YUV420_10,
        Depth::Both => ffi::VA_RT_FORMAT_YUV420,
    }
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
    /// VA_RT_FORMAT_YUV420 and/or VA_RT_FORMAT_YUV420_10.
    pub rt_format: u32,
    pub depth: Depth,
}

impl Config {
    /// Whether contexts of this config may decode 10-bit (P010) pictures.
    pub fn allows_ten_bit(&self) -> bool {
        self.rt_format & ffi::VA_RT_FORMAT_YUV420_10 != 0
    }

    /// Whether contexts of this config may decode 8-bit (NV12) pictures.
    pub fn allows_eight_bit(&self) -> bool {
        self.rt_format & ffi::VA_RT_FORMAT_YUV420 != 0
    }
}

/// Where a profile is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub codec: Codec,
    pub coded_fourcc: u32,
    pub depth: Depth,
    /// Index into the device list.
    pub device: usize,
    /// VA render-target formats on that device.
    pub rt_format: u32,
    /// Picture sizes that device decodes for the coded format.
    pub sizes: FrameSizes,
}

/// Picture sizes the device of `cfg` decodes for its coded format (the
/// driver's own bounds if the device is missing or reports none).
pub fn frame_sizes(devices: &[DecoderNode], cfg: &Config) -> FrameSizes {
    devices.get(cfg.device).map_or(FrameSizes::UNREPORTED, |d| crate::device::coded::frame_sizes(&d.video_path, cfg.coded_fourcc))
}

/// Every profile some device can decode, without duplicates, in table order.
pub fn supported_profiles(devices: &[DecoderNode]) -> Vec<ffi::VAProfile> {
    let mut out = Vec::new();
    for row in codec_table() {
        for &(p, depth) in row.profiles {
            if devices.iter().any(|d| node_offers(d, row.coded_fourcc, depth)) && !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Route `profile` to a device: the first device that can decode it, except
/// that 8-or-10-bit profiles (AV1) prefer the first device that decodes 10-bit.
pub fn route(devices: &[DecoderNode], profile: ffi::VAProfile) -> Option<Route> {
    codec_table().into_iter().find_map(|row| {
        let &(_, depth) = row.profiles.iter().find(|(p, _)| *p == profile)?;
        let ten = |d: &DecoderNode| d.supports_ten_bit(row.coded_fourcc);
        let device = match depth {
            Depth::Both => devices.iter().position(ten),
            _ => None,
        }
        .or_else(|| devices.iter().position(|d| node_offers(d, row.coded_fourcc, depth)))?;
        Some(Route {
            codec: row.codec,
            coded_fourcc: row.coded_fourcc,
            depth,
            device,
            rt_format: rt_format_for(depth, ten(&devices[device])),
            sizes: crate::device::coded::frame_sizes(&devices[device].video_path, row.coded_fourcc),
        })
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
            ten_bit_formats: Vec::new(),
            tiled_capture: Vec::new(),
        }
    }

    fn ten_bit_node(formats: &[u32], ten: &[u32]) -> DecoderNode {
        DecoderNode { ten_bit_formats: ten.to_vec(), ..node(formats) }
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
        let r = route(&devs, ffi::VAProfileH264High).unwrap();
        assert_eq!(r.codec, Codec::H264);
        assert_eq!(r.device, 1);
        assert_eq!(r.rt_format, ffi::VA_RT_FORMAT_YUV420);
        assert!(route(&devs, ffi::VAProfileVP9Profile0).is_none());
        assert!(route(&[], ffi::VAProfileH264High).is_none());
    }

    const HEVC: u32 = crate::v4l2::V4L2_PIX_FMT_HEVC_SLICE;
    const VP9: u32 = crate::v4l2::V4L2_PIX_FMT_VP9_FRAME;
    const AV1: u32 = crate::v4l2::V4L2_PIX_FMT_AV1_FRAME;

    #[test]
    fn ten_bit_profiles_only_where_the_probe_succeeded() {
        // visl: every coded format, no 10-bit.
        let visl = node(&[HEVC, VP9, AV1]);
        let p = supported_profiles(std::slice::from_ref(&visl));
        assert_eq!(p, [ffi::VAProfileVP9Profile0, ffi::VAProfileHEVCMain, ffi::VAProfileAV1Profile0]);
        assert!(route(std::slice::from_ref(&visl), ffi::VAProfileHEVCMain10).is_none());
        assert!(route(std::slice::from_ref(&visl), ffi::VAProfileVP9Profile2).is_none());
        let av1 = route(std::slice::from_ref(&visl), ffi::VAProfileAV1Profile0).unwrap();
        assert_eq!((av1.depth, av1.rt_format), (Depth::Both, ffi::VA_RT_FORMAT_YUV420));

        // 10-bit HEVC only.
        let hantro = ten_bit_node(&[HEVC, VP9], &[HEVC]);
        let p = supported_profiles(std::slice::from_ref(&hantro));
        assert!(p.contains(&ffi::VAProfileHEVCMain10) && p.contains(&ffi::VAProfileHEVCMain));
        assert!(!p.contains(&ffi::VAProfileVP9Profile2));
        let r = route(std::slice::from_ref(&hantro), ffi::VAProfileHEVCMain10).unwrap();
        assert_eq!((r.codec, r.depth, r.rt_format), (Codec::Hevc, Depth::Ten, ffi::VA_RT_FORMAT_YUV420_10));
        let r = route(&[hantro], ffi::VAProfileHEVCMain).unwrap();
        assert_eq!(r.rt_format, ffi::VA_RT_FORMAT_YUV420);

        // A 10-bit format the node does not take at all does not count.
        let odd = ten_bit_node(&[HEVC], &[VP9]);
        assert!(!supported_profiles(&[odd]).contains(&ffi::VAProfileVP9Profile2));

        // VP9 profile 2 and AV1 10-bit on the second device: routed there.
        let devs = [node(&[VP9, AV1]), ten_bit_node(&[VP9, AV1], &[VP9, AV1])];
        let r = route(&devs, ffi::VAProfileVP9Profile2).unwrap();
        assert_eq!((r.device, r.rt_format), (1, ffi::VA_RT_FORMAT_YUV420_10));
        let r = route(&devs, ffi::VAProfileVP9Profile0).unwrap();
        assert_eq!(r.device, 0);
        let r = route(&devs, ffi::VAProfileAV1Profile0).unwrap();
        assert_eq!((r.device, r.rt_format), (1, ffi::VA_RT_FORMAT_YUV420 | ffi::VA_RT_FORMAT_YUV420_10));
    }

    #[test]
    fn rt_formats_by_depth() {
        assert_eq!(rt_format_for(Depth::Eight, true), ffi::VA_RT_FORMAT_YUV420);
        assert_eq!(rt_format_for(Depth::Ten, true), ffi::VA_RT_FORMAT_YUV420_10);
        assert_eq!(rt_format_for(Depth::Both, false), ffi::VA_RT_FORMAT_YUV420);
        assert_eq!(rt_format_for(Depth::Both, true), ffi::VA_RT_FORMAT_YUV420 | ffi::VA_RT_FORMAT_YUV420_10);
    }

    #[test]
    fn table_matches_the_codec_modules() {
        let table = codec_table();
        let profiles =
            |c: Codec| -> Vec<ffi::VAProfile> { table.iter().find(|r| r.codec == c).unwrap().profiles.iter().map(|(p, _)| *p).collect() };
        assert_eq!(profiles(Codec::Hevc), crate::codec::hevc::va_profiles(true));
        assert_eq!(profiles(Codec::Vp9), crate::codec::vp9::va_profiles(true));
        assert_eq!(profiles(Codec::Av1), crate::codec::av1::va_profiles(true));
        assert_eq!(profiles(Codec::H264), crate::codec::h264::va_profiles());
        assert_eq!(profiles(Codec::Mpeg2), crate::codec::mpeg2::va_profiles());
        assert_eq!(profiles(Codec::Vp8), crate::codec::vp8::va_profiles());
    }
}
