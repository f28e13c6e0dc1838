//! The HEVC backend: slices to SPS/PPS/scaling matrix/decode params and slice
//! params (one request per slice, or one for the picture with every slice's
//! params), with the slices' entry point offsets where the device takes them.

use super::{
    check_depth, recycle, slices_into, BackendSetup, CodecBackend, PictureBuffers, PictureQueue, SliceRequestLists, StreamMode,
    StreamModeControls,
};
use crate::codec::hevc;
use crate::driver::error::VaResult;
use crate::pool::SurfaceKey;
use crate::v4l2::{ControlSpec, HevcEntryPointOffset};
use crate::va_err;
use crate::va_sys::abi::read_pod;
use crate::va_sys::ffi;
use v4l2r::bindings as v4l2;

/// HEVC's decode-mode and start-code controls.
pub const STREAM_MODE_CONTROLS: StreamModeControls = StreamModeControls {
    decode_mode: v4l2::V4L2_CID_STATELESS_HEVC_DECODE_MODE,
    frame_based: v4l2::v4l2_stateless_hevc_decode_mode_V4L2_STATELESS_HEVC_DECODE_MODE_FRAME_BASED,
    slice_based: v4l2::v4l2_stateless_hevc_decode_mode_V4L2_STATELESS_HEVC_DECODE_MODE_SLICE_BASED,
    start_code: v4l2::V4L2_CID_STATELESS_HEVC_START_CODE,
    annex_b: v4l2::v4l2_stateless_hevc_start_code_V4L2_STATELESS_HEVC_START_CODE_ANNEX_B,
    no_start_code: v4l2::v4l2_stateless_hevc_start_code_V4L2_STATELESS_HEVC_START_CODE_NONE,
};

pub struct HevcBackend {
    profile: ffi::VAProfile,
    ten_bit: bool,
    stream_mode: StreamMode,
    /// The device takes V4L2_CID_STATELESS_HEVC_ENTRY_POINT_OFFSETS.
    entry_points_control: bool,
    state: hevc::HevcState,
    slices: Vec<hevc::HevcSlice<'static>>,
    lists: SliceRequestLists,
    /// Frame-based requests: the entry point offsets of all slices.
    entry_points: Vec<HevcEntryPointOffset>,
}

pub fn new(setup: &BackendSetup) -> Box<dyn CodecBackend> {
    Box::new(HevcBackend {
        profile: setup.profile,
        ten_bit: setup.ten_bit,
        stream_mode: setup.stream_mode,
        entry_points_control: setup.session.has_control(v4l2::V4L2_CID_STATELESS_HEVC_ENTRY_POINT_OFFSETS),
        state: hevc::HevcState::new(),
        slices: Vec::new(),
        lists: SliceRequestLists::default(),
        entry_points: Vec::new(),
    })
}

impl CodecBackend for HevcBackend {
    fn submit(&mut self, q: &mut PictureQueue, picture: &PictureBuffers, target: SurfaceKey) -> VaResult<()> {
        let pic: ffi::VAPictureParameterBufferHEVC = read_pod(&picture.pic_param, 0)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "missing or short HEVC picture parameters"))?;
        check_depth(self.ten_bit, self.profile, "HEVC luma", 8 + u32::from(pic.bit_depth_luma_minus8))?;
        check_depth(self.ten_bit, self.profile, "HEVC chroma", 8 + u32::from(pic.bit_depth_chroma_minus8))?;
        let iq: Option<ffi::VAIQMatrixBufferHEVC> = super::optional(picture.iq_matrix(), "HEVC IQ matrix")?;
        let mut slices: Vec<hevc::HevcSlice> = recycle(std::mem::take(&mut self.slices));
        let result = slices_into::<ffi::VASliceParameterBufferHEVC, _>(
            picture,
            |p| (p.slice_data_offset, p.slice_data_size),
            &mut slices,
            |param, data| hevc::HevcSlice { param, long_slice_flags: crate::va_sys::abi::hevc_slice_flags(&param), data },
        )
        .and_then(|()| self.submit_slices(q, target, &pic, iq.as_ref(), &slices));
        self.slices = recycle(slices);
        result
    }
}

impl HevcBackend {
    /// The HEVC picture `pic` of `slices` into `target`.
    fn submit_slices(
        &mut self,
        q: &mut PictureQueue,
        target: SurfaceKey,
        pic: &ffi::VAPictureParameterBufferHEVC,
        iq: Option<&ffi::VAIQMatrixBufferHEVC>,
        slices: &[hevc::HevcSlice],
    ) -> VaResult<()> {
        let (pic_fields, slice_parsing_fields) = crate::va_sys::abi::hevc_bitfields(pic);
        let p = hevc::HevcPicture { pic, pic_fields, slice_parsing_fields, iq, slices };
        let annex_b = self.stream_mode.annex_b;
        self.state.set_annex_b(annex_b);
        let ctrls = hevc::build_controls_with_state(&p, &q.refs(), &mut self.state)
            .map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "HEVC translation: {e}"))?;
        let mut lists = self.lists.lend();
        lists.ref_surfaces.extend(pic.ReferenceFrames.iter().filter(|r| r.flags & ffi::VA_PICTURE_HEVC_INVALID == 0).map(|r| r.picture_id));
        lists.specs.push(ControlSpec::new(&ctrls.sps));
        lists.specs.push(ControlSpec::new(&ctrls.pps));
        if ctrls.has_scaling_matrix {
            lists.specs.push(ControlSpec::new(&ctrls.scaling_matrix));
        }
        lists.specs.push(ControlSpec::new(&ctrls.decode_params));
        let mut entry_points = std::mem::take(&mut self.entry_points);
        entry_points.clear();
        let slice_based = self.stream_mode.slice_based;
        let entry_points_control = self.entry_points_control;
        if entry_points_control && !slice_based {
            entry_points.extend(ctrls.entry_point_offsets.iter().flatten().copied());
        }
        lists.lay_out(
            q.bitstream_mut(),
            slices.iter().map(|s| s.data),
            |bits, data| hevc::append_slice(bits, data, annex_b),
            slice_based,
            // Slice-based: each slice request with its SLICE_PARAMS and entry points.
            |i, specs| {
                if let Some(sp) = ctrls.slice_params.get(i) {
                    specs.push(ControlSpec::new(sp));
                }
                if entry_points_control {
                    if let Some(ep) = ctrls.entry_point_offsets.get(i).filter(|e| !e.is_empty()) {
                        specs.push(ControlSpec::from_slice(ep));
                    }
                }
            },
            // Frame-based: every slice's SLICE_PARAMS and all entry points.
            |specs| {
                specs.push(ControlSpec::from_slice(&ctrls.slice_params));
                if !entry_points.is_empty() {
                    specs.push(ControlSpec::from_slice(&entry_points));
                }
            },
        );
        let submitted = q.submit_parts(target, &lists.ref_surfaces, &lists.specs, &lists.parts, false, false).map(|_| ());
        self.lists.put_back(lists);
        self.entry_points = entry_points;
        self.state.reuse(ctrls);
        submitted
    }
}
