//! The H.264 backend: slices to SPS/PPS/scaling matrix/decode params (and,
//! slice-based, one request per slice with its slice params and prediction
//! weights); field pictures (PAFF) decode both fields into one CAPTURE buffer.

use super::{
    recycle, slices_into, BackendSetup, CodecBackend, PictureBuffers, PictureQueue, SliceRequestLists, StreamMode, StreamModeControls,
};
use crate::codec::h264;
use crate::driver::error::VaResult;
use crate::pool::SurfaceKey;
use crate::v4l2::ControlSpec;
use crate::va_err;
use crate::va_sys::abi::read_pod;
use crate::va_sys::ffi;
use v4l2r::bindings as v4l2;

/// H.264's decode-mode and start-code controls.
pub const STREAM_MODE_CONTROLS: StreamModeControls = StreamModeControls {
    decode_mode: v4l2::V4L2_CID_STATELESS_H264_DECODE_MODE,
    frame_based: v4l2::v4l2_stateless_h264_decode_mode_V4L2_STATELESS_H264_DECODE_MODE_FRAME_BASED,
    slice_based: v4l2::v4l2_stateless_h264_decode_mode_V4L2_STATELESS_H264_DECODE_MODE_SLICE_BASED,
    start_code: v4l2::V4L2_CID_STATELESS_H264_START_CODE,
    annex_b: v4l2::v4l2_stateless_h264_start_code_V4L2_STATELESS_H264_START_CODE_ANNEX_B,
    no_start_code: v4l2::v4l2_stateless_h264_start_code_V4L2_STATELESS_H264_START_CODE_NONE,
};

/// The first field just queued, whose CAPTURE buffer is held for the second field.
#[derive(Clone, Copy)]
struct FirstField {
    surface: SurfaceKey,
    bottom: bool,
    order_cnt: i32,
}

pub struct H264Backend {
    profile: ffi::VAProfile,
    stream_mode: StreamMode,
    state: h264::H264State,
    first_field: Option<FirstField>,
    slices: Vec<h264::SliceInput<'static>>,
    lists: SliceRequestLists,
}

pub fn new(setup: &BackendSetup) -> Box<dyn CodecBackend> {
    Box::new(H264Backend {
        profile: setup.profile,
        stream_mode: setup.stream_mode,
        state: h264::H264State::new(),
        first_field: None,
        slices: Vec::new(),
        lists: SliceRequestLists::default(),
    })
}

impl CodecBackend for H264Backend {
    fn submit(&mut self, q: &mut PictureQueue, picture: &PictureBuffers, target: SurfaceKey) -> VaResult<()> {
        let pic: ffi::VAPictureParameterBufferH264 = read_pod(&picture.pic_param, 0)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "missing or short H.264 picture parameter buffer"))?;
        let iq: Option<ffi::VAIQMatrixBufferH264> = super::optional(picture.iq_matrix(), "H.264 IQ matrix")?;
        let mut slices: Vec<h264::SliceInput> = recycle(std::mem::take(&mut self.slices));
        let result = slices_into::<ffi::VASliceParameterBufferH264, _>(
            picture,
            |p| (p.slice_data_offset, p.slice_data_size),
            &mut slices,
            |param, data| h264::SliceInput { param, data },
        )
        .and_then(|()| self.submit_slices(q, target, &pic, iq.as_ref(), &slices));
        self.slices = recycle(slices);
        result
    }
}

impl H264Backend {
    /// The H.264 picture `pic` of `slices` into `target`.
    fn submit_slices(
        &mut self,
        q: &mut PictureQueue,
        target: SurfaceKey,
        pic: &ffi::VAPictureParameterBufferH264,
        iq: Option<&ffi::VAIQMatrixBufferH264>,
        slices: &[h264::SliceInput],
    ) -> VaResult<()> {
        let (seq_fields, pic_fields) = crate::va_sys::abi::h264_bitfields(pic);
        let mut ctrls = h264::build_controls_with_state(
            &h264::H264Picture { pic, seq_fields, pic_fields, iq, slices, profile: self.profile },
            &q.refs(),
            &mut self.state,
        )
        .map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "H.264 translation: {e}"))?;

        // Field pictures (PAFF): both fields of a frame decode into one CAPTURE buffer.
        // The first field holds it; the second (the opposite parity into the same
        // surface, next in decode order, as FFmpeg and GStreamer send it) is queued
        // into the same slot with the same timestamp. VA does not flag second fields.
        // The order count of the parity a field picture lacks is 0 in a first field
        // and the first field's count in a second field (as GStreamer fills them;
        // VA clients differ). A first field whose buffer the queue released or
        // completed (no second field came in time) is no first field any more.
        let dp = &mut ctrls.decode_params;
        let field_pic = dp.flags & v4l2::V4L2_H264_DECODE_PARAM_FLAG_FIELD_PIC != 0;
        let bottom = dp.flags & v4l2::V4L2_H264_DECODE_PARAM_FLAG_BOTTOM_FIELD != 0;
        let first = self.first_field.take().filter(|f| q.holds_capture(f.surface));
        let second_field = field_pic && first.is_some_and(|f| (f.surface, f.bottom) == (target, !bottom));
        if field_pic {
            let other = match first {
                Some(f) if second_field => f.order_cnt,
                _ => 0,
            };
            if bottom {
                dp.top_field_order_cnt = other;
            } else {
                dp.bottom_field_order_cnt = other;
            }
        }
        let order_cnt = if bottom { dp.bottom_field_order_cnt } else { dp.top_field_order_cnt };
        let mut lists = self.lists.lend();
        lists.ref_surfaces.extend(pic.ReferenceFrames.iter().filter(|r| r.flags & ffi::VA_PICTURE_H264_INVALID == 0).map(|r| r.picture_id));
        // The controls every request of the picture carries, then each slice
        // request's own; every part's controls are a range of `specs`.
        lists.specs.push(ControlSpec::new(&ctrls.sps));
        lists.specs.push(ControlSpec::new(&ctrls.pps));
        if ctrls.has_scaling_matrix {
            lists.specs.push(ControlSpec::new(&ctrls.scaling_matrix));
        }
        lists.specs.push(ControlSpec::new(&ctrls.decode_params));
        let annex_b = self.stream_mode.annex_b;
        lists.lay_out(
            q.bitstream_mut(),
            slices.iter().map(|s| s.data),
            |bits, data| h264::append_slice(bits, data, annex_b),
            self.stream_mode.slice_based,
            // Slice-based: each slice request with its SLICE_PARAMS and PRED_WEIGHTS.
            |i, specs| {
                if let Some(sp) = ctrls.slice_params.get(i) {
                    specs.push(ControlSpec::new(sp));
                }
                if let Some(pw) = ctrls.pred_weights.get(i) {
                    specs.push(ControlSpec::new(pw));
                }
            },
            |_| {},
        );
        let first_field = field_pic && !second_field;
        let submitted = q.submit_parts(target, &lists.ref_surfaces, &lists.specs, &lists.parts, first_field, second_field);
        self.lists.put_back(lists);
        self.state.reuse(ctrls);
        let slot = submitted?;
        if first_field {
            self.first_field = Some(FirstField { surface: target, bottom, order_cnt });
        }
        q.set_field_coded(slot, field_pic);
        Ok(())
    }
}
