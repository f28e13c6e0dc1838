//! Where picture memory comes from: format negotiation shared by contexts and
//! frame allocation, the per-context [`FrameSource`], and [`OwnFrame`], the
//! memory a surface owns before any context decodes into it.
//!
//! Every surface can be exported from its creation (mpv's interop probe,
//! GStreamer's DMABuf allocator and Chromium export before any decode and
//! cache what they got per surface). The buffer handed out then must be the
//! buffer the surface's pictures land in later. Three cases:
//!
//! - the surface is a render target of a context (bound at vaCreateContext):
//!   the context reserves a CAPTURE slot for it and pins the surface there;
//! - the surface has no context, but a live context decodes surfaces of its
//!   size and format (GStreamer creates its context before its surfaces): the
//!   surface is bound to that context, as a render target would be;
//! - otherwise the surface gets an [`OwnFrame`]: a frame allocated from the
//!   decoder's CAPTURE queue on a dedicated handle, with the formats a context
//!   of that size would negotiate. When a context later decodes into the
//!   surface, the context adopts the frame as a new CAPTURE slot
//!   (`V4L2_MEMORY_DMABUF`) pinned to the surface, so the early export shows
//!   the surface's pictures. A frame whose layout the context cannot decode
//!   into is dropped with a warning (the early export then shows no pictures).
//!
//! Formats whose planes are separate V4L2 buffers (MediaTek's `MM21`) are no
//! exception: their frames hold one dma-buf per plane, exported as that many
//! objects, and [`frame_fits`] compares every plane.

use crate::device::{DecoderNode, DeviceOpener};
use crate::driver::error::{VaError, VaResult};
use crate::v4l2::{CaptureFormat, DecoderDevice, Frame};
use crate::va_err;

/// Smallest initial OUTPUT buffer size.
pub const OUTPUT_MIN_SIZE: u32 = 1 << 20;
/// Largest initial OUTPUT buffer size: 3/4 byte per pixel up to this, so an
/// 8K context does not start with 8 x 48 MiB of bitstream buffers; a
/// picture that does not fit grows the buffers (a power of two, once).
pub const OUTPUT_MAX_INITIAL_SIZE: u32 = 4 << 20;

/// The OUTPUT sizeimage a context asks for at `width`x`height`.
pub fn initial_output_size(width: u32, height: u32) -> u32 {
    (width.saturating_mul(height).saturating_mul(3) / 4).clamp(OUTPUT_MIN_SIZE, OUTPUT_MAX_INITIAL_SIZE)
}

fn v4l2_err(what: &str, e: impl std::fmt::Display) -> VaError {
    va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "{what}: {e}")
}

/// V4L2 CAPTURE format of a context: P010 for 10-bit, NV12 otherwise.
pub fn capture_fourcc_for(ten_bit: bool) -> u32 {
    if ten_bit {
        crate::v4l2::V4L2_PIX_FMT_P010
    } else {
        crate::v4l2::V4L2_PIX_FMT_NV12
    }
}

