//! Images and export: vaCreateImage/vaDeriveImage/vaGetImage/vaPutImage and
//! vaExportSurfaceHandle over the CAPTURE slot that holds a surface's picture.
//!
//! Decoded pictures are NV12 (8-bit) or P010 (10-bit) in one V4L2 buffer
//! (single-planar: the CbCr plane follows the luma plane at `pitch * height`;
//! P010 pitches count 2 bytes per sample). Layouts are [`FrameLayout`]s; the
//! VAImage and DRM PRIME descriptors are built from them by the pure
//! [`va_image`] and [`prime_descriptor`]. vaDeriveImage maps that
//! buffer without copying; vaGetImage copies plane by plane (one copy per
//! plane for equal pitches, row by row otherwise: [`crate::format::copy_plane`]);
//! export hands out a dma-buf with the DRM modifier chosen by
//! [`crate::format::export_modifier`].
//!
//! Tiled CAPTURE formats (a device that offers only `NV12_32L32`, `NV12_4L4`
//! or `MM21` for a codec, [`crate::tiling`]) are a [`SlotLayout::Tiled`]:
//! vaGetImage detiles into the linear NV12 image; vaDeriveImage returns such a
//! detiled copy (an image of its own, not a view: writes to it are not
//! written back); vaPutImage detiles the picture, copies the rectangle and
//! tiles it back; vaExportSurfaceHandle describes the buffer as NV12 with the
//! layout's DRM modifier (`NV12_32L32`: `DRM_FORMAT_MOD_ALLWINNER_TILED`, one
//! object; `MM21`: `DRM_FORMAT_MOD_MTK_16L_32S_TILE`, one object per plane) and
//! refuses the layout without one (`NV12_4L4`) with
//! `VA_STATUS_ERROR_UNSUPPORTED_MEMORY_TYPE`.

use super::buffer::{Buffer, BufferStore};
use super::{lock, Driver};
use crate::driver::error::VaResult;
use crate::format::{FrameLayout, PixelFormat};
use crate::tiling::{LinearPlane, TiledFormat, TiledLayout};
use crate::v4l2::CaptureFormat;
use crate::va_err;
use crate::va_sys::ffi;
use std::os::fd::IntoRawFd;
use std::sync::{Arc, Mutex};

/// A VA image: its description (the bytes live in the buffer `image.buf`,
/// owned or a view of a CAPTURE slot, see [`BufferStore`]).
pub struct Image {
    pub image: ffi::VAImage,
}

/// The VA image format of a pixel format.
pub fn image_format(format: PixelFormat) -> ffi::VAImageFormat {
    ffi::VAImageFormat {
        fourcc: format.va_fourcc(),
        byte_order: ffi::VA_LSB_FIRST,
        bits_per_pixel: format.bits_per_pixel(),
        ..Default::default()
    }
}

/// The formats decoded pictures come in: NV12 (8-bit) and P010 (10-bit).
pub const DECODED_FORMATS: [PixelFormat; 2] = [PixelFormat::Nv12, PixelFormat::P010];

/// The image formats the driver offers (vaQueryImageFormats).
pub fn image_formats() -> Vec<ffi::VAImageFormat> {
    DECODED_FORMATS.iter().map(|&f| image_format(f)).collect()
}

/// A decoded format from a VA fourcc (NV12 or P010).
pub fn decoded_format(va_fourcc: u32) -> Option<PixelFormat> {
    PixelFormat::from_va_fourcc(va_fourcc).filter(|f| DECODED_FORMATS.contains(f))
}

/// Layout of a decoded picture in its CAPTURE buffer: single-buffer NV12 or
/// P010, the chroma plane at `bytesperline * height` with the luma pitch
/// (in bytes: 2 per sample for P010), validated against `sizeimage`.
pub fn slot_layout(cf: &CaptureFormat) -> VaResult<FrameLayout> {
    let format = match PixelFormat::from_v4l2_fourcc(cf.fourcc) {
        Some((f, false)) if DECODED_FORMATS.contains(&f) && cf.num_planes == 1 => f,
        _ => {
            return Err(va_err!(
                VA_STATUS_ERROR_UNSUPPORTED_MEMORY_TYPE,
                "CAPTURE format {} with {} planes is not single-buffer NV12 or P010",
                crate::v4l2::fourcc_to_string(cf.fourcc),
                cf.num_planes
            ))
        }
    };
    FrameLayout::from_single_planar(format, cf.width, cf.height, cf.bytesperline[0], cf.sizeimage[0])
        .map_err(|e| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "CAPTURE layout: {e}"))
}

/// Where a decoded picture lives in its CAPTURE buffer(s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotLayout {
    /// Linear NV12 / P010 (read and exported in place).
    Linear(FrameLayout),
    /// A tiled NV12 layout (detiled for images).
    Tiled(TiledLayout),
}

/// The tiled layout of a CAPTURE format, if its fourcc is a tiled one
/// (`Some(Err)` when the device's sizes do not make a walkable layout).
///
/// A single-buffer format whose height is not whole luma tiles (visl's
/// `NV12_32L32` keeps the requested height; cedrus reports it rounded up to
/// 32) is laid out with the height rounded up to the tile: tiles are whole,
/// so the chroma plane can only start after the last luma tile row, and the
/// buffer must hold that (`sizeimage` is checked).
pub fn tiled_layout(cf: &CaptureFormat) -> Option<VaResult<TiledLayout>> {
    let format = TiledFormat::from_v4l2_fourcc(cf.fourcc)?;
    let n = cf.num_planes.min(cf.bytesperline.len());
    let buffers: Vec<(u32, u32)> = (0..n).map(|i| (cf.bytesperline[i], cf.sizeimage[i])).collect();
    let height = match (format.num_buffers(), format.tile(0)) {
        (1, Some(t)) => cf.height.checked_next_multiple_of(t.height as u32).unwrap_or(cf.height),
        _ => cf.height,
    };
    Some(TiledLayout::from_v4l2(format, cf.width, height, &buffers).map_err(|e| {
        va_err!(
            VA_STATUS_ERROR_OPERATION_FAILED,
            "CAPTURE {} {}x{} pitch {:?} size {:?}: {e}",
            format.name(),
            cf.width,
            cf.height,
            &cf.bytesperline[..n],
            &cf.sizeimage[..n]
        )
    }))
}

/// The layout of a decoded picture: tiled for the tiled fourccs, else
/// [`slot_layout`].
pub fn picture_layout(cf: &CaptureFormat) -> VaResult<SlotLayout> {
    match tiled_layout(cf) {
        Some(t) => t.map(SlotLayout::Tiled),
        None => slot_layout(cf).map(SlotLayout::Linear),
    }
}

