//! `v4l2-request-va-info`: what the driver sees on this machine, and what
//! keeps hardware decoding from happening, with the remedy for each problem.
//!
//! [`collect`] gathers a [`Report`]: every decoder found through the media
//! controller (the same walk as the driver's discovery, `crate::device`) with
//! its OUTPUT (coded) formats, the CAPTURE formats offered for each, frame-size
//! limits (`VIDIOC_ENUM_FRAMESIZES`), H.264/HEVC decode mode and start code,
//! the `HOLD_CAPTURE_BUF` capability, the control size check and the 10-bit
//! probe of the driver, and the VA profiles the driver advertises for it (its
//! own capability table, `crate::driver::config`); then what users trip over:
//! device node permissions ([`crate::device::traps`]), libva's driver path and
//! whether our `.so` is there and loads ([`libva`]), `LIBVA_DRIVER_NAME`, a
//! DRM render node. [`render`] prints it as text (one line per problem, with
//! its remedy) or JSON (`--json`, for bug reports).

pub(crate) mod json;
pub(crate) mod libva;
pub mod render;

/// The driver's logging setup (`LIBVA_V4L2_REQUEST_LOG`), for the command.
pub use crate::logging::init as init_logging;

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use nix::errno::Errno;
use v4l2r::bindings as b;
use v4l2r::ioctl::BufferCapabilities;
use v4l2r::QueueType;

use crate::device::tenbit::{self, TenBit};
use crate::device::traps::{Caller, NodeAccess};
use crate::device::{self, media, DecoderNode};
use crate::driver::config;
use crate::v4l2::controls::{codec_controls, compare_size, g_ctrl, menu_values, query_ext_ctrl, SizeCheck};
use crate::v4l2::fourcc_to_string;
use crate::v4l2::probe;
use crate::va_sys::ffi;

/// The driver's name for libva (`LIBVA_DRIVER_NAME`).
pub const DRIVER_NAME: &str = "v4l2_request";
/// The file libva loads for [`DRIVER_NAME`].
pub const DRIVER_FILE: &str = "v4l2_request_drv_video.so";

/// The environment the report depends on, read once ([`Environment::read`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    /// `LIBVA_DRIVER_NAME`
    pub driver_name: Option<String>,
    /// `LIBVA_DRIVERS_PATH`
    pub drivers_path: Option<String>,
}

impl Environment {
    /// The one place the tool reads libva's variables.
    pub fn read() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Environment { driver_name: get("LIBVA_DRIVER_NAME"), drivers_path: get("LIBVA_DRIVERS_PATH") }
    }
}

/// One problem and its remedy, each one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub what: String,
    pub remedy: String,
}

/// A `/dev/media*` node.
#[derive(Clone, Debug, Default)]
pub struct MediaReport {
    pub path: PathBuf,
    pub driver: String,
    pub model: String,
    pub bus_info: String,
    /// Video nodes of its decoder entities.
    pub decoders: Vec<PathBuf>,
    pub error: Option<String>,
}

/// Frame-size limits of a coded format (`VIDIOC_ENUM_FRAMESIZES`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameSizes {
    Discrete(Vec<(u32, u32)>),
    /// Stepwise or continuous (step 1).
    Range {
        min: (u32, u32),
        max: (u32, u32),
        step: (u32, u32),
    },
}

/// A menu control (decode mode, start code): current value and the values offered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModeReport {
    /// "decode mode" or "start code".
    pub what: &'static str,
    pub current: Option<&'static str>,
    pub offered: Vec<&'static str>,
}

/// One OUTPUT format of a decoder node.
#[derive(Clone, Debug)]
pub struct CodedReport {
    pub fourcc: u32,
    /// Whether the driver handles this coded format at all.
    pub known: bool,
    /// The control size check (`Err`: why the driver drops the format).
    pub controls: Result<(), String>,
    pub capture_formats: Result<Vec<u32>, String>,
    pub frame_sizes: Result<FrameSizes, String>,
    pub modes: Vec<ModeReport>,
    /// The 10-bit probe (coded formats with a 10-bit profile only).
    pub ten_bit: Option<TenBit>,
    /// VA profiles the driver advertises for this format on this node.
    pub profiles: Vec<ffi::VAProfile>,
}

