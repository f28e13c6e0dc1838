//! The exported driver init and the vtable entries.
//!
//! Each entry checks its pointers, converts them into safe values, calls the
//! safe [`Driver`] and writes results back, all inside [`guard`], which catches
//! panics and maps errors to a `VAStatus`. This file and the ioctl modules are
//! the only places with `unsafe`.

use super::guard::guard;
use crate::driver::error::VaResult;
use crate::driver::{lock, Driver};
use crate::va_err;
use crate::va_sys::ffi;
use std::ffi::{c_char, c_int, c_short, c_uint, c_void};

const MAGIC: u64 = 0x7634_6c32_7271_7661; // "v4l2rqva"

/// What `pDriverData` points at.
struct DriverData {
    magic: u64,
    driver: Driver,
}

static VENDOR: &[u8] = concat!("v4l2-request-va ", env!("CARGO_PKG_VERSION"), "\0").as_bytes();

/// The driver behind a context, after null and magic checks.
///
/// # Safety
/// `ctx` must be null or the context libva passed to our init, not yet terminated.
unsafe fn driver<'a>(ctx: ffi::VADriverContextP) -> VaResult<&'a Driver> {
    if ctx.is_null() {
        return Err(va_err!(VA_STATUS_ERROR_INVALID_CONTEXT, "null driver context"));
    }
    // SAFETY: ctx is non-null and points to libva's live driver context.
    let data = unsafe { (*ctx).pDriverData } as *const DriverData;
    if data.is_null() {
        return Err(va_err!(VA_STATUS_ERROR_INVALID_CONTEXT, "driver not initialised"));
    }
    // SAFETY: pDriverData was set by driver_init to a leaked Box<DriverData> and
    // is only freed by va_terminate, which also clears the pointer.
    let data = unsafe { &*data };
    if data.magic != MAGIC {
        return Err(va_err!(VA_STATUS_ERROR_INVALID_CONTEXT, "driver data has a bad magic"));
    }
    Ok(&data.driver)
}

/// Write `value` through an output pointer.
///
/// # Safety
/// `p` must be null or valid for a write of `T`.
unsafe fn out<T>(p: *mut T, value: T) -> VaResult<()> {
    if p.is_null() {
        return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "null output pointer"));
    }
    // SAFETY: non-null and, per the caller's contract, valid for writes.
    unsafe { p.write_unaligned(value) };
    Ok(())
}

/// View an input array.
///
/// # Safety
/// `p` must be null or valid for reads of `n` elements for `'a`.
unsafe fn slice<'a, T>(p: *const T, n: i64) -> VaResult<&'a [T]> {
    if !(0..=(1 << 24)).contains(&n) {
        return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "bad element count {n}"));
    }
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() || !(p as usize).is_multiple_of(std::mem::align_of::<T>()) {
        return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "null or misaligned array"));
    }
    // SAFETY: non-null, aligned, and valid for n reads per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p, n as usize) })
}

/// Copy `items` into an output array of capacity `cap` (at most).
///
/// # Safety
/// `p` must be null or valid for writes of `cap` elements.
unsafe fn fill<T: Copy>(p: *mut T, cap: usize, items: &[T]) -> VaResult<usize> {
    let n = items.len().min(cap);
    if n == 0 {
        return Ok(0);
    }
    if p.is_null() {
        return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "null output array"));
    }
    for (i, it) in items[..n].iter().enumerate() {
        // SAFETY: i < n <= cap, within the caller-provided array.
        unsafe { p.add(i).write_unaligned(*it) };
    }
    Ok(n)
}

/// Fill libva's driver context. Called through `__vaDriverInit_<major>_<minor>`.
///
/// # Safety
/// `ctx` must be the driver context libva passes to the init symbol.
pub unsafe fn driver_init(ctx: ffi::VADriverContextP) -> ffi::VAStatus {
    guard("vaDriverInit", || {
        crate::logging::init();
        if ctx.is_null() {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_CONTEXT, "null driver context"));
        }
        // SAFETY: libva hands us a valid, exclusively-ours context during init.
        let c = unsafe { &mut *ctx };
        if c.vtable.is_null() {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_CONTEXT, "null vtable"));
        }
        let devices = crate::device::discover();
        if devices.is_empty() {
            log::warn!("no V4L2 stateless decoder found");
        }
        for d in &devices {
            log::info!("decoder {} ({}) at {}", d.card, d.driver, d.video_path.display());
        }
        let driver = Driver::new(devices);
        let profiles = driver.profiles().len().max(1);
        // SAFETY: vtable is non-null and points to libva's vtable for this context.
        let vt = unsafe { &mut *c.vtable };
        fill_vtable(vt);
        c.version_major = super::VA_BUILD_VERSION.0 as c_int;
        c.version_minor = super::VA_BUILD_VERSION.1 as c_int;
        c.max_profiles = profiles as c_int;
        c.max_entrypoints = 1;
        c.max_attributes = MAX_CONFIG_ATTRIBUTES as c_int;
        c.max_image_formats = crate::driver::image::image_formats().len() as c_int;
        c.max_subpic_formats = 1;
        c.max_display_attributes = 0;
        c.str_vendor = VENDOR.as_ptr() as *const c_char;
        c.pDriverData = Box::into_raw(Box::new(DriverData { magic: MAGIC, driver })) as *mut c_void;
        Ok(())
    })
}

