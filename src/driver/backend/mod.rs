//! Codec backends: one per codec, each owning that codec's state and the
//! submission of its pictures.
//!
//! # The idea
//!
//! A context is codec-agnostic: it assembles the application's buffers of a
//! picture ([`PictureBuffers`]) and owns the device side ([`PictureQueue`]:
//! session, CAPTURE pool, OUTPUT ring, frames in flight). Everything that
//! differs between codecs sits behind one trait, [`CodecBackend`]:
//!
//! - `submit` reads the picture's VA buffers as that codec's typed parameter
//!   structs, translates them (`crate::codec::<codec>`) into V4L2 controls and
//!   a bitstream, and hands them to [`PictureQueue::submit_parts`] /
//!   [`PictureQueue::submit_single`];
//! - `flush` queues a picture the backend held back (AV1 waits for the next
//!   picture to learn `refresh_frame_flags`) before its surface is waited
//!   for, exported or released; the other codecs hold nothing back.
//!
//! A backend owns all of its codec's carry-over: the translator's state, what
//! the device was found to take at context creation (VP9's compressed header
//! control, HEVC's entry point offsets, the H.264/HEVC decode mode), pictures
//! or fields in between (AV1's deferred picture, H.264's first field) and the
//! lists it fills per picture (kept to reuse their allocations: a steady
//! stream allocates nothing per frame). It borrows the queue for the length
//! of one call; the queue never calls back.
//!
//! The one table is [`crate::driver::config::codec_table`]: per codec its
//! coded format, its VA profiles, its decode-mode controls (if it has any) and
//! its backend constructor.
//!
//! # Adding a codec
//!
//! 1. The translator, `crate::codec::<codec>`: VA parameters to V4L2
//!    controls and bitstream, with its state from picture to picture.
//! 2. Its control payload types in `crate::v4l2::controls` (the sealed
//!    payload list and the per-format table the size check uses).
//! 3. A module here, `backend/<codec>.rs`: a struct implementing
//!    [`CodecBackend`] and a `new(&BackendSetup) -> Box<dyn CodecBackend>`.
//!    Use [`slices_into`] / [`first_slice`] to read slice buffers, [`recycle`]
//!    to keep per-picture lists, [`check_depth`] for the bit depth.
//! 4. A variant of [`Codec`](crate::driver::config::Codec) and its row in
//!    `codec_table`.
//!
//! Nothing in the context changes.

pub mod av1;
pub mod h264;
pub mod hevc;
pub mod mpeg2;
pub mod vp8;
pub mod vp9;

pub use crate::driver::context::{PictureBuffers, PictureQueue, RequestPart};
use crate::driver::error::VaResult;
use crate::pool::SurfaceKey;
use crate::v4l2::{ControlSpec, DecoderDevice};
use crate::va_err;
use crate::va_sys::abi::read_pod;
use crate::va_sys::ffi;

/// One codec's state and the submission of its pictures (see the module doc).
pub trait CodecBackend: Send {
    /// Translate `picture` and queue it (or hold it back) for `target`.
    /// Returns without waiting for the device.
    fn submit(&mut self, queue: &mut PictureQueue, picture: &PictureBuffers, target: SurfaceKey) -> VaResult<()>;

    /// Queue a picture held back for `surface` (any, when `None`) before it is
    /// waited for, exported, released or the context ends.
    fn flush(&mut self, _queue: &mut PictureQueue, _surface: Option<SurfaceKey>) -> VaResult<()> {
        Ok(())
    }

    /// Log the backend's statistics at context teardown (when logging is on).
    fn log_summary(&self) {}
}

/// Creates a codec's backend for a new context (a row of the codec table).
pub type NewBackend = fn(&BackendSetup) -> Box<dyn CodecBackend>;

/// What a backend is created with: the context's config and what its device
/// was found to do.
pub struct BackendSetup<'a> {
    pub profile: ffi::VAProfile,
    /// The context decodes 10-bit (P010) pictures.
    pub ten_bit: bool,
    /// H.264 / HEVC decode and start-code modes (both false for the others).
    pub stream_mode: StreamMode,
    /// The device, to probe optional controls.
    pub session: &'a dyn DecoderDevice,
}

/// H.264 / HEVC device modes (decode mode, start codes), read from the device's current control values.
#[derive(Clone, Copy, Debug, Default)]
pub struct StreamMode {
    pub slice_based: bool,
    pub annex_b: bool,
}

/// A codec's decode-mode and start-code menu controls and their values
/// (H.264 and HEVC; a row of the codec table).
pub struct StreamModeControls {
    pub decode_mode: u32,
    pub frame_based: u32,
    pub slice_based: u32,
    pub start_code: u32,
    pub annex_b: u32,
    pub no_start_code: u32,
}

/// An empty vector on `v`'s allocation, for elements of the same layout
/// (element types that differ in their lifetimes only): per-picture lists
/// borrowing the picture's buffers keep their allocation from picture to
/// picture. Collecting a vector's own `into_iter` reuses its allocation when
/// the layouts match (std's in-place collection; not guaranteed, only
/// efficient: otherwise the new vector is empty and unallocated).
pub fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().map(|_| unreachable!("the vector was cleared")).collect()
}

/// Refuse a picture whose bit depth is not the context's (8-bit streams on
/// 10-bit contexts too), before anything reaches the device.
pub fn check_depth(ten_bit: bool, profile: ffi::VAProfile, what: &str, bit_depth: u32) -> VaResult<()> {
    if crate::driver::context::depth_matches(ten_bit, bit_depth) {
        return Ok(());
    }
    Err(va_err!(
        VA_STATUS_ERROR_UNSUPPORTED_PROFILE,
        "{what}: a {bit_depth}-bit picture on a {}-bit context (config profile {profile})",
        if ten_bit { 10 } else { 8 },
    ))
}