/// One decoder video node.
#[derive(Clone, Debug, Default)]
pub struct DecoderReport {
    pub video: PathBuf,
    pub media: Option<PathBuf>,
    pub driver: String,
    pub card: String,
    pub bus_info: String,
    pub multiplanar: bool,
    pub requests: bool,
    pub hold_capture_buf: bool,
    pub coded: Vec<CodedReport>,
    /// What the driver makes of the node (`None`: it does not use it).
    pub used: bool,
    pub profiles: Vec<ffi::VAProfile>,
    pub error: Option<String>,
}

/// A device node's permissions, for the caller.
#[derive(Clone, Debug)]
pub struct NodePermission {
    pub path: PathBuf,
    pub access: Option<NodeAccess>,
    pub allowed: bool,
}

/// A `/dev/dri/renderD*` node.
#[derive(Clone, Debug)]
pub struct RenderNode {
    pub path: PathBuf,
    /// DRM driver behind it (sysfs), e.g. "vgem", "rockchip", "panfrost".
    pub drm_driver: Option<String>,
    pub permission: NodePermission,
}

/// Everything the tool found.
#[derive(Clone, Debug)]
pub struct Report {
    pub version: &'static str,
    /// libva version of the headers the driver was built against.
    pub va_build_version: (u32, u32),
    pub caller: Caller,
    pub env: Environment,
    pub media: Vec<MediaReport>,
    pub decoders: Vec<DecoderReport>,
    pub nodes: Vec<NodePermission>,
    pub render_nodes: Vec<RenderNode>,
    pub libva: libva::LibvaReport,
    pub problems: Vec<Problem>,
}

/// Gather the report (see the module doc).
pub fn collect(env: Environment) -> Report {
    let caller = Caller::current();
    let media: Vec<MediaReport> = device::list_media_devices().iter().map(|p| inspect_media(p)).collect();
    let mut decoders = Vec::new();
    for m in &media {
        for v in &m.decoders {
            if !decoders.iter().any(|d: &DecoderReport| d.video == *v) {
                decoders.push(inspect_decoder(v, Some(&m.path)));
            }
        }
    }
    // Permissions: every media node and the decoders' video nodes; when a media
    // node cannot be read the decoders behind it are unknown: every video node.
    let mut paths: Vec<PathBuf> = media.iter().map(|m| m.path.clone()).collect();
    if media.iter().any(|m| m.error.is_some()) {
        paths.extend(list_dev("video"));
    } else {
        paths.extend(decoders.iter().map(|d| d.video.clone()));
    }
    paths.dedup();
    let nodes: Vec<NodePermission> = paths.iter().map(|p| permission(p, &caller)).collect();
    let render_nodes: Vec<RenderNode> = list_dir_numbered(Path::new("/dev/dri"), "renderD")
        .into_iter()
        .map(|p| RenderNode { drm_driver: drm_driver_of(&p), permission: permission(&p, &caller), path: p })
        .collect();
    let libva = libva::inspect(&env);
    let mut report = Report {
        version: env!("CARGO_PKG_VERSION"),
        va_build_version: crate::va::VA_BUILD_VERSION,
        caller,
        env,
        media,
        decoders,
        nodes,
        render_nodes,
        libva,
        problems: Vec::new(),
    };
    report.problems = problems(&report);
    report
}

fn list_dev(prefix: &str) -> Vec<PathBuf> {
    list_dir_numbered(Path::new("/dev"), prefix)
}

