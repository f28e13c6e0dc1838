//! Picture assembly: the application's buffers of the picture being built
//! between `vaBeginPicture` and `vaEndPicture`, copied into allocations kept
//! from picture to picture.

use crate::pool::SurfaceKey;
use crate::va_sys::ffi;

/// Byte buffers reused from picture to picture: in steady state, copying the
/// application's buffers allocates nothing.
#[derive(Default)]
pub struct ByteStore {
    bufs: Vec<Vec<u8>>,
    used: usize,
}

impl ByteStore {
    fn clear(&mut self) {
        self.used = 0;
    }

    /// Copy `bytes` in; returns its index.
    fn push(&mut self, bytes: &[u8]) -> usize {
        if self.used == self.bufs.len() {
            self.bufs.push(Vec::new());
        }
        let b = &mut self.bufs[self.used];
        b.clear();
        b.extend_from_slice(bytes);
        self.used += 1;
        self.used - 1
    }

    pub fn get(&self, i: usize) -> &[u8] {
        if i < self.used {
            &self.bufs[i]
        } else {
            &[]
        }
    }
}

/// The application's buffers for the picture being assembled (reused).
#[derive(Default)]
pub struct PictureBuffers {
    pub target: Option<SurfaceKey>,
    pub pic_param: Vec<u8>,
    iq: Vec<u8>,
    has_iq: bool,
    probs: Vec<u8>,
    has_probs: bool,
    /// Slice parameter buffers and slice data buffers, in rendering order.
    params: ByteStore,
    pub slice_data: ByteStore,
    /// (index into `params`, element count, index into `slice_data`).
    pub slice_params: Vec<(usize, u32, usize)>,
    pending_params: Vec<(usize, u32)>,
}

impl PictureBuffers {
    pub(super) fn clear(&mut self) {
        self.target = None;
        self.pic_param.clear();
        self.has_iq = false;
        self.has_probs = false;
        self.params.clear();
        self.slice_data.clear();
        self.slice_params.clear();
        self.pending_params.clear();
    }

    /// The IQ matrix buffer of this picture, if one was rendered.
    pub fn iq_matrix(&self) -> Option<&[u8]> {
        self.has_iq.then_some(&self.iq[..])
    }

    /// The VP8 probability buffer of this picture, if one was rendered.
    pub fn probabilities(&self) -> Option<&[u8]> {
        self.has_probs.then_some(&self.probs[..])
    }

    /// Slice parameter bytes of entry `i` of `slice_params`.
    pub fn params(&self, i: usize) -> &[u8] {
        self.params.get(i)
    }

    /// Copy one rendered buffer in (the application may reuse or destroy it
    /// right after vaRenderPicture).
    pub(super) fn add(&mut self, buf_type: ffi::VABufferType, bytes: &[u8], num_elements: u32) {
        match buf_type {
            ffi::VAPictureParameterBufferType => {
                self.pic_param.clear();
                self.pic_param.extend_from_slice(bytes);
            }
            ffi::VAIQMatrixBufferType => {
                self.iq.clear();
                self.iq.extend_from_slice(bytes);
                self.has_iq = true;
            }
            ffi::VAProbabilityBufferType => {
                self.probs.clear();
                self.probs.extend_from_slice(bytes);
                self.has_probs = true;
            }
            ffi::VASliceParameterBufferType => {
                let idx = self.params.push(bytes);
                self.pending_params.push((idx, num_elements));
            }
            ffi::VASliceDataBufferType => {
                let idx = self.slice_data.push(bytes);
                for (p, n) in self.pending_params.drain(..) {
                    self.slice_params.push((p, n, idx));
                }
            }
            other => log::debug!("ignoring VA buffer type {other}"),
        }
    }
}
