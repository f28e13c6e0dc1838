//! Tiled NV12 CAPTURE layouts and the CPU detiler (pure, no I/O).
//!
//! Some stateless decoders write their pictures only in a tiled form of NV12.
//! All three layouts handled here are "linear tiles": the plane is cut into
//! tiles of `TW` bytes × `TH` rows, each tile is stored row after row
//! (`TW * TH` contiguous bytes), and tiles follow one another left to right,
//! then top to bottom. A *tile row* (`TH` picture rows) therefore occupies
//! `bytesperline * TH` contiguous bytes, where `bytesperline` is the plane's
//! width in bytes (a multiple of `TW`), exactly as V4L2 reports it: V4L2's
//! `bytesperline` for these formats is the pitch the picture would have if it
//! were linear, not the size of a tile row. The byte of picture row `y`,
//! column `x` (in bytes) of a plane lives at
//!
//! ```text
//! (y / TH) * bytesperline * TH  +  (x / TW) * TW * TH  +  (y % TH) * TW  +  x % TW
//! ```
//!
//! Chroma rows hold interleaved CbCr pairs (2 bytes per 2 luma columns), so a
//! chroma tile of `TW` bytes covers `TW / 2` pairs, i.e. `TW` luma columns.
//!
//! # `V4L2_PIX_FMT_NV12_4L4` (`VT12`): hantro G2 (i.MX8MQ HEVC/VP9), VPU981, sunxi G2
//!
//! 4×4-byte tiles in both planes ("the layouts of the luma and chroma planes
//! are identical", V4L2 docs). One buffer (`mem_planes = 1` in
//! `v4l2_format_info`, no block sizes: `v4l2_fill_pixfmt_mp` gives
//! `bytesperline = width`, `sizeimage = width * height * 3 / 2`); hantro first
//! rounds width and height up to its frame-size step (`TILE_MB_DIM` = 4 for the
//! G2), then adds the motion-vector area after the picture to `sizeimage`.
//! The chroma plane starts at `bytesperline * height` (hantro's
//! `hantro_g2_chroma_offset`: `width * height`).
//!
//! # `V4L2_PIX_FMT_NV12_32L32` (`ST12`): Allwinner cedrus (A10/A13/A20/A33 …)
//!
//! 32×32-byte tiles in both planes. One buffer (`cedrus_prepare_format`):
//! `bytesperline = ALIGN(width, 32)`, `height = ALIGN(height, 32)`, luma size
//! `bytesperline * height`, chroma size `bytesperline * ALIGN(height, 64) / 2`
//! (whole 32-row chroma tile rows), and the chroma plane starts at
//! `bytesperline * height` (`cedrus_buf_addr`).
//!
//! # `V4L2_PIX_FMT_MM21` (`MM21`): MediaTek vcodec (MT8183, MT8192, MT8195 …)
//!
//! 16×32-byte luma tiles and 16×16-byte chroma tiles: one luma tile and one
//! chroma tile cover the same 16×32 pixels, so both planes have the same
//! number of tiles. Two buffers (multi-planar, "two non-contiguous planes"):
//! `bytesperline` is the 64-aligned width for both planes, luma size
//! `width * height`, chroma size half of it, with width and height rounded up
//! to 64 by the driver (`buf_w`, `buf_h`); firmware may ask for larger planes.
//!
//! # What is validated
//!
//! [`TiledLayout::from_v4l2`] takes the format's width and height and each
//! buffer's (`bytesperline`, `sizeimage`) as the device reports them and
//! checks: pitches are whole tiles and hold the picture's row; a single-buffer
//! format's height is whole luma tiles (else the last luma tile row would run
//! into the chroma plane at `bytesperline * height`); and every tile row the
//! picture touches lies inside its buffer. The copies check the slices they
//! are actually given once, before copying; bad input is an error, never a
//! panic, and there is no `unsafe`.
//!
//! # Copies
//!
//! [`detile_nv12`] writes linear NV12 (any destination pitch, top-left crop of
//! any size up to the format's) for vaGetImage / vaDeriveImage copies;
//! [`tile_nv12`] is the reverse (vaPutImage, tests) and leaves bytes outside
//! the picture untouched. Both copy fixed-size runs (tile sizes are const
//! generics, so the compiler emits plain vector moves), no per-byte work:
//! 16- and 32-byte tiles go destination row by row, one `TW`-byte run per
//! tile; 4-byte tiles (4L4) go a tile row at a time, four tiles (64 source
//! bytes) giving a 16-byte run to each of the four rows. On the 2-core
//! build host this reaches about 0.5-0.8 of memcpy's speed for frames that
//! do not fit the cache (`benches/detile.rs`).
//!
//! # GStreamer's conventions (the test oracle)
//!
//! GStreamer's `NV12_4L4`, `NV12_32L32` and `NV12_16L32S` (= MM21) use the
//! same tile contents and order. Its buffers are one allocation: luma of
//! `ceil(w / TW) × ceil(h / TH)` tiles, then chroma at
//! `ALIGN(w, TW) * ALIGN(h, TH)`; that is a V4L2 layout with
//! `bytesperline = ALIGN(w, TW)` and height `ALIGN(h, TH)` (for MM21 cut the
//! buffer in two at the chroma offset). Chroma tile rows: `ceil(luma tile rows
//! / 2)` for 4L4 and 32L32, as many as luma for 16L32S. GStreamer 1.22 sizes
//! the 16L32S chroma plane with the 512-byte luma tile size (twice what it
//! uses); the bytes past the chroma tiles are padding. `tests/tiling_gst.rs`
//! checks [`detile_nv12`] and [`tile_nv12`] against `videoconvert`.
//!
//! # DRM modifiers (zero-copy export)
//!
//! - `NV12_32L32` is `DRM_FORMAT_NV12` with [`DRM_FORMAT_MOD_ALLWINNER_TILED`]
//!   (drm_fourcc.h: 32×32 luma tiles, chroma tiles "representing 32x64
//!   pixels", i.e. 32 bytes × 32 rows of CbCr, linear inside and in row-major
//!   order). The planes' pitches are `bytesperline` as here (sun4i's frontend
//!   derives the tile-row stride from `pitches[]`). Only the sun4i display
//!   frontend consumes it (scanout); no Mesa GPU driver imports it.
//! - `MM21` is `DRM_FORMAT_NV12` with [`DRM_FORMAT_MOD_MTK_16L_32S_TILE`]
//!   (vendor MTK = 0x0b, tile layout 1), added to drm_fourcc.h after Linux
//!   6.12 (absent from the 6.12 headers this project builds with); Mesa's
//!   panfrost imports it (it detiles with a shader). Vendor 0x0b is also used
//!   by libcamera for `MIPI_FORMAT_MOD_CSI2_PACKED` (Bayer only).
//! - `NV12_4L4` has no modifier: `DRM_FORMAT_MOD_VIVANTE_TILED` is 4×4 *pixel*
//!   tiles for the Vivante GPU's RGB render targets (i.MX8MQ's DCSS takes it
//!   only for RGB primary planes) and says nothing about NV12's chroma; so
//!   exports of 4L4 frames must be refused (or copied to linear).