/// `<dir>/<prefix>N`, sorted by N.
fn list_dir_numbered(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(u32, PathBuf)> =
        rd.filter_map(|e| e.ok()).filter_map(|e| Some((device::parse_numbered(e.file_name().to_str()?, prefix)?, e.path()))).collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

fn permission(path: &Path, caller: &Caller) -> NodePermission {
    let access = NodeAccess::of(path);
    NodePermission { path: path.to_path_buf(), allowed: access.as_ref().is_some_and(|a| a.allows(caller)), access }
}

/// The DRM driver of a render node: `/sys/class/drm/renderDN/device/driver`
/// → its name, else the device's own name (vgem's platform device has no
/// driver link).
fn drm_driver_of(render: &Path) -> Option<String> {
    let name = render.file_name()?.to_str()?;
    let base = |rel: &str| {
        let link = std::fs::read_link(format!("/sys/class/drm/{name}/{rel}")).ok()?;
        Some(link.file_name()?.to_string_lossy().into_owned())
    };
    base("device/driver").or_else(|| base("device"))
}

fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

fn inspect_media(path: &Path) -> MediaReport {
    let mut r = MediaReport { path: path.to_path_buf(), ..Default::default() };
    let fd = match File::options().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) => {
            r.error = Some(format!("open: {}", errno_of(&e).desc()));
            return r;
        }
    };
    match crate::v4l2::media::device_info(fd.as_fd(), path) {
        Ok(i) => {
            r.driver = i.driver;
            r.model = i.model;
            r.bus_info = i.bus_info;
        }
        Err(e) => r.error = Some(e.to_string()),
    }
    match crate::v4l2::media::read_topology(fd.as_fd(), path) {
        Ok(t) => {
            for dn in media::decoder_devnodes(&t) {
                match media::devnode_path(dn.major, dn.minor) {
                    Some(p) if !r.decoders.contains(&p) => r.decoders.push(p),
                    Some(_) => {}
                    None => {
                        r.error =
                            Some(format!("decoder entity '{}' has devnode {}:{} without a /dev node", dn.entity_name, dn.major, dn.minor))
                    }
                }
            }
        }
        Err(e) => r.error = Some(e.to_string()),
    }
    r
}

fn queues(multiplanar: bool) -> (QueueType, QueueType) {
    if multiplanar {
        (QueueType::VideoOutputMplane, QueueType::VideoCaptureMplane)
    } else {
        (QueueType::VideoOutput, QueueType::VideoCapture)
    }
}

fn inspect_decoder(video: &Path, media_path: Option<&Path>) -> DecoderReport {
    let mut r = DecoderReport { video: video.to_path_buf(), media: media_path.map(Path::to_path_buf), ..Default::default() };
    let mut fd = match crate::v4l2::open_video(video) {
        Ok(f) => f,
        Err(e) => {
            r.error = Some(e.to_string());
            return r;
        }
    };
    let cap = match probe::querycap(&fd) {
        Ok(c) => c,
        Err(e) => {
            r.error = Some(format!("VIDIOC_QUERYCAP: {}", e.desc()));
            return r;
        }
    };
    r.driver = cap.driver.clone();
    r.card = cap.card.clone();
    r.bus_info = cap.bus_info.clone();
    let Some(multiplanar) = device::classify_caps(cap.device_caps.unwrap_or(cap.capabilities)) else {
        r.error = Some("not a memory-to-memory device".into());
        return r;
    };
    r.multiplanar = multiplanar;
    let (out_q, cap_q) = queues(multiplanar);
    let counter = AtomicU64::new(0);
    let formats = match crate::v4l2::session::enum_formats(&fd, out_q, &counter) {
        Ok(f) => f,
        Err(e) => {
            r.error = Some(format!("VIDIOC_ENUM_FMT OUTPUT: {}", e.desc()));
            return r;
        }
    };
    match probe::queue_capabilities(&fd, out_q) {
        Ok(caps) => {
            r.requests = caps.contains(BufferCapabilities::SUPPORTS_REQUESTS);
            r.hold_capture_buf = caps.contains(BufferCapabilities::SUPPORTS_M2M_HOLD_CAPTURE_BUF);
        }
        Err(e) => r.error = Some(format!("VIDIOC_REQBUFS OUTPUT: {}", e.desc())),
    }
    for &f in &formats {
        let known = config::codec_table().iter().any(|row| row.coded_fourcc == f);
        let mut c = CodedReport {
            fourcc: f,
            known,
            controls: Ok(()),
            capture_formats: Err("not queried".into()),
            frame_sizes: frame_sizes(&fd, f),
            modes: Vec::new(),
            ten_bit: None,
            profiles: Vec::new(),
        };
        if known {
            c.controls = check_controls(&fd, f);
            c.capture_formats = capture_formats(&mut fd, out_q, cap_q, f);
            c.modes = modes(&fd, f);
        }
        r.coded.push(c);
    }
    drop(fd);
    // The driver's own verdict on the node (control sizes, requests, 10-bit).
    let node: Option<DecoderNode> = device::probe_node(video, media_path);
    if let Some(node) = &node {
        r.used = true;
        r.profiles = config::supported_profiles(std::slice::from_ref(node));
        for c in &mut r.coded {
            c.profiles = profiles_of(node, c.fourcc);
            if tenbit::TEN_BIT_CODED_FORMATS.contains(&c.fourcc) && node.supports(c.fourcc) {
                c.ten_bit = Some(tenbit::probe(video, node.multiplanar, c.fourcc));
            }
        }
    }
    r
}

