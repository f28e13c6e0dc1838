//! A decode context: one V4L2 session, its CAPTURE pool and the decode flow.
//!
//! `vaBeginPicture` / `vaRenderPicture` collect the application's buffers into
//! a reused [`PictureBuffers`]; `vaEndPicture` translates them into V4L2
//! controls, fills OUTPUT buffer(s), binds the target surface to a CAPTURE slot
//! chosen by the pool, queues the request(s) and returns without waiting.
//! `vaSyncSurface` (or a full OUTPUT ring) reaps completed requests with a
//! bounded wait. References are named by a frame counter carried in the
//! buffer timestamp (`frame * 1000` ns, which survives the µs timeval round
//! trip), never by slot index. The counter is process-wide, so a timestamp
//! names one picture even across contexts (resolution changes).

use super::config::{Codec, Config};
use crate::codec::{av1, h264, hevc, mpeg2, vp8, vp9};

mod submit;
use super::frames::{frame_fits, negotiate_formats, FrameSource, OwnFrame};
use crate::device::DeviceOpener;
use crate::driver::error::{VaError, VaResult};
use crate::pool::{CapturePool, FrameId, PinMode, PoolError, SlotId, SurfaceKey};
use crate::v4l2::{CaptureFormat, CaptureMemory, ControlSpec, DecoderDevice, DequeuedCapture};
use crate::va_err;
use crate::va_sys::abi::read_pod;
use crate::va_sys::ffi;
use nix::poll::PollFlags;
use std::collections::{HashMap, VecDeque};
use std::os::fd::OwnedFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use v4l2r::bindings as v4l2;

/// Number of OUTPUT (bitstream) buffers, each with its permanent request.
pub const OUTPUT_RING: u32 = 8;
/// Upper bound for any wait on the device.
pub fn sync_timeout() -> Duration {
    crate::settings::settings().sync_timeout
}

/// Where a surface's latest decode in this context stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeState {
    /// Queued to the device, not reaped yet.
    Pending,
    /// Decoded without error.
    Ready,
    /// The device flagged an error or the wait timed out.
    Failed,
}

/// A frame in flight: its OUTPUT buffers (one per request) and its slot.
struct InFlight {
    surface: SurfaceKey,
    slot: SlotId,
    outputs: Vec<u32>,
    /// The last request held the CAPTURE buffer for a second field still to come.
    held: bool,
}

/// One request of a picture: its bytes in the context's bitstream buffer and
/// its controls, a range of the picture's control list.
struct RequestPart {
    bytes: std::ops::Range<usize>,
    specs: std::ops::Range<usize>,
}

/// An empty vector on `v`'s allocation, for elements of the same layout
/// (element types that differ in their lifetimes only): per-picture lists
/// borrowing the picture's buffers keep their allocation from picture to
/// picture. Collecting a vector's own `into_iter` reuses its allocation when
/// the layouts match (std's in-place collection; not guaranteed, only
/// efficient: otherwise the new vector is empty and unallocated).
fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().map(|_| unreachable!("the vector was cleared")).collect()
}

/// Lists a picture's submission fills and empties, kept to reuse their allocations.
#[derive(Default)]
struct Scratch {
    /// The picture's control list (see [`RequestPart::specs`]).
    specs: Vec<ControlSpec<'static>>,
    parts: Vec<RequestPart>,
    ref_surfaces: Vec<ffi::VASurfaceID>,
    ref_slots: Vec<SlotId>,
    /// Output lists of reaped frames, for the next frames in flight.
    outputs: Vec<Vec<u32>>,
    mpeg2_slices: Vec<mpeg2::Mpeg2Slice<'static>>,
    h264_slices: Vec<h264::SliceInput<'static>>,
    hevc_slices: Vec<hevc::HevcSlice<'static>>,
    av1_tiles: Vec<av1::Av1Tile<'static>>,
    /// HEVC frame-based requests: the entry point offsets of all slices.
    entry_points: Vec<u32>,
}

/// Byte buffers reused from picture to picture: in steady state, copying the
/// application's buffers allocates nothing.
#[derive(Default)]
pub struct ByteStore {
    bufs: Vec<Vec<u8>>,
    used: usize,
}

impl ByteStore {
    fn clear(&mut self) {
        self.used = 0;
    }

    /// Copy `bytes` in; returns its index.
    fn push(&mut self, bytes: &[u8]) -> usize {
        if self.used == self.bufs.len() {
            self.bufs.push(Vec::new());
        }
        let b = &mut self.bufs[self.used];
        b.clear();
        b.extend_from_slice(bytes);
        self.used += 1;
        self.used - 1
    }

    fn get(&self, i: usize) -> &[u8] {
        if i < self.used {
            &self.bufs[i]
        } else {
            &[]
        }
    }
}

/// The application's buffers for the picture being assembled (reused).
#[derive(Default)]
pub struct PictureBuffers {
    pub target: Option<SurfaceKey>,
    pub pic_param: Vec<u8>,
    iq: Vec<u8>,
    has_iq: bool,
    probs: Vec<u8>,
    has_probs: bool,
    /// Slice parameter buffers and slice data buffers, in rendering order.
    params: ByteStore,
    pub slice_data: ByteStore,
    /// (index into `params`, element count, index into `slice_data`).
    pub slice_params: Vec<(usize, u32, usize)>,
    pending_params: Vec<(usize, u32)>,
}

impl PictureBuffers {
    fn clear(&mut self) {
        self.target = None;
        self.pic_param.clear();
        self.has_iq = false;
        self.has_probs = false;
        self.params.clear();
        self.slice_data.clear();
        self.slice_params.clear();
        self.pending_params.clear();
    }

    /// The IQ matrix buffer of this picture, if one was rendered.
    pub fn iq_matrix(&self) -> Option<&[u8]> {
        self.has_iq.then_some(&self.iq[..])
    }

    /// The VP8 probability buffer of this picture, if one was rendered.
    pub fn probabilities(&self) -> Option<&[u8]> {
        self.has_probs.then_some(&self.probs[..])
    }

    /// Slice parameter bytes of entry `i` of `slice_params`.
    pub fn params(&self, i: usize) -> &[u8] {
        self.params.get(i)
    }
}

/// H.264 / HEVC device modes (decode mode, start codes), read from the device's current control values.
#[derive(Clone, Copy, Debug)]
struct StreamMode {
    slice_based: bool,
    annex_b: bool,
}

pub struct Context {
    pub config: Config,
    pub width: u32,
    pub height: u32,
    /// The decoder handle (a V4L2 session; a scripted fake in tests).
    session: Box<dyn DecoderDevice>,
    pool: CapturePool,
    capture: CaptureFormat,
    picture: PictureBuffers,
    in_flight: VecDeque<InFlight>,
    states: HashMap<SurfaceKey, DecodeState>,
    stream_mode: StreamMode,
    bitstream: Vec<u8>,
    decodes: u64,
    codec_state: CodecState,
    /// Per CAPTURE slot: whether its latest picture was coded as fields.
    field_coded: Vec<bool>,
    /// Allocates frames for the CAPTURE queue when it takes dma-bufs (`None`:
    /// the queue's own MMAP buffers). Each slot has one dma-buf either way;
    /// every export hands out a duplicate of it, so consumers' reader fences
    /// land on the dma-buf polled before the slot is queued again.
    frames: Option<FrameSource>,
    /// Where `frames` is opened from (`None`: MMAP buffers).
    frames_from: Option<FrameOrigin>,
    fence_timeout: Duration,
    /// Bound of every wait for the device (read once, see [`sync_timeout`]).
    sync_timeout: Duration,
    /// The device takes V4L2_CID_STATELESS_VP9_COMPRESSED_HDR.
    vp9_compressed_hdr: bool,
    /// The device takes V4L2_CID_STATELESS_HEVC_ENTRY_POINT_OFFSETS.
    hevc_entry_points: bool,
    /// AV1: the latest picture, held back until the next picture tells its
    /// refresh_frame_flags (see [`Context::submit_av1`]).
    deferred_av1: Option<DeferredAv1>,
    /// Bitstream of the deferred AV1 picture (swapped with `bitstream`, reused).
    deferred_bits: Vec<u8>,
    /// AV1 pictures queued with exact / guessed refresh_frame_flags.
    av1_refresh: (u64, u64),
    /// H.264: the surface, parity (bottom?) and order count of the first field
    /// just queued, whose CAPTURE buffer is held for the second field.
    h264_first_field: Option<(SurfaceKey, bool, i32)>,
    /// Which surfaces keep their slot (`LIBVA_V4L2_REQUEST_PIN`).
    pin_mode: PinMode,
    /// Composed-layer exports per surface (a consumer importing by surface id
    /// exports the same surface again and again).
    composed_exports: HashMap<SurfaceKey, u32>,
    /// Bytes of one CAPTURE buffer (all planes).
    frame_bytes: u64,
    /// The memory budget was reached once (logged once).
    budget_logged: bool,
    /// Surfaces whose slot is an application's buffer (import): retired with them.
    imported: HashMap<SurfaceKey, SlotId>,
    /// CAPTURE buffers dequeued while reaping a frame (reused, empty between reaps).
    reaped: Vec<DequeuedCapture>,
    scratch: Scratch,
}

