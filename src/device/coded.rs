//! Per coded format facts read from a node at discovery: which CAPTURE
//! formats it offers for that coded format, and its frame-size range.
//!
//! 1. **CAPTURE formats.** A fresh handle, `S_FMT` OUTPUT to the coded format
//!    at [`PROBE_WIDTH`]×[`PROBE_HEIGHT`], then `ENUM_FMT` CAPTURE. The
//!    8-bit CAPTURE format of its contexts is linear `NV12` when offered, else
//!    the first tiled NV12 layout the driver detiles ([`capture_choice`]:
//!    `NV12_32L32` on cedrus A10/A20, `NV12_4L4` on hantro G2 without its
//!    post-processor, `MM21` on MediaTek; images are then detiled on the CPU,
//!    see [`crate::tiling`]). A coded format whose list holds none of these
//!    and no linear `P010` ([`describable`]) is dropped with one info line:
//!    contexts of its profiles could not work.
//! 2. **Frame sizes.** `VIDIOC_ENUM_FRAMESIZES` of the coded format
//!    ([`enum_frame_sizes`]): stepwise / continuous ranges as reported,
//!    discrete sizes as their bounding range. A node that does not implement
//!    it gets [`FrameSizes::UNREPORTED`] (the driver's own bounds); larger
//!    device maxima are capped at those bounds.
//!
//! The frame sizes are kept in a process-wide table keyed by node and coded
//! format ([`record`], [`frame_sizes`]), read by the config attributes,
//! `vaQuerySurfaceAttributes` and `vaCreateContext`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use nix::errno::Errno;
use v4l2r::bindings as b;
use v4l2r::ioctl::FrmSizeTypes;
use v4l2r::QueueType;

use crate::v4l2::error::{ioctl_err, ioctl_err_quiet};
use crate::v4l2::{fourcc_to_string, Op, V4l2Error};

/// Coded size of the OUTPUT format set before listing CAPTURE formats (the
/// device clamps it to its range).
pub const PROBE_WIDTH: u32 = 1280;
pub const PROBE_HEIGHT: u32 = 720;

/// Most discrete frame sizes read.
const MAX_DISCRETE: u32 = 64;

/// The range of coded frame sizes a node takes for one coded format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameSizes {
    pub min_width: u32,
    pub max_width: u32,
    pub min_height: u32,
    pub max_height: u32,
}

impl FrameSizes {
    /// The driver's own bounds, for nodes that report no frame sizes.
    pub const UNREPORTED: FrameSizes =
        FrameSizes { min_width: 16, max_width: crate::format::MAX_WIDTH, min_height: 16, max_height: crate::format::MAX_HEIGHT };

    /// The range capped at the driver's own surface bounds (surfaces larger than
    /// [`crate::format::MAX_WIDTH`]×[`crate::format::MAX_HEIGHT`] cannot be created, so a
    /// larger device maximum, e.g. visl's 16383x16383 for VP8, is not advertised).
    pub fn within_driver_bounds(self) -> FrameSizes {
        let u = FrameSizes::UNREPORTED;
        FrameSizes {
            min_width: self.min_width.min(u.max_width),
            max_width: self.max_width.min(u.max_width),
            min_height: self.min_height.min(u.max_height),
            max_height: self.max_height.min(u.max_height),
        }
    }

    /// Whether a `width`×`height` picture is inside the range.
    pub fn contains(&self, width: u32, height: u32) -> bool {
        (self.min_width..=self.max_width).contains(&width) && (self.min_height..=self.max_height).contains(&height)
    }

    /// The range from one `v4l2_frmsizeenum` answer (index 0).
    fn from_stepwise(s: &b::v4l2_frmsize_stepwise) -> FrameSizes {
        FrameSizes {
            min_width: s.min_width.max(1),
            max_width: s.max_width.max(s.min_width.max(1)),
            min_height: s.min_height.max(1),
            max_height: s.max_height.max(s.min_height.max(1)),
        }
    }

    /// The bounding range of discrete sizes (`None` if there are none).
    fn from_discrete(sizes: &[(u32, u32)]) -> Option<FrameSizes> {
        let (w0, h0) = *sizes.first()?;
        Some(sizes.iter().fold(FrameSizes { min_width: w0, max_width: w0, min_height: h0, max_height: h0 }, |r, &(w, h)| FrameSizes {
            min_width: r.min_width.min(w),
            max_width: r.max_width.max(w),
            min_height: r.min_height.min(h),
            max_height: r.max_height.max(h),
        }))
    }
}

impl std::fmt::Display for FrameSizes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}..{}x{}", self.min_width, self.min_height, self.max_width, self.max_height)
    }
}

