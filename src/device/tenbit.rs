//! 10-bit capability probe: can a decoder node decode 10-bit streams of a
//! codec into a linear `P010` CAPTURE buffer?
//!
//! Per node and per coded format that has a 10-bit VA profile (HEVC `S265`
//! → HEVCMain10, VP9 `VP9F` → VP9Profile2, AV1 `AV1F` → 10-bit AV1Profile0):
//!
//! 1. open the node (a fresh file handle: control values are per handle),
//! 2. `S_FMT` OUTPUT to the coded format at [`PROBE_WIDTH`]×[`PROBE_HEIGHT`],
//! 3. `S_EXT_CTRLS` (current values, no request) of a 10-bit sequence-level
//!    control built by [`TrialControl::new`] for the size the device returned:
//!    HEVC `v4l2_ctrl_hevc_sps` with `bit_depth_luma_minus8 =
//!    bit_depth_chroma_minus8 = 2`, VP9 `v4l2_ctrl_vp9_frame` with profile 2 and
//!    `bit_depth` 10, AV1 `v4l2_ctrl_av1_sequence` with `bit_depth` 10. A device
//!    that cannot decode 10-bit rejects it (EINVAL / ERANGE; cedrus without
//!    10-bit HEVC does);
//! 4. `ENUM_FMT` on CAPTURE, which drivers like hantro recompute from the
//!    bit depth of that control: it must list `V4L2_PIX_FMT_P010`.
//!
//! The decision is [`decide`], a pure function. Only linear `P010` counts:
//! `NV15` (packed 10-bit, rkvdec) and tiled 10-bit formats (`P010_4L4` …)
//! have no VA fourcc a client could map or import as P010, so such devices
//! get no 10-bit profiles. Any failure of the probe (open, S_FMT, other errno)
//! means "no 10-bit" with one log line; the handle is closed on return.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::AtomicU64;

use nix::errno::Errno;
use v4l2r::bindings as b;
use v4l2r::QueueType;

use crate::v4l2::controls::{s_ext_ctrls, ControlSpec, CtrlScratch, Which};
use crate::v4l2::fourcc_to_string;

/// Coded formats that have a 10-bit VA profile.
pub const TEN_BIT_CODED_FORMATS: [u32; 3] =
    [crate::v4l2::V4L2_PIX_FMT_HEVC_SLICE, crate::v4l2::V4L2_PIX_FMT_VP9_FRAME, crate::v4l2::V4L2_PIX_FMT_AV1_FRAME];

/// Coded size of the probe's OUTPUT format (the device may adjust it; the
/// trial control then uses the adjusted size).
pub const PROBE_WIDTH: u32 = 1280;
pub const PROBE_HEIGHT: u32 = 720;

/// A 10-bit sequence-level control for one coded format.
#[derive(Clone, Copy, Debug)]
pub enum TrialControl {
    Hevc(b::v4l2_ctrl_hevc_sps),
    Vp9(b::v4l2_ctrl_vp9_frame),
    Av1(b::v4l2_ctrl_av1_sequence),
}

