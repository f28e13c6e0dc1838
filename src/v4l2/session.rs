//! One decoder session per VA context: the video and media fds, the OUTPUT
//! (bitstream) queue with its ring of permanent requests, the CAPTURE queue
//! and all mmaps. Every ioctl goes through v4l2r's safe wrappers (or the
//! request module) and is counted; every wait is bounded.
//!
//! OUTPUT ring: slot `i` is OUTPUT buffer `i` paired for the whole session with
//! request `i`. A slot is `Free` (ours to fill), `InFlight` (queued with its
//! request) or `Done` (buffer dequeued, request not yet re-initialised).
//! Requests are re-initialised (`MEDIA_REQUEST_IOC_REINIT`), never closed and
//! re-allocated per frame.
//!
//! CAPTURE buffers are queued *after* their frame's request is queued: the m2m
//! framework hands CAPTURE buffers to jobs in queue order, so a CAPTURE buffer
//! must never be queued for a frame that did not reach the device.

use std::fs::File;
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::PollFlags;
use v4l2r::bindings;
use v4l2r::ioctl::{
    BufferCapabilities, ExpbufFlags, IoctlConvertError, MemoryConsistency, PlaneMapping, QueryBuffer, RequestBuffers, UncheckedV4l2Buffer,
};
use v4l2r::memory::MemoryType;
use v4l2r::{Format, PlaneLayout, QueueType};

use super::controls::{self, ControlSpec, CtrlScratch, Which};
use super::error::{ioctl_err, ioctl_err_quiet, Op, V4l2Error};
use super::fourcc::fourcc_to_string;
use super::frame::Frame;
use super::request::{poll_fd, Request};
use super::time::{ns_to_timeval, timeval_to_ns};

/// Most planes a CAPTURE format may have here.
pub const MAX_PLANES: usize = 3;
/// Upper bound on ENUM_FMT iterations.
const MAX_ENUM: u32 = 64;
/// Upper bound on buffers per queue (VIDEO_MAX_FRAME is 64; newer kernels allow more).
const MAX_BUFFERS: u32 = 256;
/// How long a completed request may wait for its CAPTURE buffer to become
/// dequeueable (the m2m core marks it done right after the OUTPUT buffer).
const CAPTURE_GRACE: Duration = Duration::from_millis(100);

/// The negotiated CAPTURE format (G_FMT after S_FMT; never cached across sessions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureFormat {
    pub fourcc: u32,
    pub width: u32,
    pub height: u32,
    pub bytesperline: [u32; MAX_PLANES],
    pub sizeimage: [u32; MAX_PLANES],
    /// Memory planes (buffers per frame): 1 for NV12, 2 for NV12M.
    pub num_planes: usize,
}

impl CaptureFormat {
    fn from_format(f: &Format) -> Result<Self, V4l2Error> {
        let n = f.plane_fmt.len();
        if n == 0 || n > MAX_PLANES {
            return Err(V4l2Error::Invalid(format!("CAPTURE format with {n} planes")));
        }
        let mut c = CaptureFormat {
            fourcc: u32::from(f.pixelformat),
            width: f.width,
            height: f.height,
            bytesperline: [0; MAX_PLANES],
            sizeimage: [0; MAX_PLANES],
            num_planes: n,
        };
        for (i, p) in f.plane_fmt.iter().enumerate() {
            c.bytesperline[i] = p.bytesperline;
            c.sizeimage[i] = p.sizeimage;
        }
        Ok(c)
    }
}

/// One CAPTURE buffer handed back by the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DequeuedCapture {
    pub index: u32,
    /// V4L2_BUF_FLAG_ERROR was set: the picture is corrupt or missing.
    pub error: bool,
    /// The timestamp of the OUTPUT buffer that produced it (ns).
    pub timestamp_ns: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    Free,
    InFlight,
    Done,
}

struct OutputSlot {
    mapping: Option<PlaneMapping>,
    state: SlotState,
    /// CAPTURE buffer this request should release (None while the CAPTURE is held).
    expect_capture: Option<u32>,
}

/// Where a session's CAPTURE memory comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureMemory {
    /// The queue's own buffers (`V4L2_MEMORY_MMAP`), exported with VIDIOC_EXPBUF.
    Mmap,
    /// [`Frame`]s (dma-bufs) queued with `V4L2_MEMORY_DMABUF`, one per index.
    DmaBuf,
}

struct CaptureBuffer {
    /// MMAP: the mapped planes.
    planes: Vec<PlaneMapping>,
    /// DMABUF: the frame always queued at this index.
    frame: Option<Frame>,
    /// MMAP: the one dma-buf exported for this buffer (on first export).
    export: Option<OwnedFd>,
    /// MMAP: the dma-bufs of planes 1.. of a multi-buffer format (MM21),
    /// exported with plane 0 by [`DecoderSession::capture_dmabufs`].
    more_exports: Vec<OwnedFd>,
    /// Handed out to a consumer at least once.
    exported: bool,
    /// Length of each memory plane, as the first VIDIOC_QUERYBUF of an export
    /// learned it (empty until then, and again once the memory is given back).
    lengths: Vec<u32>,
    /// Queued in the kernel (between QBUF and DQBUF).
    queued: bool,
    /// DMABUF: given back with VIDIOC_REMOVE_BUFS; the index is a hole until
    /// [`DecoderSession::restore_capture_frame`] fills it.
    removed: bool,
}

impl CaptureBuffer {
    fn mapped(planes: Vec<PlaneMapping>) -> Self {
        CaptureBuffer {
            planes,
            frame: None,
            export: None,
            more_exports: Vec::new(),
            exported: false,
            lengths: Vec::new(),
            queued: false,
            removed: false,
        }
    }

    /// The buffer's bytes (memory plane `plane`: a frame has one per dma-buf).
    fn bytes(&self, plane: usize) -> Option<&[u8]> {
        match &self.frame {
            Some(f) => f.plane_bytes(plane),
            None => self.planes.get(plane).map(|m| &m[..]),
        }
    }

    fn bytes_mut(&mut self, plane: usize) -> Option<&mut [u8]> {
        match &mut self.frame {
            Some(f) => f.plane_bytes_mut(plane),
            None => self.planes.get_mut(plane).map(|m| &mut m[..]),
        }
    }
}

/// See the module documentation.
pub struct DecoderSession {
    video_path: PathBuf,
    video: File,
    media: Option<File>,
    out_q: QueueType,
    cap_q: QueueType,
    coded_fourcc: Option<u32>,
    output_size: usize,
    outputs: Vec<OutputSlot>,
    /// Permanent requests, `requests[i]` paired with OUTPUT buffer `i`.
    requests: Vec<Request>,
    output_allocated: bool,
    output_caps: Option<BufferCapabilities>,
    capture_fmt: Option<CaptureFormat>,
    captures: Vec<CaptureBuffer>,
    /// DMABUF: indices `0..attached` have their frame.
    attached: usize,
    capture_allocated: bool,
    capture_memory: CaptureMemory,
    /// The CAPTURE queue takes VIDIOC_REMOVE_BUFS (from REQBUFS's capabilities).
    capture_remove_bufs: bool,
    out_streaming: bool,
    cap_streaming: bool,
    next_hint: usize,
    ioctls: AtomicU64,
    scratch: CtrlScratch,
}

fn convert_errno<IE: Into<Errno> + std::fmt::Debug, CE: std::fmt::Debug>(e: IoctlConvertError<IE, CE>) -> Errno {
    match e {
        IoctlConvertError::IoctlError(e) => e.into(),
        IoctlConvertError::ConversionError(_) => Errno::EINVAL,
    }
}

fn id_str(id: Option<u32>) -> String {
    id.map_or_else(|| "?".to_string(), |id| format!("{id:#x}"))
}

/// `now + timeout`, saturating far in the future instead of overflowing.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout).or_else(|| now.checked_add(Duration::from_secs(86_400))).unwrap_or(now)
}

fn queue_name(q: QueueType) -> &'static str {
    match q {
        QueueType::VideoOutput | QueueType::VideoOutputMplane => "OUTPUT",
        QueueType::VideoCapture | QueueType::VideoCaptureMplane => "CAPTURE",
        _ => "?",
    }
}

impl DecoderSession {
    /// Open the video device at `video_path` (O_RDWR|O_NONBLOCK|O_CLOEXEC) and the
    /// media device at `media_path` (`None`: no requests, so no decoding), with
    /// multi-planar (`multiplanar`) or single-planar queues.
    pub fn open(video_path: &Path, media_path: Option<&Path>, multiplanar: bool) -> Result<Self, V4l2Error> {
        let video = super::open_video(video_path)?;
        let media = match media_path {
            Some(p) => Some(super::open_media(p)?),
            None => {
                log::warn!("{}: no media device found: requests (and so decoding) are unavailable", video_path.display());
                None
            }
        };
        let (out_q, cap_q) = if multiplanar {
            (QueueType::VideoOutputMplane, QueueType::VideoCaptureMplane)
        } else {
            (QueueType::VideoOutput, QueueType::VideoCapture)
        };
        log::debug!(
            "session: opened {} (media {:?}, {})",
            video_path.display(),
            media_path,
            if multiplanar { "multi-planar" } else { "single-planar" }
        );
        Ok(DecoderSession {
            video_path: video_path.to_path_buf(),
            video,
            media,
            out_q,
            cap_q,
            coded_fourcc: None,
            output_size: 0,
            outputs: Vec::new(),
            requests: Vec::new(),
            output_allocated: false,
            output_caps: None,
            capture_fmt: None,
            captures: Vec::new(),
            attached: 0,
            capture_allocated: false,
            capture_remove_bufs: false,
            capture_memory: CaptureMemory::Mmap,
            out_streaming: false,
            cap_streaming: false,
            next_hint: 0,
            ioctls: AtomicU64::new(0),
            scratch: CtrlScratch::default(),
        })
    }