/// What a context's frame allocation handle is opened with.
struct FrameOrigin {
    opener: Arc<dyn DeviceOpener>,
    node: crate::device::DecoderNode,
    coded_fourcc: u32,
    width: u32,
    height: u32,
    ten_bit: bool,
}

impl FrameOrigin {
    /// Open the allocation handle; its CAPTURE format must be the context's.
    fn open(&self, capture: &CaptureFormat) -> VaResult<FrameSource> {
        let src = FrameSource::open(&*self.opener, &self.node, self.coded_fourcc, self.width, self.height, self.ten_bit)?;
        if src.format() != capture {
            return Err(va_err!(
                VA_STATUS_ERROR_ALLOCATION_FAILED,
                "frame allocation handle got CAPTURE {:?}, the context {:?}",
                src.format(),
                capture
            ));
        }
        Ok(src)
    }
}

/// An AV1 picture translated but not queued yet.
struct DeferredAv1 {
    target: SurfaceKey,
    refs: [ffi::VASurfaceID; 8],
    ctrls: av1::Av1Controls,
    /// refresh_frame_flags is known (shown key frame, switch frame, or learnt
    /// from the next picture's ref_frame_map).
    exact: bool,
}

/// Per-codec translation state carried from picture to picture.
enum CodecState {
    H264(h264::H264State),
    Mpeg2(Box<mpeg2::Mpeg2State>),
    Vp8(vp8::Vp8State),
    Vp9(Box<vp9::Vp9State>),
    Av1(Box<av1::Av1State>),
    Hevc(hevc::HevcState),
}

impl CodecState {
    fn new(codec: Codec) -> Self {
        match codec {
            Codec::H264 => CodecState::H264(h264::H264State::new()),
            Codec::Mpeg2 => CodecState::Mpeg2(Box::new(mpeg2::Mpeg2State::new())),
            Codec::Vp8 => CodecState::Vp8(vp8::Vp8State::new()),
            Codec::Vp9 => CodecState::Vp9(Box::default()),
            Codec::Av1 => CodecState::Av1(Box::default()),
            Codec::Hevc => CodecState::Hevc(hevc::HevcState::new()),
        }
    }
}

/// Resolves reference surfaces to the timestamps of the frames their slots hold.
struct PoolRefs<'a> {
    pool: &'a CapturePool,
    /// Per slot: whether its picture was coded as fields.
    field_coded: &'a [bool],
}

impl h264::RefResolver for PoolRefs<'_> {
    fn timestamp(&self, surface: ffi::VASurfaceID) -> Option<u64> {
        self.pool.surface_frame(surface).map(frame_timestamp)
    }

    fn field_coded(&self, surface: ffi::VASurfaceID) -> Option<bool> {
        let slot = self.pool.surface_slot(surface)?;
        self.field_coded.get(slot.0 as usize).copied()
    }
}

/// The next frame number (process-wide; 0 never names a frame).
static NEXT_FRAME: AtomicU64 = AtomicU64::new(1);

/// Upper bound of the wait for consumers' reader fences before an exported
/// slot is queued again (`LIBVA_V4L2_REQUEST_FENCE_TIMEOUT_MS`, default 2000).
pub fn fence_timeout() -> Duration {
    crate::settings::settings().fence_timeout
}

/// Device-mode overrides for H.264 and HEVC (`LIBVA_V4L2_REQUEST_DECODE_MODE=frame|slice`,
/// `LIBVA_V4L2_REQUEST_START_CODE=annexb|none`): by default the driver uses the device's
/// current values, as GStreamer does; the overrides exercise the other paths on devices
/// (like visl) that offer both.
fn apply_mode_overrides(session: &mut dyn DecoderDevice, codec: Codec) {
    use v4l2 as b;
    let (mode_id, frame, slice, start_id, annexb, none) = match codec {
        Codec::H264 => (
            b::V4L2_CID_STATELESS_H264_DECODE_MODE,
            b::v4l2_stateless_h264_decode_mode_V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED,
            b::v4l2_stateless_h264_decode_mode_V4L2_STATELESS_H264_DECODE_MODE_SLICE_BASED,
            b::V4L2_CID_STATELESS_H264_START_CODE,
            b::v4l2_stateless_h264_start_code_V4L2_STATELESS_H264_START_CODE_ANNEX_B,
            b::v4l2_stateless_h264_start_code_V4L2_STATELESS_H264_START_CODE_NONE,
        ),
        Codec::Hevc => (
            b::V4L2_CID_STATELESS_HEVC_DECODE_MODE,
            b::v4l2_stateless_hevc_decode_mode_V4L2_STATELESS_HEVC_DECODE_MODE_FRAME_BASED,
            b::v4l2_stateless_hevc_decode_mode_V4L2_STATELESS_HEVC_DECODE_MODE_SLICE_BASED,
            b::V4L2_CID_STATELESS_HEVC_START_CODE,
            b::v4l2_stateless_hevc_start_code_V4L2_STATELESS_HEVC_START_CODE_ANNEX_B,
            b::v4l2_stateless_hevc_start_code_V4L2_STATELESS_HEVC_START_CODE_NONE,
        ),
        _ => return,
    };
    let mut values = Vec::new();
    use crate::settings::{settings, DecodeModeOverride, StartCodeOverride};
    match settings().decode_mode {
        Some(DecodeModeOverride::Frame) => values.push((mode_id, frame as i32)),
        Some(DecodeModeOverride::Slice) => values.push((mode_id, slice as i32)),
        None => {}
    }
    match settings().start_code {
        Some(StartCodeOverride::AnnexB) => values.push((start_id, annexb as i32)),
        Some(StartCodeOverride::NoStartCode) => values.push((start_id, none as i32)),
        None => {}
    }
    if let Err(e) = session.set_control_values(&values) {
        log::warn!("decode mode override not applied: {e}");
    }
}

/// A device without HOLD_CAPTURE_BUF cannot take a picture in several
/// requests: use frame-based decoding where its decode-mode menu offers it.
fn prefer_frame_based(session: &mut dyn DecoderDevice, codec: Codec, mode: StreamMode) -> StreamMode {
    use v4l2 as b;
    let (id, frame) = match codec {
        Codec::H264 => {
            (b::V4L2_CID_STATELESS_H264_DECODE_MODE, b::v4l2_stateless_h264_decode_mode_V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED)
        }
        Codec::Hevc => {
            (b::V4L2_CID_STATELESS_HEVC_DECODE_MODE, b::v4l2_stateless_hevc_decode_mode_V4L2_STATELESS_HEVC_DECODE_MODE_FRAME_BASED)
        }
        _ => return mode,
    };
    let offered = session.menu_values(id).map(|v| v.contains(&frame)).unwrap_or(false);
    if !offered {
        log::info!(
            "{}: no HOLD_CAPTURE_BUF and slice-based only: pictures of several slices will be refused",
            session.video_path().display()
        );
        return mode;
    }
    match session.set_control_values(&[(id, frame as i32)]) {
        Ok(()) => {
            log::info!("{}: no HOLD_CAPTURE_BUF: decoding frame-based", session.video_path().display());
            StreamMode { slice_based: false, ..mode }
        }
        Err(e) => {
            log::warn!(
                "{}: frame-based decode mode refused ({e}): pictures of several slices will be refused",
                session.video_path().display()
            );
            mode
        }
    }
}

/// V4L2 timestamp (ns) naming frame `frame`.
pub fn frame_timestamp(frame: FrameId) -> u64 {
    frame * 1000
}

#[cfg(test)]
pub use super::frames::capture_fourcc_for;