/// The linear NV12 planes of a VA image (offsets and pitches from the image).
fn image_planes(image: &ffi::VAImage) -> [LinearPlane; 2] {
    [
        LinearPlane { buffer: 0, offset: image.offsets[0] as usize, pitch: image.pitches[0] as usize },
        LinearPlane { buffer: 0, offset: image.offsets[1] as usize, pitch: image.pitches[1] as usize },
    ]
}

/// The bytes vaGetImage may copy as one span: when the whole picture
/// (`width`x`height` covering the image) sits at the same plane offsets and
/// pitches in the frame (`layout`) and in `image`, the span from the first
/// plane's start to the last one's end, if it holds little besides pixels (row
/// padding and the gap between planes at most 1/16 of it; the image's bytes
/// outside its pixels are the caller's padding). One copy instead of one per
/// plane: fewer calls, and the C library picks its copy strategy by size.
fn one_span(layout: &FrameLayout, image: &ffi::VAImage, width: u32, height: u32) -> Option<usize> {
    if (width, height) != (image.width as u32, image.height as u32) {
        return None;
    }
    let format = layout.format;
    let mut pixels = 0usize;
    let mut end = 0usize;
    for (p, plane) in layout.planes().iter().enumerate() {
        let rows = format.plane_rows(p, height)?;
        let row_bytes = format.plane_row_bytes(p, width)?;
        let same = plane.buffer == 0
            && plane.offset == image.offsets[p] as usize
            && plane.pitch == image.pitches[p] as usize
            && rows <= plane.rows
            && row_bytes <= plane.row_bytes;
        if !same || plane.offset < end {
            return None;
        }
        pixels = pixels.checked_add(rows.checked_mul(row_bytes)?)?;
        end = plane.offset.checked_add(plane.pitch.checked_mul(rows.checked_sub(1)?)?)?.checked_add(row_bytes)?;
    }
    (end <= image.data_size as usize && end - pixels <= pixels / 16).then_some(end)
}

/// The DRM PRIME descriptor exporting a tiled picture: NV12 with the
/// layout's modifier on every object, pitches = `bytesperline`, plane offsets
/// of the layout; one object (`NV12_32L32`) or one per plane (`MM21`:
/// `objects` = (fd, size) per buffer). Layouts without a DRM modifier
/// (`NV12_4L4`) are refused with `VA_STATUS_ERROR_UNSUPPORTED_MEMORY_TYPE`.
pub fn tiled_prime_descriptor(
    layout: &TiledLayout,
    width: u32,
    height: u32,
    objects: &[(i32, u32)],
    separate_layers: bool,
) -> VaResult<ffi::VADRMPRIMESurfaceDescriptor> {
    let modifier = check_tiled_export(layout)?;
    if objects.len() != layout.num_buffers() {
        return Err(va_err!(
            VA_STATUS_ERROR_OPERATION_FAILED,
            "{} export with {} dma-bufs for {} buffers",
            layout.format.name(),
            objects.len(),
            layout.num_buffers()
        ));
    }
    let mut d = ffi::VADRMPRIMESurfaceDescriptor {
        fourcc: ffi::VA_FOURCC_NV12,
        width,
        height,
        num_objects: objects.len() as u32,
        ..Default::default()
    };
    for (o, &(fd, size)) in d.objects.iter_mut().zip(objects) {
        o.fd = fd;
        o.size = size;
        o.drm_format_modifier = modifier;
    }
    let planes = layout.planes();
    if separate_layers {
        use drm_fourcc::DrmFourcc as D;
        d.num_layers = 2;
        for (i, (p, fmt)) in planes.iter().zip([D::R8, D::Gr88]).enumerate() {
            d.layers[i].drm_format = fmt as u32;
            d.layers[i].num_planes = 1;
            d.layers[i].object_index[0] = p.buffer as u32;
            d.layers[i].offset[0] = to_u32(p.offset)?;
            d.layers[i].pitch[0] = to_u32(p.pitch)?;
        }
    } else {
        d.num_layers = 1;
        d.layers[0].drm_format = drm_fourcc::DrmFourcc::Nv12 as u32;
        d.layers[0].num_planes = 2;
        for (i, p) in planes.iter().enumerate() {
            d.layers[0].object_index[i] = p.buffer as u32;
            d.layers[0].offset[i] = to_u32(p.offset)?;
            d.layers[0].pitch[i] = to_u32(p.pitch)?;
        }
    }
    Ok(d)
}

/// The descriptor of a tiled export over owned dma-bufs (closed on error).
fn tiled_export(
    layout: &TiledLayout,
    width: u32,
    height: u32,
    objects: Vec<(std::os::fd::OwnedFd, u32)>,
    separate_layers: bool,
) -> VaResult<ffi::VADRMPRIMESurfaceDescriptor> {
    use std::os::fd::AsRawFd;
    let raw: Vec<(i32, u32)> = objects.iter().map(|(fd, size)| (fd.as_raw_fd(), *size)).collect();
    let d = tiled_prime_descriptor(layout, width, height, &raw, separate_layers)?;
    // Complete: the descriptor owns the fds now.
    for (fd, _) in objects {
        let _ = fd.into_raw_fd();
    }
    Ok(d)
}

/// The DRM modifier a tiled picture is exported with, or the refusal.
fn check_tiled_export(layout: &TiledLayout) -> VaResult<u64> {
    layout.format.drm_modifier().ok_or_else(|| {
        va_err!(
            VA_STATUS_ERROR_UNSUPPORTED_MEMORY_TYPE,
            "export of a {} picture refused: no DRM format modifier describes this layout (read it with vaGetImage)",
            layout.format.name()
        )
    })
}

/// Layout of an image the driver allocates: pitch rounded up to 16 bytes,
/// chroma after an even number of luma rows (as before P010: unchanged for NV12).
pub fn image_layout(format: PixelFormat, width: u32, height: u32) -> VaResult<FrameLayout> {
    FrameLayout::contiguous(format, width, height.next_multiple_of(2), 16)
        .map_err(|e| va_err!(VA_STATUS_ERROR_RESOLUTION_NOT_SUPPORTED, "image {width}x{height}: {e}"))
}

fn to_u32(v: usize) -> VaResult<u32> {
    u32::try_from(v).map_err(|_| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "layout value {v} exceeds 32 bits"))
}

/// The VAImage describing `layout` for a `width`×`height` picture in buffer
/// `buf` of `data_size` bytes (image ID left 0). Pitches and offsets in bytes.
pub fn va_image(layout: &FrameLayout, width: u32, height: u32, buf: ffi::VABufferID, data_size: u32) -> VaResult<ffi::VAImage> {
    let mut image = ffi::VAImage {
        format: image_format(layout.format),
        buf,
        width: width as u16,
        height: height as u16,
        data_size,
        num_planes: layout.planes().len() as u32,
        ..Default::default()
    };
    for (i, p) in layout.planes().iter().enumerate() {
        image.pitches[i] = to_u32(p.pitch)?;
        image.offsets[i] = to_u32(p.offset)?;
    }
    Ok(image)
}

