//! The ioctls of node probing at discovery, on a freshly opened video node:
//! `VIDIOC_QUERYCAP`, `VIDIOC_REQBUFS` with count 0 (the OUTPUT queue's
//! capabilities), `VIDIOC_S_FMT` of a coded format and
//! `VIDIOC_ENUM_FRAMESIZES`. `crate::device` decides what the answers mean;
//! these only issue the ioctls (through v4l2r) and return the errno.

use std::fs::File;

use nix::errno::Errno;
use v4l2r::bindings as b;
use v4l2r::ioctl::{BufferCapabilities, Capability, MemoryConsistency, RequestBuffers};
use v4l2r::memory::MemoryType;
use v4l2r::{Format, PlaneLayout, QueueType};

/// Size of the bitstream buffer asked for by [`set_coded_format`].
const PROBE_SIZEIMAGE: u32 = 1 << 20;

/// `VIDIOC_QUERYCAP`
pub fn querycap(video: &File) -> Result<Capability, Errno> {
    v4l2r::ioctl::querycap(video).map_err(Errno::from)
}

/// `VIDIOC_REQBUFS` with count 0 and MMAP memory on `queue`: frees nothing on a
/// fresh handle and returns the queue's capabilities.
pub fn queue_capabilities(video: &File, queue: QueueType) -> Result<BufferCapabilities, Errno> {
    let rb: RequestBuffers = v4l2r::ioctl::reqbufs(video, queue, MemoryType::Mmap, 0, MemoryConsistency::empty()).map_err(Errno::from)?;
    Ok(rb.capabilities)
}

/// `VIDIOC_S_FMT` of `queue` (an OUTPUT queue) to `coded_fourcc` at
/// `width`×`height` with a 1 MiB bitstream buffer; the format the device set.
pub fn set_coded_format(video: &mut File, queue: QueueType, coded_fourcc: u32, width: u32, height: u32) -> Result<Format, Errno> {
    let fmt = Format {
        width,
        height,
        pixelformat: coded_fourcc.into(),
        plane_fmt: vec![PlaneLayout { sizeimage: PROBE_SIZEIMAGE, bytesperline: 0 }],
    };
    v4l2r::ioctl::s_fmt(video, (queue, &fmt)).map_err(Errno::from)
}

/// `VIDIOC_ENUM_FRAMESIZES` of `coded_fourcc` at `index`.
pub fn enum_frame_size(video: &File, coded_fourcc: u32, index: u32) -> Result<b::v4l2_frmsizeenum, Errno> {
    v4l2r::ioctl::enum_frame_sizes(video, index, coded_fourcc.into()).map_err(Errno::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_v4l2_file_fails_each_ioctl() {
        let mut f = File::open("/dev/null").unwrap();
        assert!(querycap(&f).is_err());
        assert!(queue_capabilities(&f, QueueType::VideoOutputMplane).is_err());
        assert!(set_coded_format(&mut f, QueueType::VideoOutputMplane, crate::v4l2::V4L2_PIX_FMT_H264_SLICE, 64, 64).is_err());
        assert!(enum_frame_size(&f, crate::v4l2::V4L2_PIX_FMT_H264_SLICE, 0).is_err());
    }
}