    fn count(&self) {
        self.ioctls.fetch_add(1, Ordering::Relaxed);
    }

    fn ctx(&self, what: impl std::fmt::Display) -> String {
        format!("{}: {}", self.video_path.display(), what)
    }

    /// Total ioctls issued by this session.
    pub fn ioctl_count(&self) -> u64 {
        self.ioctls.load(Ordering::Relaxed)
    }

    pub fn video_path(&self) -> &Path {
        &self.video_path
    }

    pub fn is_multiplanar(&self) -> bool {
        self.out_q == QueueType::VideoOutputMplane
    }

    // ---------------------------------------------------------------- controls

    /// Set compound controls on the device's current values (no request): e.g.
    /// the SPS before negotiating CAPTURE, as hantro needs.
    pub fn set_controls(&mut self, ctrls: &[ControlSpec<'_>]) -> Result<(), V4l2Error> {
        if ctrls.is_empty() {
            return Ok(());
        }
        self.count();
        controls::s_ext_ctrls(&self.video, Which::Current, ctrls, &mut self.scratch)
            .map_err(|f| ioctl_err(Op::SExtCtrls, f.errno, self.ctx(format_args!("current values, control {}", id_str(f.failed_id)))))
    }

    /// Set plain (menu / integer) controls on current values: e.g.
    /// V4L2_CID_STATELESS_H264_DECODE_MODE and START_CODE.
    pub fn set_control_values(&mut self, values: &[(u32, i32)]) -> Result<(), V4l2Error> {
        if values.is_empty() {
            return Ok(());
        }
        self.count();
        controls::s_ext_ctrl_values(&self.video, Which::Current, values)
            .map_err(|f| ioctl_err(Op::SExtCtrls, f.errno, self.ctx(format_args!("values {values:?}, control {}", id_str(f.failed_id)))))
    }

    /// Current value of a plain (menu / integer) control (VIDIOC_G_CTRL).
    pub fn get_control(&self, id: u32) -> Result<i32, V4l2Error> {
        self.count();
        v4l2r::ioctl::g_ctrl(&self.video, id)
            .map_err(|e| ioctl_err_quiet(Op::GExtCtrls, Errno::from(e), self.ctx(format_args!("control {id:#x}"))))
    }

    /// Supported menu items of a menu control (QUERY_EXT_CTRL + QUERYMENU).
    pub fn menu_values(&self, ctrl_id: u32) -> Result<Vec<u32>, V4l2Error> {
        self.count();
        let r = controls::menu_values(&self.video, ctrl_id);
        if let Ok(v) = &r {
            // One QUERYMENU per item of the range (approximately; EINVAL gaps included).
            self.ioctls.fetch_add(v.len() as u64, Ordering::Relaxed);
        }
        r.map_err(|(is_query, errno)| {
            let op = if is_query { Op::QueryExtCtrl } else { Op::QueryMenu };
            ioctl_err_quiet(op, errno, self.ctx(format_args!("menu control {ctrl_id:#x}")))
        })
    }

    /// VIDIOC_QUERY_EXT_CTRL for one control.
    pub fn query_control(&self, ctrl_id: u32) -> Result<controls::CtrlInfo, V4l2Error> {
        self.count();
        controls::query_ext_ctrl(&self.video, ctrl_id)
            .map_err(|e| ioctl_err_quiet(Op::QueryExtCtrl, e, self.ctx(format_args!("control {ctrl_id:#x}"))))
    }

    // ---------------------------------------------------------------- formats

    /// S_FMT on OUTPUT: the coded format, coded size and bitstream buffer size.
    /// Resets the CAPTURE format (the kernel does too).
    pub fn set_output_format(&mut self, coded_fourcc: u32, width: u32, height: u32, sizeimage: u32) -> Result<(), V4l2Error> {
        if self.output_allocated {
            return Err(V4l2Error::State("OUTPUT format change with buffers allocated".into()));
        }
        let fmt = Format { width, height, pixelformat: coded_fourcc.into(), plane_fmt: vec![PlaneLayout { sizeimage, bytesperline: 0 }] };
        self.count();
        let got: Format = v4l2r::ioctl::s_fmt(&mut self.video, (self.out_q, &fmt)).map_err(|e| {
            ioctl_err(
                Op::SFmt,
                Errno::from(e),
                format!("{}: OUTPUT {} {width}x{height} sizeimage {sizeimage}", self.video_path.display(), fourcc_to_string(coded_fourcc)),
            )
        })?;
        self.capture_fmt = None;
        if u32::from(got.pixelformat) != coded_fourcc {
            log::warn!(
                "{}: OUTPUT format {} refused (device chose {})",
                self.video_path.display(),
                fourcc_to_string(coded_fourcc),
                fourcc_to_string(got.pixelformat.into())
            );
            return Err(V4l2Error::Unsupported(format!("coded format {}", fourcc_to_string(coded_fourcc))));
        }
        self.coded_fourcc = Some(coded_fourcc);
        self.output_size = got.plane_fmt.first().map(|p| p.sizeimage as usize).unwrap_or(sizeimage as usize);
        log::debug!(
            "{}: OUTPUT {} {}x{} sizeimage {}",
            self.video_path.display(),
            fourcc_to_string(coded_fourcc),
            got.width,
            got.height,
            self.output_size
        );
        Ok(())
    }

    /// ENUM_FMT on CAPTURE (meaningful after the OUTPUT format and SPS are set).
    pub fn capture_formats(&self) -> Result<Vec<u32>, V4l2Error> {
        enum_formats(&self.video, self.cap_q, &self.ioctls).map_err(|e| ioctl_err(Op::EnumFmt, e, self.ctx("CAPTURE")))
    }

    /// S_FMT then G_FMT on CAPTURE. Fails when the device substitutes another fourcc.
    pub fn set_capture_format(&mut self, fourcc: u32, width: u32, height: u32) -> Result<CaptureFormat, V4l2Error> {
        if self.capture_allocated {
            return Err(V4l2Error::State("CAPTURE format change with buffers allocated".into()));
        }
        self.capture_fmt = None;
        let fmt = Format { width, height, pixelformat: fourcc.into(), plane_fmt: vec![] };
        self.count();
        let _: Format = v4l2r::ioctl::s_fmt(&mut self.video, (self.cap_q, &fmt)).map_err(|e| {
            ioctl_err(
                Op::SFmt,
                Errno::from(e),
                format!("{}: CAPTURE {} {width}x{height}", self.video_path.display(), fourcc_to_string(fourcc)),
            )
        })?;
        self.count();
        let got: Format =
            v4l2r::ioctl::g_fmt(&self.video, self.cap_q).map_err(|e| ioctl_err(Op::GFmt, Errno::from(e), self.ctx("CAPTURE")))?;
        let cf = CaptureFormat::from_format(&got)?;
        if cf.fourcc != fourcc {
            log::warn!(
                "{}: CAPTURE format {} refused (device chose {})",
                self.video_path.display(),
                fourcc_to_string(fourcc),
                fourcc_to_string(cf.fourcc)
            );
            return Err(V4l2Error::Unsupported(format!("CAPTURE format {}", fourcc_to_string(fourcc))));
        }
        log::debug!(
            "{}: CAPTURE {} {}x{} planes {} pitch {:?} size {:?}",
            self.video_path.display(),
            fourcc_to_string(cf.fourcc),
            cf.width,
            cf.height,
            cf.num_planes,
            &cf.bytesperline[..cf.num_planes],
            &cf.sizeimage[..cf.num_planes]
        );
        self.capture_fmt = Some(cf.clone());
        Ok(cf)
    }

    pub fn capture_format(&self) -> Option<&CaptureFormat> {
        self.capture_fmt.as_ref()
    }

    // ---------------------------------------------------------------- buffers

    /// Learn the OUTPUT queue's capabilities without allocating (REQBUFS with
    /// count 0), so that a context can be set up before its first picture and
    /// allocate its OUTPUT buffers only then. Fails when the queue takes no requests.
    pub fn query_output_caps(&mut self) -> Result<BufferCapabilities, V4l2Error> {
        if self.output_allocated {
            return Err(V4l2Error::State("OUTPUT buffers already allocated".into()));
        }
        let rb = self.reqbufs(self.out_q, 0)?;
        self.output_caps = Some(rb.capabilities);
        if !rb.capabilities.contains(BufferCapabilities::SUPPORTS_REQUESTS) {
            return Err(V4l2Error::Unsupported(format!("{}: OUTPUT queue without requests", self.video_path.display())));
        }
        Ok(rb.capabilities)
    }

    /// Whether the OUTPUT buffers exist (see [`Self::alloc_output`]).
    pub fn output_allocated(&self) -> bool {
        self.output_allocated
    }

    /// REQBUFS (MMAP) on OUTPUT, mmap each buffer, and pair each with a request
    /// allocated once for the session. Returns the buffer count.
    pub fn alloc_output(&mut self, count: u32) -> Result<u32, V4l2Error> {
        if self.output_allocated {
            return Err(V4l2Error::State("OUTPUT buffers already allocated".into()));
        }
        if self.coded_fourcc.is_none() {
            return Err(V4l2Error::State("OUTPUT format not set".into()));
        }
        if self.media.is_none() {
            return Err(V4l2Error::Unsupported(format!("{}: no media device for requests", self.video_path.display())));
        }
        let count = count.clamp(1, MAX_BUFFERS);
        let rb = self.reqbufs(self.out_q, count)?;
        self.output_allocated = true;
        self.output_caps = Some(rb.capabilities);
        if !rb.capabilities.contains(BufferCapabilities::SUPPORTS_REQUESTS) {
            self.free_output();
            return Err(V4l2Error::Unsupported(format!("{}: OUTPUT queue without requests", self.video_path.display())));
        }
        if rb.count == 0 {
            self.free_output();
            return Err(V4l2Error::Invalid("REQBUFS gave 0 OUTPUT buffers".into()));
        }
        if let Err(e) = self.map_outputs(0..rb.count) {
            self.free_output();
            return Err(e);
        }
        if let Err(e) = self.ensure_requests(rb.count as usize) {
            self.free_output();
            return Err(e);
        }
        log::debug!(
            "{}: {} OUTPUT buffers of {} bytes, {} requests",
            self.video_path.display(),
            rb.count,
            self.output_size,
            self.requests.len()
        );
        Ok(rb.count)
    }

    /// REQBUFS (MMAP) on CAPTURE and mmap every plane. Returns the buffer count.
    /// `count` 0 sets the queue up for MMAP without memory (REQBUFS 0); its
    /// buffers then come with [`grow_capture`](Self::grow_capture) (CREATE_BUFS).
    pub fn alloc_capture(&mut self, count: u32) -> Result<u32, V4l2Error> {
        self.check_capture_unallocated()?;
        let count = count.min(MAX_BUFFERS);
        let rb = self.reqbufs_mem(self.cap_q, MemoryType::Mmap, count)?;
        self.capture_allocated = true;
        self.capture_memory = CaptureMemory::Mmap;
        if count > 0 && rb.count == 0 {
            self.free_capture();
            return Err(V4l2Error::Invalid("REQBUFS gave 0 CAPTURE buffers".into()));
        }
        if let Err(e) = self.map_captures(0..rb.count) {
            self.free_capture();
            return Err(e);
        }
        log::debug!("{}: {} CAPTURE buffers (MMAP)", self.video_path.display(), rb.count);
        Ok(rb.count)
    }

    /// REQBUFS (DMABUF) on CAPTURE for `indices` buffers (bookkeeping only:
    /// no memory) and attach `frames` to the first of them; later frames go to
    /// the next indices ([`add_capture_frames`](Self::add_capture_frames)).
    /// Returns the number of frames attached.
    pub fn alloc_capture_frames(&mut self, frames: Vec<Frame>, indices: u32) -> Result<u32, V4l2Error> {
        self.check_capture_unallocated()?;
        let count = indices.max(frames.len() as u32).clamp(1, MAX_BUFFERS);
        let rb = self.reqbufs_raw(self.cap_q, MemoryType::DmaBuf, count)?;
        self.capture_remove_bufs = super::remove_bufs::supports_remove_bufs(rb.capabilities);
        self.capture_allocated = true;
        self.capture_memory = CaptureMemory::DmaBuf;
        if (rb.count as usize) < frames.len() {
            log::warn!("{}: REQBUFS (DMABUF) gave {} CAPTURE buffers for {} frames", self.video_path.display(), rb.count, frames.len());
            self.free_capture();
            return Err(V4l2Error::Invalid("fewer CAPTURE buffers than frames".into()));
        }
        self.captures.extend((0..rb.count).map(|_| CaptureBuffer::mapped(Vec::new())));
        let n = frames.len() as u32;
        for (i, f) in frames.into_iter().enumerate() {
            self.captures[i].frame = Some(f);
        }
        self.attached = n as usize;
        log::debug!("{}: {} CAPTURE buffers (DMABUF), {n} frames", self.video_path.display(), rb.count);
        Ok(n)
    }

    /// Where this session's CAPTURE memory comes from.
    pub fn capture_memory(&self) -> CaptureMemory {
        self.capture_memory
    }

    /// Whether the CAPTURE queue takes dma-bufs (REQBUFS DMABUF 0 reports the
    /// queue's capabilities without allocating; checked, never assumed).
    pub fn capture_supports_dmabuf(&self) -> bool {
        if self.capture_allocated {
            return self.capture_memory == CaptureMemory::DmaBuf;
        }
        match self.reqbufs_mem(self.cap_q, MemoryType::DmaBuf, 0) {
            Ok(rb) => rb.capabilities.contains(BufferCapabilities::SUPPORTS_DMABUF),
            Err(_) => false,
        }
    }

    fn check_capture_unallocated(&self) -> Result<(), V4l2Error> {
        if self.capture_allocated {
            return Err(V4l2Error::State("CAPTURE buffers already allocated".into()));
        }
        match &self.capture_fmt {
            None => Err(V4l2Error::State("CAPTURE format not set".into())),
            Some(_) => Ok(()),
        }
    }

    /// Allocate `count` frames from this handle's CAPTURE queue with the current
    /// format: REQBUFS (MMAP), QUERYBUF and EXPBUF of every memory plane each,
    /// REQBUFS 0. The queue is left without buffers; the memory lives on in the
    /// returned dma-bufs (one per memory plane: two for MM21).
    pub fn allocate_frames(&mut self, count: u32) -> Result<Vec<Frame>, V4l2Error> {
        self.check_capture_unallocated()?;
        let planes = self.capture_fmt.as_ref().map(|f| f.num_planes).unwrap_or(1);
        if planes == 0 || planes > super::frame::MAX_FRAME_PLANES {
            return Err(V4l2Error::Unsupported(format!("frames of a CAPTURE format with {planes} memory planes")));
        }
        let count = count.clamp(1, MAX_BUFFERS);
        let rb = self.reqbufs_mem(self.cap_q, MemoryType::Mmap, count)?;
        let mut frames = Vec::with_capacity(rb.count as usize);
        let mut result = Ok(());
        for index in 0..rb.count {
            match self.export_for_frame(index, planes) {
                Ok(f) => frames.push(f),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        // Orphan the buffers: the kernel keeps their memory for the dma-bufs.
        self.reqbufs_mem(self.cap_q, MemoryType::Mmap, 0)?;
        result?;
        if frames.is_empty() {
            return Err(V4l2Error::Invalid("REQBUFS gave 0 CAPTURE buffers".into()));
        }
        Ok(frames)
    }

    /// QUERYBUF of MMAP CAPTURE buffer `index` and EXPBUF of each of its
    /// `planes` memory planes: the frame that outlives the buffer.
    fn export_for_frame(&self, index: u32, planes: usize) -> Result<Frame, V4l2Error> {
        let qb = self.query_capture_planes(index)?;
        if qb.planes.len() < planes {
            return Err(no_plane(index, qb.planes.len()));
        }
        let mut fds = Vec::with_capacity(planes);
        for (plane, p) in qb.planes.iter().take(planes).enumerate() {
            self.count();
            let fd =
                v4l2r::ioctl::expbuf::<OwnedFd>(&self.video, self.cap_q, index as usize, plane, ExpbufFlags::RDWR | ExpbufFlags::CLOEXEC)
                    .map_err(|e| {
                    ioctl_err(Op::ExpBuf, Errno::from(e), self.ctx(format_args!("CAPTURE {index} plane {plane} (frame allocation)")))
                })?;
            fds.push((fd, p.length as usize));
        }
        Frame::from_planes(fds).ok_or_else(|| V4l2Error::Invalid(format!("CAPTURE {index}: {planes} memory planes for a frame")))
    }

    /// Whether DMABUF CAPTURE buffers can be given back one by one while
    /// streaming (VIDIOC_REMOVE_BUFS, Linux >= 6.10, as the queue reported).
    pub fn can_remove_capture(&self) -> bool {
        self.capture_allocated && self.capture_memory == CaptureMemory::DmaBuf && self.capture_remove_bufs
    }

    /// Give DMABUF CAPTURE buffer `index` back (VIDIOC_REMOVE_BUFS) and drop
    /// its frame: the memory goes once no consumer holds an export of it.
    /// The buffer must not be queued.
    pub fn remove_capture_frame(&mut self, index: u32) -> Result<(), V4l2Error> {
        if !self.can_remove_capture() {
            return Err(V4l2Error::Unsupported("CAPTURE queue without VIDIOC_REMOVE_BUFS".into()));
        }
        match self.captures.get(index as usize) {
            Some(b) if b.queued => return Err(V4l2Error::State(format!("CAPTURE {index} is queued"))),
            Some(b) if b.removed || b.frame.is_none() => return Err(V4l2Error::State(format!("CAPTURE {index} holds no frame"))),
            Some(_) => {}
            None => return Err(V4l2Error::Invalid(format!("CAPTURE index {index} out of range"))),
        }
        self.count();
        super::remove_bufs::remove_bufs(self.video.as_fd(), self.cap_q as u32, index, 1)
            .map_err(|e| ioctl_err(Op::RemoveBufs, e, self.ctx(format_args!("CAPTURE {index}"))))?;
        let buf = &mut self.captures[index as usize];
        buf.frame = None;
        buf.removed = true;
        buf.exported = false;
        buf.lengths.clear();
        Ok(())
    }

    /// Fill the hole a [`remove_capture_frame`](Self::remove_capture_frame)
    /// left at `index` with `frame`: CREATE_BUFS (DMABUF) of one buffer, which
    /// the kernel places at the lowest free index; that must be `index`.
    pub fn restore_capture_frame(&mut self, index: u32, frame: Frame) -> Result<(), V4l2Error> {
        if !self.captures.get(index as usize).is_some_and(|b| b.removed) {
            return Err(V4l2Error::State(format!("CAPTURE {index} was not removed")));
        }
        if let Some(lower) = self.captures.iter().position(|b| b.removed).filter(|&i| i < index as usize) {
            return Err(V4l2Error::State(format!("CAPTURE {lower} is a lower hole than {index}")));
        }
        if self.create_capture_buffers_at(index, 1, MemoryType::DmaBuf)? != 1 {
            return Err(V4l2Error::Invalid(format!("CREATE_BUFS gave no buffer for hole {index}")));
        }
        let buf = &mut self.captures[index as usize];
        buf.frame = Some(frame);
        buf.removed = false;
        Ok(())
    }

    /// CREATE_BUFS on CAPTURE with the current format: `extra` more buffers.
    /// Returns the new indices.
    pub fn grow_capture(&mut self, extra: u32) -> Result<Range<u32>, V4l2Error> {
        if self.capture_memory != CaptureMemory::Mmap {
            return Err(V4l2Error::State("MMAP growth of a DMABUF CAPTURE queue".into()));
        }
        let range = self.create_capture_buffers(extra, MemoryType::Mmap)?;
        self.map_captures(range.clone())?;
        log::debug!("{}: CAPTURE grew by {} to {}", self.video_path.display(), range.len(), self.captures.len());
        Ok(range)
    }

    /// Attach `frames` to the next CAPTURE indices without one (CREATE_BUFS
    /// (DMABUF) when the indices run out). Returns their indices.
    pub fn add_capture_frames(&mut self, frames: Vec<Frame>) -> Result<Range<u32>, V4l2Error> {
        if self.capture_memory != CaptureMemory::DmaBuf {
            return Err(V4l2Error::State("frames for an MMAP CAPTURE queue".into()));
        }
        let need = (self.attached + frames.len()).saturating_sub(self.captures.len());
        if need > 0 {
            let range = self.create_capture_buffers(need as u32, MemoryType::DmaBuf)?;
            self.captures.extend(range.map(|_| CaptureBuffer::mapped(Vec::new())));
        }
        let start = self.attached;
        let mut n = 0;
        for f in frames {
            let Some(buf) = self.captures.get_mut(self.attached) else {
                log::warn!("{}: no CAPTURE index left for a frame", self.video_path.display());
                break;
            };
            buf.frame = Some(f);
            self.attached += 1;
            n += 1;
        }
        Ok(start as u32..(start + n) as u32)
    }

    fn create_capture_buffers(&mut self, extra: u32, memory: MemoryType) -> Result<Range<u32>, V4l2Error> {
        if !self.capture_allocated {
            return Err(V4l2Error::State("CAPTURE buffers not allocated".into()));
        }
        let extra = extra.min(MAX_BUFFERS.saturating_sub(self.captures.len() as u32));
        if extra == 0 {
            return Ok(self.captures.len() as u32..self.captures.len() as u32);
        }
        let first = self.captures.len() as u32;
        let count = self.create_capture_buffers_at(first, extra, memory)?;
        Ok(first..first.saturating_add(count))
    }

    /// G_FMT + CREATE_BUFS of `count` CAPTURE buffers with the current format,
    /// which the kernel must place at `index` (the end of the queue, or the
    /// lowest hole a REMOVE_BUFS left). Returns how many it created.
    fn create_capture_buffers_at(&mut self, index: u32, count: u32, memory: MemoryType) -> Result<u32, V4l2Error> {
        self.count();
        let fmt: bindings::v4l2_format =
            v4l2r::ioctl::g_fmt(&self.video, self.cap_q).map_err(|e| ioctl_err(Op::GFmt, Errno::from(e), self.ctx("CAPTURE (create)")))?;
        self.count();
        let cb: bindings::v4l2_create_buffers = v4l2r::ioctl::create_bufs(&self.video, count, memory, fmt)
            .map_err(|e| ioctl_err(Op::CreateBufs, Errno::from(e), self.ctx(format_args!("CAPTURE {count} at {index}"))))?;
        if cb.index != index || cb.count > count {
            log::warn!("{}: CREATE_BUFS of {count} CAPTURE at {index} gave {} at {}", self.video_path.display(), cb.count, cb.index);
            return Err(V4l2Error::Invalid(format!("CREATE_BUFS gave {} buffers at {}, asked {count} at {index}", cb.count, cb.index)));
        }
        Ok(cb.count)
    }

    /// STREAMON on both queues (idempotent).
    pub fn stream_on(&mut self) -> Result<(), V4l2Error> {
        if !self.output_allocated || !self.capture_allocated {
            return Err(V4l2Error::State("stream on before both queues are allocated".into()));
        }
        if !self.out_streaming {
            self.count();
            v4l2r::ioctl::streamon(&self.video, self.out_q).map_err(|e| ioctl_err(Op::StreamOn, Errno::from(e), self.ctx("OUTPUT")))?;
            self.out_streaming = true;
        }
        if !self.cap_streaming {
            self.count();
            v4l2r::ioctl::streamon(&self.video, self.cap_q).map_err(|e| ioctl_err(Op::StreamOn, Errno::from(e), self.ctx("CAPTURE")))?;
            self.cap_streaming = true;
        }
        Ok(())
    }

    /// Release a CAPTURE buffer the device holds for a second field that will not
    /// come (`V4L2_DEC_CMD_FLUSH`, stateless decoders that support holding).
    pub fn flush_held_capture(&mut self) -> Result<(), V4l2Error> {
        self.count();
        let cmd = v4l2r::bindings::v4l2_decoder_cmd { cmd: v4l2r::bindings::V4L2_DEC_CMD_FLUSH, ..Default::default() };
        v4l2r::ioctl::decoder_cmd::<_, v4l2r::bindings::v4l2_decoder_cmd>(&self.video, cmd)
            .map(|_| ())
            .map_err(|e| ioctl_err(Op::DecoderCmd, convert_errno(e), self.ctx("FLUSH (release held CAPTURE buffer)")))
    }

    /// Whether the OUTPUT queue supports V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF
    /// (known after `query_output_caps` or `alloc_output`).
    pub fn supports_hold_capture(&self) -> bool {
        self.output_caps.is_some_and(|c| c.contains(BufferCapabilities::SUPPORTS_M2M_HOLD_CAPTURE_BUF))
    }

    pub fn output_count(&self) -> u32 {
        self.outputs.len() as u32
    }

    pub fn capture_count(&self) -> u32 {
        self.captures.len() as u32
    }

    /// Size of each OUTPUT (bitstream) buffer.
    pub fn output_buffer_size(&self) -> usize {
        self.outputs.iter().filter_map(|s| s.mapping.as_ref().map(|m| m.len())).min().unwrap_or(0)
    }

    /// Read-only view of a mapped CAPTURE plane (for vaGetImage copies).
    /// `None` while the buffer is queued in the kernel (the device may be writing it).
    pub fn capture_plane(&self, index: u32, plane: usize) -> Option<&[u8]> {
        let buf = self.captures.get(index as usize)?;
        if buf.queued {
            return None;
        }
        buf.bytes(plane)
    }

    /// Writable view of a mapped CAPTURE plane (vaPutImage / derived images).
    /// `None` while the buffer is queued in the kernel.
    pub fn capture_plane_mut(&mut self, index: u32, plane: usize) -> Option<&mut [u8]> {
        let buf = self.captures.get_mut(index as usize)?;
        if buf.queued {
            return None;
        }
        buf.bytes_mut(plane)
    }

    /// Read-only views of every memory plane of a CAPTURE buffer (one for a
    /// single-buffer format, two for MM21, MMAP or frame). `None` while queued.
    pub fn capture_planes(&self, index: u32) -> Option<Vec<&[u8]>> {
        let buf = self.captures.get(index as usize)?;
        if buf.queued {
            return None;
        }
        match &buf.frame {
            Some(f) => f.planes_bytes(),
            None => Some(buf.planes.iter().map(|m| &m[..]).collect()),
        }
    }

    /// Writable views of every memory plane of a CAPTURE buffer (tiled
    /// vaPutImage). `None` while queued.
    pub fn capture_planes_mut(&mut self, index: u32) -> Option<Vec<&mut [u8]>> {
        let buf = self.captures.get_mut(index as usize)?;
        if buf.queued {
            return None;
        }
        match &mut buf.frame {
            Some(f) => f.planes_bytes_mut(),
            None => Some(buf.planes.iter_mut().map(|m| &mut m[..]).collect()),
        }
    }

    /// Whether CAPTURE buffer `index` is queued in the kernel.
    pub fn capture_queued(&self, index: u32) -> bool {
        self.captures.get(index as usize).is_some_and(|b| b.queued)
    }

    /// The length of `plane` of CAPTURE buffer `index` in bytes (the dma-buf
    /// object size), from a VIDIOC_QUERYBUF the first time it is asked for a
    /// buffer (its first export) and remembered after that, so that exporting a
    /// buffer again costs no ioctl. That one QUERYBUF names the index in ioctl
    /// traces (strace does not decode VIDIOC_EXPBUF): the re-queue analyses
    /// attribute the dma-buf fd duplicated next to it, and later duplicates of
    /// that fd, to the index.
    pub fn capture_plane_length(&mut self, index: u32, plane: usize) -> Result<u32, V4l2Error> {
        let Some(buf) = self.captures.get(index as usize) else {
            return Err(V4l2Error::Invalid(format!("CAPTURE index {index} out of range")));
        };
        if buf.lengths.is_empty() {
            let qb = self.query_capture_planes(index)?;
            let buf = &mut self.captures[index as usize];
            // Only memory that stays: a DMABUF index without its frame reports nothing to keep.
            if buf.frame.is_some() || !buf.planes.is_empty() {
                buf.lengths = qb.planes.iter().map(|p| p.length).collect();
            } else {
                return qb.planes.get(plane).map(|p| p.length).ok_or_else(|| no_plane(index, plane));
            }
        }
        self.captures[index as usize].lengths.get(plane).copied().ok_or_else(|| no_plane(index, plane))
    }

    /// VIDIOC_QUERYBUF of CAPTURE buffer `index`.
    fn query_capture_planes(&self, index: u32) -> Result<QueryBuffer, V4l2Error> {
        self.count();
        v4l2r::ioctl::querybuf(&self.video, self.cap_q, index as usize)
            .map_err(|e| ioctl_err(Op::QueryBuf, convert_errno(e), self.ctx(format_args!("CAPTURE {index}"))))
    }

    /// The one dma-buf of CAPTURE buffer `index` (plane 0), for a consumer:
    /// its frame (DMABUF), or the buffer exported once with VIDIOC_EXPBUF
    /// (MMAP). Every export of a buffer hands out duplicates of this fd, so
    /// consumers' reader fences land on the dma-buf the driver polls.
    pub fn capture_dmabuf(&mut self, index: u32) -> Result<BorrowedFd<'_>, V4l2Error> {
        let Some(buf) = self.captures.get(index as usize) else {
            return Err(V4l2Error::State(format!("export of CAPTURE {index}: no such buffer")));
        };
        if buf.frame.is_none() && buf.export.is_none() {
            if buf.planes.len() != 1 {
                return Err(V4l2Error::Unsupported(format!("export of CAPTURE {index}: {} planes", buf.planes.len())));
            }
            self.count();
            let fd = v4l2r::ioctl::expbuf::<OwnedFd>(&self.video, self.cap_q, index as usize, 0, ExpbufFlags::RDWR | ExpbufFlags::CLOEXEC)
                .map_err(|e| ioctl_err(Op::ExpBuf, Errno::from(e), self.ctx(format_args!("CAPTURE {index}"))))?;
            self.captures[index as usize].export = Some(fd);
        }
        let buf = &mut self.captures[index as usize];
        buf.exported = true;
        match (&buf.frame, &buf.export) {
            (Some(f), _) => Ok(f.fd()),
            (None, Some(fd)) => Ok(fd.as_fd()),
            (None, None) => Err(V4l2Error::State(format!("CAPTURE {index}: export vanished"))),
        }
    }

    /// One dma-buf per memory plane of CAPTURE buffer `index` of a
    /// multi-buffer format (MM21: luma, chroma): its frame's (DMABUF), or each
    /// exported once with VIDIOC_EXPBUF (MMAP; plane 0 is the one
    /// [`Self::capture_dmabuf`] would give). Single-buffer formats: that one fd.
    pub fn capture_dmabufs(&mut self, index: u32) -> Result<Vec<BorrowedFd<'_>>, V4l2Error> {
        let Some(buf) = self.captures.get(index as usize) else {
            return Err(V4l2Error::State(format!("export of CAPTURE {index}: no such buffer")));
        };
        if buf.frame.is_some() {
            let buf = &mut self.captures[index as usize];
            buf.exported = true;
            return Ok(buf.frame.iter().flat_map(|f| f.fds()).collect());
        }
        let n = buf.planes.len();
        if n <= 1 {
            return self.capture_dmabuf(index).map(|fd| vec![fd]);
        }
        if buf.export.is_none() {
            let mut fds = Vec::with_capacity(n);
            for plane in 0..n {
                self.count();
                let fd = v4l2r::ioctl::expbuf::<OwnedFd>(
                    &self.video,
                    self.cap_q,
                    index as usize,
                    plane,
                    ExpbufFlags::RDWR | ExpbufFlags::CLOEXEC,
                )
                .map_err(|e| ioctl_err(Op::ExpBuf, Errno::from(e), self.ctx(format_args!("CAPTURE {index} plane {plane}"))))?;
                fds.push(fd);
            }
            let buf = &mut self.captures[index as usize];
            let mut fds = fds.into_iter();
            buf.export = fds.next();
            buf.more_exports = fds.collect();
        }
        let buf = &mut self.captures[index as usize];
        buf.exported = true;
        Ok(buf.export.iter().chain(buf.more_exports.iter()).map(|fd| fd.as_fd()).collect())
    }

    /// The dma-buf of memory plane `plane` of CAPTURE buffer `index` if the
    /// buffer was ever handed to a consumer (the ones to poll for reader fences
    /// before the buffer is queued again; MM21 has two).
    pub fn exported_capture_dmabuf(&self, index: u32, plane: usize) -> Option<BorrowedFd<'_>> {
        let buf = self.captures.get(index as usize).filter(|b| b.exported)?;
        match (&buf.frame, &buf.export, plane) {
            (Some(f), _, p) => f.plane_fd(p),
            (None, Some(fd), 0) => Some(fd.as_fd()),
            (None, Some(_), p) => buf.more_exports.get(p - 1).map(|fd| fd.as_fd()),
            _ => None,
        }
    }

