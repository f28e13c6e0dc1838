//! VP8: VA-API buffers → the V4L2 stateless VP8 FRAME control.
//!
//! # The idea
//!
//! A VA VP8 picture is a `VAPictureParameterBufferVP8` (header flags, loop
//! filter and segment results, mode/MV probabilities, the bool decoder state
//! at the end of the frame header, the three reference surfaces), a
//! `VAIQMatrixBufferVP8` (per-segment quantiser indices), usually a
//! `VAProbabilityDataBufferVP8` (coefficient probabilities after this frame's
//! updates), and one `VASliceParameterBufferVP8` with the frame data (first
//! partition offset and sizes, the header's bit length as
//! `macroblock_offset`, DCT partition sizes).
//!
//! V4L2 wants one `v4l2_ctrl_vp8_frame` and the *whole* frame in the OUTPUT
//! buffer, uncompressed chunk included (decoders find the first partition at
//! byte 3 or 10 themselves). Applications differ in what the slice data holds:
//!
//! - FFmpeg (`vaapi_vp8.c`): the frame *after* the uncompressed chunk,
//!   `slice_data_offset` 0; `macroblock_offset` counts from the first
//!   partition's start. The chunk is rebuilt from VA's values
//!   ([`header::FrameTag::write`]): `first_part_size` = `partition_size[0]` +
//!   ceil(`macroblock_offset` / 8), sizes from the picture buffer;
//!   `show_frame` is not in VA and is written as 1, scales as 0.
//! - GStreamer-va: the whole frame, `slice_data_offset` = 3 or 10 (and
//!   `slice_data_size` the whole frame's size). The chunk in front of the
//!   offset is used as is (real `show_frame` and scales).
//!
//! The frame header in the first partition is re-parsed ([`header`]) for what
//! VA gives only combined with segmentation (raw segment values and their
//! mode, the frame loop filter level, the raw quantiser indices); what VP8
//! keeps across frames is kept in [`Vp8State`], as GStreamer's parser does.
//! References are named by the V4L2 timestamps of the CAPTURE buffers holding
//! them ([`RefResolver`]).

pub mod header;
mod translate;

pub use translate::{append_bitstream, build_controls_with_state, Vp8State};
#[cfg(test)]
pub use translate::{build_controls, va_profiles};

use crate::va_sys::ffi::{VAIQMatrixBufferVP8, VAPictureParameterBufferVP8, VAProbabilityDataBufferVP8, VASliceParameterBufferVP8};
use v4l2r::bindings::v4l2_ctrl_vp8_frame;

pub use crate::codec::h264::RefResolver;

/// Everything VA gave for one frame.
#[derive(Clone, Copy)]
pub struct Vp8Picture<'a> {
    /// Picture parameter buffer.
    pub pic: &'a VAPictureParameterBufferVP8,
    /// `pic.pic_fields.value` (a bitfield union, read at the VA edge).
    pub pic_fields: u32,
    /// IQ matrix buffer (per-segment quantiser indices).
    pub iq: &'a VAIQMatrixBufferVP8,
    /// Coefficient probabilities; None: the last ones seen in the context
    /// ([`Vp8State`]) are used.
    pub probs: Option<&'a VAProbabilityDataBufferVP8>,
    /// The (single) slice parameter buffer.
    pub slice: VASliceParameterBufferVP8,
    /// The whole VA slice data buffer the slice parameters refer to.
    pub data: &'a [u8],
}

/// The V4L2 control for one frame.
#[derive(Clone, Copy, Debug)]
pub struct Vp8Controls {
    /// V4L2_CID_STATELESS_VP8_FRAME.
    pub frame: v4l2_ctrl_vp8_frame,
}

impl Vp8Controls {
    /// The one control of the request.
    pub fn specs(&self) -> [crate::v4l2::ControlSpec<'_>; 1] {
        [crate::v4l2::ControlSpec::new(&self.frame)]
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
pub(crate) mod tests;
