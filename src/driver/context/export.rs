//! The export half of a context: handing a surface's CAPTURE buffer out
//! (dma-buf exports, pinning), taking one in (adopted frames, imports) and
//! CPU views of it.

use super::{pool_err, v4l2_err, Context};
use crate::driver::error::{VaError, VaResult};
use crate::driver::frames::{frame_fits, OwnFrame};
use crate::pool::{Adopted, PinMode, PoolError, SlotId, SurfaceKey};
use crate::v4l2::CaptureMemory;
use crate::va_err;
use std::os::fd::OwnedFd;

impl Context {
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
        if self.queue.pin_mode != PinMode::Auto || self.queue.pool.is_surface_pinned(surface) {
            return;
        }
        let before_first_decode = self.queue.surfaces.state(surface).is_none();
        let repeats = if composed {
            let n = &mut self.queue.surfaces.record_mut(surface).composed_exports;
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
            self.queue.pool.pin_surface(surface);
        }
    }

    pub fn mark_exported(&mut self, slot: SlotId) {
        if let Err(e) = self.queue.pool.mark_exported(slot) {
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
        let queried = self.queue.session.capture_plane_length(slot.0, 0).map_err(|e| v4l2_err("query CAPTURE buffer", e))?;
        let size = match self.queue.session.capture_memory() {
            CaptureMemory::DmaBuf => self.queue.session.capture_buffer_size(slot.0, 0).map(|s| s as u32).unwrap_or(queried),
            CaptureMemory::Mmap => queried,
        };
        let fd = self.queue.session.capture_dmabuf(slot.0).map_err(|e| v4l2_err("export CAPTURE buffer", e))?;
        let dup = fd.try_clone_to_owned().map_err(|e| va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "duplicate dma-buf fd: {e}"))?;
        Ok((dup, size))
    }

    /// Like [`Self::export_slot`] for every memory plane of `slot` (MM21: luma
    /// and chroma buffers, MMAP or a frame's dma-bufs): owned duplicates and
    /// each plane's size.
    pub fn export_slot_planes(&mut self, slot: SlotId) -> VaResult<Vec<(OwnedFd, u32)>> {
        let n = self.queue.capture.num_planes.max(1);
        let dmabuf = self.queue.session.capture_memory() == CaptureMemory::DmaBuf;
        let mut sizes = Vec::with_capacity(n);
        for plane in 0..n {
            let queried = self.queue.session.capture_plane_length(slot.0, plane).map_err(|e| v4l2_err("query CAPTURE buffer", e))?;
            let own = if dmabuf { self.queue.session.capture_buffer_size(slot.0, plane).map(|s| s as u32) } else { None };
            sizes.push(own.unwrap_or(queried));
        }
        let fds = self.queue.session.capture_dmabufs(slot.0).map_err(|e| v4l2_err("export CAPTURE buffer", e))?;
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
        if self.queue.session.capture_memory() != CaptureMemory::DmaBuf {
            let e = va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "surface {surface:#x}: this context's CAPTURE queue takes no dma-bufs");
            return Err(Box::new((e, Some(own))));
        }
        if !frame_fits(&own.format, own.frame.lens(), &self.queue.capture) {
            let ctx = &self.queue.capture;
            let e = va_err!(
                VA_STATUS_ERROR_INVALID_SURFACE,
                "surface {surface:#x}: its buffer ({}, pitch {:?}, {} rows, {:?} bytes) does not fit this context's CAPTURE format ({}, pitch {:?}, {} rows, {:?} bytes)",
                crate::v4l2::fourcc_to_string(own.format.fourcc),
                &own.format.bytesperline[..own.format.num_planes.min(3)],
                own.format.height,
                own.frame.lens(),
                crate::v4l2::fourcc_to_string(ctx.fourcc),
                &ctx.bytesperline[..ctx.num_planes.min(3)],
                ctx.height,
                &ctx.sizeimage[..ctx.num_planes.min(3)]
            );
            return Err(Box::new((e, Some(own))));
        }
        if self.queue.pool.len() >= self.queue.pool.max_slots() {
            let e = va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "surface {surface:#x}: CAPTURE pool is full");
            return Err(Box::new((e, Some(own))));
        }
        let imported = own.imported;
        let range =
            self.queue.session.add_capture_frames(vec![own.frame]).map_err(|e| Box::new((v4l2_err("adopt a surface's frame", e), None)))?;
        if range.len() != 1 || range.start as usize != self.queue.pool.len() {
            let e = va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "adopting a frame gave CAPTURE indices {range:?}");
            return Err(Box::new((e, None)));
        }
        let memory = if imported { Adopted::Imported } else { Adopted::SurfaceFrame };
        let slot = self.queue.pool.adopt_slot(surface, memory).map_err(|e| Box::new((pool_err(e), None)))?;
        self.queue.field_coded.resize(self.queue.pool.len(), false);
        log::info!(
            "surface {surface:#x}: its {} became CAPTURE slot {} (pinned)",
            if imported { "imported buffer" } else { "own frame" },
            slot.0
        );
        Ok(slot)
    }
    /// Give a never-decoded surface a slot (export or derive before decode).
    pub fn reserve_slot(&mut self, surface: SurfaceKey) -> VaResult<SlotId> {
        loop {
            match self.queue.pool.reserve_slot(surface) {
                Ok(slot) => return Ok(slot),
                Err(PoolError::NeedGrow) => self.queue.grow()?,
                Err(PoolError::Exhausted) if !self.queue.in_flight.is_empty() => {
                    self.queue.reap_front(true)?;
                }
                Err(e) => return Err(pool_err(e)),
            }
        }
    }

    pub fn slot_bytes(&self, slot: SlotId) -> Option<&[u8]> {
        self.queue.session.capture_plane(slot.0, 0)
    }

    pub fn slot_bytes_mut(&mut self, slot: SlotId) -> Option<&mut [u8]> {
        self.queue.session.capture_plane_mut(slot.0, 0)
    }

    /// Every memory plane of `slot` (two for MM21), for tiled copies.
    pub fn slot_planes(&self, slot: SlotId) -> Option<Vec<&[u8]>> {
        self.queue.session.capture_planes(slot.0)
    }

    /// Writable views of every memory plane of `slot`.
    pub fn slot_planes_mut(&mut self, slot: SlotId) -> Option<Vec<&mut [u8]>> {
        self.queue.session.capture_planes_mut(slot.0)
    }
}
