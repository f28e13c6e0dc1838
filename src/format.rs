//! Image layout math, the DRM modifier rule and plane copies (pure, no I/O).
//!
//! # Layouts
//!
//! A decoded picture lives in one V4L2 CAPTURE buffer (single-planar formats:
//! `NV12`, `P010`, `YU12`, `YV12`) or in one buffer per plane (multi-planar:
//! `NM12`, `YM12`, `YM21`). V4L2 reports only the luma pitch (`bytesperline`)
//! and the buffer size (`sizeimage`) for single-planar formats; the other
//! planes follow by rule: the chroma plane of NV12/P010 starts at
//! `bytesperline * height` with the same pitch, and the two chroma planes of
//! YUV 4:2:0 have half the pitch and follow one another. [`FrameLayout`]
//! turns that into explicit per-plane offsets, pitches, row counts and row
//! widths, validated against the buffer sizes (so copies and exports built on
//! it never read out of bounds), and names the format in DRM and VA terms.
//!
//! # The modifier rule
//!
//! Consumers (GPU importers) need pitches aligned to their own requirement. An
//! export declares [`DRM_FORMAT_MOD_LINEAR`] only when every pitch (and plane
//! offset) is a multiple of the consumer alignment (default 64 bytes,
//! `LIBVA_V4L2_REQUEST_EXPORT_ALIGN`), and [`DRM_FORMAT_MOD_INVALID`]
//! otherwise, which makes the consumer fall back to a copy instead of showing a
//! sheared picture: an 864-wide NV12 frame (pitch 864 = 13.5 × 64) is the test case.
//!
//! # Copies
//!
//! [`copy_plane`] copies `rows` rows of `row_bytes` bytes between any two
//! pitches: one copy when the rows fill both pitches, otherwise row by row
//! (a `memcpy` per row, short rows inline in 64-byte blocks) with every bound
//! checked once up front; bad input is an error, never a panic, and a failed
//! copy writes nothing. [`copy_plane_over_padding`] may also overwrite the
//! destination's row padding, which makes equal pitches one copy per plane.
//! `benches/copy.rs` compares them with a plain memcpy of the same bytes.

#![forbid(unsafe_code)]

use crate::v4l2::fourcc::{
    fourcc_to_string, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_NV12M, V4L2_PIX_FMT_P010, V4L2_PIX_FMT_YUV420, V4L2_PIX_FMT_YUV420M,
    V4L2_PIX_FMT_YVU420, V4L2_PIX_FMT_YVU420M,
};
use crate::va_sys::ffi::{VA_FOURCC_I420, VA_FOURCC_NV12, VA_FOURCC_P010, VA_FOURCC_YV12};
use drm_fourcc::DrmFourcc;
use std::fmt;

/// Largest picture the driver accepts (the device may refuse less); the
/// driver's own bounds for nodes that report no frame sizes.
pub const MAX_WIDTH: u32 = 8192;
pub const MAX_HEIGHT: u32 = 8192;

/// `DRM_FORMAT_MOD_LINEAR` (`drm_fourcc::DrmModifier::Linear`, which has no
/// const form; a test pins the two together).
pub const DRM_FORMAT_MOD_LINEAR: u64 = 0;
/// `DRM_FORMAT_MOD_INVALID` (`drm_fourcc::DrmModifier::Invalid`, likewise).
pub const DRM_FORMAT_MOD_INVALID: u64 = 0x00ff_ffff_ffff_ffff;
/// Default consumer pitch alignment, in bytes: 1, every pitch is declared
/// `DRM_FORMAT_MOD_LINEAR`. The buffers are linear and the descriptor carries
/// the exact pitch, so `LINEAR` is the truth; an importer with a stride rule
/// checks the pitch itself (as with GStreamer's and other VA drivers' linear
/// exports). `DRM_FORMAT_MOD_INVALID` (the old rule at 64) made importers that
/// take explicit modifiers only, like lavapipe, refuse every unaligned frame.
pub const DEFAULT_EXPORT_ALIGN: u32 = 1;
/// Largest accepted alignment override.
pub const MAX_EXPORT_ALIGN: u32 = 4096;
/// Most planes a supported format has.
pub const MAX_PLANES: usize = 3;

/// The DRM modifier an export declares for a plane of pitch `pitch` given
/// the consumer alignment `align` (bytes): [`DRM_FORMAT_MOD_LINEAR`] when
/// `pitch % align == 0`, [`DRM_FORMAT_MOD_INVALID`] otherwise. An alignment
/// of 0 or 1 accepts every pitch.
pub fn export_modifier(pitch: u32, align: u32) -> u64 {
    if align <= 1 || pitch.is_multiple_of(align) {
        DRM_FORMAT_MOD_LINEAR
    } else {
        DRM_FORMAT_MOD_INVALID
    }
}

/// A consumer pitch alignment (`LIBVA_V4L2_REQUEST_EXPORT_ALIGN`, bytes);
/// `None` unless a number in 1..=[`MAX_EXPORT_ALIGN`].
pub fn parse_export_align(value: &str) -> Option<u32> {
    value.trim().parse::<u32>().ok().filter(|n| (1..=MAX_EXPORT_ALIGN).contains(n))
}

/// Errors of layout computations and copies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// Width or height is zero.
    InvalidDimensions {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// A fourcc this module does not handle.
    Unsupported(u32),
    /// A pitch smaller than the bytes of a row.
    PitchTooSmall {
        /// The pitch.
        pitch: usize,
        /// Bytes of one row.
        row_bytes: usize,
    },
    /// A buffer smaller than the layout needs.
    TooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        len: usize,
    },
    /// Arithmetic overflow in a size computation.
    Overflow,
    /// Wrong number of planes or buffers.
    PlaneCount {
        /// Expected count.
        expected: usize,
        /// Count given.
        got: usize,
    },
    /// Two planes of one buffer overlap.
    Overlap {
        /// First plane.
        a: usize,
        /// Second plane.
        b: usize,
    },
    /// Source and destination formats differ.
    FormatMismatch {
        /// Source format.
        src: PixelFormat,
        /// Destination format.
        dst: PixelFormat,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidDimensions { width, height } => {
                write!(f, "invalid dimensions {width}x{height}")
            }
            Self::Unsupported(c) => {
                write!(f, "unsupported fourcc {:?} ({c:#010x})", fourcc_to_string(*c))
            }
            Self::PitchTooSmall { pitch, row_bytes } => {
                write!(f, "pitch {pitch} smaller than a row of {row_bytes} bytes")
            }
            Self::TooSmall { needed, len } => {
                write!(f, "buffer too small: need {needed} bytes, have {len}")
            }
            Self::Overflow => write!(f, "size overflow"),
            Self::PlaneCount { expected, got } => {
                write!(f, "expected {expected} planes/buffers, got {got}")
            }
            Self::Overlap { a, b } => write!(f, "planes {a} and {b} overlap"),
            Self::FormatMismatch { src, dst } => write!(f, "format mismatch: {src:?} vs {dst:?}"),
        }
    }
}

impl std::error::Error for FormatError {}

