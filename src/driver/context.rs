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
//!
//! A context is split along what it does: picture assembly ([`picture`]),
//! the device side of decoding, submission and in-flight reaping ([`queue`]),
//! exports and imports of CAPTURE buffers ([`export`]), setup ([`setup`]) and
//! one record per surface ([`surfaces`], kept by the queue).
//! Everything codec-specific is the codec's backend ([`crate::driver::backend`]).

use super::backend::CodecBackend;
use crate::driver::error::{VaError, VaResult};
use crate::pool::{FrameId, PoolError, SlotId, SurfaceKey};
use crate::v4l2::CaptureFormat;
use crate::va_err;
use crate::va_sys::ffi;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

mod export;
mod picture;
mod queue;
mod setup;
mod surfaces;

pub use picture::PictureBuffers;
pub use queue::{PictureQueue, RequestPart};
use setup::FrameOrigin;
use surfaces::SurfaceRecords;

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

/// A decode context: the picture being assembled, the device side
/// ([`PictureQueue`]) and the codec's backend (see the module doc).
pub struct Context {
    pub width: u32,
    pub height: u32,
    /// The application's buffers of the picture being assembled.
    picture: PictureBuffers,
    /// Session, CAPTURE pool, frames in flight, surface records.
    queue: PictureQueue,
    /// The codec's state and the submission of its pictures.
    backend: Box<dyn CodecBackend>,
}

/// Upper bound of the wait for consumers' reader fences before an exported
/// slot is queued again (`LIBVA_V4L2_REQUEST_FENCE_TIMEOUT_MS`, default 2000).
pub fn fence_timeout() -> Duration {
    crate::settings::settings().fence_timeout
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
fn settle_picture(surfaces: &mut SurfaceRecords, target: SurfaceKey, outcome: std::thread::Result<VaResult<()>>) -> VaResult<()> {
    let result = outcome.unwrap_or_else(|panic| {
        let what = crate::logging::panic_message(panic.as_ref());
        log::error!("surface {target:#x}: internal error while translating the picture (panic caught): {what}");
        Err(va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "surface {target:#x}: internal error while translating the picture: {what}"))
    });
    if result.is_err() {
        surfaces.set_state(target, DecodeState::Failed);
    }
    result
}