#![forbid(unsafe_code)]

use crate::v4l2::fourcc::{V4L2_PIX_FMT_MM21, V4L2_PIX_FMT_NV12_32L32, V4L2_PIX_FMT_NV12_4L4};
use std::fmt;

/// `DRM_FORMAT_MOD_ALLWINNER_TILED`: `fourcc_mod_code(ALLWINNER, 1)`.
pub const DRM_FORMAT_MOD_ALLWINNER_TILED: u64 = (0x09 << 56) | 1;
/// `DRM_FORMAT_MOD_MTK_16L_32S_TILE`: `fourcc_mod_code(MTK, MTK_FMT_MOD_TILE_16L32S)`
/// (drm_fourcc.h after Linux 6.12).
pub const DRM_FORMAT_MOD_MTK_16L_32S_TILE: u64 = (0x0b << 56) | 1;

/// A tiled 8-bit 4:2:0 CAPTURE format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TiledFormat {
    /// `V4L2_PIX_FMT_NV12_4L4` (`VT12`): 4×4 tiles, one buffer (hantro).
    Nv12Tiled4x4,
    /// `V4L2_PIX_FMT_NV12_32L32` (`ST12`): 32×32 tiles, one buffer (cedrus).
    Nv12Tiled32x32,
    /// `V4L2_PIX_FMT_MM21` (`MM21`): 16×32 luma, 16×16 chroma tiles, two buffers (MediaTek).
    Mm21,
}

/// The size of one tile: `width` bytes × `height` rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tile {
    /// Bytes of one tile row.
    pub width: usize,
    /// Rows of one tile.
    pub height: usize,
}

impl Tile {
    /// Bytes of one tile.
    pub const fn bytes(self) -> usize {
        self.width * self.height
    }
}

impl TiledFormat {
    /// Every tiled format, in the order of this enum.
    pub const ALL: [TiledFormat; 3] = [TiledFormat::Nv12Tiled4x4, TiledFormat::Nv12Tiled32x32, TiledFormat::Mm21];

    /// The format of a V4L2 fourcc, if it is one of these.
    pub fn from_v4l2_fourcc(code: u32) -> Option<Self> {
        match code {
            V4L2_PIX_FMT_NV12_4L4 => Some(Self::Nv12Tiled4x4),
            V4L2_PIX_FMT_NV12_32L32 => Some(Self::Nv12Tiled32x32),
            V4L2_PIX_FMT_MM21 => Some(Self::Mm21),
            _ => None,
        }
    }

    /// The V4L2 fourcc.
    pub fn v4l2_fourcc(self) -> u32 {
        match self {
            Self::Nv12Tiled4x4 => V4L2_PIX_FMT_NV12_4L4,
            Self::Nv12Tiled32x32 => V4L2_PIX_FMT_NV12_32L32,
            Self::Mm21 => V4L2_PIX_FMT_MM21,
        }
    }

    /// The V4L2 name (`NV12_4L4`, `NV12_32L32`, `MM21`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Nv12Tiled4x4 => "NV12_4L4",
            Self::Nv12Tiled32x32 => "NV12_32L32",
            Self::Mm21 => "MM21",
        }
    }

    /// The tile of plane `plane` (0: luma, 1: chroma).
    pub fn tile(self, plane: usize) -> Option<Tile> {
        let (width, height) = match (self, plane) {
            (Self::Nv12Tiled4x4, 0 | 1) => (4, 4),
            (Self::Nv12Tiled32x32, 0 | 1) => (32, 32),
            (Self::Mm21, 0) => (16, 32),
            (Self::Mm21, 1) => (16, 16),
            _ => return None,
        };
        Some(Tile { width, height })
    }

    /// Memory buffers V4L2 uses for the format (`mem_planes`): 1, or 2 for MM21.
    pub fn num_buffers(self) -> usize {
        match self {
            Self::Nv12Tiled4x4 | Self::Nv12Tiled32x32 => 1,
            Self::Mm21 => 2,
        }
    }

    /// The DRM modifier describing the layout with `DRM_FORMAT_NV12`, if one
    /// exists (see the module doc): `None` means exports must be refused.
    pub fn drm_modifier(self) -> Option<u64> {
        match self {
            Self::Nv12Tiled4x4 => None,
            Self::Nv12Tiled32x32 => Some(DRM_FORMAT_MOD_ALLWINNER_TILED),
            Self::Mm21 => Some(DRM_FORMAT_MOD_MTK_16L_32S_TILE),
        }
    }
}

/// Errors of tiled layouts and copies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TilingError {
    /// Width or height is zero.
    InvalidDimensions {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// Wrong number of buffers (or plane descriptions).
    BufferCount {
        /// Expected count.
        expected: usize,
        /// Count given.
        got: usize,
    },
    /// A tiled plane's pitch is not a whole number of tiles.
    PitchNotTiled {
        /// Plane index.
        plane: usize,
        /// The pitch (bytes).
        pitch: usize,
        /// The tile width (bytes).
        tile_width: usize,
    },
    /// A pitch smaller than the bytes of a row.
    PitchTooSmall {
        /// Plane index.
        plane: usize,
        /// The pitch.
        pitch: usize,
        /// Bytes of one row.
        row_bytes: usize,
    },
    /// A single-buffer format whose height is not whole luma tiles.
    HeightNotTiled {
        /// The height (rows).
        height: u32,
        /// The luma tile height (rows).
        tile_height: usize,
    },
    /// A buffer smaller than a plane needs.
    TooSmall {
        /// Plane index.
        plane: usize,
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        len: usize,
    },
    /// The copied area exceeds the layout's picture size.
    CropOutside {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
        /// The layout's width.
        max_width: u32,
        /// The layout's height.
        max_height: u32,
    },
    /// The two linear planes overlap in one buffer.
    Overlap,
    /// Arithmetic overflow in a size computation.
    Overflow,
}