/// A supported 4:2:0 pixel format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// 8-bit, Y plane then interleaved CbCr plane.
    Nv12,
    /// 16-bit samples (10 significant, high bits), Y plane then interleaved CbCr.
    P010,
    /// 8-bit, Y, Cb, Cr planes (`I420`, V4L2 `YU12`).
    I420,
    /// 8-bit, Y, Cr, Cb planes (`YV12`).
    Yv12,
}

impl PixelFormat {
    /// Number of planes.
    pub fn num_planes(self) -> usize {
        match self {
            Self::Nv12 | Self::P010 => 2,
            Self::I420 | Self::Yv12 => 3,
        }
    }

    /// Bytes per sample.
    pub fn bytes_per_sample(self) -> usize {
        match self {
            Self::P010 => 2,
            _ => 1,
        }
    }

    /// Average bits per pixel (VAImageFormat::bits_per_pixel).
    pub fn bits_per_pixel(self) -> u32 {
        match self {
            Self::P010 => 24,
            _ => 12,
        }
    }

    /// DRM fourcc of the whole (composed) format.
    pub fn drm_fourcc(self) -> DrmFourcc {
        match self {
            Self::Nv12 => DrmFourcc::Nv12,
            Self::P010 => DrmFourcc::P010,
            Self::I420 => DrmFourcc::Yuv420,
            Self::Yv12 => DrmFourcc::Yvu420,
        }
    }

    /// DRM fourcc of one plane exported as a separate layer.
    pub fn plane_drm_fourcc(self, plane: usize) -> Option<DrmFourcc> {
        if plane >= self.num_planes() {
            return None;
        }
        Some(match (self, plane) {
            (Self::Nv12, 0) => DrmFourcc::R8,
            (Self::Nv12, _) => DrmFourcc::Gr88,
            (Self::P010, 0) => DrmFourcc::R16,
            (Self::P010, _) => DrmFourcc::Gr1616,
            _ => DrmFourcc::R8,
        })
    }

    /// VA fourcc.
    pub fn va_fourcc(self) -> u32 {
        match self {
            Self::Nv12 => VA_FOURCC_NV12,
            Self::P010 => VA_FOURCC_P010,
            Self::I420 => VA_FOURCC_I420,
            Self::Yv12 => VA_FOURCC_YV12,
        }
    }

    /// Single-planar V4L2 fourcc.
    pub fn v4l2_fourcc(self) -> u32 {
        match self {
            Self::Nv12 => V4L2_PIX_FMT_NV12,
            Self::P010 => V4L2_PIX_FMT_P010,
            Self::I420 => V4L2_PIX_FMT_YUV420,
            Self::Yv12 => V4L2_PIX_FMT_YVU420,
        }
    }

    /// Multi-planar (one buffer per plane) V4L2 fourcc, if V4L2 has one.
    pub fn v4l2_mplane_fourcc(self) -> Option<u32> {
        match self {
            Self::Nv12 => Some(V4L2_PIX_FMT_NV12M),
            Self::P010 => None,
            Self::I420 => Some(V4L2_PIX_FMT_YUV420M),
            Self::Yv12 => Some(V4L2_PIX_FMT_YVU420M),
        }
    }

    /// Format of a VA fourcc (`YU12` is accepted as I420).
    pub fn from_va_fourcc(code: u32) -> Option<Self> {
        match code {
            VA_FOURCC_NV12 => Some(Self::Nv12),
            VA_FOURCC_P010 => Some(Self::P010),
            VA_FOURCC_I420 | V4L2_PIX_FMT_YUV420 => Some(Self::I420),
            VA_FOURCC_YV12 => Some(Self::Yv12),
            _ => None,
        }
    }

    /// Format of a V4L2 fourcc, and whether it is the one-buffer-per-plane variant.
    pub fn from_v4l2_fourcc(code: u32) -> Option<(Self, bool)> {
        match code {
            V4L2_PIX_FMT_NV12 => Some((Self::Nv12, false)),
            V4L2_PIX_FMT_NV12M => Some((Self::Nv12, true)),
            V4L2_PIX_FMT_P010 => Some((Self::P010, false)),
            V4L2_PIX_FMT_YUV420 => Some((Self::I420, false)),
            V4L2_PIX_FMT_YUV420M => Some((Self::I420, true)),
            V4L2_PIX_FMT_YVU420 => Some((Self::Yv12, false)),
            V4L2_PIX_FMT_YVU420M => Some((Self::Yv12, true)),
            _ => None,
        }
    }

    /// Format of a DRM fourcc.
    pub fn from_drm_fourcc(code: DrmFourcc) -> Option<Self> {
        match code {
            DrmFourcc::Nv12 => Some(Self::Nv12),
            DrmFourcc::P010 => Some(Self::P010),
            DrmFourcc::Yuv420 => Some(Self::I420),
            DrmFourcc::Yvu420 => Some(Self::Yv12),
            _ => None,
        }
    }

    /// Bytes of one row of `plane` for a picture `width` pixels wide.
    pub fn plane_row_bytes(self, plane: usize, width: u32) -> Option<usize> {
        let w = width as usize;
        let cw = w.div_ceil(2);
        let bps = self.bytes_per_sample();
        match (self.num_planes(), plane) {
            (_, 0) => w.checked_mul(bps),
            (2, 1) => cw.checked_mul(2 * bps),
            (3, 1 | 2) => cw.checked_mul(bps),
            _ => None,
        }
    }

    /// Rows of `plane` for a picture `height` pixels high.
    pub fn plane_rows(self, plane: usize, height: u32) -> Option<usize> {
        match plane {
            0 => Some(height as usize),
            p if p < self.num_planes() => Some((height as usize).div_ceil(2)),
            _ => None,
        }
    }
}

/// Where one plane lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlaneLayout {
    /// Index of the memory buffer holding the plane (0 for single-planar formats).
    pub buffer: usize,
    /// Byte offset of the first row in that buffer.
    pub offset: usize,
    /// Bytes from one row to the next.
    pub pitch: usize,
    /// Number of rows.
    pub rows: usize,
    /// Meaningful bytes of each row.
    pub row_bytes: usize,
}

/// Bytes spanned by `rows` rows of `row_bytes` at `pitch` (the last row without padding).
fn span(pitch: usize, row_bytes: usize, rows: usize) -> Result<usize, FormatError> {
    if rows == 0 || row_bytes == 0 {
        return Ok(0);
    }
    pitch.checked_mul(rows - 1).and_then(|v| v.checked_add(row_bytes)).ok_or(FormatError::Overflow)
}

impl PlaneLayout {
    /// One past the last byte of the plane in its buffer.
    pub fn end(&self) -> Result<usize, FormatError> {
        self.offset.checked_add(span(self.pitch, self.row_bytes, self.rows)?).ok_or(FormatError::Overflow)
    }
}

/// The layout of a picture: format, size, planes and the buffers holding them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLayout {
    /// Pixel format.
    pub format: PixelFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    planes: [PlaneLayout; MAX_PLANES],
    buffer_sizes: [usize; MAX_PLANES],
    num_buffers: usize,
}