/// What vaSyncSurface reports for `surface` once nothing of it is in flight.
fn settled_status(surfaces: &SurfaceRecords, surface: SurfaceKey) -> VaResult<()> {
    match surfaces.state(surface) {
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
    pub fn capture_format(&self) -> &CaptureFormat {
        &self.queue.capture
    }

    /// Whether this context decodes 10-bit (P010) pictures.
    pub fn ten_bit(&self) -> bool {
        self.queue.capture.fourcc == crate::v4l2::V4L2_PIX_FMT_P010
    }

    /// VA fourcc of the surfaces this context decodes into (NV12 or P010).
    pub fn surface_fourcc(&self) -> u32 {
        if self.ten_bit() {
            ffi::VA_FOURCC_P010
        } else {
            ffi::VA_FOURCC_NV12
        }
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
        self.picture.add(buf_type, bytes, num_elements);
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
        let outcome = catch_unwind(AssertUnwindSafe(|| self.backend.submit(&mut self.queue, &picture, target)));
        picture.clear();
        self.picture = picture;
        settle_picture(&mut self.queue.surfaces, target, outcome)
    }

    /// vaSyncSurface2: like [`sync`](Self::sync) when `timeout` covers the sync
    /// timeout; otherwise poll, then wait up to `timeout`, and report
    /// `VA_STATUS_ERROR_TIMEDOUT` (the decode goes on, nothing is marked failed).
    pub fn sync_within(&mut self, surface: SurfaceKey, timeout: Duration) -> VaResult<()> {
        self.backend.flush(&mut self.queue, Some(surface))?;
        self.queue.wait_surface_within(surface, timeout)
    }

    /// Wait until `surface`'s latest decode finished, at most the sync timeout
    /// in all (several frames ahead of it in flight share that bound).
    pub fn sync(&mut self, surface: SurfaceKey) -> VaResult<()> {
        self.backend.flush(&mut self.queue, Some(surface))?;
        self.queue.wait_surface(surface)
    }

    /// Non-blocking status for vaQuerySurfaceStatus.
    pub fn poll_status(&mut self, surface: SurfaceKey) -> VaResult<DecodeState> {
        self.backend.flush(&mut self.queue, Some(surface))?;
        self.queue.poll_surface(surface)
    }

    pub fn state(&self, surface: SurfaceKey) -> Option<DecodeState> {
        self.queue.surfaces.state(surface)
    }

    /// The slot holding `surface`'s picture (after a sync).
    pub fn surface_slot(&self, surface: SurfaceKey) -> Option<SlotId> {
        self.queue.pool.surface_slot(surface)
    }

    /// The surface was destroyed: forget its binding.
    pub fn release_surface(&mut self, surface: SurfaceKey) {
        // A submitted picture is decoded even if nobody waits for it (a reference
        // for nothing now, but the device sees the whole stream, as the app sent it).
        if let Err(e) = self.backend.flush(&mut self.queue, Some(surface)) {
            log::warn!("deferred picture of destroyed surface {surface:#x}: {}", e.msg);
        }
        // The pool drops the binding and pin, and retires an imported slot
        // (the application's buffer is never decoded into again).
        self.queue.pool.release_surface(surface);
        self.queue.surfaces.remove(surface);
    }

    /// Reap everything still in flight (bounded) before teardown.
    fn drain(&mut self) {
        if let Err(e) = self.backend.flush(&mut self.queue, None) {
            log::warn!("deferred picture at teardown: {}", e.msg);
        }
        while !self.queue.in_flight.is_empty() {
            if self.queue.reap_front(true).is_err() {
                // A decode that never completes: give up on the rest, STREAMOFF reclaims the buffers.
                break;
            }
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        self.drain();
        let q = &mut self.queue;
        if crate::logging::enabled() {
            let ioctls = q.session.ioctl_count();
            log::info!(
                "context teardown: {} decodes, {} ioctls ({:.1} per decode); CAPTURE peak {} buffers, {:.1} MiB ({:?})\n{}",
                q.decodes,
                ioctls,
                if q.decodes > 0 { ioctls as f64 / q.decodes as f64 } else { 0.0 },
                q.pool.peak(),
                (q.pool.peak() as u64 * q.frame_bytes) as f64 / (1u64 << 20) as f64,
                q.session.capture_memory(),
                q.pool.stats().summary()
            );
            self.backend.log_summary();
        }
        q.pool.reset(0);
    }
}

/// Hooks for the host tests of the decode flow (`super::decode_flow_tests`).
#[cfg(test)]
impl Context {
    /// Bound the waits for the device and for reader fences (the environment
    /// variables are process-wide; tests run in parallel).
    pub fn set_timeouts(&mut self, sync: Duration, fence: Duration) {
        self.queue.sync_timeout = sync;
        self.queue.fence_timeout = fence;
    }

    pub fn pool(&self) -> &crate::pool::CapturePool {
        &self.queue.pool
    }

    /// Frames queued and not reaped yet.
    pub fn frames_in_flight(&self) -> usize {
        self.queue.in_flight.len()
    }

    /// CAPTURE slots the pool and the device disagree about: (slot, queued
    /// for the pool, queued in the device). Empty when every buffer the device
    /// handed back was accounted for and none is believed queued wrongly.
    pub fn capture_mismatches(&self) -> Vec<(u32, bool, bool)> {
        let q = &self.queue;
        (0..q.pool.len() as u32)
            .map(|i| (i, q.pool.is_queued(SlotId(i)), q.session.capture_queued(i)))
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
        let mut states = SurfaceRecords::default();
        states.set_state(SURFACE, DecodeState::Ready);
        assert!(settled_status(&states, SURFACE).is_ok());

        let error = catch_unwind(|| -> VaResult<()> {
            hevc::translate_wild_default_list_size().map(drop).map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "HEVC translation: {e}"))
        });
        let e = settle_picture(&mut states, SURFACE, error).unwrap_err();
        assert_eq!(e.status, ffi::VA_STATUS_ERROR_INVALID_BUFFER as ffi::VAStatus);
        assert_eq!(states.state(SURFACE).unwrap(), DecodeState::Failed);
        assert_eq!(settled_status(&states, SURFACE).unwrap_err().status, ffi::VA_STATUS_ERROR_DECODING_ERROR as ffi::VAStatus);

        states.set_state(SURFACE, DecodeState::Ready);
        let panicked = catch_unwind(|| -> VaResult<()> { panic!("translator bug") });
        let e = settle_picture(&mut states, SURFACE, panicked).unwrap_err();
        assert_eq!(e.status, ffi::VA_STATUS_ERROR_OPERATION_FAILED as ffi::VAStatus);
        assert!(e.msg.contains("translator bug"), "{}", e.msg);
        assert_eq!(states.state(SURFACE).unwrap(), DecodeState::Failed);
        assert_eq!(settled_status(&states, SURFACE).unwrap_err().status, ffi::VA_STATUS_ERROR_DECODING_ERROR as ffi::VAStatus);

        // A picture that went through leaves the state submit_parts set.
        states.set_state(SURFACE, DecodeState::Pending);
        assert!(settle_picture(&mut states, SURFACE, Ok(Ok(()))).is_ok());
        assert_eq!(states.state(SURFACE).unwrap(), DecodeState::Pending);
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