    /// Size of memory plane `plane` of CAPTURE buffer `index`: its frame's
    /// dma-buf (DMABUF) or the QUERYBUF length (MMAP).
    pub fn capture_buffer_size(&self, index: u32, plane: usize) -> Option<usize> {
        let buf = self.captures.get(index as usize)?;
        match &buf.frame {
            Some(f) => f.lens().get(plane).copied(),
            None => buf.planes.get(plane).map(|m| m.len()),
        }
    }

    // ---------------------------------------------------------------- OUTPUT ring

    /// Next free OUTPUT slot (re-initialising completed requests on the way);
    /// `None` when every slot is in flight: reap one first.
    pub fn next_output(&mut self) -> Option<u32> {
        let n = self.outputs.len();
        for k in 0..n {
            let i = (self.next_hint + k) % n;
            match self.outputs[i].state {
                SlotState::Free => {}
                SlotState::Done => {
                    if !self.reinit_slot(i) {
                        continue;
                    }
                }
                SlotState::InFlight => continue,
            }
            if self.outputs[i].mapping.is_none() {
                continue;
            }
            self.next_hint = (i + 1) % n;
            return Some(i as u32);
        }
        None
    }

    /// The mapping of a free OUTPUT slot (`None` when in flight or unknown).
    pub fn output_buffer_mut(&mut self, out_index: u32) -> Option<&mut [u8]> {
        let slot = self.outputs.get_mut(out_index as usize)?;
        if slot.state == SlotState::InFlight {
            return None;
        }
        slot.mapping.as_mut().map(|m| &mut m[..])
    }