impl FrameLayout {
    /// A layout from explicit planes and buffer sizes, validated: `planes`
    /// must have one entry per plane of `format`, each row must fit its pitch,
    /// each plane its buffer, and planes sharing a buffer must not overlap.
    pub fn from_planes(
        format: PixelFormat,
        width: u32,
        height: u32,
        planes: &[PlaneLayout],
        buffer_sizes: &[usize],
    ) -> Result<Self, FormatError> {
        if width == 0 || height == 0 {
            return Err(FormatError::InvalidDimensions { width, height });
        }
        let n = format.num_planes();
        if planes.len() != n {
            return Err(FormatError::PlaneCount { expected: n, got: planes.len() });
        }
        if buffer_sizes.is_empty() || buffer_sizes.len() > MAX_PLANES {
            return Err(FormatError::PlaneCount { expected: n, got: buffer_sizes.len() });
        }
        let mut l = Self {
            format,
            width,
            height,
            planes: [PlaneLayout::default(); MAX_PLANES],
            buffer_sizes: [0; MAX_PLANES],
            num_buffers: buffer_sizes.len(),
        };
        l.planes[..n].copy_from_slice(planes);
        l.buffer_sizes[..buffer_sizes.len()].copy_from_slice(buffer_sizes);
        l.validate()?;
        Ok(l)
    }

    /// Check the layout (see [`FrameLayout::from_planes`]).
    pub fn validate(&self) -> Result<(), FormatError> {
        let planes = self.planes();
        for (i, p) in planes.iter().enumerate() {
            let min_row = self.format.plane_row_bytes(i, self.width).ok_or(FormatError::Overflow)?;
            let min_rows = self.format.plane_rows(i, self.height).ok_or(FormatError::Overflow)?;
            if p.row_bytes < min_row {
                return Err(FormatError::PitchTooSmall { pitch: p.row_bytes, row_bytes: min_row });
            }
            if p.rows < min_rows {
                return Err(FormatError::TooSmall { needed: min_rows, len: p.rows });
            }
            if p.pitch < p.row_bytes {
                return Err(FormatError::PitchTooSmall { pitch: p.pitch, row_bytes: p.row_bytes });
            }
            let size = *self
                .buffer_sizes
                .get(p.buffer)
                .filter(|_| p.buffer < self.num_buffers)
                .ok_or(FormatError::PlaneCount { expected: p.buffer + 1, got: self.num_buffers })?;
            let end = p.end()?;
            if end > size {
                return Err(FormatError::TooSmall { needed: end, len: size });
            }
        }
        for a in 0..planes.len() {
            for b in a + 1..planes.len() {
                let (pa, pb) = (&planes[a], &planes[b]);
                if pa.buffer == pb.buffer && pa.offset < pb.end()? && pb.offset < pa.end()? {
                    return Err(FormatError::Overlap { a, b });
                }
            }
        }
        Ok(())
    }

    /// The layout of a single-planar V4L2 CAPTURE format (one buffer), from the
    /// format's width, height, `bytesperline` (luma pitch) and `sizeimage`.
    pub fn from_single_planar(
        format: PixelFormat,
        width: u32,
        height: u32,
        bytesperline: u32,
        sizeimage: u32,
    ) -> Result<Self, FormatError> {
        let pitch = bytesperline as usize;
        let luma_size = pitch.checked_mul(height as usize).ok_or(FormatError::Overflow)?;
        let planes = Self::rule_planes(format, width, height, pitch, luma_size)?;
        Self::from_planes(format, width, height, &planes[..format.num_planes()], &[sizeimage as usize])
    }

    /// The layout of a multi-planar V4L2 CAPTURE format: `planes` holds
    /// `(bytesperline, sizeimage)` per memory plane. One memory plane is the
    /// single-planar rule; otherwise there must be one per picture plane.
    pub fn from_multi_planar(format: PixelFormat, width: u32, height: u32, planes: &[(u32, u32)]) -> Result<Self, FormatError> {
        match planes {
            [(bpl, size)] => Self::from_single_planar(format, width, height, *bpl, *size),
            _ if planes.len() == format.num_planes() => {
                let mut pl = [PlaneLayout::default(); MAX_PLANES];
                let mut sizes = [0usize; MAX_PLANES];
                for (i, &(bpl, size)) in planes.iter().enumerate() {
                    pl[i] = PlaneLayout {
                        buffer: i,
                        offset: 0,
                        pitch: bpl as usize,
                        rows: format.plane_rows(i, height).ok_or(FormatError::Overflow)?,
                        row_bytes: format.plane_row_bytes(i, width).ok_or(FormatError::Overflow)?,
                    };
                    sizes[i] = size as usize;
                }
                let n = planes.len();
                Self::from_planes(format, width, height, &pl[..n], &sizes[..n])
            }
            _ => Err(FormatError::PlaneCount { expected: format.num_planes(), got: planes.len() }),
        }
    }

    /// A contiguous single-buffer layout whose luma pitch is the row size
    /// rounded up to `pitch_align` (0 or 1: no rounding); chroma planes follow
    /// by the V4L2 rule. For VA images created by the driver.
    pub fn contiguous(format: PixelFormat, width: u32, height: u32, pitch_align: u32) -> Result<Self, FormatError> {
        if width == 0 || height == 0 {
            return Err(FormatError::InvalidDimensions { width, height });
        }
        let row = format.plane_row_bytes(0, width).ok_or(FormatError::Overflow)?;
        let align = (pitch_align as usize).max(1);
        // 3-plane formats halve the pitch for chroma: keep it aligned too.
        let align = if format.num_planes() == 3 { align.checked_mul(2).ok_or(FormatError::Overflow)? } else { align };
        let pitch = row.checked_next_multiple_of(align).ok_or(FormatError::Overflow)?;
        let luma_size = pitch.checked_mul(height as usize).ok_or(FormatError::Overflow)?;
        let planes = Self::rule_planes(format, width, height, pitch, luma_size)?;
        let n = format.num_planes();
        let size = planes[n - 1]
            .offset
            .checked_add(planes[n - 1].pitch.checked_mul(planes[n - 1].rows).ok_or(FormatError::Overflow)?)
            .ok_or(FormatError::Overflow)?;
        Self::from_planes(format, width, height, &planes[..n], &[size])
    }

    /// Planes of a single-buffer layout by the V4L2 single-planar rule.
    fn rule_planes(
        format: PixelFormat,
        width: u32,
        height: u32,
        pitch: usize,
        luma_size: usize,
    ) -> Result<[PlaneLayout; MAX_PLANES], FormatError> {
        let mut planes = [PlaneLayout::default(); MAX_PLANES];
        let crow = |i| format.plane_row_bytes(i, width).ok_or(FormatError::Overflow);
        let crows = format.plane_rows(1, height).ok_or(FormatError::Overflow)?;
        planes[0] = PlaneLayout { buffer: 0, offset: 0, pitch, rows: height as usize, row_bytes: crow(0)? };
        match format.num_planes() {
            2 => {
                planes[1] = PlaneLayout { buffer: 0, offset: luma_size, pitch, rows: crows, row_bytes: crow(1)? };
            }
            _ => {
                let cpitch = pitch / 2;
                let csize = cpitch.checked_mul(crows).ok_or(FormatError::Overflow)?;
                planes[1] = PlaneLayout { buffer: 0, offset: luma_size, pitch: cpitch, rows: crows, row_bytes: crow(1)? };
                planes[2] = PlaneLayout {
                    buffer: 0,
                    offset: luma_size.checked_add(csize).ok_or(FormatError::Overflow)?,
                    pitch: cpitch,
                    rows: crows,
                    row_bytes: crow(2)?,
                };
            }
        }
        Ok(planes)
    }

