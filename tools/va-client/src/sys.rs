//! The kernel edge: sw_sync timelines (drivers/dma-buf/sw_sync.c) and
//! DMA_BUF_IOCTL_IMPORT_SYNC_FILE (include/uapi/linux/dma-buf.h), plus /proc
//! counters. Every `unsafe` block of the ioctl side is here.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::raw::{c_char, c_int, c_uint, c_ulong, c_void};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

extern "C" {
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
    fn mmap(addr: *mut c_void, len: usize, prot: c_int, flags: c_int, fd: c_int, offset: i64) -> *mut c_void;
    fn munmap(addr: *mut c_void, len: usize) -> c_int;
    fn lseek(fd: c_int, offset: i64, whence: c_int) -> i64;
    fn memfd_create(name: *const c_char, flags: c_uint) -> c_int;
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
}

const PROT_READ: c_int = 1;
const PROT_WRITE: c_int = 2;
const MAP_SHARED: c_int = 1;
const SEEK_END: c_int = 2;
const MFD_CLOEXEC: c_uint = 1;
const MFD_ALLOW_SEALING: c_uint = 2;
const F_ADD_SEALS: c_int = 1033;
const F_SEAL_SHRINK: c_int = 2;

const fn ioc(dir: c_ulong, ty: u8, nr: u8, size: usize) -> c_ulong {
    (dir << 30) | ((size as c_ulong) << 16) | ((ty as c_ulong) << 8) | nr as c_ulong
}
const IOC_WRITE: c_ulong = 1;
const IOC_READ: c_ulong = 2;

/// struct sw_sync_create_fence_data (sw_sync.c).
#[repr(C)]
struct SwSyncCreateFenceData {
    value: u32,
    name: [u8; 32],
    fence: i32,
}

/// struct dma_buf_import_sync_file (uapi/linux/dma-buf.h).
#[repr(C)]
struct DmaBufImportSyncFile {
    flags: u32,
    fd: i32,
}

const SW_SYNC_IOC_CREATE_FENCE: c_ulong = ioc(IOC_READ | IOC_WRITE, b'W', 0, std::mem::size_of::<SwSyncCreateFenceData>());
const SW_SYNC_IOC_INC: c_ulong = ioc(IOC_WRITE, b'W', 1, std::mem::size_of::<u32>());
const DMA_BUF_IOCTL_IMPORT_SYNC_FILE: c_ulong = ioc(IOC_WRITE, b'b', 3, std::mem::size_of::<DmaBufImportSyncFile>());
const DMA_BUF_SYNC_READ: u32 = 1;

/// struct dma_buf_sync (uapi/linux/dma-buf.h).
#[repr(C)]
struct DmaBufSync {
    flags: u64,
}
const DMA_BUF_IOCTL_SYNC: c_ulong = ioc(IOC_WRITE, b'b', 0, std::mem::size_of::<DmaBufSync>());
const DMA_BUF_SYNC_WRITE: u64 = 2;
const DMA_BUF_SYNC_END: u64 = 4;

/// struct udmabuf_create (uapi/linux/udmabuf.h).
#[repr(C)]
struct UdmabufCreate {
    memfd: u32,
    flags: u32,
    offset: u64,
    size: u64,
}
const UDMABUF_CREATE: c_ulong = ioc(IOC_WRITE, b'u', 0x42, std::mem::size_of::<UdmabufCreate>());
const UDMABUF_FLAGS_CLOEXEC: u32 = 1;

const _: () = assert!(std::mem::size_of::<SwSyncCreateFenceData>() == 40);
const _: () = assert!(SW_SYNC_IOC_CREATE_FENCE == 0xc028_5700);
const _: () = assert!(SW_SYNC_IOC_INC == 0x4004_5701);
const _: () = assert!(DMA_BUF_IOCTL_IMPORT_SYNC_FILE == 0x4008_6203);
const _: () = assert!(DMA_BUF_IOCTL_SYNC == 0x4008_6200);
const _: () = assert!(UDMABUF_CREATE == 0x4018_7542);

fn ret(r: c_int) -> io::Result<c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// CLOCK_REALTIME as seconds (strace -ttt's clock).
pub fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// A sw_sync timeline (debugfs `sync/sw_sync`). Fences are created at
/// increasing values and signalled in order, one increment each.
pub struct Timeline {
    file: File,
    next: AtomicU32,
}