/// The node's advertised profiles that belong to `coded_fourcc`'s row of the
/// driver's capability table.
fn profiles_of(node: &DecoderNode, coded_fourcc: u32) -> Vec<ffi::VAProfile> {
    let all = config::supported_profiles(std::slice::from_ref(node));
    config::codec_table()
        .iter()
        .filter(|row| row.coded_fourcc == coded_fourcc)
        .flat_map(|row| row.profiles.iter().map(|(p, _)| *p))
        .filter(|p| all.contains(p))
        .collect()
}

/// The control size check of the driver's discovery, with the reason.
fn check_controls(fd: &File, coded_fourcc: u32) -> Result<(), String> {
    let mut why = Vec::new();
    for c in codec_controls(coded_fourcc) {
        let kernel = query_ext_ctrl(fd, c.id).ok().map(|i| i.elem_size);
        match compare_size(c, kernel) {
            SizeCheck::Ok | SizeCheck::AbsentOptional => {}
            SizeCheck::AbsentRequired => why.push(format!("the kernel has no {} control", c.name)),
            SizeCheck::Mismatch { kernel, ours } => {
                why.push(format!("control {} is {kernel} bytes in the kernel, {ours} in this driver", c.name))
            }
        }
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join("; "))
    }
}

/// CAPTURE formats after `S_FMT` OUTPUT to the coded format (what drivers
/// offer depends on it).
fn capture_formats(fd: &mut File, out_q: QueueType, cap_q: QueueType, coded_fourcc: u32) -> Result<Vec<u32>, String> {
    let got = probe::set_coded_format(fd, out_q, coded_fourcc, tenbit::PROBE_WIDTH, tenbit::PROBE_HEIGHT)
        .map_err(|e| format!("VIDIOC_S_FMT OUTPUT: {}", e.desc()))?;
    if u32::from(got.pixelformat) != coded_fourcc {
        return Err(format!("OUTPUT format refused (device chose {})", fourcc_to_string(got.pixelformat.into())));
    }
    let counter = AtomicU64::new(0);
    crate::v4l2::session::enum_formats(fd, cap_q, &counter).map_err(|e| format!("VIDIOC_ENUM_FMT CAPTURE: {}", e.desc()))
}

/// Most frame sizes listed.
const MAX_FRAME_SIZES: u32 = 64;

fn frame_sizes(fd: &File, fourcc: u32) -> Result<FrameSizes, String> {
    let mut discrete = Vec::new();
    for index in 0..MAX_FRAME_SIZES {
        let e = match probe::enum_frame_size(fd, fourcc, index) {
            Ok(e) => e,
            Err(errno) => {
                if errno == Errno::EINVAL && index > 0 {
                    break;
                }
                return Err(format!("VIDIOC_ENUM_FRAMESIZES: {}", errno.desc()));
            }
        };
        match e.size() {
            Some(v4l2r::ioctl::FrmSizeTypes::StepWise(s)) => {
                return Ok(FrameSizes::Range {
                    min: (s.min_width, s.min_height),
                    max: (s.max_width, s.max_height),
                    step: (s.step_width, s.step_height),
                })
            }
            Some(v4l2r::ioctl::FrmSizeTypes::Discrete(d)) => discrete.push((d.width, d.height)),
            None => return Err(format!("VIDIOC_ENUM_FRAMESIZES: unknown type {}", e.type_)),
        }
    }
    Ok(FrameSizes::Discrete(discrete))
}

