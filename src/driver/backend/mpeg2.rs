//! The MPEG-2 backend: one request per picture (sequence, picture and
//! quantisation controls); field pictures decode both fields into one
//! CAPTURE buffer (the translator tells first and second fields apart).

use super::{recycle, slices_into, BackendSetup, CodecBackend, PictureBuffers, PictureQueue};
use crate::codec::mpeg2;
use crate::driver::error::VaResult;
use crate::pool::SurfaceKey;
use crate::va_err;
use crate::va_sys::abi::read_pod;
use crate::va_sys::ffi;

pub struct Mpeg2Backend {
    profile: ffi::VAProfile,
    state: Box<mpeg2::Mpeg2State>,
    slices: Vec<mpeg2::Mpeg2Slice<'static>>,
}

pub fn new(setup: &BackendSetup) -> Box<dyn CodecBackend> {
    Box::new(Mpeg2Backend { profile: setup.profile, state: Box::new(mpeg2::Mpeg2State::new()), slices: Vec::new() })
}

impl CodecBackend for Mpeg2Backend {
    fn submit(&mut self, q: &mut PictureQueue, picture: &PictureBuffers, target: SurfaceKey) -> VaResult<()> {
        let pic: ffi::VAPictureParameterBufferMPEG2 = read_pod(&picture.pic_param, 0)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "missing or short MPEG-2 picture parameters"))?;
        let iq: Option<ffi::VAIQMatrixBufferMPEG2> = super::optional(picture.iq_matrix(), "MPEG-2 IQ matrix")?;
        let mut slices: Vec<mpeg2::Mpeg2Slice> = recycle(std::mem::take(&mut self.slices));
        let filled = slices_into::<ffi::VASliceParameterBufferMPEG2, _>(
            picture,
            |p| (p.slice_data_offset, p.slice_data_size),
            &mut slices,
            |param, data| mpeg2::Mpeg2Slice { param, data },
        );
        let result = filled.and_then(|()| self.submit_slices(q, &pic, iq.as_ref(), &slices, target));
        self.slices = recycle(slices);
        result
    }
}

impl Mpeg2Backend {
    /// The MPEG-2 picture `pic` of `slices` into `target`.
    fn submit_slices(
        &mut self,
        q: &mut PictureQueue,
        pic: &ffi::VAPictureParameterBufferMPEG2,
        iq: Option<&ffi::VAIQMatrixBufferMPEG2>,
        slices: &[mpeg2::Mpeg2Slice],
        target: SurfaceKey,
    ) -> VaResult<()> {
        let p = mpeg2::Mpeg2Picture {
            pic,
            picture_coding_extension: crate::va_sys::abi::mpeg2_bitfields(pic),
            iq,
            slices,
            profile: self.profile,
        };
        let ctrls = mpeg2::build_controls_with_state(&p, &q.refs(), &mut self.state)
            .map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "MPEG-2 translation: {e}"))?;
        let bitstream = q.bitstream_mut();
        bitstream.clear();
        mpeg2::append_bitstream(bitstream, &p);
        let refs = [pic.forward_reference_picture, pic.backward_reference_picture];
        q.submit_single(target, &refs, &ctrls.specs(), ctrls.hold_capture, ctrls.second_field)
    }
}
