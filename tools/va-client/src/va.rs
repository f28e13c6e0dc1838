//! The libva edge: `extern "C"` declarations of the few entry points the
//! client uses (libva.so.2, libva-drm.so.2, layouts from /usr/include/va) and a
//! safe [`Display`] wrapper. Every `unsafe` block of the VA side is here.

use std::ffi::CStr;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::raw::{c_char, c_int, c_uint, c_void};

pub type VADisplay = *mut c_void;
pub type VAStatus = c_int;

pub const VA_STATUS_SUCCESS: VAStatus = 0;
pub const VA_RT_FORMAT_YUV420: u32 = 1;
pub const VA_PROGRESSIVE: c_int = 1;
pub const VA_PROFILE_H264_MAIN: i32 = 6;
pub const VA_ENTRYPOINT_VLD: u32 = 1;
pub const VA_PICTURE_PARAMETER_BUFFER: u32 = 0;
pub const VA_SLICE_PARAMETER_BUFFER: u32 = 4;
pub const VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2: u32 = 0x4000_0000;
pub const VA_EXPORT_SURFACE_READ_ONLY: u32 = 0x0001;
pub const VA_EXPORT_SURFACE_COMPOSED_LAYERS: u32 = 0x0008;
const VA_SURFACE_ATTRIB_PIXEL_FORMAT: u32 = 1;
const VA_SURFACE_ATTRIB_SETTABLE: u32 = 2;
const VA_GENERIC_VALUE_TYPE_INTEGER: u32 = 1;

/// `VAGenericValue`: a type tag and an 8-byte union (int / float / pointer / function).
#[repr(C)]
#[derive(Clone, Copy)]
struct VAGenericValue {
    type_: u32,
    value: u64,
}

/// `VASurfaceAttrib`.
#[repr(C)]
#[derive(Clone, Copy)]
struct VASurfaceAttrib {
    type_: u32,
    flags: u32,
    value: VAGenericValue,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct DrmObject {
    pub fd: c_int,
    pub size: u32,
    pub drm_format_modifier: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct DrmLayer {
    pub drm_format: u32,
    pub num_planes: u32,
    pub object_index: [u32; 4],
    pub offset: [u32; 4],
    pub pitch: [u32; 4],
}

/// `VADRMPRIMESurfaceDescriptor` (va_drmcommon.h).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct DrmPrimeDescriptor {
    pub fourcc: u32,
    pub width: u32,
    pub height: u32,
    pub num_objects: u32,
    pub objects: [DrmObject; 4],
    pub num_layers: u32,
    pub layers: [DrmLayer; 4],
}

// Layouts checked against gcc on /usr/include/va (x86_64 and other LP64 ABIs).
const _: () = assert!(std::mem::size_of::<DrmPrimeDescriptor>() == 312);
const _: () = assert!(std::mem::offset_of!(DrmPrimeDescriptor, num_layers) == 80);
const _: () = assert!(std::mem::offset_of!(DrmPrimeDescriptor, layers) == 84);
const _: () = assert!(std::mem::size_of::<VASurfaceAttrib>() == 24);

#[link(name = "va")]
extern "C" {
    fn vaInitialize(dpy: VADisplay, major: *mut c_int, minor: *mut c_int) -> VAStatus;
    fn vaTerminate(dpy: VADisplay) -> VAStatus;
    fn vaErrorStr(status: VAStatus) -> *const c_char;
    fn vaQueryVendorString(dpy: VADisplay) -> *const c_char;
    fn vaCreateConfig(
        dpy: VADisplay,
        profile: c_int,
        entrypoint: c_uint,
        attribs: *mut c_void,
        num_attribs: c_int,
        config: *mut u32,
    ) -> VAStatus;
    fn vaDestroyConfig(dpy: VADisplay, config: u32) -> VAStatus;
    fn vaCreateSurfaces(
        dpy: VADisplay,
        format: c_uint,
        width: c_uint,
        height: c_uint,
        surfaces: *mut u32,
        num_surfaces: c_uint,
        attribs: *mut VASurfaceAttrib,
        num_attribs: c_uint,
    ) -> VAStatus;
    fn vaDestroySurfaces(dpy: VADisplay, surfaces: *mut u32, num: c_int) -> VAStatus;
    fn vaCreateContext(
        dpy: VADisplay,
        config: u32,
        width: c_int,
        height: c_int,
        flag: c_int,
        targets: *mut u32,
        num_targets: c_int,
        context: *mut u32,
    ) -> VAStatus;
    fn vaDestroyContext(dpy: VADisplay, context: u32) -> VAStatus;
    fn vaCreateBuffer(
        dpy: VADisplay,
        context: u32,
        type_: c_uint,
        size: c_uint,
        num_elements: c_uint,
        data: *mut c_void,
        buf: *mut u32,
    ) -> VAStatus;
    fn vaDestroyBuffer(dpy: VADisplay, buf: u32) -> VAStatus;
    fn vaBeginPicture(dpy: VADisplay, context: u32, target: u32) -> VAStatus;
    fn vaRenderPicture(dpy: VADisplay, context: u32, buffers: *mut u32, num: c_int) -> VAStatus;
    fn vaEndPicture(dpy: VADisplay, context: u32) -> VAStatus;
    fn vaSyncSurface(dpy: VADisplay, surface: u32) -> VAStatus;
    fn vaExportSurfaceHandle(dpy: VADisplay, surface: u32, mem_type: u32, flags: u32, desc: *mut c_void) -> VAStatus;
}

#[link(name = "va-drm")]
extern "C" {
    fn vaGetDisplayDRM(fd: c_int) -> VADisplay;
}

/// A VA call that failed: its name and status.
#[derive(Debug)]
pub struct VaError {
    pub call: &'static str,
    pub status: VAStatus,
}

impl std::fmt::Display for VaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // SAFETY: vaErrorStr returns a pointer to a static NUL-terminated string for any status.
        let text = unsafe { CStr::from_ptr(vaErrorStr(self.status)) }.to_string_lossy();
        write!(f, "{} failed: {} ({:#x})", self.call, text, self.status)
    }
}

