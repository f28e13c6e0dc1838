//! The safe driver: VA objects behind typed IDs and the operations libva's
//! vtable entries map to. Nothing here is `unsafe`; the ABI edge in
//! [`crate::va::entry`] converts pointers to slices and values first.
//!
//! Lock order: object table → context → buffer. A surface or buffer lock is
//! never held while another lock is taken (their data is copied out first),
//! so no two entries can deadlock each other.
#![forbid(unsafe_code)]

#[cfg(test)]
mod alloc_tests;
pub mod backend;
pub mod buffer;
pub mod config;
pub mod context;
#[cfg(test)]
mod decode_flow_tests;
pub mod error;
#[cfg(test)]
pub mod fake_device;
pub mod frames;
pub mod image;
pub mod objects;
pub mod record;
pub mod surface;

use crate::device::DecoderNode;
use crate::device::{DeviceOpener, SessionOpener};
use crate::driver::error::VaResult;
use crate::pool::SlotId;
use crate::va_err;
use crate::va_sys::ffi;
use buffer::{Buffer, BufferStore};
use config::Config;
use context::{Context, DecodeState};
use frames::OwnFrame;
use objects::{ObjectKind, ObjectTable};
use std::sync::{Arc, Mutex, MutexGuard};
use surface::Surface;

/// Largest picture we accept (the device may refuse less).
pub use crate::format::{MAX_HEIGHT, MAX_WIDTH};
/// Upper bound on a single VA buffer the application may create.
pub const MAX_BUFFER_BYTES: usize = 256 << 20;
/// Most destroyed VA buffers kept for reuse (a picture has a few; field pairs
/// and multi-slice pictures some dozens).
const SPARE_BUFFERS: usize = 64;
/// Most bytes the kept buffers may hold together.
const SPARE_BUFFER_BYTES: usize = 16 << 20;
/// Most destroyed VA image objects kept for reuse (a client derives or creates
/// one or two per picture).
const SPARE_IMAGES: usize = 16;

/// Lock a mutex, ignoring poisoning: a panic is caught by the guard and the
/// objects stay structurally valid (every mutation is completed or not begun).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct Driver {
    pub devices: Vec<DecoderNode>,
    pub configs: ObjectTable<Config>,
    pub contexts: ObjectTable<Arc<Mutex<Context>>>,
    pub surfaces: ObjectTable<Mutex<Surface>>,
    pub buffers: ObjectTable<Mutex<Buffer>>,
    /// Destroyed VA buffers kept for the next vaCreateBuffer (their object and
    /// bytes): a client creates and destroys a few per picture, so recycling
    /// them makes decoding allocation-free in steady state. Bounded by
    /// [`SPARE_BUFFERS`] and [`SPARE_BUFFER_BYTES`]. Each with the bytes its
    /// memory holds (fixed while kept: nothing else holds a kept buffer), so
    /// choosing one and bounding them locks none.
    spare_buffers: Mutex<Vec<(usize, Arc<Mutex<Buffer>>)>>,
    pub images: ObjectTable<Mutex<image::Image>>,
    /// Destroyed VA image objects kept for the next image (vaDeriveImage per
    /// frame, as gst-va does, then allocates nothing). At most [`SPARE_IMAGES`].
    spare_images: Mutex<Vec<Arc<Mutex<image::Image>>>>,
    /// Opens decoder handles for contexts and frames (the V4L2 device; a fake in tests).
    opener: Arc<dyn DeviceOpener>,
}

// libva lets applications call one display from several threads (GStreamer and FFmpeg do):
// the driver's state must be shareable across them, checked when it compiles.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Driver>();
};

impl Driver {
    pub fn new(devices: Vec<DecoderNode>) -> Self {
        Self::with_opener(devices, Arc::new(SessionOpener))
    }

    /// A driver whose contexts and frames open their decoder handles with `opener`.
    pub fn with_opener(devices: Vec<DecoderNode>, opener: Arc<dyn DeviceOpener>) -> Self {
        record::init();
        Driver {
            devices,
            configs: ObjectTable::new(ObjectKind::Config),
            contexts: ObjectTable::new(ObjectKind::Context),
            surfaces: ObjectTable::new(ObjectKind::Surface),
            buffers: ObjectTable::new(ObjectKind::Buffer),
            spare_buffers: Mutex::new(Vec::new()),
            spare_images: Mutex::new(Vec::new()),
            images: ObjectTable::new(ObjectKind::Image),
            opener,
        }
    }

    // ---- configs -------------------------------------------------------

    pub fn profiles(&self) -> Vec<ffi::VAProfile> {
        config::supported_profiles(&self.devices)
    }

    pub fn entrypoints(&self, profile: ffi::VAProfile) -> VaResult<Vec<ffi::VAEntrypoint>> {
        if config::route(&self.devices, profile).is_some() {
            Ok(vec![ffi::VAEntrypointVLD])
        } else {
            Err(va_err!(VA_STATUS_ERROR_UNSUPPORTED_PROFILE, "profile {profile} not supported"))
        }
    }

    /// Value of a config attribute for a profile (VA_ATTRIB_NOT_SUPPORTED if unknown).
    pub fn attribute_value(&self, profile: ffi::VAProfile, attrib: ffi::VAConfigAttribType) -> u32 {
        let Some(route) = config::route(&self.devices, profile) else {
            return ffi::VA_ATTRIB_NOT_SUPPORTED;
        };
        match attrib {
            ffi::VAConfigAttribRTFormat => route.rt_format,
            ffi::VAConfigAttribDecSliceMode => ffi::VA_DEC_SLICE_MODE_NORMAL,
            ffi::VAConfigAttribMaxPictureWidth => route.sizes.max_width,
            ffi::VAConfigAttribMaxPictureHeight => route.sizes.max_height,
            _ => ffi::VA_ATTRIB_NOT_SUPPORTED,
        }
    }