impl fmt::Display for TilingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidDimensions { width, height } => write!(f, "invalid dimensions {width}x{height}"),
            Self::BufferCount { expected, got } => write!(f, "expected {expected} buffers, got {got}"),
            Self::PitchNotTiled { plane, pitch, tile_width } => {
                write!(f, "plane {plane}: pitch {pitch} is not a multiple of the {tile_width}-byte tile width")
            }
            Self::PitchTooSmall { plane, pitch, row_bytes } => {
                write!(f, "plane {plane}: pitch {pitch} smaller than a row of {row_bytes} bytes")
            }
            Self::HeightNotTiled { height, tile_height } => {
                write!(f, "height {height} is not a multiple of the {tile_height}-row luma tile")
            }
            Self::TooSmall { plane, needed, len } => {
                write!(f, "plane {plane}: buffer too small: need {needed} bytes, have {len}")
            }
            Self::CropOutside { width, height, max_width, max_height } => {
                write!(f, "area {width}x{height} exceeds the picture {max_width}x{max_height}")
            }
            Self::Overlap => write!(f, "the linear planes overlap"),
            Self::Overflow => write!(f, "size overflow"),
        }
    }
}

impl std::error::Error for TilingError {}

/// Where one tiled plane lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TiledPlane {
    /// Index of the memory buffer holding the plane.
    pub buffer: usize,
    /// Byte offset of the plane's first tile in that buffer.
    pub offset: usize,
    /// V4L2 `bytesperline`: bytes of one picture row (a whole number of tiles).
    pub pitch: usize,
    /// Tile width (bytes) and height (rows).
    pub tile_width: usize,
    /// Tile height (rows).
    pub tile_height: usize,
    /// Picture rows of the plane (luma: the height; chroma: half, rounded up).
    pub rows: usize,
    /// Picture bytes of each row (luma: the width; chroma: twice half the width, rounded up).
    pub row_bytes: usize,
}

impl TiledPlane {
    /// Bytes of one tile row (`pitch * tile_height`).
    pub fn tile_row_bytes(&self) -> usize {
        self.pitch.saturating_mul(self.tile_height)
    }

    /// Tile rows holding the first `rows` picture rows.
    pub fn tile_rows_for(&self, rows: usize) -> usize {
        rows.div_ceil(self.tile_height.max(1))
    }

    /// One past the last byte of the tile rows holding the first `rows`
    /// picture rows, in the plane's buffer.
    pub fn end_for(&self, rows: usize) -> Result<usize, TilingError> {
        self.tile_rows_for(rows).checked_mul(self.tile_row_bytes()).and_then(|n| n.checked_add(self.offset)).ok_or(TilingError::Overflow)
    }

    /// Offset in the buffer of the byte at column `x` (bytes) of picture row
    /// `y`, or `None` outside the plane's pitch × tile-row area. The plain
    /// per-byte formula of the module doc (the reference the copies are tested against).
    pub fn byte_offset(&self, x: usize, y: usize) -> Option<usize> {
        if x >= self.pitch || self.tile_width == 0 || self.tile_height == 0 {
            return None;
        }
        let (tw, th) = (self.tile_width, self.tile_height);
        let tile_row = (y / th).checked_mul(self.tile_row_bytes())?;
        let in_plane = tile_row.checked_add((x / tw) * tw * th + (y % th) * tw + x % tw)?;
        self.offset.checked_add(in_plane)
    }
}

/// Where one plane of a linear NV12 picture lives (the other side of a copy).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinearPlane {
    /// Index of the memory buffer holding the plane.
    pub buffer: usize,
    /// Byte offset of the first row in that buffer.
    pub offset: usize,
    /// Bytes from one row to the next.
    pub pitch: usize,
}

/// The planes of a contiguous linear NV12 picture in one buffer: luma at 0,
/// chroma at `pitch * height`, both with `pitch`.
pub fn nv12_planes(pitch: usize, height: usize) -> [LinearPlane; 2] {
    [LinearPlane { buffer: 0, offset: 0, pitch }, LinearPlane { buffer: 0, offset: pitch.saturating_mul(height), pitch }]
}

/// The layout of a tiled NV12 picture in its V4L2 buffer(s), validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TiledLayout {
    /// The tiled format.
    pub format: TiledFormat,
    /// Width in pixels (the V4L2 format's width).
    pub width: u32,
    /// Height in pixels (the V4L2 format's height).
    pub height: u32,
    planes: [TiledPlane; 2],
    buffer_sizes: [usize; 2],
}

/// Bytes of a chroma row (CbCr pairs) for `width` luma columns.
fn chroma_row_bytes(width: usize) -> usize {
    width.div_ceil(2) * 2
}

impl TiledLayout {
    /// The layout V4L2 describes with the format's `width` and `height` and,
    /// per memory buffer, its (`bytesperline`, `sizeimage`): one entry for
    /// `NV12_4L4` and `NV12_32L32` (chroma at `bytesperline * height`, same
    /// pitch), two for `MM21` (each plane at offset 0 of its buffer; a chroma
    /// `bytesperline` of 0 means the luma one).
    pub fn from_v4l2(format: TiledFormat, width: u32, height: u32, buffers: &[(u32, u32)]) -> Result<Self, TilingError> {
        if width == 0 || height == 0 {
            return Err(TilingError::InvalidDimensions { width, height });
        }
        if buffers.len() != format.num_buffers() {
            return Err(TilingError::BufferCount { expected: format.num_buffers(), got: buffers.len() });
        }
        let (Some(luma_tile), Some(chroma_tile)) = (format.tile(0), format.tile(1)) else {
            return Err(TilingError::Overflow);
        };
        let (w, h) = (width as usize, height as usize);
        let luma_pitch = buffers[0].0 as usize;
        let luma = TiledPlane {
            buffer: 0,
            offset: 0,
            pitch: luma_pitch,
            tile_width: luma_tile.width,
            tile_height: luma_tile.height,
            rows: h,
            row_bytes: w,
        };
        let chroma = match format.num_buffers() {
            1 => {
                if !h.is_multiple_of(luma_tile.height) {
                    return Err(TilingError::HeightNotTiled { height, tile_height: luma_tile.height });
                }
                let offset = luma_pitch.checked_mul(h).ok_or(TilingError::Overflow)?;
                TiledPlane { buffer: 0, offset, pitch: luma_pitch, ..luma }
            }
            _ => {
                let pitch = match buffers[1].0 as usize {
                    0 => luma_pitch,
                    p => p,
                };
                TiledPlane { buffer: 1, offset: 0, pitch, ..luma }
            }
        };
        let chroma = TiledPlane {
            tile_width: chroma_tile.width,
            tile_height: chroma_tile.height,
            rows: h.div_ceil(2),
            row_bytes: chroma_row_bytes(w),
            ..chroma
        };
        let mut buffer_sizes = [0; 2];
        for (size, &(_, sizeimage)) in buffer_sizes.iter_mut().zip(buffers) {
            *size = sizeimage as usize;
        }
        let layout = Self { format, width, height, planes: [luma, chroma], buffer_sizes };
        for (i, p) in layout.planes.iter().enumerate() {
            check_tiled_plane(i, p, p.rows, p.row_bytes, buffer_sizes[p.buffer])?;
        }
        Ok(layout)
    }

