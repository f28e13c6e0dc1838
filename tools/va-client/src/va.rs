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
pub const VA_RT_FORMAT_YUV420_10: u32 = 0x100;
pub const VA_FOURCC_NV12: u32 = 0x3231_564e;
pub const VA_FOURCC_P010: u32 = 0x3031_3050;
pub const VA_PROFILE_HEVC_MAIN10: i32 = 18;
pub const VA_PROFILE_VP9_PROFILE2: i32 = 21;
pub const VA_PROGRESSIVE: c_int = 1;
pub const VA_PROFILE_H264_MAIN: i32 = 6;
pub const VA_ENTRYPOINT_VLD: u32 = 1;
pub const VA_PICTURE_PARAMETER_BUFFER: u32 = 0;
pub const VA_SLICE_PARAMETER_BUFFER: u32 = 4;
pub const VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2: u32 = 0x4000_0000;
pub const VA_EXPORT_SURFACE_READ_ONLY: u32 = 0x0001;
pub const VA_EXPORT_SURFACE_WRITE_ONLY: u32 = 0x0002;
pub const VA_EXPORT_SURFACE_SEPARATE_LAYERS: u32 = 0x0004;
pub const VA_EXPORT_SURFACE_COMPOSED_LAYERS: u32 = 0x0008;
const VA_SURFACE_ATTRIB_PIXEL_FORMAT: u32 = 1;
const VA_SURFACE_ATTRIB_MEMORY_TYPE: u32 = 6;
const VA_SURFACE_ATTRIB_EXTERNAL_BUFFER_DESCRIPTOR: u32 = 7;
const VA_SURFACE_ATTRIB_SETTABLE: u32 = 2;
const VA_GENERIC_VALUE_TYPE_INTEGER: u32 = 1;
const VA_GENERIC_VALUE_TYPE_POINTER: u32 = 3;
pub const VA_STATUS_ERROR_INVALID_IMAGE: VAStatus = 0x08;

/// `VAImageFormat`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct ImageFormat {
    pub fourcc: u32,
    pub byte_order: u32,
    pub bits_per_pixel: u32,
    pub depth: u32,
    pub masks: [u32; 4],
    pub reserved: [u32; 4],
}

/// `VAImage`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct Image {
    pub image_id: u32,
    pub format: ImageFormat,
    pub buf: u32,
    pub width: u16,
    pub height: u16,
    pub data_size: u32,
    pub num_planes: u32,
    pub pitches: [u32; 3],
    pub offsets: [u32; 3],
    pub num_palette_entries: i32,
    pub entry_bytes: i32,
    pub component_order: [i8; 4],
    pub reserved: [u32; 4],
}

const _: () = assert!(std::mem::size_of::<ImageFormat>() == 48);
const _: () = assert!(std::mem::size_of::<Image>() == 120);
const _: () = assert!(std::mem::offset_of!(Image, buf) == 52);
const _: () = assert!(std::mem::offset_of!(Image, pitches) == 68);
const _: () = assert!(std::mem::offset_of!(Image, offsets) == 80);

/// A surface attribute for [`Display::create_surfaces_with`].
pub enum SurfaceAttrib<'a> {
    PixelFormat(u32),
    MemoryType(u32),
    /// VASurfaceAttribExternalBufferDescriptor for DRM_PRIME_2: the driver reads the
    /// descriptor during the call only (it does not take the fds).
    PrimeDescriptor(&'a DrmPrimeDescriptor),
}

/// `VAGenericValue`: a type tag and an 8-byte union (int / float / pointer / function).
#[repr(C)]
#[derive(Clone, Copy)]
struct VAGenericValue {
    type_: u32,
    value: u64,
}

/// `VAConfigAttrib`.
#[repr(C)]
#[derive(Clone, Copy)]
struct VAConfigAttrib {
    type_: u32,
    value: u32,
}