/// Whether a picture of `bit_depth` bits decodes on a context that is (or is
/// not) 10-bit: exactly 10 on 10-bit contexts, exactly 8 otherwise.
pub fn depth_matches(ten_bit_context: bool, bit_depth: u32) -> bool {
    bit_depth == if ten_bit_context { 10 } else { 8 }
}

/// What vaEndPicture reports for a picture whose submission ended with
/// `outcome` (`Err` when it panicked): a panic becomes an error, and any error
/// marks the target surface [`DecodeState::Failed`], so that vaSyncSurface
/// reports it instead of the state of the surface's previous picture.
fn settle_picture(
    states: &mut HashMap<SurfaceKey, DecodeState>,
    target: SurfaceKey,
    outcome: std::thread::Result<VaResult<()>>,
) -> VaResult<()> {
    let result = outcome.unwrap_or_else(|panic| {
        let what = crate::logging::panic_message(panic.as_ref());
        log::error!("surface {target:#x}: internal error while translating the picture (panic caught): {what}");
        Err(va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "surface {target:#x}: internal error while translating the picture: {what}"))
    });
    if result.is_err() {
        states.insert(target, DecodeState::Failed);
    }
    result
}

/// What vaSyncSurface reports for `surface` once nothing of it is in flight.
fn settled_status(states: &HashMap<SurfaceKey, DecodeState>, surface: SurfaceKey) -> VaResult<()> {
    match states.get(&surface) {
        Some(DecodeState::Failed) => Err(va_err!(VA_STATUS_ERROR_DECODING_ERROR, "decode of surface {surface:#x} failed")),
        _ => Ok(()),
    }
}

fn v4l2_err(what: &str, e: impl std::fmt::Display) -> VaError {
    va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "{what}: {e}")
}

fn pool_err(e: PoolError) -> VaError {
    va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "capture pool: {e}")
}

impl Context {
    /// Open a session on `node` (through `opener`), negotiate formats and
    /// allocate both queues. Formats are always negotiated afresh: nothing is
    /// cached across sessions.
    pub fn new(
        opener: &Arc<dyn DeviceOpener>,
        config: Config,
        node: &crate::device::DecoderNode,
        width: u32,
        height: u32,
        num_surfaces: usize,
        ten_bit: bool,
    ) -> VaResult<Self> {
        let mut session = opener.open(node).map_err(|e| v4l2_err("open decoder", e))?;
        let codec = config.codec;
        let vp9_compressed_hdr = config.codec == Codec::Vp9 && session.has_control(v4l2::V4L2_CID_STATELESS_VP9_COMPRESSED_HDR);
        apply_mode_overrides(&mut *session, config.codec);
        let stream_mode = match config.codec {
            Codec::H264 => StreamMode {
                slice_based: session
                    .get_control(v4l2::V4L2_CID_STATELESS_H264_DECODE_MODE)
                    .map(|v| v == v4l2::v4l2_stateless_h264_decode_mode_V4L2_STATELESS_H264_DECODE_MODE_SLICE_BASED as i32)
                    .unwrap_or(false),
                annex_b: session
                    .get_control(v4l2::V4L2_CID_STATELESS_H264_START_CODE)
                    .map(|v| v == v4l2::v4l2_stateless_h264_start_code_V4L2_STATELESS_H264_START_CODE_ANNEX_B as i32)
                    .unwrap_or(false),
            },
            Codec::Hevc => StreamMode {
                slice_based: session
                    .get_control(v4l2::V4L2_CID_STATELESS_HEVC_DECODE_MODE)
                    .map(|v| v == v4l2::v4l2_stateless_hevc_decode_mode_V4L2_STATELESS_HEVC_DECODE_MODE_SLICE_BASED as i32)
                    .unwrap_or(false),
                annex_b: session
                    .get_control(v4l2::V4L2_CID_STATELESS_HEVC_START_CODE)
                    .map(|v| v == v4l2::v4l2_stateless_hevc_start_code_V4L2_STATELESS_HEVC_START_CODE_ANNEX_B as i32)
                    .unwrap_or(false),
            },
            _ => StreamMode { slice_based: false, annex_b: false },
        };
        let hevc_entry_points = config.codec == Codec::Hevc && session.has_control(v4l2::V4L2_CID_STATELESS_HEVC_ENTRY_POINT_OFFSETS);
        let capture = negotiate_formats(&mut *session, node, config.coded_fourcc, width, height, ten_bit)?;
        let policy = crate::settings::settings().pool_policy;
        // Nothing is allocated up front unless asked (LIBVA_V4L2_REQUEST_POOL_SIZE):
        // the pool grows when a decode finds no eligible slot, up to what the
        // memory budget allows.
        let slots = crate::settings::settings().pool_size.unwrap_or(0) as u32;
        let frame_bytes = capture.sizeimage[..capture.num_planes].iter().map(|&b| b as u64).sum::<u64>().max(1);
        let budget = crate::settings::settings().pool_memory;
        let max_slots = crate::pool::max_slots_for(budget, frame_bytes);
        // Frames (DMABUF) where the device's CAPTURE queue takes them: picture
        // memory then exists independently of this queue (surfaces can own it
        // before a context exists, see super::frames). MMAP otherwise.
        // The allocation handle is opened when the first frame is needed (a
        // context that never decodes costs no second handle).
        let frames_from = (capture.num_planes == 1 && crate::settings::settings().capture_frames && session.capture_supports_dmabuf())
            .then(|| FrameOrigin { opener: opener.clone(), node: node.clone(), coded_fourcc: config.coded_fourcc, width, height, ten_bit });
        let mut frames = None;
        let got = match &frames_from {
            Some(origin) => {
                let f = if slots > 0 {
                    let src = frames.insert(origin.open(&capture)?);
                    src.allocate(slots.min(max_slots as u32))?
                } else {
                    Vec::new()
                };
                session.alloc_capture_frames(f, max_slots as u32).map_err(|e| v4l2_err("allocate CAPTURE buffers (DMABUF)", e))?
            }
            // MMAP: the queue is set up empty (REQBUFS 0); buffers come with
            // CREATE_BUFS as the pool grows, the first with the first picture.
            None => session.alloc_capture(slots.min(max_slots as u32)).map_err(|e| v4l2_err("allocate CAPTURE buffers", e))?,
        };
        // OUTPUT buffers come with the first picture (a context that never
        // decodes, or is created far bigger than its pictures, costs nothing);
        // their capabilities are needed now.
        session.query_output_caps().map_err(|e| v4l2_err("query the OUTPUT queue", e))?;
        // Known only now (the OUTPUT queue's capabilities): without HOLD_CAPTURE_BUF
        // a picture must be one request, so a slice-based H.264/HEVC device that
        // also decodes frame-based is switched to frame-based.
        let stream_mode = if stream_mode.slice_based && !session.supports_hold_capture() {
            prefer_frame_based(&mut *session, codec, stream_mode)
        } else {
            stream_mode
        };
        log::info!(
            "context: {:?} {width}x{height} on {}: CAPTURE {} {}x{} pitch {} {:?}, {:?}; pool: slots={got} surfaces={num_surfaces} policy={} max={max_slots} budget={}MiB margin={}",
            config.codec,
            node.video_path.display(),
            crate::v4l2::fourcc_to_string(capture.fourcc),
            capture.width,
            capture.height,
            capture.bytesperline[0],
            session.capture_memory(),
            stream_mode,
            policy.name(),
            budget >> 20,
            crate::pool::EXPORT_MARGIN
        );
        Ok(Context {
            config,
            width,
            height,
            session,
            pool: CapturePool::new(got as usize, max_slots, policy),
            frame_bytes,
            budget_logged: false,
            capture,
            picture: PictureBuffers::default(),
            in_flight: VecDeque::new(),
            states: HashMap::new(),
            stream_mode,
            bitstream: Vec::new(),
            decodes: 0,
            codec_state: CodecState::new(codec),
            vp9_compressed_hdr,
            hevc_entry_points,
            deferred_av1: None,
            deferred_bits: Vec::new(),
            av1_refresh: (0, 0),
            h264_first_field: None,
            pin_mode: crate::settings::settings().pin_mode,
            composed_exports: HashMap::new(),
            imported: HashMap::new(),
            reaped: Vec::new(),
            scratch: Scratch::default(),
            field_coded: vec![false; got as usize],
            frames,
            frames_from,
            fence_timeout: fence_timeout(),
            sync_timeout: sync_timeout(),
        })
    }