/// `VIDIOC_ENUM_FRAMESIZES` of `coded_fourcc` on an open node: `Ok(None)` when
/// the node does not implement it (ENOTTY, or EINVAL at index 0); other
/// failures are a typed error, logged once.
pub fn enum_frame_sizes(video: &File, video_path: &Path, coded_fourcc: u32) -> Result<Option<FrameSizes>, V4l2Error> {
    let ctx = || format!("{}: {}", video_path.display(), fourcc_to_string(coded_fourcc));
    let mut discrete = Vec::new();
    for index in 0..MAX_DISCRETE {
        let e = match crate::v4l2::probe::enum_frame_size(video, coded_fourcc, index) {
            Ok(e) => e,
            Err(errno) => {
                return match (errno, index) {
                    (Errno::ENOTTY, _) | (Errno::EINVAL, 0) => {
                        ioctl_err_quiet(Op::EnumFramesizes, errno, ctx());
                        Ok(None)
                    }
                    (Errno::EINVAL, _) => Ok(FrameSizes::from_discrete(&discrete)),
                    _ => Err(ioctl_err(Op::EnumFramesizes, errno, ctx())),
                };
            }
        };
        match e.size() {
            Some(FrmSizeTypes::StepWise(s)) => return Ok(Some(FrameSizes::from_stepwise(s))),
            Some(FrmSizeTypes::Discrete(d)) => discrete.push((d.width, d.height)),
            None => return Err(V4l2Error::Invalid(format!("{}: unknown frame size type {}", ctx(), e.type_))),
        }
    }
    Ok(FrameSizes::from_discrete(&discrete))
}

/// The 8-bit CAPTURE format contexts use for a coded format whose node offers
/// `capture_formats`: linear NV12 when offered (preferred: no detiling), else
/// the first tiled NV12 layout of the list that [`crate::tiling::TiledFormat`]
/// knows (`NV12_32L32`, `NV12_4L4`, `MM21`); `None` when neither exists.
pub fn capture_choice(capture_formats: &[u32]) -> Option<u32> {
    if capture_formats.contains(&crate::v4l2::V4L2_PIX_FMT_NV12) {
        return Some(crate::v4l2::V4L2_PIX_FMT_NV12);
    }
    capture_formats.iter().copied().find(|&f| crate::tiling::TiledFormat::from_v4l2_fourcc(f).is_some())
}

/// Whether the driver can decode into one of the CAPTURE formats a node offers
/// for a coded format: linear NV12 or a tiled NV12 layout it detiles (8-bit,
/// [`capture_choice`]), or linear P010 (10-bit). Packed and tiled 10-bit
/// formats (`NV15`, ...) are not.
pub fn describable(capture_formats: &[u32]) -> bool {
    capture_choice(capture_formats).is_some() || capture_formats.contains(&crate::v4l2::V4L2_PIX_FMT_P010)
}

/// The CAPTURE formats a node offers after `S_FMT` OUTPUT of `coded_fourcc`
/// (a fresh handle, closed on return).
pub fn capture_formats(video_path: &Path, multiplanar: bool, coded_fourcc: u32) -> Result<Vec<u32>, V4l2Error> {
    let (out_q, cap_q) = if multiplanar {
        (QueueType::VideoOutputMplane, QueueType::VideoCaptureMplane)
    } else {
        (QueueType::VideoOutput, QueueType::VideoCapture)
    };
    let ctx = || format!("{}: {}", video_path.display(), fourcc_to_string(coded_fourcc));
    let mut video = crate::v4l2::open_video(video_path)?;
    let got = crate::v4l2::probe::set_coded_format(&mut video, out_q, coded_fourcc, PROBE_WIDTH, PROBE_HEIGHT)
        .map_err(|e| ioctl_err(Op::SFmt, e, format!("{} OUTPUT", ctx())))?;
    if u32::from(got.pixelformat) != coded_fourcc {
        return Err(V4l2Error::Unsupported(format!(
            "{}: OUTPUT format refused (device chose {})",
            ctx(),
            fourcc_to_string(got.pixelformat.into())
        )));
    }
    let counter = AtomicU64::new(0);
    crate::v4l2::session::enum_formats(&video, cap_q, &counter).map_err(|e| ioctl_err(Op::EnumFmt, e, format!("{} CAPTURE", ctx())))
}

/// Frame sizes per (node, coded format), filled at discovery.
static FRAME_SIZES: Mutex<Vec<(PathBuf, u32, FrameSizes)>> = Mutex::new(Vec::new());

/// The table, ignoring poisoning (every update is a complete retain + push).
fn lock_frame_sizes() -> std::sync::MutexGuard<'static, Vec<(PathBuf, u32, FrameSizes)>> {
    FRAME_SIZES.lock().unwrap_or_else(|p| p.into_inner())
}

/// Remember the frame sizes of `coded_fourcc` on the node at `video_path`.
pub fn record(video_path: &Path, coded_fourcc: u32, sizes: FrameSizes) {
    let mut t = lock_frame_sizes();
    t.retain(|(p, f, _)| !(p == video_path && *f == coded_fourcc));
    t.push((video_path.to_path_buf(), coded_fourcc, sizes));
}

