//! `VIDIOC_REMOVE_BUFS` (Linux >= 6.10): give buffers of a queue back one
//! index at a time while the queue keeps streaming, so a pool can shrink.
//! v4l2r 0.0.8 has no wrapper for it, and its `BufferCapabilities` drops the
//! `V4L2_BUF_CAP_SUPPORTS_REMOVE_BUFS` bit, so the capability is read from the
//! raw REQBUFS result ([`supports_remove_bufs`]).

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;
use v4l2r::bindings;

nix::ioctl_readwrite!(vidioc_remove_bufs, b'V', 104, bindings::v4l2_remove_buffers);

/// Whether a raw `capabilities` field (REQBUFS / CREATE_BUFS) says the queue
/// takes `VIDIOC_REMOVE_BUFS`.
pub fn supports_remove_bufs(capabilities: u32) -> bool {
    capabilities & bindings::V4L2_BUF_CAP_SUPPORTS_REMOVE_BUFS != 0
}

/// Remove `count` buffers from `index` on queue `buf_type` of `video`.
pub fn remove_bufs(video: BorrowedFd<'_>, buf_type: u32, index: u32, count: u32) -> Result<(), Errno> {
    let mut arg = bindings::v4l2_remove_buffers { index, count, type_: buf_type, reserved: [0; 13] };
    // SAFETY: `arg` is a valid, initialised v4l2_remove_buffers, the argument
    // type of VIDIOC_REMOVE_BUFS; the kernel reads it and may write it back,
    // both within its size. `video` is an open V4L2 fd for the call.
    unsafe { vidioc_remove_bufs(video.as_raw_fd(), &mut arg) }.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_bit() {
        assert!(supports_remove_bufs(bindings::V4L2_BUF_CAP_SUPPORTS_REMOVE_BUFS | 1));
        assert!(!supports_remove_bufs(bindings::V4L2_BUF_CAP_SUPPORTS_DMABUF));
    }
}