    /// The luma and chroma planes.
    pub fn planes(&self) -> &[TiledPlane; 2] {
        &self.planes
    }

    /// Memory buffers the layout spans.
    pub fn num_buffers(&self) -> usize {
        self.format.num_buffers()
    }

    /// The size (`sizeimage`) of buffer `i`.
    pub fn buffer_size(&self, i: usize) -> Option<usize> {
        (i < self.num_buffers()).then(|| self.buffer_sizes[i])
    }

    /// Checks a copy area and returns the plane rows and row bytes it covers.
    fn area(&self, width: u32, height: u32) -> Result<[(usize, usize); 2], TilingError> {
        if width == 0 || height == 0 {
            return Err(TilingError::InvalidDimensions { width, height });
        }
        if width > self.width || height > self.height {
            return Err(TilingError::CropOutside { width, height, max_width: self.width, max_height: self.height });
        }
        let (w, h) = (width as usize, height as usize);
        Ok([(h, w), (h.div_ceil(2), chroma_row_bytes(w))])
    }
}

/// Pitch and size checks of a tiled plane for `rows` rows of `row_bytes`.
fn check_tiled_plane(i: usize, p: &TiledPlane, rows: usize, row_bytes: usize, len: usize) -> Result<(), TilingError> {
    if p.pitch == 0 || !p.pitch.is_multiple_of(p.tile_width) {
        return Err(TilingError::PitchNotTiled { plane: i, pitch: p.pitch, tile_width: p.tile_width });
    }
    if p.pitch < row_bytes {
        return Err(TilingError::PitchTooSmall { plane: i, pitch: p.pitch, row_bytes });
    }
    let needed = p.end_for(rows)?;
    if needed > len {
        return Err(TilingError::TooSmall { plane: i, needed, len });
    }
    Ok(())
}

/// Bytes spanned by `rows` rows of `row_bytes` at `pitch` (the last row without padding).
fn linear_span(pitch: usize, row_bytes: usize, rows: usize) -> Result<usize, TilingError> {
    pitch.checked_mul(rows.saturating_sub(1)).and_then(|v| v.checked_add(row_bytes)).ok_or(TilingError::Overflow)
}

/// The byte range of a linear plane of `rows` × `row_bytes`, checked against `len`.
fn linear_range(i: usize, p: &LinearPlane, rows: usize, row_bytes: usize, len: usize) -> Result<(usize, usize), TilingError> {
    if rows > 1 && p.pitch < row_bytes {
        return Err(TilingError::PitchTooSmall { plane: i, pitch: p.pitch, row_bytes });
    }
    let end = p.offset.checked_add(linear_span(p.pitch, row_bytes, rows)?).ok_or(TilingError::Overflow)?;
    if end > len {
        return Err(TilingError::TooSmall { plane: i, needed: end, len });
    }
    Ok((p.offset, end))
}

/// All checks of a copy between `layout` (tiled buffers of lengths
/// `tiled_lens`) and linear `planes` (buffers of lengths `linear_lens`);
/// returns per plane the (rows, row_bytes, tiled range, linear range).
fn plan(
    layout: &TiledLayout,
    tiled_lens: &[usize],
    width: u32,
    height: u32,
    planes: &[LinearPlane; 2],
    linear_lens: &[usize],
) -> Result<[PlaneCopy; 2], TilingError> {
    let area = layout.area(width, height)?;
    let n = layout.num_buffers();
    if tiled_lens.len() < n {
        return Err(TilingError::BufferCount { expected: n, got: tiled_lens.len() });
    }
    let mut out = [PlaneCopy::default(); 2];
    for (i, ((tp, lp), &(rows, row_bytes))) in layout.planes.iter().zip(planes).zip(&area).enumerate() {
        let tlen = tiled_lens[tp.buffer];
        check_tiled_plane(i, tp, rows, row_bytes, tlen)?;
        let tiled = (tp.offset, tp.end_for(rows)?);
        let llen = *linear_lens.get(lp.buffer).ok_or(TilingError::BufferCount { expected: lp.buffer + 1, got: linear_lens.len() })?;
        let linear = linear_range(i, lp, rows, row_bytes, llen)?;
        out[i] = PlaneCopy { rows, row_bytes, tiled, linear };
    }
    if planes[0].buffer == planes[1].buffer && out[0].linear.0 < out[1].linear.1 && out[1].linear.0 < out[0].linear.1 {
        return Err(TilingError::Overlap);
    }
    Ok(out)
}

#[derive(Clone, Copy, Debug, Default)]
struct PlaneCopy {
    rows: usize,
    row_bytes: usize,
    tiled: (usize, usize),
    linear: (usize, usize),
}

/// Copies the top-left `width` × `height` pixels of a tiled NV12 picture
/// (`src`: the layout's buffers, one or two) into linear NV12 planes `dst_planes`
/// of the buffers `dst`. Bytes of `dst` outside the picture rows are left untouched.
pub fn detile_nv12(
    layout: &TiledLayout,
    src: &[&[u8]],
    width: u32,
    height: u32,
    dst: &mut [&mut [u8]],
    dst_planes: &[LinearPlane; 2],
) -> Result<(), TilingError> {
    let src_lens: Vec<usize> = src.iter().map(|b| b.len()).collect();
    let dst_lens: Vec<usize> = dst.iter().map(|b| b.len()).collect();
    let copies = plan(layout, &src_lens, width, height, dst_planes, &dst_lens)?;
    for ((tp, lp), c) in layout.planes.iter().zip(dst_planes).zip(&copies) {
        let s = src.get(tp.buffer).and_then(|b| b.get(c.tiled.0..c.tiled.1));
        let d = dst.get_mut(lp.buffer).and_then(|b| b.get_mut(c.linear.0..c.linear.1));
        let (Some(s), Some(d)) = (s, d) else {
            return Err(TilingError::Overflow); // unreachable after `plan`
        };
        match (tp.tile_width, tp.tile_height) {
            (4, 4) => detile_blocks::<4, 4, 4>(s, tp.pitch, d, lp.pitch, c.row_bytes, c.rows),
            (32, 32) => detile_rows::<32, 32>(s, tp.pitch, d, lp.pitch, c.row_bytes, c.rows),
            (16, 32) => detile_rows::<16, 32>(s, tp.pitch, d, lp.pitch, c.row_bytes, c.rows),
            (16, 16) => detile_rows::<16, 16>(s, tp.pitch, d, lp.pitch, c.row_bytes, c.rows),
            _ => return Err(TilingError::Overflow),
        }
    }
    Ok(())
}