/// Negotiate a session on `node` for `coded_fourcc` at `width`x`height`:
/// S_FMT OUTPUT, the 10-bit sequence control where `ten_bit`, S_FMT CAPTURE
/// of [`DecoderNode::capture_fourcc`] (linear NV12 / P010, or the tiled layout
/// of a node that offers only that, validated by [`crate::tiling`]).
/// Returns the CAPTURE format the device gave (never cached across sessions).
pub fn negotiate_formats(
    session: &mut dyn DecoderDevice,
    node: &DecoderNode,
    coded_fourcc: u32,
    width: u32,
    height: u32,
    ten_bit: bool,
) -> VaResult<CaptureFormat> {
    session
        .set_output_format(coded_fourcc, width, height, initial_output_size(width, height))
        .map_err(|e| v4l2_err("set OUTPUT format", e))?;
    if ten_bit {
        // Devices like hantro derive their CAPTURE formats from the bit depth
        // of the sequence-level control: set a 10-bit one (as the discovery
        // probe did) before asking for P010. Each request then carries the real one.
        let trial = crate::device::tenbit::TrialControl::new(coded_fourcc, width, height).ok_or_else(|| {
            va_err!(VA_STATUS_ERROR_UNSUPPORTED_PROFILE, "no 10-bit decoding for {}", crate::v4l2::fourcc_to_string(coded_fourcc))
        })?;
        session
            .set_controls(&[trial.spec()])
            .map_err(|e| va_err!(VA_STATUS_ERROR_UNSUPPORTED_PROFILE, "10-bit sequence control refused: {e}"))?;
    }
    let fourcc = node.capture_fourcc(coded_fourcc, ten_bit);
    let capture = session.set_capture_format(fourcc, width, height).map_err(|e| v4l2_err("set CAPTURE format", e))?;
    if capture.width < width || capture.height < height {
        return Err(va_err!(
            VA_STATUS_ERROR_RESOLUTION_NOT_SUPPORTED,
            "device gave a {}x{} CAPTURE format for a {width}x{height} stream",
            capture.width,
            capture.height
        ));
    }
    if let Some(tiled) = super::image::tiled_layout(&capture) {
        // A tiled layout the detiler could not walk is refused here, not at the first vaGetImage.
        tiled?;
    }
    Ok(capture)
}

/// Whether a frame allocated with format `frame` (its dma-bufs of `lens`
/// bytes, one per memory plane) can carry the pictures of a context whose
/// CAPTURE format is `ctx`: the same pixel format (linear or tiled), the same
/// memory planes (one buffer, or MM21's two), and per plane the same pitch,
/// the same height (so the same plane offsets) and enough bytes.
pub fn frame_fits(frame: &CaptureFormat, lens: &[usize], ctx: &CaptureFormat) -> bool {
    let n = ctx.num_planes;
    frame.fourcc == ctx.fourcc
        && (1..=crate::v4l2::MAX_FRAME_PLANES).contains(&n)
        && frame.num_planes == n
        && lens.len() == n
        && frame.height == ctx.height
        && (0..n).all(|i| frame.bytesperline[i] == ctx.bytesperline[i] && lens[i] >= ctx.sizeimage[i] as usize)
}

/// A second handle on a decoder with a context's formats, which allocates
/// frames for that context's CAPTURE queue (see [`crate::v4l2::frame`]),
/// one dma-buf per memory plane of that format.
pub struct FrameSource {
    session: Box<dyn DecoderDevice>,
    format: CaptureFormat,
}

impl FrameSource {
    /// Open `node` again (through `opener`) and negotiate the same formats as a context would.
    pub fn open(
        opener: &dyn DeviceOpener,
        node: &DecoderNode,
        coded_fourcc: u32,
        width: u32,
        height: u32,
        ten_bit: bool,
    ) -> VaResult<Self> {
        let mut session = opener.open(node).map_err(|e| v4l2_err("open decoder (frame allocation)", e))?;
        let format = negotiate_formats(&mut *session, node, coded_fourcc, width, height, ten_bit)?;
        Ok(FrameSource { session, format })
    }

    /// The CAPTURE format of the frames this source allocates.
    pub fn format(&self) -> &CaptureFormat {
        &self.format
    }

    /// Allocate `count` frames (one REQBUFS, QUERYBUF + an EXPBUF per memory plane each, REQBUFS 0).
    pub fn allocate(&mut self, count: u32) -> VaResult<Vec<Frame>> {
        self.session.allocate_frames(count).map_err(|e| va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "allocate CAPTURE frames: {e}"))
    }
}

/// Memory a surface owns before a context decodes into it.
pub struct OwnFrame {
    pub frame: Frame,
    /// The CAPTURE format it was allocated with (or its layout, for an import).
    pub format: CaptureFormat,
    /// The application's buffer (vaCreateSurfaces2 with a DRM PRIME 2
    /// descriptor): decoding anywhere else would lose pictures, and the memory
    /// is never reused for another surface.
    pub imported: bool,
}