    pub fn capture_format(&self) -> &CaptureFormat {
        &self.capture
    }

    /// Whether this context decodes 10-bit (P010) pictures.
    pub fn ten_bit(&self) -> bool {
        self.capture.fourcc == crate::v4l2::V4L2_PIX_FMT_P010
    }

    /// VA fourcc of the surfaces this context decodes into (NV12 or P010).
    pub fn surface_fourcc(&self) -> u32 {
        if self.ten_bit() {
            ffi::VA_FOURCC_P010
        } else {
            ffi::VA_FOURCC_NV12
        }
    }

    /// Refuse a picture whose bit depth is not the context's (8-bit streams on
    /// 10-bit contexts too), before anything reaches the device.
    fn check_depth(&self, what: &str, bit_depth: u32) -> VaResult<()> {
        if depth_matches(self.ten_bit(), bit_depth) {
            return Ok(());
        }
        Err(va_err!(
            VA_STATUS_ERROR_UNSUPPORTED_PROFILE,
            "{what}: a {bit_depth}-bit picture on a {}-bit context (config profile {})",
            if self.ten_bit() { 10 } else { 8 },
            self.config.profile
        ))
    }

    pub fn begin_picture(&mut self, target: SurfaceKey) -> VaResult<()> {
        if let Some(t) = self.picture.target {
            log::warn!("vaBeginPicture on surface {target:#x} while a picture for {t:#x} is open: dropping it");
        }
        self.picture.clear();
        self.picture.target = Some(target);
        Ok(())
    }