    /// The planes, in format order.
    pub fn planes(&self) -> &[PlaneLayout] {
        &self.planes[..self.format.num_planes()]
    }

    /// One plane.
    pub fn plane(&self, i: usize) -> Option<&PlaneLayout> {
        self.planes().get(i)
    }

    /// Number of memory buffers.
    pub fn num_buffers(&self) -> usize {
        self.num_buffers
    }

    /// Size of memory buffer `i`.
    pub fn buffer_size(&self, i: usize) -> Option<usize> {
        self.buffer_sizes[..self.num_buffers].get(i).copied()
    }

    /// DRM fourcc of the composed format.
    pub fn drm_fourcc(&self) -> DrmFourcc {
        self.format.drm_fourcc()
    }

    /// VA fourcc.
    pub fn va_fourcc(&self) -> u32 {
        self.format.va_fourcc()
    }

    /// The modifier for exporting this layout to a consumer with alignment
    /// `align`: LINEAR only if every plane's pitch and offset are aligned.
    pub fn export_modifier(&self, align: u32) -> u64 {
        let ok = self.planes().iter().all(|p| {
            let fits = |v: usize| u32::try_from(v).is_ok_and(|v| export_modifier(v, align) == DRM_FORMAT_MOD_LINEAR);
            fits(p.pitch) && fits(p.offset)
        });
        if ok {
            DRM_FORMAT_MOD_LINEAR
        } else {
            DRM_FORMAT_MOD_INVALID
        }
    }
}

/// Copy `rows` rows of `row_bytes` bytes from `src` (rows `src_pitch` apart)
/// to `dst` (rows `dst_pitch` apart), writing only those rows' bytes. Bounds
/// are checked before anything is written; bad input is an error, never a
/// panic. When the rows fill both pitches (or there is one row) the plane is
/// one contiguous copy; otherwise it is copied row by row, bounds checked once.
pub fn copy_plane(
    src: &[u8],
    src_pitch: usize,
    dst: &mut [u8],
    dst_pitch: usize,
    row_bytes: usize,
    rows: usize,
) -> Result<(), FormatError> {
    copy_plane_with(src, src_pitch, dst, dst_pitch, row_bytes, rows, false)
}

/// [`copy_plane`] into a destination whose bytes between a row's end and the
/// pitch are padding the caller owns (a VA image or frame being filled whole):
/// they may be overwritten, so equal pitches with little padding (at most
/// 1/16 of the pitch) make the plane one contiguous copy, padding included.
pub fn copy_plane_over_padding(
    src: &[u8],
    src_pitch: usize,
    dst: &mut [u8],
    dst_pitch: usize,
    row_bytes: usize,
    rows: usize,
) -> Result<(), FormatError> {
    copy_plane_with(src, src_pitch, dst, dst_pitch, row_bytes, rows, true)
}

fn copy_plane_with(
    src: &[u8],
    src_pitch: usize,
    dst: &mut [u8],
    dst_pitch: usize,
    row_bytes: usize,
    rows: usize,
    padding_is_scratch: bool,
) -> Result<(), FormatError> {
    if rows == 0 || row_bytes == 0 {
        return Ok(());
    }
    if rows > 1 {
        for pitch in [src_pitch, dst_pitch] {
            if pitch < row_bytes {
                return Err(FormatError::PitchTooSmall { pitch, row_bytes });
            }
        }
    }
    let src_need = span(src_pitch, row_bytes, rows)?;
    let dst_need = span(dst_pitch, row_bytes, rows)?;
    let too_small = |needed, len| FormatError::TooSmall { needed, len };
    let src = src.get(..src_need).ok_or_else(|| too_small(src_need, src.len()))?;
    let dst_len = dst.len();
    let dst = dst.get_mut(..dst_need).ok_or_else(|| too_small(dst_need, dst_len))?;
    let contiguous = src_pitch == row_bytes && dst_pitch == row_bytes;
    let padded_one_copy = padding_is_scratch && src_pitch == dst_pitch && src_pitch - row_bytes <= src_pitch / 16;
    if rows == 1 || contiguous || padded_one_copy {
        dst.copy_from_slice(src);
    } else {
        copy_rows(src, src_pitch, dst, dst_pitch, row_bytes);
    }
    Ok(())
}

/// Rows shorter than this are copied inline in 64-byte blocks, longer ones
/// with one `memcpy` each: a call per row costs as much as copying a short
/// row, and a block loop is slower than the C library's copy for long ones.
const INLINE_ROW_MAX: usize = 256;

/// Row-by-row copy of a checked plane: `src` and `dst` are exactly the spans
/// of their rows (`pitch * (rows - 1) + row_bytes` bytes) and both pitches hold
/// a row. All rows but the last are a whole pitch long (`chunks_exact`), the
/// last one ends at `row_bytes`; the row slices are then in bounds by
/// construction, so the loops carry no per-row checks.
fn copy_rows(src: &[u8], src_pitch: usize, dst: &mut [u8], dst_pitch: usize, row_bytes: usize) {
    if src_pitch < row_bytes || dst_pitch < row_bytes || src.len() < row_bytes || dst.len() < row_bytes {
        return; // Excluded by the caller; lets the optimizer drop the row slicing checks.
    }
    let (Some((src_body, src_last)), Some((dst_body, dst_last))) =
        (src.split_at_checked(src.len().saturating_sub(row_bytes)), dst.split_at_mut_checked(dst.len().saturating_sub(row_bytes)))
    else {
        return;
    };
    let rows = src_body.chunks_exact(src_pitch).zip(dst_body.chunks_exact_mut(dst_pitch));
    if row_bytes < INLINE_ROW_MAX {
        for (s, d) in rows {
            copy_short_row(&s[..row_bytes], &mut d[..row_bytes]);
        }
        copy_short_row(src_last, dst_last);
    } else {
        for (s, d) in rows {
            d[..row_bytes].copy_from_slice(&s[..row_bytes]);
        }
        dst_last.copy_from_slice(src_last);
    }
}

/// Copy a short row without a library call: whole 64-byte blocks, then the
/// last 64 bytes again (overlapping) for the tail. Rows under 64 bytes use
/// `copy_from_slice`. `src` and `dst` have the same length.
#[inline(always)]
fn copy_short_row(src: &[u8], dst: &mut [u8]) {
    const B: usize = 64;
    let (Some(s_tail), Some(d_tail)) = (src.last_chunk::<B>(), dst.last_chunk_mut::<B>()) else {
        dst.copy_from_slice(src);
        return;
    };
    let s_tail = *s_tail;
    *d_tail = s_tail;
    let (s_blocks, _) = src.as_chunks::<B>();
    let (d_blocks, _) = dst.as_chunks_mut::<B>();
    for (d, s) in d_blocks.iter_mut().zip(s_blocks) {
        *d = *s;
    }
}