impl OwnFrame {
    /// Allocate one frame on `node` for `coded_fourcc` at `width`x`height`.
    pub fn allocate(
        opener: &dyn DeviceOpener,
        node: &DecoderNode,
        coded_fourcc: u32,
        width: u32,
        height: u32,
        ten_bit: bool,
    ) -> VaResult<Self> {
        let mut src = FrameSource::open(opener, node, coded_fourcc, width, height, ten_bit)?;
        let frame = src.allocate(1)?.into_iter().next().ok_or_else(|| va_err!(VA_STATUS_ERROR_ALLOCATION_FAILED, "no frame allocated"))?;
        Ok(OwnFrame { frame, format: src.format.clone(), imported: false })
    }
}

/// The layout of an imported buffer (vaCreateSurfaces2 with a DRM PRIME 2
/// descriptor), as plane 0 and plane 1 of one dma-buf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportLayout {
    /// V4L2 pixel format (NV12 or P010).
    pub fourcc: u32,
    /// Bytes of the dma-buf.
    pub size: u32,
    /// (offset, pitch) of the luma and the chroma plane.
    pub planes: [(u32, u32); 2],
    pub modifier: u64,
}

/// The CAPTURE format an import stands for, if its layout is one a decoder
/// writes: linear, both planes one pitch apart in one buffer, luma at 0, chroma
/// right after `height` (or more) luma rows.
pub fn import_format(layout: &ImportLayout, width: u32, height: u32) -> Result<CaptureFormat, String> {
    use crate::format::{DRM_FORMAT_MOD_INVALID, DRM_FORMAT_MOD_LINEAR};
    if layout.modifier != DRM_FORMAT_MOD_LINEAR && layout.modifier != DRM_FORMAT_MOD_INVALID {
        return Err(format!("modifier {:#x} (only linear buffers are decoded into)", layout.modifier));
    }
    let bps = if layout.fourcc == crate::v4l2::V4L2_PIX_FMT_P010 { 2 } else { 1 };
    let [(y_off, pitch), (c_off, c_pitch)] = layout.planes;
    if y_off != 0 || pitch != c_pitch {
        return Err(format!("planes at {y_off}/{c_off}, pitches {pitch}/{c_pitch} (need luma at 0, one pitch)"));
    }
    if pitch == 0 || pitch < width.saturating_mul(bps) || c_off % pitch != 0 || c_off / pitch < height {
        return Err(format!("pitch {pitch}, chroma at {c_off} for {width}x{height}"));
    }
    let rows = c_off / pitch;
    let need = u64::from(c_off) + u64::from(pitch) * u64::from(rows.div_ceil(2));
    if u64::from(layout.size) < need {
        return Err(format!("{} bytes for a buffer that needs {need}", layout.size));
    }
    Ok(CaptureFormat {
        fourcc: layout.fourcc,
        width: pitch / bps,
        height: rows,
        bytesperline: [pitch, 0, 0],
        sizeimage: [layout.size, 0, 0],
        num_planes: 1,
    })
}