const MAX_CONFIG_ATTRIBUTES: usize = 4;

fn fill_vtable(vt: &mut ffi::VADriverVTable) {
    vt.vaTerminate = Some(va_terminate);
    vt.vaQueryConfigProfiles = Some(va_query_config_profiles);
    vt.vaQueryConfigEntrypoints = Some(va_query_config_entrypoints);
    vt.vaGetConfigAttributes = Some(va_get_config_attributes);
    vt.vaCreateConfig = Some(va_create_config);
    vt.vaDestroyConfig = Some(va_destroy_config);
    vt.vaQueryConfigAttributes = Some(va_query_config_attributes);
    vt.vaCreateSurfaces = Some(va_create_surfaces);
    vt.vaCreateSurfaces2 = Some(va_create_surfaces2);
    vt.vaDestroySurfaces = Some(va_destroy_surfaces);
    vt.vaQuerySurfaceAttributes = Some(va_query_surface_attributes);
    vt.vaCreateContext = Some(va_create_context);
    vt.vaDestroyContext = Some(va_destroy_context);
    vt.vaCreateBuffer = Some(va_create_buffer);
    vt.vaBufferSetNumElements = Some(va_buffer_set_num_elements);
    vt.vaMapBuffer = Some(va_map_buffer);
    vt.vaUnmapBuffer = Some(va_unmap_buffer);
    vt.vaDestroyBuffer = Some(va_destroy_buffer);
    vt.vaBufferInfo = Some(va_buffer_info);
    vt.vaBeginPicture = Some(va_begin_picture);
    vt.vaRenderPicture = Some(va_render_picture);
    vt.vaEndPicture = Some(va_end_picture);
    vt.vaSyncSurface = Some(va_sync_surface);
    vt.vaSyncSurface2 = Some(va_sync_surface2);
    vt.vaQuerySurfaceStatus = Some(va_query_surface_status);
    vt.vaQuerySurfaceError = Some(va_query_surface_error);
    vt.vaPutSurface = Some(va_put_surface);
    vt.vaQueryImageFormats = Some(va_query_image_formats);
    vt.vaCreateImage = Some(va_create_image);
    vt.vaDeriveImage = Some(va_derive_image);
    vt.vaDestroyImage = Some(va_destroy_image);
    vt.vaSetImagePalette = Some(va_set_image_palette);
    vt.vaGetImage = Some(va_get_image);
    vt.vaPutImage = Some(va_put_image);
    vt.vaQuerySubpictureFormats = Some(va_query_subpicture_formats);
    vt.vaCreateSubpicture = Some(va_create_subpicture);
    vt.vaDestroySubpicture = Some(va_destroy_subpicture);
    vt.vaSetSubpictureImage = Some(va_set_subpicture_image);
    vt.vaSetSubpictureChromakey = Some(va_set_subpicture_chromakey);
    vt.vaSetSubpictureGlobalAlpha = Some(va_set_subpicture_global_alpha);
    vt.vaAssociateSubpicture = Some(va_associate_subpicture);
    vt.vaDeassociateSubpicture = Some(va_deassociate_subpicture);
    vt.vaQueryDisplayAttributes = Some(va_query_display_attributes);
    vt.vaGetDisplayAttributes = Some(va_get_display_attributes);
    vt.vaSetDisplayAttributes = Some(va_set_display_attributes);
    vt.vaExportSurfaceHandle = Some(va_export_surface_handle);
}

unsafe extern "C" fn va_terminate(ctx: ffi::VADriverContextP) -> ffi::VAStatus {
    guard("vaTerminate", || {
        // SAFETY: validated by `driver` (null and magic checks) before we take ownership.
        unsafe { driver(ctx)? };
        // SAFETY: ctx is non-null (checked above); pDriverData is our leaked Box.
        let c = unsafe { &mut *ctx };
        let data = c.pDriverData as *mut DriverData;
        c.pDriverData = std::ptr::null_mut();
        // SAFETY: `data` came from Box::into_raw in driver_init and is freed once:
        // the pointer was cleared above so later calls fail the null check.
        drop(unsafe { Box::from_raw(data) });
        Ok(())
    })
}

