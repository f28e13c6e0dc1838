//! Frames: a decoded picture's memory as one dma-buf, owned by the driver.
//!
//! On devices whose CAPTURE queue takes `V4L2_MEMORY_DMABUF`, picture memory
//! is not tied to a context's CAPTURE queue: it is allocated from the
//! decoder's own CAPTURE queue on a dedicated file handle (so the device's
//! size, alignment and memory constraints hold), exported once as a dma-buf,
//! and the allocation queue is released again (the kernel keeps the memory
//! alive for as long as the dma-buf is open). A context then queues that
//! dma-buf on its CAPTURE queue. So a surface can own memory before any
//! context exists (an export right after vaCreateSurfaces), and the same
//! memory carries its pictures once a context adopts it.
//!
//! A frame is mapped once, read-write and shared, for CPU access
//! (vaDeriveImage, vaGetImage, vaPutImage); a dma-buf that cannot be mapped
//! (some imports) is still decodable and exportable, only not CPU-accessible.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use v4l2r::ioctl::PlaneMapping;

/// One dma-buf holding a whole picture (all planes of a single-buffer format).
pub struct Frame {
    fd: OwnedFd,
    len: usize,
    map: Option<PlaneMapping>,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame").field("fd", &self.fd.as_raw_fd()).field("len", &self.len).field("mapped", &self.map.is_some()).finish()
    }
}

impl Frame {
    /// Take ownership of dma-buf `fd` of `len` bytes and map it for CPU access.
    pub fn new(fd: OwnedFd, len: usize) -> Self {
        let map = match u32::try_from(len) {
            Ok(l) if l > 0 => match v4l2r::ioctl::mmap(&fd, 0, l) {
                Ok(m) => Some(m),
                Err(e) => {
                    log::debug!("dma-buf fd {} ({len} bytes) not mappable: {e}", fd.as_raw_fd());
                    None
                }
            },
            _ => None,
        };
        Frame { fd, len, map }
    }

    /// The dma-buf.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Size of the dma-buf in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The frame's bytes (`None` when it could not be mapped).
    pub fn bytes(&self) -> Option<&[u8]> {
        self.map.as_ref().map(|m| &m[..])
    }

    /// The frame's bytes, writable (`None` when it could not be mapped).
    pub fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        self.map.as_mut().map(|m| &mut m[..])
    }
}
