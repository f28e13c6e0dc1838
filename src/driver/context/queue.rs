//! The in-flight half of a context: pictures the backends hand over become
//! V4L2 requests, and completed requests are reaped.
//!
//! [`PictureQueue`] owns the V4L2 session, the CAPTURE pool and everything
//! that follows a picture after its translation: its bitstream buffer, the
//! choice of a CAPTURE slot (never one a reference still needs), the OUTPUT
//! ring, the frames in flight and each surface's decode state. A codec backend
//! borrows it for the length of one submission and calls
//! [`PictureQueue::submit_parts`] / [`PictureQueue::submit_single`]; nothing in
//! here knows a codec.

use super::surfaces::SurfaceRecords;
use super::{frame_timestamp, pool_err, settled_status, v4l2_err, DecodeState, FrameOrigin, OUTPUT_RING};
use crate::codec::h264;
use crate::driver::error::VaResult;
use crate::driver::frames::FrameSource;
use crate::pool::{CapturePool, FrameId, PinMode, PoolError, SlotId, SurfaceKey};
use crate::v4l2::{CaptureFormat, ControlSpec, DecoderDevice, DequeuedCapture};
use crate::va_err;
use crate::va_sys::ffi;
use nix::poll::PollFlags;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A frame in flight: its OUTPUT buffers (one per request) and its slot.
pub(super) struct InFlight {
    pub(super) surface: SurfaceKey,
    pub(super) slot: SlotId,
    pub(super) outputs: Vec<u32>,
    /// The last request held the CAPTURE buffer for a second field still to come.
    pub(super) held: bool,
}

/// One request of a picture: its bytes in the queue's bitstream buffer and
/// its controls, a range of the picture's control list.
pub struct RequestPart {
    pub bytes: std::ops::Range<usize>,
    pub specs: std::ops::Range<usize>,
}

/// The next frame number (process-wide; 0 never names a frame).
static NEXT_FRAME: AtomicU64 = AtomicU64::new(1);

/// Resolves reference surfaces to the timestamps of the frames their slots hold.
pub struct PoolRefs<'a> {
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

/// The device side of a context: session, CAPTURE pool, OUTPUT ring, frames
/// in flight and decode states (see the module doc).
pub struct PictureQueue {
    /// The decoder handle (a V4L2 session; a scripted fake in tests).
    pub(super) session: Box<dyn DecoderDevice>,
    pub(super) pool: CapturePool,
    pub(super) capture: CaptureFormat,
    pub(super) in_flight: VecDeque<InFlight>,
    /// Every surface's record (decode state, exports, import).
    pub(super) surfaces: SurfaceRecords,
    /// The picture being queued: its bytes, the requests' ranges of it.
    bitstream: Vec<u8>,
    pub(super) decodes: u64,
    /// Per CAPTURE slot: whether its latest picture was coded as fields.
    pub(super) field_coded: Vec<bool>,
    /// Allocates frames for the CAPTURE queue when it takes dma-bufs (`None`:
    /// the queue's own MMAP buffers). Each slot has one dma-buf either way;
    /// every export hands out a duplicate of it, so consumers' reader fences
    /// land on the dma-buf polled before the slot is queued again.
    pub(super) frames: Option<FrameSource>,
    /// Where `frames` is opened from (`None`: MMAP buffers).
    pub(super) frames_from: Option<FrameOrigin>,
    pub(super) fence_timeout: Duration,
    /// Bound of every wait for the device (read once, see [`super::sync_timeout`]).
    pub(super) sync_timeout: Duration,
    /// Which surfaces keep their slot (`LIBVA_V4L2_REQUEST_PIN`).
    pub(super) pin_mode: PinMode,
    /// Bytes of one CAPTURE buffer (all planes).
    pub(super) frame_bytes: u64,
    /// The memory budget was reached once (logged once).
    budget_logged: bool,
    /// CAPTURE buffers dequeued while reaping a frame (reused, empty between reaps).
    reaped: Vec<DequeuedCapture>,
    /// Output lists of reaped frames, for the next frames in flight.
    spare_outputs: Vec<Vec<u32>>,
    /// The reference slots of the picture being bound (reused).
    ref_slots: Vec<SlotId>,
}