    /// Make every OUTPUT buffer at least `bytes` long. When they are smaller and
    /// nothing is in flight: STREAMOFF OUTPUT, REQBUFS 0, CREATE_BUFS with a
    /// bigger sizeimage (S_FMT + REQBUFS as fallback), STREAMON. Requests are kept.
    pub fn ensure_output_size(&mut self, bytes: usize) -> Result<(), V4l2Error> {
        if !self.output_allocated {
            return Err(V4l2Error::State("OUTPUT buffers not allocated".into()));
        }
        if bytes <= self.output_buffer_size() {
            return Ok(());
        }
        if bytes > u32::MAX as usize / 2 {
            return Err(V4l2Error::Invalid(format!("bitstream of {bytes} bytes")));
        }
        if self.outputs.iter().any(|s| s.state == SlotState::InFlight) {
            return Err(V4l2Error::State("cannot grow OUTPUT buffers while decodes are in flight".into()));
        }
        for i in 0..self.outputs.len() {
            if self.outputs[i].state == SlotState::Done && !self.reinit_slot(i) {
                return Err(V4l2Error::State("a request could not be re-initialised".into()));
            }
        }
        let count = self.outputs.len() as u32;
        let new_size = (bytes.next_power_of_two()).max(self.output_size) as u32;
        log::info!(
            "{}: growing {} OUTPUT buffers from {} to {} bytes",
            self.video_path.display(),
            count,
            self.output_buffer_size(),
            new_size
        );
        let was_streaming = self.out_streaming;
        if self.out_streaming {
            self.count();
            v4l2r::ioctl::streamoff(&self.video, self.out_q)
                .map_err(|e| ioctl_err(Op::StreamOff, Errno::from(e), self.ctx("OUTPUT (grow)")))?;
            self.out_streaming = false;
        }
        self.outputs.clear();
        self.reqbufs(self.out_q, 0)?;
        self.output_allocated = false;

        self.count();
        let mut fmt: Format =
            v4l2r::ioctl::g_fmt(&self.video, self.out_q).map_err(|e| ioctl_err(Op::GFmt, Errno::from(e), self.ctx("OUTPUT (grow)")))?;
        match fmt.plane_fmt.first_mut() {
            Some(p) => p.sizeimage = new_size,
            None => fmt.plane_fmt.push(PlaneLayout { sizeimage: new_size, bytesperline: 0 }),
        }
        let v4l2_fmt =
            bindings::v4l2_format::try_from((self.out_q, &fmt)).map_err(|e| V4l2Error::Invalid(format!("OUTPUT format: {e:?}")))?;
        self.count();
        let got = match v4l2r::ioctl::create_bufs::<_, bindings::v4l2_create_buffers>(&self.video, count, MemoryType::Mmap, v4l2_fmt) {
            Ok(cb) if cb.count > 0 && cb.index == 0 => {
                self.output_allocated = true;
                cb.count
            }
            other => {
                let why = match other {
                    Ok(cb) => format!("CREATE_BUFS gave {} buffers at {}", cb.count, cb.index),
                    Err(e) => format!("CREATE_BUFS: {}", Errno::from(e)),
                };
                log::warn!("{}: OUTPUT grow via CREATE_BUFS failed ({why}); trying S_FMT", self.video_path.display());
                self.reqbufs(self.out_q, 0)?;
                self.count();
                let _: Format = v4l2r::ioctl::s_fmt(&mut self.video, (self.out_q, &fmt))
                    .map_err(|e| ioctl_err(Op::SFmt, Errno::from(e), self.ctx("OUTPUT (grow)")))?;
                let rb = self.reqbufs(self.out_q, count)?;
                self.output_allocated = true;
                rb.count
            }
        };
        self.output_size = new_size as usize;
        self.map_outputs(0..got)?;
        self.ensure_requests(got as usize)?;
        if was_streaming {
            self.count();
            v4l2r::ioctl::streamon(&self.video, self.out_q)
                .map_err(|e| ioctl_err(Op::StreamOn, Errno::from(e), self.ctx("OUTPUT (grow)")))?;
            self.out_streaming = true;
        }
        if self.output_buffer_size() < bytes {
            return Err(V4l2Error::Unsupported(format!("device limits OUTPUT buffers to {} bytes (< {bytes})", self.output_buffer_size())));
        }
        Ok(())
    }

