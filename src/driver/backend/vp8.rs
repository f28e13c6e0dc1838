//! The VP8 backend: one request per picture (the frame control), the
//! probability tables from the application's probability buffer.

use super::{BackendSetup, CodecBackend, PictureBuffers, PictureQueue};
use crate::codec::vp8;
use crate::driver::error::VaResult;
use crate::pool::SurfaceKey;
use crate::va_err;
use crate::va_sys::abi::read_pod;
use crate::va_sys::ffi;

pub struct Vp8Backend {
    state: vp8::Vp8State,
}

pub fn new(_setup: &BackendSetup) -> Box<dyn CodecBackend> {
    Box::new(Vp8Backend { state: vp8::Vp8State::new() })
}

impl CodecBackend for Vp8Backend {
    fn submit(&mut self, q: &mut PictureQueue, picture: &PictureBuffers, target: SurfaceKey) -> VaResult<()> {
        let pic: ffi::VAPictureParameterBufferVP8 = read_pod(&picture.pic_param, 0)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "missing or short VP8 picture parameters"))?;
        let iq: ffi::VAIQMatrixBufferVP8 = picture
            .iq_matrix()
            .and_then(|b| read_pod(b, 0))
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "missing or short VP8 IQ matrix"))?;
        let probs: Option<ffi::VAProbabilityDataBufferVP8> = super::optional(picture.probabilities(), "VP8 probabilities")?;
        let &(pidx, _, data_idx) =
            picture.slice_params.first().ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "VP8 picture without slice parameters"))?;
        let slice: ffi::VASliceParameterBufferVP8 =
            read_pod(picture.params(pidx), 0).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "short VP8 slice parameters"))?;
        let p = vp8::Vp8Picture {
            pic: &pic,
            pic_fields: crate::va_sys::abi::vp8_bitfields(&pic),
            iq: &iq,
            probs: probs.as_ref(),
            slice,
            data: picture.slice_data.get(data_idx),
        };
        let ctrls = vp8::build_controls_with_state(&p, &q.refs(), &mut self.state)
            .map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "VP8 translation: {e}"))?;
        let bitstream = q.bitstream_mut();
        bitstream.clear();
        vp8::append_bitstream(bitstream, &p);
        let refs = [pic.last_ref_frame, pic.golden_ref_frame, pic.alt_ref_frame];
        q.submit_single(target, &refs, &ctrls.specs(), false, false)
    }
}