pub const VA_CONFIG_ATTRIB_MAX_PICTURE_WIDTH: u32 = 18;
pub const VA_CONFIG_ATTRIB_MAX_PICTURE_HEIGHT: u32 = 19;
pub const VA_SURFACE_ATTRIB_MIN_WIDTH: u32 = 2;
pub const VA_SURFACE_ATTRIB_MAX_WIDTH: u32 = 3;
pub const VA_SURFACE_ATTRIB_MIN_HEIGHT: u32 = 4;
pub const VA_SURFACE_ATTRIB_MAX_HEIGHT: u32 = 5;

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
    fn vaQuerySurfaceAttributes(dpy: VADisplay, config: u32, attribs: *mut VASurfaceAttrib, num: *mut c_uint) -> VAStatus;
    fn vaCreateImage(dpy: VADisplay, format: *mut ImageFormat, width: c_int, height: c_int, image: *mut Image) -> VAStatus;
    fn vaDestroyImage(dpy: VADisplay, image: u32) -> VAStatus;
    fn vaDeriveImage(dpy: VADisplay, surface: u32, image: *mut Image) -> VAStatus;
    fn vaGetImage(dpy: VADisplay, surface: u32, x: c_int, y: c_int, width: c_uint, height: c_uint, image: u32) -> VAStatus;
    fn vaPutImage(
        dpy: VADisplay,
        surface: u32,
        image: u32,
        src_x: c_int,
        src_y: c_int,
        src_width: c_uint,
        src_height: c_uint,
        dest_x: c_int,
        dest_y: c_int,
        dest_width: c_uint,
        dest_height: c_uint,
    ) -> VAStatus;
    fn vaMapBuffer(dpy: VADisplay, buf: u32, pbuf: *mut *mut c_void) -> VAStatus;
    fn vaUnmapBuffer(dpy: VADisplay, buf: u32) -> VAStatus;
    fn vaExportSurfaceHandle(dpy: VADisplay, surface: u32, mem_type: u32, flags: u32, desc: *mut c_void) -> VAStatus;
    fn vaGetConfigAttributes(
        dpy: VADisplay,
        profile: c_int,
        entrypoint: c_uint,
        attribs: *mut VAConfigAttrib,
        num_attribs: c_int,
    ) -> VAStatus;
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
        let attribs: Vec<SurfaceAttrib> = if fourcc != 0 { vec![SurfaceAttrib::PixelFormat(fourcc)] } else { Vec::new() };
        self.create_surfaces_with(rt_format, width, height, count, &attribs)
    }

    /// vaCreateSurfaces with attributes (pixel format, memory type, DRM PRIME descriptor).
    pub fn create_surfaces_with(
        &self,
        rt_format: u32,
        width: u32,
        height: u32,
        count: usize,
        attribs: &[SurfaceAttrib],
    ) -> Result<Vec<u32>, VaError> {
        let mut ids = vec![0u32; count];
        let mut list: Vec<VASurfaceAttrib> = attribs
            .iter()
            .map(|a| {
                let (type_, vtype, value) = match a {
                    SurfaceAttrib::PixelFormat(f) => (VA_SURFACE_ATTRIB_PIXEL_FORMAT, VA_GENERIC_VALUE_TYPE_INTEGER, *f as u64),
                    SurfaceAttrib::MemoryType(m) => (VA_SURFACE_ATTRIB_MEMORY_TYPE, VA_GENERIC_VALUE_TYPE_INTEGER, *m as u64),
                    SurfaceAttrib::PrimeDescriptor(d) => (
                        VA_SURFACE_ATTRIB_EXTERNAL_BUFFER_DESCRIPTOR,
                        VA_GENERIC_VALUE_TYPE_POINTER,
                        *d as *const DrmPrimeDescriptor as usize as u64,
                    ),
                };
                VASurfaceAttrib { type_, flags: VA_SURFACE_ATTRIB_SETTABLE, value: VAGenericValue { type_: vtype, value } }
            })
            .collect();
        let ap = if list.is_empty() { std::ptr::null_mut() } else { list.as_mut_ptr() };
        // SAFETY: `ids` holds `count` entries; `ap` points to `list.len()` attributes (integers
        // sit in the union's first 4 bytes, little-endian, as `int i` does; the descriptor
        // pointer borrowed in `attribs` outlives the call).
        check("vaCreateSurfaces", unsafe {
            vaCreateSurfaces(self.dpy, rt_format, width, height, ids.as_mut_ptr(), count as c_uint, ap, list.len() as c_uint)
        })?;
        Ok(ids)
    }

    /// The pixel formats vaQuerySurfaceAttributes lists for `config`.
    pub fn surface_pixel_formats(&self, config: u32) -> Result<Vec<u32>, VaError> {
        let mut n: c_uint = 0;
        // SAFETY: a null list asks for the count only; `n` is a valid out pointer.
        check("vaQuerySurfaceAttributes", unsafe { vaQuerySurfaceAttributes(self.dpy, config, std::ptr::null_mut(), &mut n) })?;
        let zero = VASurfaceAttrib { type_: 0, flags: 0, value: VAGenericValue { type_: 0, value: 0 } };
        let mut list = vec![zero; n as usize];
        // SAFETY: `list` holds `n` entries, the capacity passed in `n`.
        check("vaQuerySurfaceAttributes", unsafe { vaQuerySurfaceAttributes(self.dpy, config, list.as_mut_ptr(), &mut n) })?;
        list.truncate(n as usize);
        Ok(list
            .iter()
            .filter(|a| a.type_ == VA_SURFACE_ATTRIB_PIXEL_FORMAT && a.value.type_ == VA_GENERIC_VALUE_TYPE_INTEGER)
            .map(|a| a.value.value as u32)
            .collect())
    }

    /// vaCreateImage of `fourcc` (the driver fills the rest of the format).
    pub fn create_image(&self, fourcc: u32, width: u32, height: u32) -> Result<Image, VaError> {
        let mut format = ImageFormat { fourcc, byte_order: 1, ..Default::default() };
        format.bits_per_pixel = if fourcc == VA_FOURCC_P010 { 24 } else { 12 };
        let mut image = Image::default();
        // SAFETY: `format` and `image` are valid locals; the driver copies the format and fills the image.
        check("vaCreateImage", unsafe { vaCreateImage(self.dpy, &mut format, width as c_int, height as c_int, &mut image) })?;
        Ok(image)
    }

    /// vaDeriveImage: an image whose buffer is the surface's own memory (or, for
    /// a tiled surface, the driver's linear copy of it).
    pub fn derive_image(&self, surface: u32) -> Result<Image, VaError> {
        let mut image = Image::default();
        // SAFETY: valid display; `image` is a valid local the driver fills.
        check("vaDeriveImage", unsafe { vaDeriveImage(self.dpy, surface, &mut image) })?;
        Ok(image)
    }

    /// Copy an image's bytes into `dst` (at most `dst.len()`) through vaMapBuffer.
    pub fn read_image_into(&self, image: &Image, dst: &mut [u8]) -> Result<(), VaError> {
        self.with_mapped(image.buf, image.data_size as usize, |b| {
            let n = b.len().min(dst.len());
            dst[..n].copy_from_slice(&b[..n]);
        })
    }

    pub fn destroy_image(&self, id: u32) -> Result<(), VaError> {
        // SAFETY: valid display; the driver validates the ID.
        check("vaDestroyImage", unsafe { vaDestroyImage(self.dpy, id) })
    }

    pub fn get_image(&self, surface: u32, x: i32, y: i32, width: u32, height: u32, image: u32) -> Result<(), VaError> {
        // SAFETY: valid display; IDs and the rectangle are validated by the driver.
        check("vaGetImage", unsafe { vaGetImage(self.dpy, surface, x, y, width, height, image) })
    }

    /// vaPutImage of the image rectangle `src` (x, y, w, h) to `dest` in the surface.
    pub fn put_image(&self, surface: u32, image: u32, src: (i32, i32, u32, u32), dest: (i32, i32, u32, u32)) -> Result<(), VaError> {
        // SAFETY: valid display; IDs and rectangles are validated by the driver.
        check("vaPutImage", unsafe { vaPutImage(self.dpy, surface, image, src.0, src.1, src.2, src.3, dest.0, dest.1, dest.2, dest.3) })
    }

    /// Run `f` over the `len` bytes of the mapped buffer `buf` (vaMapBuffer / vaUnmapBuffer).
    fn with_mapped<T>(&self, buf: u32, len: usize, f: impl FnOnce(&mut [u8]) -> T) -> Result<T, VaError> {
        let mut p: *mut c_void = std::ptr::null_mut();
        // SAFETY: valid display; `p` is a valid out pointer.
        check("vaMapBuffer", unsafe { vaMapBuffer(self.dpy, buf, &mut p) })?;
        if p.is_null() {
            // SAFETY: the buffer was mapped just above.
            let _ = unsafe { vaUnmapBuffer(self.dpy, buf) };
            return Err(VaError { call: "vaMapBuffer (null pointer)", status: VA_STATUS_ERROR_INVALID_IMAGE });
        }
        // SAFETY: the driver maps at least the buffer's size (`len` is the image's data_size)
        // until vaUnmapBuffer; nothing else touches it meanwhile.
        let r = f(unsafe { std::slice::from_raw_parts_mut(p as *mut u8, len) });
        // SAFETY: mapped above, unmapped once.
        check("vaUnmapBuffer", unsafe { vaUnmapBuffer(self.dpy, buf) })?;
        Ok(r)
    }

    /// A copy of an image's bytes.
    pub fn read_image(&self, image: &Image) -> Result<Vec<u8>, VaError> {
        self.with_mapped(image.buf, image.data_size as usize, |b| b.to_vec())
    }

    /// Let `fill` write an image's bytes.
    pub fn write_image(&self, image: &Image, fill: impl FnOnce(&mut [u8])) -> Result<(), VaError> {
        self.with_mapped(image.buf, image.data_size as usize, fill)
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
        self.export_surface_flags(surface, VA_EXPORT_SURFACE_READ_ONLY | VA_EXPORT_SURFACE_COMPOSED_LAYERS)
    }

    /// vaExportSurfaceHandle (DRM PRIME 2) with `flags`.
    pub fn export_surface_flags(&self, surface: u32, flags: u32) -> Result<DrmPrimeDescriptor, VaError> {
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
                flags,
                &mut d as *mut DrmPrimeDescriptor as *mut c_void,
            )
        })?;
        Ok(d)
    }
}

