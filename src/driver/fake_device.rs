//! A scripted stand-in for a V4L2 stateless decoder (tests only).
//!
//! The decode flow (`Context`, frame sources) reaches the device only through
//! [`DecoderDevice`]. [`FakeDevice`] implements it in memory so that the
//! flow's handling of a misbehaving device can be unit-tested on the host: a
//! test builds a [`Script`], hands a [`FakeOpener`] to
//! `Driver::with_opener`, and drives the driver as an application would.
//!
//! What a script says (all of it can be changed while a test runs, through
//! the [`FakeHandle`] the opener hands back):
//! - whether the OUTPUT queue has HOLD_CAPTURE_BUF; without it the fake does
//!   what the kernel does: it ignores the flag and returns the CAPTURE buffer
//!   after the first request;
//! - the CAPTURE formats offered (linear NV12, tiled ones: `MM21` has two
//!   buffers per picture), whether the queue takes dma-bufs (frames are
//!   memfds then, one per memory plane) and VIDIOC_REMOVE_BUFS;
//! - the H.264/HEVC decode mode (slice- or frame-based) and whether the
//!   frame-based value is offered;
//! - per queued request, in queue order, how it completes ([`Completion`]):
//!   done, flagged with V4L2_BUF_FLAG_ERROR, with another timestamp on its
//!   CAPTURE buffer, or never (a hung device);
//! - the completion order: in order, or in pairs whose CAPTURE buffers come
//!   back later one first;
//! - one-shot errnos for chosen ioctls ([`FakeOp`]);
//! - reader fences still pending on exported CAPTURE buffers;
//! - whether jobs stamp their timestamp into the CAPTURE memory they write
//!   (to tell which dma-bufs a picture landed in).
//!
//! Every call is recorded ([`Call`]) so that tests can check what reached the
//! device: which requests were queued with which timestamp and CAPTURE index,
//! how long each wait was allowed to be.
//!
//! Time: a wait for something that will not happen sleeps for the timeout it
//! was given (tests configure timeouts of tens of milliseconds) and then
//! times out, as the real session does; nothing else sleeps.

use std::collections::VecDeque;
use std::ops::Range;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::eventfd::EventFd;

use crate::device::{DecoderNode, DeviceOpener};
use crate::v4l2::{
    CaptureFormat, CaptureMemory, ControlSpec, DecoderDevice, DequeuedCapture, Frame, Op, V4l2Error, V4L2_PIX_FMT_MM21, V4L2_PIX_FMT_NV12,
    V4L2_PIX_FMT_NV12_32L32, V4L2_PIX_FMT_NV12_4L4,
};
use v4l2r::bindings as b;

/// How one queued request completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Decoded; its CAPTURE buffer comes back with the request's timestamp.
    Done,
    /// Its CAPTURE buffer comes back flagged V4L2_BUF_FLAG_ERROR.
    DeviceError,
    /// Its CAPTURE buffer comes back with this timestamp (ns) instead.
    Timestamp(u64),
    /// Never completes; nothing queued after it completes either (m2m runs jobs in order).
    Never,
}

/// In which order completed requests hand their CAPTURE buffers back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    InOrder,
    /// Requests complete two by two (the first of a pair waits for the
    /// second to be queued), the later one's CAPTURE buffer first.
    PairsReversed,
}

/// Ioctls a script can make fail once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FakeOp {
    /// S_EXT_CTRLS into a request.
    RequestControls,
    /// QBUF of the bitstream buffer.
    QueueOutput,
    /// MEDIA_REQUEST_IOC_QUEUE.
    QueueRequest,
    /// QBUF of the CAPTURE buffer (after the request was queued).
    QueueCapture,
    /// DQBUF (in a wait, poll or CAPTURE dequeue); nothing is dequeued.
    Dequeue,
    /// CREATE_BUFS on CAPTURE (the pool growing).
    CreateBuffers,
}

/// What the fake device does; see the module documentation.
#[derive(Clone, Debug)]
pub struct Script {
    pub hold_capture: bool,
    /// CAPTURE fourccs S_FMT accepts.
    pub capture_formats: Vec<u32>,
    pub dmabuf: bool,
    pub remove_bufs: bool,
    /// V4L2_CID_STATELESS_{H264,HEVC}_DECODE_MODE reads slice-based.
    pub slice_based: bool,
    /// The decode-mode menu offers frame-based (a driver can switch to it).
    pub frame_based_offered: bool,
    pub order: Order,
    /// Per queued request, in queue order; `Done` once this runs out.
    pub completions: VecDeque<Completion>,
    /// One-shot errors, taken by the next call of that operation.
    pub failures: Vec<(FakeOp, Errno)>,
    /// CAPTURE indices whose exported dma-bufs have reader fences pending (never signalled).
    pub pending_fences: Vec<u32>,
    /// (CAPTURE index, memory plane): a pending reader fence on that plane's dma-buf only
    /// (MM21's chroma buffer read by a consumer after the luma one).
    pub pending_plane_fences: Vec<(u32, usize)>,
    /// A job writes its request's timestamp (8 bytes, little-endian) at the
    /// start of every memory plane of its CAPTURE buffer, so a test can see
    /// which memory a picture landed in (a frame's dma-bufs: every export of
    /// them sees it).
    pub stamp_pictures: bool,
    /// Room reserved up front in the call log and in each device's request
    /// log (both grow with every frame): with enough, a run of frames
    /// allocates nothing in the fake.
    pub log_capacity: usize,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            hold_capture: true,
            capture_formats: vec![V4L2_PIX_FMT_NV12],
            dmabuf: true,
            remove_bufs: true,
            slice_based: false,
            frame_based_offered: true,
            order: Order::InOrder,
            completions: VecDeque::new(),
            failures: Vec::new(),
            pending_fences: Vec::new(),
            pending_plane_fences: Vec::new(),
            stamp_pictures: false,
            log_capacity: 0,
        }
    }
}