    pub fn check_entrypoint(&self, profile: ffi::VAProfile, entrypoint: ffi::VAEntrypoint) -> VaResult<()> {
        self.entrypoints(profile)?;
        if entrypoint != ffi::VAEntrypointVLD {
            return Err(va_err!(VA_STATUS_ERROR_UNSUPPORTED_ENTRYPOINT, "entrypoint {entrypoint} not supported"));
        }
        Ok(())
    }

    pub fn create_config(&self, profile: ffi::VAProfile, entrypoint: ffi::VAEntrypoint, attribs: &[ffi::VAConfigAttrib]) -> VaResult<u32> {
        self.check_entrypoint(profile, entrypoint)?;
        let route = config::route(&self.devices, profile)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_UNSUPPORTED_PROFILE, "profile {profile} not supported"))?;
        let mut rt_format = route.rt_format;
        for a in attribs {
            match a.type_ {
                ffi::VAConfigAttribRTFormat => {
                    if a.value & route.rt_format == 0 {
                        return Err(va_err!(VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT, "RT format {:#x} not supported", a.value));
                    }
                    // An AV1 config asked for one depth keeps only that one.
                    rt_format = route.rt_format & a.value;
                }
                // Values the driver reports (vaGetConfigAttributes) are the only
                // ones it takes: a bit mask for the slice mode, a bound for sizes.
                ffi::VAConfigAttribDecSliceMode => {
                    let ok = self.attribute_value(profile, a.type_);
                    if a.value == 0 || a.value & !ok != 0 {
                        return Err(va_err!(
                            VA_STATUS_ERROR_INVALID_VALUE,
                            "VAConfigAttribDecSliceMode {:#x} (supported: {ok:#x})",
                            a.value
                        ));
                    }
                }
                ffi::VAConfigAttribMaxPictureWidth | ffi::VAConfigAttribMaxPictureHeight => {
                    let max = self.attribute_value(profile, a.type_);
                    if a.value > max {
                        return Err(va_err!(VA_STATUS_ERROR_INVALID_VALUE, "config attribute {} = {} (at most {max})", a.type_, a.value));
                    }
                }
                other => {
                    if self.attribute_value(profile, other) == ffi::VA_ATTRIB_NOT_SUPPORTED {
                        return Err(va_err!(
                            VA_STATUS_ERROR_INVALID_VALUE,
                            "config attribute {other} = {:#x}: not supported for profile {profile}",
                            a.value
                        ));
                    }
                }
            }
        }
        let cfg = Config {
            profile,
            entrypoint,
            codec: route.codec,
            coded_fourcc: route.coded_fourcc,
            device: route.device,
            rt_format,
            depth: route.depth,
        };
        self.configs
            .insert(cfg)
            .inspect(|&id| record::config(profile, entrypoint, id))
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "too many configs"))
    }

    pub fn config(&self, id: u32) -> VaResult<Arc<Config>> {
        self.configs.get(id).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_CONFIG, "unknown config {id:#x}"))
    }

    pub fn destroy_config(&self, id: u32) -> VaResult<()> {
        record::destroy_config(id);
        self.configs.remove(id).map(|_| ()).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_CONFIG, "unknown config {id:#x}"))
    }

    // ---- surfaces ------------------------------------------------------

    pub fn create_surfaces(&self, width: u32, height: u32, rt_format: u32, fourcc: Option<u32>, count: usize) -> VaResult<Vec<u32>> {
        if width == 0 || height == 0 || width > MAX_WIDTH || height > MAX_HEIGHT {
            return Err(va_err!(VA_STATUS_ERROR_RESOLUTION_NOT_SUPPORTED, "surface size {width}x{height}"));
        }
        let fourcc = surface_fourcc(rt_format, fourcc, self.any_ten_bit())?;
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            match self.surfaces.insert(Mutex::new(Surface::new(width, height, fourcc))) {
                Some(id) => ids.push(id),
                None => {
                    for id in ids {
                        self.surfaces.remove(id);
                    }
                    return Err(va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "too many surfaces"));
                }
            }
        }
        record::surfaces(width, height, rt_format, Some(fourcc), &ids);
        Ok(ids)
    }

    /// One surface that owns `own` from its creation (an import).
    fn create_surface_with(&self, width: u32, height: u32, rt_format: u32, fourcc: u32, own: OwnFrame) -> VaResult<u32> {
        if width == 0 || height == 0 || width > MAX_WIDTH || height > MAX_HEIGHT {
            return Err(va_err!(VA_STATUS_ERROR_RESOLUTION_NOT_SUPPORTED, "surface size {width}x{height}"));
        }
        let mut surface = Surface::new(width, height, fourcc);
        surface.own_frame = Some(own);
        let id =
            self.surfaces.insert(Mutex::new(surface)).ok_or_else(|| va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "too many surfaces"))?;
        record::surfaces(width, height, rt_format, Some(fourcc), &[id]);
        Ok(id)
    }

    /// Whether some device decodes 10-bit (P010) for some codec.
    pub fn any_ten_bit(&self) -> bool {
        self.devices.iter().any(|d| !d.ten_bit_formats.is_empty())
    }

    pub fn surface(&self, id: u32) -> VaResult<Arc<Mutex<Surface>>> {
        self.surfaces.get(id).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_SURFACE, "unknown surface {id:#x}"))
    }

    pub fn destroy_surfaces(&self, ids: &[u32]) -> VaResult<()> {
        record::destroy_surfaces(ids);
        let mut result = Ok(());
        for &id in ids {
            match self.surfaces.remove(id) {
                Some(s) => {
                    let ctx = lock(&s).context.take();
                    if let Some(ctx) = ctx {
                        lock(&ctx).release_surface(id);
                    }
                }
                None => result = Err(va_err!(VA_STATUS_ERROR_INVALID_SURFACE, "unknown surface {id:#x}")),
            }
        }
        result
    }

    /// The context that holds `surface`'s picture, if it was ever decoded.
    fn surface_context(&self, surface: u32) -> VaResult<Option<Arc<Mutex<Context>>>> {
        let s = self.surface(surface)?;
        let ctx = lock(&s).context.clone();
        Ok(ctx)
    }

    /// Make `ctx` the context of `surface`; its picture in a previous context
    /// (if any) is released there.
    /// A frame the surface owned (from an export before it had a context) is
    /// adopted by `ctx` as the surface's CAPTURE slot.
    fn bind_surface(&self, surface: u32, ctx: &Arc<Mutex<Context>>) -> VaResult<()> {
        let s = self.surface(surface)?;
        let (old, own) = {
            let mut s = lock(&s);
            match &s.context {
                Some(old) if Arc::ptr_eq(old, ctx) => (None, None),
                _ => (s.context.replace(ctx.clone()), s.own_frame.take()),
            }
        };
        if let Some(old) = old {
            lock(&old).release_surface(surface);
        }
        if let Some(own) = own {
            let imported = own.imported;
            if let Err(err) = lock(ctx).adopt_frame(surface, own) {
                let (e, back) = *err;
                if imported {
                    // Decoding anywhere else would lose the application's pictures.
                    let mut g = lock(&s);
                    g.context = None;
                    g.own_frame = back;
                    return Err(e);
                }
                log::warn!(
                    "surface {surface:#x} was exported before it had a context, but its pictures cannot land in that buffer ({}): the earlier export shows none of them",
                    e.msg
                );
            }
        }
        Ok(())
    }

    /// A live context that decodes surfaces like `surface` (same size and
    /// pixel format), the newest first: GStreamer creates its context without
    /// render targets, then allocates and exports its surfaces.
    fn matching_context(&self, width: u32, height: u32, fourcc: u32) -> Option<Arc<Mutex<Context>>> {
        let mut ids = self.contexts.ids();
        ids.sort_unstable();
        ids.into_iter().rev().find_map(|id| {
            let ctx = self.contexts.get(id).map(|a| (*a).clone())?;
            let fits = {
                let g = lock(&ctx);
                g.width == width && g.height == height && g.surface_fourcc() == fourcc
            };
            fits.then_some(ctx)
        })
    }

    /// The decoder and coded format whose contexts a surface's own frame (or
    /// an import's layout check) imitates: the first device that decodes
    /// pictures of `fourcc` (NV12 or P010).
    fn frame_origin(&self, fourcc: u32) -> VaResult<(&DecoderNode, u32)> {
        let ten_bit = fourcc == ffi::VA_FOURCC_P010;
        self.devices.iter().find_map(|n| frames::own_frame_coded_format(n, ten_bit).map(|c| (n, c))).ok_or_else(|| {
            va_err!(VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT, "no decoder makes {} pictures", crate::v4l2::fourcc_to_string(fourcc))
        })
    }

    /// Give a surface without a context somewhere to live before its first
    /// decode (an export or derive right after vaCreateSurfaces): bind it to a
    /// matching live context if there is one (`Ok(true)`), else make sure it
    /// owns a frame (`Ok(false)`). See [`frames`].
    fn place_contextless(&self, surface: u32) -> VaResult<bool> {
        let s = self.surface(surface)?;
        let (w, h, fourcc, has_frame) = {
            let g = lock(&s);
            if g.context.is_some() {
                return Ok(true);
            }
            (g.width, g.height, g.fourcc, g.own_frame.is_some())
        };
        if let Some(ctx) = self.matching_context(w, h, fourcc) {
            self.bind_surface(surface, &ctx)?;
            return Ok(true);
        }
        if has_frame {
            return Ok(false);
        }
        let ten_bit = fourcc == ffi::VA_FOURCC_P010;
        let (node, coded) = self.frame_origin(fourcc)?;
        let own = OwnFrame::allocate(&*self.opener, node, coded, w, h, ten_bit)?;
        log::debug!(
            "surface {surface:#x}: own frame of {:?} bytes ({:?}, as for {})",
            own.frame.lens(),
            own.format,
            crate::v4l2::fourcc_to_string(coded)
        );
        let mut g = lock(&s);
        if g.context.is_none() && g.own_frame.is_none() {
            g.own_frame = Some(own);
        }
        Ok(g.context.is_some())
    }

    pub fn sync_surface(&self, surface: u32) -> VaResult<()> {
        match self.surface_context(surface)? {
            Some(ctx) => lock(&ctx).sync(surface),
            None => Ok(()),
        }
    }

    /// vaSyncSurface2: wait at most `timeout` (and at most the sync timeout);
    /// `VA_STATUS_ERROR_TIMEDOUT` while the decode is still running then.
    pub fn sync_surface_within(&self, surface: u32, timeout: std::time::Duration) -> VaResult<()> {
        match self.surface_context(surface)? {
            Some(ctx) => lock(&ctx).sync_within(surface, timeout),
            None => Ok(()),
        }
    }

    pub fn query_surface_status(&self, surface: u32) -> VaResult<ffi::VASurfaceStatus> {
        let state = match self.surface_context(surface)? {
            Some(ctx) => lock(&ctx).poll_status(surface)?,
            None => DecodeState::Ready,
        };
        Ok(match state {
            DecodeState::Pending => ffi::VASurfaceRendering,
            _ => ffi::VASurfaceReady,
        })
    }

    /// For vaQuerySurfaceError: a pointer to the surface's (stable, boxed)
    /// error list when its last decode failed.
    pub fn surface_error(&self, surface: u32, status: ffi::VAStatus) -> VaResult<*mut std::ffi::c_void> {
        let s = self.surface(surface)?;
        let failed = match self.surface_context(surface)? {
            Some(ctx) => lock(&ctx).state(surface) == Some(DecodeState::Failed),
            None => false,
        };
        if status != ffi::VA_STATUS_ERROR_DECODING_ERROR as ffi::VAStatus || !failed {
            return Ok(std::ptr::null_mut());
        }
        let mut s = lock(&s);
        let mbs = s.width.div_ceil(16) * s.height.div_ceil(16);
        s.mb_errors[0] = ffi::VASurfaceDecodeMBErrors {
            status: 1,
            start_mb: 0,
            end_mb: mbs.saturating_sub(1),
            decode_error_type: ffi::VADecodeMBError,
            num_mb: mbs,
            ..Default::default()
        };
        s.mb_errors[1].status = -1;
        Ok(s.mb_errors.as_mut_ptr() as *mut std::ffi::c_void)
    }

    // ---- contexts ------------------------------------------------------

    pub fn create_context(&self, config: u32, width: u32, height: u32, targets: &[u32]) -> VaResult<u32> {
        let cfg = self.config(config)?;
        let sizes = config::frame_sizes(&self.devices, &cfg);
        if !sizes.contains(width, height) {
            return Err(va_err!(VA_STATUS_ERROR_RESOLUTION_NOT_SUPPORTED, "context size {width}x{height} outside the device's {sizes}"));
        }
        let mut fourccs = Vec::with_capacity(targets.len());
        for &t in targets {
            let s = self.surface(t)?;
            fourccs.push(lock(&s).fourcc);
        }
        let ten_bit = context_ten_bit(&cfg, &fourccs)?;
        let node =
            self.devices.get(cfg.device).ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "config routed to a missing device"))?;
        let ctx = Arc::new(Mutex::new(Context::new(&self.opener, (*cfg).clone(), node, width, height, targets.len(), ten_bit)?));
        let id = self.contexts.insert(ctx.clone()).ok_or_else(|| va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "too many contexts"))?;
        for &t in targets {
            self.bind_surface(t, &ctx)?;
        }
        record::context(config, width, height, targets, id);
        Ok(id)
    }

    pub fn context(&self, id: u32) -> VaResult<Arc<Mutex<Context>>> {
        self.contexts.get(id).map(|a| (*a).clone()).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_CONTEXT, "unknown context {id:#x}"))
    }

    pub fn destroy_context(&self, id: u32) -> VaResult<()> {
        record::destroy_context(id);
        // The session closes when the last holder goes: a surface still naming
        // a picture in it, or a derived image.
        self.contexts.remove(id).map(|_| ()).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_CONTEXT, "unknown context {id:#x}"))
    }

    // ---- buffers -------------------------------------------------------

    pub fn create_buffer(&self, buf_type: ffi::VABufferType, size: u32, num_elements: u32, data: Option<&[u8]>) -> VaResult<u32> {
        let total = (size as usize)
            .checked_mul(num_elements as usize)
            .filter(|t| *t <= MAX_BUFFER_BYTES)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "buffer of {num_elements} x {size} bytes"))?;
        if let Some(spare) = self.take_spare_buffer(total) {
            {
                let mut b = lock(&spare);
                if let BufferStore::Owned(bytes) = &mut b.store {
                    fill_buffer_bytes(bytes, total, data);
                }
                b.buf_type = buf_type;
                b.element_size = size;
                b.num_elements = num_elements;
                b.map_count = 0;
            }
            return self.buffers.insert_arc(spare).ok_or_else(|| va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "too many buffers"));
        }
        let mut bytes = Vec::with_capacity(total);
        fill_buffer_bytes(&mut bytes, total, data);
        self.buffers
            .insert(Mutex::new(Buffer::owned(buf_type, size, num_elements, bytes)))
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "too many buffers"))
    }

    /// A spare buffer for `total` bytes: the smallest whose memory holds them,
    /// else the largest (its memory grows once).
    fn take_spare_buffer(&self, total: usize) -> Option<Arc<Mutex<Buffer>>> {
        let mut spares = lock(&self.spare_buffers);
        let fits = (0..spares.len()).filter(|&i| spares[i].0 >= total).min_by_key(|&i| spares[i].0);
        let i = fits.or_else(|| (0..spares.len()).max_by_key(|&i| spares[i].0))?;
        Some(spares.swap_remove(i).1)
    }

    /// Insert a buffer that is a view (a derived image's), into a kept buffer
    /// object without bytes if there is one (the last view's).
    pub(crate) fn insert_view_buffer(&self, buf: Buffer) -> VaResult<u32> {
        let spare = {
            let mut spares = lock(&self.spare_buffers);
            spares.iter().position(|(capacity, _)| *capacity == 0).map(|i| spares.swap_remove(i).1)
        };
        let obj = match spare {
            Some(obj) => {
                *lock(&obj) = buf;
                obj
            }
            None => Arc::new(Mutex::new(buf)),
        };
        self.buffers.insert_arc(obj).ok_or_else(|| va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "too many buffers"))
    }

    pub fn buffer(&self, id: u32) -> VaResult<Arc<Mutex<Buffer>>> {
        self.buffers.get(id).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "unknown buffer {id:#x}"))
    }

    pub fn destroy_buffer(&self, id: u32) -> VaResult<()> {
        let b = self.buffers.remove(id).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "unknown buffer {id:#x}"))?;
        // Kept for the next vaCreateBuffer when nothing else holds it (a picture
        // being assembled may), within the bounds. A view lets go of its
        // context here: a kept buffer holds bytes or nothing.
        if Arc::strong_count(&b) == 1 {
            let view = {
                let mut g = lock(&b);
                match g.store {
                    BufferStore::Derived { .. } => Some(std::mem::replace(&mut g.store, BufferStore::Owned(Vec::new()))),
                    BufferStore::Owned(_) => None,
                }
            };
            drop(view);
            let size = spare_capacity(&b);
            let mut spares = lock(&self.spare_buffers);
            let held: usize = spares.iter().map(|(capacity, _)| capacity).sum();
            if spares.len() < SPARE_BUFFERS && held + size <= SPARE_BUFFER_BYTES {
                spares.push((size, b));
            }
        }
        Ok(())
    }

    pub fn buffer_set_num_elements(&self, id: u32, n: u32) -> VaResult<()> {
        let b = self.buffer(id)?;
        let mut b = lock(&b);
        let capacity = b.element_size as usize * b.num_elements as usize;
        if n as usize * b.element_size as usize > capacity {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "{n} elements exceed the buffer"));
        }
        b.num_elements = n;
        Ok(())
    }

    /// Map a buffer: a pointer valid until the buffer is destroyed.
    pub fn map_buffer(&self, id: u32) -> VaResult<*mut std::ffi::c_void> {
        let b = self.buffer(id)?;
        let derived = {
            let mut g = lock(&b);
            g.map_count += 1;
            match &mut g.store {
                BufferStore::Owned(v) => return Ok(v.as_mut_ptr() as *mut std::ffi::c_void),
                BufferStore::Derived { context, slot, .. } => (context.clone(), *slot),
            }
        };
        let (ctx, slot) = derived;
        let mut ctx = lock(&ctx);
        ctx.slot_bytes_mut(slot)
            .map(|s| s.as_mut_ptr() as *mut std::ffi::c_void)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "slot {} is not mapped", slot.0))
    }

    pub fn unmap_buffer(&self, id: u32) -> VaResult<()> {
        let b = self.buffer(id)?;
        let mut b = lock(&b);
        b.map_count = b.map_count.saturating_sub(1);
        Ok(())
    }

    /// Copy the application's buffers into the context's picture.
    pub fn render_picture(&self, context: u32, buffers: &[u32]) -> VaResult<()> {
        let ctx = self.context(context)?;
        let mut ctx = lock(&ctx);
        for &id in buffers {
            let b = self.buffer(id)?;
            let b = lock(&b);
            let bytes = b.bytes().ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "buffer {id:#x} is an image view"))?;
            let used = (b.element_size as usize * b.num_elements as usize).min(bytes.len());
            record::buffer(context, b.buf_type, b.element_size, b.num_elements, &bytes[..used]);
            ctx.render_buffer(b.buf_type, &bytes[..used], b.num_elements)?;
        }
        Ok(())
    }

    pub fn begin_picture(&self, context: u32, target: u32) -> VaResult<()> {
        record::begin(context, target);
        let ctx = self.context(context)?;
        let fourcc = {
            let s = self.surface(target)?;
            let f = lock(&s).fourcc;
            f
        };
        let want = lock(&ctx).surface_fourcc();
        if fourcc != want {
            return Err(va_err!(
                VA_STATUS_ERROR_INVALID_SURFACE,
                "surface {target:#x} is {} but the context decodes {}",
                crate::v4l2::fourcc_to_string(fourcc),
                crate::v4l2::fourcc_to_string(want)
            ));
        }
        self.bind_surface(target, &ctx)?;
        let mut ctx = lock(&ctx);
        ctx.begin_picture(target)
    }

    pub fn end_picture(&self, context: u32) -> VaResult<()> {
        record::end(context);
        let ctx = self.context(context)?;
        let mut ctx = lock(&ctx);
        ctx.end_picture()
    }

    /// Sync `surface` and return its context and the slot holding its
    /// picture (for images and export). A surface of a context that was never
    /// decoded gets a reserved slot, so exports before the first decode (mpv
    /// and Chromium probe this way) return a real, correctly described buffer.
    /// `None` when the surface belongs to no context yet.
    pub fn picture_slot(&self, surface: u32) -> VaResult<Option<(Arc<Mutex<Context>>, SlotId)>> {
        let Some(ctx) = self.surface_context(surface)? else { return Ok(None) };
        let slot = {
            let mut g = lock(&ctx);
            g.sync(surface)?;
            match g.surface_slot(surface) {
                Some(slot) => slot,
                None => g.reserve_slot(surface)?,
            }
        };
        Ok(Some((ctx, slot)))
    }

    /// Like [`picture_slot`](Self::picture_slot), but a surface without a
    /// context is an error (nothing to read yet).
    pub fn decoded_slot(&self, surface: u32) -> VaResult<(Arc<Mutex<Context>>, SlotId)> {
        self.picture_slot(surface)?
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_SURFACE, "surface {surface:#x} belongs to no decode context yet"))
    }
}