impl std::error::Error for VaError {}

fn check(call: &'static str, status: VAStatus) -> Result<(), VaError> {
    if status == VA_STATUS_SUCCESS {
        Ok(())
    } else {
        Err(VaError { call, status })
    }
}

/// An initialised VA display on a DRM render node. Terminated (and the node
/// closed) on drop.
pub struct Display {
    dpy: VADisplay,
    // Kept open for the display's lifetime; closed after vaTerminate.
    _node: File,
    pub vendor: String,
}

impl Display {
    pub fn open(path: &str) -> Result<Display, Box<dyn std::error::Error>> {
        let node = File::options().read(true).write(true).open(path).map_err(|e| format!("open {path}: {e}"))?;
        // SAFETY: the fd is valid for the File's lifetime, which outlives the display (field order
        // and Drop below: vaTerminate runs before the File is closed).
        let dpy = unsafe { vaGetDisplayDRM(node.as_raw_fd()) };
        if dpy.is_null() {
            return Err(format!("vaGetDisplayDRM({path}) returned no display").into());
        }
        let (mut major, mut minor) = (0, 0);
        // SAFETY: dpy comes from vaGetDisplayDRM; the out pointers are valid locals.
        check("vaInitialize", unsafe { vaInitialize(dpy, &mut major, &mut minor) })?;
        // SAFETY: an initialised display; the vendor string is owned by the driver and lives
        // until vaTerminate; it is copied at once.
        let vendor = unsafe {
            let p = vaQueryVendorString(dpy);
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        Ok(Display { dpy, _node: node, vendor })
    }

    pub fn create_config(&self, profile: i32, entrypoint: u32) -> Result<u32, VaError> {
        let mut id = 0u32;
        // SAFETY: valid display; no attributes (null, 0); `id` is a valid out pointer.
        check("vaCreateConfig", unsafe { vaCreateConfig(self.dpy, profile, entrypoint, std::ptr::null_mut(), 0, &mut id) })?;
        Ok(id)
    }

    pub fn destroy_config(&self, id: u32) -> Result<(), VaError> {
        // SAFETY: valid display; libva validates the ID.
        check("vaDestroyConfig", unsafe { vaDestroyConfig(self.dpy, id) })
    }

    pub fn create_surfaces(&self, rt_format: u32, width: u32, height: u32, fourcc: u32, count: usize) -> Result<Vec<u32>, VaError> {
        let mut ids = vec![0u32; count];
        let mut attrib = VASurfaceAttrib {
            type_: VA_SURFACE_ATTRIB_PIXEL_FORMAT,
            flags: VA_SURFACE_ATTRIB_SETTABLE,
            value: VAGenericValue { type_: VA_GENERIC_VALUE_TYPE_INTEGER, value: fourcc as u64 },
        };
        let (ap, an) = if fourcc != 0 { (&mut attrib as *mut VASurfaceAttrib, 1) } else { (std::ptr::null_mut(), 0) };
        // SAFETY: `ids` holds `count` entries; `ap` points to `an` attributes (the integer sits
        // in the union's first 4 bytes, little-endian, as `int i` does).
        check("vaCreateSurfaces", unsafe {
            vaCreateSurfaces(self.dpy, rt_format, width, height, ids.as_mut_ptr(), count as c_uint, ap, an)
        })?;
        Ok(ids)
    }

    pub fn destroy_surfaces(&self, ids: &[u32]) -> Result<(), VaError> {
        let mut v = ids.to_vec();
        // SAFETY: `v` holds `len` ids; libva does not keep the pointer.
        check("vaDestroySurfaces", unsafe { vaDestroySurfaces(self.dpy, v.as_mut_ptr(), v.len() as c_int) })
    }

    pub fn create_context(&self, config: u32, width: u32, height: u32, targets: &[u32]) -> Result<u32, VaError> {
        let mut t = targets.to_vec();
        let mut id = 0u32;
        // SAFETY: `t` holds `len` surface ids; `id` is a valid out pointer.
        check("vaCreateContext", unsafe {
            vaCreateContext(self.dpy, config, width as c_int, height as c_int, VA_PROGRESSIVE, t.as_mut_ptr(), t.len() as c_int, &mut id)
        })?;
        Ok(id)
    }

    pub fn destroy_context(&self, id: u32) -> Result<(), VaError> {
        // SAFETY: valid display; libva validates the ID.
        check("vaDestroyContext", unsafe { vaDestroyContext(self.dpy, id) })
    }

    /// Create a buffer holding `bytes` (`element_size * num_elements` of them) and render it.
    /// Returns the buffer id (to destroy after vaEndPicture, as applications do).
    pub fn render_buffer(&self, context: u32, type_: u32, element_size: u32, num_elements: u32, bytes: &[u8]) -> Result<u32, VaError> {
        let mut data = bytes.to_vec();
        data.resize((element_size as usize * num_elements as usize).max(bytes.len()), 0);
        let mut id = 0u32;
        // SAFETY: `data` holds at least element_size * num_elements bytes, which the driver copies.
        check("vaCreateBuffer", unsafe {
            vaCreateBuffer(self.dpy, context, type_, element_size, num_elements, data.as_mut_ptr() as *mut c_void, &mut id)
        })?;
        // SAFETY: one valid buffer id.
        let r = check("vaRenderPicture", unsafe { vaRenderPicture(self.dpy, context, &mut id, 1) });
        if let Err(e) = r {
            let _ = self.destroy_buffer(id);
            return Err(e);
        }
        Ok(id)
    }

    pub fn destroy_buffer(&self, id: u32) -> Result<(), VaError> {
        // SAFETY: valid display; libva validates the ID.
        check("vaDestroyBuffer", unsafe { vaDestroyBuffer(self.dpy, id) })
    }

    pub fn begin_picture(&self, context: u32, target: u32) -> Result<(), VaError> {
        // SAFETY: valid display; IDs are validated by the driver.
        check("vaBeginPicture", unsafe { vaBeginPicture(self.dpy, context, target) })
    }

    pub fn end_picture(&self, context: u32) -> Result<(), VaError> {
        // SAFETY: as above.
        check("vaEndPicture", unsafe { vaEndPicture(self.dpy, context) })
    }

    pub fn sync_surface(&self, surface: u32) -> Result<(), VaError> {
        // SAFETY: as above.
        check("vaSyncSurface", unsafe { vaSyncSurface(self.dpy, surface) })
    }

    /// vaExportSurfaceHandle (DRM PRIME 2, composed layers, read-only). The caller owns
    /// the fds in `objects[..num_objects]` (see [`crate::sys::take_fds`]).
    pub fn export_surface(&self, surface: u32) -> Result<DrmPrimeDescriptor, VaError> {
        let mut d = DrmPrimeDescriptor::default();
        for o in d.objects.iter_mut() {
            o.fd = -1;
        }
        // SAFETY: for DRM_PRIME_2 the descriptor is a VADRMPRIMESurfaceDescriptor (layout
        // asserted above), a valid local the driver fills.
        check("vaExportSurfaceHandle", unsafe {
            vaExportSurfaceHandle(
                self.dpy,
                surface,
                VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2,
                VA_EXPORT_SURFACE_READ_ONLY | VA_EXPORT_SURFACE_COMPOSED_LAYERS,
                &mut d as *mut DrmPrimeDescriptor as *mut c_void,
            )
        })?;
        Ok(d)
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        // SAFETY: the display was initialised in `open` and is terminated once, here.
        let _ = unsafe { vaTerminate(self.dpy) };
    }
}