impl Timeline {
    pub fn open() -> io::Result<Timeline> {
        let path = std::env::var("V4L2RVA_SW_SYNC").unwrap_or_else(|_| "/sys/kernel/debug/sync/sw_sync".into());
        let file = File::options().read(true).write(true).open(&path).map_err(|e| io::Error::new(e.kind(), format!("open {path}: {e}")))?;
        Ok(Timeline { file, next: AtomicU32::new(1) })
    }

    /// A new fence (sync_file) that signals at the timeline's next value.
    pub fn create_fence(&self) -> io::Result<OwnedFd> {
        let value = self.next.fetch_add(1, Ordering::Relaxed);
        let mut data = SwSyncCreateFenceData { value, name: [0; 32], fence: -1 };
        data.name[..8].copy_from_slice(b"va-cli\0\0");
        // SAFETY: a valid timeline fd and a properly sized, writable struct for this _IOWR ioctl.
        ret(unsafe { ioctl(self.file.as_raw_fd(), SW_SYNC_IOC_CREATE_FENCE, &mut data as *mut SwSyncCreateFenceData) })?;
        if data.fence < 0 {
            return Err(io::Error::other("sw_sync returned no fence fd"));
        }
        // SAFETY: the kernel just installed this fd for us; nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(data.fence) })
    }

    /// Advance the timeline by one: signals the oldest unsignalled fence.
    pub fn signal_one(&self) -> io::Result<()> {
        let inc: u32 = 1;
        // SAFETY: a valid timeline fd and a pointer to a u32, as SW_SYNC_IOC_INC expects.
        ret(unsafe { ioctl(self.file.as_raw_fd(), SW_SYNC_IOC_INC, &inc as *const u32) }).map(|_| ())
    }
}

/// Attach `fence` to the dma-buf `dmabuf` as a reader (DMA_BUF_SYNC_READ): writers
/// that respect implicit sync (POLLOUT) must wait for it.
pub fn attach_read_fence(dmabuf: BorrowedFd<'_>, fence: BorrowedFd<'_>) -> io::Result<()> {
    let arg = DmaBufImportSyncFile { flags: DMA_BUF_SYNC_READ, fd: fence.as_raw_fd() };
    // SAFETY: valid fds and a properly sized struct for this _IOW ioctl (the kernel only reads it).
    ret(unsafe { ioctl(dmabuf.as_raw_fd(), DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &arg as *const DmaBufImportSyncFile) }).map(|_| ())
}

/// Take ownership of an fd returned by the driver (closed on drop).
pub fn own_fd(fd: RawFd) -> Option<OwnedFd> {
    if fd < 0 {
        return None;
    }
    // SAFETY: vaExportSurfaceHandle hands the caller new fds it must close; each is
    // taken exactly once (the descriptor is not used for fds afterwards).
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Process resource counts: open fds by kind and mappings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub fds: usize,
    pub video_fds: usize,
    pub media_fds: usize,
    pub dmabuf_fds: usize,
    pub other_anon_fds: usize,
    pub maps: usize,
    pub video_maps: usize,
}

pub fn resources() -> Resources {
    let mut r = Resources::default();
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        for e in dir.flatten() {
            r.fds += 1;
            let t = std::fs::read_link(e.path()).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            if t.starts_with("/dev/video") {
                r.video_fds += 1;
            } else if t.starts_with("/dev/media") {
                r.media_fds += 1;
            } else if t.contains("dmabuf") {
                r.dmabuf_fds += 1;
            } else if t.starts_with("anon_inode:") {
                r.other_anon_fds += 1;
            }
        }
        r.fds = r.fds.saturating_sub(1); // the read_dir handle itself
    }
    if let Ok(maps) = std::fs::read_to_string("/proc/self/maps") {
        for l in maps.lines() {
            r.maps += 1;
            if l.contains("/dev/video") {
                r.video_maps += 1;
            }
        }
    }
    r
}

/// The size of the file behind `fd` by lseek(SEEK_END): a dma-buf's size.
pub fn fd_size(fd: BorrowedFd<'_>) -> io::Result<u64> {
    // SAFETY: lseek on a valid fd; no memory is passed.
    let r = unsafe { lseek(fd.as_raw_fd(), 0, SEEK_END) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as u64)
    }
}