impl TrialControl {
    /// The 10-bit control of `coded_fourcc` for a `width`×`height` stream
    /// (`None` for coded formats without a 10-bit profile). Plausible 4:2:0
    /// values that pass the kernel's and drivers' checks for 10-bit content.
    pub fn new(coded_fourcc: u32, width: u32, height: u32) -> Option<Self> {
        let w = width.clamp(1, u32::from(u16::MAX));
        let h = height.clamp(1, u32::from(u16::MAX));
        match coded_fourcc {
            crate::v4l2::V4L2_PIX_FMT_HEVC_SLICE => Some(TrialControl::Hevc(b::v4l2_ctrl_hevc_sps {
                pic_width_in_luma_samples: w as u16,
                pic_height_in_luma_samples: h as u16,
                bit_depth_luma_minus8: 2,
                bit_depth_chroma_minus8: 2,
                log2_max_pic_order_cnt_lsb_minus4: 4,
                sps_max_dec_pic_buffering_minus1: 4,
                log2_min_luma_coding_block_size_minus3: 0,
                log2_diff_max_min_luma_coding_block_size: 3,
                log2_min_luma_transform_block_size_minus2: 0,
                log2_diff_max_min_luma_transform_block_size: 3,
                chroma_format_idc: 1,
                ..Default::default()
            })),
            crate::v4l2::V4L2_PIX_FMT_VP9_FRAME => {
                let mut f = b::v4l2_ctrl_vp9_frame {
                    flags: b::V4L2_VP9_FRAME_FLAG_KEY_FRAME
                        | b::V4L2_VP9_FRAME_FLAG_SHOW_FRAME
                        | b::V4L2_VP9_FRAME_FLAG_X_SUBSAMPLING
                        | b::V4L2_VP9_FRAME_FLAG_Y_SUBSAMPLING,
                    profile: 2,
                    bit_depth: 10,
                    ..Default::default()
                };
                f.frame_width_minus_1 = (w - 1) as u16;
                f.frame_height_minus_1 = (h - 1) as u16;
                f.render_width_minus_1 = (w - 1) as u16;
                f.render_height_minus_1 = (h - 1) as u16;
                Some(TrialControl::Vp9(f))
            }
            crate::v4l2::V4L2_PIX_FMT_AV1_FRAME => Some(TrialControl::Av1(b::v4l2_ctrl_av1_sequence {
                seq_profile: 0,
                order_hint_bits: 7,
                bit_depth: 10,
                max_frame_width_minus_1: (w - 1) as u16,
                max_frame_height_minus_1: (h - 1) as u16,
                ..Default::default()
            })),
            _ => None,
        }
    }

    /// The control payload for S_EXT_CTRLS.
    pub fn spec(&self) -> ControlSpec<'_> {
        match self {
            TrialControl::Hevc(s) => ControlSpec::new(s),
            TrialControl::Vp9(f) => ControlSpec::new(f),
            TrialControl::Av1(s) => ControlSpec::new(s),
        }
    }
}

/// Outcome of the 10-bit probe of one coded format on one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenBit {
    /// The device took the 10-bit control and lists linear P010 on CAPTURE.
    P010,
    /// The 10-bit control was rejected (EINVAL / ERANGE: the device cannot).
    ControlRejected(Errno),
    /// The control was taken but CAPTURE has no linear P010 (formats listed).
    NoP010(Vec<u32>),
    /// The probe itself failed (open, S_FMT, another errno).
    ProbeFailed(String),
}

impl TenBit {
    pub fn capable(&self) -> bool {
        *self == TenBit::P010
    }
}

/// The decision, from what the device said: the result of the trial
/// S_EXT_CTRLS and (when it succeeded) the CAPTURE formats listed after it.
/// Only `V4L2_PIX_FMT_P010` (linear) counts; see the module doc.
pub fn decide(control: Result<(), Errno>, capture_formats: Result<&[u32], Errno>) -> TenBit {
    match control {
        Err(e @ (Errno::EINVAL | Errno::ERANGE)) => return TenBit::ControlRejected(e),
        Err(e) => return TenBit::ProbeFailed(format!("VIDIOC_S_EXT_CTRLS: {e}")),
        Ok(()) => {}
    }
    match capture_formats {
        Ok(f) if f.contains(&crate::v4l2::V4L2_PIX_FMT_P010) => TenBit::P010,
        Ok(f) => TenBit::NoP010(f.to_vec()),
        Err(e) => TenBit::ProbeFailed(format!("VIDIOC_ENUM_FMT CAPTURE: {e}")),
    }
}