unsafe extern "C" fn va_query_config_profiles(ctx: ffi::VADriverContextP, list: *mut ffi::VAProfile, num: *mut c_int) -> ffi::VAStatus {
    guard("vaQueryConfigProfiles", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        let profiles = d.profiles();
        // SAFETY: libva allocates max_profiles entries, which is >= profiles.len().
        let n = unsafe { fill(list, profiles.len(), &profiles)? };
        // SAFETY: num is a libva-provided output pointer.
        unsafe { out(num, n as c_int) }
    })
}

unsafe extern "C" fn va_query_config_entrypoints(
    ctx: ffi::VADriverContextP,
    profile: ffi::VAProfile,
    list: *mut ffi::VAEntrypoint,
    num: *mut c_int,
) -> ffi::VAStatus {
    guard("vaQueryConfigEntrypoints", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        let eps = d.entrypoints(profile)?;
        // SAFETY: libva allocates max_entrypoints (1) entries.
        let n = unsafe { fill(list, 1, &eps)? };
        // SAFETY: output pointer from the caller.
        unsafe { out(num, n as c_int) }
    })
}

unsafe extern "C" fn va_get_config_attributes(
    ctx: ffi::VADriverContextP,
    profile: ffi::VAProfile,
    entrypoint: ffi::VAEntrypoint,
    attribs: *mut ffi::VAConfigAttrib,
    num: c_int,
) -> ffi::VAStatus {
    guard("vaGetConfigAttributes", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        d.check_entrypoint(profile, entrypoint)?;
        // SAFETY: the caller passes `num` attributes to fill in place.
        let list = unsafe { slice(attribs as *const ffi::VAConfigAttrib, num as i64)? };
        for (i, a) in list.iter().enumerate() {
            let value = d.attribute_value(profile, a.type_);
            // SAFETY: i < num, inside the caller's array (checked non-null by `slice`).
            unsafe { (*attribs.add(i)).value = value };
        }
        Ok(())
    })
}

unsafe extern "C" fn va_create_config(
    ctx: ffi::VADriverContextP,
    profile: ffi::VAProfile,
    entrypoint: ffi::VAEntrypoint,
    attribs: *mut ffi::VAConfigAttrib,
    num: c_int,
    config: *mut ffi::VAConfigID,
) -> ffi::VAStatus {
    guard("vaCreateConfig", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        // SAFETY: `num` attributes supplied by the caller.
        let list = unsafe { slice(attribs as *const ffi::VAConfigAttrib, num as i64)? };
        if config.is_null() {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "null config output"));
        }
        let id = d.create_config(profile, entrypoint, list)?;
        // SAFETY: checked non-null above.
        unsafe { out(config, id) }
    })
}

unsafe extern "C" fn va_destroy_config(ctx: ffi::VADriverContextP, config: ffi::VAConfigID) -> ffi::VAStatus {
    // SAFETY: see `driver`.
    guard("vaDestroyConfig", || unsafe { driver(ctx)? }.destroy_config(config))
}

unsafe extern "C" fn va_query_config_attributes(
    ctx: ffi::VADriverContextP,
    config: ffi::VAConfigID,
    profile: *mut ffi::VAProfile,
    entrypoint: *mut ffi::VAEntrypoint,
    attribs: *mut ffi::VAConfigAttrib,
    num: *mut c_int,
) -> ffi::VAStatus {
    guard("vaQueryConfigAttributes", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        let cfg = d.config(config)?;
        let list: Vec<ffi::VAConfigAttrib> = [ffi::VAConfigAttribRTFormat, ffi::VAConfigAttribDecSliceMode]
            .into_iter()
            .map(|t| ffi::VAConfigAttrib { type_: t, value: d.attribute_value(cfg.profile, t) })
            .collect();
        // SAFETY: output pointers from the caller; libva sizes `attribs` with max_attributes.
        unsafe {
            out(profile, cfg.profile)?;
            out(entrypoint, cfg.entrypoint)?;
            let n = fill(attribs, MAX_CONFIG_ATTRIBUTES, &list)?;
            out(num, n as c_int)
        }
    })
}

unsafe extern "C" fn va_create_surfaces(
    ctx: ffi::VADriverContextP,
    width: c_int,
    height: c_int,
    format: c_int,
    num: c_int,
    surfaces: *mut ffi::VASurfaceID,
) -> ffi::VAStatus {
    guard("vaCreateSurfaces", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        if width <= 0 || height <= 0 || num <= 0 || surfaces.is_null() {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "bad surface request"));
        }
        let ids = d.create_surfaces(width as u32, height as u32, format as u32, None, num as usize)?;
        // SAFETY: the caller's array holds `num` ids.
        unsafe { fill(surfaces, num as usize, &ids)? };
        Ok(())
    })
}