impl PictureQueue {
    /// A queue over `session`, whose CAPTURE pool starts with `slots` buffers.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        session: Box<dyn DecoderDevice>,
        pool: CapturePool,
        capture: CaptureFormat,
        slots: usize,
        frames: Option<FrameSource>,
        frames_from: Option<FrameOrigin>,
        frame_bytes: u64,
    ) -> Self {
        PictureQueue {
            session,
            pool,
            capture,
            in_flight: VecDeque::new(),
            surfaces: SurfaceRecords::default(),
            bitstream: Vec::new(),
            decodes: 0,
            field_coded: vec![false; slots],
            frames,
            frames_from,
            fence_timeout: super::fence_timeout(),
            sync_timeout: super::sync_timeout(),
            pin_mode: crate::settings::settings().pin_mode,
            frame_bytes,
            budget_logged: false,
            reaped: Vec::new(),
            spare_outputs: Vec::new(),
            ref_slots: Vec::new(),
        }
    }

    /// The reference resolver the translators look surfaces up with.
    pub fn refs(&self) -> PoolRefs<'_> {
        PoolRefs { pool: &self.pool, field_coded: &self.field_coded }
    }

    /// The bitstream buffer the requests' [`RequestPart::bytes`] index into.
    pub fn bitstream_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bitstream
    }

    /// Exchange the bitstream buffer with `other` (a picture built earlier
    /// and queued now; both allocations are kept).
    pub fn swap_bitstream(&mut self, other: &mut Vec<u8>) {
        std::mem::swap(&mut self.bitstream, other);
    }

    /// Set `surface`'s decode state (a picture held back, or one that failed
    /// before it reached the device).
    pub fn set_state(&mut self, surface: SurfaceKey, state: DecodeState) {
        self.surfaces.set_state(surface, state);
    }

    /// Record whether the picture in `slot` was coded as fields.
    pub fn set_field_coded(&mut self, slot: SlotId, field_coded: bool) {
        if let Some(f) = self.field_coded.get_mut(slot.0 as usize) {
            *f = field_coded;
        }
    }

    /// Whether `surface`'s latest frame in flight holds its CAPTURE buffer for
    /// a second field still to come (a first field not released or completed).
    pub fn holds_capture(&self, surface: SurfaceKey) -> bool {
        self.in_flight.iter().rev().find(|f| f.surface == surface).is_some_and(|f| f.held)
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
    pub fn submit_parts(
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
            let mut refs = std::mem::take(&mut self.ref_slots);
            self.ref_slots(ref_surfaces, &mut refs);
            // A surface decoded again before it was synced: finish the old decode first.
            let bound = match self.surfaces.state(target) {
                Some(DecodeState::Pending) => self.wait_surface(target),
                _ => Ok(()),
            };
            let bound = bound.and_then(|()| {
                let frame = NEXT_FRAME.fetch_add(1, Ordering::Relaxed);
                Ok((self.bind_slot(target, frame, &refs)?, frame))
            });
            self.ref_slots = refs;
            bound?
        };
        let ts = frame_timestamp(frame);
        let mut outputs = self.spare_outputs.pop().unwrap_or_default();
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
                self.spare_outputs.push(outputs);
            }
            None if second_field => {
                log::error!("surface {target:#x}: its first field completed before the second field was queued");
                self.spare_outputs.push(outputs);
            }
            None if outputs.is_empty() => {
                // Nothing reached the device: the slot goes straight back.
                let _ = self.pool.abort_decode(slot);
                self.surfaces.set_state(target, DecodeState::Failed);
                self.spare_outputs.push(outputs);
            }
            None => {
                self.surfaces.set_state(target, DecodeState::Pending);
                let held = hold_last && result.is_ok();
                self.in_flight.push_back(InFlight { surface: target, slot, outputs, held });
                self.decodes += 1;
            }
        }
        result.map(|()| slot)
    }

    /// A picture made of one request over the whole of `self.bitstream`.
    pub fn submit_single(
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
    pub(super) fn grow(&mut self) -> VaResult<()> {
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
    pub(super) fn reap_front(&mut self, wait: bool) -> VaResult<bool> {
        let budget = if wait { Some(self.sync_timeout) } else { None };
        self.reap_front_within(budget)
    }

    /// [`reap_front`](Self::reap_front) with an explicit bound: `None` polls,
    /// `Some(t)` waits at most about `t` in all. CAPTURE buffers dequeued on the
    /// way are always accounted for, whatever the outcome.
    pub(super) fn reap_front_within(&mut self, budget: Option<Duration>) -> VaResult<bool> {
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
                        self.surfaces.set_state(surface, DecodeState::Failed);
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
                self.spare_outputs.push(std::mem::take(&mut f.outputs));
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
                // Only the surface's latest decode decides its state.
                if self.pool.surface_slot(f.surface) == Some(slot) {
                    self.surfaces.set_state(f.surface, state);
                }
            }
        }
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

    /// Wait until `surface`'s latest decode finished, at most the sync timeout
    /// in all (several frames ahead of it in flight share that bound).
    pub(super) fn wait_surface(&mut self, surface: SurfaceKey) -> VaResult<()> {
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
                self.surfaces.set_state(surface, DecodeState::Failed);
                return Err(va_err!(VA_STATUS_ERROR_DECODING_ERROR, "surface {surface:#x} not decoded within {:?}", self.sync_timeout));
            }
        }
        settled_status(&self.surfaces, surface)
    }

    /// vaSyncSurface2: like [`wait_surface`](Self::wait_surface) when `timeout` covers the sync
    /// timeout; otherwise poll, then wait up to `timeout`, and report
    /// `VA_STATUS_ERROR_TIMEDOUT` (the decode goes on, nothing is marked failed).
    pub(super) fn wait_surface_within(&mut self, surface: SurfaceKey, timeout: Duration) -> VaResult<()> {
        if timeout >= self.sync_timeout {
            return self.wait_surface(surface);
        }
        let deadline = crate::v4l2::session::deadline_after(timeout);
        while self.in_flight.iter().any(|f| f.surface == surface) {
            let left = deadline.saturating_duration_since(Instant::now());
            let budget = if left.is_zero() { None } else { Some(left) };
            let before = self.in_flight.len();
            // The frame waited for is the oldest in flight: `surface`'s or one
            // queued before it (decodes complete in order).
            let front = self.in_flight.front().map(|f| f.surface);
            let front_pending = front.is_some_and(|s| self.surfaces.state(s) == Some(DecodeState::Pending));
            let done = match self.reap_front_within(budget) {
                Ok(d) => d,
                // The wait ran out before the device finished: not a failure
                // yet, neither for `surface` nor for a frame ahead of it.
                Err(_)
                    if budget.is_some() && front_pending && front.is_some_and(|s| self.surfaces.state(s) == Some(DecodeState::Failed)) =>
                {
                    if let Some(s) = front {
                        self.surfaces.set_state(s, DecodeState::Pending);
                    }
                    false
                }
                Err(e) => return Err(e),
            };
            if !done || (self.in_flight.len() == before && Instant::now() >= deadline) {
                return Err(va_err!(VA_STATUS_ERROR_TIMEDOUT, "surface {surface:#x} still decoding after {timeout:?}"));
            }
        }
        settled_status(&self.surfaces, surface)
    }

    /// Non-blocking status for vaQuerySurfaceStatus.
    pub(super) fn poll_surface(&mut self, surface: SurfaceKey) -> VaResult<DecodeState> {
        while self.in_flight.iter().any(|f| f.surface == surface) {
            if !self.reap_front(false)? {
                return Ok(DecodeState::Pending);
            }
        }
        Ok(self.surfaces.state(surface).unwrap_or(DecodeState::Ready))
    }
}