    /// Queue one decode (see the module doc for the order):
    /// S_EXT_CTRLS into the slot's request, QBUF OUTPUT (bytesused, timestamp,
    /// request fd, optionally HOLD_CAPTURE_BUF), MEDIA_REQUEST_IOC_QUEUE, then
    /// QBUF CAPTURE `cap_index` unless `queue_capture` is false (later slices of
    /// a frame). On failure before the request is queued the request is
    /// re-initialised and the slot stays free.
    #[allow(clippy::too_many_arguments)]
    pub fn queue_decode(
        &mut self,
        out_index: u32,
        bytes: usize,
        timestamp_ns: u64,
        ctrls: &[ControlSpec<'_>],
        cap_index: u32,
        queue_capture: bool,
        hold_capture: bool,
    ) -> Result<(), V4l2Error> {
        let i = out_index as usize;
        if !self.out_streaming || !self.cap_streaming {
            return Err(V4l2Error::State("queue_decode before stream_on".into()));
        }
        let Some(slot) = self.outputs.get(i) else {
            return Err(V4l2Error::State(format!("no OUTPUT buffer {out_index}")));
        };
        if slot.state == SlotState::Done && !self.reinit_slot(i) {
            return Err(V4l2Error::State(format!("OUTPUT {out_index}: request not re-initialised")));
        }
        let slot = &self.outputs[i];
        if slot.state != SlotState::Free {
            return Err(V4l2Error::State(format!("OUTPUT {out_index} is in flight")));
        }
        let cap = slot.mapping.as_ref().map(|m| m.len()).unwrap_or(0);
        if bytes == 0 || bytes > cap {
            return Err(V4l2Error::Invalid(format!("{bytes} bytes for OUTPUT buffer {out_index} of {cap}")));
        }
        let cap_planes = self.capture_fmt.as_ref().map(|f| f.num_planes).unwrap_or(1).max(1);
        if queue_capture {
            match self.captures.get(cap_index as usize) {
                None => return Err(V4l2Error::State(format!("no CAPTURE buffer {cap_index}"))),
                Some(b) if b.frame.is_none() && self.capture_memory == CaptureMemory::DmaBuf => {
                    return Err(V4l2Error::State(format!("CAPTURE {cap_index} has no frame")))
                }
                Some(b) if b.frame.as_ref().is_some_and(|f| f.num_planes() != cap_planes) => {
                    return Err(V4l2Error::State(format!("CAPTURE {cap_index}: a frame of other than {cap_planes} memory planes")))
                }
                Some(b) if b.queued => return Err(V4l2Error::State(format!("CAPTURE {cap_index} already queued"))),
                Some(_) => {}
            }
        }
        let Some(req) = self.requests.get(i) else {
            return Err(V4l2Error::State(format!("no request for OUTPUT {out_index}")));
        };
        let req_fd = req.raw_fd();

        // 1. Controls into the request.
        if !ctrls.is_empty() {
            self.count();
            if let Err(f) = controls::s_ext_ctrls(&self.video, Which::Request(req_fd), ctrls, &mut self.scratch) {
                let e = ioctl_err(
                    Op::SExtCtrls,
                    f.errno,
                    self.ctx(format_args!("request of OUTPUT {out_index}, control {}", id_str(f.failed_id))),
                );
                self.reinit_after_error(i);
                return Err(e);
            }
        }

        // 2. The bitstream buffer into the request.
        let (sec, usec) = ns_to_timeval(timestamp_ns);
        let mut qb = qbuf_buffer(self.out_q, out_index, MemoryType::Mmap, 1);
        qb.0.flags = bindings::V4L2_BUF_FLAG_REQUEST_FD;
        if hold_capture {
            qb.0.flags |= bindings::V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF;
        }
        qb.0.timestamp.tv_sec = sec;
        qb.0.timestamp.tv_usec = usec;
        qb.0.__bindgen_anon_1.request_fd = req_fd;
        set_plane(&mut qb, 0, bytes as u32, 0, None);
        self.count();
        if let Err(e) = v4l2r::ioctl::qbuf::<_, ()>(&self.video, qb) {
            let e = ioctl_err(Op::QBuf, convert_errno(e), self.ctx(format_args!("OUTPUT {out_index} ({bytes} bytes, ts {timestamp_ns})")));
            self.reinit_after_error(i);
            return Err(e);
        }

        // 3. The request.
        self.count();
        if let Err(errno) = self.requests[i].queue() {
            let e = ioctl_err(Op::RequestQueue, errno, self.ctx(format_args!("request of OUTPUT {out_index}")));
            self.reinit_after_error(i);
            return Err(e);
        }
        self.outputs[i].state = SlotState::InFlight;
        self.outputs[i].expect_capture = if hold_capture { None } else { Some(cap_index) };

        // 4. The CAPTURE buffer (after the request: see the module doc).
        if queue_capture {
            self.qbuf_capture(cap_index, cap_planes).map_err(|errno| {
                // The request is in flight and will wait for a CAPTURE buffer.
                ioctl_err(Op::QBuf, errno, self.ctx(format_args!("CAPTURE {cap_index} (request of OUTPUT {out_index} already queued)")))
            })?;
        }
        Ok(())
    }

    /// QBUF CAPTURE `cap_index` alone: for a request already queued whose
    /// CAPTURE QBUF failed in [`Self::queue_decode`] (it waits for one).
    pub fn queue_capture(&mut self, cap_index: u32) -> Result<(), V4l2Error> {
        let cap_planes = self.capture_fmt.as_ref().map(|f| f.num_planes).unwrap_or(1).max(1);
        match self.captures.get(cap_index as usize) {
            None => return Err(V4l2Error::State(format!("no CAPTURE buffer {cap_index}"))),
            Some(b) if b.frame.is_none() && self.capture_memory == CaptureMemory::DmaBuf => {
                return Err(V4l2Error::State(format!("CAPTURE {cap_index} has no frame")))
            }
            Some(b) if b.frame.as_ref().is_some_and(|f| f.num_planes() != cap_planes) => {
                return Err(V4l2Error::State(format!("CAPTURE {cap_index}: a frame of other than {cap_planes} memory planes")))
            }
            Some(b) if b.queued => return Err(V4l2Error::State(format!("CAPTURE {cap_index} already queued"))),
            Some(_) => {}
        }
        self.qbuf_capture(cap_index, cap_planes).map_err(|errno| ioctl_err(Op::QBuf, errno, self.ctx(format_args!("CAPTURE {cap_index}"))))
    }

    /// QBUF of CAPTURE `cap_index` (checked by the caller); marks it queued.
    fn qbuf_capture(&mut self, cap_index: u32, cap_planes: usize) -> Result<(), Errno> {
        self.count();
        let queued = match self.captures[cap_index as usize].frame.as_ref() {
            Some(frame) => {
                // DMABUF: always the same frame at this index (vb2 keeps
                // the attachment, nothing is re-mapped per frame), one
                // dma-buf per memory plane (checked against the format by the caller).
                let mut qb = qbuf_buffer(self.cap_q, cap_index, MemoryType::DmaBuf, frame.num_planes());
                for (plane, (fd, &len)) in frame.fds().zip(frame.lens()).enumerate() {
                    if !set_plane(&mut qb, plane, 0, u32::try_from(len).unwrap_or(u32::MAX), Some(fd.as_raw_fd())) {
                        // A multi-buffer frame on a single-planar queue (no such format exists there).
                        return Err(Errno::EINVAL);
                    }
                }
                v4l2r::ioctl::qbuf::<_, ()>(&self.video, qb)
            }
            None => v4l2r::ioctl::qbuf::<_, ()>(&self.video, qbuf_buffer(self.cap_q, cap_index, MemoryType::Mmap, cap_planes)),
        };
        queued.map_err(convert_errno)?;
        self.captures[cap_index as usize].queued = true;
        Ok(())
    }

    /// Wait up to `timeout` for the request of `out_index` to complete (POLLPRI),
    /// then dequeue finished OUTPUT buffers, re-initialise their requests and
    /// dequeue every finished CAPTURE buffer. An already completed slot returns
    /// whatever CAPTURE buffers are ready. `Timeout` leaves the decode in flight.
    /// Collects into a new vector; the decode flow uses [`Self::wait_decode_into`].
    pub fn wait_decode(&mut self, out_index: u32, timeout: Duration) -> Result<Vec<DequeuedCapture>, V4l2Error> {
        let mut out = Vec::new();
        self.wait_decode_into(out_index, timeout, &mut out)?;
        Ok(out)
    }

    /// [`Self::wait_decode`], appending the dequeued CAPTURE buffers to `into`
    /// (no allocation once `into` has room).
    pub fn wait_decode_into(&mut self, out_index: u32, timeout: Duration, into: &mut Vec<DequeuedCapture>) -> Result<(), V4l2Error> {
        if self.complete(out_index, Some(timeout), into)? {
            return Ok(());
        }
        let e = V4l2Error::Timeout { op: Op::Poll, context: self.ctx(format_args!("request of OUTPUT {out_index} after {timeout:?}")) };
        log::warn!("{e}");
        Err(e)
    }

    /// Non-blocking `wait_decode`: `None` while the request is still running.
    pub fn poll_decode(&mut self, out_index: u32) -> Result<Option<Vec<DequeuedCapture>>, V4l2Error> {
        let mut out = Vec::new();
        Ok(self.poll_decode_into(out_index, &mut out)?.then_some(out))
    }

    /// [`Self::poll_decode`] appending to `into`: `false` (nothing appended) while the request runs.
    pub fn poll_decode_into(&mut self, out_index: u32, into: &mut Vec<DequeuedCapture>) -> Result<bool, V4l2Error> {
        self.complete(out_index, None, into)
    }

    /// Whether the request of `out_index` is in flight (queued, not reaped).
    pub fn output_in_flight(&self, out_index: u32) -> bool {
        self.outputs.get(out_index as usize).is_some_and(|s| s.state == SlotState::InFlight)
    }

    /// Dequeue finished CAPTURE buffers, waiting up to `timeout` for the first
    /// one when some are queued. Empty when nothing is queued.
    pub fn dequeue_capture(&mut self, timeout: Duration) -> Result<Vec<DequeuedCapture>, V4l2Error> {
        let mut out = Vec::new();
        self.dequeue_capture_into(timeout, &mut out)?;
        Ok(out)
    }

    /// [`Self::dequeue_capture`] appending to `into`.
    pub fn dequeue_capture_into(&mut self, timeout: Duration, into: &mut Vec<DequeuedCapture>) -> Result<(), V4l2Error> {
        let n = into.len();
        self.drain_capture(into)?;
        if into.len() > n || !self.captures.iter().any(|b| b.queued) {
            return Ok(());
        }
        let deadline = deadline_after(timeout);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ready = poll_fd(self.video.as_fd(), PollFlags::POLLIN, left).map_err(|e| ioctl_err(Op::Poll, e, self.ctx("CAPTURE")))?;
            self.drain_capture(into)?;
            if into.len() > n {
                return Ok(());
            }
            if ready.is_none() || Instant::now() >= deadline {
                return Err(V4l2Error::Timeout { op: Op::Poll, context: self.ctx("CAPTURE") }).inspect_err(|e| log::warn!("{e}"));
            }
            // Ready (or POLLERR) but nothing dequeueable: do not spin.
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    // ---------------------------------------------------------------- internals

    fn reqbufs(&self, q: QueueType, count: u32) -> Result<RequestBuffers, V4l2Error> {
        self.reqbufs_mem(q, MemoryType::Mmap, count)
    }

    /// REQBUFS with the kernel's structure as it came back (all capability bits).
    fn reqbufs_raw(&self, q: QueueType, memory: MemoryType, count: u32) -> Result<bindings::v4l2_requestbuffers, V4l2Error> {
        self.count();
        v4l2r::ioctl::reqbufs::<bindings::v4l2_requestbuffers>(&self.video, q, memory, count, MemoryConsistency::empty())
            .map_err(|e| ioctl_err(Op::ReqBufs, Errno::from(e), self.ctx(format_args!("{} count {count}", queue_name(q)))))
    }

    fn reqbufs_mem(&self, q: QueueType, memory: MemoryType, count: u32) -> Result<RequestBuffers, V4l2Error> {
        self.count();
        v4l2r::ioctl::reqbufs::<RequestBuffers>(&self.video, q, memory, count, MemoryConsistency::empty())
            .map_err(|e| ioctl_err(Op::ReqBufs, Errno::from(e), self.ctx(format_args!("{} count {count}", queue_name(q)))))
    }

    fn query_and_map(&self, q: QueueType, index: u32) -> Result<Vec<PlaneMapping>, V4l2Error> {
        self.count();
        let qb: QueryBuffer = v4l2r::ioctl::querybuf(&self.video, q, index as usize)
            .map_err(|e| ioctl_err(Op::QueryBuf, convert_errno(e), self.ctx(format_args!("{} {index}", queue_name(q)))))?;
        if qb.planes.is_empty() || qb.planes.len() > MAX_PLANES {
            return Err(V4l2Error::Invalid(format!("{} buffer {index} has {} planes", queue_name(q), qb.planes.len())));
        }
        let mut maps = Vec::with_capacity(qb.planes.len());
        for (p, plane) in qb.planes.iter().enumerate() {
            let m = v4l2r::ioctl::mmap(&self.video, plane.mem_offset, plane.length).map_err(|e| {
                ioctl_err(Op::Mmap, Errno::from(e), self.ctx(format_args!("{} {index} plane {p} ({} bytes)", queue_name(q), plane.length)))
            })?;
            maps.push(m);
        }
        Ok(maps)
    }

    fn map_outputs(&mut self, range: Range<u32>) -> Result<(), V4l2Error> {
        for index in range {
            let mut maps = self.query_and_map(self.out_q, index)?;
            let mapping = maps.drain(..).next();
            self.outputs.push(OutputSlot { mapping, state: SlotState::Free, expect_capture: None });
        }
        Ok(())
    }

    fn map_captures(&mut self, range: Range<u32>) -> Result<(), V4l2Error> {
        for index in range {
            let planes = self.query_and_map(self.cap_q, index)?;
            self.captures.push(CaptureBuffer::mapped(planes));
        }
        Ok(())
    }

    fn ensure_requests(&mut self, n: usize) -> Result<(), V4l2Error> {
        let Some(media) = &self.media else {
            return Err(V4l2Error::Unsupported("no media device".into()));
        };
        while self.requests.len() < n {
            self.ioctls.fetch_add(1, Ordering::Relaxed);
            let r = Request::alloc(media.as_fd())
                .map_err(|e| ioctl_err(Op::RequestAlloc, e, format!("{}: request {}", self.video_path.display(), self.requests.len())))?;
            self.requests.push(r);
        }
        Ok(())
    }

    /// MEDIA_REQUEST_IOC_REINIT of slot `i`; true when the slot is free again.
    fn reinit_slot(&mut self, i: usize) -> bool {
        let Some(req) = self.requests.get(i) else {
            return false;
        };
        self.count();
        match req.reinit() {
            Ok(()) => {
                if let Some(s) = self.outputs.get_mut(i) {
                    s.state = SlotState::Free;
                    s.expect_capture = None;
                }
                true
            }
            Err(e) => {
                ioctl_err(Op::RequestReinit, e, self.ctx(format_args!("request of OUTPUT {i}")));
                false
            }
        }
    }

    /// After a failed queue_decode step: drop whatever the request holds.
    fn reinit_after_error(&mut self, i: usize) {
        if !self.reinit_slot(i) {
            // Leave it Done so next_output retries the REINIT later.
            if let Some(s) = self.outputs.get_mut(i) {
                s.state = SlotState::Done;
            }
        }
    }

    /// Dequeue every finished OUTPUT buffer (non-blocking), marking slots Done.
    fn drain_output(&mut self) -> Result<(), V4l2Error> {
        for _ in 0..=self.outputs.len() {
            self.count();
            match v4l2r::ioctl::dqbuf::<UncheckedV4l2Buffer>(&self.video, self.out_q) {
                Ok(b) => {
                    let idx = b.0.index as usize;
                    if b.0.flags & bindings::V4L2_BUF_FLAG_ERROR != 0 {
                        log::debug!("{}: OUTPUT {idx} returned with ERROR", self.video_path.display());
                    }
                    match self.outputs.get_mut(idx) {
                        Some(s) if s.state == SlotState::InFlight => s.state = SlotState::Done,
                        _ => log::warn!("{}: dequeued OUTPUT {idx} that was not in flight", self.video_path.display()),
                    }
                    if !self.outputs.iter().any(|s| s.state == SlotState::InFlight) {
                        break;
                    }
                }
                Err(e) => {
                    let errno = convert_errno(e);
                    if errno == Errno::EAGAIN || errno == Errno::EPIPE {
                        return Ok(());
                    }
                    return Err(ioctl_err(Op::DqBuf, errno, self.ctx("OUTPUT")));
                }
            }
        }
        Ok(())
    }

    /// Dequeue every finished CAPTURE buffer (non-blocking), appending to `out`.
    fn drain_capture(&mut self, out: &mut Vec<DequeuedCapture>) -> Result<(), V4l2Error> {
        if !self.captures.iter().any(|b| b.queued) {
            return Ok(());
        }
        for _ in 0..=self.captures.len() {
            self.count();
            match v4l2r::ioctl::dqbuf::<UncheckedV4l2Buffer>(&self.video, self.cap_q) {
                Ok(b) => {
                    let index = b.0.index;
                    let error = b.0.flags & bindings::V4L2_BUF_FLAG_ERROR != 0;
                    let timestamp_ns = timeval_to_ns(b.0.timestamp.tv_sec, b.0.timestamp.tv_usec);
                    match self.captures.get_mut(index as usize) {
                        Some(c) => c.queued = false,
                        None => {
                            log::warn!("{}: dequeued unknown CAPTURE {index}", self.video_path.display());
                            continue;
                        }
                    }
                    if error {
                        log::debug!("{}: CAPTURE {index} (ts {timestamp_ns}) has ERROR", self.video_path.display());
                    }
                    out.push(DequeuedCapture { index, error, timestamp_ns });
                }
                Err(e) => {
                    let errno = convert_errno(e);
                    if errno == Errno::EAGAIN || errno == Errno::EPIPE {
                        break;
                    }
                    return Err(ioctl_err(Op::DqBuf, errno, self.ctx("CAPTURE")));
                }
            }
            if !self.captures.iter().any(|b| b.queued) {
                break;
            }
        }
        Ok(())
    }

    /// Shared body of wait/poll: `timeout` None = do not block on the request.
    /// `false` while the request runs; CAPTURE buffers dequeued are appended to `into`.
    fn complete(&mut self, out_index: u32, timeout: Option<Duration>, into: &mut Vec<DequeuedCapture>) -> Result<bool, V4l2Error> {
        let i = out_index as usize;
        let Some(slot) = self.outputs.get(i) else {
            return Err(V4l2Error::State(format!("no OUTPUT buffer {out_index}")));
        };
        if slot.state != SlotState::InFlight {
            // Already reaped (possibly while waiting for another slot).
            return self.drain_capture(into).map(|()| true);
        }
        let start = Instant::now();
        let budget = timeout.unwrap_or(Duration::ZERO);
        let Some(req) = self.requests.get(i) else {
            return Err(V4l2Error::State(format!("no request for OUTPUT {out_index}")));
        };
        let done = req.wait(budget).map_err(|e| ioctl_err(Op::Poll, e, self.ctx(format_args!("request of OUTPUT {out_index}"))))?;
        if !done {
            return Ok(false);
        }
        // The request is complete, so its OUTPUT buffer is done.
        self.drain_output()?;
        if self.outputs[i].state == SlotState::InFlight {
            // Not dequeueable yet: wait (bounded) on the video fd.
            let deadline = deadline_after(CAPTURE_GRACE.max(budget.saturating_sub(start.elapsed())));
            while self.outputs[i].state == SlotState::InFlight && Instant::now() < deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                let r = poll_fd(self.video.as_fd(), PollFlags::POLLOUT, left).map_err(|e| ioctl_err(Op::Poll, e, self.ctx("OUTPUT")))?;
                self.drain_output()?;
                if r.is_some() && self.outputs[i].state == SlotState::InFlight {
                    // Ready (or POLLERR) without progress: do not spin.
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            if self.outputs[i].state == SlotState::InFlight {
                return Err(V4l2Error::Timeout {
                    op: Op::DqBuf,
                    context: self.ctx(format_args!("OUTPUT {out_index} not dequeueable after its request completed")),
                })
                .inspect_err(|e| log::warn!("{e}"));
            }
        }
        let expect = self.outputs[i].expect_capture;
        // Recycle every completed request (ours and any older one dequeued with it).
        for k in 0..self.outputs.len() {
            if self.outputs[k].state == SlotState::Done {
                self.reinit_slot(k);
            }
        }
        self.drain_capture(into)?;
        if let Some(c) = expect {
            let deadline = deadline_after(CAPTURE_GRACE);
            while self.capture_queued(c) && Instant::now() < deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                let r = poll_fd(self.video.as_fd(), PollFlags::POLLIN, left).map_err(|e| ioctl_err(Op::Poll, e, self.ctx("CAPTURE")))?;
                let n = into.len();
                self.drain_capture(into)?;
                if r.is_some() && into.len() == n {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        Ok(true)
    }

    fn free_output(&mut self) {
        self.outputs.clear();
        if self.output_allocated {
            let _ = self.reqbufs(self.out_q, 0);
            self.output_allocated = false;
        }
    }

    fn free_capture(&mut self) {
        self.captures.clear();
        self.attached = 0;
        if self.capture_allocated {
            let memory = match self.capture_memory {
                CaptureMemory::Mmap => MemoryType::Mmap,
                CaptureMemory::DmaBuf => MemoryType::DmaBuf,
            };
            let _ = self.reqbufs_mem(self.cap_q, memory, 0);
            self.capture_allocated = false;
        }
    }
}

/// A `v4l2_buffer` to queue buffer `index` of `queue` (`memory`, `planes`
/// zeroed planes; single-planar queues: the buffer's own fields), built inline:
/// v4l2r's `QBuffer` collects its planes in a vector, an allocation per QBUF.
fn qbuf_buffer(queue: QueueType, index: u32, memory: MemoryType, planes: usize) -> UncheckedV4l2Buffer {
    let mut b = UncheckedV4l2Buffer::new_for_querybuf(queue, Some(index));
    b.0.memory = memory as u32;
    b.0.length = if b.1.is_some() { planes.min(bindings::VIDEO_MAX_PLANES as usize) as u32 } else { 0 };
    b
}

/// Memory plane `plane` of `b`: bytes used, length and (DMABUF) the dma-buf
/// fd, in the planes array of a multi-planar buffer, or in the buffer's own
/// fields of a single-planar one (as v4l2r fills them; plane 0 only there).
/// `false` when `b` has no such plane.
fn set_plane(b: &mut UncheckedV4l2Buffer, plane: usize, bytesused: u32, length: u32, fd: Option<i32>) -> bool {
    match &mut b.1 {
        Some(planes) => {
            let Some(p) = planes.get_mut(plane) else { return false };
            p.bytesused = bytesused;
            p.length = length;
            if let Some(fd) = fd {
                p.m.fd = fd;
            }
        }
        None if plane > 0 => return false,
        None => {
            b.0.bytesused = bytesused;
            b.0.length = length;
            if let Some(fd) = fd {
                b.0.m.fd = fd;
            }
        }
    }
    true
}

fn no_plane(index: u32, plane: usize) -> V4l2Error {
    V4l2Error::Invalid(format!("CAPTURE buffer {index} has no plane {plane}"))
}

/// ENUM_FMT until EINVAL (bounded).
pub(crate) fn enum_formats(fd: &File, q: QueueType, counter: &AtomicU64) -> Result<Vec<u32>, Errno> {
    let mut out = Vec::new();
    for index in 0..MAX_ENUM {
        counter.fetch_add(1, Ordering::Relaxed);
        match v4l2r::ioctl::enum_fmt::<bindings::v4l2_fmtdesc>(fd, q, index) {
            Ok(d) => {
                if !out.contains(&d.pixelformat) {
                    out.push(d.pixelformat);
                }
            }
            Err(e) => {
                let errno = Errno::from(e);
                if errno == Errno::EINVAL {
                    break;
                }
                return Err(errno);
            }
        }
    }
    Ok(out)
}

impl Drop for DecoderSession {
    /// STREAMOFF both queues, unmap, REQBUFS 0, close requests and fds: each once.
    fn drop(&mut self) {
        if self.out_streaming {
            self.count();
            if let Err(e) = v4l2r::ioctl::streamoff(&self.video, self.out_q) {
                ioctl_err(Op::StreamOff, Errno::from(e), self.ctx("OUTPUT (teardown)"));
            }
            self.out_streaming = false;
        }
        if self.cap_streaming {
            self.count();
            if let Err(e) = v4l2r::ioctl::streamoff(&self.video, self.cap_q) {
                ioctl_err(Op::StreamOff, Errno::from(e), self.ctx("CAPTURE (teardown)"));
            }
            self.cap_streaming = false;
        }
        // Unmap before freeing the buffers.
        self.free_output();
        self.free_capture();
        self.requests.clear();
        log::debug!("{}: session closed after {} ioctls", self.video_path.display(), self.ioctl_count());
        // `video` and `media` close when the fields drop.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_format_from_v4l2r_format() {
        let f = Format {
            width: 176,
            height: 144,
            pixelformat: super::super::fourcc::V4L2_PIX_FMT_NV12.into(),
            plane_fmt: vec![PlaneLayout { sizeimage: 176 * 144 * 3 / 2, bytesperline: 176 }],
        };
        let c = CaptureFormat::from_format(&f).unwrap();
        assert_eq!(c.num_planes, 1);
        assert_eq!(c.bytesperline, [176, 0, 0]);
        assert_eq!(c.sizeimage[0], 38016);
        assert_eq!(c.fourcc, super::super::fourcc::V4L2_PIX_FMT_NV12);
        let empty = Format { plane_fmt: vec![], ..f.clone() };
        assert!(CaptureFormat::from_format(&empty).is_err());
        let four = Format { plane_fmt: vec![PlaneLayout { sizeimage: 1, bytesperline: 1 }; 4], ..f };
        assert!(CaptureFormat::from_format(&four).is_err());
    }

    #[test]
    fn open_missing_node_fails_with_enoent() {
        let e = DecoderSession::open(Path::new("/nonexistent/video99"), None, true).err().unwrap();
        assert_eq!(e.errno(), Some(Errno::ENOENT));
        assert_eq!(e.op(), Some(Op::Open));
    }

    #[test]
    fn dmabuf_capture_qbuf_carries_every_plane() {
        // MM21 on a multi-planar queue: two dma-bufs, each with its length.
        let mut b = qbuf_buffer(QueueType::VideoCaptureMplane, 3, MemoryType::DmaBuf, 2);
        assert_eq!((b.0.index, b.0.memory, b.0.length), (3, MemoryType::DmaBuf as u32, 2));
        assert!(set_plane(&mut b, 0, 0, 28160, Some(11)));
        assert!(set_plane(&mut b, 1, 0, 14080, Some(12)));
        let planes = b.1.as_ref().unwrap();
        // SAFETY: reading the fd member of the union just written.
        let fds = unsafe { (planes[0].m.fd, planes[1].m.fd) };
        assert_eq!((planes[0].length, planes[1].length, fds), (28160, 14080, (11, 12)));
        // A single-planar queue has one plane only.
        let mut b = qbuf_buffer(QueueType::VideoCapture, 0, MemoryType::DmaBuf, 1);
        assert!(set_plane(&mut b, 0, 0, 4096, Some(7)));
        assert!(!set_plane(&mut b, 1, 0, 4096, Some(8)));
        // SAFETY: as above.
        assert_eq!((b.0.length, unsafe { b.0.m.fd }), (4096, 7));
    }

    #[test]
    fn session_is_send() {
        fn is_send<T: Send>() {}
        is_send::<DecoderSession>();
    }
}
