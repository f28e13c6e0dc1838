//! Images and export: vaCreateImage/vaDeriveImage/vaGetImage/vaPutImage and
//! vaExportSurfaceHandle over the CAPTURE slot that holds a surface's picture.
//!
//! Decoded pictures are NV12 in one V4L2 buffer (single-planar NV12: the CbCr
//! plane follows the luma plane at `pitch * height`). vaDeriveImage maps that
//! buffer without copying; vaGetImage copies row by row, correct for any pitch;
//! export hands out a dma-buf with the DRM modifier chosen by
//! [`crate::format::export_modifier`].

use super::buffer::{Buffer, BufferStore};
use super::{lock, Driver};
use crate::v4l2::CaptureFormat;
use crate::va::ffi;
use crate::va::guard::VaResult;
use crate::va_err;
use std::os::fd::IntoRawFd;
use std::sync::Mutex;

pub struct Image {
    pub image: ffi::VAImage,
    /// Derived images are views of a slot and never copied into.
    pub derived: bool,
}

/// The image formats the driver offers.
pub fn image_formats() -> Vec<ffi::VAImageFormat> {
    vec![ffi::VAImageFormat {
        fourcc: ffi::VA_FOURCC_NV12,
        byte_order: ffi::VA_LSB_FIRST,
        bits_per_pixel: 12,
        ..Default::default()
    }]
}

/// Plane layout (offsets, pitches) of a decoded NV12 picture in its CAPTURE buffer.
pub struct SlotLayout {
    pub pitch: u32,
    pub offsets: [u32; 2],
    pub size: u32,
}

pub fn slot_layout(cf: &CaptureFormat) -> VaResult<SlotLayout> {
    if cf.fourcc != crate::v4l2::V4L2_PIX_FMT_NV12 || cf.num_planes != 1 {
        return Err(va_err!(
            VA_STATUS_ERROR_UNSUPPORTED_MEMORY_TYPE,
            "CAPTURE format {:#x} with {} planes is not single-buffer NV12",
            cf.fourcc,
            cf.num_planes
        ));
    }
    let pitch = cf.bytesperline[0];
    let luma = pitch
        .checked_mul(cf.height)
        .ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "CAPTURE format too large"))?;
    Ok(SlotLayout { pitch, offsets: [0, luma], size: cf.sizeimage[0] })
}