/// One call that reached a fake device (`handle`: which open, from 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Open {
        handle: usize,
    },
    SetCaptureFormat {
        handle: usize,
        fourcc: u32,
        width: u32,
        height: u32,
    },
    AllocOutput {
        handle: usize,
        count: u32,
    },
    AllocCapture {
        handle: usize,
        count: u32,
        memory: CaptureMemory,
    },
    AllocateFrames {
        handle: usize,
        count: u32,
    },
    AddCapture {
        handle: usize,
        indices: Range<u32>,
    },
    RemoveCapture {
        handle: usize,
        index: u32,
    },
    RestoreCapture {
        handle: usize,
        index: u32,
    },
    QueueDecode {
        handle: usize,
        out: u32,
        timestamp_ns: u64,
        capture: u32,
        queue_capture: bool,
        hold: bool,
        controls: usize,
    },
    Wait {
        handle: usize,
        out: u32,
        timeout: Duration,
    },
    DequeueCapture {
        handle: usize,
        timeout: Duration,
    },
    FlushHeld {
        handle: usize,
    },
    /// A CAPTURE buffer queued on its own (after its request's QBUF failed).
    QueueCapture {
        handle: usize,
        index: u32,
    },
    Export {
        handle: usize,
        index: u32,
    },
    /// An operation failed as the script asked.
    Failed {
        handle: usize,
        op: FakeOp,
    },
}

/// State shared by a test and every device its opener made.
#[derive(Default)]
pub struct FakeShared {
    pub script: Script,
    pub calls: Vec<Call>,
    opens: usize,
}

impl FakeShared {
    /// Take the scripted one-shot failure of `op`, if any.
    fn take_failure(&mut self, handle: usize, op: FakeOp) -> Option<Errno> {
        let i = self.script.failures.iter().position(|(o, _)| *o == op)?;
        let (_, errno) = self.script.failures.remove(i);
        self.calls.push(Call::Failed { handle, op });
        Some(errno)
    }
}

/// The test's view of the fake: script and call log.
#[derive(Clone, Default)]
pub struct FakeHandle(Arc<Mutex<FakeShared>>);

impl FakeHandle {
    pub fn new(script: Script) -> Self {
        let calls = Vec::with_capacity(script.log_capacity);
        FakeHandle(Arc::new(Mutex::new(FakeShared { script, calls, ..Default::default() })))
    }

    /// Change the script (e.g. the completion of the next request).
    pub fn script(&self, f: impl FnOnce(&mut Script)) {
        f(&mut super::lock(&self.0).script)
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        super::lock(&self.0).calls.clone()
    }

    /// The decodes queued so far: (timestamp, CAPTURE index, queue_capture, hold).
    pub fn queued(&self) -> Vec<(u64, u32, bool, bool)> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::QueueDecode { timestamp_ns, capture, queue_capture, hold, .. } => Some((timestamp_ns, capture, queue_capture, hold)),
                _ => None,
            })
            .collect()
    }

    /// How many handles were opened.
    pub fn opens(&self) -> usize {
        super::lock(&self.0).opens
    }

    pub fn opener(&self) -> Arc<dyn DeviceOpener> {
        Arc::new(FakeOpener(self.clone()))
    }
}

/// Opens [`FakeDevice`]s sharing one [`FakeHandle`].
pub struct FakeOpener(pub FakeHandle);

impl DeviceOpener for FakeOpener {
    fn open(&self, node: &DecoderNode) -> Result<Box<dyn DecoderDevice>, V4l2Error> {
        let mut shared = super::lock(&(self.0).0);
        let handle = shared.opens;
        shared.opens += 1;
        shared.calls.push(Call::Open { handle });
        drop(shared);
        Ok(Box::new(FakeDevice::new(self.0.clone(), handle, node.video_path.clone())))
    }
}

/// A queued request and how it will complete.
struct Request {
    out: u32,
    timestamp_ns: u64,
    hold: bool,
    completion: Completion,
    completed: bool,
}

/// CAPTURE memory: planes in memory (MMAP) or a memfd frame (DMABUF).
enum Memory {
    Planes(Vec<Vec<u8>>),
    Frame(Option<Frame>),
}

struct CaptureBuffer {
    memory: Memory,
    /// Queued in the device (between QBUF and DQBUF).
    queued: bool,
    removed: bool,
    /// MMAP: the memfds handed out as this buffer's dma-bufs (one per plane).
    exports: Vec<OwnedFd>,
    exported: bool,
}