/// The DRM PRIME descriptor exporting `layout` (one dma-buf `fd` of
/// `object_size` bytes): one composed layer (NV12 / P010) or, with
/// `separate_layers`, one layer per plane (R8 + GR88 / R16 + GR1616).
pub fn prime_descriptor(
    layout: &FrameLayout,
    width: u32,
    height: u32,
    fd: i32,
    object_size: u32,
    modifier: u64,
    separate_layers: bool,
) -> VaResult<ffi::VADRMPRIMESurfaceDescriptor> {
    let mut d = ffi::VADRMPRIMESurfaceDescriptor { fourcc: layout.va_fourcc(), width, height, num_objects: 1, ..Default::default() };
    d.objects[0].fd = fd;
    d.objects[0].size = object_size;
    d.objects[0].drm_format_modifier = modifier;
    let planes = layout.planes();
    if separate_layers {
        d.num_layers = planes.len() as u32;
        for (i, p) in planes.iter().enumerate() {
            let fmt = layout
                .format
                .plane_drm_fourcc(i)
                .ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "no DRM format for plane {i}"))?;
            d.layers[i].drm_format = fmt as u32;
            d.layers[i].num_planes = 1;
            d.layers[i].object_index[0] = 0;
            d.layers[i].offset[0] = to_u32(p.offset)?;
            d.layers[i].pitch[0] = to_u32(p.pitch)?;
        }
    } else {
        d.num_layers = 1;
        d.layers[0].drm_format = layout.drm_fourcc() as u32;
        d.layers[0].num_planes = planes.len() as u32;
        for (i, p) in planes.iter().enumerate() {
            d.layers[0].object_index[i] = 0;
            d.layers[0].offset[i] = to_u32(p.offset)?;
            d.layers[0].pitch[i] = to_u32(p.pitch)?;
        }
    }
    Ok(d)
}