unsafe extern "C" fn va_create_surfaces2(
    ctx: ffi::VADriverContextP,
    format: c_uint,
    width: c_uint,
    height: c_uint,
    surfaces: *mut ffi::VASurfaceID,
    num: c_uint,
    attribs: *mut ffi::VASurfaceAttrib,
    num_attribs: c_uint,
) -> ffi::VAStatus {
    guard("vaCreateSurfaces2", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        if num == 0 || surfaces.is_null() {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "bad surface request"));
        }
        // SAFETY: `num_attribs` attributes from the caller.
        let list = unsafe { slice(attribs as *const ffi::VASurfaceAttrib, num_attribs as i64)? };
        let mut fourcc = None;
        let mut mem_type = ffi::VA_SURFACE_ATTRIB_MEM_TYPE_VA;
        let mut external: *const ffi::VADRMPRIMESurfaceDescriptor = std::ptr::null();
        for a in list {
            if a.flags & ffi::VA_SURFACE_ATTRIB_SETTABLE == 0 {
                continue;
            }
            let is_int = a.value.type_ == ffi::VAGenericValueTypeInteger;
            // SAFETY: the union is read as an integer only when its tag says so.
            let int = if is_int { Some(unsafe { a.value.value.i }) } else { None };
            match (a.type_, int) {
                (ffi::VASurfaceAttribPixelFormat, Some(v)) => fourcc = Some(v as u32),
                (ffi::VASurfaceAttribMemoryType, Some(v)) => {
                    let v = v as u32;
                    if v != ffi::VA_SURFACE_ATTRIB_MEM_TYPE_VA && v != ffi::VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2 {
                        return Err(va_err!(VA_STATUS_ERROR_UNSUPPORTED_MEMORY_TYPE, "memory type {v:#x} (DRM PRIME 2 imports only)"));
                    }
                    mem_type = v;
                }
                (ffi::VASurfaceAttribExternalBufferDescriptor, _) if a.value.type_ == ffi::VAGenericValueTypePointer => {
                    // SAFETY: the union holds a pointer when its tag says so.
                    external = unsafe { a.value.value.p } as *const ffi::VADRMPRIMESurfaceDescriptor;
                }
                _ => {}
            }
        }
        if mem_type == ffi::VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2 {
            if external.is_null() {
                return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "DRM PRIME 2 memory without a buffer descriptor"));
            }
            if num != 1 {
                return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "{num} surfaces for one DRM PRIME 2 descriptor"));
            }
            // SAFETY: a VADRMPRIMESurfaceDescriptor owned by the caller for this
            // call (checked non-null); read by value.
            let desc = unsafe { std::ptr::read_unaligned(external) };
            let raw = desc.objects[0].fd;
            if raw < 0 {
                return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "import fd {raw}"));
            }
            // SAFETY: the caller keeps its fd open for the duration of the call
            // (checked non-negative); the driver keeps its own duplicate.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(raw) }
                .try_clone_to_owned()
                .map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "import fd {raw}: {e}"))?;
            let id = d.import_surface(width, height, format, fourcc, &desc, fd)?;
            // SAFETY: the caller's array holds `num` (= 1) ids.
            unsafe { fill(surfaces, 1, &[id])? };
            return Ok(());
        }
        let ids = d.create_surfaces(width, height, format, fourcc, num as usize)?;
        // SAFETY: the caller's array holds `num` ids.
        unsafe { fill(surfaces, num as usize, &ids)? };
        Ok(())
    })
}

unsafe extern "C" fn va_destroy_surfaces(ctx: ffi::VADriverContextP, surfaces: *mut ffi::VASurfaceID, num: c_int) -> ffi::VAStatus {
    guard("vaDestroySurfaces", || {
        // SAFETY: see `driver` and `slice`.
        let (d, ids) = unsafe { (driver(ctx)?, slice(surfaces as *const ffi::VASurfaceID, num as i64)?) };
        d.destroy_surfaces(ids)
    })
}

fn int_attrib(type_: ffi::VASurfaceAttribType, flags: u32, v: u32) -> ffi::VASurfaceAttrib {
    let mut a = ffi::VASurfaceAttrib { type_, flags, ..Default::default() };
    a.value.type_ = ffi::VAGenericValueTypeInteger;
    a.value.value.i = v as i32;
    a
}