/// An optional parameter buffer (IQ matrix, probabilities): absent is fine, short is an error.
pub fn optional<T: crate::va_sys::abi::VaPod>(bytes: Option<&[u8]>, what: &str) -> VaResult<Option<T>> {
    bytes.map(|b| read_pod(b, 0).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "short {what} buffer"))).transpose()
}

/// The first slice's (param, data), data cut to its range, once every
/// slice is checked as [`slices_into`] does.
pub fn first_slice<P: crate::va_sys::abi::VaPod>(picture: &PictureBuffers, range: impl Fn(&P) -> (u32, u32)) -> VaResult<(P, &[u8])> {
    let mut first = None;
    each_slice(picture, range, |param, data| {
        first.get_or_insert((param, data));
    })?;
    first.ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "picture without slice data"))
}

/// `make(param, data)` of every slice into `out` (cleared first), data cut to the slice's range.
pub fn slices_into<'p, P: crate::va_sys::abi::VaPod, T>(
    picture: &'p PictureBuffers,
    range: impl Fn(&P) -> (u32, u32),
    out: &mut Vec<T>,
    make: impl Fn(P, &'p [u8]) -> T,
) -> VaResult<()> {
    out.clear();
    each_slice(picture, range, |param, data| out.push(make(param, data)))
}

/// `f(param, data)` for every slice, data cut to the slice's range; an error
/// for a short buffer, a range outside its data, or no slice at all.
fn each_slice<'p, P: crate::va_sys::abi::VaPod>(
    picture: &'p PictureBuffers,
    range: impl Fn(&P) -> (u32, u32),
    mut f: impl FnMut(P, &'p [u8]),
) -> VaResult<()> {
    let mut n = 0usize;
    for &(pidx, count, data_idx) in &picture.slice_params {
        let bytes = picture.params(pidx);
        let data = picture.slice_data.get(data_idx);
        for i in 0..count as usize {
            let param: P = read_pod(bytes, i).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "short slice parameter buffer"))?;
            let (offset, size) = range(&param);
            let start = offset as usize;
            let end = start.saturating_add(size as usize);
            let slice = data
                .get(start..end)
                .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "slice data {start}..{end} outside a {}-byte buffer", data.len()))?;
            f(param, slice);
            n += 1;
        }
    }
    if n == 0 {
        return Err(va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "picture without slice data"));
    }
    Ok(())
}

/// The per-picture lists of a codec whose pictures are slices (H.264,
/// HEVC), kept from picture to picture to reuse their allocations.
#[derive(Default)]
pub struct SliceRequestLists {
    /// The picture's control list (see [`RequestPart::specs`]).
    specs: Vec<ControlSpec<'static>>,
    parts: Vec<RequestPart>,
    ref_surfaces: Vec<ffi::VASurfaceID>,
}

/// [`SliceRequestLists`] lent to one picture: empty, their controls borrowing
/// that picture's translation.
pub struct SliceRequests<'c> {
    pub specs: Vec<ControlSpec<'c>>,
    pub parts: Vec<RequestPart>,
    pub ref_surfaces: Vec<ffi::VASurfaceID>,
}

impl SliceRequestLists {
    /// The lists, empty, for one picture; give them back with [`Self::put_back`].
    pub fn lend<'c>(&mut self) -> SliceRequests<'c> {
        let mut parts = std::mem::take(&mut self.parts);
        parts.clear();
        let mut ref_surfaces = std::mem::take(&mut self.ref_surfaces);
        ref_surfaces.clear();
        SliceRequests { specs: recycle(std::mem::take(&mut self.specs)), parts, ref_surfaces }
    }

    pub fn put_back(&mut self, lists: SliceRequests) {
        self.specs = recycle(lists.specs);
        self.parts = lists.parts;
        self.ref_surfaces = lists.ref_surfaces;
    }
}

impl<'c> SliceRequests<'c> {
    /// Lay out a picture of slices as requests: the slices' data (through
    /// `append`) into `bitstream`, and either one request per slice
    /// (`slice_based`: the controls so far, which every request carries, then
    /// what `per_slice` adds for slice `i`) or one request for the whole
    /// picture (the controls so far, then what `per_picture` adds).
    pub fn lay_out<'d>(
        &mut self,
        bitstream: &mut Vec<u8>,
        slices: impl Iterator<Item = &'d [u8]>,
        append: impl Fn(&mut Vec<u8>, &[u8]),
        slice_based: bool,
        mut per_slice: impl FnMut(usize, &mut Vec<ControlSpec<'c>>),
        per_picture: impl FnOnce(&mut Vec<ControlSpec<'c>>),
    ) {
        let common = self.specs.len();
        bitstream.clear();
        if slice_based {
            for (i, data) in slices.enumerate() {
                let start = bitstream.len();
                append(bitstream, data);
                let first = self.specs.len();
                self.specs.extend_from_within(..common);
                per_slice(i, &mut self.specs);
                self.parts.push(RequestPart { bytes: start..bitstream.len(), specs: first..self.specs.len() });
            }
        } else {
            for data in slices {
                append(bitstream, data);
            }
            per_picture(&mut self.specs);
            self.parts.push(RequestPart { bytes: 0..bitstream.len(), specs: 0..self.specs.len() });
        }
    }
}