/// The frame sizes of `coded_fourcc` on the node at `video_path`:
/// [`FrameSizes::UNREPORTED`] for nodes not probed (built by hand) or that
/// report none.
pub fn frame_sizes(video_path: &Path, coded_fourcc: u32) -> FrameSizes {
    lock_frame_sizes().iter().find(|(p, f, _)| p == video_path && *f == coded_fourcc).map_or(FrameSizes::UNREPORTED, |&(_, _, s)| s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v4l2::{
        V4L2_PIX_FMT_H264_SLICE, V4L2_PIX_FMT_MM21, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_NV12_32L32, V4L2_PIX_FMT_NV12_4L4, V4L2_PIX_FMT_NV15,
        V4L2_PIX_FMT_P010, V4L2_PIX_FMT_YUV420,
    };

    #[test]
    fn linear_nv12_p010_or_a_known_tiled_layout_is_describable() {
        assert!(describable(&[V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUV420, V4L2_PIX_FMT_P010]));
        assert!(describable(&[V4L2_PIX_FMT_NV12_4L4, V4L2_PIX_FMT_NV12]));
        assert!(describable(&[V4L2_PIX_FMT_P010]));
        assert!(describable(&[V4L2_PIX_FMT_NV12_32L32]));
        assert!(describable(&[V4L2_PIX_FMT_MM21]));
        assert!(describable(&[V4L2_PIX_FMT_NV12_4L4, V4L2_PIX_FMT_NV15]));
        assert!(!describable(&[V4L2_PIX_FMT_NV15]));
        assert!(!describable(&[V4L2_PIX_FMT_YUV420]));
        assert!(!describable(&[]));
    }

    #[test]
    fn linear_nv12_is_preferred_over_tiled() {
        assert_eq!(capture_choice(&[V4L2_PIX_FMT_NV12_4L4, V4L2_PIX_FMT_NV12]), Some(V4L2_PIX_FMT_NV12));
        assert_eq!(capture_choice(&[V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUV420, V4L2_PIX_FMT_P010]), Some(V4L2_PIX_FMT_NV12));
        assert_eq!(capture_choice(&[V4L2_PIX_FMT_NV12_32L32]), Some(V4L2_PIX_FMT_NV12_32L32));
        assert_eq!(capture_choice(&[V4L2_PIX_FMT_NV15, V4L2_PIX_FMT_NV12_4L4]), Some(V4L2_PIX_FMT_NV12_4L4));
        assert_eq!(capture_choice(&[V4L2_PIX_FMT_MM21]), Some(V4L2_PIX_FMT_MM21));
        // 10-bit only: no 8-bit CAPTURE format.
        assert_eq!(capture_choice(&[V4L2_PIX_FMT_P010]), None);
        assert_eq!(capture_choice(&[V4L2_PIX_FMT_YUV420]), None);
    }

    #[test]
    fn ranges() {
        let s = FrameSizes::from_stepwise(&b::v4l2_frmsize_stepwise {
            min_width: 48,
            max_width: 1920,
            step_width: 16,
            min_height: 48,
            max_height: 1088,
            step_height: 16,
        });
        assert_eq!(s, FrameSizes { min_width: 48, max_width: 1920, min_height: 48, max_height: 1088 });
        assert!(s.contains(1920, 1088) && s.contains(48, 48));
        assert!(!s.contains(1936, 1088) && !s.contains(1920, 1104) && !s.contains(32, 64));
        assert_eq!(s.to_string(), "48x48..1920x1088");
        let d = FrameSizes::from_discrete(&[(1280, 720), (640, 480), (1920, 1080)]).unwrap();
        assert_eq!(d, FrameSizes { min_width: 640, max_width: 1920, min_height: 480, max_height: 1080 });
        assert!(FrameSizes::from_discrete(&[]).is_none());
        // visl's VP8 range goes beyond the driver's surfaces.
        let vp8 = FrameSizes { min_width: 64, max_width: 16383, min_height: 64, max_height: 16383 };
        assert_eq!(vp8.within_driver_bounds(), FrameSizes { min_width: 64, max_width: 8192, min_height: 64, max_height: 8192 });
        assert_eq!(s.within_driver_bounds(), s);
        // A zero minimum or a maximum below the minimum is not trusted.
        let z = FrameSizes::from_stepwise(&b::v4l2_frmsize_stepwise { max_width: 0, max_height: 0, ..Default::default() });
        assert_eq!(z, FrameSizes { min_width: 1, max_width: 1, min_height: 1, max_height: 1 });
    }

    #[test]
    fn table_lookup_defaults_to_the_driver_bounds() {
        let p = Path::new("/nonexistent/video-coded-test");
        assert_eq!(frame_sizes(p, V4L2_PIX_FMT_H264_SLICE), FrameSizes::UNREPORTED);
        let s = FrameSizes { min_width: 64, max_width: 4096, min_height: 64, max_height: 2304 };
        record(p, V4L2_PIX_FMT_H264_SLICE, s);
        record(p, V4L2_PIX_FMT_H264_SLICE, s);
        assert_eq!(frame_sizes(p, V4L2_PIX_FMT_H264_SLICE), s);
        assert_eq!(frame_sizes(p, crate::v4l2::V4L2_PIX_FMT_VP9_FRAME), FrameSizes::UNREPORTED);
    }

    #[test]
    fn probing_a_missing_node_fails() {
        assert!(capture_formats(Path::new("/nonexistent/video7"), true, V4L2_PIX_FMT_H264_SLICE).is_err());
    }
}
