//! The V4L2 edge: one decoder session per VA context (both queues, the request
//! ring, mmaps), extended controls, media requests, the media controller,
//! fourccs and timestamps. Every ioctl of the crate is issued here (the layers
//! above call these functions); this module imports nothing from them.
//!
//! `unsafe` lives only in the private ioctl modules of [`request`],
//! [`remove_bufs`], [`media`] and [`controls`] (the byte view of control
//! structs); everything else goes through v4l2r's safe ioctl wrappers.

pub mod controls;
pub mod decoder_device;
pub mod error;
pub mod fourcc;
pub mod frame;
pub mod media;
pub mod probe;
pub mod remove_bufs;
pub mod request;
pub mod session;
pub mod time;

pub use controls::{codec_controls, ControlSpec, HevcEntryPointOffset};
pub use decoder_device::DecoderDevice;
pub use error::{Op, V4l2Error};
pub use fourcc::*;
pub use frame::{Frame, MAX_FRAME_PLANES};
pub use session::{CaptureFormat, CaptureMemory, DecoderSession, DequeuedCapture};

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Open a V4L2 video node: O_RDWR | O_NONBLOCK | O_CLOEXEC.
pub fn open_video(path: &Path) -> Result<File, V4l2Error> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| open_err(path, e))
}

/// Open a media controller node: O_RDWR | O_CLOEXEC.
pub fn open_media(path: &Path) -> Result<File, V4l2Error> {
    std::fs::OpenOptions::new().read(true).write(true).custom_flags(libc::O_CLOEXEC).open(path).map_err(|e| open_err(path, e))
}

fn open_err(path: &Path, e: std::io::Error) -> V4l2Error {
    let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    error::ioctl_err(Op::Open, errno, path.display().to_string())
}