impl Driver {
    pub fn create_image(&self, format: &ffi::VAImageFormat, width: u32, height: u32) -> VaResult<ffi::VAImage> {
        let Some(pf) = decoded_format(format.fourcc) else {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_IMAGE_FORMAT, "image fourcc {:#x} not supported", format.fourcc));
        };
        if width == 0 || height == 0 || width > super::MAX_WIDTH || height > super::MAX_HEIGHT {
            return Err(va_err!(VA_STATUS_ERROR_RESOLUTION_NOT_SUPPORTED, "image size {width}x{height}"));
        }
        let layout = image_layout(pf, width, height)?;
        let size = to_u32(layout.buffer_size(0).unwrap_or(0))?;
        let buf = self.create_buffer(ffi::VAImageBufferType, size, 1, None)?;
        let image = match va_image(&layout, width, height, buf, size) {
            Ok(mut i) => {
                i.format = *format;
                i
            }
            Err(e) => {
                let _ = self.destroy_buffer(buf);
                return Err(e);
            }
        };
        self.insert_image(image)
    }

    fn insert_image(&self, mut image: ffi::VAImage) -> VaResult<ffi::VAImage> {
        let buf = image.buf;
        let spare = lock(&self.spare_images).pop();
        let obj = match spare {
            Some(obj) => {
                lock(&obj).image = image;
                obj
            }
            None => Arc::new(Mutex::new(Image { image })),
        };
        let id = self.images.insert_arc(obj).ok_or_else(|| {
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
        // Kept for the next image when nothing else holds it.
        if Arc::strong_count(&img) == 1 {
            let mut spares = lock(&self.spare_images);
            if spares.len() < super::SPARE_IMAGES {
                spares.push(img);
            }
        }
        self.destroy_buffer(buf)
    }

    /// Zero-copy image over the slot holding `surface`'s picture.
    pub fn derive_image(&self, surface: u32) -> VaResult<ffi::VAImage> {
        let (s_w, s_h, s_fourcc) = {
            let s = self.surface(surface)?;
            let s = lock(&s);
            (s.width, s.height, s.fourcc)
        };
        let Some((ctx, slot)) = self.picture_slot(surface)? else {
            // No context yet (FFmpeg probes vaDeriveImage right after creating
            // its surfaces): a correctly described NV12 / P010 image over driver
            // memory. It does not follow later decodes, as no picture exists yet.
            let pf =
                decoded_format(s_fourcc).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_IMAGE_FORMAT, "surface fourcc {s_fourcc:#x}"))?;
            let fmt = image_format(pf);
            return self.create_image(&fmt, s_w, s_h);
        };
        let tiled = tiled_layout(lock(&ctx).capture_format());
        if let Some(t) = tiled {
            // Tiled: a detiled copy, an image of its own (writes to it are
            // not written back); see docs/design.md.
            t?;
            drop(ctx);
            return self.derive_copy(surface, s_w, s_h);
        }
        let layout = {
            let mut g = lock(&ctx);
            let layout = slot_layout(g.capture_format())?;
            let size = layout.buffer_size(0).unwrap_or(0);
            if g.slot_bytes(slot).map(|b| b.len()).unwrap_or(0) < size {
                return Err(va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "slot {} is not mapped", slot.0));
            }
            // A view may be read for a while: recycle this slot last.
            g.mark_exported(slot);
            layout
        };
        let size = layout.buffer_size(0).unwrap_or(0);
        let mut image = va_image(&layout, s_w, s_h, 0, to_u32(size)?)?;
        let buf = Buffer {
            buf_type: ffi::VAImageBufferType,
            element_size: image.data_size,
            num_elements: 1,
            store: BufferStore::Derived { context: ctx, slot },
            map_count: 0,
        };
        let buf_id = self.insert_view_buffer(buf)?;
        image.buf = buf_id;
        self.insert_image(image)
    }

    /// vaDeriveImage of a tiled picture: a new NV12 image holding a detiled copy.
    fn derive_copy(&self, surface: u32, width: u32, height: u32) -> VaResult<ffi::VAImage> {
        let image = self.create_image(&image_format(PixelFormat::Nv12), width, height)?;
        if let Err(e) = self.get_image(surface, 0, 0, width, height, image.image_id) {
            let _ = self.destroy_image(image.image_id);
            return Err(e);
        }
        Ok(image)
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
        // A surface without a context may own a frame (an early export or a
        // vaPutImage gave it one): read that; otherwise it has nothing to read.
        let has_context = {
            let s = self.surface(surface)?;
            let g = lock(&s);
            g.context.is_some() || g.own_frame.is_none()
        };
        if has_context {
            let (ctx, slot) = self.decoded_slot(surface)?;
            let ctx = lock(&ctx);
            if let Some(t) = tiled_layout(ctx.capture_format()) {
                let src =
                    ctx.slot_planes(slot).ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "slot {} is not mapped", slot.0))?;
                return self.detile_out(&image, &t?, &src, width, height);
            }
            let layout = slot_layout(ctx.capture_format())?;
            let src = ctx.slot_bytes(slot).ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "slot {} is not mapped", slot.0))?;
            self.copy_out(&image, &layout, src, width, height)
        } else {
            let s = self.surface(surface)?;
            let g = lock(&s);
            let own =
                g.own_frame.as_ref().ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_SURFACE, "surface {surface:#x}: own frame vanished"))?;
            if let Some(t) = tiled_layout(&own.format) {
                // Every memory plane of the frame (MM21: luma and chroma buffers).
                let src = own
                    .frame
                    .planes_bytes()
                    .ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "surface {surface:#x}: frame not mapped"))?;
                return self.detile_out(&image, &t?, &src, width, height);
            }
            let layout = slot_layout(&own.format)?;
            let src =
                own.frame.bytes().ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "surface {surface:#x}: frame not mapped"))?;
            self.copy_out(&image, &layout, src, width, height)
        }
    }

    /// Detile the top-left `width`x`height` of a tiled picture (its buffers
    /// `src`) into the linear NV12 `image`.
    fn detile_out(&self, image: &ffi::VAImage, layout: &TiledLayout, src: &[&[u8]], width: u32, height: u32) -> VaResult<()> {
        let (width, height) = (width.min(layout.width), height.min(layout.height));
        self.fill_image(
            image,
            ffi::VA_FOURCC_NV12,
            || format!("{} (tiled NV12)", layout.format.name()),
            |dst| {
                crate::tiling::detile_nv12(layout, src, width, height, &mut [dst], &image_planes(image))
                    .map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_IMAGE, "detile {}: {e}", layout.format.name()))
            },
        )
    }

    /// vaGetImage's writing end: `image` must be of the picture's VA fourcc
    /// (`fourcc`, named by `picture` in the error; no conversion) and own its
    /// buffer (not a derived image); `fill` gets that buffer's bytes, locked.
    fn fill_image(
        &self,
        image: &ffi::VAImage,
        fourcc: u32,
        picture: impl FnOnce() -> String,
        fill: impl FnOnce(&mut [u8]) -> VaResult<()>,
    ) -> VaResult<()> {
        if image.format.fourcc != fourcc {
            return Err(va_err!(
                VA_STATUS_ERROR_INVALID_IMAGE_FORMAT,
                "vaGetImage of a {} picture into a {} image (no conversion)",
                picture(),
                crate::v4l2::fourcc_to_string(image.format.fourcc)
            ));
        }
        let buf = self.buffer(image.buf)?;
        let mut buf = lock(&buf);
        let BufferStore::Owned(dst) = &mut buf.store else {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_IMAGE, "vaGetImage into a derived image"));
        };
        fill(&mut dst[..])
    }

    /// vaPutImage into a tiled picture (buffers `planes`): detile it whole,
    /// copy the rectangle into that linear copy, tile it back.
    fn put_tiled(&self, image: &ffi::VAImage, src: Rect, planes: &mut [&mut [u8]], layout: &TiledLayout, dst: Rect) -> VaResult<()> {
        let lin = FrameLayout::contiguous(PixelFormat::Nv12, layout.width, layout.height, 1)
            .map_err(|e| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "linear copy of a {}: {e}", layout.format.name()))?;
        let mut tmp = vec![0u8; lin.buffer_size(0).unwrap_or(0)];
        let lp = |i: usize| lin.plane(i).map(|p| LinearPlane { buffer: 0, offset: p.offset, pitch: p.pitch }).unwrap_or_default();
        let lin_planes = [lp(0), lp(1)];
        let err =
            |e: crate::tiling::TilingError| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "vaPutImage into a {}: {e}", layout.format.name());
        {
            let srcs: Vec<&[u8]> = planes.iter().map(|p| &**p).collect();
            crate::tiling::detile_nv12(layout, &srcs, layout.width, layout.height, &mut [&mut tmp[..]], &lin_planes).map_err(err)?;
        }
        self.copy_rect(image, src, &mut tmp, &lin, dst)?;
        crate::tiling::tile_nv12(layout, planes, layout.width, layout.height, &[&tmp[..]], &lin_planes).map_err(err)
    }

    /// Copy the top-left `width`x`height` of a frame laid out as `layout` into `image`.
    fn copy_out(&self, image: &ffi::VAImage, layout: &FrameLayout, src: &[u8], width: u32, height: u32) -> VaResult<()> {
        let (width, height) = (width.min(layout.width), height.min(layout.height));
        let fourcc = layout.va_fourcc();
        self.fill_image(
            image,
            fourcc,
            || crate::v4l2::fourcc_to_string(fourcc),
            |dst| {
                if let Some(n) = one_span(layout, image, width, height) {
                    // Laid out alike in both: the picture is one span, one copy.
                    let src = src.get(..n).ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "short slot"))?;
                    let dst = dst.get_mut(..n).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_IMAGE, "short image"))?;
                    dst.copy_from_slice(src);
                    return Ok(());
                }
                let format = layout.format;
                for (p, plane) in layout.planes().iter().enumerate() {
                    let rows = format.plane_rows(p, height).unwrap_or(0).min(plane.rows);
                    let row_bytes = format.plane_row_bytes(p, width).unwrap_or(0).min(plane.row_bytes);
                    let d_off = image.offsets[p] as usize;
                    let src_plane = src.get(plane.offset..).ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "short slot"))?;
                    let dst_plane = dst.get_mut(d_off..).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_IMAGE, "short image"))?;
                    let d_pitch = image.pitches[p] as usize;
                    // Rows as wide as the image: the bytes up to its pitch are padding
                    // (may be overwritten, so equal pitches are one copy per plane).
                    let whole_rows = row_bytes >= format.plane_row_bytes(p, image.width as u32).unwrap_or(usize::MAX);
                    let copy = if whole_rows { crate::format::copy_plane_over_padding } else { crate::format::copy_plane };
                    copy(src_plane, plane.pitch, dst_plane, d_pitch, row_bytes, rows)
                        .map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_IMAGE, "copy plane {p}: {e}"))?;
                }
                Ok(())
            },
        )
    }

    /// Copy a rectangle of `image` into `surface` (vaPutImage): the same pixel
    /// format (NV12 or P010), no scaling, even offsets (4:2:0 chroma). The
    /// surface's memory is written where its pictures live: its CAPTURE slot
    /// (reserved first if it was never decoded) or its own frame.
    pub fn put_image(&self, surface: u32, image_id: u32, src: Rect, dst: Rect) -> VaResult<()> {
        let image = self.image(image_id)?;
        let (s_w, s_h) = {
            let s = self.surface(surface)?;
            let s = lock(&s);
            (s.width, s.height)
        };
        if (src.w, src.h) != (dst.w, dst.h) {
            return Err(va_err!(
                VA_STATUS_ERROR_INVALID_PARAMETER,
                "vaPutImage {}x{} -> {}x{}: scaling is not supported",
                src.w,
                src.h,
                dst.w,
                dst.h
            ));
        }
        src.check_within(image.width as u32, image.height as u32, "image")?;
        dst.check_within(s_w, s_h, "surface")?;
        if src.w == 0 || src.h == 0 {
            return Ok(());
        }
        if self.place_contextless(surface)? {
            let (ctx, slot) = self
                .picture_slot(surface)?
                .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_SURFACE, "surface {surface:#x} lost its context"))?;
            let mut g = lock(&ctx);
            if let Some(t) = tiled_layout(g.capture_format()) {
                let t = t?;
                let mut planes =
                    g.slot_planes_mut(slot).ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "slot {} is not mapped", slot.0))?;
                return self.put_tiled(&image, src, &mut planes, &t, dst);
            }
            let layout = slot_layout(g.capture_format())?;
            let dst_bytes =
                g.slot_bytes_mut(slot).ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "slot {} is not mapped", slot.0))?;
            self.copy_rect(&image, src, dst_bytes, &layout, dst)
        } else {
            let s = self.surface(surface)?;
            let mut g = lock(&s);
            let own = g
                .own_frame
                .as_mut()
                .ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "surface {surface:#x}: own frame vanished"))?;
            if let Some(t) = tiled_layout(&own.format) {
                let t = t?;
                let mut planes = own
                    .frame
                    .planes_bytes_mut()
                    .ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "surface {surface:#x}: frame not mapped"))?;
                return self.put_tiled(&image, src, &mut planes, &t, dst);
            }
            let layout = slot_layout(&own.format)?;
            let dst_bytes =
                own.frame.bytes_mut().ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "surface {surface:#x}: frame not mapped"))?;
            self.copy_rect(&image, src, dst_bytes, &layout, dst)
        }
    }

    /// Copy rectangle `src` of `image` to rectangle `dst` of a frame laid out as `layout`.
    fn copy_rect(&self, image: &ffi::VAImage, src: Rect, dst_bytes: &mut [u8], layout: &FrameLayout, dst: Rect) -> VaResult<()> {
        if image.format.fourcc != layout.va_fourcc() {
            return Err(va_err!(
                VA_STATUS_ERROR_INVALID_IMAGE_FORMAT,
                "vaPutImage of a {} image into a {} surface (no conversion)",
                crate::v4l2::fourcc_to_string(image.format.fourcc),
                crate::v4l2::fourcc_to_string(layout.va_fourcc())
            ));
        }
        let buf = self.buffer(image.buf)?;
        let buf = lock(&buf);
        let src_bytes = buf.bytes().ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_IMAGE, "vaPutImage from a derived image"))?;
        let format = layout.format;
        for (p, plane) in layout.planes().iter().enumerate() {
            let sub = if p == 0 { 1 } else { 2 };
            let rows = format.plane_rows(p, src.h).unwrap_or(0);
            let row_bytes = format.plane_row_bytes(p, src.w).unwrap_or(0);
            let s_pitch = image.pitches[p] as usize;
            let s_off = image.offsets[p] as usize + (src.y as usize / sub) * s_pitch + format.plane_row_bytes(p, src.x as u32).unwrap_or(0);
            let d_off = plane.offset + (dst.y as usize / sub) * plane.pitch + format.plane_row_bytes(p, dst.x as u32).unwrap_or(0);
            let s_plane = src_bytes.get(s_off..).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_IMAGE, "short image"))?;
            let d_plane = dst_bytes.get_mut(d_off..).ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "short frame"))?;
            crate::format::copy_plane(s_plane, s_pitch, d_plane, plane.pitch, row_bytes, rows)
                .map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_IMAGE, "vaPutImage plane {p}: {e}"))?;
        }
        Ok(())
    }

    /// vaCreateSurfaces2 with a DRM PRIME 2 descriptor (Chromium's path): one
    /// surface over the application's dma-buf (`fd`, a duplicate the driver
    /// owns). Its pictures are decoded into that buffer, so its layout must be
    /// one the decoder writes: checked here against the CAPTURE format a
    /// context of this size negotiates, and again when a context adopts it.
    pub fn import_surface(
        &self,
        width: u32,
        height: u32,
        rt_format: u32,
        fourcc: Option<u32>,
        desc: &ffi::VADRMPRIMESurfaceDescriptor,
        fd: std::os::fd::OwnedFd,
    ) -> VaResult<u32> {
        use drm_fourcc::DrmFourcc as D;
        let bad = |why: String| va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "import of a {width}x{height} surface: {why}");
        let va_fourcc = crate::driver::surface_fourcc(rt_format, fourcc.or(Some(desc.fourcc)), self.any_ten_bit())?;
        if desc.fourcc != va_fourcc {
            return Err(bad(format!(
                "descriptor fourcc {} for {} surfaces",
                crate::v4l2::fourcc_to_string(desc.fourcc),
                crate::v4l2::fourcc_to_string(va_fourcc)
            )));
        }
        if desc.num_objects != 1 {
            return Err(bad(format!("{} objects (one dma-buf holding both planes is needed)", desc.num_objects)));
        }
        let num_layers = desc.num_layers as usize;
        if num_layers == 0 || num_layers > desc.layers.len() {
            return Err(bad(format!("{num_layers} layers")));
        }
        let mut planes = Vec::with_capacity(2);
        let mut formats = Vec::with_capacity(2);
        for layer in &desc.layers[..num_layers] {
            let n = layer.num_planes as usize;
            if n == 0 || n > layer.offset.len() {
                return Err(bad(format!("a layer with {n} planes")));
            }
            formats.push(layer.drm_format);
            for p in 0..n {
                if layer.object_index[p] != 0 {
                    return Err(bad(format!("plane in object {}", layer.object_index[p])));
                }
                planes.push((layer.offset[p], layer.pitch[p]));
            }
        }
        let (nv12, p010) = ((D::Nv12 as u32, [D::R8 as u32, D::Gr88 as u32]), (D::P010 as u32, [D::R16 as u32, D::Gr1616 as u32]));
        let (composed, separate) = if va_fourcc == ffi::VA_FOURCC_P010 { p010 } else { nv12 };
        if !(formats == [composed] || formats == separate) || planes.len() != 2 {
            return Err(bad(format!("DRM formats {formats:x?} with {} planes", planes.len())));
        }
        let v4l2_fourcc = super::frames::capture_fourcc_for(va_fourcc == ffi::VA_FOURCC_P010);
        let layout = super::frames::ImportLayout {
            fourcc: v4l2_fourcc,
            size: desc.objects[0].size,
            planes: [planes[0], planes[1]],
            modifier: desc.objects[0].drm_format_modifier,
        };
        let format = super::frames::import_format(&layout, width, height).map_err(bad)?;
        // The decoder's own layout for such pictures (as a context would negotiate it).
        let ten_bit = va_fourcc == ffi::VA_FOURCC_P010;
        let (node, coded) = self.frame_origin(va_fourcc)?;
        let device = super::frames::FrameSource::open(&*self.opener, node, coded, width, height, ten_bit)?;
        let d = device.format();
        if d.num_planes != 1 || tiled_layout(d).is_some() {
            // MM21 (two buffers), NV12_32L32, NV12_4L4: not a layout an application's linear buffer has.
            return Err(bad(format!(
                "the decoder writes {} in {} buffer(s) here; only a linear single-buffer NV12/P010 layout is imported",
                crate::v4l2::fourcc_to_string(d.fourcc),
                d.num_planes
            )));
        }
        if !super::frames::frame_fits(&format, &[layout.size as usize], device.format()) {
            let d = device.format();
            return Err(bad(format!(
                "pitch {}, chroma after {} rows, {} bytes; the decoder writes pitch {}, chroma after {} rows, {} bytes",
                format.bytesperline[0], format.height, layout.size, d.bytesperline[0], d.height, d.sizeimage[0]
            )));
        }
        let frame = crate::v4l2::Frame::new(fd, layout.size as usize);
        let own = super::frames::OwnFrame { frame, format, imported: true };
        self.create_surface_with(width, height, rt_format, va_fourcc, own)
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
        let separate = flags & ffi::VA_EXPORT_SURFACE_SEPARATE_LAYERS != 0;
        let (layout, fd, size) = if self.place_contextless(surface)? {
            // Waits for the pending decode first (Firefox exports before it syncs).
            let (ctx, slot) = self.decoded_slot(surface)?;
            let mut g = lock(&ctx);
            let layout = picture_layout(g.capture_format())?;
            if let SlotLayout::Tiled(t) = &layout {
                check_tiled_export(t)?;
                if t.num_buffers() > 1 {
                    // MM21: one dma-buf per plane.
                    let objects = g.export_slot_planes(slot)?;
                    g.note_export(surface, slot, !separate);
                    drop(g);
                    return tiled_export(t, s_w, s_h, objects, separate);
                }
            }
            let (fd, size) = g.export_slot(slot)?;
            g.note_export(surface, slot, !separate);
            (layout, fd, size)
        } else {
            // No context yet: the surface's own frame, which the context that
            // first decodes into the surface adopts (see super::frames).
            let s = self.surface(surface)?;
            let g = lock(&s);
            let own = g
                .own_frame
                .as_ref()
                .ok_or_else(|| va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "surface {surface:#x}: own frame vanished"))?;
            let layout = picture_layout(&own.format)?;
            let dup = |fd: std::os::fd::BorrowedFd<'_>| {
                fd.try_clone_to_owned().map_err(|e| va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "duplicate dma-buf fd: {e}"))
            };
            if let SlotLayout::Tiled(t) = &layout {
                check_tiled_export(t)?;
                if t.num_buffers() > 1 {
                    // MM21: one object per dma-buf of the frame, as for a slot.
                    let objects = own
                        .frame
                        .fds()
                        .zip(own.frame.lens())
                        .map(|(fd, &len)| Ok((dup(fd)?, to_u32(len)?)))
                        .collect::<VaResult<Vec<_>>>()?;
                    drop(g);
                    return tiled_export(t, s_w, s_h, objects, separate);
                }
            }
            (layout, dup(own.frame.fd())?, to_u32(own.frame.len())?)
        };
        let layout = match layout {
            SlotLayout::Linear(l) => l,
            SlotLayout::Tiled(t) => return tiled_export(&t, s_w, s_h, vec![(fd, size)], separate),
        };
        let pitch = layout.plane(0).map(|p| p.pitch).unwrap_or(0);
        let modifier = crate::format::export_modifier(to_u32(pitch)?, crate::settings::settings().export_align);
        // The fd stays owned (closed on error) until the descriptor is complete.
        let mut d = prime_descriptor(&layout, s_w, s_h, -1, size, modifier, separate)?;
        d.objects[0].fd = fd.into_raw_fd();
        Ok(d)
    }
}