/// A VA buffer's `total` bytes: the application's `data` (at most `total`),
/// zeros after it; each byte written once (slice data is copied, not zeroed
/// first).
fn fill_buffer_bytes(bytes: &mut Vec<u8>, total: usize, data: Option<&[u8]>) {
    bytes.clear();
    if let Some(d) = data {
        bytes.extend_from_slice(&d[..d.len().min(total)]);
    }
    bytes.resize(total, 0);
}

/// Bytes a kept buffer's memory holds (0 for a view).
fn spare_capacity(b: &Arc<Mutex<Buffer>>) -> usize {
    match &lock(b).store {
        BufferStore::Owned(v) => v.capacity(),
        BufferStore::Derived { .. } => 0,
    }
}

/// Surface pixel formats for a config (vaQuerySurfaceAttributes): NV12 where
/// it decodes 8-bit, P010 where it decodes 10-bit.
pub fn config_surface_fourccs(cfg: &Config) -> Vec<u32> {
    let mut v = Vec::with_capacity(2);
    if cfg.allows_eight_bit() {
        v.push(ffi::VA_FOURCC_NV12);
    }
    if cfg.allows_ten_bit() {
        v.push(ffi::VA_FOURCC_P010);
    }
    v
}

/// The fourcc of new surfaces: `fourcc` if given, else NV12 for
/// `VA_RT_FORMAT_YUV420` and P010 for `VA_RT_FORMAT_YUV420_10`. NV12 needs
/// YUV420 in `rt_format`, P010 needs YUV420_10 and a device that decodes
/// 10-bit (`ten_bit_device`).
pub fn surface_fourcc(rt_format: u32, fourcc: Option<u32>, ten_bit_device: bool) -> VaResult<u32> {
    let yuv420 = rt_format & ffi::VA_RT_FORMAT_YUV420 != 0;
    let yuv420_10 = rt_format & ffi::VA_RT_FORMAT_YUV420_10 != 0 && ten_bit_device;
    if !yuv420 && !yuv420_10 {
        return Err(va_err!(VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT, "RT format {rt_format:#x} not supported"));
    }
    let fourcc = fourcc.unwrap_or(if yuv420 { ffi::VA_FOURCC_NV12 } else { ffi::VA_FOURCC_P010 });
    // The pixel-format attribute wins over the RT format's depth (as in Mesa's
    // and Intel's drivers): YUV420 + P010 on a 10-bit device gives P010.
    match fourcc {
        ffi::VA_FOURCC_NV12 => Ok(fourcc),
        ffi::VA_FOURCC_P010 if ten_bit_device => Ok(fourcc),
        _ => Err(va_err!(VA_STATUS_ERROR_INVALID_IMAGE_FORMAT, "surface fourcc {fourcc:#x} not supported for RT format {rt_format:#x}")),
    }
}