/// Probe one coded format on the node at `video_path` (see the module doc).
/// Logs one line with the outcome.
pub fn probe(video_path: &Path, multiplanar: bool, coded_fourcc: u32) -> TenBit {
    let outcome = match TrialControl::new(coded_fourcc, PROBE_WIDTH, PROBE_HEIGHT) {
        None => TenBit::ProbeFailed("no 10-bit profile for this coded format".into()),
        Some(_) => run_probe(video_path, multiplanar, coded_fourcc),
    };
    let what = match &outcome {
        TenBit::P010 => "yes (10-bit control taken, CAPTURE lists P010)".to_string(),
        TenBit::ControlRejected(e) => format!("no (10-bit control rejected: {e})"),
        TenBit::NoP010(f) => {
            format!("no (no linear P010 on CAPTURE: {})", f.iter().map(|f| fourcc_to_string(*f)).collect::<Vec<_>>().join(" "))
        }
        TenBit::ProbeFailed(e) => format!("no (probe failed: {e})"),
    };
    log::info!("{}: {} 10-bit: {what}", video_path.display(), fourcc_to_string(coded_fourcc));
    outcome
}

fn run_probe(video_path: &Path, multiplanar: bool, coded_fourcc: u32) -> TenBit {
    let (out_q, cap_q) = if multiplanar {
        (QueueType::VideoOutputMplane, QueueType::VideoCaptureMplane)
    } else {
        (QueueType::VideoOutput, QueueType::VideoCapture)
    };
    // Dropped (closed) on every return.
    let mut video: File = match crate::v4l2::open_video(video_path) {
        Ok(f) => f,
        Err(e) => return TenBit::ProbeFailed(e.to_string()),
    };
    let got = match crate::v4l2::probe::set_coded_format(&mut video, out_q, coded_fourcc, PROBE_WIDTH, PROBE_HEIGHT) {
        Ok(f) => f,
        Err(e) => return TenBit::ProbeFailed(format!("VIDIOC_S_FMT OUTPUT: {e}")),
    };
    if u32::from(got.pixelformat) != coded_fourcc {
        return TenBit::ProbeFailed(format!("OUTPUT format refused (device chose {})", fourcc_to_string(got.pixelformat.into())));
    }
    let (w, h) = if got.width > 0 && got.height > 0 { (got.width, got.height) } else { (PROBE_WIDTH, PROBE_HEIGHT) };
    let Some(trial) = TrialControl::new(coded_fourcc, w, h) else {
        return TenBit::ProbeFailed("no 10-bit profile for this coded format".into());
    };
    let mut scratch = CtrlScratch::default();
    let control = s_ext_ctrls(&video, Which::Current, &[trial.spec()], &mut scratch).map_err(|f| f.errno);
    if control.is_err() {
        return decide(control, Ok(&[]));
    }
    let counter = AtomicU64::new(0);
    let formats = crate::v4l2::session::enum_formats(&video, cap_q, &counter);
    decide(control, formats.as_deref().map_err(|e| *e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v4l2::{
        V4L2_PIX_FMT_AV1_FRAME, V4L2_PIX_FMT_H264_SLICE, V4L2_PIX_FMT_HEVC_SLICE, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_NV12_4L4,
        V4L2_PIX_FMT_NV15, V4L2_PIX_FMT_P010, V4L2_PIX_FMT_VP9_FRAME, V4L2_PIX_FMT_YUV420,
    };

    #[test]
    fn rejected_control_means_no_ten_bit() {
        for e in [Errno::EINVAL, Errno::ERANGE] {
            let d = decide(Err(e), Ok(&[V4L2_PIX_FMT_P010]));
            assert_eq!(d, TenBit::ControlRejected(e));
            assert!(!d.capable());
        }
        // Any other failure: no 10-bit either.
        assert!(matches!(decide(Err(Errno::EBUSY), Ok(&[V4L2_PIX_FMT_P010])), TenBit::ProbeFailed(_)));
        assert!(matches!(decide(Ok(()), Err(Errno::ENOTTY)), TenBit::ProbeFailed(_)));
    }

    #[test]
    fn only_linear_p010_counts() {
        // visl: NV12 and YU12 only.
        let visl = [V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUV420];
        assert_eq!(decide(Ok(()), Ok(&visl)), TenBit::NoP010(visl.to_vec()));
        // hantro G2 with its post-processor: P010 listed after a 10-bit SPS.
        assert!(decide(Ok(()), Ok(&[V4L2_PIX_FMT_P010])).capable());
        assert!(decide(Ok(()), Ok(&[V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_P010])).capable());
        // rkvdec: NV15 (packed) only; tiled 10-bit ("T010" P010_4L4): not P010.
        assert!(!decide(Ok(()), Ok(&[V4L2_PIX_FMT_NV15])).capable());
        let p010_4l4 = crate::v4l2::fourcc(b"T010");
        assert!(!decide(Ok(()), Ok(&[V4L2_PIX_FMT_NV12_4L4, p010_4l4])).capable());
        assert!(!decide(Ok(()), Ok(&[])).capable());
    }

    #[test]
    fn trial_controls_are_ten_bit_and_sized() {
        let Some(TrialControl::Hevc(sps)) = TrialControl::new(V4L2_PIX_FMT_HEVC_SLICE, 1920, 1080) else { panic!("HEVC trial control") };
        assert_eq!((sps.bit_depth_luma_minus8, sps.bit_depth_chroma_minus8), (2, 2));
        assert_eq!((sps.pic_width_in_luma_samples, sps.pic_height_in_luma_samples), (1920, 1080));
        assert_eq!(sps.chroma_format_idc, 1);
        let Some(TrialControl::Vp9(f)) = TrialControl::new(V4L2_PIX_FMT_VP9_FRAME, 1280, 720) else { panic!("VP9 trial control") };
        assert_eq!((f.profile, f.bit_depth), (2, 10));
        assert_eq!((f.frame_width_minus_1, f.frame_height_minus_1), (1279, 719));
        // Profile 2 is 4:2:0 only: the kernel wants both subsampling flags.
        let sub = b::V4L2_VP9_FRAME_FLAG_X_SUBSAMPLING | b::V4L2_VP9_FRAME_FLAG_Y_SUBSAMPLING;
        assert_eq!(f.flags & sub, sub);
        let Some(TrialControl::Av1(s)) = TrialControl::new(V4L2_PIX_FMT_AV1_FRAME, 0, 100_000) else { panic!("AV1 trial control") };
        assert_eq!((s.seq_profile, s.bit_depth), (0, 10));
        assert_eq!((s.max_frame_width_minus_1, s.max_frame_height_minus_1), (0, u16::MAX - 1));
        assert!(TrialControl::new(V4L2_PIX_FMT_H264_SLICE, 64, 64).is_none());
        // Control IDs and sizes line up with the payloads.
        for f in TEN_BIT_CODED_FORMATS {
            let t = TrialControl::new(f, 64, 64).unwrap();
            let spec = t.spec();
            let expected = match t {
                TrialControl::Hevc(_) => (b::V4L2_CID_STATELESS_HEVC_SPS, std::mem::size_of::<b::v4l2_ctrl_hevc_sps>()),
                TrialControl::Vp9(_) => (b::V4L2_CID_STATELESS_VP9_FRAME, std::mem::size_of::<b::v4l2_ctrl_vp9_frame>()),
                TrialControl::Av1(_) => (b::V4L2_CID_STATELESS_AV1_SEQUENCE, std::mem::size_of::<b::v4l2_ctrl_av1_sequence>()),
            };
            assert_eq!((spec.id, spec.data.len()), expected);
        }
    }

    #[test]
    fn probe_of_a_missing_node_is_no() {
        let d = probe(Path::new("/nonexistent/video9"), true, V4L2_PIX_FMT_HEVC_SLICE);
        assert!(matches!(d, TenBit::ProbeFailed(_)));
        assert!(!probe(Path::new("/dev/null"), false, V4L2_PIX_FMT_VP9_FRAME).capable());
    }
}