/// Copy a picture between two single-buffer layouts of the same format: for
/// each plane, the rows and row bytes both layouts have (so a 1920x1088
/// CAPTURE buffer copies into a 1920x1080 image). When a plane's rows cover
/// the destination's row bytes, the destination's padding (between a row's
/// end and the pitch) may be overwritten ([`copy_plane_over_padding`]).
pub fn copy_frame(src_layout: &FrameLayout, src: &[u8], dst_layout: &FrameLayout, dst: &mut [u8]) -> Result<(), FormatError> {
    copy_frame_buffers(src_layout, &[src], dst_layout, &mut [dst])
}

/// [`copy_frame`] for layouts spread over several buffers (multi-planar).
pub fn copy_frame_buffers(
    src_layout: &FrameLayout,
    src: &[&[u8]],
    dst_layout: &FrameLayout,
    dst: &mut [&mut [u8]],
) -> Result<(), FormatError> {
    if src_layout.format != dst_layout.format {
        return Err(FormatError::FormatMismatch { src: src_layout.format, dst: dst_layout.format });
    }
    if src.len() < src_layout.num_buffers() {
        return Err(FormatError::PlaneCount { expected: src_layout.num_buffers(), got: src.len() });
    }
    if dst.len() < dst_layout.num_buffers() {
        return Err(FormatError::PlaneCount { expected: dst_layout.num_buffers(), got: dst.len() });
    }
    // Every buffer holds its layout before the first byte is written.
    for (i, len) in src.iter().map(|b| b.len()).enumerate().take(src_layout.num_buffers()) {
        let needed = src_layout.buffer_size(i).unwrap_or(0);
        if len < needed {
            return Err(FormatError::TooSmall { needed, len });
        }
    }
    for (i, len) in dst.iter().map(|b| b.len()).enumerate().take(dst_layout.num_buffers()) {
        let needed = dst_layout.buffer_size(i).unwrap_or(0);
        if len < needed {
            return Err(FormatError::TooSmall { needed, len });
        }
    }
    for (sp, dp) in src_layout.planes().iter().zip(dst_layout.planes()) {
        let missing = |got| FormatError::PlaneCount { expected: sp.buffer.max(dp.buffer) + 1, got };
        let sbuf = src.get(sp.buffer).ok_or(missing(src.len()))?;
        let dlen = dst.len();
        let dbuf = dst.get_mut(dp.buffer).ok_or(missing(dlen))?;
        let s = sbuf.get(sp.offset..).ok_or(FormatError::TooSmall { needed: sp.offset, len: sbuf.len() })?;
        let dbuf_len = dbuf.len();
        let d = dbuf.get_mut(dp.offset..).ok_or(FormatError::TooSmall { needed: dp.offset, len: dbuf_len })?;
        let (row_bytes, rows) = (sp.row_bytes.min(dp.row_bytes), sp.rows.min(dp.rows));
        if row_bytes == dp.row_bytes {
            copy_plane_over_padding(s, sp.pitch, d, dp.pitch, row_bytes, rows)?;
        } else {
            copy_plane(s, sp.pitch, d, dp.pitch, row_bytes, rows)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v4l2::fourcc::fourcc;

    #[test]
    fn fourcc_codes() {
        assert_eq!(VA_FOURCC_NV12, 0x3231_564e);
        assert_eq!(fourcc_to_string(VA_FOURCC_I420), "I420");
        assert_eq!(fourcc_to_string(0x0000_0041), "A...");
        assert_eq!(PixelFormat::Nv12.drm_fourcc() as u32, fourcc(b"NV12"));
        assert_eq!(PixelFormat::P010.drm_fourcc(), DrmFourcc::P010);
        assert_eq!(PixelFormat::I420.drm_fourcc(), DrmFourcc::Yuv420);
        assert_eq!(PixelFormat::Yv12.drm_fourcc(), DrmFourcc::Yvu420);
        // DRM and VA share the little-endian fourcc encoding for these.
        assert_eq!(DrmFourcc::Nv12 as u32, VA_FOURCC_NV12);
        assert_eq!(DrmFourcc::P010 as u32, VA_FOURCC_P010);
        for f in [PixelFormat::Nv12, PixelFormat::P010, PixelFormat::I420, PixelFormat::Yv12] {
            assert_eq!(PixelFormat::from_va_fourcc(f.va_fourcc()), Some(f));
            assert_eq!(PixelFormat::from_v4l2_fourcc(f.v4l2_fourcc()), Some((f, false)));
            assert_eq!(PixelFormat::from_drm_fourcc(f.drm_fourcc()), Some(f));
            if let Some(m) = f.v4l2_mplane_fourcc() {
                assert_eq!(PixelFormat::from_v4l2_fourcc(m), Some((f, true)));
            }
            assert!(f.plane_drm_fourcc(f.num_planes()).is_none());
        }
        assert_eq!(PixelFormat::from_va_fourcc(fourcc(b"YU12")), Some(PixelFormat::I420));
        assert_eq!(PixelFormat::from_va_fourcc(fourcc(b"RGBA")), None);
        assert_eq!(PixelFormat::from_v4l2_fourcc(fourcc(b"S264")), None);
        assert_eq!(PixelFormat::Nv12.plane_drm_fourcc(1), Some(DrmFourcc::Gr88));
        assert_eq!(PixelFormat::P010.plane_drm_fourcc(0), Some(DrmFourcc::R16));
        assert_eq!(PixelFormat::P010.plane_drm_fourcc(1), Some(DrmFourcc::Gr1616));
        assert_eq!(PixelFormat::I420.plane_drm_fourcc(2), Some(DrmFourcc::R8));
        assert_eq!(PixelFormat::P010.bits_per_pixel(), 24);
    }

    #[test]
    fn modifiers_match_drm_fourcc() {
        assert_eq!(DRM_FORMAT_MOD_LINEAR, u64::from(drm_fourcc::DrmModifier::Linear));
        assert_eq!(DRM_FORMAT_MOD_INVALID, u64::from(drm_fourcc::DrmModifier::Invalid));
    }

    #[test]
    fn modifier_rule() {
        // 864-wide NV12: 864 % 64 == 32 -> INVALID.
        assert_eq!(export_modifier(864, 64), DRM_FORMAT_MOD_INVALID);
        assert_eq!(export_modifier(1920, 64), DRM_FORMAT_MOD_LINEAR);
        assert_eq!(export_modifier(864, 32), DRM_FORMAT_MOD_LINEAR);
        assert_eq!(export_modifier(865, 0), DRM_FORMAT_MOD_LINEAR);
        assert_eq!(export_modifier(865, 1), DRM_FORMAT_MOD_LINEAR);
        assert_eq!(export_modifier(0, 64), DRM_FORMAT_MOD_LINEAR);
        let l864 = FrameLayout::from_single_planar(PixelFormat::Nv12, 864, 480, 864, 864 * 720).unwrap();
        assert_eq!(l864.export_modifier(64), DRM_FORMAT_MOD_INVALID);
        let l1920 = FrameLayout::from_single_planar(PixelFormat::Nv12, 1920, 1088, 1920, 1920 * 1632).unwrap();
        assert_eq!(l1920.export_modifier(DEFAULT_EXPORT_ALIGN), DRM_FORMAT_MOD_LINEAR);
        // I420 1920: chroma pitch 960 = 15*64; 1856 wide: chroma 928 not aligned.
        let i = FrameLayout::from_single_planar(PixelFormat::I420, 1920, 1080, 1920, 1920 * 1620).unwrap();
        assert_eq!(i.export_modifier(64), DRM_FORMAT_MOD_LINEAR);
        let i = FrameLayout::from_single_planar(PixelFormat::I420, 1856, 1080, 1856, 1856 * 1620).unwrap();
        assert_eq!(i.export_modifier(64), DRM_FORMAT_MOD_INVALID);
    }

    #[test]
    fn export_align_parse() {
        assert_eq!(parse_export_align(""), None);
        assert_eq!(parse_export_align(" 256 "), Some(256));
        assert_eq!(parse_export_align("64"), Some(64));
        assert_eq!(parse_export_align("0"), None);
        assert_eq!(parse_export_align("-64"), None);
        assert_eq!(parse_export_align("8192"), None);
        assert_eq!(parse_export_align("sixty-four"), None);
        // By default every pitch is LINEAR.
        assert_eq!(export_modifier(176, DEFAULT_EXPORT_ALIGN), DRM_FORMAT_MOD_LINEAR);
    }

    #[test]
    fn nv12_single_planar() {
        let l = FrameLayout::from_single_planar(PixelFormat::Nv12, 1920, 1088, 1920, 3_133_440).unwrap();
        let p = l.planes();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0], PlaneLayout { buffer: 0, offset: 0, pitch: 1920, rows: 1088, row_bytes: 1920 });
        assert_eq!(p[1], PlaneLayout { buffer: 0, offset: 1920 * 1088, pitch: 1920, rows: 544, row_bytes: 1920 });
        assert_eq!(l.num_buffers(), 1);
        assert_eq!(l.buffer_size(0), Some(3_133_440));
        assert_eq!(l.buffer_size(1), None);
        assert_eq!(l.va_fourcc(), VA_FOURCC_NV12);
        assert_eq!(l.drm_fourcc(), DrmFourcc::Nv12);
        // Padded pitch, odd size.
        let l = FrameLayout::from_single_planar(PixelFormat::Nv12, 853, 479, 896, 896 * 720).unwrap();
        assert_eq!(l.planes()[1].offset, 896 * 479);
        assert_eq!(l.planes()[1].rows, 240);
        assert_eq!(l.planes()[1].row_bytes, 854);
        // sizeimage too small, pitch too small, zero size.
        assert_eq!(
            FrameLayout::from_single_planar(PixelFormat::Nv12, 1920, 1088, 1920, 1920 * 1088),
            Err(FormatError::TooSmall { needed: 1920 * 1088 + 1920 * 543 + 1920, len: 1920 * 1088 })
        );
        assert_eq!(
            FrameLayout::from_single_planar(PixelFormat::Nv12, 1920, 1080, 1800, u32::MAX),
            Err(FormatError::PitchTooSmall { pitch: 1800, row_bytes: 1920 })
        );
        assert_eq!(
            FrameLayout::from_single_planar(PixelFormat::Nv12, 0, 1080, 1920, u32::MAX),
            Err(FormatError::InvalidDimensions { width: 0, height: 1080 })
        );
        // Absurd values do not overflow or panic.
        assert!(FrameLayout::from_single_planar(PixelFormat::Nv12, u32::MAX, u32::MAX, u32::MAX, u32::MAX).is_err());
    }

    #[test]
    fn p010_single_planar() {
        let l = FrameLayout::from_single_planar(PixelFormat::P010, 1920, 1080, 3840, 3840 * 1620).unwrap();
        assert_eq!(l.planes()[0].row_bytes, 3840);
        assert_eq!(l.planes()[1], PlaneLayout { buffer: 0, offset: 3840 * 1080, pitch: 3840, rows: 540, row_bytes: 3840 });
        assert_eq!(l.drm_fourcc(), DrmFourcc::P010);
        assert!(FrameLayout::from_single_planar(PixelFormat::P010, 1920, 1080, 1920, u32::MAX).is_err());
    }

    #[test]
    fn yuv420_single_planar() {
        let l = FrameLayout::from_single_planar(PixelFormat::I420, 1280, 720, 1280, 1280 * 1080).unwrap();
        let p = l.planes();
        assert_eq!(p.len(), 3);
        assert_eq!(p[1], PlaneLayout { buffer: 0, offset: 1280 * 720, pitch: 640, rows: 360, row_bytes: 640 });
        assert_eq!(p[2], PlaneLayout { buffer: 0, offset: 1280 * 720 + 640 * 360, pitch: 640, rows: 360, row_bytes: 640 });
        assert_eq!(l.va_fourcc(), VA_FOURCC_I420);
        let y = FrameLayout::from_single_planar(PixelFormat::Yv12, 1280, 720, 1280, 1280 * 1080).unwrap();
        assert_eq!(y.va_fourcc(), VA_FOURCC_YV12);
        assert_eq!(y.drm_fourcc(), DrmFourcc::Yvu420);
        // Odd width: chroma rows of ceil(w/2) must fit half the pitch.
        let o = FrameLayout::from_single_planar(PixelFormat::I420, 7, 5, 8, 100).unwrap();
        assert_eq!(o.planes()[1].row_bytes, 4);
        assert_eq!(o.planes()[2].offset, 40 + 4 * 3);
        assert!(FrameLayout::from_single_planar(PixelFormat::I420, 7, 5, 7, 100).is_err());
    }

    #[test]
    fn multi_planar() {
        let l = FrameLayout::from_multi_planar(PixelFormat::Nv12, 1920, 1080, &[(2048, 2048 * 1080), (2048, 2048 * 540)]).unwrap();
        assert_eq!(l.num_buffers(), 2);
        assert_eq!(l.planes()[1], PlaneLayout { buffer: 1, offset: 0, pitch: 2048, rows: 540, row_bytes: 1920 });
        let single = FrameLayout::from_multi_planar(PixelFormat::Nv12, 1920, 1080, &[(1920, 1920 * 1620)]).unwrap();
        assert_eq!(single, FrameLayout::from_single_planar(PixelFormat::Nv12, 1920, 1080, 1920, 1920 * 1620).unwrap());
        let i = FrameLayout::from_multi_planar(PixelFormat::I420, 64, 64, &[(64, 4096), (32, 1024), (32, 1024)]).unwrap();
        assert_eq!(i.planes()[2].buffer, 2);
        assert_eq!(FrameLayout::from_multi_planar(PixelFormat::Nv12, 64, 64, &[]), Err(FormatError::PlaneCount { expected: 2, got: 0 }));
        assert!(FrameLayout::from_multi_planar(PixelFormat::Nv12, 64, 64, &[(64, 4096), (64, 100)]).is_err());
        assert!(FrameLayout::from_multi_planar(PixelFormat::Nv12, 64, 64, &[(64, 4096); 3]).is_err());
    }

    #[test]
    fn from_planes_rejects_overlap_and_bad_buffers() {
        let y = PlaneLayout { buffer: 0, offset: 0, pitch: 64, rows: 64, row_bytes: 64 };
        let uv = PlaneLayout { buffer: 0, offset: 64 * 63, pitch: 64, rows: 32, row_bytes: 64 };
        assert_eq!(FrameLayout::from_planes(PixelFormat::Nv12, 64, 64, &[y, uv], &[8192]), Err(FormatError::Overlap { a: 0, b: 1 }));
        let uv = PlaneLayout { buffer: 1, offset: 0, pitch: 64, rows: 32, row_bytes: 64 };
        assert!(matches!(FrameLayout::from_planes(PixelFormat::Nv12, 64, 64, &[y, uv], &[8192]), Err(FormatError::PlaneCount { .. })));
        assert!(FrameLayout::from_planes(PixelFormat::Nv12, 64, 64, &[y, uv], &[4096, 2048]).is_ok());
        assert!(FrameLayout::from_planes(PixelFormat::Nv12, 64, 64, &[y], &[4096]).is_err());
        assert!(FrameLayout::from_planes(PixelFormat::Nv12, 64, 64, &[y, uv], &[]).is_err());
        let short = PlaneLayout { rows: 31, ..uv };
        assert!(FrameLayout::from_planes(PixelFormat::Nv12, 64, 64, &[y, short], &[4096, 2048]).is_err());
    }

    #[test]
    fn contiguous_layouts() {
        let l = FrameLayout::contiguous(PixelFormat::Nv12, 864, 480, 64).unwrap();
        assert_eq!(l.planes()[0].pitch, 896);
        assert_eq!(l.planes()[1].offset, 896 * 480);
        assert_eq!(l.buffer_size(0), Some(896 * 720));
        assert_eq!(l.export_modifier(64), DRM_FORMAT_MOD_LINEAR);
        let t = FrameLayout::contiguous(PixelFormat::Nv12, 864, 480, 0).unwrap();
        assert_eq!(t.planes()[0].pitch, 864);
        let i = FrameLayout::contiguous(PixelFormat::I420, 1856, 1080, 64).unwrap();
        assert_eq!(i.planes()[0].pitch, 1920);
        assert_eq!(i.planes()[1].pitch, 960);
        assert_eq!(i.export_modifier(64), DRM_FORMAT_MOD_LINEAR);
        let p = FrameLayout::contiguous(PixelFormat::P010, 1920, 1080, 256).unwrap();
        assert_eq!(p.planes()[0].pitch, 3840);
        assert!(FrameLayout::contiguous(PixelFormat::Nv12, 0, 1, 64).is_err());
        assert!(FrameLayout::contiguous(PixelFormat::Nv12, u32::MAX, u32::MAX, u32::MAX).is_err());
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// Check a strict row copy: the rows equal the source's, every other
    /// destination byte keeps its fill.
    fn check_rows(src: &[u8], dst: &[u8], (sp, dp, row, rows): (usize, usize, usize, usize), fill: u8, what: &str) {
        for (i, &b) in dst.iter().enumerate() {
            let (r, c) = (i / dp, i % dp);
            if r < rows && c < row {
                assert_eq!(b, src[r * sp + c], "{what}: row {r} byte {c}");
            } else {
                assert_eq!(b, fill, "{what}: byte {i} (row {r}, column {c}) outside the rows was written");
            }
        }
    }

    #[test]
    fn copy_plane_any_pitch() {
        // (src pitch, dst pitch, row bytes, rows): equal, larger and smaller
        // pitches; odd widths; rows below 64 bytes, short rows (inline block
        // copy, with an overlapping tail) and long ones (one memcpy per row).
        let cases = [
            (16, 16, 16, 4),
            (16, 16, 15, 4),
            (20, 16, 16, 5),
            (16, 24, 13, 3),
            (7, 9, 7, 6),
            (100, 3, 3, 1),
            (192, 176, 176, 9),
            (176, 192, 176, 9),
            (192, 192, 176, 9),
            (200, 200, 177, 7),
            (128, 200, 64, 5),
            (256, 300, 255, 4),
            (2048, 1920, 1920, 3),
            (1920, 2048, 1920, 3),
            (2304, 2304, 1919, 3),
            (4096, 3840, 3840, 2),
        ];
        for (sp, dp, row, rows) in cases {
            let src = pattern(sp * rows);
            let mut dst = vec![0xAAu8; dp * rows];
            copy_plane(&src, sp, &mut dst, dp, row, rows).unwrap();
            check_rows(&src, &dst, (sp, dp, row, rows), 0xAA, &format!("sp={sp} dp={dp} row={row}"));
        }
    }

    #[test]
    fn copy_plane_10_bit_samples() {
        // P010: 2 bytes per sample, 1921 samples wide (odd), 176x3 and 1920x3.
        for (samples, sp, dp) in [(1921usize, 4096usize, 3872usize), (176, 384, 352), (176, 352, 384), (1920, 3840, 3840)] {
            let (row, rows) = (samples * 2, 3);
            let src: Vec<u8> = (0..sp * rows).map(|i| (i / 2 % 1024) as u8 ^ (i % 2) as u8).collect();
            let mut dst = vec![0x55u8; dp * rows];
            copy_plane(&src, sp, &mut dst, dp, row, rows).unwrap();
            check_rows(&src, &dst, (sp, dp, row, rows), 0x55, &format!("P010 {samples} samples, sp={sp} dp={dp}"));
        }
    }

    #[test]
    fn copy_plane_keeps_destination_padding_with_equal_pitches() {
        // A vaPutImage rectangle narrower than the surface: equal pitches, but
        // the bytes right of the rectangle are pixels and must stay.
        let src = pattern(1920 * 4);
        let mut dst = vec![0x11u8; 1920 * 4];
        copy_plane(&src, 1920, &mut dst, 1920, 1856, 4).unwrap();
        check_rows(&src, &dst, (1920, 1920, 1856, 4), 0x11, "equal pitches, narrower rows");
    }

    #[test]
    fn copy_plane_over_padding_is_one_copy_for_equal_pitches() {
        // Padding up to 1/16 of the pitch: one copy, padding included (from the source).
        let src = pattern(2048 * 3 + 1920);
        let mut dst = vec![0u8; 2048 * 4];
        copy_plane_over_padding(&src, 2048, &mut dst, 2048, 1920, 4).unwrap();
        assert_eq!(&dst[..2048 * 3 + 1920], &src[..]);
        assert!(dst[2048 * 3 + 1920..].iter().all(|&b| b == 0), "nothing past the last row");
        // More padding, or different pitches: row by row, padding untouched.
        for (sp, dp, row) in [(2304, 2304, 1920), (2048, 1920, 1920), (192, 192, 176)] {
            let src = pattern(sp * 4);
            let mut dst = vec![0xEEu8; dp * 4];
            copy_plane_over_padding(&src, sp, &mut dst, dp, row, 4).unwrap();
            check_rows(&src, &dst, (sp, dp, row, 4), 0xEE, &format!("over padding sp={sp} dp={dp} row={row}"));
        }
        // The same bounds checks as copy_plane; nothing written on error.
        let mut dst = vec![0u8; 2048 * 3];
        assert_eq!(
            copy_plane_over_padding(&src, 2048, &mut dst, 2048, 1920, 4),
            Err(FormatError::TooSmall { needed: 2048 * 3 + 1920, len: 2048 * 3 })
        );
        assert!(dst.iter().all(|&b| b == 0));
        assert_eq!(
            copy_plane_over_padding(&src, 2048, &mut dst, 1000, 1920, 2),
            Err(FormatError::PitchTooSmall { pitch: 1000, row_bytes: 1920 })
        );
    }

    #[test]
    fn copy_plane_exact_sized_buffers() {
        // The last row needs no padding.
        let src = pattern(32 * 2 + 10);
        let mut dst = vec![0u8; 12 * 2 + 10];
        copy_plane(&src, 32, &mut dst, 12, 10, 3).unwrap();
        assert_eq!(&dst[24..34], &src[64..74]);
        // Short (inline) and long (memcpy) rows, both directions, exact sizes.
        for (sp, dp, row) in [(192, 176, 176), (176, 192, 176), (2048, 1920, 1920), (1920, 2048, 1920), (300, 256, 200)] {
            let src = pattern(sp * 4 + row);
            let mut dst = vec![0x77u8; dp * 4 + row];
            copy_plane(&src, sp, &mut dst, dp, row, 5).unwrap();
            check_rows(&src, &dst, (sp, dp, row, 5), 0x77, &format!("exact sp={sp} dp={dp}"));
            // One byte short on either side: an error, nothing written.
            let mut short = vec![0x77u8; dp * 4 + row - 1];
            assert!(matches!(copy_plane(&src, sp, &mut short, dp, row, 5), Err(FormatError::TooSmall { .. })));
            assert!(short.iter().all(|&b| b == 0x77));
            assert!(matches!(copy_plane(&src[..src.len() - 1], sp, &mut dst, dp, row, 5), Err(FormatError::TooSmall { .. })));
        }
    }

    #[test]
    fn copy_plane_errors_never_panic() {
        let src = vec![1u8; 64];
        let mut dst = vec![0u8; 64];
        assert_eq!(copy_plane(&src, 8, &mut dst, 8, 0, 100), Ok(()));
        assert_eq!(copy_plane(&src, 8, &mut dst, 8, 8, 0), Ok(()));
        assert_eq!(copy_plane(&src, 4, &mut dst, 8, 8, 2), Err(FormatError::PitchTooSmall { pitch: 4, row_bytes: 8 }));
        assert_eq!(copy_plane(&src, 8, &mut dst, 0, 8, 2), Err(FormatError::PitchTooSmall { pitch: 0, row_bytes: 8 }));
        assert_eq!(copy_plane(&src, 8, &mut dst, 8, 8, 9), Err(FormatError::TooSmall { needed: 72, len: 64 }));
        assert_eq!(copy_plane(&src, 8, &mut dst, 16, 8, 5), Err(FormatError::TooSmall { needed: 72, len: 64 }));
        assert_eq!(copy_plane(&src, usize::MAX, &mut dst, 8, 8, 3), Err(FormatError::Overflow));
        assert_eq!(copy_plane(&src, 0, &mut dst, 0, 8, 1), Ok(()));
        assert!(dst[..8].iter().all(|&b| b == 1));
        assert!(dst[8..].iter().all(|&b| b == 0), "failed copies write nothing");
    }

    #[test]
    fn copy_frame_between_pitches_and_heights() {
        // 1920x1088 CAPTURE (pitch 2048) into a 1920x1080 image (pitch 1920).
        let s = FrameLayout::from_single_planar(PixelFormat::Nv12, 1920, 1088, 2048, 2048 * 1632).unwrap();
        let d = FrameLayout::contiguous(PixelFormat::Nv12, 1920, 1080, 0).unwrap();
        let src = pattern(2048 * 1632);
        let mut dst = vec![0u8; d.buffer_size(0).unwrap()];
        copy_frame(&s, &src, &d, &mut dst).unwrap();
        for (r, (so, doff)) in [(0usize, (0usize, 0usize)), (1079, (2048 * 1079, 1920 * 1079))] {
            assert_eq!(&dst[doff..doff + 1920], &src[so..so + 1920], "luma row {r}");
        }
        let (sc, dc) = (2048 * 1088, 1920 * 1080);
        assert_eq!(&dst[dc..dc + 1920], &src[sc..sc + 1920]);
        assert_eq!(&dst[dc + 1920 * 539..dc + 1920 * 540], &src[sc + 2048 * 539..sc + 2048 * 539 + 1920]);
        // Back again, and into a multi-planar layout.
        let mut back = vec![0u8; 2048 * 1632];
        copy_frame(&d, &dst, &s, &mut back).unwrap();
        assert_eq!(&back[2048 * 1079..2048 * 1079 + 1920], &src[2048 * 1079..2048 * 1079 + 1920]);
        let m = FrameLayout::from_multi_planar(PixelFormat::Nv12, 1920, 1080, &[(1920, 1920 * 1080), (1920, 1920 * 540)]).unwrap();
        let (mut y, mut uv) = (vec![0u8; 1920 * 1080], vec![0u8; 1920 * 540]);
        copy_frame_buffers(&s, &[&src], &m, &mut [&mut y, &mut uv]).unwrap();
        assert_eq!(&uv[..1920], &src[sc..sc + 1920]);
        assert_eq!(&y[1920 * 5..1920 * 6], &src[2048 * 5..2048 * 5 + 1920]);
    }

    #[test]
    fn copy_frame_errors() {
        let n = FrameLayout::contiguous(PixelFormat::Nv12, 16, 16, 0).unwrap();
        let i = FrameLayout::contiguous(PixelFormat::I420, 16, 16, 0).unwrap();
        let src = vec![0u8; 384];
        let mut dst = vec![0u8; 384];
        assert!(matches!(copy_frame(&n, &src, &i, &mut dst), Err(FormatError::FormatMismatch { .. })));
        assert!(matches!(copy_frame(&n, &src[..100], &n, &mut dst), Err(FormatError::TooSmall { .. })));
        assert!(matches!(copy_frame(&n, &src, &n, &mut dst[..300]), Err(FormatError::TooSmall { .. })));
        // A destination that holds the luma plane but not the chroma: nothing written.
        let src = pattern(384);
        assert!(matches!(copy_frame(&n, &src, &n, &mut dst[..300]), Err(FormatError::TooSmall { .. })));
        assert!(dst.iter().all(|&b| b == 0), "a failed frame copy writes nothing");
        assert!(copy_frame(&n, &src, &n, &mut dst).is_ok());
        let m = FrameLayout::from_multi_planar(PixelFormat::Nv12, 16, 16, &[(16, 256), (16, 128)]).unwrap();
        assert!(matches!(copy_frame(&n, &src, &m, &mut dst), Err(FormatError::PlaneCount { .. })));
        assert!(FormatError::Unsupported(VA_FOURCC_NV12).to_string().contains("NV12"));
    }
}
