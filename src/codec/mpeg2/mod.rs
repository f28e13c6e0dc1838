//! MPEG-2: VA-API buffers → V4L2 stateless MPEG-2 controls.
//!
//! # The idea
//!
//! One VA picture carries a `VAPictureParameterBufferMPEG2` (picture header and
//! picture coding extension, the two reference surfaces), usually a
//! `VAIQMatrixBufferMPEG2`, and one `VASliceParameterBufferMPEG2` plus the
//! slice bytes per slice. The V4L2 uAPI wants three controls per request:
//!
//! - SEQUENCE (`v4l2_ctrl_mpeg2_sequence`): sizes, `vbv_buffer_size`,
//!   `profile_and_level_indication`, `chroma_format`, `progressive_sequence`.
//!   VA carries only the sizes; the sequence header is never handed to the
//!   driver (FFmpeg and GStreamer-va pass slices only), so the rest is derived
//!   (see [`build_controls_with_state`] for each value and how it compares
//!   with GStreamer's `v4l2slmpeg2dec`).
//! - PICTURE (`v4l2_ctrl_mpeg2_picture`): the picture coding extension
//!   fields, which VA carries one to one (the `picture_coding_extension`
//!   bitfield word and the packed `f_code`), and the two references as V4L2
//!   timestamps, resolved through [`RefResolver`].
//! - QUANTISATION (`v4l2_ctrl_mpeg2_quantisation`): the four matrices, in the
//!   bitstream's zigzag order in both APIs. VA may omit a matrix (`load_*` = 0)
//!   or the whole buffer, meaning "unchanged"; [`Mpeg2State`] keeps the
//!   matrices in force (initially the standard defaults).
//!
//! The OUTPUT buffer ([`append_bitstream`]) holds the picture's slices, each
//! from its slice start code (`00 00 01 xx`) on, concatenated: that is what
//! `V4L2_PIX_FMT_MPEG2_SLICE` decoders parse and what GStreamer writes
//! (`slice->sc_offset .. + slice->size`). FFmpeg's VA slice data starts at the
//! start code too; a slice without one gets it re-synthesised.
//!
//! Field pictures: VA says which field (`picture_structure` 1 = top, 2 =
//! bottom) and whether it is the first of the pair (`is_first_field`). Both
//! fields decode into the same CAPTURE buffer: the driver queues the first
//! field with `V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF` and the second one into the
//! same buffer with the same OUTPUT timestamp, as GStreamer does with its
//! sub-requests ([`Mpeg2Controls::hold_capture`]). The references are those VA
//! names, i.e. the previous reference *frames*: the second field of a P frame
//! referencing the first field of the same frame is handled by the decoder
//! itself (hantro and cedrus read the opposite field from the destination
//! buffer), which is also what GStreamer sends (its DPB holds only completed
//! frames).

mod translate;

pub use translate::{append_bitstream, build_controls_with_state, Mpeg2State};
#[cfg(test)]
pub use translate::{build_controls, va_profiles, PicExt};

use crate::va_sys::ffi::{VAIQMatrixBufferMPEG2, VAPictureParameterBufferMPEG2, VAProfile, VASliceParameterBufferMPEG2};
use v4l2r::bindings::{v4l2_ctrl_mpeg2_picture, v4l2_ctrl_mpeg2_quantisation, v4l2_ctrl_mpeg2_sequence};

/// One slice: its VA parameters and its bytes.
#[derive(Clone, Copy)]
pub struct Mpeg2Slice<'a> {
    /// The slice parameter buffer element as the application filled it.
    pub param: VASliceParameterBufferMPEG2,
    /// `slice_data_offset .. + slice_data_size` of the VA slice data buffer
    /// (FFmpeg and GStreamer-va: from the `00 00 01 xx` slice start code on).
    pub data: &'a [u8],
}

/// Everything VA gave for one picture (field or frame).
#[derive(Clone, Copy)]
pub struct Mpeg2Picture<'a> {
    /// Picture parameter buffer.
    pub pic: &'a VAPictureParameterBufferMPEG2,
    /// `pic.picture_coding_extension.value` (a bitfield union, read at the VA
    /// edge: this layer has no `unsafe`).
    pub picture_coding_extension: u32,
    /// IQ matrix buffer, if the application sent one with this picture.
    pub iq: Option<&'a VAIQMatrixBufferMPEG2>,
    /// The slices, in bitstream order.
    pub slices: &'a [Mpeg2Slice<'a>],
    /// The VA profile of the config (MPEG2Simple or MPEG2Main): gives the
    /// profile half of `profile_and_level_indication`, which VA omits.
    pub profile: VAProfile,
}

pub use crate::codec::h264::RefResolver;

/// The V4L2 controls for one picture.
#[derive(Clone, Copy, Debug)]
pub struct Mpeg2Controls {
    /// V4L2_CID_STATELESS_MPEG2_SEQUENCE.
    pub sequence: v4l2_ctrl_mpeg2_sequence,
    /// V4L2_CID_STATELESS_MPEG2_PICTURE.
    pub picture: v4l2_ctrl_mpeg2_picture,
    /// V4L2_CID_STATELESS_MPEG2_QUANTISATION.
    pub quantisation: v4l2_ctrl_mpeg2_quantisation,
    /// True for the first field of a field pair: queue it with
    /// `V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF`, the second field goes into the
    /// same CAPTURE buffer (same OUTPUT timestamp).
    pub hold_capture: bool,
    /// True for the second field of a field pair (decodes into the CAPTURE
    /// buffer the first field was decoded into).
    pub second_field: bool,
}

impl Mpeg2Controls {
    /// The three controls, in the order GStreamer sets them. Sending all three
    /// with every request is always correct (GStreamer skips SEQUENCE and
    /// QUANTISATION when unchanged; the values in force are the same).
    pub fn specs(&self) -> [crate::v4l2::ControlSpec<'_>; 3] {
        use crate::v4l2::ControlSpec;
        [ControlSpec::new(&self.sequence), ControlSpec::new(&self.picture), ControlSpec::new(&self.quantisation)]
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
pub(crate) mod tests;