unsafe extern "C" fn va_query_surface_attributes(
    ctx: ffi::VADriverContextP,
    config: ffi::VAConfigID,
    attribs: *mut ffi::VASurfaceAttrib,
    num: *mut c_uint,
) -> ffi::VAStatus {
    guard("vaQuerySurfaceAttributes", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        let cfg = d.config(config)?;
        let rw = ffi::VA_SURFACE_ATTRIB_GETTABLE | ffi::VA_SURFACE_ATTRIB_SETTABLE;
        // NV12 for 8-bit configs, P010 for 10-bit ones (both for AV1 on 10-bit devices).
        let mut list: Vec<ffi::VASurfaceAttrib> =
            crate::driver::config_surface_fourccs(&cfg).into_iter().map(|f| int_attrib(ffi::VASurfaceAttribPixelFormat, rw, f)).collect();
        // The device's frame sizes for the config's coded format.
        let sizes = crate::driver::config::frame_sizes(&d.devices, &cfg);
        list.extend([
            int_attrib(ffi::VASurfaceAttribMinWidth, ffi::VA_SURFACE_ATTRIB_GETTABLE, sizes.min_width),
            int_attrib(ffi::VASurfaceAttribMinHeight, ffi::VA_SURFACE_ATTRIB_GETTABLE, sizes.min_height),
            int_attrib(ffi::VASurfaceAttribMaxWidth, ffi::VA_SURFACE_ATTRIB_GETTABLE, sizes.max_width),
            int_attrib(ffi::VASurfaceAttribMaxHeight, ffi::VA_SURFACE_ATTRIB_GETTABLE, sizes.max_height),
            int_attrib(
                ffi::VASurfaceAttribMemoryType,
                rw,
                ffi::VA_SURFACE_ATTRIB_MEM_TYPE_VA | ffi::VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2,
            ),
        ]);
        // Imports: a VADRMPRIMESurfaceDescriptor (vaCreateSurfaces2, one surface).
        let mut external = ffi::VASurfaceAttrib {
            type_: ffi::VASurfaceAttribExternalBufferDescriptor,
            flags: ffi::VA_SURFACE_ATTRIB_SETTABLE,
            ..Default::default()
        };
        external.value.type_ = ffi::VAGenericValueTypePointer;
        list.push(external);
        if num.is_null() {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "null count"));
        }
        if attribs.is_null() {
            // SAFETY: checked non-null above.
            return unsafe { out(num, list.len() as c_uint) };
        }
        // SAFETY: num is non-null; it holds the capacity of `attribs`.
        let cap = unsafe { num.read_unaligned() } as usize;
        if cap < list.len() {
            // SAFETY: as above.
            unsafe { out(num, list.len() as c_uint)? };
            return Err(va_err!(VA_STATUS_ERROR_MAX_NUM_EXCEEDED, "attribute array too small"));
        }
        // SAFETY: `attribs` holds `cap` entries.
        let n = unsafe { fill(attribs, cap, &list)? };
        // SAFETY: as above.
        unsafe { out(num, n as c_uint) }
    })
}

unsafe extern "C" fn va_create_context(
    ctx: ffi::VADriverContextP,
    config: ffi::VAConfigID,
    width: c_int,
    height: c_int,
    _flag: c_int,
    targets: *mut ffi::VASurfaceID,
    num_targets: c_int,
    context: *mut ffi::VAContextID,
) -> ffi::VAStatus {
    guard("vaCreateContext", || {
        // SAFETY: see `driver` and `slice`.
        let (d, t) = unsafe { (driver(ctx)?, slice(targets as *const ffi::VASurfaceID, num_targets as i64)?) };
        if context.is_null() || width <= 0 || height <= 0 {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "bad context request"));
        }
        let id = d.create_context(config, width as u32, height as u32, t)?;
        // SAFETY: checked non-null above.
        unsafe { out(context, id) }
    })
}

unsafe extern "C" fn va_destroy_context(ctx: ffi::VADriverContextP, context: ffi::VAContextID) -> ffi::VAStatus {
    // SAFETY: see `driver`.
    guard("vaDestroyContext", || unsafe { driver(ctx)? }.destroy_context(context))
}

unsafe extern "C" fn va_create_buffer(
    ctx: ffi::VADriverContextP,
    _context: ffi::VAContextID,
    type_: ffi::VABufferType,
    size: c_uint,
    num_elements: c_uint,
    data: *mut c_void,
    buf_id: *mut ffi::VABufferID,
) -> ffi::VAStatus {
    guard("vaCreateBuffer", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        if buf_id.is_null() {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "null buffer output"));
        }
        let total = size as i64 * num_elements as i64;
        if total > crate::driver::MAX_BUFFER_BYTES as i64 {
            return Err(va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "buffer of {total} bytes"));
        }
        let init = if data.is_null() {
            None
        } else {
            // SAFETY: per the VA API, `data` holds size * num_elements bytes.
            Some(unsafe { slice(data as *const u8, total)? })
        };
        let id = d.create_buffer(type_, size, num_elements, init)?;
        // SAFETY: checked non-null above.
        unsafe { out(buf_id, id) }
    })
}

unsafe extern "C" fn va_buffer_set_num_elements(ctx: ffi::VADriverContextP, buf: ffi::VABufferID, n: c_uint) -> ffi::VAStatus {
    // SAFETY: see `driver`.
    guard("vaBufferSetNumElements", || unsafe { driver(ctx)? }.buffer_set_num_elements(buf, n))
}