/// A rectangle of vaPutImage (source or destination).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    /// Inside a `width`x`height` picture, at an even offset (4:2:0 chroma).
    fn check_within(self, width: u32, height: u32, what: &str) -> VaResult<()> {
        let inside = self.x >= 0
            && self.y >= 0
            && (self.x as u64 + self.w as u64) <= width as u64
            && (self.y as u64 + self.h as u64) <= height as u64;
        if !inside {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "rectangle {self:?} outside the {width}x{height} {what}"));
        }
        if self.x % 2 != 0 || self.y % 2 != 0 {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_PARAMETER, "rectangle {self:?} at an odd offset (4:2:0 chroma)"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v4l2::{V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_P010};

    fn cf(fourcc: u32, width: u32, height: u32, bpl: u32, size: u32) -> CaptureFormat {
        CaptureFormat { fourcc, width, height, bytesperline: [bpl, 0, 0], sizeimage: [size, 0, 0], num_planes: 1 }
    }

    #[test]
    fn formats_offered() {
        let f = image_formats();
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].fourcc, f[0].bits_per_pixel), (ffi::VA_FOURCC_NV12, 12));
        assert_eq!((f[1].fourcc, f[1].bits_per_pixel, f[1].byte_order), (ffi::VA_FOURCC_P010, 24, ffi::VA_LSB_FIRST));
        assert_eq!(decoded_format(ffi::VA_FOURCC_P010), Some(PixelFormat::P010));
        assert_eq!(decoded_format(ffi::VA_FOURCC_YV12), None);
    }

    #[test]
    fn p010_slot_layout_has_two_bytes_per_sample() {
        // 176x144 P010: pitch 352 bytes, CbCr at 352 * 144, 72 rows of 352 bytes.
        let l = slot_layout(&cf(V4L2_PIX_FMT_P010, 176, 144, 352, 352 * 144 * 3 / 2)).unwrap();
        assert_eq!(l.format, PixelFormat::P010);
        let (y, c) = (l.plane(0).unwrap(), l.plane(1).unwrap());
        assert_eq!((y.offset, y.pitch, y.rows, y.row_bytes), (0, 352, 144, 352));
        assert_eq!((c.offset, c.pitch, c.rows, c.row_bytes), (352 * 144, 352, 72, 352));
        // A pitch of one byte per sample is too small for P010.
        assert!(slot_layout(&cf(V4L2_PIX_FMT_P010, 176, 144, 176, 176 * 144 * 3 / 2)).is_err());
        // sizeimage too small for the chroma plane.
        assert!(slot_layout(&cf(V4L2_PIX_FMT_P010, 176, 144, 352, 352 * 144)).is_err());
        // NV12 unchanged: chroma at pitch * height.
        let l = slot_layout(&cf(V4L2_PIX_FMT_NV12, 864, 480, 864, 864 * 480 * 3 / 2)).unwrap();
        assert_eq!((l.plane(1).unwrap().offset, l.plane(1).unwrap().pitch), (864 * 480, 864));
        // Multi-buffer and other formats: not handled.
        let mut m = cf(V4L2_PIX_FMT_NV12, 64, 64, 64, 64 * 64);
        m.num_planes = 2;
        assert!(slot_layout(&m).is_err());
        assert!(slot_layout(&cf(crate::v4l2::V4L2_PIX_FMT_NV15, 64, 64, 80, 80 * 96)).is_err());
    }

    #[test]
    fn whole_pictures_laid_out_alike_are_one_span() {
        // visl's 1280x720 NV12: chroma right after luma in the slot and the image.
        let l = slot_layout(&cf(V4L2_PIX_FMT_NV12, 1280, 720, 1280, 1280 * 720 * 3 / 2)).unwrap();
        let img = va_image(&l, 1280, 720, 1, 1280 * 720 * 3 / 2).unwrap();
        assert_eq!(one_span(&l, &img, 1280, 720), Some(1280 * 720 * 3 / 2));
        // Part of the image: per plane.
        assert_eq!(one_span(&l, &img, 1280, 700), None);
        // A shorter image with the frame's plane offsets: the rows between its
        // planes are its padding.
        let cropped = va_image(&l, 1280, 700, 1, 1280 * 720 * 3 / 2).unwrap();
        assert_eq!(one_span(&l, &cropped, 1280, 700), Some(1280 * 720 + 1280 * 350));
        // Another pitch in the image.
        let mut other = img;
        other.pitches[1] = 1536;
        assert_eq!(one_span(&l, &other, 1280, 720), None);
        // Row padding up to 1/16 is copied along; more is not.
        let l = slot_layout(&cf(V4L2_PIX_FMT_NV12, 1280, 720, 1344, 1344 * 720 * 3 / 2)).unwrap();
        let img = va_image(&l, 1280, 720, 1, 1344 * 720 * 3 / 2).unwrap();
        assert_eq!(one_span(&l, &img, 1280, 720), Some(1344 * 1079 + 1280));
        let l = slot_layout(&cf(V4L2_PIX_FMT_NV12, 1280, 720, 2048, 2048 * 720 * 3 / 2)).unwrap();
        let img = va_image(&l, 1280, 720, 1, 2048 * 720 * 3 / 2).unwrap();
        assert_eq!(one_span(&l, &img, 1280, 720), None);
    }

    #[test]
    fn va_image_from_a_p010_layout() {
        let l = slot_layout(&cf(V4L2_PIX_FMT_P010, 192, 160, 384, 384 * 160 * 3 / 2)).unwrap();
        let img = va_image(&l, 176, 144, 7, 384 * 160 * 3 / 2).unwrap();
        assert_eq!(img.format.fourcc, ffi::VA_FOURCC_P010);
        assert_eq!(img.format.bits_per_pixel, 24);
        assert_eq!((img.width, img.height, img.num_planes, img.buf), (176, 144, 2, 7));
        assert_eq!(img.pitches, [384, 384, 0]);
        assert_eq!(img.offsets, [0, 384 * 160, 0]);
        assert_eq!(img.data_size, 384 * 160 * 3 / 2);
    }

    #[test]
    fn driver_images_keep_the_nv12_layout_and_double_p010_pitches() {
        let n = image_layout(PixelFormat::Nv12, 175, 143).unwrap();
        // As before: pitch = width rounded to 16, chroma after an even row count.
        assert_eq!(n.plane(0).unwrap().pitch, 176);
        assert_eq!(n.plane(1).unwrap().offset, 176 * 144);
        assert_eq!(n.buffer_size(0), Some(176 * 144 * 3 / 2));
        let p = image_layout(PixelFormat::P010, 175, 143).unwrap();
        assert_eq!(p.plane(0).unwrap().pitch, 352);
        assert_eq!((p.plane(1).unwrap().offset, p.plane(1).unwrap().pitch), (352 * 144, 352));
        assert_eq!(p.buffer_size(0), Some(352 * 144 * 3 / 2));
    }

    #[test]
    fn prime_descriptors_for_p010() {
        let l = slot_layout(&cf(V4L2_PIX_FMT_P010, 176, 144, 384, 384 * 144 * 3 / 2)).unwrap();
        let size = 384 * 144 * 3 / 2;
        let d = prime_descriptor(&l, 176, 144, 5, size, crate::format::DRM_FORMAT_MOD_LINEAR, false).unwrap();
        assert_eq!(d.fourcc, ffi::VA_FOURCC_P010);
        assert_eq!((d.width, d.height, d.num_objects, d.num_layers), (176, 144, 1, 1));
        assert_eq!((d.objects[0].fd, d.objects[0].size), (5, size));
        assert_eq!(d.layers[0].drm_format, drm_fourcc::DrmFourcc::P010 as u32);
        assert_eq!(d.layers[0].num_planes, 2);
        assert_eq!(d.layers[0].offset[..2], [0, 384 * 144]);
        assert_eq!(d.layers[0].pitch[..2], [384, 384]);
        assert_eq!(d.layers[0].object_index[..2], [0, 0]);

        let d = prime_descriptor(&l, 176, 144, 5, size, crate::format::DRM_FORMAT_MOD_INVALID, true).unwrap();
        assert_eq!(d.num_layers, 2);
        assert_eq!(d.objects[0].drm_format_modifier, crate::format::DRM_FORMAT_MOD_INVALID);
        assert_eq!(d.layers[0].drm_format, drm_fourcc::DrmFourcc::R16 as u32);
        assert_eq!(d.layers[1].drm_format, drm_fourcc::DrmFourcc::Gr1616 as u32);
        for (i, off) in [0, 384 * 144].into_iter().enumerate() {
            assert_eq!((d.layers[i].num_planes, d.layers[i].offset[0], d.layers[i].pitch[0]), (1, off, 384));
        }
    }

    fn tiled(fourcc: u32, width: u32, height: u32, planes: &[(u32, u32)]) -> CaptureFormat {
        let mut c = cf(fourcc, width, height, 0, 0);
        c.num_planes = planes.len();
        for (i, &(bpl, size)) in planes.iter().enumerate() {
            c.bytesperline[i] = bpl;
            c.sizeimage[i] = size;
        }
        c
    }

    #[test]
    fn tiled_capture_formats_get_tiled_layouts() {
        use crate::v4l2::{V4L2_PIX_FMT_MM21, V4L2_PIX_FMT_NV12_32L32, V4L2_PIX_FMT_NV12_4L4};
        // cedrus 176x144: width and height aligned to 32, chroma at 192 * 160.
        let st12 = tiled(V4L2_PIX_FMT_NV12_32L32, 192, 160, &[(192, 192 * 160 + 192 * 96)]);
        let SlotLayout::Tiled(t) = picture_layout(&st12).unwrap() else { panic!("not tiled") };
        assert_eq!((t.planes()[1].offset, t.planes()[1].pitch), (192 * 160, 192));
        // Linear formats keep their FrameLayout.
        let nv12 = cf(V4L2_PIX_FMT_NV12, 176, 144, 176, 176 * 144 * 3 / 2);
        assert_eq!(picture_layout(&nv12).unwrap(), SlotLayout::Linear(slot_layout(&nv12).unwrap()));
        assert!(tiled_layout(&nv12).is_none());
        // A height that is not whole tiles (visl): chroma after the last whole luma tile row,
        // if the buffer holds it.
        let visl = tiled(V4L2_PIX_FMT_NV12_32L32, 176, 144, &[(192, 192 * 160 + 192 * 96)]);
        let SlotLayout::Tiled(v) = picture_layout(&visl).unwrap() else { panic!("not tiled") };
        assert_eq!((v.height, v.planes()[1].offset), (160, 192 * 160));
        let short = tiled(V4L2_PIX_FMT_NV12_32L32, 176, 144, &[(192, 192 * 144 * 3 / 2)]);
        assert!(picture_layout(&short).is_err());
        // 4L4 and MM21 layouts.
        let vt12 = tiled(V4L2_PIX_FMT_NV12_4L4, 176, 144, &[(176, 176 * 144 * 3 / 2)]);
        assert!(matches!(picture_layout(&vt12), Ok(SlotLayout::Tiled(_))));
        let mm21 = tiled(V4L2_PIX_FMT_MM21, 192, 192, &[(192, 192 * 192), (192, 192 * 96)]);
        let SlotLayout::Tiled(m) = picture_layout(&mm21).unwrap() else { panic!("not tiled") };
        assert_eq!(m.num_buffers(), 2);
    }

    #[test]
    fn tiled_exports_carry_the_modifier_or_are_refused() {
        use crate::v4l2::{V4L2_PIX_FMT_MM21, V4L2_PIX_FMT_NV12_32L32, V4L2_PIX_FMT_NV12_4L4};
        let size = 192 * 160 + 192 * 96;
        let st12 = tiled_layout(&tiled(V4L2_PIX_FMT_NV12_32L32, 192, 160, &[(192, size)])).unwrap().unwrap();
        let d = tiled_prime_descriptor(&st12, 176, 144, &[(9, size)], false).unwrap();
        assert_eq!((d.fourcc, d.width, d.height, d.num_objects, d.num_layers), (ffi::VA_FOURCC_NV12, 176, 144, 1, 1));
        assert_eq!((d.objects[0].fd, d.objects[0].size), (9, size));
        assert_eq!(d.objects[0].drm_format_modifier, crate::tiling::DRM_FORMAT_MOD_ALLWINNER_TILED);
        assert_eq!(d.layers[0].drm_format, drm_fourcc::DrmFourcc::Nv12 as u32);
        assert_eq!(d.layers[0].num_planes, 2);
        assert_eq!(d.layers[0].offset[..2], [0, 192 * 160]);
        assert_eq!(d.layers[0].pitch[..2], [192, 192]);
        let d = tiled_prime_descriptor(&st12, 176, 144, &[(9, size)], true).unwrap();
        assert_eq!(d.num_layers, 2);
        assert_eq!(
            (d.layers[1].drm_format, d.layers[1].offset[0], d.layers[1].pitch[0]),
            (drm_fourcc::DrmFourcc::Gr88 as u32, 192 * 160, 192)
        );
        // No modifier for 4L4.
        let vt12 = tiled_layout(&tiled(V4L2_PIX_FMT_NV12_4L4, 176, 144, &[(176, 176 * 216)])).unwrap().unwrap();
        let e = tiled_prime_descriptor(&vt12, 176, 144, &[(9, 176 * 216)], false).unwrap_err();
        assert_eq!(e.status as u32, ffi::VA_STATUS_ERROR_UNSUPPORTED_MEMORY_TYPE);
        // MM21: two objects, one plane each at offset 0, both with the MTK modifier.
        let mm21 = tiled_layout(&tiled(V4L2_PIX_FMT_MM21, 192, 192, &[(192, 192 * 192), (192, 192 * 96)])).unwrap().unwrap();
        assert!(tiled_prime_descriptor(&mm21, 176, 144, &[(9, 192 * 192)], false).is_err());
        let d = tiled_prime_descriptor(&mm21, 176, 176, &[(9, 192 * 192), (10, 192 * 96)], false).unwrap();
        assert_eq!(d.num_objects, 2);
        assert_eq!((d.objects[0].fd, d.objects[1].fd, d.objects[1].size), (9, 10, 192 * 96));
        assert!(d.objects[..2].iter().all(|o| o.drm_format_modifier == crate::tiling::DRM_FORMAT_MOD_MTK_16L_32S_TILE));
        assert_eq!(d.layers[0].object_index[..2], [0, 1]);
        assert_eq!(d.layers[0].offset[..2], [0, 0]);
        assert_eq!(d.layers[0].pitch[..2], [192, 192]);
    }

    #[test]
    fn prime_descriptors_for_nv12_unchanged() {
        let l = slot_layout(&cf(V4L2_PIX_FMT_NV12, 864, 480, 864, 864 * 480 * 3 / 2)).unwrap();
        // 864 = 13.5 x 64: the modifier rule (luma pitch) says INVALID, as before.
        let m = crate::format::export_modifier(864, 64);
        assert_eq!(m, crate::format::DRM_FORMAT_MOD_INVALID);
        let d = prime_descriptor(&l, 864, 480, 3, 864 * 720, m, false).unwrap();
        assert_eq!((d.fourcc, d.layers[0].drm_format), (ffi::VA_FOURCC_NV12, drm_fourcc::DrmFourcc::Nv12 as u32));
        assert_eq!(d.layers[0].offset[..2], [0, 864 * 480]);
        let d = prime_descriptor(&l, 864, 480, 3, 864 * 720, m, true).unwrap();
        assert_eq!(d.layers[0].drm_format, drm_fourcc::DrmFourcc::R8 as u32);
        assert_eq!(d.layers[1].drm_format, drm_fourcc::DrmFourcc::Gr88 as u32);
        assert_eq!((d.layers[1].offset[0], d.layers[1].pitch[0]), (864 * 480, 864));
    }
}