/// See the module documentation.
pub struct FakeDevice {
    shared: FakeHandle,
    handle: usize,
    path: PathBuf,
    ioctls: u64,
    capture_format: Option<CaptureFormat>,
    capture_memory: Option<CaptureMemory>,
    captures: Vec<CaptureBuffer>,
    /// DMABUF: indices `0..attached` have their frame.
    attached: usize,
    /// OUTPUT buffer size from the OUTPUT format.
    output_size: usize,
    outputs: Vec<Vec<u8>>,
    /// Per OUTPUT buffer: the index in `requests` of its request in flight.
    in_flight: Vec<Option<usize>>,
    output_allocated: bool,
    caps_queried: bool,
    streaming: bool,
    requests: Vec<Request>,
    /// CAPTURE buffers finished and dequeueable, in the order they come back.
    ready: VecDeque<DequeuedCapture>,
    /// A CAPTURE buffer held for a second field: (index, timestamp).
    held: Option<(u32, u64)>,
    /// Queued CAPTURE buffers no job has taken yet, in QBUF order.
    capture_queue: VecDeque<u32>,
    /// V4L2_DEC_CMD_FLUSH came while the held request was still running:
    /// its CAPTURE buffer comes back when it completes.
    flush_requested: bool,
    /// Reader fences that never signal (an eventfd that is never writable).
    fence: EventFd,
}

fn unsupported(what: &str) -> V4l2Error {
    V4l2Error::Unsupported(what.to_string())
}

fn ioctl(op: Op, errno: Errno) -> V4l2Error {
    V4l2Error::Ioctl { op, errno, context: "fake device (scripted)".into() }
}

/// Bytes of a tiled or linear NV12 CAPTURE format at `width`x`height`, as a
/// device would align them: (bytesperline, height, per-buffer sizes). Tiled
/// formats round the height up to whole luma tiles and the chroma plane to
/// whole chroma tiles.
fn layout(fourcc: u32, width: u32, height: u32) -> (u32, u32, Vec<u32>) {
    let (tile_w, luma_h, chroma_h) = match fourcc {
        V4L2_PIX_FMT_NV12_32L32 => (32, 32, 32),
        V4L2_PIX_FMT_NV12_4L4 => (4, 4, 4),
        V4L2_PIX_FMT_MM21 => (16, 32, 16),
        _ => {
            let pitch = width.next_multiple_of(16);
            return (pitch, height, vec![pitch * height.next_multiple_of(2) * 3 / 2]);
        }
    };
    let pitch = width.next_multiple_of(tile_w);
    let rows = height.next_multiple_of(luma_h);
    let chroma = pitch * (rows / 2).next_multiple_of(chroma_h);
    let sizes = if fourcc == V4L2_PIX_FMT_MM21 { vec![pitch * rows, chroma] } else { vec![pitch * rows + chroma] };
    (pitch, rows, sizes)
}

fn memfd(len: usize) -> Result<OwnedFd, V4l2Error> {
    let fd =
        nix::sys::memfd::memfd_create(c"fake-capture", nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC).map_err(|e| ioctl(Op::ExpBuf, e))?;
    nix::unistd::ftruncate(&fd, len as i64).map_err(|e| ioctl(Op::ExpBuf, e))?;
    Ok(fd)
}