unsafe extern "C" fn va_map_buffer(ctx: ffi::VADriverContextP, buf: ffi::VABufferID, pbuf: *mut *mut c_void) -> ffi::VAStatus {
    guard("vaMapBuffer", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        if pbuf.is_null() {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "null map output"));
        }
        let p = d.map_buffer(buf)?;
        // SAFETY: checked non-null above.
        unsafe { out(pbuf, p) }
    })
}

unsafe extern "C" fn va_unmap_buffer(ctx: ffi::VADriverContextP, buf: ffi::VABufferID) -> ffi::VAStatus {
    // SAFETY: see `driver`.
    guard("vaUnmapBuffer", || unsafe { driver(ctx)? }.unmap_buffer(buf))
}

unsafe extern "C" fn va_destroy_buffer(ctx: ffi::VADriverContextP, buf: ffi::VABufferID) -> ffi::VAStatus {
    // SAFETY: see `driver`.
    guard("vaDestroyBuffer", || unsafe { driver(ctx)? }.destroy_buffer(buf))
}

unsafe extern "C" fn va_buffer_info(
    ctx: ffi::VADriverContextP,
    buf: ffi::VABufferID,
    type_: *mut ffi::VABufferType,
    size: *mut c_uint,
    num_elements: *mut c_uint,
) -> ffi::VAStatus {
    guard("vaBufferInfo", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        let b = d.buffer(buf)?;
        let (t, s, n) = {
            let b = lock(&b);
            (b.buf_type, b.element_size, b.num_elements)
        };
        // SAFETY: output pointers from the caller.
        unsafe {
            out(type_, t)?;
            out(size, s)?;
            out(num_elements, n)
        }
    })
}

unsafe extern "C" fn va_begin_picture(ctx: ffi::VADriverContextP, context: ffi::VAContextID, target: ffi::VASurfaceID) -> ffi::VAStatus {
    // SAFETY: see `driver`.
    guard("vaBeginPicture", || unsafe { driver(ctx)? }.begin_picture(context, target))
}

unsafe extern "C" fn va_render_picture(
    ctx: ffi::VADriverContextP,
    context: ffi::VAContextID,
    buffers: *mut ffi::VABufferID,
    num: c_int,
) -> ffi::VAStatus {
    guard("vaRenderPicture", || {
        // SAFETY: see `driver` and `slice`.
        let (d, ids) = unsafe { (driver(ctx)?, slice(buffers as *const ffi::VABufferID, num as i64)?) };
        d.render_picture(context, ids)
    })
}

unsafe extern "C" fn va_end_picture(ctx: ffi::VADriverContextP, context: ffi::VAContextID) -> ffi::VAStatus {
    // SAFETY: see `driver`.
    guard("vaEndPicture", || unsafe { driver(ctx)? }.end_picture(context))
}

unsafe extern "C" fn va_sync_surface(ctx: ffi::VADriverContextP, surface: ffi::VASurfaceID) -> ffi::VAStatus {
    // SAFETY: see `driver`.
    guard("vaSyncSurface", || unsafe { driver(ctx)? }.sync_surface(surface))
}

unsafe extern "C" fn va_sync_surface2(ctx: ffi::VADriverContextP, surface: ffi::VASurfaceID, timeout_ns: u64) -> ffi::VAStatus {
    // The caller's timeout (0 polls), within the driver's own bound
    // (LIBVA_V4L2_REQUEST_SYNC_TIMEOUT_MS).
    // SAFETY: see `driver`.
    guard("vaSyncSurface2", || unsafe { driver(ctx)? }.sync_surface_within(surface, std::time::Duration::from_nanos(timeout_ns)))
}

unsafe extern "C" fn va_query_surface_status(
    ctx: ffi::VADriverContextP,
    surface: ffi::VASurfaceID,
    status: *mut ffi::VASurfaceStatus,
) -> ffi::VAStatus {
    guard("vaQuerySurfaceStatus", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        if status.is_null() {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "null status output"));
        }
        let s = d.query_surface_status(surface)?;
        // SAFETY: checked non-null above.
        unsafe { out(status, s) }
    })
}

unsafe extern "C" fn va_query_surface_error(
    ctx: ffi::VADriverContextP,
    surface: ffi::VASurfaceID,
    error_status: ffi::VAStatus,
    error_info: *mut *mut c_void,
) -> ffi::VAStatus {
    guard("vaQuerySurfaceError", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        if error_info.is_null() {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "null error output"));
        }
        let p = d.surface_error(surface, error_status)?;
        // SAFETY: checked non-null above.
        unsafe { out(error_info, p) }
    })
}