impl Driver {
    pub fn create_image(&self, format: &ffi::VAImageFormat, width: u32, height: u32) -> VaResult<ffi::VAImage> {
        if format.fourcc != ffi::VA_FOURCC_NV12 {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_IMAGE_FORMAT, "image fourcc {:#x} not supported", format.fourcc));
        }
        if width == 0 || height == 0 || width > super::MAX_WIDTH || height > super::MAX_HEIGHT {
            return Err(va_err!(VA_STATUS_ERROR_RESOLUTION_NOT_SUPPORTED, "image size {width}x{height}"));
        }
        let pitch = width.next_multiple_of(16);
        let luma = pitch * height.next_multiple_of(2);
        let size = luma + luma / 2;
        let buf = self.create_buffer(ffi::VAImageBufferType, size, 1, None)?;
        let mut image = ffi::VAImage {
            format: *format,
            buf,
            width: width as u16,
            height: height as u16,
            data_size: size,
            num_planes: 2,
            ..Default::default()
        };
        image.pitches[0] = pitch;
        image.pitches[1] = pitch;
        image.offsets[1] = luma;
        self.insert_image(image, false)
    }

    fn insert_image(&self, mut image: ffi::VAImage, derived: bool) -> VaResult<ffi::VAImage> {
        let buf = image.buf;
        let id = self.images.insert(Mutex::new(Image { image, derived })).ok_or_else(|| {
            let _ = self.destroy_buffer(buf);
            va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "too many images")
        })?;
        image.image_id = id;
        if let Some(img) = self.images.get(id) {
            lock(&img).image.image_id = id;
        }
        Ok(image)
    }

    pub fn image(&self, id: u32) -> VaResult<ffi::VAImage> {
        let img = self.images.get(id).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_IMAGE, "unknown image {id:#x}"))?;
        let image = lock(&img).image;
        Ok(image)
    }

    pub fn destroy_image(&self, id: u32) -> VaResult<()> {
        let img = self.images.remove(id).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_IMAGE, "unknown image {id:#x}"))?;
        let buf = lock(&img).image.buf;
        self.destroy_buffer(buf)
    }

    /// Zero-copy image over the slot holding `surface`'s picture.
    pub fn derive_image(&self, surface: u32) -> VaResult<ffi::VAImage> {
        let (s_w, s_h) = {
            let s = self.surface(surface)?;
            let s = lock(&s);
            (s.width, s.height)
        };
        let Some((ctx, slot)) = self.picture_slot(surface)? else {
            // No context yet (FFmpeg probes vaDeriveImage right after creating
            // its surfaces): a correctly described NV12 image over driver
            // memory. It does not follow later decodes, as no picture exists yet.
            let fmt = image_formats()[0];
            let image = self.create_image(&fmt, s_w, s_h)?;
            if let Some(img) = self.images.get(image.image_id) {
                lock(&img).derived = true;
            }
            return Ok(image);
        };
        let layout = {
            let mut g = lock(&ctx);
            let layout = slot_layout(g.capture_format())?;
            if g.slot_bytes(slot).map(|b| b.len()).unwrap_or(0) < layout.size as usize {
                return Err(va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "slot {} is not mapped", slot.0));
            }
            // A view may be read for a while: recycle this slot last.
            g.mark_exported(slot);
            layout
        };
        let buf = Buffer {
            buf_type: ffi::VAImageBufferType,
            element_size: layout.size,
            num_elements: 1,
            store: BufferStore::Derived { context: ctx, slot, size: layout.size as usize },
            map_count: 0,
        };
        let buf_id = self
            .buffers
            .insert(Mutex::new(buf))
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "too many buffers"))?;
        let mut image = ffi::VAImage {
            format: image_formats()[0],
            buf: buf_id,
            width: s_w as u16,
            height: s_h as u16,
            data_size: layout.size,
            num_planes: 2,
            ..Default::default()
        };
        image.pitches = [layout.pitch, layout.pitch, 0];
        image.offsets = [layout.offsets[0], layout.offsets[1], 0];
        self.insert_image(image, true)
    }

    /// Copy a rectangle of `surface` into `image` (vaGetImage).
    pub fn get_image(&self, surface: u32, x: i32, y: i32, width: u32, height: u32, image_id: u32) -> VaResult<()> {
        let image = self.image(image_id)?;
        if x != 0 || y != 0 {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "vaGetImage at offset {x},{y} not supported"));
        }
        if width > image.width as u32 || height > image.height as u32 {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "{width}x{height} exceeds the image"));
        }
        let (ctx, slot) = self.decoded_slot(surface)?;
        let ctx = lock(&ctx);
        let layout = slot_layout(ctx.capture_format())?;
        let cf_h = ctx.capture_format().height;
        let src = ctx
            .slot_bytes(slot)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "slot {} is not mapped", slot.0))?;
        let width = width.min(layout.pitch);
        let height = height.min(cf_h);
        let buf = self.buffer(image.buf)?;
        let mut buf = lock(&buf);
        let BufferStore::Owned(dst) = &mut buf.store else {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_IMAGE, "vaGetImage into a derived image"));
        };
        let planes = [(0usize, height), (1usize, height.div_ceil(2))];
        for (p, rows) in planes {
            let s_off = layout.offsets[p] as usize;
            let d_off = image.offsets[p] as usize;
            let src_plane = src.get(s_off..).ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "short slot"))?;
            let dst_plane = dst.get_mut(d_off..).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_IMAGE, "short image"))?;
            crate::format::copy_plane(
                src_plane,
                layout.pitch as usize,
                dst_plane,
                image.pitches[p] as usize,
                width as usize,
                rows as usize,
            )
            .map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_IMAGE, "copy plane {p}: {e}"))?;
        }
        Ok(())
    }

    /// Export `surface`'s picture as a DRM PRIME (dma-buf) descriptor.
    pub fn export_surface(&self, surface: u32, mem_type: u32, flags: u32) -> VaResult<ffi::VADRMPRIMESurfaceDescriptor> {
        if mem_type != ffi::VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2 {
            return Err(va_err!(VA_STATUS_ERROR_UNSUPPORTED_MEMORY_TYPE, "export memory type {mem_type:#x}"));
        }
        let (s_w, s_h) = {
            let s = self.surface(surface)?;
            let s = lock(&s);
            (s.width, s.height)
        };
        // Waits for the pending decode first (Firefox exports before it syncs).
        let (ctx, slot) = self.decoded_slot(surface)?;
        let mut g = lock(&ctx);
        let layout = slot_layout(g.capture_format())?;
        let (fd, size) = g.export_slot(slot)?;
        g.note_export(surface, slot, flags & ffi::VA_EXPORT_SURFACE_SEPARATE_LAYERS == 0);
        drop(g);
        let modifier = crate::format::export_modifier(layout.pitch, crate::format::export_align_from_env());
        let mut d = ffi::VADRMPRIMESurfaceDescriptor {
            fourcc: ffi::VA_FOURCC_NV12,
            width: s_w,
            height: s_h,
            num_objects: 1,
            ..Default::default()
        };
        d.objects[0].fd = fd.into_raw_fd();
        d.objects[0].size = size;
        d.objects[0].drm_format_modifier = modifier;
        let r8 = drm_fourcc::DrmFourcc::R8 as u32;
        let gr88 = drm_fourcc::DrmFourcc::Gr88 as u32;
        let nv12 = drm_fourcc::DrmFourcc::Nv12 as u32;
        if flags & ffi::VA_EXPORT_SURFACE_SEPARATE_LAYERS != 0 {
            d.num_layers = 2;
            for (i, fmt) in [r8, gr88].into_iter().enumerate() {
                d.layers[i].drm_format = fmt;
                d.layers[i].num_planes = 1;
                d.layers[i].object_index[0] = 0;
                d.layers[i].offset[0] = layout.offsets[i];
                d.layers[i].pitch[0] = layout.pitch;
            }
        } else {
            d.num_layers = 1;
            d.layers[0].drm_format = nv12;
            d.layers[0].num_planes = 2;
            for i in 0..2 {
                d.layers[0].object_index[i] = 0;
                d.layers[0].offset[i] = layout.offsets[i];
                d.layers[0].pitch[i] = layout.pitch;
            }
        }
        Ok(d)
    }
}