impl FakeDevice {
    fn new(shared: FakeHandle, handle: usize, path: PathBuf) -> Self {
        let log_capacity = super::lock(&shared.0).script.log_capacity;
        FakeDevice {
            shared,
            handle,
            path,
            ioctls: 0,
            capture_format: None,
            capture_memory: None,
            captures: Vec::new(),
            attached: 0,
            output_size: 0,
            outputs: Vec::new(),
            in_flight: Vec::new(),
            output_allocated: false,
            caps_queried: false,
            streaming: false,
            requests: Vec::with_capacity(log_capacity),
            ready: VecDeque::new(),
            held: None,
            capture_queue: VecDeque::new(),
            flush_requested: false,
            fence: Self::blocked_fence(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut FakeShared) -> T) -> T {
        f(&mut super::lock(&self.shared.0))
    }

    fn script<T>(&self, f: impl FnOnce(&Script) -> T) -> T {
        self.with(|s| f(&s.script))
    }

    fn record(&self, call: Call) {
        self.with(|s| s.calls.push(call));
    }

    fn fail(&self, op: FakeOp) -> Option<Errno> {
        self.with(|s| s.take_failure(self.handle, op))
    }

    fn buffer_sizes(&self) -> Vec<u32> {
        self.capture_format.as_ref().map(|f| f.sizeimage[..f.num_planes].to_vec()).unwrap_or_default()
    }

    fn mmap_buffer(&self) -> CaptureBuffer {
        let planes = self.buffer_sizes().into_iter().map(|s| vec![0u8; s as usize]).collect();
        CaptureBuffer { memory: Memory::Planes(planes), queued: false, removed: false, exports: Vec::new(), exported: false }
    }

    fn empty_slot() -> CaptureBuffer {
        CaptureBuffer { memory: Memory::Frame(None), queued: false, removed: false, exports: Vec::new(), exported: false }
    }

    /// Let the device run: complete every request that can complete now, in
    /// the scripted order, and make their CAPTURE buffers dequeueable.
    ///
    /// Like the kernel's m2m framework, a job takes the CAPTURE buffer queued
    /// first (not one chosen by index): the buffer it holds when the previous
    /// request held it with the same timestamp, otherwise the held buffer is
    /// released and the next queued one taken. A job without a CAPTURE
    /// buffer waits. The buffer comes back with the request's timestamp.
    fn run(&mut self) {
        let order = self.script(|s| s.order);
        let mut i = 0;
        while i < self.requests.len() {
            if self.requests[i].completed {
                i += 1;
                continue;
            }
            if self.requests[i].completion == Completion::Never {
                return;
            }
            // On the stack: running jobs allocates nothing.
            let (batch, n) = match order {
                Order::InOrder => ([i, i], 1),
                Order::PairsReversed => {
                    let Some(next) = (i + 1..self.requests.len()).find(|&k| !self.requests[k].completed) else { return };
                    if self.requests[next].completion == Completion::Never {
                        return;
                    }
                    ([i, next], 2)
                }
            };
            let mut done: [Option<DequeuedCapture>; 2] = [None, None];
            let mut stalled = false;
            for (j, &k) in batch[..n].iter().enumerate() {
                match self.run_job(k) {
                    Some(d) => done[j] = d,
                    None => {
                        stalled = true;
                        break;
                    }
                }
            }
            self.ready.extend(done.into_iter().rev().flatten());
            if stalled {
                return;
            }
        }
    }

    /// Run request `k`: `None` when no CAPTURE buffer is available, else the
    /// CAPTURE buffer it completes (none while held for a later request).
    fn run_job(&mut self, k: usize) -> Option<Option<DequeuedCapture>> {
        let hold_supported = self.script(|s| s.hold_capture);
        let (ts, hold, completion) = {
            let r = &self.requests[k];
            (r.timestamp_ns, r.hold, r.completion)
        };
        let capture = match self.held {
            Some((c, held_ts)) if held_ts == ts => c,
            held => {
                let next = self.capture_queue.pop_front()?;
                if let Some((c, held_ts)) = held {
                    self.ready.push_back(DequeuedCapture { index: c, error: false, timestamp_ns: held_ts });
                }
                self.held = None;
                next
            }
        };
        self.requests[k].completed = true;
        if self.script(|s| s.stamp_pictures) {
            self.stamp(capture, ts);
        }
        if hold && hold_supported && !self.flush_requested {
            self.held = Some((capture, ts));
            return Some(None);
        }
        self.flush_requested = false;
        self.held = None;
        let timestamp_ns = match completion {
            Completion::Timestamp(t) => t,
            _ => ts,
        };
        Some(Some(DequeuedCapture { index: capture, error: completion == Completion::DeviceError, timestamp_ns }))
    }

    /// [`Script::stamp_pictures`]: `timestamp_ns` at the start of every memory plane of CAPTURE `index`.
    fn stamp(&mut self, index: u32, timestamp_ns: u64) {
        let Some(c) = self.captures.get_mut(index as usize) else { return };
        let bytes = timestamp_ns.to_le_bytes();
        for plane in 0..crate::v4l2::MAX_FRAME_PLANES {
            let dst = match &mut c.memory {
                Memory::Planes(p) => p.get_mut(plane).map(|v| &mut v[..]),
                Memory::Frame(f) => f.as_mut().and_then(|f| f.plane_bytes_mut(plane)),
            };
            if let Some(dst) = dst.and_then(|d| d.get_mut(..bytes.len())) {
                dst.copy_from_slice(&bytes);
            }
        }
    }

    /// DQBUF every dequeueable CAPTURE buffer (and recycle finished requests).
    fn drain(&mut self, into: &mut Vec<DequeuedCapture>) -> Result<(), V4l2Error> {
        if let Some(errno) = self.fail(FakeOp::Dequeue) {
            return Err(ioctl(Op::DqBuf, errno));
        }
        for (out, slot) in self.in_flight.iter_mut().enumerate() {
            if let Some(r) = *slot {
                if self.requests[r].completed {
                    debug_assert_eq!(self.requests[r].out, out as u32);
                    *slot = None;
                }
            }
        }
        for d in self.ready.drain(..) {
            if let Some(c) = self.captures.get_mut(d.index as usize) {
                c.queued = false;
            }
            into.push(d);
        }
        Ok(())
    }

    /// The request in flight on OUTPUT `out`, if any.
    fn request_of(&self, out: u32) -> Option<usize> {
        self.in_flight.get(out as usize).copied().flatten()
    }

    /// `false` while the request runs (without a timeout), else what [`Self::drain`] dequeues into `into`.
    fn complete(&mut self, out: u32, timeout: Option<Duration>, into: &mut Vec<DequeuedCapture>) -> Result<bool, V4l2Error> {
        self.ioctls += 1;
        self.run();
        let Some(r) = self.request_of(out) else {
            return self.drain(into).map(|()| true);
        };
        if !self.requests[r].completed {
            if let Some(t) = timeout {
                std::thread::sleep(t);
                return Err(V4l2Error::Timeout { op: Op::Poll, context: format!("fake: request of OUTPUT {out}") });
            }
            return Ok(false);
        }
        self.drain(into).map(|()| true)
    }
}

impl DecoderDevice for FakeDevice {
    fn video_path(&self) -> &Path {
        &self.path
    }
    fn ioctl_count(&self) -> u64 {
        self.ioctls
    }
    fn set_controls(&mut self, _ctrls: &[ControlSpec<'_>]) -> Result<(), V4l2Error> {
        self.ioctls += 1;
        Ok(())
    }
    fn set_control_values(&mut self, values: &[(u32, i32)]) -> Result<(), V4l2Error> {
        self.ioctls += 1;
        let frame_h264 = b::v4l2_stateless_h264_decode_mode_V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED as i32;
        for &(id, v) in values {
            if id == b::V4L2_CID_STATELESS_H264_DECODE_MODE || id == b::V4L2_CID_STATELESS_HEVC_DECODE_MODE {
                if v == frame_h264 && !self.script(|s| s.frame_based_offered) {
                    return Err(ioctl(Op::SExtCtrls, Errno::EINVAL));
                }
                self.with(|s| s.script.slice_based = v != frame_h264);
            }
        }
        Ok(())
    }
    fn get_control(&self, id: u32) -> Result<i32, V4l2Error> {
        let slice = self.script(|s| s.slice_based);
        match id {
            b::V4L2_CID_STATELESS_H264_DECODE_MODE | b::V4L2_CID_STATELESS_HEVC_DECODE_MODE => Ok(if slice {
                b::v4l2_stateless_h264_decode_mode_V4L2_STATELESS_H264_DECODE_MODE_SLICE_BASED as i32
            } else {
                b::v4l2_stateless_h264_decode_mode_V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED as i32
            }),
            b::V4L2_CID_STATELESS_H264_START_CODE | b::V4L2_CID_STATELESS_HEVC_START_CODE => {
                Ok(b::v4l2_stateless_h264_start_code_V4L2_STATELESS_H264_START_CODE_ANNEX_B as i32)
            }
            _ => Err(ioctl(Op::GExtCtrls, Errno::EINVAL)),
        }
    }
    fn menu_values(&self, ctrl_id: u32) -> Result<Vec<u32>, V4l2Error> {
        match ctrl_id {
            b::V4L2_CID_STATELESS_H264_DECODE_MODE | b::V4L2_CID_STATELESS_HEVC_DECODE_MODE => {
                let mut v = vec![b::v4l2_stateless_h264_decode_mode_V4L2_STATELESS_H264_DECODE_MODE_SLICE_BASED];
                if self.script(|s| s.frame_based_offered) {
                    v.push(b::v4l2_stateless_h264_decode_mode_V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED);
                }
                Ok(v)
            }
            _ => Err(ioctl(Op::QueryExtCtrl, Errno::EINVAL)),
        }
    }
    fn has_control(&self, _ctrl_id: u32) -> bool {
        false
    }
    fn set_output_format(&mut self, _coded_fourcc: u32, _width: u32, _height: u32, sizeimage: u32) -> Result<(), V4l2Error> {
        self.ioctls += 1;
        if self.output_allocated {
            return Err(V4l2Error::State("OUTPUT format change with buffers allocated".into()));
        }
        self.capture_format = None;
        self.output_size = sizeimage as usize;
        Ok(())
    }
    fn set_capture_format(&mut self, fourcc: u32, width: u32, height: u32) -> Result<CaptureFormat, V4l2Error> {
        self.ioctls += 2;
        self.record(Call::SetCaptureFormat { handle: self.handle, fourcc, width, height });
        if !self.script(|s| s.capture_formats.contains(&fourcc)) {
            return Err(unsupported("CAPTURE format"));
        }
        let (pitch, rows, sizes) = layout(fourcc, width, height);
        let mut f = CaptureFormat { fourcc, width, height: rows, bytesperline: [0; 3], sizeimage: [0; 3], num_planes: sizes.len() };
        for (i, s) in sizes.iter().enumerate() {
            f.bytesperline[i] = pitch;
            f.sizeimage[i] = *s;
        }
        self.capture_format = Some(f.clone());
        Ok(f)
    }
    fn query_output_caps(&mut self) -> Result<(), V4l2Error> {
        self.ioctls += 1;
        self.caps_queried = true;
        Ok(())
    }
    fn supports_hold_capture(&self) -> bool {
        self.caps_queried && self.script(|s| s.hold_capture)
    }
    fn output_allocated(&self) -> bool {
        self.output_allocated
    }
    fn alloc_output(&mut self, count: u32) -> Result<u32, V4l2Error> {
        self.ioctls += 1;
        self.record(Call::AllocOutput { handle: self.handle, count });
        self.outputs = vec![vec![0; self.output_size]; count as usize];
        self.in_flight = vec![None; count as usize];
        self.output_allocated = true;
        self.caps_queried = true;
        Ok(count)
    }
    fn output_buffer_size(&self) -> usize {
        self.outputs.iter().map(|o| o.len()).min().unwrap_or(0)
    }
    fn ensure_output_size(&mut self, bytes: usize) -> Result<(), V4l2Error> {
        if bytes <= self.output_buffer_size() {
            return Ok(());
        }
        if self.in_flight.iter().any(Option::is_some) {
            return Err(V4l2Error::State("cannot grow OUTPUT buffers while decodes are in flight".into()));
        }
        let size = bytes.next_power_of_two();
        for o in &mut self.outputs {
            o.resize(size, 0);
        }
        Ok(())
    }
    fn next_output(&mut self) -> Option<u32> {
        // OUTPUT buffers come back only through a wait or poll (DQBUF), as in the session.
        self.in_flight.iter().position(Option::is_none).map(|i| i as u32)
    }
    fn output_buffer_mut(&mut self, out_index: u32) -> Option<&mut [u8]> {
        if self.request_of(out_index).is_some() {
            return None;
        }
        self.outputs.get_mut(out_index as usize).map(|o| &mut o[..])
    }
    fn alloc_capture(&mut self, count: u32) -> Result<u32, V4l2Error> {
        self.ioctls += 1;
        self.record(Call::AllocCapture { handle: self.handle, count, memory: CaptureMemory::Mmap });
        self.capture_memory = Some(CaptureMemory::Mmap);
        self.captures = (0..count).map(|_| self.mmap_buffer()).collect();
        Ok(count)
    }
    fn alloc_capture_frames(&mut self, frames: Vec<Frame>, indices: u32) -> Result<u32, V4l2Error> {
        self.ioctls += 1;
        self.record(Call::AllocCapture { handle: self.handle, count: indices, memory: CaptureMemory::DmaBuf });
        if !self.script(|s| s.dmabuf) {
            return Err(unsupported("DMABUF CAPTURE"));
        }
        self.capture_memory = Some(CaptureMemory::DmaBuf);
        let n = frames.len();
        self.captures = (0..indices.max(n as u32).max(1)).map(|_| Self::empty_slot()).collect();
        for (i, f) in frames.into_iter().enumerate() {
            self.captures[i].memory = Memory::Frame(Some(f));
        }
        self.attached = n;
        Ok(n as u32)
    }
    fn capture_memory(&self) -> CaptureMemory {
        self.capture_memory.unwrap_or(CaptureMemory::Mmap)
    }
    fn capture_supports_dmabuf(&self) -> bool {
        self.script(|s| s.dmabuf)
    }
    fn allocate_frames(&mut self, count: u32) -> Result<Vec<Frame>, V4l2Error> {
        let sizes = self.buffer_sizes();
        self.ioctls += 2 + (1 + sizes.len() as u64) * u64::from(count);
        self.record(Call::AllocateFrames { handle: self.handle, count });
        // One memfd per memory plane (MM21: luma and chroma), as EXPBUF of each plane gives.
        (0..count)
            .map(|_| {
                let planes = sizes.iter().map(|&s| Ok((memfd(s as usize)?, s as usize))).collect::<Result<Vec<_>, V4l2Error>>()?;
                Frame::from_planes(planes).ok_or_else(|| unsupported("frames of this CAPTURE format"))
            })
            .collect()
    }
    fn grow_capture(&mut self, extra: u32) -> Result<Range<u32>, V4l2Error> {
        self.ioctls += 2;
        if let Some(errno) = self.fail(FakeOp::CreateBuffers) {
            return Err(ioctl(Op::CreateBufs, errno));
        }
        let start = self.captures.len() as u32;
        for _ in 0..extra {
            let b = self.mmap_buffer();
            self.captures.push(b);
        }
        self.record(Call::AddCapture { handle: self.handle, indices: start..start + extra });
        Ok(start..start + extra)
    }
    fn add_capture_frames(&mut self, frames: Vec<Frame>) -> Result<Range<u32>, V4l2Error> {
        if self.capture_memory != Some(CaptureMemory::DmaBuf) {
            return Err(V4l2Error::State("frames for an MMAP CAPTURE queue".into()));
        }
        let need = (self.attached + frames.len()).saturating_sub(self.captures.len());
        if need > 0 {
            self.ioctls += 2;
            if let Some(errno) = self.fail(FakeOp::CreateBuffers) {
                return Err(ioctl(Op::CreateBufs, errno));
            }
            self.captures.extend((0..need).map(|_| Self::empty_slot()));
        }
        let start = self.attached;
        for f in frames {
            self.captures[self.attached].memory = Memory::Frame(Some(f));
            self.attached += 1;
        }
        let r = start as u32..self.attached as u32;
        self.record(Call::AddCapture { handle: self.handle, indices: r.clone() });
        Ok(r)
    }
    fn can_remove_capture(&self) -> bool {
        self.capture_memory == Some(CaptureMemory::DmaBuf) && self.script(|s| s.remove_bufs)
    }
    fn remove_capture_frame(&mut self, index: u32) -> Result<(), V4l2Error> {
        self.ioctls += 1;
        let c = self.captures.get_mut(index as usize).ok_or_else(|| V4l2Error::Invalid(format!("CAPTURE {index}")))?;
        if c.queued {
            return Err(V4l2Error::State(format!("CAPTURE {index} is queued")));
        }
        c.removed = true;
        c.memory = Memory::Frame(None);
        self.record(Call::RemoveCapture { handle: self.handle, index });
        Ok(())
    }
    fn restore_capture_frame(&mut self, index: u32, frame: Frame) -> Result<(), V4l2Error> {
        self.ioctls += 3;
        let c = self.captures.get_mut(index as usize).filter(|c| c.removed).ok_or_else(|| V4l2Error::State(format!("CAPTURE {index}")))?;
        c.removed = false;
        c.memory = Memory::Frame(Some(frame));
        c.exported = false;
        self.record(Call::RestoreCapture { handle: self.handle, index });
        Ok(())
    }
    fn stream_on(&mut self) -> Result<(), V4l2Error> {
        if !self.output_allocated || self.capture_memory.is_none() {
            return Err(V4l2Error::State("stream on before both queues are allocated".into()));
        }
        // vb2 refuses STREAMON on a queue without buffers (a DMABUF queue's
        // indices count, memory or not).
        if self.captures.is_empty() {
            return Err(ioctl(Op::StreamOn, Errno::EINVAL));
        }
        if !self.streaming {
            self.ioctls += 2;
            self.streaming = true;
        }
        Ok(())
    }
    fn queue_decode(
        &mut self,
        out_index: u32,
        bytes: usize,
        timestamp_ns: u64,
        ctrls: &[ControlSpec<'_>],
        cap_index: u32,
        queue_capture: bool,
        hold_capture: bool,
    ) -> Result<(), V4l2Error> {
        if !self.streaming {
            return Err(V4l2Error::State("queue_decode before stream_on".into()));
        }
        if self.request_of(out_index).is_some() || out_index as usize >= self.outputs.len() {
            return Err(V4l2Error::State(format!("OUTPUT {out_index} is in flight or unknown")));
        }
        if bytes == 0 || bytes > self.outputs[out_index as usize].len() {
            return Err(V4l2Error::Invalid(format!("{bytes} bytes for OUTPUT {out_index}")));
        }
        if queue_capture {
            match self.captures.get(cap_index as usize) {
                None => return Err(V4l2Error::State(format!("no CAPTURE buffer {cap_index}"))),
                Some(c) if c.removed || matches!(c.memory, Memory::Frame(None)) => {
                    return Err(V4l2Error::State(format!("CAPTURE {cap_index} has no memory")))
                }
                Some(c) if !self.fits_format(c) => {
                    return Err(V4l2Error::State(format!("CAPTURE {cap_index}: a frame of another number of memory planes")))
                }
                Some(c) if c.queued => return Err(V4l2Error::State(format!("CAPTURE {cap_index} already queued"))),
                Some(_) => {}
            }
        }
        self.record(Call::QueueDecode {
            handle: self.handle,
            out: out_index,
            timestamp_ns,
            capture: cap_index,
            queue_capture,
            hold: hold_capture,
            controls: ctrls.len(),
        });
        self.ioctls += 3 + u64::from(queue_capture);
        for op in [FakeOp::RequestControls, FakeOp::QueueOutput, FakeOp::QueueRequest] {
            if let Some(errno) = self.fail(op) {
                let op = match op {
                    FakeOp::RequestControls => Op::SExtCtrls,
                    FakeOp::QueueOutput => Op::QBuf,
                    _ => Op::RequestQueue,
                };
                return Err(ioctl(op, errno));
            }
        }
        let completion = self.with(|s| s.script.completions.pop_front()).unwrap_or(Completion::Done);
        self.requests.push(Request { out: out_index, timestamp_ns, hold: hold_capture, completion, completed: false });
        self.in_flight[out_index as usize] = Some(self.requests.len() - 1);
        if queue_capture {
            if let Some(errno) = self.fail(FakeOp::QueueCapture) {
                // The request is in flight and waits for a CAPTURE buffer (as in the kernel).
                return Err(ioctl(Op::QBuf, errno));
            }
            self.captures[cap_index as usize].queued = true;
            self.capture_queue.push_back(cap_index);
        }
        Ok(())
    }
    fn queue_capture(&mut self, cap_index: u32) -> Result<(), V4l2Error> {
        self.ioctls += 1;
        self.record(Call::QueueCapture { handle: self.handle, index: cap_index });
        match self.captures.get(cap_index as usize) {
            Some(c) if !c.queued && !c.removed && !matches!(c.memory, Memory::Frame(None)) && self.fits_format(c) => {}
            _ => return Err(V4l2Error::State(format!("CAPTURE {cap_index} cannot be queued"))),
        }
        if let Some(errno) = self.fail(FakeOp::QueueCapture) {
            return Err(ioctl(Op::QBuf, errno));
        }
        self.captures[cap_index as usize].queued = true;
        self.capture_queue.push_back(cap_index);
        Ok(())
    }
    fn output_in_flight(&self, out_index: u32) -> bool {
        self.request_of(out_index).is_some()
    }
    fn wait_decode(&mut self, out_index: u32, timeout: Duration, into: &mut Vec<DequeuedCapture>) -> Result<(), V4l2Error> {
        self.record(Call::Wait { handle: self.handle, out: out_index, timeout });
        self.complete(out_index, Some(timeout), into).map(|_| ())
    }
    fn poll_decode(&mut self, out_index: u32, into: &mut Vec<DequeuedCapture>) -> Result<bool, V4l2Error> {
        self.complete(out_index, None, into)
    }
    fn dequeue_capture(&mut self, timeout: Duration, into: &mut Vec<DequeuedCapture>) -> Result<(), V4l2Error> {
        self.record(Call::DequeueCapture { handle: self.handle, timeout });
        self.run();
        let before = into.len();
        self.drain(into)?;
        if into.len() > before || !self.captures.iter().any(|c| c.queued) {
            return Ok(());
        }
        std::thread::sleep(timeout);
        Err(V4l2Error::Timeout { op: Op::Poll, context: "fake: CAPTURE".into() })
    }
    fn flush_held_capture(&mut self) -> Result<(), V4l2Error> {
        self.ioctls += 1;
        self.record(Call::FlushHeld { handle: self.handle });
        match self.held.take() {
            Some((capture, timestamp_ns)) => self.ready.push_back(DequeuedCapture { index: capture, error: false, timestamp_ns }),
            None => self.flush_requested = true,
        }
        Ok(())
    }
    fn capture_queued(&self, index: u32) -> bool {
        self.captures.get(index as usize).is_some_and(|c| c.queued)
    }
    fn capture_plane(&self, index: u32, plane: usize) -> Option<&[u8]> {
        let c = self.captures.get(index as usize).filter(|c| !c.queued)?;
        match &c.memory {
            Memory::Planes(p) => p.get(plane).map(|v| &v[..]),
            Memory::Frame(f) => f.as_ref()?.plane_bytes(plane),
        }
    }
    fn capture_plane_mut(&mut self, index: u32, plane: usize) -> Option<&mut [u8]> {
        let c = self.captures.get_mut(index as usize).filter(|c| !c.queued)?;
        match &mut c.memory {
            Memory::Planes(p) => p.get_mut(plane).map(|v| &mut v[..]),
            Memory::Frame(f) => f.as_mut()?.plane_bytes_mut(plane),
        }
    }
    fn capture_planes(&self, index: u32) -> Option<Vec<&[u8]>> {
        let c = self.captures.get(index as usize).filter(|c| !c.queued)?;
        match &c.memory {
            Memory::Planes(p) => Some(p.iter().map(|v| &v[..]).collect()),
            Memory::Frame(f) => f.as_ref()?.planes_bytes(),
        }
    }
    fn capture_planes_mut(&mut self, index: u32) -> Option<Vec<&mut [u8]>> {
        let c = self.captures.get_mut(index as usize).filter(|c| !c.queued)?;
        match &mut c.memory {
            Memory::Planes(p) => Some(p.iter_mut().map(|v| &mut v[..]).collect()),
            Memory::Frame(f) => f.as_mut()?.planes_bytes_mut(),
        }
    }
    fn capture_plane_length(&mut self, index: u32, plane: usize) -> Result<u32, V4l2Error> {
        let c = self.captures.get(index as usize).ok_or_else(|| ioctl(Op::QueryBuf, Errno::EINVAL))?;
        match &c.memory {
            Memory::Planes(p) => p.get(plane).map(|v| v.len() as u32).ok_or_else(|| ioctl(Op::QueryBuf, Errno::EINVAL)),
            Memory::Frame(_) => self.buffer_sizes().get(plane).copied().ok_or_else(|| ioctl(Op::QueryBuf, Errno::EINVAL)),
        }
    }
    fn capture_buffer_size(&self, index: u32, plane: usize) -> Option<usize> {
        match &self.captures.get(index as usize)?.memory {
            Memory::Planes(p) => p.get(plane).map(Vec::len),
            Memory::Frame(f) => f.as_ref()?.lens().get(plane).copied(),
        }
    }
    fn capture_dmabuf(&mut self, index: u32) -> Result<BorrowedFd<'_>, V4l2Error> {
        self.capture_dmabufs(index)?;
        self.exported_capture_dmabuf_unfenced(index, 0).ok_or_else(|| V4l2Error::State(format!("export of CAPTURE {index}")))
    }
    fn capture_dmabufs(&mut self, index: u32) -> Result<Vec<BorrowedFd<'_>>, V4l2Error> {
        self.record(Call::Export { handle: self.handle, index });
        let c = self.captures.get_mut(index as usize).ok_or_else(|| V4l2Error::State(format!("no CAPTURE {index}")))?;
        if let Memory::Planes(p) = &c.memory {
            if c.exports.is_empty() {
                self.ioctls += p.len() as u64;
                c.exports = p.iter().map(|v| memfd(v.len())).collect::<Result<_, _>>()?;
            }
        }
        c.exported = true;
        match &c.memory {
            Memory::Planes(_) => Ok(c.exports.iter().map(|fd| fd.as_fd()).collect()),
            Memory::Frame(Some(f)) => Ok(f.fds().collect()),
            Memory::Frame(None) => Err(V4l2Error::State(format!("CAPTURE {index} has no frame"))),
        }
    }
    fn exported_capture_dmabuf(&self, index: u32, plane: usize) -> Option<BorrowedFd<'_>> {
        let own = self.exported_capture_dmabuf_unfenced(index, plane)?;
        // A pending reader fence of the buffer covers every memory plane of it.
        let fenced = self.script(|s| s.pending_fences.contains(&index) || s.pending_plane_fences.contains(&(index, plane)));
        Some(if fenced { self.fence.as_fd() } else { own })
    }
}