unsafe extern "C" fn va_put_surface(
    _ctx: ffi::VADriverContextP,
    _surface: ffi::VASurfaceID,
    _draw: *mut c_void,
    _srcx: c_short,
    _srcy: c_short,
    _srcw: u16,
    _srch: u16,
    _destx: c_short,
    _desty: c_short,
    _destw: u16,
    _desth: u16,
    _cliprects: *mut ffi::VARectangle,
    _num_cliprects: c_uint,
    _flags: c_uint,
) -> ffi::VAStatus {
    guard("vaPutSurface", || Err(va_err!(VA_STATUS_ERROR_UNIMPLEMENTED, "no window-system output: export or copy instead")))
}

unsafe extern "C" fn va_query_image_formats(ctx: ffi::VADriverContextP, list: *mut ffi::VAImageFormat, num: *mut c_int) -> ffi::VAStatus {
    guard("vaQueryImageFormats", || {
        // SAFETY: see `driver`.
        unsafe { driver(ctx)? };
        let formats = crate::driver::image::image_formats();
        // SAFETY: libva sizes the list with max_image_formats == formats.len().
        let n = unsafe { fill(list, formats.len(), &formats)? };
        // SAFETY: output pointer from the caller.
        unsafe { out(num, n as c_int) }
    })
}

unsafe extern "C" fn va_create_image(
    ctx: ffi::VADriverContextP,
    format: *mut ffi::VAImageFormat,
    width: c_int,
    height: c_int,
    image: *mut ffi::VAImage,
) -> ffi::VAStatus {
    guard("vaCreateImage", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        if format.is_null() || image.is_null() || width <= 0 || height <= 0 {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "bad image request"));
        }
        // SAFETY: non-null, points to the caller's format.
        let f = unsafe { format.read_unaligned() };
        let img = d.create_image(&f, width as u32, height as u32)?;
        // SAFETY: checked non-null above.
        unsafe { out(image, img) }
    })
}

unsafe extern "C" fn va_derive_image(ctx: ffi::VADriverContextP, surface: ffi::VASurfaceID, image: *mut ffi::VAImage) -> ffi::VAStatus {
    guard("vaDeriveImage", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        if image.is_null() {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "null image output"));
        }
        let img = d.derive_image(surface)?;
        // SAFETY: checked non-null above.
        unsafe { out(image, img) }
    })
}

unsafe extern "C" fn va_destroy_image(ctx: ffi::VADriverContextP, image: ffi::VAImageID) -> ffi::VAStatus {
    // SAFETY: see `driver`.
    guard("vaDestroyImage", || unsafe { driver(ctx)? }.destroy_image(image))
}

unsafe extern "C" fn va_set_image_palette(_ctx: ffi::VADriverContextP, _image: ffi::VAImageID, _palette: *mut u8) -> ffi::VAStatus {
    guard("vaSetImagePalette", || Err(va_err!(VA_STATUS_ERROR_UNIMPLEMENTED, "no paletted formats")))
}