/// Whether a context of `cfg` over render targets of `fourccs` decodes
/// 10-bit (P010) pictures: always for 10-bit profiles, for AV1 when its
/// targets are P010 (without targets: when the config allows only 10-bit).
/// Targets of the other depth, or a depth the config does not allow, are refused.
pub fn context_ten_bit(cfg: &Config, fourccs: &[u32]) -> VaResult<bool> {
    let p010 = fourccs.iter().filter(|&&f| f == ffi::VA_FOURCC_P010).count();
    let ten_bit = match cfg.depth {
        config::Depth::Eight => false,
        config::Depth::Ten => true,
        // Without targets (GStreamer creates them later) the config decides.
        config::Depth::Both if fourccs.is_empty() => !cfg.allows_eight_bit(),
        config::Depth::Both => p010 > 0,
    };
    if (ten_bit && !cfg.allows_ten_bit()) || (!ten_bit && !cfg.allows_eight_bit()) {
        return Err(va_err!(VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT, "config RT format {:#x}", cfg.rt_format));
    }
    let want = if ten_bit { ffi::VA_FOURCC_P010 } else { ffi::VA_FOURCC_NV12 };
    if let Some(f) = fourccs.iter().find(|&&f| f != want) {
        return Err(va_err!(
            VA_STATUS_ERROR_INVALID_SURFACE,
            "render target of fourcc {} for a {} context",
            crate::v4l2::fourcc_to_string(*f),
            crate::v4l2::fourcc_to_string(want)
        ));
    }
    Ok(ten_bit)
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Buffers may hold contexts (derived images): drop them first.
        self.images.drain();
        self.buffers.drain();
        self.surfaces.drain();
        self.contexts.drain();
        self.configs.drain();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(r: VaResult<impl Sized>) -> u32 {
        match r {
            Ok(_) => ffi::VA_STATUS_SUCCESS,
            Err(e) => e.status as u32,
        }
    }

    #[test]
    fn destroyed_buffers_are_recycled_within_bounds() {
        let d = Driver::new(Vec::new());
        let bytes = |id: u32| d.buffer(id).unwrap().lock().unwrap().bytes().unwrap().to_vec();
        // A destroyed buffer's memory carries the next one, with the new contents
        // and a fresh size; a new ID.
        let a = d.create_buffer(ffi::VASliceDataBufferType, 64, 1, Some(&[7; 64])).unwrap();
        let pa = d.map_buffer(a).unwrap();
        d.destroy_buffer(a).unwrap();
        let b = d.create_buffer(ffi::VAPictureParameterBufferType, 16, 2, Some(&[3; 20])).unwrap();
        assert_ne!(a, b);
        assert_eq!(d.map_buffer(b).unwrap(), pa);
        let got = bytes(b);
        assert_eq!(got.len(), 32);
        assert!(got[..20].iter().all(|&x| x == 3) && got[20..].iter().all(|&x| x == 0));
        {
            let g = d.buffer(b).unwrap();
            let g = g.lock().unwrap();
            assert_eq!((g.buf_type, g.element_size, g.num_elements), (ffi::VAPictureParameterBufferType, 16, 2));
        }
        assert_eq!(status(d.map_buffer(a)), ffi::VA_STATUS_ERROR_INVALID_BUFFER);
        // A buffer something still holds (a picture being assembled) is not kept.
        let held = d.buffer(b).unwrap();
        d.destroy_buffer(b).unwrap();
        assert!(d.spare_buffers.lock().unwrap().is_empty());
        drop(held);
        // At most SPARE_BUFFERS are kept, and at most SPARE_BUFFER_BYTES.
        let ids: Vec<u32> = (0..SPARE_BUFFERS + 8).map(|_| d.create_buffer(ffi::VASliceDataBufferType, 8, 1, None).unwrap()).collect();
        for id in ids {
            d.destroy_buffer(id).unwrap();
        }
        assert_eq!(d.spare_buffers.lock().unwrap().len(), SPARE_BUFFERS);
        let big = d.create_buffer(ffi::VASliceDataBufferType, (SPARE_BUFFER_BYTES + 1) as u32, 1, None).unwrap();
        d.destroy_buffer(big).unwrap();
        // The memory the kept buffers really hold, not the recorded sizes.
        let held: usize = d.spare_buffers.lock().unwrap().iter().map(|(_, b)| spare_capacity(b)).sum();
        assert!(held <= SPARE_BUFFER_BYTES, "{held} bytes kept");
    }

    #[test]
    fn bad_input_gets_the_right_status_without_a_device() {
        let d = Driver::new(Vec::new());
        assert!(d.profiles().is_empty());
        assert_eq!(status(d.create_config(ffi::VAProfileH264High, ffi::VAEntrypointVLD, &[])), ffi::VA_STATUS_ERROR_UNSUPPORTED_PROFILE);
        assert_eq!(status(d.destroy_config(0x0100_0001)), ffi::VA_STATUS_ERROR_INVALID_CONFIG);
        assert_eq!(status(d.sync_surface(0x0400_0001)), ffi::VA_STATUS_ERROR_INVALID_SURFACE);
        assert_eq!(status(d.create_surfaces(0, 10, ffi::VA_RT_FORMAT_YUV420, None, 1)), ffi::VA_STATUS_ERROR_RESOLUTION_NOT_SUPPORTED);
        assert_eq!(status(d.create_surfaces(64, 64, 0x100, None, 1)), ffi::VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT);
        assert_eq!(status(d.begin_picture(0x0200_0001, 0x0400_0001)), ffi::VA_STATUS_ERROR_INVALID_CONTEXT);
        assert_eq!(status(d.end_picture(0x0200_0001)), ffi::VA_STATUS_ERROR_INVALID_CONTEXT);
        assert_eq!(status(d.map_buffer(0x0800_0001)), ffi::VA_STATUS_ERROR_INVALID_BUFFER);
        assert_eq!(status(d.create_buffer(ffi::VASliceDataBufferType, u32::MAX, 4, None)), ffi::VA_STATUS_ERROR_ALLOCATION_FAILED);

        // Surfaces without a context: sync is a no-op, export needs a decoder to
        // allocate the surface's frame from (none here), derive gives a correctly
        // described NV12 image.
        let ids = d.create_surfaces(864, 480, ffi::VA_RT_FORMAT_YUV420, None, 2).unwrap();
        assert_eq!(status(d.sync_surface(ids[0])), ffi::VA_STATUS_SUCCESS);
        assert_eq!(
            status(d.export_surface(ids[0], ffi::VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2, 0)),
            ffi::VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT
        );
        let img = d.derive_image(ids[1]).unwrap();
        assert_eq!(img.format.fourcc, ffi::VA_FOURCC_NV12);
        assert_eq!((img.width, img.height, img.num_planes), (864, 480, 2));
        assert!(img.pitches[0] >= 864 && img.offsets[1] >= img.pitches[0] * 480);
        assert!(!d.map_buffer(img.buf).unwrap().is_null());
        d.destroy_image(img.image_id).unwrap();
        assert_eq!(status(d.destroy_image(img.image_id)), ffi::VA_STATUS_ERROR_INVALID_IMAGE);
        // A buffer ID is not a surface ID.
        let b = d.create_buffer(ffi::VASliceDataBufferType, 16, 1, Some(&[1; 16])).unwrap();
        assert_eq!(status(d.sync_surface(b)), ffi::VA_STATUS_ERROR_INVALID_SURFACE);
        d.destroy_buffer(b).unwrap();
        d.destroy_surfaces(&ids).unwrap();
        assert_eq!(status(d.destroy_surfaces(&ids)), ffi::VA_STATUS_ERROR_INVALID_SURFACE);
        assert!(d.surfaces.is_empty() && d.buffers.is_empty() && d.images.is_empty());
    }

    fn ten_bit_node() -> DecoderNode {
        let hevc = crate::v4l2::V4L2_PIX_FMT_HEVC_SLICE;
        let av1 = crate::v4l2::V4L2_PIX_FMT_AV1_FRAME;
        DecoderNode {
            video_path: "/nonexistent/video0".into(),
            media_path: None,
            driver: "test".into(),
            card: "test".into(),
            coded_formats: vec![hevc, av1, crate::v4l2::V4L2_PIX_FMT_VP9_FRAME],
            multiplanar: true,
            ten_bit_formats: vec![hevc, av1],
            tiled_capture: vec![],
        }
    }

    #[test]
    fn surface_fourccs_by_rt_format() {
        let (yuv, yuv10) = (ffi::VA_RT_FORMAT_YUV420, ffi::VA_RT_FORMAT_YUV420_10);
        assert_eq!(surface_fourcc(yuv, None, false).unwrap(), ffi::VA_FOURCC_NV12);
        assert_eq!(surface_fourcc(yuv10, None, true).unwrap(), ffi::VA_FOURCC_P010);
        assert_eq!(surface_fourcc(yuv10, Some(ffi::VA_FOURCC_P010), true).unwrap(), ffi::VA_FOURCC_P010);
        assert_eq!(surface_fourcc(yuv | yuv10, Some(ffi::VA_FOURCC_P010), true).unwrap(), ffi::VA_FOURCC_P010);
        // No device decodes 10-bit: no 10-bit surfaces.
        assert_eq!(status(surface_fourcc(yuv10, None, false)), ffi::VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT);
        // The pixel format wins over the RT format's depth.
        assert_eq!(surface_fourcc(yuv, Some(ffi::VA_FOURCC_P010), true).unwrap(), ffi::VA_FOURCC_P010);
        assert_eq!(surface_fourcc(yuv10, Some(ffi::VA_FOURCC_NV12), true).unwrap(), ffi::VA_FOURCC_NV12);
        assert_eq!(status(surface_fourcc(yuv, Some(ffi::VA_FOURCC_P010), false)), ffi::VA_STATUS_ERROR_INVALID_IMAGE_FORMAT);
        assert_eq!(status(surface_fourcc(yuv, Some(ffi::VA_FOURCC_YV12), true)), ffi::VA_STATUS_ERROR_INVALID_IMAGE_FORMAT);
    }

    #[test]
    fn context_depth_from_config_and_targets() {
        let d = Driver::new(vec![ten_bit_node()]);
        let cfg = |p| (*d.config(d.create_config(p, ffi::VAEntrypointVLD, &[]).unwrap()).unwrap()).clone();
        let (nv12, p010) = (ffi::VA_FOURCC_NV12, ffi::VA_FOURCC_P010);
        let main = cfg(ffi::VAProfileHEVCMain);
        let main10 = cfg(ffi::VAProfileHEVCMain10);
        let av1 = cfg(ffi::VAProfileAV1Profile0);
        assert_eq!(main10.rt_format, ffi::VA_RT_FORMAT_YUV420_10);
        assert_eq!(av1.rt_format, ffi::VA_RT_FORMAT_YUV420 | ffi::VA_RT_FORMAT_YUV420_10);
        assert_eq!(config_surface_fourccs(&main), [nv12]);
        assert_eq!(config_surface_fourccs(&main10), [p010]);
        assert_eq!(config_surface_fourccs(&av1), [nv12, p010]);

        assert!(!context_ten_bit(&main, &[nv12, nv12]).unwrap());
        assert!(context_ten_bit(&main10, &[p010]).unwrap());
        assert!(context_ten_bit(&main10, &[]).unwrap());
        assert!(context_ten_bit(&av1, &[p010, p010]).unwrap());
        assert!(!context_ten_bit(&av1, &[nv12]).unwrap());
        assert!(!context_ten_bit(&av1, &[]).unwrap());
        // Targets of the other depth are refused.
        assert_eq!(status(context_ten_bit(&main, &[p010])), ffi::VA_STATUS_ERROR_INVALID_SURFACE);
        assert_eq!(status(context_ten_bit(&main10, &[nv12])), ffi::VA_STATUS_ERROR_INVALID_SURFACE);
        assert_eq!(status(context_ten_bit(&av1, &[p010, nv12])), ffi::VA_STATUS_ERROR_INVALID_SURFACE);

        // An AV1 config created for 10-bit only is 10-bit even without targets.
        let attr = [ffi::VAConfigAttrib { type_: ffi::VAConfigAttribRTFormat, value: ffi::VA_RT_FORMAT_YUV420_10 }];
        let av1_10 = d.config(d.create_config(ffi::VAProfileAV1Profile0, ffi::VAEntrypointVLD, &attr).unwrap()).unwrap();
        assert_eq!(av1_10.rt_format, ffi::VA_RT_FORMAT_YUV420_10);
        assert!(context_ten_bit(&av1_10, &[]).unwrap());
        assert_eq!(status(context_ten_bit(&av1_10, &[nv12])), ffi::VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT);
        // VP9 profile 2 is not offered: the node did not pass the VP9 probe.
        assert_eq!(status(d.create_config(ffi::VAProfileVP9Profile2, ffi::VAEntrypointVLD, &[])), ffi::VA_STATUS_ERROR_UNSUPPORTED_PROFILE);
        assert_eq!(d.attribute_value(ffi::VAProfileHEVCMain10, ffi::VAConfigAttribRTFormat), ffi::VA_RT_FORMAT_YUV420_10);
    }

    #[test]
    fn p010_surfaces_and_images() {
        // visl-like: no 10-bit anywhere, so no 10-bit surfaces or profiles.
        let mut visl = ten_bit_node();
        visl.ten_bit_formats.clear();
        let d = Driver::new(vec![visl]);
        assert!(!d.profiles().contains(&ffi::VAProfileHEVCMain10));
        assert_eq!(status(d.create_surfaces(64, 64, ffi::VA_RT_FORMAT_YUV420_10, None, 1)), ffi::VA_STATUS_ERROR_UNSUPPORTED_RT_FORMAT);
        assert_eq!(status(d.create_config(ffi::VAProfileHEVCMain10, ffi::VAEntrypointVLD, &[])), ffi::VA_STATUS_ERROR_UNSUPPORTED_PROFILE);
        drop(d);

        let d = Driver::new(vec![ten_bit_node()]);
        assert!(d.profiles().contains(&ffi::VAProfileHEVCMain10));
        let ids = d.create_surfaces(176, 144, ffi::VA_RT_FORMAT_YUV420_10, None, 2).unwrap();
        assert_eq!(lock(&d.surface(ids[0]).unwrap()).fourcc, ffi::VA_FOURCC_P010);
        // Derive before a context: a P010 image with 2-byte samples.
        let img = d.derive_image(ids[0]).unwrap();
        assert_eq!(img.format.fourcc, ffi::VA_FOURCC_P010);
        assert_eq!((img.width, img.height, img.num_planes), (176, 144, 2));
        assert_eq!(img.pitches[..2], [352, 352]);
        assert_eq!(img.offsets[..2], [0, 352 * 144]);
        assert_eq!(img.data_size, 352 * 144 * 3 / 2);
        d.destroy_image(img.image_id).unwrap();
        // vaCreateImage P010.
        let fmt = image::image_formats()[1];
        let img = d.create_image(&fmt, 100, 50).unwrap();
        assert_eq!((img.pitches[0], img.offsets[1], img.data_size), (208, 208 * 50, 208 * 75));
        d.destroy_image(img.image_id).unwrap();
        // Begin a picture on a P010 surface in no context: invalid context, nothing decoded.
        assert_eq!(status(d.begin_picture(0x0200_0001, ids[0])), ffi::VA_STATUS_ERROR_INVALID_CONTEXT);
        d.destroy_surfaces(&ids).unwrap();
        assert!(d.surfaces.is_empty() && d.buffers.is_empty() && d.images.is_empty());
    }
}