/// Decode mode and start code of H.264 / HEVC devices (the driver follows the
/// current values, see the README's environment table for the overrides).
fn modes(fd: &File, coded_fourcc: u32) -> Vec<ModeReport> {
    let (mode_id, start_id) = match coded_fourcc {
        crate::v4l2::V4L2_PIX_FMT_H264_SLICE => (b::V4L2_CID_STATELESS_H264_DECODE_MODE, b::V4L2_CID_STATELESS_H264_START_CODE),
        crate::v4l2::V4L2_PIX_FMT_HEVC_SLICE => (b::V4L2_CID_STATELESS_HEVC_DECODE_MODE, b::V4L2_CID_STATELESS_HEVC_START_CODE),
        _ => return Vec::new(),
    };
    // The H.264 and HEVC menus share their values: 0 slice / 1 frame, 0 none / 1 Annex B.
    let mode_name = |v: u32| {
        if v == 0 {
            "slice"
        } else if v == 1 {
            "frame"
        } else {
            "?"
        }
    };
    let start_name = |v: u32| {
        if v == 0 {
            "none"
        } else if v == 1 {
            "annexb"
        } else {
            "?"
        }
    };
    let mut out = Vec::new();
    for (what, id, name) in [("decode mode", mode_id, &mode_name as &dyn Fn(u32) -> &'static str), ("start code", start_id, &start_name)] {
        let current = g_ctrl(fd, id).ok().map(|v| name(v as u32));
        let offered = menu_values(fd, id).map(|v| v.into_iter().map(name).collect()).unwrap_or_default();
        out.push(ModeReport { what, current, offered });
    }
    out
}

/// The problems of a report, each with its remedy.
pub fn problems(r: &Report) -> Vec<Problem> {
    let mut out = Vec::new();
    // Device nodes the user may not open, grouped by remedy.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for n in r.nodes.iter().chain(r.render_nodes.iter().map(|n| &n.permission)) {
        if n.allowed {
            continue;
        }
        let (shown, remedy) = match &n.access {
            Some(a) => (format!("{} ({} {}:{})", n.path.display(), a.mode_string(), a.owner, a.group), a.remedy(&r.caller)),
            None => (n.path.display().to_string(), "check that the node exists and is readable".to_string()),
        };
        match groups.iter_mut().find(|(rem, _)| *rem == remedy) {
            Some((_, v)) => v.push(shown),
            None => groups.push((remedy, vec![shown])),
        }
    }
    let permission_problems = !groups.is_empty();
    for (remedy, nodes) in groups {
        out.push(Problem { what: format!("{} has no read/write access to {}", r.caller.name, nodes.join(", ")), remedy });
    }
    for m in &r.media {
        if let (Some(e), true) = (&m.error, r.nodes.iter().any(|n| n.path == m.path && n.allowed)) {
            out.push(Problem {
                what: format!("{}: {e}", m.path.display()),
                remedy: "report it with the output of `v4l2-request-va-info --json`".into(),
            });
        }
    }
    for d in &r.decoders {
        for c in &d.coded {
            if let (true, Err(why)) = (c.known, &c.controls) {
                out.push(Problem {
                    what: format!("{} {}: not used: {why}", d.video.display(), fourcc_to_string(c.fourcc)),
                    remedy: "the kernel's V4L2 uAPI differs from the headers the driver was built with: rebuild the driver against this kernel's headers (or update the kernel)".into(),
                });
            }
        }
        if d.error.is_none() && !d.requests {
            out.push(Problem {
                what: format!("{}: the OUTPUT queue does not support requests", d.video.display()),
                remedy: "the kernel lacks the request API for this device (CONFIG_MEDIA_CONTROLLER_REQUEST_API): use a kernel with it"
                    .into(),
            });
        }
    }
    if r.decoders.iter().all(|d| !d.used) && !permission_problems {
        out.push(Problem {
            what: if r.media.is_empty() {
                "no /dev/media* node: no V4L2 stateless decoder is registered".into()
            } else {
                "no V4L2 stateless decoder usable by the driver was found through the media controller".into()
            },
            remedy: "load the kernel driver of the board's video decoder (hantro_vpu, rkvdec, cedrus, mediatek-vcodec, visl for tests) with a kernel >= 6.5".into(),
        });
    }
    if r.render_nodes.is_empty() {
        out.push(Problem {
            what: "no /dev/dri/renderD* node: libva's DRM display needs one (the decoder itself is not behind it)".into(),
            remedy: "load any DRM driver with a render node (the GPU's, or vgem)".into(),
        });
    }
    match r.env.driver_name.as_deref() {
        Some(DRIVER_NAME) => {}
        Some(other) => out.push(Problem {
            what: format!("LIBVA_DRIVER_NAME={other}: libva loads {other}_drv_video.so, not this driver"),
            remedy: format!("export LIBVA_DRIVER_NAME={DRIVER_NAME}"),
        }),
        None => out.push(Problem {
            what: format!(
                "LIBVA_DRIVER_NAME is not set: libva picks a driver by the render node's DRM driver ({}), never this one",
                r.render_nodes.first().and_then(|n| n.drm_driver.clone()).unwrap_or_else(|| "none".into())
            ),
            remedy: format!(
                "export LIBVA_DRIVER_NAME={DRIVER_NAME} (and GST_VA_ALL_DRIVERS=1 for GStreamer, MOZ_DISABLE_RDD_SANDBOX=1 for Firefox)"
            ),
        }),
    }
    out.extend(libva::problems(&r.libva, r.va_build_version));
    out
}

