//! H.264: VA-API buffers → V4L2 stateless H.264 controls.
//!
//! # The idea
//!
//! One VA picture (`vaBeginPicture` .. `vaEndPicture`) carries a
//! `VAPictureParameterBufferH264` (SPS + PPS fields + DPB), an optional
//! `VAIQMatrixBufferH264`, and one `VASliceParameterBufferH264` plus the slice
//! NAL bytes per slice. [`build_controls`] turns that into the six V4L2
//! stateless controls (SPS, PPS, SCALING_MATRIX, DECODE_PARAMS, SLICE_PARAMS,
//! PRED_WEIGHTS). What VA omits is recovered by re-parsing each slice header
//! ([`slice_header`]); references are named by the V4L2 timestamp of the
//! CAPTURE buffer holding them, which the caller resolves ([`RefResolver`]).
//!
//! The output mirrors GStreamer's `v4l2slh264dec` (gst-plugins-bad
//! `sys/v4l2codecs/gstv4l2codech264dec.c`) field by field wherever VA carries
//! the information; the places where it cannot are listed on
//! [`translate::build_controls`] so that trace comparisons can normalise them.
//!
//! How the driver uses it (frame-based vs slice-based devices):
//! - frame-based: set SPS, PPS, SCALING_MATRIX (only if
//!   [`H264Controls::has_scaling_matrix`]), DECODE_PARAMS once, put every slice
//!   in one OUTPUT buffer with [`append_slice`]; SLICE_PARAMS / PRED_WEIGHTS are
//!   not sent (GStreamer does not send them in frame mode).
//! - slice-based: one request per slice, `slice_params[i]` and
//!   `pred_weights[i]` with slice `i`, the picture-level controls with the first
//!   slice, `V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF` on all but the last.

pub mod slice_header;
pub mod translate;

pub use translate::{append_slice, build_controls_with_state, H264State};
#[cfg(test)]
pub use translate::{build_controls, va_profiles};

use crate::va_sys::ffi::{VAIQMatrixBufferH264, VAPictureParameterBufferH264, VAProfile, VASliceParameterBufferH264, VASurfaceID};
use v4l2r::bindings::{
    v4l2_ctrl_h264_decode_params, v4l2_ctrl_h264_pps, v4l2_ctrl_h264_pred_weights, v4l2_ctrl_h264_scaling_matrix,
    v4l2_ctrl_h264_slice_params, v4l2_ctrl_h264_sps,
};

/// One slice of the picture: its VA parameters and its bytes.
#[derive(Clone, Copy)]
pub struct SliceInput<'a> {
    /// The slice parameter buffer as the application filled it.
    pub param: VASliceParameterBufferH264,
    /// Exactly the slice's bytes: `slice_data_offset .. + slice_data_size` of the
    /// VA slice data buffer, as given (NAL header first; FFmpeg passes NAL units
    /// without start code, an Annex-B start code in front is accepted too).
    pub data: &'a [u8],
}

/// Everything VA gave for one picture.
///
/// `seq_fields` / `pic_fields` are the `.value` words of the two bitfield
/// unions of `VAPictureParameterBufferH264`. Reading a union is `unsafe` in
/// Rust and this layer is safe-only, so the VA edge (which already holds the
/// buffer as bytes) reads them: `unsafe { pic.seq_fields.value }`.
#[derive(Clone, Copy)]
pub struct H264Picture<'a> {
    /// Picture parameter buffer.
    pub pic: &'a VAPictureParameterBufferH264,
    /// `pic.seq_fields.value`.
    pub seq_fields: u32,
    /// `pic.pic_fields.value`.
    pub pic_fields: u32,
    /// IQ matrix buffer, if the application sent one for this picture.
    pub iq: Option<&'a VAIQMatrixBufferH264>,
    /// The slices, in bitstream order.
    pub slices: &'a [SliceInput<'a>],
    /// The VA profile of the config (gives `profile_idc`, which VA omits).
    pub profile: VAProfile,
}

/// Resolves a reference VASurfaceID to the V4L2 timestamp (ns, u64) of the
/// frame it holds; None if unknown.
pub trait RefResolver {
    /// Timestamp of the CAPTURE buffer holding the picture decoded into `surface`.
    fn timestamp(&self, surface: VASurfaceID) -> Option<u64>;
    /// Whether the picture in `surface` was coded as field pictures
    /// (`V4L2_H264_DPB_ENTRY_FLAG_FIELD`). VA does not say; the driver can
    /// remember `decode_params.flags & V4L2_H264_DECODE_PARAM_FLAG_FIELD_PIC`
    /// of the last decode into the surface. `None` lets the translator guess
    /// (a reference with only one field marked is a field).
    fn field_coded(&self, _surface: VASurfaceID) -> Option<bool> {
        None
    }
}

/// The V4L2 controls for one picture.
#[derive(Clone, Debug)]
pub struct H264Controls {
    /// V4L2_CID_STATELESS_H264_SPS.
    pub sps: v4l2_ctrl_h264_sps,
    /// V4L2_CID_STATELESS_H264_PPS.
    pub pps: v4l2_ctrl_h264_pps,
    /// V4L2_CID_STATELESS_H264_SCALING_MATRIX (raster order, meaningful only if `has_scaling_matrix`).
    pub scaling_matrix: v4l2_ctrl_h264_scaling_matrix,
    /// V4L2_CID_STATELESS_H264_DECODE_PARAMS.
    pub decode_params: v4l2_ctrl_h264_decode_params,
    /// V4L2_CID_STATELESS_H264_SLICE_PARAMS, one per slice.
    pub slice_params: Vec<v4l2_ctrl_h264_slice_params>,
    /// V4L2_CID_STATELESS_H264_PRED_WEIGHTS, one per slice (all zero for a
    /// slice without explicit weighted prediction, as GStreamer sends them).
    pub pred_weights: Vec<v4l2_ctrl_h264_pred_weights>,
    /// Whether slice `i` carries a pred_weight_table (explicit weighted prediction).
    pub uses_pred_weights: Vec<bool>,
    /// False when VA gave no IQ buffer or a flat (all 16) one: the driver then
    /// does not set SCALING_MATRIX and the PPS flag SCALING_MATRIX_PRESENT is
    /// clear, as GStreamer does for streams without scaling lists.
    pub has_scaling_matrix: bool,
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod oracle;
#[cfg(test)]
pub(crate) mod tests;
