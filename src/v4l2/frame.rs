//! Frames: a decoded picture's memory as dma-bufs, owned by the driver.
//!
//! On devices whose CAPTURE queue takes `V4L2_MEMORY_DMABUF`, picture memory
//! is not tied to a context's CAPTURE queue: it is allocated from the
//! decoder's own CAPTURE queue on a dedicated file handle (so the device's
//! size, alignment and memory constraints hold), exported once as dma-bufs,
//! and the allocation queue is released again (the kernel keeps the memory
//! alive for as long as the dma-bufs are open). A context then queues those
//! dma-bufs on its CAPTURE queue. So a surface can own memory before any
//! context exists (an export right after vaCreateSurfaces), and the same
//! memory carries its pictures once a context adopts it.
//!
//! A frame has one dma-buf per V4L2 memory plane: one for single-buffer
//! formats (NV12, P010, the single-buffer tiled ones), one per picture plane
//! for formats whose planes are separate buffers (MediaTek's `MM21`: luma and
//! chroma), at most [`MAX_FRAME_PLANES`]. The planes live inline: a frame
//! holds no heap memory of its own.
//!
//! Each plane is mapped once, read-write and shared, for CPU access
//! (vaDeriveImage, vaGetImage, vaPutImage); a dma-buf that cannot be mapped
//! (some imports) is still decodable and exportable, only not CPU-accessible.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use v4l2r::ioctl::PlaneMapping;

/// Most memory planes a frame has (V4L2's multi-buffer YUV formats have up to three).
pub const MAX_FRAME_PLANES: usize = 3;

/// One dma-buf of a frame and its mapping.
struct FramePlane {
    fd: OwnedFd,
    map: Option<PlaneMapping>,
}

impl FramePlane {
    /// Take ownership of dma-buf `fd` of `len` bytes and map it for CPU access.
    fn new(fd: OwnedFd, len: usize) -> Self {
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
        FramePlane { fd, map }
    }
}

/// The dma-bufs holding a whole picture: one per memory plane of its format.
pub struct Frame {
    /// Memory planes (1..=[`MAX_FRAME_PLANES`]).
    count: usize,
    /// Size of each memory plane's dma-buf (`lens[..count]`).
    lens: [usize; MAX_FRAME_PLANES],
    first: FramePlane,
    /// Planes 1.. (`Some` for `1..count`).
    more: [Option<FramePlane>; MAX_FRAME_PLANES - 1],
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fds: [RawFd; MAX_FRAME_PLANES] = std::array::from_fn(|i| self.plane(i).map(|p| p.fd.as_raw_fd()).unwrap_or(-1));
        f.debug_struct("Frame")
            .field("fds", &&fds[..self.count])
            .field("lens", &self.lens())
            .field("mapped", &self.plane_iter().all(|p| p.map.is_some()))
            .finish()
    }
}

impl Frame {
    /// A single-buffer frame: take ownership of dma-buf `fd` of `len` bytes and map it.
    pub fn new(fd: OwnedFd, len: usize) -> Self {
        Frame { count: 1, lens: [len, 0, 0], first: FramePlane::new(fd, len), more: [None, None] }
    }

    /// A frame of one dma-buf per memory plane, `(fd, len)` in plane order;
    /// `None` (the fds closed) for no plane or more than [`MAX_FRAME_PLANES`].
    pub fn from_planes(planes: impl IntoIterator<Item = (OwnedFd, usize)>) -> Option<Self> {
        let mut planes = planes.into_iter();
        let (fd, len) = planes.next()?;
        let mut frame = Frame::new(fd, len);
        for (fd, len) in planes {
            let i = frame.count;
            let slot = frame.more.get_mut(i - 1)?;
            *slot = Some(FramePlane::new(fd, len));
            frame.lens[i] = len;
            frame.count += 1;
        }
        Some(frame)
    }

    fn plane(&self, plane: usize) -> Option<&FramePlane> {
        match plane {
            0 => Some(&self.first),
            p => self.more.get(p - 1)?.as_ref(),
        }
    }

    fn plane_mut(&mut self, plane: usize) -> Option<&mut FramePlane> {
        match plane {
            0 => Some(&mut self.first),
            p => self.more.get_mut(p - 1)?.as_mut(),
        }
    }

