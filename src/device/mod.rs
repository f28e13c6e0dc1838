//! Decoder discovery through the media controller, and node probing.
//!
//! `/dev/media*` → `MEDIA_IOC_DEVICE_INFO` + `MEDIA_IOC_G_TOPOLOGY` → entities
//! with function `MEDIA_ENT_F_PROC_VIDEO_DECODER` → (data links) their IO
//! entities → (interface links) the V4L2 video interface → `major:minor` →
//! `/sys/dev/char/M:m/uevent` `DEVNAME` → `/dev/videoN`. A node is kept when it
//! is an M2M device whose OUTPUT queue supports requests, and each coded format
//! is kept only when the kernel's stateless control sizes match our structs and
//! its CAPTURE formats include one the driver can describe ([`coded`], which
//! also reads each coded format's frame sizes).
//!
//! Environment overrides: `LIBVA_V4L2_REQUEST_VIDEO_PATH` selects one video
//! node (its media device from `LIBVA_V4L2_REQUEST_MEDIA_PATH`, or found
//! through the topologies); `LIBVA_V4L2_REQUEST_MEDIA_PATH` alone restricts
//! the walk to that media device.

pub mod coded;
pub mod media;
pub mod opener;
pub mod tenbit;
pub mod traps;

pub use opener::{DeviceOpener, SessionOpener};

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use nix::errno::Errno;
use v4l2r::ioctl::{BufferCapabilities, Capabilities};
use v4l2r::QueueType;

use crate::v4l2::controls::{compare_size, query_ext_ctrl, SizeCheck};
use crate::v4l2::error::{ioctl_err, ioctl_err_quiet};
use crate::v4l2::probe;
use crate::v4l2::{codec_controls, fourcc_to_string, Op, V4l2Error};

/// Most media devices walked.
const MAX_MEDIA_DEVICES: usize = 64;

/// A stateless decoder usable by the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecoderNode {
    pub video_path: PathBuf,
    pub media_path: Option<PathBuf>,
    /// VIDIOC_QUERYCAP driver name, e.g. "visl", "rkvdec", "hantro-vpu", "cedrus".
    pub driver: String,
    pub card: String,
    /// OUTPUT-queue fourccs whose controls passed the size check
    /// (`V4L2_PIX_FMT_H264_SLICE` "S264", "MG2S", "VP8F", "VP9F", "S265", "AV1F", ...).
    pub coded_formats: Vec<u32>,
    /// M2M_MPLANE (true) or M2M (false).
    pub multiplanar: bool,
    /// Coded formats (of `coded_formats`) this node decodes 10-bit into linear
    /// P010 CAPTURE buffers, per the probe in [`tenbit`]: HEVC "S265", VP9
    /// "VP9F", AV1 "AV1F" at most. Empty on visl (NV12/YU12 CAPTURE only).
    pub ten_bit_formats: Vec<u32>,
    /// Coded formats (of `coded_formats`) whose node offers no linear NV12
    /// CAPTURE format, with the tiled NV12 layout their 8-bit contexts decode
    /// into (`NV12_32L32`, `NV12_4L4`, `MM21`; see [`coded::capture_choice`]).
    pub tiled_capture: Vec<(u32, u32)>,
}

impl DecoderNode {
    pub fn supports(&self, coded_fourcc: u32) -> bool {
        self.coded_formats.contains(&coded_fourcc)
    }

    /// The V4L2 CAPTURE format of a context of `coded_fourcc`: P010 for
    /// 10-bit, else linear NV12 or, where the node offers only a tiled
    /// layout, that layout.
    pub fn capture_fourcc(&self, coded_fourcc: u32, ten_bit: bool) -> u32 {
        if ten_bit {
            return crate::v4l2::V4L2_PIX_FMT_P010;
        }
        self.tiled_capture.iter().find(|(c, _)| *c == coded_fourcc).map_or(crate::v4l2::V4L2_PIX_FMT_NV12, |&(_, t)| t)
    }

