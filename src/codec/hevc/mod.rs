//! HEVC (H.265): VA-API buffers → V4L2 stateless HEVC controls.
//!
//! # The idea
//!
//! One VA picture carries a `VAPictureParameterBufferHEVC` (SPS + PPS fields,
//! the current picture and up to 15 reference frames with their RPS class), an
//! optional `VAIQMatrixBufferHEVC`, and one `VASliceParameterBufferHEVC` plus
//! the slice NAL bytes per slice segment. [`build_controls_with_state`] turns
//! them into the V4L2 stateless controls SPS, PPS, SCALING_MATRIX,
//! DECODE_PARAMS (with the DPB and the three `PocSt/Lt` lists) and one
//! SLICE_PARAMS per slice, plus the optional ENTRY_POINT_OFFSETS.
//!
//! What VA does not carry is recovered by re-parsing every slice segment header
//! ([`slice_header`]): the header size (`data_byte_offset`), the bit sizes of
//! the short-term and long-term RPS syntax, the entry points,
//! `nuh_temporal_id_plus1`, `no_output_of_prior_pics_flag`,
//! `NumDeltaPocs[RefRpsIdx]`, `slice_pic_parameter_set_id`. References are
//! named by the V4L2 timestamp of the CAPTURE buffer holding them
//! ([`RefResolver`], shared with H.264).
//!
//! The values mirror GStreamer's `v4l2slh265dec`
//! (`sys/v4l2codecs/gstv4l2codech265dec.c`) wherever VA carries the
//! information; where it cannot, [`translate::build_controls_with_state`]
//! lists the defaults.
//!
//! How the driver uses it:
//! - frame-based devices: SPS, PPS, DECODE_PARAMS, SCALING_MATRIX (only if
//!   [`HevcControls::has_scaling_matrix`]) and SLICE_PARAMS as an array of all
//!   slices, every slice in one OUTPUT buffer via [`append_slice`];
//! - slice-based devices: one request per slice with `slice_params[i]`, the
//!   picture-level controls with the first, `V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF`
//!   on all but the last (as for H.264).
//!
//! `bit_size` / `data_byte_offset` depend on whether the device wants Annex-B
//! start codes (`V4L2_CID_STATELESS_HEVC_START_CODE`): tell the state with
//! [`HevcState::set_annex_b`] (GStreamer adds the 3-byte start code to both).
//!
//! The VA bitfield unions are read at the VA edge (reading a union is `unsafe`,
//! this layer is safe-only): `pic.pic_fields.value`,
//! `pic.slice_parsing_fields.value` and, per slice,
//! `slice.LongSliceFlags.value`.

pub mod slice_header;
pub mod translate;

pub use crate::codec::h264::RefResolver;
pub use translate::{append_slice, build_controls_with_state, HevcState};
#[cfg(test)]
pub use translate::{build_controls, va_profiles};

use crate::v4l2::HevcEntryPointOffset;
use crate::va_sys::ffi::{VAIQMatrixBufferHEVC, VAPictureParameterBufferHEVC, VASliceParameterBufferHEVC};
use v4l2r::bindings::{
    v4l2_ctrl_hevc_decode_params, v4l2_ctrl_hevc_pps, v4l2_ctrl_hevc_scaling_matrix, v4l2_ctrl_hevc_slice_params, v4l2_ctrl_hevc_sps,
};

/// One slice segment: its VA parameters and its bytes.
#[derive(Clone, Copy)]
pub struct HevcSlice<'a> {
    /// The slice parameter buffer as the application filled it.
    pub param: VASliceParameterBufferHEVC,
    /// `param.LongSliceFlags.value` (read at the VA edge).
    pub long_slice_flags: u32,
    /// Exactly the slice's bytes (`slice_data_offset .. + slice_data_size`):
    /// the NAL unit from its 2-byte header on (FFmpeg passes NAL units without
    /// start code; a start code in front is accepted too).
    pub data: &'a [u8],
}

/// Everything VA gave for one picture.
#[derive(Clone, Copy)]
pub struct HevcPicture<'a> {
    /// Picture parameter buffer.
    pub pic: &'a VAPictureParameterBufferHEVC,
    /// `pic.pic_fields.value`.
    pub pic_fields: u32,
    /// `pic.slice_parsing_fields.value`.
    pub slice_parsing_fields: u32,
    /// IQ matrix buffer, if the application sent one for this picture.
    pub iq: Option<&'a VAIQMatrixBufferHEVC>,
    /// The slice segments, in bitstream order.
    pub slices: &'a [HevcSlice<'a>],
}

/// The V4L2 controls for one picture.
#[derive(Clone, Debug)]
pub struct HevcControls {
    /// V4L2_CID_STATELESS_HEVC_SPS.
    pub sps: v4l2_ctrl_hevc_sps,
    /// V4L2_CID_STATELESS_HEVC_PPS.
    pub pps: v4l2_ctrl_hevc_pps,
    /// V4L2_CID_STATELESS_HEVC_DECODE_PARAMS.
    pub decode_params: v4l2_ctrl_hevc_decode_params,
    /// V4L2_CID_STATELESS_HEVC_SCALING_MATRIX (raster order; meaningful only
    /// if `has_scaling_matrix`).
    pub scaling_matrix: v4l2_ctrl_hevc_scaling_matrix,
    /// True when the SPS enables scaling lists (then the driver sets SCALING_MATRIX).
    pub has_scaling_matrix: bool,
    /// V4L2_CID_STATELESS_HEVC_SLICE_PARAMS, one per slice segment.
    pub slice_params: Vec<v4l2_ctrl_hevc_slice_params>,
    /// V4L2_CID_STATELESS_HEVC_ENTRY_POINT_OFFSETS values per slice segment
    /// (`entry_point_offset_minus1[i] + 1`, as GStreamer sends them); a device
    /// that takes the control gets the concatenation for the slices of a request.
    pub entry_point_offsets: Vec<Vec<HevcEntryPointOffset>>,
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod oracle;
#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
pub(crate) use tests::wild_default_list_size as translate_wild_default_list_size;
