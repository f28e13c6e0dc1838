//! The seam between the decode flow and the device: [`DecoderDevice`].
//!
//! A decode context (`crate::driver::context::Context`) and the frame
//! allocation handle (`crate::driver::frames`) talk to a V4L2 stateless decoder
//! through exactly the operations listed here: formats, both queues, the
//! OUTPUT ring with its requests, completions, CAPTURE memory and exports.
//! [`DecoderSession`] implements them with the real ioctls (this trait adds no
//! behaviour: every method forwards to the session's method of the same name).
//!
//! Why a trait: the decode flow's failure handling (completions out of order
//! or missing, a device without HOLD_CAPTURE_BUF, a wrong timestamp, ioctl
//! errors, timeouts) can then be driven on the host by a scripted fake
//! (`crate::driver::fake_device`, tests only) in seconds, instead of only in
//! a guest with the kernel's visl driver, which only ever behaves well.
//!
//! Devices are opened through a `crate::device::DeviceOpener`, so that a
//! `Driver` (and the contexts and frame sources it creates) can be handed
//! another one in tests.

use std::ops::Range;
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::time::Duration;

use super::controls::ControlSpec;
use super::error::V4l2Error;
use super::frame::Frame;
use super::session::{CaptureFormat, CaptureMemory, DecoderSession, DequeuedCapture};

/// What the decode flow needs from one open handle on a stateless decoder.
/// See the module documentation; [`DecoderSession`] documents each operation's ioctls.
pub trait DecoderDevice: Send {
    /// The video node this handle is open on (for log lines).
    fn video_path(&self) -> &Path;
    /// Ioctls issued so far on this handle.
    fn ioctl_count(&self) -> u64;