    /// Whether the node decodes `coded_fourcc` 10-bit into P010.
    pub fn supports_ten_bit(&self, coded_fourcc: u32) -> bool {
        self.supports(coded_fourcc) && self.ten_bit_formats.contains(&coded_fourcc)
    }

    /// Re-run the control size check on this node, dropping the coded formats
    /// whose stateless controls do not match our structs (already done by
    /// [`discover`]; for nodes built by hand).
    pub fn check_control_sizes(&mut self) -> Result<(), V4l2Error> {
        let video = crate::v4l2::open_video(&self.video_path)?;
        let formats = std::mem::take(&mut self.coded_formats);
        self.coded_formats = filter_by_control_sizes(&video, &self.video_path, &formats);
        let kept = &self.coded_formats;
        self.ten_bit_formats.retain(|f| kept.contains(f));
        Ok(())
    }
}

/// Discover stateless decoders (see the module doc), or probe only the nodes the
/// settings name (`LIBVA_V4L2_REQUEST_VIDEO_PATH` / `_MEDIA_PATH`). Never fails:
/// problems are logged and the node skipped.
pub fn discover() -> Vec<DecoderNode> {
    let s = crate::settings::settings();
    discover_at(s.video_path.as_deref(), s.media_path.as_deref())
}

/// [`discover`] with the video node (`video`: only it) and media device
/// (`media`: only its nodes) given explicitly.
pub fn discover_at(video: Option<&Path>, media: Option<&Path>) -> Vec<DecoderNode> {
    let media_env = media.map(Path::to_path_buf);
    if let Some(video) = video {
        let media = media_env.or_else(|| media_path_for_video(video));
        log::info!("{}={}: using that node (media {:?})", crate::settings::VIDEO_PATH_ENV, video.display(), media);
        return probe_node(video, media.as_deref()).into_iter().collect();
    }

    let media_paths = match media_env {
        Some(m) => vec![m],
        None => list_media_devices(),
    };
    let mut nodes: Vec<DecoderNode> = Vec::new();
    for mpath in media_paths {
        for video in decoder_video_nodes(&mpath) {
            if nodes.iter().any(|n| n.video_path == video) {
                continue;
            }
            if let Some(node) = probe_node(&video, Some(&mpath)) {
                nodes.push(node);
            }
        }
    }
    if nodes.is_empty() {
        log::info!("no V4L2 stateless decoder found");
    }
    nodes
}

/// `/dev/mediaN`, sorted by N.
pub fn list_media_devices() -> Vec<PathBuf> {
    let dir = match std::fs::read_dir("/dev") {
        Ok(d) => d,
        Err(e) => {
            traps::note_open_error(Path::new("/dev"), io_errno(&e));
            return Vec::new();
        }
    };
    let mut found: Vec<(u32, PathBuf)> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name();
            let n = parse_numbered(name.to_str()?, "media")?;
            Some((n, e.path()))
        })
        .collect();
    found.sort();
    found.truncate(MAX_MEDIA_DEVICES);
    found.into_iter().map(|(_, p)| p).collect()
}