impl Display {
    /// vaGetConfigAttributes of one attribute type: its value (`VA_ATTRIB_NOT_SUPPORTED`
    /// = 0x80000000 when the driver does not know it).
    pub fn config_attribute(&self, profile: i32, entrypoint: u32, type_: u32) -> Result<u32, VaError> {
        let mut a = VAConfigAttrib { type_, value: 0 };
        // SAFETY: valid display; `a` is one valid attribute the driver fills.
        check("vaGetConfigAttributes", unsafe { vaGetConfigAttributes(self.dpy, profile, entrypoint, &mut a, 1) })?;
        Ok(a.value)
    }

    /// vaQuerySurfaceAttributes: (type, integer value) of every attribute of `config`.
    pub fn surface_attributes(&self, config: u32) -> Result<Vec<(u32, i32)>, VaError> {
        let mut n: c_uint = 0;
        // SAFETY: a null list asks for the count only; `n` is a valid out pointer.
        check("vaQuerySurfaceAttributes", unsafe { vaQuerySurfaceAttributes(self.dpy, config, std::ptr::null_mut(), &mut n) })?;
        let empty = VASurfaceAttrib { type_: 0, flags: 0, value: VAGenericValue { type_: 0, value: 0 } };
        let mut list = vec![empty; n as usize];
        // SAFETY: `list` holds `n` attributes, the capacity passed in `n`.
        check("vaQuerySurfaceAttributes", unsafe { vaQuerySurfaceAttributes(self.dpy, config, list.as_mut_ptr(), &mut n) })?;
        list.truncate(n as usize);
        // The integer sits in the union's first 4 bytes (little-endian `int i`).
        Ok(list.iter().map(|a| (a.type_, a.value.value as u32 as i32)).collect())
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        // SAFETY: the display was initialised in `open` and is terminated once, here.
        let _ = unsafe { vaTerminate(self.dpy) };
    }
}