/// The reverse of [`detile_nv12`]: writes the top-left `width` × `height`
/// pixels of linear NV12 planes `src_planes` (of the buffers `src`) into the
/// tiled buffers `dst`. Bytes of `dst` outside the picture are left untouched.
pub fn tile_nv12(
    layout: &TiledLayout,
    dst: &mut [&mut [u8]],
    width: u32,
    height: u32,
    src: &[&[u8]],
    src_planes: &[LinearPlane; 2],
) -> Result<(), TilingError> {
    let src_lens: Vec<usize> = src.iter().map(|b| b.len()).collect();
    let dst_lens: Vec<usize> = dst.iter().map(|b| b.len()).collect();
    let copies = plan(layout, &dst_lens, width, height, src_planes, &src_lens)?;
    for ((tp, lp), c) in layout.planes.iter().zip(src_planes).zip(&copies) {
        let s = src.get(lp.buffer).and_then(|b| b.get(c.linear.0..c.linear.1));
        let d = dst.get_mut(tp.buffer).and_then(|b| b.get_mut(c.tiled.0..c.tiled.1));
        let (Some(s), Some(d)) = (s, d) else {
            return Err(TilingError::Overflow); // unreachable after `plan`
        };
        match (tp.tile_width, tp.tile_height) {
            (4, 4) => tile_blocks::<4, 4, 4>(s, lp.pitch, d, tp.pitch, c.row_bytes, c.rows),
            (32, 32) => tile_rows::<32, 32>(s, lp.pitch, d, tp.pitch, c.row_bytes, c.rows),
            (16, 32) => tile_rows::<16, 32>(s, lp.pitch, d, tp.pitch, c.row_bytes, c.rows),
            (16, 16) => tile_rows::<16, 16>(s, lp.pitch, d, tp.pitch, c.row_bytes, c.rows),
            _ => return Err(TilingError::Overflow),
        }
    }
    Ok(())
}

/// Detiles `rows` rows of `row_bytes` from the tile rows `src` (starting at
/// the plane's first tile, `pitch` bytes per picture row) into `dst` (starting
/// at the first row, `dst_pitch` apart). Sizes were checked by the caller; a
/// short slice only ends the copy early.
///
/// Destination row by row: one `TW`-byte copy per tile, the tiles of a tile
/// row read at `TW * TH` strides. Best for tiles of 16 and 32 bytes.
fn detile_rows<const TW: usize, const TH: usize>(
    src: &[u8],
    pitch: usize,
    dst: &mut [u8],
    dst_pitch: usize,
    row_bytes: usize,
    rows: usize,
) {
    let full = row_bytes / TW;
    let rem = row_bytes % TW;
    let mut dst_rows = dst.chunks_mut(dst_pitch.max(row_bytes).max(1)).take(rows);
    for tile_row in src.chunks(pitch.saturating_mul(TH).max(1)) {
        for y in 0..TH {
            let Some(drow) = dst_rows.next() else { return };
            let (Some(drow), Some(srow)) = (drow.get_mut(..row_bytes), tile_row.get(y * TW..)) else { return };
            let (dfull, dtail) = drow.split_at_mut(full * TW);
            for (d, s) in dfull.chunks_exact_mut(TW).zip(srow.chunks(TW * TH)) {
                if let Some(s) = s.get(..TW) {
                    d.copy_from_slice(s);
                }
            }
            if rem != 0 {
                if let Some(s) = srow.get(full * TW * TH..full * TW * TH + rem) {
                    dtail.copy_from_slice(s);
                }
            }
        }
    }
}

/// The reverse of [`detile_rows`]: `src` is linear, `dst` the tile rows.
fn tile_rows<const TW: usize, const TH: usize>(src: &[u8], src_pitch: usize, dst: &mut [u8], pitch: usize, row_bytes: usize, rows: usize) {
    let full = row_bytes / TW;
    let rem = row_bytes % TW;
    let mut src_rows = src.chunks(src_pitch.max(row_bytes).max(1)).take(rows);
    for tile_row in dst.chunks_mut(pitch.saturating_mul(TH).max(1)) {
        for y in 0..TH {
            let Some(srow) = src_rows.next() else { return };
            let (Some(srow), Some(drow)) = (srow.get(..row_bytes), tile_row.get_mut(y * TW..)) else { return };
            let (sfull, stail) = srow.split_at(full * TW);
            for (s, d) in sfull.chunks_exact(TW).zip(drow.chunks_mut(TW * TH)) {
                if let Some(d) = d.get_mut(..TW) {
                    d.copy_from_slice(s);
                }
            }
            if rem != 0 {
                if let Some(d) = drow.get_mut(full * TW * TH..full * TW * TH + rem) {
                    d.copy_from_slice(stail);
                }
            }
        }
    }
}

/// [`detile_rows`] for small tiles (4L4, with `G = 4`).
///
/// One tile row at a time: its `TH` destination rows become `TH` iterators of
/// `G * TW`-byte chunks, and each group of `G` tiles (read in memory order)
/// hands one chunk to each of them: fixed-size copies the compiler turns into
/// a few vector moves (with `G = 4` for 4-byte tiles, a 4×4 transpose of
/// 32-bit words). The tiles right of the last whole group go one by one.
fn detile_blocks<const TW: usize, const TH: usize, const G: usize>(
    src: &[u8],
    pitch: usize,
    dst: &mut [u8],
    dst_pitch: usize,
    row_bytes: usize,
    rows: usize,
) {
    let groups = row_bytes / (TW * G);
    let mut dst_rows = dst.chunks_mut(dst_pitch.max(row_bytes).max(1)).take(rows);
    for tile_row in src.chunks(pitch.saturating_mul(TH).max(1)) {
        if dst_rows.len() == 0 {
            return;
        }
        let mut block: [std::slice::ChunksExactMut<'_, u8>; TH] = std::array::from_fn(|_| {
            let row: &mut [u8] = dst_rows.next().and_then(|r| r.get_mut(..row_bytes)).unwrap_or_default();
            row.chunks_exact_mut(TW * G)
        });
        for group in tile_row.chunks_exact(TW * TH * G).take(groups) {
            for (y, d) in block.iter_mut().enumerate() {
                let Some(d) = d.next() else { continue };
                for (g, d) in d.chunks_exact_mut(TW).enumerate() {
                    if let Some(s) = group.get(g * TW * TH + y * TW..g * TW * TH + y * TW + TW) {
                        d.copy_from_slice(s);
                    }
                }
            }
        }
        let rest = tile_row.get(groups * TW * TH * G..).unwrap_or_default();
        for (y, d) in block.into_iter().enumerate() {
            for (t, d) in d.into_remainder().chunks_mut(TW).enumerate() {
                if let Some(s) = rest.get(t * TW * TH + y * TW..).and_then(|s| s.get(..d.len())) {
                    d.copy_from_slice(s);
                }
            }
        }
    }
}

