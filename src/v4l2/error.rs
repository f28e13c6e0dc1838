//! The error type of the V4L2 / media edge: one variant per failure kind, each
//! keeping the operation and (for ioctls) the errno.

use nix::errno::Errno;

/// The operation that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Open,
    QueryCap,
    EnumFmt,
    EnumFramesizes,
    GFmt,
    SFmt,
    TryFmt,
    ReqBufs,
    CreateBufs,
    RemoveBufs,
    QueryBuf,
    Mmap,
    QBuf,
    DqBuf,
    ExpBuf,
    StreamOn,
    StreamOff,
    DecoderCmd,
    SExtCtrls,
    GExtCtrls,
    QueryExtCtrl,
    QueryMenu,
    RequestAlloc,
    RequestQueue,
    RequestReinit,
    Poll,
    MediaDeviceInfo,
    MediaGTopology,
}

impl Op {
    /// The ioctl / syscall name, for log lines.
    pub fn name(self) -> &'static str {
        match self {
            Op::Open => "open",
            Op::QueryCap => "VIDIOC_QUERYCAP",
            Op::EnumFmt => "VIDIOC_ENUM_FMT",
            Op::EnumFramesizes => "VIDIOC_ENUM_FRAMESIZES",
            Op::GFmt => "VIDIOC_G_FMT",
            Op::SFmt => "VIDIOC_S_FMT",
            Op::TryFmt => "VIDIOC_TRY_FMT",
            Op::ReqBufs => "VIDIOC_REQBUFS",
            Op::CreateBufs => "VIDIOC_CREATE_BUFS",
            Op::RemoveBufs => "VIDIOC_REMOVE_BUFS",
            Op::QueryBuf => "VIDIOC_QUERYBUF",
            Op::Mmap => "mmap",
            Op::QBuf => "VIDIOC_QBUF",
            Op::DqBuf => "VIDIOC_DQBUF",
            Op::ExpBuf => "VIDIOC_EXPBUF",
            Op::StreamOn => "VIDIOC_STREAMON",
            Op::StreamOff => "VIDIOC_STREAMOFF",
            Op::DecoderCmd => "VIDIOC_DECODER_CMD",
            Op::SExtCtrls => "VIDIOC_S_EXT_CTRLS",
            Op::GExtCtrls => "VIDIOC_G_EXT_CTRLS",
            Op::QueryExtCtrl => "VIDIOC_QUERY_EXT_CTRL",
            Op::QueryMenu => "VIDIOC_QUERYMENU",
            Op::RequestAlloc => "MEDIA_IOC_REQUEST_ALLOC",
            Op::RequestQueue => "MEDIA_REQUEST_IOC_QUEUE",
            Op::RequestReinit => "MEDIA_REQUEST_IOC_REINIT",
            Op::Poll => "poll",
            Op::MediaDeviceInfo => "MEDIA_IOC_DEVICE_INFO",
            Op::MediaGTopology => "MEDIA_IOC_G_TOPOLOGY",
        }
    }
}

/// Errors of the device / V4L2 layer.
#[derive(Debug)]
pub enum V4l2Error {
    /// An ioctl (or open/mmap/poll) failed with `errno`.
    Ioctl { op: Op, errno: Errno, context: String },
    /// A bounded wait expired (the operation may still complete later).
    Timeout { op: Op, context: String },
    /// The call does not fit the session's state (e.g. no buffers allocated,
    /// slot not free, index out of range).
    State(String),
    /// Invalid argument or unexpected data from the kernel.
    Invalid(String),
    /// The node cannot do what was asked (no media device, no requests...).
    Unsupported(String),
}

impl V4l2Error {
    /// The errno behind the error, when an ioctl failed.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            V4l2Error::Ioctl { errno, .. } => Some(*errno),
            V4l2Error::Timeout { .. } => Some(Errno::ETIMEDOUT),
            _ => None,
        }
    }

    /// The failed operation, when known.
    pub fn op(&self) -> Option<Op> {
        match self {
            V4l2Error::Ioctl { op, .. } | V4l2Error::Timeout { op, .. } => Some(*op),
            _ => None,
        }
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self, V4l2Error::Timeout { .. })
    }
}

impl std::fmt::Display for V4l2Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            V4l2Error::Ioctl { op, errno, context } => {
                write!(f, "{} failed: {} ({})", op.name(), errno, context)
            }
            V4l2Error::Timeout { op, context } => {
                write!(f, "{} timed out ({})", op.name(), context)
            }
            V4l2Error::State(s) => write!(f, "invalid state: {s}"),
            V4l2Error::Invalid(s) => write!(f, "invalid: {s}"),
            V4l2Error::Unsupported(s) => write!(f, "unsupported: {s}"),
        }
    }
}

impl std::error::Error for V4l2Error {}

/// Build an ioctl error and log it (one line, with errno and context).
pub(crate) fn ioctl_err(op: Op, errno: Errno, context: impl Into<String>) -> V4l2Error {
    let context = context.into();
    log::warn!("{} failed: {} ({})", op.name(), errno, context);
    V4l2Error::Ioctl { op, errno, context }
}

/// Build an ioctl error for an expected failure (probing), logged at debug level only.
pub(crate) fn ioctl_err_quiet(op: Op, errno: Errno, context: impl Into<String>) -> V4l2Error {
    let context = context.into();
    log::debug!("{} failed: {} ({})", op.name(), errno, context);
    V4l2Error::Ioctl { op, errno, context }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_is_kept() {
        let e = V4l2Error::Ioctl { op: Op::SFmt, errno: Errno::EBUSY, context: "x".into() };
        assert_eq!(e.errno(), Some(Errno::EBUSY));
        assert_eq!(e.op(), Some(Op::SFmt));
        assert!(e.to_string().contains("VIDIOC_S_FMT"));
        let t = V4l2Error::Timeout { op: Op::Poll, context: "req".into() };
        assert!(t.is_timeout());
        assert_eq!(t.errno(), Some(Errno::ETIMEDOUT));
        assert_eq!(V4l2Error::State("s".into()).errno(), None);
    }
}
