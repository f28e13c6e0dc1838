//! The VP9 backend: one request per picture (the frame control, and the
//! compressed header where the device takes it); frames that need reference
//! scaling are refused.

use super::{check_depth, first_slice, BackendSetup, CodecBackend, PictureBuffers, PictureQueue};
use crate::codec::vp9;
use crate::driver::error::VaResult;
use crate::pool::SurfaceKey;
use crate::va_err;
use crate::va_sys::abi::read_pod;
use crate::va_sys::ffi;
use v4l2r::bindings as v4l2;

pub struct Vp9Backend {
    profile: ffi::VAProfile,
    ten_bit: bool,
    /// The device takes V4L2_CID_STATELESS_VP9_COMPRESSED_HDR.
    compressed_hdr_control: bool,
    state: Box<vp9::Vp9State>,
}

pub fn new(setup: &BackendSetup) -> Box<dyn CodecBackend> {
    Box::new(Vp9Backend {
        profile: setup.profile,
        ten_bit: setup.ten_bit,
        compressed_hdr_control: setup.session.has_control(v4l2::V4L2_CID_STATELESS_VP9_COMPRESSED_HDR),
        state: Box::default(),
    })
}

impl CodecBackend for Vp9Backend {
    fn submit(&mut self, q: &mut PictureQueue, picture: &PictureBuffers, target: SurfaceKey) -> VaResult<()> {
        let pic: ffi::VADecPictureParameterBufferVP9 = read_pod(&picture.pic_param, 0)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "missing or short VP9 picture parameters"))?;
        let (_, data) = first_slice::<ffi::VASliceParameterBufferVP9>(picture, |p| (p.slice_data_offset, p.slice_data_size))?;
        let p = vp9::Vp9Picture { pic: &pic, pic_fields: crate::va_sys::abi::vp9_bitfields(&pic), data };
        let state = &mut self.state;
        let ctrls = match vp9::build_controls_with_state(&p, &q.refs(), state) {
            // FFmpeg (and mpv) open a new VA context when an inter frame changes the size.
            Err(crate::codec::CodecError::MissingReference) if state.has_no_references() => {
                return Err(va_err!(
                    VA_STATUS_ERROR_UNIMPLEMENTED,
                    "VP9 inter frame ({}x{}) is the first picture of this context: its references are pictures of another context; \
                     a size change without a key frame needs reference scaling, which V4L2 stateless decoders cannot signal",
                    pic.frame_width,
                    pic.frame_height
                ))
            }
            r => r.map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "VP9 translation: {e}"))?,
        };
        check_depth(self.ten_bit, self.profile, "VP9", u32::from(ctrls.frame.bit_depth))?;
        if ctrls.needs_reference_scaling {
            return Err(va_err!(
                VA_STATUS_ERROR_UNIMPLEMENTED,
                "VP9 frame needs reference scaling, which V4L2 stateless decoders cannot signal"
            ));
        }
        let bitstream = q.bitstream_mut();
        bitstream.clear();
        vp9::append_bitstream(bitstream, &p);
        q.submit_single(target, &pic.reference_frames, &ctrls.specs(self.compressed_hdr_control), false, false)
    }
}