/// VA profile name without the `VAProfile` prefix (the profiles of the
/// driver's capability table; others by number).
pub fn profile_name(p: ffi::VAProfile) -> String {
    let name = match p {
        ffi::VAProfileH264ConstrainedBaseline => "H264ConstrainedBaseline",
        ffi::VAProfileH264Main => "H264Main",
        ffi::VAProfileH264High => "H264High",
        ffi::VAProfileMPEG2Simple => "MPEG2Simple",
        ffi::VAProfileMPEG2Main => "MPEG2Main",
        ffi::VAProfileVP8Version0_3 => "VP8Version0_3",
        ffi::VAProfileVP9Profile0 => "VP9Profile0",
        ffi::VAProfileVP9Profile2 => "VP9Profile2",
        ffi::VAProfileHEVCMain => "HEVCMain",
        ffi::VAProfileHEVCMain10 => "HEVCMain10",
        ffi::VAProfileAV1Profile0 => "AV1Profile0",
        other => return format!("profile {other}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_profile_has_a_name() {
        for row in config::codec_table() {
            for (p, _) in row.profiles {
                assert!(!profile_name(*p).starts_with("profile "), "{p}");
            }
        }
    }

    #[test]
    fn profiles_of_a_node_follow_its_coded_formats() {
        let h264 = crate::v4l2::V4L2_PIX_FMT_H264_SLICE;
        let hevc = crate::v4l2::V4L2_PIX_FMT_HEVC_SLICE;
        let node = DecoderNode {
            video_path: PathBuf::from("/dev/video0"),
            media_path: None,
            driver: "t".into(),
            card: "t".into(),
            coded_formats: vec![h264, hevc],
            multiplanar: true,
            ten_bit_formats: vec![hevc],
            tiled_capture: vec![],
        };
        let names = |f| profiles_of(&node, f).into_iter().map(profile_name).collect::<Vec<_>>();
        assert_eq!(names(h264), ["H264ConstrainedBaseline", "H264Main", "H264High"]);
        assert_eq!(names(hevc), ["HEVCMain", "HEVCMain10"]);
        assert!(names(crate::v4l2::V4L2_PIX_FMT_VP8_FRAME).is_empty());
    }

    #[test]
    fn driver_name_problems() {
        let mut r = Report {
            version: "0",
            va_build_version: (1, 17),
            caller: Caller { uid: 0, name: "root".into(), gids: vec![0] },
            env: Environment::default(),
            media: Vec::new(),
            decoders: Vec::new(),
            nodes: Vec::new(),
            render_nodes: Vec::new(),
            libva: libva::LibvaReport::default(),
            problems: Vec::new(),
        };
        let p = problems(&r);
        assert!(p.iter().any(|p| p.what.starts_with("LIBVA_DRIVER_NAME is not set")));
        assert!(p.iter().any(|p| p.what.starts_with("no /dev/media* node")));
        assert!(p.iter().any(|p| p.what.starts_with("no /dev/dri/renderD* node")));
        r.env.driver_name = Some("iHD".into());
        let p = problems(&r);
        assert!(p.iter().any(|p| p.remedy == "export LIBVA_DRIVER_NAME=v4l2_request"));
        r.env.driver_name = Some(DRIVER_NAME.into());
        assert!(!problems(&r).iter().any(|p| p.what.contains("LIBVA_DRIVER_NAME")));
    }
}