    /// Collect one rendered buffer (its bytes are copied: the application may
    /// reuse or destroy it right after vaRenderPicture).
    pub fn render_buffer(&mut self, buf_type: ffi::VABufferType, bytes: &[u8], num_elements: u32) -> VaResult<()> {
        if self.picture.target.is_none() {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "vaRenderPicture without vaBeginPicture"));
        }
        match buf_type {
            ffi::VAPictureParameterBufferType => {
                self.picture.pic_param.clear();
                self.picture.pic_param.extend_from_slice(bytes);
            }
            ffi::VAIQMatrixBufferType => {
                let pic = &mut self.picture;
                pic.iq.clear();
                pic.iq.extend_from_slice(bytes);
                pic.has_iq = true;
            }
            ffi::VAProbabilityBufferType => {
                let pic = &mut self.picture;
                pic.probs.clear();
                pic.probs.extend_from_slice(bytes);
                pic.has_probs = true;
            }
            ffi::VASliceParameterBufferType => {
                let idx = self.picture.params.push(bytes);
                self.picture.pending_params.push((idx, num_elements));
            }
            ffi::VASliceDataBufferType => {
                let pic = &mut self.picture;
                let idx = pic.slice_data.push(bytes);
                for (p, n) in pic.pending_params.drain(..) {
                    pic.slice_params.push((p, n, idx));
                }
            }
            other => log::debug!("ignoring VA buffer type {other}"),
        }
        Ok(())
    }

    /// Translate and queue the collected picture; returns without waiting.
    pub fn end_picture(&mut self) -> VaResult<()> {
        let target =
            self.picture.target.ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "vaEndPicture without vaBeginPicture"))?;
        // Taken out while submitting (slices borrow it), put back to reuse its allocations.
        let mut picture = std::mem::take(&mut self.picture);
        // A panic in the translation (a bug reachable from the application's
        // parameters) is caught here, not only by the vtable guard: the picture
        // then fails like any other instead of leaving its surface's old state.
        let outcome = catch_unwind(AssertUnwindSafe(|| match self.config.codec {
            Codec::H264 => self.submit_h264(&picture, target),
            Codec::Mpeg2 => self.submit_mpeg2(&picture, target),
            Codec::Vp8 => self.submit_vp8(&picture, target),
            Codec::Vp9 => self.submit_vp9(&picture, target),
            Codec::Av1 => self.submit_av1(&picture, target),
            Codec::Hevc => self.submit_hevc(&picture, target),
        }));
        picture.clear();
        self.picture = picture;
        settle_picture(&mut self.states, target, outcome)
    }

    /// Slot of each valid reference surface, without duplicates, into `refs`.
    fn ref_slots(&self, surfaces: &[ffi::VASurfaceID], refs: &mut Vec<SlotId>) {
        refs.clear();
        for &s in surfaces {
            if s == ffi::VA_INVALID_SURFACE {
                continue;
            }
            if let Some(slot) = self.pool.surface_slot(s) {
                if !refs.contains(&slot) {
                    refs.push(slot);
                }
            }
        }
    }

    /// Queue a picture made of one or more requests (`parts`, whose bytes are in
    /// `self.bitstream` and whose controls are in `specs`): bind a CAPTURE slot for `target` (never one that
    /// `ref_surfaces` still need), queue every request, and track the frame as
    /// in flight. Every request but the last holds the CAPTURE buffer (slices of
    /// one frame), and so does the last with `hold_last` (first field of a pair).
    /// A `second_field` decodes into the slot the target's first field (still in
    /// flight) holds, with the same timestamp. Returns the slot.
    fn submit_parts(
        &mut self,
        target: SurfaceKey,
        ref_surfaces: &[ffi::VASurfaceID],
        specs: &[ControlSpec],
        parts: &[RequestPart],
        hold_last: bool,
        second_field: bool,
    ) -> VaResult<SlotId> {
        if (parts.len() > 1 || hold_last || second_field) && !self.session.supports_hold_capture() {
            // Without V4L2_BUF_CAP_SUPPORTS_M2M_HOLD_CAPTURE_BUF the kernel drops the
            // flag: the buffer would come back after the first request and the rest
            // of the picture would decode into another frame's buffer.
            return Err(va_err!(
                VA_STATUS_ERROR_DECODING_ERROR,
                "surface {target:#x}: {} needs V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF, which {} does not support: picture refused",
                if parts.len() > 1 { format!("a picture of {} slice requests", parts.len()) } else { "a field picture pair".to_string() },
                self.session.video_path().display()
            ));
        }
        let (slot, frame) = if second_field {
            let Some(first) = self.in_flight.iter().rev().find(|f| f.surface == target) else {
                return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "second field without a first field in flight"));
            };
            let slot = first.slot;
            let frame =
                self.pool.slot_frame(slot).ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "first field's slot has no frame"))?;
            (slot, frame)
        } else {
            let mut refs = std::mem::take(&mut self.scratch.ref_slots);
            self.ref_slots(ref_surfaces, &mut refs);
            // A surface decoded again before it was synced: finish the old decode first.
            let bound = match self.states.get(&target) {
                Some(&DecodeState::Pending) => self.sync(target),
                _ => Ok(()),
            };
            let bound = bound.and_then(|()| {
                let frame = NEXT_FRAME.fetch_add(1, Ordering::Relaxed);
                Ok((self.bind_slot(target, frame, &refs)?, frame))
            });
            self.scratch.ref_slots = refs;
            bound?
        };
        let ts = frame_timestamp(frame);
        let mut outputs = self.scratch.outputs.pop().unwrap_or_default();
        outputs.clear();
        let mut result = Ok(());
        for (i, part) in parts.iter().enumerate() {
            let queue_capture = i == 0 && !second_field;
            let hold = i + 1 < parts.len() || hold_last;
            let part_specs = specs.get(part.specs.clone()).unwrap_or_default();
            match self.queue_one(part_specs, part.bytes.clone(), ts, slot, queue_capture, hold) {
                Ok(out) => outputs.push(out),
                Err(e) => {
                    if !outputs.is_empty() {
                        log::error!(
                            "request {i} of {} for surface {target:#x} failed after earlier ones were queued: \
                             the CAPTURE buffer completes with what was queued",
                            parts.len()
                        );
                    }
                    result = Err(e);
                    break;
                }
            }
        }
        // (Queuing may have reaped older frames: look the first field up again.)
        let first = if second_field { self.in_flight.iter_mut().rev().find(|f| f.surface == target && f.slot == slot) } else { None };
        match first {
            Some(f) => {
                f.outputs.extend_from_slice(&outputs);
                f.held = hold_last && result.is_ok();
                self.scratch.outputs.push(outputs);
            }
            None if second_field => {
                log::error!("surface {target:#x}: its first field completed before the second field was queued");
                self.scratch.outputs.push(outputs);
            }
            None if outputs.is_empty() => {
                // Nothing reached the device: the slot goes straight back.
                let _ = self.pool.abort_decode(slot);
                self.states.insert(target, DecodeState::Failed);
                self.scratch.outputs.push(outputs);
            }
            None => {
                self.states.insert(target, DecodeState::Pending);
                let held = hold_last && result.is_ok();
                self.in_flight.push_back(InFlight { surface: target, slot, outputs, held });
                self.decodes += 1;
            }
        }
        result.map(|()| slot)
    }

    /// A picture made of one request over the whole of `self.bitstream`.
    fn submit_single(
        &mut self,
        target: SurfaceKey,
        ref_surfaces: &[ffi::VASurfaceID],
        specs: &[ControlSpec],
        hold: bool,
        second_field: bool,
    ) -> VaResult<()> {
        let parts = [RequestPart { bytes: 0..self.bitstream.len(), specs: 0..specs.len() }];
        self.submit_parts(target, ref_surfaces, specs, &parts, hold, second_field).map(|_| ())
    }

    /// Fill a free OUTPUT buffer with `self.bitstream[bytes]` and queue one request.
    fn queue_one(
        &mut self,
        specs: &[ControlSpec],
        bytes: std::ops::Range<usize>,
        ts: u64,
        slot: SlotId,
        queue_capture: bool,
        hold: bool,
    ) -> VaResult<u32> {
        self.start_streaming()?;
        let out = self.acquire_output(slot)?;
        if queue_capture {
            self.wait_for_readers(slot);
        }
        let data = self
            .bitstream
            .get(bytes.clone())
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "bitstream range {bytes:?} out of bounds"))?;
        let len = data.len();
        if len > self.session.output_buffer_size() {
            // Growing the OUTPUT buffers re-allocates the queue: finish what is in flight.
            while !self.in_flight.is_empty() {
                self.reap_front(true)?;
            }
            log::info!("bitstream of {len} bytes: growing the OUTPUT buffers");
        }
        self.session.ensure_output_size(len).map_err(|e| v4l2_err("grow OUTPUT buffers", e))?;
        let buf = self
            .session
            .output_buffer_mut(out)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "OUTPUT buffer {out} not mapped"))?;
        buf.get_mut(..len)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "bitstream of {len} bytes does not fit"))?
            .copy_from_slice(&self.bitstream[bytes]);
        match self.session.queue_decode(out, len, ts, specs, slot.0, queue_capture, hold) {
            Ok(()) => Ok(out),
            // The request reached the device but its CAPTURE buffer did not:
            // the device would decode it into the next CAPTURE buffer queued
            // (the next picture's), and every later picture would land one
            // buffer late. Queue the buffer again; the frame goes on if it takes.
            Err(e) if queue_capture && self.session.output_in_flight(out) => {
                log::warn!("CAPTURE buffer {} not queued with its request ({e}): queuing it again", slot.0);
                self.session.queue_capture(slot.0).map_err(|e2| {
                    log::error!(
                        "CAPTURE buffer {} refused again ({e2}): a request without its CAPTURE buffer is in flight, later pictures may land one buffer late (their timestamps will not match and they will fail)",
                        slot.0
                    );
                    va_err!(VA_STATUS_ERROR_DECODING_ERROR, "queue decode: {e}")
                })?;
                Ok(out)
            }
            Err(e) => Err(va_err!(VA_STATUS_ERROR_DECODING_ERROR, "queue decode: {e}")),
        }
    }

    /// Allocate the OUTPUT buffers and STREAMON both queues, before the first picture.
    fn start_streaming(&mut self) -> VaResult<()> {
        if !self.session.output_allocated() {
            self.session.alloc_output(OUTPUT_RING).map_err(|e| v4l2_err("allocate OUTPUT buffers", e))?;
        }
        self.session.stream_on().map_err(|e| v4l2_err("stream on", e))
    }

    /// A free OUTPUT buffer, reaping the oldest frame in flight when the ring is full.
    /// When that frame is the first field of the picture being queued into `slot`
    /// (its CAPTURE buffer held for the second field), only its requests are waited for.
    fn acquire_output(&mut self, slot: SlotId) -> VaResult<u32> {
        for _ in 0..=OUTPUT_RING {
            if let Some(out) = self.session.next_output() {
                return Ok(out);
            }
            match self.in_flight.front_mut() {
                Some(f) if f.held && f.slot == slot && !f.outputs.is_empty() => {
                    for out in std::mem::take(&mut f.outputs) {
                        let mut captures = std::mem::take(&mut self.reaped);
                        captures.clear();
                        let waited = self.session.wait_decode(out, self.sync_timeout, &mut captures);
                        for c in captures.drain(..) {
                            self.complete_capture(c);
                        }
                        self.reaped = captures;
                        waited.map_err(|e| va_err!(VA_STATUS_ERROR_DECODING_ERROR, "waiting for a first field: {e}"))?;
                    }
                }
                Some(f) => {
                    let s = f.surface;
                    self.reap_front(true)?;
                    log::trace!("OUTPUT ring full: reaped the decode of surface {s:#x}");
                }
                None => break,
            }
        }
        Err(va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "no free OUTPUT buffer"))
    }

    /// Choose a CAPTURE slot for `frame`, growing the pool when it asks to.
    fn bind_slot(&mut self, surface: SurfaceKey, frame: FrameId, refs: &[SlotId]) -> VaResult<SlotId> {
        if self.pin_mode == PinMode::Always && !self.pool.is_surface_pinned(surface) {
            self.pool.pin_surface(surface);
        }
        // A pinned surface's consumer shows whatever lands in its own buffer:
        // rather than falling back to another slot while pending decodes still
        // read (or write) it, finish those decodes first (bounded by what is in flight).
        for _ in 0..self.in_flight.len() {
            if !self.pool.pinned_slot_busy(surface, refs) {
                break;
            }
            self.reap_front(true)?;
        }
        loop {
            match self.pool.begin_decode(surface, frame, refs) {
                Ok(slot) => {
                    self.shrink();
                    return Ok(slot);
                }
                Err(PoolError::NeedGrow) => self.grow()?,
                Err(PoolError::Exhausted) if !self.in_flight.is_empty() => {
                    // Every slot is busy: wait for the oldest decode to free one.
                    self.note_budget();
                    self.reap_front(true)?;
                }
                Err(e) => return Err(pool_err(e)),
            }
        }
    }

    /// Give a buffer the pool has had to spare for a while back to the device
    /// (VIDIOC_REMOVE_BUFS; DMABUF queues of kernels that have it). Without
    /// it, surplus buffers stay until the context ends.
    fn shrink(&mut self) {
        if !self.session.can_remove_capture() {
            return;
        }
        let Some(slot) = self.pool.surplus_slot() else { return };
        if let Err(e) = self.session.remove_capture_frame(slot.0) {
            log::warn!("CAPTURE pool: giving back buffer {} failed ({e}); it stays until the context ends", slot.0);
            return;
        }
        if let Err(e) = self.pool.remove_slot(slot) {
            log::warn!("CAPTURE pool: {e}");
            return;
        }
        log::debug!(
            "CAPTURE pool: buffer {} given back (spare for {} decodes), {} left",
            slot.0,
            crate::pool::SHRINK_WINDOW,
            self.pool.live()
        );
    }

    /// Add a CAPTURE buffer when the pool asks for one (a frame, or CREATE_BUFS),
    /// first where one was given back.
    fn grow(&mut self) -> VaResult<()> {
        if let Some(slot) = self.pool.removed_slot() {
            let frame = self.frame_source()?.allocate(1)?.pop();
            let frame = frame.ok_or_else(|| va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "no frame for CAPTURE buffer {}", slot.0))?;
            self.session.restore_capture_frame(slot.0, frame).map_err(|e| v4l2_err("refill CAPTURE pool", e))?;
            self.pool.revive_slot(slot).map_err(pool_err)?;
            log::debug!("CAPTURE pool: buffer {} back, {} live", slot.0, self.pool.live());
            return Ok(());
        }
        let extra = 1u32;
        let range = if self.frames_from.is_some() {
            let frames = self.frame_source()?.allocate(extra)?;
            self.session.add_capture_frames(frames)
        } else {
            self.session.grow_capture(extra)
        }
        .map_err(|e| v4l2_err("grow CAPTURE pool", e))?;
        let n = (range.end - range.start) as usize;
        if n == 0 {
            return Err(va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "CAPTURE pool cannot grow"));
        }
        self.pool.add_slots(n).map_err(pool_err)?;
        self.field_coded.resize(self.pool.len(), false);
        log::debug!("CAPTURE pool grew to {} slots", self.pool.len());
        Ok(())
    }

    /// Where this context's frames come from (opened on first use).
    fn frame_source(&mut self) -> VaResult<&mut FrameSource> {
        let Some(origin) = &self.frames_from else {
            return Err(va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "this context's CAPTURE buffers are not frames"));
        };
        if self.frames.is_none() {
            self.frames = Some(origin.open(&self.capture)?);
        }
        self.frames.as_mut().ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "no frame source"))
    }

    /// The pool reached its maximum (the memory budget): say so once.
    fn note_budget(&mut self) {
        if !self.budget_logged {
            self.budget_logged = true;
            log::info!(
                "CAPTURE pool at its maximum of {} buffers ({} MiB): waiting for decodes instead of growing, exported buffers reused after their reader fences (set {} to change the budget)",
                self.pool.len(),
                (self.pool.len() as u64 * self.frame_bytes) >> 20,
                crate::settings::POOL_MEMORY_ENV
            );
        }
    }

    /// Complete the oldest frame in flight (waiting up to the sync timeout when `wait`).
    /// Returns false when `wait` is false and it is not done yet.
    fn reap_front(&mut self, wait: bool) -> VaResult<bool> {
        let budget = if wait { Some(self.sync_timeout) } else { None };
        self.reap_front_within(budget)
    }

    /// [`reap_front`](Self::reap_front) with an explicit bound: `None` polls,
    /// `Some(t)` waits at most about `t` in all. CAPTURE buffers dequeued on the
    /// way are always accounted for, whatever the outcome.
    fn reap_front_within(&mut self, budget: Option<Duration>) -> VaResult<bool> {
        let Some(front) = self.in_flight.front() else { return Ok(true) };
        let deadline = budget.map(crate::v4l2::session::deadline_after);
        let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if budget.is_some() && front.held {
            // A first field whose second field never came (a lone field, or the
            // application waits before sending it): the device keeps its CAPTURE
            // buffer until told otherwise, so release it; the frame completes with
            // the one field.
            let surface = front.surface;
            log::warn!("surface {surface:#x}: first field without a second field, releasing its CAPTURE buffer");
            self.session.flush_held_capture().map_err(|e| v4l2_err("release held CAPTURE buffer", e))?;
            if let Some(f) = self.in_flight.front_mut() {
                f.held = false;
            }
            if self.h264_first_field.is_some_and(|(s, _, _)| s == surface) {
                self.h264_first_field = None;
            }
        }
        let Some(front) = self.in_flight.front() else { return Ok(true) };
        let (surface, slot, parts) = (front.surface, front.slot, front.outputs.len());
        // Reused from reap to reap (nothing allocated per frame here).
        let mut captures = std::mem::take(&mut self.reaped);
        captures.clear();
        let mut outcome = Ok(true);
        // The front frame stays in place while its requests are waited for.
        for k in 0..parts {
            let Some(out) = self.in_flight.front().and_then(|f| f.outputs.get(k).copied()) else { break };
            let got = match left() {
                Some(t) => match self.session.wait_decode(out, t, &mut captures) {
                    Ok(()) => true,
                    Err(e) => {
                        log::error!("decode of surface {surface:#x} did not complete: {e}");
                        self.states.insert(surface, DecodeState::Failed);
                        outcome = Err(va_err!(VA_STATUS_ERROR_DECODING_ERROR, "waiting for decode: {e}"));
                        break;
                    }
                },
                None => match self.session.poll_decode(out, &mut captures) {
                    Ok(done) => done,
                    Err(e) => {
                        outcome = Err(v4l2_err("poll decode", e));
                        break;
                    }
                },
            };
            if !got {
                outcome = Ok(false);
                break;
            }
        }
        if matches!(outcome, Ok(true)) && !captures.iter().any(|c| c.index == slot.0) {
            // The request completed but its CAPTURE buffer has not been returned yet.
            match self.session.dequeue_capture(left().unwrap_or(Duration::ZERO), &mut captures) {
                Ok(()) => {}
                Err(e) => outcome = Err(va_err!(VA_STATUS_ERROR_DECODING_ERROR, "waiting for CAPTURE buffer: {e}")),
            }
        }
        // Whatever happened, buffers the kernel handed back are accounted for.
        for c in captures.drain(..) {
            self.complete_capture(c);
        }
        self.reaped = captures;
        outcome
    }

    /// Account for one dequeued CAPTURE buffer. Its timestamp must be the one of
    /// the frame queued into that slot: a device that returns a buffer early (no
    /// HOLD_CAPTURE_BUF support, a lost request) or another one marks the surface
    /// failed instead of shifting later frames.
    fn complete_capture(&mut self, c: DequeuedCapture) {
        let slot = SlotId(c.index);
        let expected = self.pool.slot_frame(slot).map(frame_timestamp);
        let wrong_ts = expected.is_some_and(|ts| ts != c.timestamp_ns);
        if let Err(e) = self.pool.complete_decode(slot, !c.error && !wrong_ts) {
            log::error!("CAPTURE buffer {}: {e}", c.index);
        }
        if let Some(pos) = self.in_flight.iter().position(|f| f.slot == slot) {
            if let Some(mut f) = self.in_flight.remove(pos) {
                // Its output list serves a later frame.
                f.outputs.clear();
                self.scratch.outputs.push(std::mem::take(&mut f.outputs));
                let state = if c.error || wrong_ts { DecodeState::Failed } else { DecodeState::Ready };
                if c.error {
                    log::warn!("device flagged a decode error for surface {:#x} (slot {})", f.surface, c.index);
                }
                if wrong_ts {
                    log::error!(
                        "surface {:#x}: CAPTURE buffer {} came back with timestamp {} ns, expected {} ns: picture marked failed",
                        f.surface,
                        c.index,
                        c.timestamp_ns,
                        expected.unwrap_or(0)
                    );
                }
                if f.held {
                    // A held first field whose buffer came back anyway.
                    if self.h264_first_field.is_some_and(|(s, _, _)| s == f.surface) {
                        self.h264_first_field = None;
                    }
                }
                // Only the surface's latest decode decides its state.
                if self.pool.surface_slot(f.surface) == Some(slot) {
                    self.states.insert(f.surface, state);
                }
            }
        }
    }

    /// vaSyncSurface2: like [`sync`](Self::sync) when `timeout` covers the sync
    /// timeout; otherwise poll, then wait up to `timeout`, and report
    /// `VA_STATUS_ERROR_TIMEDOUT` (the decode goes on, nothing is marked failed).
    pub fn sync_within(&mut self, surface: SurfaceKey, timeout: Duration) -> VaResult<()> {
        if timeout >= self.sync_timeout {
            return self.sync(surface);
        }
        self.flush_deferred(Some(surface))?;
        let deadline = crate::v4l2::session::deadline_after(timeout);
        while self.in_flight.iter().any(|f| f.surface == surface) {
            let left = deadline.saturating_duration_since(Instant::now());
            let budget = if left.is_zero() { None } else { Some(left) };
            let before = self.in_flight.len();
            // The frame waited for is the oldest in flight: `surface`'s or one
            // queued before it (decodes complete in order).
            let front = self.in_flight.front().map(|f| f.surface);
            let front_pending = front.is_some_and(|s| self.states.get(&s) == Some(&DecodeState::Pending));
            let done = match self.reap_front_within(budget) {
                Ok(d) => d,
                // The wait ran out before the device finished: not a failure
                // yet, neither for `surface` nor for a frame ahead of it.
                Err(_) if budget.is_some() && front_pending && front.is_some_and(|s| self.states.get(&s) == Some(&DecodeState::Failed)) => {
                    if let Some(s) = front {
                        self.states.insert(s, DecodeState::Pending);
                    }
                    false
                }
                Err(e) => return Err(e),
            };
            if !done || (self.in_flight.len() == before && Instant::now() >= deadline) {
                return Err(va_err!(VA_STATUS_ERROR_TIMEDOUT, "surface {surface:#x} still decoding after {timeout:?}"));
            }
        }
        settled_status(&self.states, surface)
    }

    /// Wait until `surface`'s latest decode finished, at most the sync timeout
    /// in all (several frames ahead of it in flight share that bound).
    pub fn sync(&mut self, surface: SurfaceKey) -> VaResult<()> {
        self.flush_deferred(Some(surface))?;
        let deadline = crate::v4l2::session::deadline_after(self.sync_timeout);
        let mut stalled = 0;
        while self.in_flight.iter().any(|f| f.surface == surface) {
            let left = deadline.saturating_duration_since(Instant::now());
            let before = self.in_flight.len();
            let done = self.reap_front_within(Some(left))?;
            if self.in_flight.len() == before {
                stalled += 1;
            }
            // A completed request whose CAPTURE buffer never comes back makes no
            // progress: give up instead of spinning with the context locked.
            if !done || stalled > 2 || (self.in_flight.len() == before && Instant::now() >= deadline) {
                self.states.insert(surface, DecodeState::Failed);
                return Err(va_err!(VA_STATUS_ERROR_DECODING_ERROR, "surface {surface:#x} not decoded within {:?}", self.sync_timeout));
            }
        }
        settled_status(&self.states, surface)
    }

    /// Non-blocking status for vaQuerySurfaceStatus.
    pub fn poll_status(&mut self, surface: SurfaceKey) -> VaResult<DecodeState> {
        self.flush_deferred(Some(surface))?;
        while self.in_flight.iter().any(|f| f.surface == surface) {
            if !self.reap_front(false)? {
                return Ok(DecodeState::Pending);
            }
        }
        Ok(self.states.get(&surface).copied().unwrap_or(DecodeState::Ready))
    }

    pub fn state(&self, surface: SurfaceKey) -> Option<DecodeState> {
        self.states.get(&surface).copied()
    }

    /// The slot holding `surface`'s picture (after a sync).
    pub fn surface_slot(&self, surface: SurfaceKey) -> Option<SlotId> {
        self.pool.surface_slot(surface)
    }

    /// An export (vaExportSurfaceHandle) of `surface`, whose picture is in `slot`.
    ///
    /// Pinning rule (`LIBVA_V4L2_REQUEST_PIN=auto`, the default): a consumer
    /// that caches its imports by surface id (mpv's dmabuf-wayland output,
    /// Chromium) must keep seeing the same buffer for the same surface, so the
    /// surface is pinned to its slot (1:1, made safe by the reader-fence wait)
    /// when it is exported before its first decode, or when composed-layer
    /// exports of it repeat. Everything else stays LRU. `always` pins every
    /// surface, `never` none.
    pub fn note_export(&mut self, surface: SurfaceKey, slot: SlotId, composed: bool) {
        self.mark_exported(slot);
        if self.pin_mode != PinMode::Auto || self.pool.is_surface_pinned(surface) {
            return;
        }
        let before_first_decode = !self.states.contains_key(&surface);
        let repeats = if composed {
            let n = self.composed_exports.entry(surface).or_insert(0);
            *n += 1;
            *n >= 2
        } else {
            false
        };
        if before_first_decode || repeats {
            log::info!(
                "surface {surface:#x} pinned to slot {} ({})",
                slot.0,
                if before_first_decode { "exported before its first decode" } else { "repeated composed exports" }
            );
            self.pool.pin_surface(surface);
        }
    }

    pub fn mark_exported(&mut self, slot: SlotId) {
        if let Err(e) = self.pool.mark_exported(slot) {
            log::warn!("mark slot {} exported: {e}", slot.0);
        }
    }

    /// A dma-buf fd for `slot`, owned by the caller (a duplicate of the slot's
    /// one dma-buf: F_DUPFD_CLOEXEC), and the buffer's size. The first export
    /// of a buffer queries its size (VIDIOC_QUERYBUF, which also names the
    /// index in ioctl traces, where the re-queue analyses bind the duplicated
    /// fd to it) and exports it (MMAP: VIDIOC_EXPBUF); later exports of the
    /// buffer are the duplicate alone.
    pub fn export_slot(&mut self, slot: SlotId) -> VaResult<(OwnedFd, u32)> {
        let queried = self.session.capture_plane_length(slot.0, 0).map_err(|e| v4l2_err("query CAPTURE buffer", e))?;
        let size = match self.session.capture_memory() {
            CaptureMemory::DmaBuf => self.session.capture_buffer_size(slot.0).map(|s| s as u32).unwrap_or(queried),
            CaptureMemory::Mmap => queried,
        };
        let fd = self.session.capture_dmabuf(slot.0).map_err(|e| v4l2_err("export CAPTURE buffer", e))?;
        let dup = fd.try_clone_to_owned().map_err(|e| va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "duplicate dma-buf fd: {e}"))?;
        Ok((dup, size))
    }

    /// Like [`Self::export_slot`] for every memory plane of `slot` (MM21: luma
    /// and chroma buffers): owned duplicates and each plane's size.
    pub fn export_slot_planes(&mut self, slot: SlotId) -> VaResult<Vec<(OwnedFd, u32)>> {
        let n = self.capture.num_planes.max(1);
        let mut sizes = Vec::with_capacity(n);
        for plane in 0..n {
            sizes.push(self.session.capture_plane_length(slot.0, plane).map_err(|e| v4l2_err("query CAPTURE buffer", e))?);
        }
        let fds = self.session.capture_dmabufs(slot.0).map_err(|e| v4l2_err("export CAPTURE buffer", e))?;
        fds.iter()
            .zip(sizes)
            .map(|(fd, size)| {
                fd.try_clone_to_owned()
                    .map(|d| (d, size))
                    .map_err(|e| va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "duplicate dma-buf fd: {e}"))
            })
            .collect()
    }

    /// Take `own` (a surface's frame from before it had a context, or an
    /// imported buffer) as a new CAPTURE slot reserved for and pinned to
    /// `surface`, so its pictures land in the memory its early exports (or
    /// the application) see. A frame that cannot be adopted is handed back
    /// with the error (`None` if the device took it and then failed).
    pub fn adopt_frame(&mut self, surface: SurfaceKey, own: OwnFrame) -> Result<SlotId, Box<(VaError, Option<OwnFrame>)>> {
        if self.session.capture_memory() != CaptureMemory::DmaBuf {
            let e = va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "surface {surface:#x}: this context's CAPTURE queue takes no dma-bufs");
            return Err(Box::new((e, Some(own))));
        }
        if !frame_fits(&own.format, own.frame.len(), &self.capture) {
            let e = va_err!(
                VA_STATUS_ERROR_INVALID_SURFACE,
                "surface {surface:#x}: its buffer (pitch {}, {} rows, {} bytes) does not fit this context's CAPTURE format (pitch {}, {} rows, {} bytes)",
                own.format.bytesperline[0],
                own.format.height,
                own.frame.len(),
                self.capture.bytesperline[0],
                self.capture.height,
                self.capture.sizeimage[0]
            );
            return Err(Box::new((e, Some(own))));
        }
        if self.pool.len() >= self.pool.max_slots() {
            let e = va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "surface {surface:#x}: CAPTURE pool is full");
            return Err(Box::new((e, Some(own))));
        }
        let imported = own.imported;
        let range =
            self.session.add_capture_frames(vec![own.frame]).map_err(|e| Box::new((v4l2_err("adopt a surface's frame", e), None)))?;
        if range.len() != 1 || range.start as usize != self.pool.len() {
            let e = va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "adopting a frame gave CAPTURE indices {range:?}");
            return Err(Box::new((e, None)));
        }
        let slot = self.pool.adopt_slot(surface).map_err(|e| Box::new((pool_err(e), None)))?;
        self.field_coded.resize(self.pool.len(), false);
        if imported {
            self.imported.insert(surface, slot);
        }
        log::info!(
            "surface {surface:#x}: its {} became CAPTURE slot {} (pinned)",
            if imported { "imported buffer" } else { "own frame" },
            slot.0
        );
        Ok(slot)
    }

    /// Before an exported slot is written again: wait (bounded) until every
    /// fence on its dma-bufs (every memory plane: MM21 has two; consumers'
    /// reads included) has signalled. Only exported slots pay for this; with
    /// LRU recycling it is almost always one non-blocking poll per plane. The
    /// whole wait is bounded by the fence timeout, not a multiple of it.
    fn wait_for_readers(&mut self, slot: SlotId) {
        let mut start = None;
        for plane in 0..self.capture.num_planes.max(1) {
            let Some(fd) = self.session.exported_capture_dmabuf(slot.0, plane) else { return };
            let ready = |timeout| crate::v4l2::request::poll_fd(fd, PollFlags::POLLOUT, timeout);
            match ready(Duration::ZERO) {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => {
                    log::warn!("poll of slot {} plane {plane}'s dma-buf failed: {e}", slot.0);
                    continue;
                }
            }
            let t0 = *start.get_or_insert_with(Instant::now);
            match ready(self.fence_timeout.saturating_sub(t0.elapsed())) {
                Ok(Some(_)) => {}
                Ok(None) => {
                    log::warn!("slot {} plane {plane}: reader fences still pending after {:?}; re-queuing anyway", slot.0, t0.elapsed())
                }
                Err(e) => log::warn!("poll of slot {} plane {plane}'s dma-buf failed: {e}", slot.0),
            }
        }
        if let Some(t0) = start {
            let waited = t0.elapsed();
            self.pool.record_fence_wait(slot, waited);
            log::debug!("slot {}: waited {waited:?} for reader fences", slot.0);
        }
    }

    /// Give a never-decoded surface a slot (export or derive before decode).
    pub fn reserve_slot(&mut self, surface: SurfaceKey) -> VaResult<SlotId> {
        loop {
            match self.pool.reserve_slot(surface) {
                Ok(slot) => return Ok(slot),
                Err(PoolError::NeedGrow) => self.grow()?,
                Err(PoolError::Exhausted) if !self.in_flight.is_empty() => {
                    self.reap_front(true)?;
                }
                Err(e) => return Err(pool_err(e)),
            }
        }
    }

    pub fn slot_bytes(&self, slot: SlotId) -> Option<&[u8]> {
        self.session.capture_plane(slot.0, 0)
    }

    pub fn slot_bytes_mut(&mut self, slot: SlotId) -> Option<&mut [u8]> {
        self.session.capture_plane_mut(slot.0, 0)
    }

    /// Every memory plane of `slot` (two for MM21), for tiled copies.
    pub fn slot_planes(&self, slot: SlotId) -> Option<Vec<&[u8]>> {
        self.session.capture_planes(slot.0)
    }

    /// Writable views of every memory plane of `slot`.
    pub fn slot_planes_mut(&mut self, slot: SlotId) -> Option<Vec<&mut [u8]>> {
        self.session.capture_planes_mut(slot.0)
    }

    /// The surface was destroyed: forget its binding.
    pub fn release_surface(&mut self, surface: SurfaceKey) {
        // A submitted picture is decoded even if nobody waits for it (a reference
        // for nothing now, but the device sees the whole stream, as the app sent it).
        if let Err(e) = self.flush_deferred(Some(surface)) {
            log::warn!("deferred picture of destroyed surface {surface:#x}: {}", e.msg);
        }
        self.pool.release_surface(surface);
        self.pool.unpin_surface(surface);
        if let Some(slot) = self.imported.remove(&surface) {
            // The application's buffer: never decoded into again.
            if let Err(e) = self.pool.retire_slot(slot) {
                log::warn!("retire slot {} of imported surface {surface:#x}: {e}", slot.0);
            }
        }
        self.composed_exports.remove(&surface);
        self.states.remove(&surface);
    }

    /// Reap everything still in flight (bounded) before teardown.
    fn drain(&mut self) {
        if let Err(e) = self.flush_deferred(None) {
            log::warn!("deferred picture at teardown: {}", e.msg);
        }
        while !self.in_flight.is_empty() {
            if self.reap_front(true).is_err() {
                // A decode that never completes: give up on the rest, STREAMOFF reclaims the buffers.
                break;
            }
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        self.drain();
        if crate::logging::enabled() {
            let ioctls = self.session.ioctl_count();
            log::info!(
                "context teardown: {} decodes, {} ioctls ({:.1} per decode); CAPTURE peak {} buffers, {:.1} MiB ({:?})\n{}",
                self.decodes,
                ioctls,
                if self.decodes > 0 { ioctls as f64 / self.decodes as f64 } else { 0.0 },
                self.pool.peak(),
                (self.pool.peak() as u64 * self.frame_bytes) as f64 / (1u64 << 20) as f64,
                self.session.capture_memory(),
                self.pool.stats().summary()
            );
            if self.av1_refresh != (0, 0) {
                log::info!(
                    "AV1 refresh_frame_flags: {} pictures exact, {} guessed (synced before the next picture arrived)",
                    self.av1_refresh.0,
                    self.av1_refresh.1
                );
            }
        }
        self.pool.reset(0);
    }
}