/// "media12" with prefix "media" → 12.
pub fn parse_numbered(name: &str, prefix: &str) -> Option<u32> {
    let digits = name.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Video nodes of the decoder entities of one media device.
pub fn decoder_video_nodes(media_path: &Path) -> Vec<PathBuf> {
    let fd = match crate::v4l2::open_media(media_path) {
        Ok(fd) => fd,
        Err(e) => {
            note_open_failure(media_path, &e);
            return Vec::new();
        }
    };
    let info = match crate::v4l2::media::device_info(fd.as_fd(), media_path) {
        Ok(i) => i,
        Err(_) => return Vec::new(),
    };
    let topo = match crate::v4l2::media::read_topology(fd.as_fd(), media_path) {
        Ok(t) => t,
        Err(_) => return Vec::new(),
    };
    let mut out = Vec::new();
    for dn in media::decoder_devnodes(&topo) {
        match media::devnode_path(dn.major, dn.minor) {
            Some(p) => {
                log::debug!(
                    "{} ({}, {}): decoder entity '{}' → {}:{} → {}",
                    media_path.display(),
                    info.driver,
                    info.model,
                    dn.entity_name,
                    dn.major,
                    dn.minor,
                    p.display()
                );
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            None => log::warn!(
                "{}: decoder entity '{}' has devnode {}:{} without a /dev node",
                media_path.display(),
                dn.entity_name,
                dn.major,
                dn.minor
            ),
        }
    }
    out
}

/// The media device whose topology holds the video node at `video_path`.
pub fn media_path_for_video(video_path: &Path) -> Option<PathBuf> {
    let rdev = std::fs::metadata(video_path).ok()?.rdev();
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    for mpath in list_media_devices() {
        let Ok(fd) = crate::v4l2::open_media(&mpath) else {
            continue;
        };
        if let Ok(topo) = crate::v4l2::media::read_topology(fd.as_fd(), &mpath) {
            if media::has_video_devnode(&topo, major, minor) {
                return Some(mpath);
            }
        }
    }
    None
}

/// Probe one video node: QUERYCAP (M2M), ENUM_FMT on OUTPUT, REQBUFS 0 on
/// OUTPUT (requests supported), control size check, CAPTURE formats and frame
/// sizes per coded format ([`coded`]), then the 10-bit probe of each coded
/// format with a 10-bit profile ([`tenbit`]). `None` (logged) when unusable.
pub fn probe_node(video_path: &Path, media_path: Option<&Path>) -> Option<DecoderNode> {
    match try_probe(video_path, media_path) {
        Ok(n) => {
            log::info!(
                "decoder {} ({}, media {:?}): {} coded formats [{}]",
                n.video_path.display(),
                n.driver,
                n.media_path,
                n.coded_formats.len(),
                n.coded_formats.iter().map(|f| fourcc_to_string(*f)).collect::<Vec<_>>().join(" ")
            );
            Some(n)
        }
        Err(e) => {
            note_open_failure(video_path, &e);
            log::info!("{}: not a usable stateless decoder: {e}", video_path.display());
            None
        }
    }
}

fn try_probe(video_path: &Path, media_path: Option<&Path>) -> Result<DecoderNode, V4l2Error> {
    let video = crate::v4l2::open_video(video_path)?;
    let ctx = |w: &str| format!("{}: {w}", video_path.display());
    let cap = probe::querycap(&video).map_err(|e| ioctl_err(Op::QueryCap, e, ctx("probe")))?;
    let caps = cap.device_caps.unwrap_or(cap.capabilities);
    let multiplanar = match classify_caps(caps) {
        Some(m) => m,
        None => return Err(V4l2Error::Unsupported(format!("{}: not an M2M device ({caps:?})", video_path.display()))),
    };
    let out_q = if multiplanar { QueueType::VideoOutputMplane } else { QueueType::VideoOutput };
    let counter = AtomicU64::new(0);
    let formats = crate::v4l2::session::enum_formats(&video, out_q, &counter).map_err(|e| ioctl_err(Op::EnumFmt, e, ctx("OUTPUT")))?;
    let out_caps = probe::queue_capabilities(&video, out_q).map_err(|e| ioctl_err_quiet(Op::ReqBufs, e, ctx("OUTPUT count 0")))?;
    if !out_caps.contains(BufferCapabilities::SUPPORTS_REQUESTS) {
        return Err(V4l2Error::Unsupported(format!("{}: OUTPUT queue has no request support", video_path.display())));
    }
    let coded_formats = filter_by_control_sizes(&video, video_path, &formats);
    if coded_formats.is_empty() {
        return Err(V4l2Error::Unsupported(format!(
            "{}: no stateless coded format with matching controls (OUTPUT formats: {})",
            video_path.display(),
            formats.iter().map(|f| fourcc_to_string(*f)).collect::<Vec<_>>().join(" ")
        )));
    }
    for &f in &coded_formats {
        let sizes = match coded::enum_frame_sizes(&video, video_path, f) {
            Ok(Some(sizes)) => sizes.within_driver_bounds(),
            _ => {
                log::info!(
                    "{}: {}: no frame sizes reported, using {}",
                    video_path.display(),
                    fourcc_to_string(f),
                    coded::FrameSizes::UNREPORTED
                );
                coded::FrameSizes::UNREPORTED
            }
        };
        coded::record(video_path, f, sizes);
    }
    drop(video);
    let (coded_formats, tiled_capture) = filter_by_capture_formats(video_path, multiplanar, coded_formats);
    if coded_formats.is_empty() {
        return Err(V4l2Error::Unsupported(format!(
            "{}: no coded format with a CAPTURE format the driver can describe (linear NV12 or P010)",
            video_path.display()
        )));
    }
    let ten_bit_formats = tenbit::TEN_BIT_CODED_FORMATS
        .into_iter()
        .filter(|f| coded_formats.contains(f))
        .filter(|&f| tenbit::probe(video_path, multiplanar, f).capable())
        .collect();
    Ok(DecoderNode {
        video_path: video_path.to_path_buf(),
        media_path: media_path.map(Path::to_path_buf),
        driver: cap.driver,
        card: cap.card,
        coded_formats,
        multiplanar,
        ten_bit_formats,
        tiled_capture,
    })
}

/// A refused open of a node found by discovery: one warning per trap and
/// process, with the remedy ([`traps`]).
fn note_open_failure(path: &Path, e: &V4l2Error) {
    if let (Some(Op::Open), Some(errno)) = (e.op(), e.errno()) {
        traps::note_open_error(path, errno);
    }
}

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// `Some(true)` for M2M_MPLANE, `Some(false)` for M2M, `None` otherwise.
pub fn classify_caps(caps: Capabilities) -> Option<bool> {
    if caps.contains(Capabilities::VIDEO_M2M_MPLANE) {
        Some(true)
    } else if caps.contains(Capabilities::VIDEO_M2M) {
        Some(false)
    } else if caps.contains(Capabilities::VIDEO_CAPTURE_MPLANE | Capabilities::VIDEO_OUTPUT_MPLANE) {
        Some(true)
    } else if caps.contains(Capabilities::VIDEO_CAPTURE | Capabilities::VIDEO_OUTPUT) {
        Some(false)
    } else {
        None
    }
}

/// Keep the coded formats whose CAPTURE formats (after S_FMT OUTPUT of that
/// format) include one the driver can decode into; one info line per dropped
/// format (see [`coded`]), and one per kept format that is tiled only, which
/// is returned with its tiled CAPTURE format. A format whose probe fails is
/// kept: the session reports the failure when a context is created.
fn filter_by_capture_formats(video_path: &Path, multiplanar: bool, formats: Vec<u32>) -> (Vec<u32>, Vec<(u32, u32)>) {
    let mut tiled = Vec::new();
    let kept = formats
        .into_iter()
        .filter(|&f| match coded::capture_formats(video_path, multiplanar, f) {
            Ok(cap) if !coded::describable(&cap) => {
                log::info!(
                    "{}: {} not advertised: no CAPTURE format the driver can describe (offered: {}; linear NV12 or P010, or NV12_32L32, NV12_4L4, MM21 needed)",
                    video_path.display(),
                    fourcc_to_string(f),
                    cap.iter().map(|c| fourcc_to_string(*c)).collect::<Vec<_>>().join(" ")
                );
                false
            }
            Ok(cap) => {
                match coded::capture_choice(&cap) {
                    Some(c) if c != crate::v4l2::V4L2_PIX_FMT_NV12 => {
                        log::info!(
                            "{}: {}: CAPTURE is tiled only (offered: {}): decoding into {}, images detiled on the CPU",
                            video_path.display(),
                            fourcc_to_string(f),
                            cap.iter().map(|c| fourcc_to_string(*c)).collect::<Vec<_>>().join(" "),
                            fourcc_to_string(c)
                        );
                        tiled.push((f, c));
                    }
                    _ => {}
                }
                true
            }
            _ => true,
        })
        .collect();
    (kept, tiled)
}

/// Keep the coded formats we know whose stateless controls exist with the
/// element sizes of our structs; log one clear line per dropped format.
fn filter_by_control_sizes(video: &File, video_path: &Path, formats: &[u32]) -> Vec<u32> {
    let mut kept = Vec::new();
    for &f in formats {
        let ctrls = codec_controls(f);
        if ctrls.is_empty() {
            log::debug!("{}: coded format {} not handled, skipped", video_path.display(), fourcc_to_string(f));
            continue;
        }
        let mut ok = true;
        for c in ctrls {
            let kernel = match query_ext_ctrl(video, c.id) {
                Ok(info) => Some(info.elem_size),
                Err(Errno::EINVAL) => None,
                Err(e) => {
                    ioctl_err(Op::QueryExtCtrl, e, format!("{}: {}", video_path.display(), c.name));
                    None
                }
            };
            match compare_size(c, kernel) {
                SizeCheck::Ok | SizeCheck::AbsentOptional => {}
                SizeCheck::AbsentRequired => {
                    log::warn!("{}: {} dropped: the kernel has no {} control", video_path.display(), fourcc_to_string(f), c.name);
                    ok = false;
                }
                SizeCheck::Mismatch { kernel, ours } => {
                    log::error!(
                        "{}: {} dropped: kernel/driver mismatch: control {} is {kernel} bytes in the kernel, {ours} in this driver (uAPI headers differ; rebuild against this kernel's headers)",
                        video_path.display(),
                        fourcc_to_string(f),
                        c.name
                    );
                    ok = false;
                }
            }
        }
        if ok {
            kept.push(f);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names() {
        assert_eq!(parse_numbered("media0", "media"), Some(0));
        assert_eq!(parse_numbered("media12", "media"), Some(12));
        assert_eq!(parse_numbered("media", "media"), None);
        assert_eq!(parse_numbered("media1a", "media"), None);
        assert_eq!(parse_numbered("video0", "media"), None);
    }

    #[test]
    fn caps_classification() {
        assert_eq!(classify_caps(Capabilities::VIDEO_M2M_MPLANE | Capabilities::STREAMING), Some(true));
        assert_eq!(classify_caps(Capabilities::VIDEO_M2M | Capabilities::STREAMING), Some(false));
        assert_eq!(classify_caps(Capabilities::VIDEO_CAPTURE | Capabilities::STREAMING), None);
        assert_eq!(classify_caps(Capabilities::empty()), None);
    }

    #[test]
    fn probe_of_a_non_v4l2_file_is_none() {
        assert!(probe_node(Path::new("/dev/null"), None).is_none());
        assert!(probe_node(Path::new("/nonexistent/video0"), None).is_none());
    }

    #[test]
    fn env_override_to_a_missing_node_finds_nothing() {
        let found = discover_at(Some(Path::new("/nonexistent/video42")), Some(Path::new("/nonexistent/media42")));
        assert!(found.is_empty());
        assert!(media_path_for_video(Path::new("/nonexistent/video42")).is_none());
    }

    #[test]
    fn walking_a_missing_media_device_is_empty() {
        assert!(decoder_video_nodes(Path::new("/nonexistent/media0")).is_empty());
        assert!(decoder_video_nodes(Path::new("/dev/null")).is_empty());
    }
}