/// A shared mapping of the first `len` bytes of a dma-buf, unmapped on drop. Reads
/// and writes are bracketed by DMA_BUF_IOCTL_SYNC (CPU access begin / end).
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
    fd: OwnedFd,
}

impl Mapping {
    pub fn new(fd: BorrowedFd<'_>, len: usize, writable: bool) -> io::Result<Mapping> {
        if len == 0 {
            return Err(io::Error::other("mapping of 0 bytes"));
        }
        let fd = fd.try_clone_to_owned()?;
        let prot = if writable { PROT_READ | PROT_WRITE } else { PROT_READ };
        // SAFETY: a new shared mapping chosen by the kernel (null hint) of a valid fd; the
        // result is checked against MAP_FAILED before use.
        let p = unsafe { mmap(std::ptr::null_mut(), len, prot, MAP_SHARED, fd.as_raw_fd(), 0) };
        if p as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping { ptr: p as *mut u8, len, fd })
    }

    fn sync(&self, flags: u64) {
        let arg = DmaBufSync { flags };
        // SAFETY: a valid fd and a properly sized struct for this _IOW ioctl. Not every
        // file supports it (best effort: the mapping is coherent for the test's buffers).
        let _ = unsafe { ioctl(self.fd.as_raw_fd(), DMA_BUF_IOCTL_SYNC, &arg as *const DmaBufSync) };
    }

    /// A copy of the mapped bytes.
    pub fn read(&self) -> Vec<u8> {
        self.sync(DMA_BUF_SYNC_READ as u64);
        // SAFETY: `ptr` maps `len` readable bytes until drop.
        let v = unsafe { std::slice::from_raw_parts(self.ptr, self.len) }.to_vec();
        self.sync(DMA_BUF_SYNC_READ as u64 | DMA_BUF_SYNC_END);
        v
    }

    /// Let `f` write the mapped bytes (the mapping must be writable).
    pub fn write(&self, f: impl FnOnce(&mut [u8])) {
        self.sync(DMA_BUF_SYNC_WRITE);
        // SAFETY: `ptr` maps `len` writable bytes (PROT_WRITE, checked by the caller's
        // `writable`) until drop; this is the only view handed out at a time.
        f(unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) });
        self.sync(DMA_BUF_SYNC_WRITE | DMA_BUF_SYNC_END);
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`, once.
        let _ = unsafe { munmap(self.ptr as *mut c_void, self.len) };
    }
}

/// A dma-buf of `size` bytes (rounded up to 4 KiB) over a sealed memfd, from
/// /dev/udmabuf. Returns the dma-buf and its size.
pub fn udmabuf(size: usize) -> io::Result<(OwnedFd, usize)> {
    let size = size.next_multiple_of(4096);
    // SAFETY: a NUL-terminated name; the returned fd is checked and owned at once.
    let mfd = unsafe { memfd_create(c"va-client".as_ptr(), MFD_CLOEXEC | MFD_ALLOW_SEALING) };
    ret(mfd)?;
    // SAFETY: the kernel just created this fd; nothing else owns it.
    let memfd = File::from(unsafe { OwnedFd::from_raw_fd(mfd) });
    memfd.set_len(size as u64)?;
    // SAFETY: fcntl(F_ADD_SEALS) with an int argument on a valid memfd.
    ret(unsafe { fcntl(memfd.as_raw_fd(), F_ADD_SEALS, F_SEAL_SHRINK) })?;
    let dev = File::options().read(true).write(true).open("/dev/udmabuf")?;
    let arg = UdmabufCreate { memfd: memfd.as_raw_fd() as u32, flags: UDMABUF_FLAGS_CLOEXEC, offset: 0, size: size as u64 };
    // SAFETY: a valid /dev/udmabuf fd and a properly sized struct for this _IOW ioctl.
    let fd = ret(unsafe { ioctl(dev.as_raw_fd(), UDMABUF_CREATE, &arg as *const UdmabufCreate) })?;
    // SAFETY: UDMABUF_CREATE returns a new dma-buf fd; nothing else owns it.
    Ok((unsafe { OwnedFd::from_raw_fd(fd) }, size))
}
