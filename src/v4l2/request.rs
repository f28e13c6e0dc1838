//! Media requests: `MEDIA_IOC_REQUEST_ALLOC`, `MEDIA_REQUEST_IOC_QUEUE`,
//! `MEDIA_REQUEST_IOC_REINIT` and the bounded POLLPRI wait on a request fd.
//!
//! v4l2r has `v4l2r::ioctl::Request`, but it polls a *different* fd than the
//! request, can panic on large timeouts and does not expose `AsFd`; this small
//! module owns the request fd as an `OwnedFd` instead.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};

/// The ioctl edge of media requests.
mod ioctl {
    use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

    nix::ioctl_read!(media_ioc_request_alloc, b'|', 0x05, libc::c_int);
    nix::ioctl_none!(media_request_ioc_queue, b'|', 0x80);
    nix::ioctl_none!(media_request_ioc_reinit, b'|', 0x81);

    pub fn alloc(media: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
        let mut fd: libc::c_int = -1;
        // SAFETY: `fd` is a valid, writable c_int, the argument type of
        // MEDIA_IOC_REQUEST_ALLOC; the kernel writes only that int. `media` is an
        // open fd for the duration of the call.
        unsafe { media_ioc_request_alloc(media.as_raw_fd(), &mut fd) }?;
        if fd < 0 {
            return Err(nix::errno::Errno::EBADF);
        }
        // SAFETY: on success the kernel installed a new request fd in our fd
        // table and returned its number; nobody else owns it, so we take
        // ownership exactly once here.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    pub fn queue(request: BorrowedFd<'_>) -> nix::Result<()> {
        // SAFETY: MEDIA_REQUEST_IOC_QUEUE takes no argument; `request` is a live
        // fd borrowed from its owner for the call.
        unsafe { media_request_ioc_queue(request.as_raw_fd()) }.map(|_| ())
    }

    pub fn reinit(request: BorrowedFd<'_>) -> nix::Result<()> {
        // SAFETY: MEDIA_REQUEST_IOC_REINIT takes no argument; `request` is a live
        // fd borrowed from its owner for the call.
        unsafe { media_request_ioc_reinit(request.as_raw_fd()) }.map(|_| ())
    }
}

/// An allocated media request (closed on drop).
#[derive(Debug)]
pub struct Request {
    fd: OwnedFd,
}

impl Request {
    /// `MEDIA_IOC_REQUEST_ALLOC` on the media device.
    pub fn alloc(media_fd: BorrowedFd<'_>) -> Result<Self, Errno> {
        ioctl::alloc(media_fd).map(|fd| Request { fd })
    }

    /// `MEDIA_REQUEST_IOC_QUEUE`
    pub fn queue(&self) -> Result<(), Errno> {
        ioctl::queue(self.fd.as_fd())
    }

    /// `MEDIA_REQUEST_IOC_REINIT`
    pub fn reinit(&self) -> Result<(), Errno> {
        ioctl::reinit(self.fd.as_fd())
    }

    /// Wait up to `timeout` for the request to complete (POLLPRI).
    /// `Ok(true)`: complete; `Ok(false)`: timed out. POLLERR (request not
    /// queued) is reported as `EINVAL`. EINTR is retried within the bound.
    pub fn wait(&self, timeout: Duration) -> Result<bool, Errno> {
        match poll_fd(self.fd.as_fd(), PollFlags::POLLPRI, timeout)? {
            None => Ok(false),
            Some(f) if f.contains(PollFlags::POLLPRI) => Ok(true),
            Some(f) if f.intersects(PollFlags::POLLERR | PollFlags::POLLNVAL) => Err(Errno::EINVAL),
            Some(_) => Ok(false),
        }
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Request {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Bounded poll of one fd. `Ok(None)` on timeout, `Ok(Some(revents))` otherwise.
/// EINTR restarts the poll with the remaining time.
pub fn poll_fd(fd: BorrowedFd<'_>, events: PollFlags, timeout: Duration) -> Result<Option<PollFlags>, Errno> {
    let deadline = crate::v4l2::session::deadline_after(timeout);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        // Round up so that a sub-millisecond budget still waits a little.
        let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        let ms = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(fd, events)];
        match nix::poll::poll(&mut fds, ms) {
            Ok(0) => return Ok(None),
            Ok(_) => return Ok(Some(fds[0].revents().unwrap_or(PollFlags::empty()))),
            Err(Errno::EINTR) if std::time::Instant::now() < deadline => continue,
            Err(Errno::EINTR) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_media_h() {
        assert_eq!(nix::request_code_read!(b'|', 0x05, std::mem::size_of::<libc::c_int>()), 0x8004_7c05);
        assert_eq!(nix::request_code_none!(b'|', 0x80), 0x7c80);
        assert_eq!(nix::request_code_none!(b'|', 0x81), 0x7c81);
    }

    #[test]
    fn poll_is_bounded() {
        // A pipe with nothing to read: the poll must return after the timeout.
        let (r, _w) = nix::unistd::pipe().unwrap();
        let t0 = std::time::Instant::now();
        let res = poll_fd(r.as_fd(), PollFlags::POLLIN, Duration::from_millis(20)).unwrap();
        assert!(res.is_none());
        assert!(t0.elapsed() >= Duration::from_millis(15));
        assert!(t0.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn huge_timeouts_do_not_overflow() {
        let (r, w) = nix::unistd::pipe().unwrap();
        nix::unistd::write(&w, b"x").unwrap();
        let res = poll_fd(r.as_fd(), PollFlags::POLLIN, Duration::MAX).unwrap();
        assert!(res.unwrap().contains(PollFlags::POLLIN));
    }

    #[test]
    fn poll_sees_ready_fd() {
        let (r, w) = nix::unistd::pipe().unwrap();
        nix::unistd::write(&w, b"x").unwrap();
        let res = poll_fd(r.as_fd(), PollFlags::POLLIN, Duration::from_millis(1000)).unwrap();
        assert!(res.unwrap().contains(PollFlags::POLLIN));
    }

    #[test]
    fn alloc_on_a_non_media_fd_fails_cleanly() {
        let f = std::fs::File::open("/dev/null").unwrap();
        assert!(Request::alloc(f.as_fd()).is_err());
    }
}
