//! Codec layer: VA-API parameter buffers → V4L2 stateless controls.
//!
//! # The idea
//!
//! A VA-API application (FFmpeg, GStreamer-va, Chromium...) parses the bitstream
//! itself and hands the driver *almost* everything a stateless decoder needs:
//! picture parameters (SPS/PPS fields plus the DPB), per-slice parameters with
//! the reference lists and weights, an inverse-quantisation matrix and the raw
//! slice NAL units. The V4L2 stateless uAPI asks for a slightly different set of
//! syntax elements. Most map one to one; a few that VA omits (for H.264:
//! `nal_ref_idc`, `idr_pic_id`, the bit sizes of `dec_ref_pic_marking()` and of
//! the `pic_order_cnt` syntax, the exact slice header size...) are recovered by
//! re-parsing the slice header from the slice data, which VA passes untouched.
//!
//! Everything here is pure: no ioctls, no global state, no `unsafe`. Inputs are
//! VA structs and byte slices, outputs are the `v4l2r::bindings` control
//! structs, ready to be handed to `VIDIOC_S_EXT_CTRLS` by the V4L2 layer. Bad
//! input (truncated or malformed slice data) yields a [`CodecError`], never a
//! panic.
//!
//! - [`bitreader`]: an RBSP bit reader that strips emulation-prevention bytes on
//!   the fly and keeps count of both RBSP and raw (escaped) positions.
//! - [`h264`]: slice header re-parser and the VA → V4L2 H.264 translation.
//! - `fuzz` (tests only): the deterministic fuzzer every codec's
//!   `fuzz_translation` target runs on, with arbitrary VA parameter structs and
//!   real slice data; part of `cargo test --release`.
#![forbid(unsafe_code)]

pub mod av1;
pub mod bitreader;
#[cfg(test)]
pub(crate) mod fuzz;
pub mod h264;
pub mod hevc;
pub mod mpeg2;
pub mod nal;
pub mod vp8;
pub mod vp9;

use std::fmt;

/// The controls of one request, up to `N`, kept inline (no allocation per
/// picture); reads as a slice of [`crate::v4l2::ControlSpec`].
#[derive(Clone, Copy, Debug)]
pub struct Specs<'a, const N: usize> {
    items: [crate::v4l2::ControlSpec<'a>; N],
    len: usize,
}

impl<'a, const N: usize> Specs<'a, N> {
    /// A list holding `first`.
    pub fn new(first: crate::v4l2::ControlSpec<'a>) -> Self {
        Specs { items: [first; N], len: 1 }
    }

    /// Append `spec`; the list holds at most `N` (a bigger list is a bug of the caller).
    pub fn push(&mut self, spec: crate::v4l2::ControlSpec<'a>) {
        self.items[self.len] = spec;
        self.len += 1;
    }
}

impl<'a, const N: usize> std::ops::Deref for Specs<'a, N> {
    type Target = [crate::v4l2::ControlSpec<'a>];
    fn deref(&self) -> &Self::Target {
        &self.items[..self.len]
    }
}

/// Errors of the codec layer. Every one of them means "this picture cannot be
/// translated"; the driver maps them to `VA_STATUS_ERROR_INVALID_PARAMETER` or
/// `VA_STATUS_ERROR_DECODING_ERROR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The bitstream ended before the syntax element being read.
    Truncated,
    /// A syntax element has a value the standard forbids (the text names it).
    Invalid(&'static str),
    /// A valid stream, but a feature this driver does not handle (e.g. MVC/SVC NAL units).
    Unsupported(&'static str),
    /// A reference picture the application named is unknown to the driver.
    MissingReference,
    /// The application gave no slice (or an empty one) for a picture.
    NoSlices,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Truncated => write!(f, "bitstream truncated"),
            CodecError::Invalid(what) => write!(f, "invalid bitstream: {what}"),
            CodecError::Unsupported(what) => write!(f, "unsupported: {what}"),
            CodecError::MissingReference => write!(f, "reference picture missing"),
            CodecError::NoSlices => write!(f, "picture has no slice"),
        }
    }
}

impl std::error::Error for CodecError {}