    fn plane_iter(&self) -> impl Iterator<Item = &FramePlane> {
        std::iter::once(&self.first).chain(self.more.iter().flatten())
    }

    /// Memory planes (dma-bufs) of the frame.
    pub fn num_planes(&self) -> usize {
        self.count
    }

    /// The dma-buf of plane 0 (the whole picture of a single-buffer format).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.first.fd.as_fd()
    }

    pub fn raw_fd(&self) -> RawFd {
        self.first.fd.as_raw_fd()
    }

    /// The dma-buf of memory plane `plane`.
    pub fn plane_fd(&self, plane: usize) -> Option<BorrowedFd<'_>> {
        self.plane(plane).map(|p| p.fd.as_fd())
    }

    /// Size of plane 0's dma-buf in bytes (the whole picture of a single-buffer format).
    pub fn len(&self) -> usize {
        self.lens[0]
    }

    pub fn is_empty(&self) -> bool {
        self.lens[..self.count].iter().all(|&l| l == 0)
    }

    /// Size of each memory plane's dma-buf, in plane order.
    pub fn lens(&self) -> &[usize] {
        &self.lens[..self.count]
    }

    /// Plane 0's bytes (`None` when it could not be mapped).
    pub fn bytes(&self) -> Option<&[u8]> {
        self.plane_bytes(0)
    }

    /// Plane 0's bytes, writable (`None` when it could not be mapped).
    pub fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        self.plane_bytes_mut(0)
    }

    /// Memory plane `plane`'s bytes (`None` when there is no such plane or it could not be mapped).
    pub fn plane_bytes(&self, plane: usize) -> Option<&[u8]> {
        self.plane(plane)?.map.as_ref().map(|m| &m[..])
    }

    /// Memory plane `plane`'s bytes, writable.
    pub fn plane_bytes_mut(&mut self, plane: usize) -> Option<&mut [u8]> {
        self.plane_mut(plane)?.map.as_mut().map(|m| &mut m[..])
    }

    /// Every memory plane's bytes (`None` when one could not be mapped).
    pub fn planes_bytes(&self) -> Option<Vec<&[u8]>> {
        self.plane_iter().map(|p| p.map.as_ref().map(|m| &m[..])).collect()
    }

    /// Every memory plane's bytes, writable (`None` when one could not be mapped).
    pub fn planes_bytes_mut(&mut self) -> Option<Vec<&mut [u8]>> {
        std::iter::once(&mut self.first).chain(self.more.iter_mut().flatten()).map(|p| p.map.as_mut().map(|m| &mut m[..])).collect()
    }

    /// Every memory plane's dma-buf, in plane order.
    pub fn fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.plane_iter().map(|p| p.fd.as_fd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memfd(len: usize) -> OwnedFd {
        let fd = nix::sys::memfd::memfd_create(c"frame-test", nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC).unwrap();
        nix::unistd::ftruncate(&fd, len as i64).unwrap();
        fd
    }

    #[test]
    fn frames_have_one_mapped_dma_buf_per_plane() {
        let one = Frame::new(memfd(4096), 4096);
        assert_eq!((one.num_planes(), one.lens(), one.len()), (1, &[4096][..], 4096));
        assert!(one.plane_fd(1).is_none() && one.plane_bytes(1).is_none());

        let mut two = Frame::from_planes([(memfd(8192), 8192), (memfd(4096), 4096)]).unwrap();
        assert_eq!((two.num_planes(), two.lens(), two.len()), (2, &[8192, 4096][..], 8192));
        assert_eq!(two.fds().count(), 2);
        assert_ne!(two.plane_fd(0).unwrap().as_raw_fd(), two.plane_fd(1).unwrap().as_raw_fd());
        two.plane_bytes_mut(1).unwrap()[0] = 7;
        {
            let mut all = two.planes_bytes_mut().unwrap();
            assert_eq!((all.len(), all[0].len(), all[1].len()), (2, 8192, 4096));
            all[0][0] = 3;
        }
        let all = two.planes_bytes().unwrap();
        assert_eq!((all[0][0], all[1][0]), (3, 7));

        assert!(Frame::from_planes(std::iter::empty()).is_none());
        assert!(Frame::from_planes((0..4).map(|_| (memfd(64), 64))).is_none());
    }
}