impl FakeDevice {
    /// The exported dma-buf of memory plane `plane` of CAPTURE `index` itself (a memfd:
    /// always writable, no fences).
    fn exported_capture_dmabuf_unfenced(&self, index: u32, plane: usize) -> Option<BorrowedFd<'_>> {
        let c = self.captures.get(index as usize).filter(|c| c.exported)?;
        match &c.memory {
            Memory::Planes(_) => c.exports.get(plane).map(|fd| fd.as_fd()),
            Memory::Frame(f) => f.as_ref()?.plane_fd(plane),
        }
    }

    /// Whether CAPTURE buffer `c` can take a picture of the current format: a
    /// frame has one dma-buf per memory plane of it (as vb2 checks at QBUF).
    fn fits_format(&self, c: &CaptureBuffer) -> bool {
        match (&c.memory, &self.capture_format) {
            (Memory::Frame(Some(f)), Some(fmt)) => {
                f.num_planes() == fmt.num_planes && f.lens().iter().zip(&fmt.sizeimage).all(|(&l, &s)| l >= s as usize)
            }
            _ => true,
        }
    }

    /// Reader fences that never signal, for [`Script::pending_fences`]: an
    /// eventfd at its maximum count is never writable (POLLOUT).
    pub fn blocked_fence() -> EventFd {
        let e = EventFd::from_value(0).expect("eventfd");
        e.write(u64::MAX - 1).expect("fill eventfd");
        e
    }
}