/// The reverse of [`detile_blocks`]: `src` is linear, `dst` the tile rows.
fn tile_blocks<const TW: usize, const TH: usize, const G: usize>(
    src: &[u8],
    src_pitch: usize,
    dst: &mut [u8],
    pitch: usize,
    row_bytes: usize,
    rows: usize,
) {
    let groups = row_bytes / (TW * G);
    let mut src_rows = src.chunks(src_pitch.max(row_bytes).max(1)).take(rows);
    for tile_row in dst.chunks_mut(pitch.saturating_mul(TH).max(1)) {
        if src_rows.len() == 0 {
            return;
        }
        let mut block: [std::slice::ChunksExact<'_, u8>; TH] = std::array::from_fn(|_| {
            let row: &[u8] = src_rows.next().and_then(|r| r.get(..row_bytes)).unwrap_or_default();
            row.chunks_exact(TW * G)
        });
        let (body, rest) = tile_row.split_at_mut((groups * TW * TH * G).min(tile_row.len()));
        for group in body.chunks_exact_mut(TW * TH * G) {
            for (y, s) in block.iter_mut().enumerate() {
                let Some(s) = s.next() else { continue };
                for (g, s) in s.chunks_exact(TW).enumerate() {
                    if let Some(d) = group.get_mut(g * TW * TH + y * TW..g * TW * TH + y * TW + TW) {
                        d.copy_from_slice(s);
                    }
                }
            }
        }
        for (y, s) in block.into_iter().enumerate() {
            for (t, s) in s.remainder().chunks(TW).enumerate() {
                if let Some(d) = rest.get_mut(t * TW * TH + y * TW..).and_then(|d| d.get_mut(..s.len())) {
                    d.copy_from_slice(s);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic byte generator (xorshift64*).
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect()
    }

    fn align(v: u32, a: u32) -> u32 {
        v.div_ceil(a) * a
    }

    /// A layout the way the format's driver would report it for a `w`×`h` stream.
    fn driver_layout(format: TiledFormat, w: u32, h: u32) -> TiledLayout {
        match format {
            // hantro: width/height rounded up to 4, sizeimage w*h*3/2 + motion vectors.
            TiledFormat::Nv12Tiled4x4 => {
                let (w, h) = (align(w, 4), align(h, 4));
                TiledLayout::from_v4l2(format, w, h, &[(w, w * h * 3 / 2 + 4096)]).unwrap()
            }
            // cedrus_prepare_format.
            TiledFormat::Nv12Tiled32x32 => {
                let (bpl, h) = (align(w, 32), align(h, 32));
                TiledLayout::from_v4l2(format, w, h, &[(bpl, bpl * h + bpl * align(h, 64) / 2)]).unwrap()
            }
            // mtk vcodec: 64-aligned buffer width and height.
            TiledFormat::Mm21 => {
                let (w, h) = (align(w, 64), align(h, 64));
                TiledLayout::from_v4l2(format, w, h, &[(w, w * h), (w, w * h / 2)]).unwrap()
            }
        }
    }

    fn buffers(layout: &TiledLayout, seed: u64) -> Vec<Vec<u8>> {
        (0..layout.num_buffers()).map(|i| noise(layout.buffer_size(i).unwrap(), seed + i as u64)).collect()
    }

    #[test]
    fn fourccs_and_modifiers() {
        for f in TiledFormat::ALL {
            assert_eq!(TiledFormat::from_v4l2_fourcc(f.v4l2_fourcc()), Some(f));
            assert_eq!(crate::v4l2::fourcc_to_string(f.v4l2_fourcc()), ["VT12", "ST12", "MM21"][f as usize], "{}", f.name());
        }
        assert_eq!(TiledFormat::from_v4l2_fourcc(crate::v4l2::V4L2_PIX_FMT_NV12), None);
        assert_eq!(DRM_FORMAT_MOD_ALLWINNER_TILED, u64::from(drm_fourcc::DrmModifier::Allwinner_tiled));
        assert_eq!(DRM_FORMAT_MOD_MTK_16L_32S_TILE, 0x0b00_0000_0000_0001);
        assert_eq!(TiledFormat::Nv12Tiled4x4.drm_modifier(), None);
        assert_eq!(TiledFormat::Nv12Tiled32x32.drm_modifier(), Some(DRM_FORMAT_MOD_ALLWINNER_TILED));
        assert_eq!(TiledFormat::Mm21.drm_modifier(), Some(DRM_FORMAT_MOD_MTK_16L_32S_TILE));
    }

    #[test]
    fn cedrus_1080p() {
        // cedrus_prepare_format for 1920x1080: bytesperline 1920, height 1088,
        // sizeimage 1920*1088 + 1920*1088/2.
        let l = TiledLayout::from_v4l2(TiledFormat::Nv12Tiled32x32, 1920, 1088, &[(1920, 1920 * 1088 * 3 / 2)]).unwrap();
        let [y, c] = *l.planes();
        assert_eq!((y.buffer, y.offset, y.pitch, y.tile_width, y.tile_height), (0, 0, 1920, 32, 32));
        assert_eq!((c.buffer, c.offset, c.pitch, c.tile_width, c.tile_height), (0, 1920 * 1088, 1920, 32, 32));
        assert_eq!((c.rows, c.row_bytes), (544, 1920));
        assert_eq!(c.end_for(c.rows).unwrap(), 1920 * 1088 * 3 / 2);
        // One byte short.
        let e = TiledLayout::from_v4l2(TiledFormat::Nv12Tiled32x32, 1920, 1088, &[(1920, 1920 * 1088 * 3 / 2 - 1)]);
        assert_eq!(e, Err(TilingError::TooSmall { plane: 1, needed: 1920 * 1088 * 3 / 2, len: 1920 * 1088 * 3 / 2 - 1 }));
        // The chroma plane of a 1056-row picture has 17 tile rows (ALIGN(1056, 64) / 2 = 544 rows).
        let ok = TiledLayout::from_v4l2(TiledFormat::Nv12Tiled32x32, 1920, 1056, &[(1920, 1920 * 1056 + 1920 * 544)]);
        assert!(ok.is_ok());
        let short = TiledLayout::from_v4l2(TiledFormat::Nv12Tiled32x32, 1920, 1056, &[(1920, 1920 * 1056 * 3 / 2)]);
        assert!(matches!(short, Err(TilingError::TooSmall { plane: 1, .. })), "{short:?}");
    }

    #[test]
    fn hantro_and_mediatek() {
        let l = TiledLayout::from_v4l2(TiledFormat::Nv12Tiled4x4, 1920, 1080, &[(1920, 1920 * 1080 * 3 / 2)]).unwrap();
        assert_eq!(l.planes()[1].offset, 1920 * 1080);
        assert_eq!(l.planes()[0].tile_row_bytes(), 1920 * 4);
        let l = TiledLayout::from_v4l2(TiledFormat::Mm21, 1920, 1088, &[(1920, 1920 * 1088), (1920, 1920 * 544)]).unwrap();
        let [y, c] = *l.planes();
        assert_eq!((y.buffer, y.tile_width, y.tile_height, y.tile_row_bytes()), (0, 16, 32, 1920 * 32));
        assert_eq!((c.buffer, c.offset, c.tile_width, c.tile_height, c.tile_row_bytes()), (1, 0, 16, 16, 1920 * 16));
        // A chroma bytesperline of 0 means the luma one.
        let z = TiledLayout::from_v4l2(TiledFormat::Mm21, 1920, 1088, &[(1920, 1920 * 1088), (0, 1920 * 544)]).unwrap();
        assert_eq!(z.planes()[1].pitch, 1920);
        // MM21 needs no tile-aligned height (two buffers): 1080 rows use 34 luma and 34 chroma tile rows.
        let l = TiledLayout::from_v4l2(TiledFormat::Mm21, 1920, 1080, &[(1920, 1920 * 1088), (1920, 1920 * 544)]).unwrap();
        assert_eq!(l.planes()[0].end_for(1080).unwrap(), 1920 * 1088);
        assert_eq!(l.planes()[1].end_for(540).unwrap(), 1920 * 544);
    }

    #[test]
    fn layout_errors() {
        use TiledFormat::*;
        let e = |f, w, h, b: &[(u32, u32)]| TiledLayout::from_v4l2(f, w, h, b).unwrap_err();
        assert_eq!(e(Nv12Tiled4x4, 0, 16, &[(16, 1000)]), TilingError::InvalidDimensions { width: 0, height: 16 });
        assert_eq!(e(Mm21, 64, 64, &[(64, 4096)]), TilingError::BufferCount { expected: 2, got: 1 });
        assert_eq!(e(Nv12Tiled4x4, 64, 64, &[(64, 6144), (64, 6144)]), TilingError::BufferCount { expected: 1, got: 2 });
        assert_eq!(e(Nv12Tiled4x4, 64, 64, &[(66, 10000)]), TilingError::PitchNotTiled { plane: 0, pitch: 66, tile_width: 4 });
        assert_eq!(e(Nv12Tiled32x32, 64, 64, &[(0, 10000)]), TilingError::PitchNotTiled { plane: 0, pitch: 0, tile_width: 32 });
        assert_eq!(e(Nv12Tiled32x32, 100, 64, &[(96, 10000)]), TilingError::PitchTooSmall { plane: 0, pitch: 96, row_bytes: 100 });
        assert_eq!(e(Nv12Tiled32x32, 64, 40, &[(64, 10000)]), TilingError::HeightNotTiled { height: 40, tile_height: 32 });
        assert_eq!(e(Nv12Tiled4x4, 64, 62, &[(64, 10000)]), TilingError::HeightNotTiled { height: 62, tile_height: 4 });
        assert_eq!(e(Mm21, 64, 64, &[(64, 4096), (40, 2048)]), TilingError::PitchNotTiled { plane: 1, pitch: 40, tile_width: 16 });
        assert_eq!(e(Mm21, 64, 64, &[(64, 4095), (64, 2048)]), TilingError::TooSmall { plane: 0, needed: 4096, len: 4095 });
        assert_eq!(e(Mm21, 64, 64, &[(64, 4096), (64, 2047)]), TilingError::TooSmall { plane: 1, needed: 2048, len: 2047 });
        // Odd width: the chroma row (CbCr pairs) is rounded up; the pitch is whole tiles anyway.
        assert!(TiledLayout::from_v4l2(Nv12Tiled4x4, 63, 64, &[(64, 6144)]).is_ok());
        assert_eq!(TiledLayout::from_v4l2(Nv12Tiled4x4, 63, 64, &[(64, 6144)]).unwrap().planes()[1].row_bytes, 64);
        // Sizes near the u32 limit neither overflow nor panic.
        assert!(TiledLayout::from_v4l2(Nv12Tiled32x32, u32::MAX, 32, &[(0xFFFF_FFE0, u32::MAX)]).is_err());
        assert!(TiledLayout::from_v4l2(Mm21, 16, u32::MAX, &[(16, u32::MAX), (16, u32::MAX)]).is_err());
    }

    /// The fast detiler against the per-byte formula, for every format and
    /// sizes aligned and not, into a padded destination pitch.
    #[test]
    fn detile_matches_byte_formula() {
        for f in TiledFormat::ALL {
            for (w, h) in [(64, 64), (72, 40), (176, 144), (33, 17), (1, 1), (2, 2), (98, 62), (100, 50)] {
                let layout = driver_layout(f, w, h);
                let src = buffers(&layout, u64::from(w * 1000 + h));
                let pitch = (w as usize).next_multiple_of(64) + 64;
                let planes = nv12_planes(pitch, h as usize);
                let size = pitch * h as usize + pitch * (h as usize).div_ceil(2);
                let mut dst = vec![0xA5u8; size];
                let srcs: Vec<&[u8]> = src.iter().map(Vec::as_slice).collect();
                detile_nv12(&layout, &srcs, w, h, &mut [&mut dst], &planes).unwrap();
                for (i, (tp, lp)) in layout.planes().iter().zip(&planes).enumerate() {
                    let rows = if i == 0 { h as usize } else { (h as usize).div_ceil(2) };
                    let row_bytes = if i == 0 { w as usize } else { (w as usize).div_ceil(2) * 2 };
                    for y in 0..rows {
                        for x in 0..pitch {
                            let got = dst[lp.offset + y * pitch + x];
                            if x < row_bytes {
                                let want = src[tp.buffer][tp.byte_offset(x, y).unwrap()];
                                assert_eq!(got, want, "{} {w}x{h} plane {i} x {x} y {y}", f.name());
                            } else {
                                assert_eq!(got, 0xA5, "{} {w}x{h} plane {i}: padding x {x} y {y} written", f.name());
                            }
                        }
                    }
                }
            }
        }
    }

    /// Tiling writes every picture byte where the formula says and nothing else;
    /// detiling gives the linear picture back.
    #[test]
    fn tile_matches_byte_formula_and_round_trips() {
        for f in TiledFormat::ALL {
            for (w, h) in [(64, 64), (72, 40), (33, 17), (1, 1), (130, 66)] {
                let layout = driver_layout(f, w, h);
                let pitch = w as usize + 3; // odd pitch on the linear side
                let planes = nv12_planes(pitch, h as usize);
                let linear = noise(pitch * h as usize + pitch * (h as usize).div_ceil(2), u64::from(w + h));
                let mut tiled: Vec<Vec<u8>> = (0..layout.num_buffers()).map(|i| vec![0x5Au8; layout.buffer_size(i).unwrap()]).collect();
                let mut dsts: Vec<&mut [u8]> = tiled.iter_mut().map(Vec::as_mut_slice).collect();
                tile_nv12(&layout, &mut dsts, w, h, &[&linear], &planes).unwrap();
                let mut written: Vec<Vec<bool>> = tiled.iter().map(|b| vec![false; b.len()]).collect();
                for (i, (tp, lp)) in layout.planes().iter().zip(&planes).enumerate() {
                    let rows = if i == 0 { h as usize } else { (h as usize).div_ceil(2) };
                    let row_bytes = if i == 0 { w as usize } else { (w as usize).div_ceil(2) * 2 };
                    for y in 0..rows {
                        for x in 0..row_bytes {
                            let at = tp.byte_offset(x, y).unwrap();
                            assert_eq!(tiled[tp.buffer][at], linear[lp.offset + y * pitch + x], "{} {w}x{h} plane {i}", f.name());
                            written[tp.buffer][at] = true;
                        }
                    }
                }
                for (b, (buf, mask)) in tiled.iter().zip(&written).enumerate() {
                    let stray = buf.iter().zip(mask).position(|(&v, &m)| !m && v != 0x5A);
                    assert_eq!(stray, None, "{} {w}x{h}: buffer {b} written outside the picture", f.name());
                }
                let mut back = vec![0u8; linear.len()];
                let srcs: Vec<&[u8]> = tiled.iter().map(Vec::as_slice).collect();
                detile_nv12(&layout, &srcs, w, h, &mut [&mut back], &planes).unwrap();
                for (i, lp) in planes.iter().enumerate() {
                    let rows = if i == 0 { h as usize } else { (h as usize).div_ceil(2) };
                    let row_bytes = if i == 0 { w as usize } else { (w as usize).div_ceil(2) * 2 };
                    for y in 0..rows {
                        let r = lp.offset + y * pitch;
                        assert_eq!(back[r..r + row_bytes], linear[r..r + row_bytes], "{} {w}x{h} plane {i} row {y}", f.name());
                    }
                }
            }
        }
    }

    #[test]
    fn separate_destination_buffers() {
        let layout = driver_layout(TiledFormat::Mm21, 100, 60);
        let src = buffers(&layout, 7);
        let srcs: Vec<&[u8]> = src.iter().map(Vec::as_slice).collect();
        let planes = [LinearPlane { buffer: 0, offset: 0, pitch: 128 }, LinearPlane { buffer: 1, offset: 64, pitch: 100 }];
        let (mut y, mut uv) = (vec![0u8; 128 * 60], vec![0u8; 64 + 100 * 30]);
        detile_nv12(&layout, &srcs, 100, 60, &mut [&mut y, &mut uv], &planes).unwrap();
        let c = layout.planes()[1];
        assert_eq!(uv[64 + 100 * 29 + 99], src[1][c.byte_offset(99, 29).unwrap()]);
        assert_eq!(y[128 * 59 + 99], src[0][layout.planes()[0].byte_offset(99, 59).unwrap()]);
    }

    #[test]
    fn copy_errors() {
        let layout = driver_layout(TiledFormat::Nv12Tiled32x32, 176, 144); // 176x160, pitch 192
        let src = buffers(&layout, 1);
        let srcs: Vec<&[u8]> = src.iter().map(Vec::as_slice).collect();
        let planes = nv12_planes(176, 144);
        let mut dst = vec![0u8; 176 * 144 * 3 / 2];
        let run = |srcs: &[&[u8]], w, h, dst: &mut [u8], planes: &[LinearPlane; 2]| detile_nv12(&layout, srcs, w, h, &mut [dst], planes);
        assert_eq!(run(&srcs, 176, 144, &mut dst, &planes), Ok(()));
        assert_eq!(run(&srcs, 0, 144, &mut dst, &planes), Err(TilingError::InvalidDimensions { width: 0, height: 144 }));
        assert_eq!(
            run(&srcs, 177, 144, &mut dst, &planes),
            Err(TilingError::CropOutside { width: 177, height: 144, max_width: 176, max_height: 160 })
        );
        assert_eq!(run(&[], 176, 144, &mut dst, &planes), Err(TilingError::BufferCount { expected: 1, got: 0 }));
        // A source cut short: the last chroma tile row (rows 64..71 of 72) is missing.
        let short = &src[0][..layout.planes()[1].offset + 2 * 192 * 32];
        assert!(matches!(run(&[short], 176, 144, &mut dst, &planes), Err(TilingError::TooSmall { plane: 1, .. })));
        // ... which is fine for a crop that does not reach it.
        assert_eq!(run(&[short], 176, 128, &mut dst, &planes), Ok(()));
        let n = dst.len();
        assert_eq!(run(&srcs, 176, 144, &mut dst[..n - 1], &planes), Err(TilingError::TooSmall { plane: 1, needed: n, len: n - 1 }));
        let narrow = nv12_planes(170, 144);
        assert_eq!(run(&srcs, 176, 144, &mut dst, &narrow), Err(TilingError::PitchTooSmall { plane: 0, pitch: 170, row_bytes: 176 }));
        let overlap = [LinearPlane { buffer: 0, offset: 0, pitch: 176 }, LinearPlane { buffer: 0, offset: 176 * 100, pitch: 176 }];
        assert_eq!(run(&srcs, 176, 144, &mut dst, &overlap), Err(TilingError::Overlap));
        let missing = [LinearPlane { buffer: 0, offset: 0, pitch: 176 }, LinearPlane { buffer: 1, offset: 0, pitch: 176 }];
        assert_eq!(run(&srcs, 176, 144, &mut dst, &missing), Err(TilingError::BufferCount { expected: 2, got: 1 }));
        // One row needs no pitch.
        let mut row = vec![0u8; 176 + 176];
        let one = [LinearPlane { buffer: 0, offset: 0, pitch: 0 }, LinearPlane { buffer: 0, offset: 176, pitch: 0 }];
        assert_eq!(run(&srcs, 176, 1, &mut row, &one), Ok(()));
        assert_eq!(row[175], src[0][layout.planes()[0].byte_offset(175, 0).unwrap()]);
        assert_eq!(row[176 + 175], src[0][layout.planes()[1].byte_offset(175, 0).unwrap()]);
    }
}