unsafe extern "C" fn va_get_image(
    ctx: ffi::VADriverContextP,
    surface: ffi::VASurfaceID,
    x: c_int,
    y: c_int,
    width: c_uint,
    height: c_uint,
    image: ffi::VAImageID,
) -> ffi::VAStatus {
    // SAFETY: see `driver`.
    guard("vaGetImage", || unsafe { driver(ctx)? }.get_image(surface, x, y, width, height, image))
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn va_put_image(
    ctx: ffi::VADriverContextP,
    surface: ffi::VASurfaceID,
    image: ffi::VAImageID,
    src_x: c_int,
    src_y: c_int,
    src_w: c_uint,
    src_h: c_uint,
    dst_x: c_int,
    dst_y: c_int,
    dst_w: c_uint,
    dst_h: c_uint,
) -> ffi::VAStatus {
    use crate::driver::image::Rect;
    guard("vaPutImage", || {
        let src = Rect { x: src_x, y: src_y, w: src_w, h: src_h };
        let dst = Rect { x: dst_x, y: dst_y, w: dst_w, h: dst_h };
        // SAFETY: see `driver`.
        unsafe { driver(ctx)? }.put_image(surface, image, src, dst)
    })
}

unsafe extern "C" fn va_query_subpicture_formats(
    ctx: ffi::VADriverContextP,
    _list: *mut ffi::VAImageFormat,
    _flags: *mut c_uint,
    num: *mut c_uint,
) -> ffi::VAStatus {
    guard("vaQuerySubpictureFormats", || {
        // SAFETY: see `driver`; `num` is the caller's output pointer.
        unsafe {
            driver(ctx)?;
            out(num, 0)
        }
    })
}

unsafe extern "C" fn va_create_subpicture(
    _ctx: ffi::VADriverContextP,
    _image: ffi::VAImageID,
    _sub: *mut ffi::VASubpictureID,
) -> ffi::VAStatus {
    guard("vaCreateSubpicture", || Err(va_err!(VA_STATUS_ERROR_UNIMPLEMENTED, "no subpictures")))
}

unsafe extern "C" fn va_destroy_subpicture(_ctx: ffi::VADriverContextP, _sub: ffi::VASubpictureID) -> ffi::VAStatus {
    guard("vaDestroySubpicture", || Err(va_err!(VA_STATUS_ERROR_INVALID_SUBPICTURE, "no subpictures")))
}

unsafe extern "C" fn va_set_subpicture_image(
    _ctx: ffi::VADriverContextP,
    _sub: ffi::VASubpictureID,
    _image: ffi::VAImageID,
) -> ffi::VAStatus {
    guard("vaSetSubpictureImage", || Err(va_err!(VA_STATUS_ERROR_INVALID_SUBPICTURE, "no subpictures")))
}

unsafe extern "C" fn va_set_subpicture_chromakey(
    _ctx: ffi::VADriverContextP,
    _sub: ffi::VASubpictureID,
    _min: c_uint,
    _max: c_uint,
    _mask: c_uint,
) -> ffi::VAStatus {
    guard("vaSetSubpictureChromakey", || Err(va_err!(VA_STATUS_ERROR_INVALID_SUBPICTURE, "no subpictures")))
}

unsafe extern "C" fn va_set_subpicture_global_alpha(_ctx: ffi::VADriverContextP, _sub: ffi::VASubpictureID, _alpha: f32) -> ffi::VAStatus {
    guard("vaSetSubpictureGlobalAlpha", || Err(va_err!(VA_STATUS_ERROR_INVALID_SUBPICTURE, "no subpictures")))
}

unsafe extern "C" fn va_associate_subpicture(
    _ctx: ffi::VADriverContextP,
    _sub: ffi::VASubpictureID,
    _surfaces: *mut ffi::VASurfaceID,
    _num: c_int,
    _sx: c_short,
    _sy: c_short,
    _sw: u16,
    _sh: u16,
    _dx: c_short,
    _dy: c_short,
    _dw: u16,
    _dh: u16,
    _flags: c_uint,
) -> ffi::VAStatus {
    guard("vaAssociateSubpicture", || Err(va_err!(VA_STATUS_ERROR_INVALID_SUBPICTURE, "no subpictures")))
}

unsafe extern "C" fn va_deassociate_subpicture(
    _ctx: ffi::VADriverContextP,
    _sub: ffi::VASubpictureID,
    _surfaces: *mut ffi::VASurfaceID,
    _num: c_int,
) -> ffi::VAStatus {
    guard("vaDeassociateSubpicture", || Err(va_err!(VA_STATUS_ERROR_INVALID_SUBPICTURE, "no subpictures")))
}

unsafe extern "C" fn va_query_display_attributes(
    ctx: ffi::VADriverContextP,
    _list: *mut ffi::VADisplayAttribute,
    num: *mut c_int,
) -> ffi::VAStatus {
    guard("vaQueryDisplayAttributes", || {
        // SAFETY: see `driver`; `num` is the caller's output pointer.
        unsafe {
            driver(ctx)?;
            out(num, 0)
        }
    })
}

unsafe extern "C" fn va_get_display_attributes(
    _ctx: ffi::VADriverContextP,
    _list: *mut ffi::VADisplayAttribute,
    _num: c_int,
) -> ffi::VAStatus {
    guard("vaGetDisplayAttributes", || Err(va_err!(VA_STATUS_ERROR_UNIMPLEMENTED, "no display attributes (decode-only driver)")))
}

unsafe extern "C" fn va_set_display_attributes(
    _ctx: ffi::VADriverContextP,
    _list: *mut ffi::VADisplayAttribute,
    _num: c_int,
) -> ffi::VAStatus {
    guard("vaSetDisplayAttributes", || Err(va_err!(VA_STATUS_ERROR_UNIMPLEMENTED, "no display attributes (decode-only driver)")))
}

unsafe extern "C" fn va_export_surface_handle(
    ctx: ffi::VADriverContextP,
    surface: ffi::VASurfaceID,
    mem_type: u32,
    flags: u32,
    descriptor: *mut c_void,
) -> ffi::VAStatus {
    guard("vaExportSurfaceHandle", || {
        // SAFETY: see `driver`.
        let d = unsafe { driver(ctx)? };
        if descriptor.is_null() {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "null descriptor"));
        }
        let desc = d.export_surface(surface, mem_type, flags)?;
        // SAFETY: for DRM_PRIME_2 (checked by export_surface) the descriptor is a
        // VADRMPRIMESurfaceDescriptor owned by the caller; checked non-null above.
        unsafe { out(descriptor as *mut ffi::VADRMPRIMESurfaceDescriptor, desc) }
    })
}