/// The coded format whose contexts an own frame imitates: the first of the
/// capability table (H.264 first) that `node` decodes at the wanted depth.
pub fn own_frame_coded_format(node: &DecoderNode, ten_bit: bool) -> Option<u32> {
    super::config::codec_table().iter().map(|row| row.coded_fourcc).find(
        |&f| {
            if ten_bit {
                node.supports_ten_bit(f)
            } else {
                node.supports(f)
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cf(fourcc: u32, bpl: u32, height: u32, size: u32) -> CaptureFormat {
        CaptureFormat { fourcc, width: bpl, height, bytesperline: [bpl, 0, 0], sizeimage: [size, 0, 0], num_planes: 1 }
    }

    #[test]
    fn frames_fit_contexts_of_the_same_layout_only() {
        let nv12 = crate::v4l2::V4L2_PIX_FMT_NV12;
        let p010 = crate::v4l2::V4L2_PIX_FMT_P010;
        let ctx = cf(nv12, 192, 144, 192 * 144 * 3 / 2);
        assert!(frame_fits(&ctx, &[ctx.sizeimage[0] as usize], &ctx));
        // A larger buffer of the same layout still fits.
        assert!(frame_fits(&ctx, &[1 << 20], &ctx));
        // Too small, another pitch, another height (chroma offset), another format.
        assert!(!frame_fits(&ctx, &[100], &ctx));
        assert!(!frame_fits(&cf(nv12, 256, 144, 256 * 216), &[1 << 20], &ctx));
        assert!(!frame_fits(&cf(nv12, 192, 160, 192 * 240), &[1 << 20], &ctx));
        assert!(!frame_fits(&cf(p010, 192, 144, 192 * 216), &[1 << 20], &ctx));
        // Another number of memory planes, or of dma-bufs.
        let mut two = ctx.clone();
        two.num_planes = 2;
        assert!(!frame_fits(&two, &[1 << 20], &ctx));
        assert!(!frame_fits(&ctx, &[1 << 20, 1 << 20], &ctx));
        assert!(!frame_fits(&ctx, &[], &ctx));
    }

    #[test]
    fn two_buffer_frames_fit_when_every_plane_does() {
        // MM21 at 176x144: luma 176x160 (32-row tiles), chroma 176x80.
        let mm21 = crate::v4l2::V4L2_PIX_FMT_MM21;
        let ctx = CaptureFormat {
            fourcc: mm21,
            width: 176,
            height: 160,
            bytesperline: [176, 176, 0],
            sizeimage: [176 * 160, 176 * 80, 0],
            num_planes: 2,
        };
        let lens = [176 * 160, 176 * 80];
        assert!(frame_fits(&ctx, &lens, &ctx));
        assert!(frame_fits(&ctx, &[1 << 20, 1 << 20], &ctx));
        // A short chroma buffer, a short luma one, one dma-buf for two planes.
        assert!(!frame_fits(&ctx, &[lens[0], lens[1] - 1], &ctx));
        assert!(!frame_fits(&ctx, &[lens[0] - 1, lens[1]], &ctx));
        assert!(!frame_fits(&ctx, &[1 << 20], &ctx));
        // Another chroma pitch, another height, a single-buffer frame of the same fourcc.
        let mut other = ctx.clone();
        other.bytesperline[1] = 192;
        assert!(!frame_fits(&other, &lens, &ctx));
        let mut other = ctx.clone();
        other.height = 192;
        assert!(!frame_fits(&other, &lens, &ctx));
        let mut one = ctx.clone();
        one.num_planes = 1;
        assert!(!frame_fits(&one, &lens[..1], &ctx));
    }

    #[test]
    fn import_layouts() {
        let nv12 = crate::v4l2::V4L2_PIX_FMT_NV12;
        let l = ImportLayout {
            fourcc: nv12,
            size: 192 * 216,
            planes: [(0, 192), (192 * 144, 192)],
            modifier: crate::format::DRM_FORMAT_MOD_LINEAR,
        };
        let f = import_format(&l, 176, 144).unwrap();
        assert_eq!((f.bytesperline[0], f.height, f.width), (192, 144, 192));
        // It fits a context whose CAPTURE format has that pitch and height.
        assert!(frame_fits(&f, &[l.size as usize], &cf(nv12, 192, 144, 192 * 216)));
        let bad = |m: &dyn Fn(&mut ImportLayout)| {
            let mut b = l;
            m(&mut b);
            import_format(&b, 176, 144).is_err()
        };
        assert!(bad(&|b| b.modifier = 0x0100_0000_0000_0001)); // tiled
        assert!(bad(&|b| b.planes[0].0 = 64)); // luma not at 0
        assert!(bad(&|b| b.planes[1].1 = 256)); // two pitches
        assert!(bad(&|b| b.planes[0].1 = 128)); // pitch < width
        assert!(bad(&|b| b.planes[1].0 = 192 * 100)); // chroma inside the luma
        assert!(bad(&|b| b.size = 1000)); // short buffer
        assert!(bad(&|b| b.planes = [(0, 0), (0, 0)]));
        // P010: two bytes per sample.
        let p = ImportLayout {
            fourcc: crate::v4l2::V4L2_PIX_FMT_P010,
            size: 384 * 216,
            planes: [(0, 384), (384 * 144, 384)],
            modifier: crate::format::DRM_FORMAT_MOD_INVALID,
        };
        assert_eq!(import_format(&p, 176, 144).unwrap().width, 192);
    }
}