    /// Set compound controls on the device's current values (no request).
    fn set_controls(&mut self, ctrls: &[ControlSpec<'_>]) -> Result<(), V4l2Error>;
    /// Set plain (menu / integer) controls on the device's current values.
    fn set_control_values(&mut self, values: &[(u32, i32)]) -> Result<(), V4l2Error>;
    /// Current value of a plain control.
    fn get_control(&self, id: u32) -> Result<i32, V4l2Error>;
    /// The menu items a menu control offers.
    fn menu_values(&self, ctrl_id: u32) -> Result<Vec<u32>, V4l2Error>;
    /// Whether the device has control `ctrl_id` (VIDIOC_QUERY_EXT_CTRL succeeds).
    fn has_control(&self, ctrl_id: u32) -> bool;

    /// Set the OUTPUT (coded) format, coded size and bitstream buffer size.
    fn set_output_format(&mut self, coded_fourcc: u32, width: u32, height: u32, sizeimage: u32) -> Result<(), V4l2Error>;
    /// Set the CAPTURE format and return what the device gave; fails when it substitutes another fourcc.
    fn set_capture_format(&mut self, fourcc: u32, width: u32, height: u32) -> Result<CaptureFormat, V4l2Error>;

    /// Learn the OUTPUT queue's capabilities (requests, HOLD_CAPTURE_BUF) without allocating.
    fn query_output_caps(&mut self) -> Result<(), V4l2Error>;
    /// Whether the OUTPUT queue supports V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF (after [`Self::query_output_caps`]).
    fn supports_hold_capture(&self) -> bool;
    /// Whether the OUTPUT (bitstream) buffers exist.
    fn output_allocated(&self) -> bool;
    /// Allocate `count` OUTPUT buffers, each paired with a permanent request; returns the count.
    fn alloc_output(&mut self, count: u32) -> Result<u32, V4l2Error>;
    /// Size of each OUTPUT buffer in bytes.
    fn output_buffer_size(&self) -> usize;
    /// Make every OUTPUT buffer at least `bytes` long (re-allocating; nothing may be in flight).
    fn ensure_output_size(&mut self, bytes: usize) -> Result<(), V4l2Error>;
    /// The next free OUTPUT buffer, `None` when all are in flight.
    fn next_output(&mut self) -> Option<u32>;
    /// The memory of free OUTPUT buffer `out_index`, to fill with bitstream.
    fn output_buffer_mut(&mut self, out_index: u32) -> Option<&mut [u8]>;

    /// Allocate `count` MMAP CAPTURE buffers (0: the queue set up for MMAP,
    /// buffers to come with [`grow_capture`](Self::grow_capture)); returns how many exist.
    fn alloc_capture(&mut self, count: u32) -> Result<u32, V4l2Error>;
    /// Set the CAPTURE queue up for dma-bufs (`indices` indices) with `frames` at the first ones; returns the frames attached.
    fn alloc_capture_frames(&mut self, frames: Vec<Frame>, indices: u32) -> Result<u32, V4l2Error>;
    /// Where the CAPTURE memory comes from (MMAP buffers or frames).
    fn capture_memory(&self) -> CaptureMemory;
    /// Whether the CAPTURE queue takes dma-bufs.
    fn capture_supports_dmabuf(&self) -> bool;
    /// Allocate `count` frames with the current CAPTURE format (a frame-allocation handle).
    fn allocate_frames(&mut self, count: u32) -> Result<Vec<Frame>, V4l2Error>;
    /// Add `extra` MMAP CAPTURE buffers; returns their indices.
    fn grow_capture(&mut self, extra: u32) -> Result<Range<u32>, V4l2Error>;
    /// Attach `frames` at the next CAPTURE indices (creating indices when needed); returns them.
    fn add_capture_frames(&mut self, frames: Vec<Frame>) -> Result<Range<u32>, V4l2Error>;
    /// Whether CAPTURE buffers can be given back one by one (VIDIOC_REMOVE_BUFS).
    fn can_remove_capture(&self) -> bool;
    /// Give CAPTURE buffer `index` back to the device; its index becomes a hole.
    fn remove_capture_frame(&mut self, index: u32) -> Result<(), V4l2Error>;
    /// Fill the hole at `index` with `frame`.
    fn restore_capture_frame(&mut self, index: u32, frame: Frame) -> Result<(), V4l2Error>;

    /// Start streaming on both queues (idempotent).
    fn stream_on(&mut self) -> Result<(), V4l2Error>;
    /// Queue one decode: controls into the request of `out_index`, the bitstream
    /// buffer (`bytes`, `timestamp_ns`, HOLD_CAPTURE_BUF when `hold_capture`),
    /// the request, then CAPTURE buffer `cap_index` when `queue_capture`.
    #[allow(clippy::too_many_arguments)]
    fn queue_decode(
        &mut self,
        out_index: u32,
        bytes: usize,
        timestamp_ns: u64,
        ctrls: &[ControlSpec<'_>],
        cap_index: u32,
        queue_capture: bool,
        hold_capture: bool,
    ) -> Result<(), V4l2Error>;
    /// Queue CAPTURE buffer `cap_index` alone, for a request already queued
    /// whose CAPTURE QBUF failed in [`Self::queue_decode`].
    fn queue_capture(&mut self, cap_index: u32) -> Result<(), V4l2Error>;
    /// Whether the request of OUTPUT `out_index` is in the device (queued, not reaped).
    fn output_in_flight(&self, out_index: u32) -> bool;
    /// Wait up to `timeout` for the request of `out_index`; appends every CAPTURE buffer dequeued on the way to `into`.
    fn wait_decode(&mut self, out_index: u32, timeout: Duration, into: &mut Vec<DequeuedCapture>) -> Result<(), V4l2Error>;
    /// Like [`Self::wait_decode`] without blocking: `false` (nothing appended) while the request runs.
    fn poll_decode(&mut self, out_index: u32, into: &mut Vec<DequeuedCapture>) -> Result<bool, V4l2Error>;
    /// Dequeue finished CAPTURE buffers into `into`, waiting up to `timeout` for one when some are queued.
    fn dequeue_capture(&mut self, timeout: Duration, into: &mut Vec<DequeuedCapture>) -> Result<(), V4l2Error>;
    /// Release a CAPTURE buffer held for a second field that will not come.
    fn flush_held_capture(&mut self) -> Result<(), V4l2Error>;
    /// Whether CAPTURE buffer `index` is queued in the device.
    #[cfg(test)]
    fn capture_queued(&self, index: u32) -> bool;

    /// Plane `plane` of CAPTURE buffer `index` (`None` while queued or not mappable).
    fn capture_plane(&self, index: u32, plane: usize) -> Option<&[u8]>;
    /// Writable plane `plane` of CAPTURE buffer `index` (`None` while queued or not mappable).
    fn capture_plane_mut(&mut self, index: u32, plane: usize) -> Option<&mut [u8]>;
    /// Every memory plane of CAPTURE buffer `index` (`None` while queued).
    fn capture_planes(&self, index: u32) -> Option<Vec<&[u8]>>;
    /// Every memory plane of CAPTURE buffer `index`, writable (`None` while queued).
    fn capture_planes_mut(&mut self, index: u32) -> Option<Vec<&mut [u8]>>;
    /// Length in bytes of plane `plane` of CAPTURE buffer `index`, as the device reports it
    /// (asked once per buffer, on its first export, and remembered).
    fn capture_plane_length(&mut self, index: u32, plane: usize) -> Result<u32, V4l2Error>;
    /// Size of memory plane `plane` of CAPTURE buffer `index` (a frame's dma-buf, or the mapped buffer).
    fn capture_buffer_size(&self, index: u32, plane: usize) -> Option<usize>;
    /// The one dma-buf of CAPTURE buffer `index` (exported once), for consumers.
    fn capture_dmabuf(&mut self, index: u32) -> Result<BorrowedFd<'_>, V4l2Error>;
    /// One dma-buf per memory plane of CAPTURE buffer `index` (MM21: luma, chroma).
    fn capture_dmabufs(&mut self, index: u32) -> Result<Vec<BorrowedFd<'_>>, V4l2Error>;
    /// The dma-buf of memory plane `plane` of CAPTURE buffer `index` if the buffer was ever
    /// handed out (to poll for reader fences; MM21 has two planes).
    fn exported_capture_dmabuf(&self, index: u32, plane: usize) -> Option<BorrowedFd<'_>>;
}

impl DecoderDevice for DecoderSession {
    fn video_path(&self) -> &Path {
        DecoderSession::video_path(self)
    }
    fn ioctl_count(&self) -> u64 {
        DecoderSession::ioctl_count(self)
    }
    fn set_controls(&mut self, ctrls: &[ControlSpec<'_>]) -> Result<(), V4l2Error> {
        DecoderSession::set_controls(self, ctrls)
    }
    fn set_control_values(&mut self, values: &[(u32, i32)]) -> Result<(), V4l2Error> {
        DecoderSession::set_control_values(self, values)
    }
    fn get_control(&self, id: u32) -> Result<i32, V4l2Error> {
        DecoderSession::get_control(self, id)
    }
    fn menu_values(&self, ctrl_id: u32) -> Result<Vec<u32>, V4l2Error> {
        DecoderSession::menu_values(self, ctrl_id)
    }
    fn has_control(&self, ctrl_id: u32) -> bool {
        DecoderSession::query_control(self, ctrl_id).is_ok()
    }
    fn set_output_format(&mut self, coded_fourcc: u32, width: u32, height: u32, sizeimage: u32) -> Result<(), V4l2Error> {
        DecoderSession::set_output_format(self, coded_fourcc, width, height, sizeimage)
    }
    fn set_capture_format(&mut self, fourcc: u32, width: u32, height: u32) -> Result<CaptureFormat, V4l2Error> {
        DecoderSession::set_capture_format(self, fourcc, width, height)
    }
    fn query_output_caps(&mut self) -> Result<(), V4l2Error> {
        DecoderSession::query_output_caps(self).map(drop)
    }
    fn supports_hold_capture(&self) -> bool {
        DecoderSession::supports_hold_capture(self)
    }
    fn output_allocated(&self) -> bool {
        DecoderSession::output_allocated(self)
    }
    fn alloc_output(&mut self, count: u32) -> Result<u32, V4l2Error> {
        DecoderSession::alloc_output(self, count)
    }
    fn output_buffer_size(&self) -> usize {
        DecoderSession::output_buffer_size(self)
    }
    fn ensure_output_size(&mut self, bytes: usize) -> Result<(), V4l2Error> {
        DecoderSession::ensure_output_size(self, bytes)
    }
    fn next_output(&mut self) -> Option<u32> {
        DecoderSession::next_output(self)
    }
    fn output_buffer_mut(&mut self, out_index: u32) -> Option<&mut [u8]> {
        DecoderSession::output_buffer_mut(self, out_index)
    }
    fn alloc_capture(&mut self, count: u32) -> Result<u32, V4l2Error> {
        DecoderSession::alloc_capture(self, count)
    }
    fn alloc_capture_frames(&mut self, frames: Vec<Frame>, indices: u32) -> Result<u32, V4l2Error> {
        DecoderSession::alloc_capture_frames(self, frames, indices)
    }
    fn capture_memory(&self) -> CaptureMemory {
        DecoderSession::capture_memory(self)
    }
    fn capture_supports_dmabuf(&self) -> bool {
        DecoderSession::capture_supports_dmabuf(self)
    }
    fn allocate_frames(&mut self, count: u32) -> Result<Vec<Frame>, V4l2Error> {
        DecoderSession::allocate_frames(self, count)
    }
    fn grow_capture(&mut self, extra: u32) -> Result<Range<u32>, V4l2Error> {
        DecoderSession::grow_capture(self, extra)
    }
    fn add_capture_frames(&mut self, frames: Vec<Frame>) -> Result<Range<u32>, V4l2Error> {
        DecoderSession::add_capture_frames(self, frames)
    }
    fn can_remove_capture(&self) -> bool {
        DecoderSession::can_remove_capture(self)
    }
    fn remove_capture_frame(&mut self, index: u32) -> Result<(), V4l2Error> {
        DecoderSession::remove_capture_frame(self, index)
    }
    fn restore_capture_frame(&mut self, index: u32, frame: Frame) -> Result<(), V4l2Error> {
        DecoderSession::restore_capture_frame(self, index, frame)
    }
    fn stream_on(&mut self) -> Result<(), V4l2Error> {
        DecoderSession::stream_on(self)
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
        DecoderSession::queue_decode(self, out_index, bytes, timestamp_ns, ctrls, cap_index, queue_capture, hold_capture)
    }
    fn queue_capture(&mut self, cap_index: u32) -> Result<(), V4l2Error> {
        DecoderSession::queue_capture(self, cap_index)
    }
    fn output_in_flight(&self, out_index: u32) -> bool {
        DecoderSession::output_in_flight(self, out_index)
    }
    fn wait_decode(&mut self, out_index: u32, timeout: Duration, into: &mut Vec<DequeuedCapture>) -> Result<(), V4l2Error> {
        DecoderSession::wait_decode_into(self, out_index, timeout, into)
    }
    fn poll_decode(&mut self, out_index: u32, into: &mut Vec<DequeuedCapture>) -> Result<bool, V4l2Error> {
        DecoderSession::poll_decode_into(self, out_index, into)
    }
    fn dequeue_capture(&mut self, timeout: Duration, into: &mut Vec<DequeuedCapture>) -> Result<(), V4l2Error> {
        DecoderSession::dequeue_capture_into(self, timeout, into)
    }
    fn flush_held_capture(&mut self) -> Result<(), V4l2Error> {
        DecoderSession::flush_held_capture(self)
    }
    #[cfg(test)]
    fn capture_queued(&self, index: u32) -> bool {
        DecoderSession::capture_queued(self, index)
    }
    fn capture_plane(&self, index: u32, plane: usize) -> Option<&[u8]> {
        DecoderSession::capture_plane(self, index, plane)
    }
    fn capture_plane_mut(&mut self, index: u32, plane: usize) -> Option<&mut [u8]> {
        DecoderSession::capture_plane_mut(self, index, plane)
    }
    fn capture_planes(&self, index: u32) -> Option<Vec<&[u8]>> {
        DecoderSession::capture_planes(self, index)
    }
    fn capture_planes_mut(&mut self, index: u32) -> Option<Vec<&mut [u8]>> {
        DecoderSession::capture_planes_mut(self, index)
    }
    fn capture_plane_length(&mut self, index: u32, plane: usize) -> Result<u32, V4l2Error> {
        DecoderSession::capture_plane_length(self, index, plane)
    }
    fn capture_buffer_size(&self, index: u32, plane: usize) -> Option<usize> {
        DecoderSession::capture_buffer_size(self, index, plane)
    }
    fn capture_dmabuf(&mut self, index: u32) -> Result<BorrowedFd<'_>, V4l2Error> {
        DecoderSession::capture_dmabuf(self, index)
    }
    fn capture_dmabufs(&mut self, index: u32) -> Result<Vec<BorrowedFd<'_>>, V4l2Error> {
        DecoderSession::capture_dmabufs(self, index)
    }
    fn exported_capture_dmabuf(&self, index: u32, plane: usize) -> Option<BorrowedFd<'_>> {
        DecoderSession::exported_capture_dmabuf(self, index, plane)
    }
}