/// Hooks for the host tests of the decode flow (`super::decode_flow_tests`).
#[cfg(test)]
impl Context {
    /// Bound the waits for the device and for reader fences (the environment
    /// variables are process-wide; tests run in parallel).
    pub fn set_timeouts(&mut self, sync: Duration, fence: Duration) {
        self.sync_timeout = sync;
        self.fence_timeout = fence;
    }

    pub fn pool(&self) -> &CapturePool {
        &self.pool
    }

    /// Frames queued and not reaped yet.
    pub fn frames_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// CAPTURE slots the pool and the device disagree about: (slot, queued
    /// for the pool, queued in the device). Empty when every buffer the device
    /// handed back was accounted for and none is believed queued wrongly.
    pub fn capture_mismatches(&self) -> Vec<(u32, bool, bool)> {
        (0..self.pool.len() as u32)
            .map(|i| (i, self.pool.is_queued(SlotId(i)), self.session.capture_queued(i)))
            .filter(|&(_, pool, device)| pool != device)
            .collect()
    }
}

#[cfg(test)]
mod settle_tests {
    use super::*;
    use crate::codec::hevc;

    /// Before `num_ref_idx_l0_default_active_minus1` was checked, this HEVC
    /// picture (a B slice taking the default list size, 256 entries) panicked in the
    /// translation; the surface kept the Ready state of its previous picture
    /// and vaSyncSurface reported success. The same call now fails cleanly,
    /// and a panic (a test hook standing in for the next such bug) fails the
    /// surface the same way.
    #[test]
    fn a_failed_or_panicking_translation_fails_the_surface() {
        const SURFACE: SurfaceKey = 0x0400_0007;
        let mut states = HashMap::from([(SURFACE, DecodeState::Ready)]);
        assert!(settled_status(&states, SURFACE).is_ok());

        let error = catch_unwind(|| -> VaResult<()> {
            hevc::translate_wild_default_list_size().map(drop).map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "HEVC translation: {e}"))
        });
        let e = settle_picture(&mut states, SURFACE, error).unwrap_err();
        assert_eq!(e.status, ffi::VA_STATUS_ERROR_INVALID_BUFFER as ffi::VAStatus);
        assert_eq!(states[&SURFACE], DecodeState::Failed);
        assert_eq!(settled_status(&states, SURFACE).unwrap_err().status, ffi::VA_STATUS_ERROR_DECODING_ERROR as ffi::VAStatus);

        states.insert(SURFACE, DecodeState::Ready);
        let panicked = catch_unwind(|| -> VaResult<()> { panic!("translator bug") });
        let e = settle_picture(&mut states, SURFACE, panicked).unwrap_err();
        assert_eq!(e.status, ffi::VA_STATUS_ERROR_OPERATION_FAILED as ffi::VAStatus);
        assert!(e.msg.contains("translator bug"), "{}", e.msg);
        assert_eq!(states[&SURFACE], DecodeState::Failed);
        assert_eq!(settled_status(&states, SURFACE).unwrap_err().status, ffi::VA_STATUS_ERROR_DECODING_ERROR as ffi::VAStatus);

        // A picture that went through leaves the state submit_parts set.
        states.insert(SURFACE, DecodeState::Pending);
        assert!(settle_picture(&mut states, SURFACE, Ok(Ok(()))).is_ok());
        assert_eq!(states[&SURFACE], DecodeState::Pending);
    }
}

#[cfg(test)]
mod ten_bit_tests {
    use super::*;

    #[test]
    fn capture_format_follows_the_depth() {
        assert_eq!(capture_fourcc_for(false), crate::v4l2::V4L2_PIX_FMT_NV12);
        assert_eq!(capture_fourcc_for(true), crate::v4l2::V4L2_PIX_FMT_P010);
    }

    #[test]
    fn bit_depth_must_match_the_context() {
        assert!(depth_matches(false, 8));
        assert!(depth_matches(true, 10));
        // 10-bit streams on 8-bit contexts, and the reverse, are refused.
        assert!(!depth_matches(false, 10));
        assert!(!depth_matches(true, 8));
        assert!(!depth_matches(true, 12));
        assert!(!depth_matches(false, 12));
    }
}
