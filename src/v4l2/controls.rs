//! Extended controls: compound payloads (`ControlSpec`), S_EXT_CTRLS with or
//! without a request, control queries (QUERY_EXT_CTRL / QUERYMENU) and the
//! table of stateless controls per coded format used by the size check.

use std::os::fd::AsRawFd;

use nix::errno::Errno;
use v4l2r::bindings;
use v4l2r::ioctl::{CtrlId, CtrlWhich, QueryCtrlFlags};

use super::fourcc::*;

/// One compound control payload: the control ID and the bytes of its
/// `#[repr(C)]` uAPI struct (or an array of them). Build it with
/// [`ControlSpec::new`] / [`ControlSpec::from_slice`], which take the ID from
/// the payload's type ([`ControlPayload`]), or from bytes you already have.
#[derive(Clone, Copy, Debug)]
pub struct ControlSpec<'a> {
    pub id: u32,
    pub data: &'a [u8],
}

impl<'a> ControlSpec<'a> {
    /// The control whose payload is one `T` (e.g. `v4l2_ctrl_h264_sps`: H264_SPS).
    pub fn new<T: ControlPayload>(value: &'a T) -> Self {
        Self::from_slice(std::slice::from_ref(value))
    }

    /// The control whose payload is an array of `T` (e.g. HEVC slice params for several slices).
    pub fn from_slice<T: ControlPayload>(values: &'a [T]) -> Self {
        // SAFETY: `T: ControlPayload` has no implicit padding and only integer
        // fields (the trait's contract), so every byte of `values` is initialised;
        // pointer and length describe exactly the memory of `values`, which stays
        // borrowed for the returned lifetime, and u8 has alignment 1.
        let data = unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values)) };
        ControlSpec { id: T::ID, data }
    }
}

/// One value of V4L2_CID_STATELESS_HEVC_ENTRY_POINT_OFFSETS
/// (`entry_point_offset_minus1[i] + 1`): the one control whose payload is a
/// plain integer array, typed so that no other integer passes for it.
///
/// ```compile_fail
/// // A bare `u32` array is no control payload.
/// let _ = v4l2_request_va::testing::ControlSpec::from_slice(&[1u32, 2]);
/// ```
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HevcEntryPointOffset(pub u32);

mod sealed {
    /// Only this module implements [`super::ControlPayload`].
    pub trait Sealed {}
}

/// The payload type of one stateless control, tied to the control's ID: a wrong
/// ID/payload pair cannot be written, and only these types are ever viewed as bytes.
///
/// ```compile_fail
/// // A type with padding (or any type not listed here) is no control payload.
/// let v = (1u8, 2u32);
/// let _ = v4l2_request_va::testing::ControlSpec::new(&v);
/// ```
///
/// # Safety
/// Implemented (here only: the trait is sealed) for the uAPI control structs of
/// `v4l2r::bindings` (bindgen'd from v4l2-controls.h), whose members are
/// integers, integer arrays and nested structs of the same kind, with every
/// gap spelled out as a `reserved`/`padding` member (the uAPI's rule for
/// compound controls), and for [`HevcEntryPointOffset`], a `repr(transparent)`
/// `u32`: no implicit padding, so all bytes are initialised.
pub unsafe trait ControlPayload: sealed::Sealed + Copy {
    /// `V4L2_CID_STATELESS_*` of the control whose payload this is.
    const ID: u32;
}

macro_rules! control_payloads {
    ($($ty:ty => $id:ident,)*) => {$(
        impl sealed::Sealed for $ty {}
        // SAFETY: a uAPI control struct (or a `u32` newtype): integers only, no implicit
        // padding (see the trait's contract).
        unsafe impl ControlPayload for $ty {
            const ID: u32 = bindings::$id;
        }
    )*};
}

control_payloads! {
    bindings::v4l2_ctrl_h264_sps => V4L2_CID_STATELESS_H264_SPS,
    bindings::v4l2_ctrl_h264_pps => V4L2_CID_STATELESS_H264_PPS,
    bindings::v4l2_ctrl_h264_scaling_matrix => V4L2_CID_STATELESS_H264_SCALING_MATRIX,
    bindings::v4l2_ctrl_h264_pred_weights => V4L2_CID_STATELESS_H264_PRED_WEIGHTS,
    bindings::v4l2_ctrl_h264_slice_params => V4L2_CID_STATELESS_H264_SLICE_PARAMS,
    bindings::v4l2_ctrl_h264_decode_params => V4L2_CID_STATELESS_H264_DECODE_PARAMS,
    bindings::v4l2_ctrl_hevc_sps => V4L2_CID_STATELESS_HEVC_SPS,
    bindings::v4l2_ctrl_hevc_pps => V4L2_CID_STATELESS_HEVC_PPS,
    bindings::v4l2_ctrl_hevc_slice_params => V4L2_CID_STATELESS_HEVC_SLICE_PARAMS,
    bindings::v4l2_ctrl_hevc_scaling_matrix => V4L2_CID_STATELESS_HEVC_SCALING_MATRIX,
    bindings::v4l2_ctrl_hevc_decode_params => V4L2_CID_STATELESS_HEVC_DECODE_PARAMS,
    // The one control whose payload is a plain integer array (`repr(transparent)` over `u32`).
    HevcEntryPointOffset => V4L2_CID_STATELESS_HEVC_ENTRY_POINT_OFFSETS,
    bindings::v4l2_ctrl_mpeg2_sequence => V4L2_CID_STATELESS_MPEG2_SEQUENCE,
    bindings::v4l2_ctrl_mpeg2_picture => V4L2_CID_STATELESS_MPEG2_PICTURE,
    bindings::v4l2_ctrl_mpeg2_quantisation => V4L2_CID_STATELESS_MPEG2_QUANTISATION,
    bindings::v4l2_ctrl_vp8_frame => V4L2_CID_STATELESS_VP8_FRAME,
    bindings::v4l2_ctrl_vp9_frame => V4L2_CID_STATELESS_VP9_FRAME,
    bindings::v4l2_ctrl_vp9_compressed_hdr => V4L2_CID_STATELESS_VP9_COMPRESSED_HDR,
    bindings::v4l2_ctrl_av1_sequence => V4L2_CID_STATELESS_AV1_SEQUENCE,
    bindings::v4l2_ctrl_av1_tile_group_entry => V4L2_CID_STATELESS_AV1_TILE_GROUP_ENTRY,
    bindings::v4l2_ctrl_av1_frame => V4L2_CID_STATELESS_AV1_FRAME,
    bindings::v4l2_ctrl_av1_film_grain => V4L2_CID_STATELESS_AV1_FILM_GRAIN,
    bindings::v4l2_ctrl_fwht_params => V4L2_CID_STATELESS_FWHT_PARAMS,
}

/// Which control values an S_EXT_CTRLS targets.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Which {
    Current,
    Request(i32),
}

/// Reusable buffers for S_EXT_CTRLS: the kernel reads the payloads through
/// pointers and writes the (possibly adjusted) values back, so they are
/// copied into memory we own and may let the kernel write.
/// (The `v4l2_ext_control` array holds raw pointers into `bytes`, so it is
/// built per call, on the stack up to [`INLINE_CONTROLS`], and never stored:
/// the scratch stays `Send`.)
#[derive(Default, Debug)]
pub(crate) struct CtrlScratch {
    bytes: Vec<u8>,
}

/// Controls per S_EXT_CTRLS laid out without a heap list (a request carries
/// at most eight today: H.264 with prediction weights and decode mode).
const INLINE_CONTROLS: usize = 16;

/// An empty control, to initialise the control arrays.
const NO_CONTROL: bindings::v4l2_ext_control =
    bindings::v4l2_ext_control { id: 0, size: 0, reserved2: [0], __bindgen_anon_1: bindings::v4l2_ext_control__bindgen_ty_1 { value: 0 } };

impl CtrlScratch {
    /// Copy the payloads of `specs` into `bytes` (each 8-byte aligned) and
    /// point `ctrls[i]` at the copy of `specs[i]`. `ctrls` has `specs.len()` entries.
    fn fill(&mut self, specs: &[ControlSpec<'_>], ctrls: &mut [bindings::v4l2_ext_control]) {
        self.bytes.clear();
        for s in specs {
            let pad = (8 - self.bytes.len() % 8) % 8;
            self.bytes.resize(self.bytes.len() + pad, 0);
            self.bytes.extend_from_slice(s.data);
        }
        // The same layout again, now that `bytes` no longer moves.
        let base = self.bytes.as_mut_ptr();
        let mut off = 0usize;
        for (s, c) in specs.iter().zip(ctrls.iter_mut()) {
            off += (8 - off % 8) % 8;
            *c = bindings::v4l2_ext_control {
                id: s.id,
                size: s.data.len() as u32,
                reserved2: [0],
                __bindgen_anon_1: bindings::v4l2_ext_control__bindgen_ty_1 { p_u8: base.wrapping_add(off) },
            };
            off += s.data.len();
        }
    }
}

fn value_controls(values: &[(u32, i32)]) -> Vec<bindings::v4l2_ext_control> {
    values
        .iter()
        .map(|&(id, value)| bindings::v4l2_ext_control {
            id,
            size: 0,
            reserved2: [0],
            __bindgen_anon_1: bindings::v4l2_ext_control__bindgen_ty_1 { value },
        })
        .collect()
}

fn which_v4l2r(which: Which) -> CtrlWhich {
    match which {
        Which::Current => CtrlWhich::Current,
        Which::Request(fd) => CtrlWhich::Request(fd),
    }
}

/// Failed S_EXT_CTRLS: errno and the control it stopped at (when the kernel says).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExtCtrlsFailure {
    pub errno: Errno,
    pub failed_id: Option<u32>,
}

/// VIDIOC_S_EXT_CTRLS with compound payloads.
pub(crate) fn s_ext_ctrls(
    fd: &impl AsRawFd,
    which: Which,
    specs: &[ControlSpec<'_>],
    scratch: &mut CtrlScratch,
) -> Result<(), ExtCtrlsFailure> {
    if specs.is_empty() {
        return Ok(());
    }
    let mut inline = [NO_CONTROL; INLINE_CONTROLS];
    let mut heap = Vec::new();
    let ctrls: &mut [bindings::v4l2_ext_control] = if specs.len() <= INLINE_CONTROLS {
        &mut inline[..specs.len()]
    } else {
        heap.resize(specs.len(), NO_CONTROL);
        &mut heap
    };
    scratch.fill(specs, ctrls);
    let res = v4l2r::ioctl::s_ext_ctrls(fd, which_v4l2r(which), ctrls);
    // The failed control's ID is looked up only on failure (no list per call).
    res.map_err(|e| to_failure(e, |i| specs.get(i).map(|s| s.id)))
}

/// VIDIOC_S_EXT_CTRLS with plain 32-bit values (menus, integers, booleans).
pub(crate) fn s_ext_ctrl_values(fd: &impl AsRawFd, which: Which, values: &[(u32, i32)]) -> Result<(), ExtCtrlsFailure> {
    if values.is_empty() {
        return Ok(());
    }
    let mut ctrls = value_controls(values);
    let res = v4l2r::ioctl::s_ext_ctrls(fd, which_v4l2r(which), ctrls.as_mut_slice());
    res.map_err(|e| to_failure(e, |i| values.get(i).map(|v| v.0)))
}

fn to_failure(e: v4l2r::ioctl::ExtControlError, id_at: impl Fn(usize) -> Option<u32>) -> ExtCtrlsFailure {
    let failed_id = id_at(e.error_idx as usize);
    ExtCtrlsFailure { errno: Errno::from(e), failed_id }
}

/// What VIDIOC_QUERY_EXT_CTRL says about one control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtrlInfo {
    pub id: u32,
    pub ctrl_type: u32,
    pub minimum: i64,
    pub maximum: i64,
    pub default_value: i64,
    pub flags: u32,
    pub elem_size: u32,
    pub elems: u32,
    pub nr_of_dims: u32,
    pub dims: [u32; 4],
}

/// VIDIOC_QUERY_EXT_CTRL for one id. EINVAL = the device has no such control.
pub(crate) fn query_ext_ctrl(fd: &impl AsRawFd, id: u32) -> Result<CtrlInfo, Errno> {
    let cid = CtrlId::new(id).map_err(|_| Errno::EINVAL)?;
    let q: bindings::v4l2_query_ext_ctrl = v4l2r::ioctl::query_ext_ctrl(fd, cid, QueryCtrlFlags::empty()).map_err(Errno::from)?;
    Ok(CtrlInfo {
        id: q.id,
        ctrl_type: q.type_,
        minimum: q.minimum,
        maximum: q.maximum,
        default_value: q.default_value,
        flags: q.flags,
        elem_size: q.elem_size,
        elems: q.elems,
        nr_of_dims: q.nr_of_dims,
        dims: q.dims,
    })
}

/// VIDIOC_G_CTRL: the current value of a plain control.
pub(crate) fn g_ctrl(fd: &impl AsRawFd, id: u32) -> Result<i32, Errno> {
    v4l2r::ioctl::g_ctrl(fd, id).map_err(Errno::from)
}

/// Largest menu we walk with QUERYMENU.
const MAX_MENU_ITEMS: i64 = 256;

/// Menu indices the device supports for a menu control (QUERYMENU over
/// minimum..=maximum; EINVAL marks a skipped index). `Err` carries the errno
/// and which ioctl failed (`true` = QUERY_EXT_CTRL, `false` = QUERYMENU).
pub(crate) fn menu_values(fd: &impl AsRawFd, id: u32) -> Result<Vec<u32>, (bool, Errno)> {
    let info = query_ext_ctrl(fd, id).map_err(|e| (true, e))?;
    if info.ctrl_type != bindings::v4l2_ctrl_type_V4L2_CTRL_TYPE_MENU
        && info.ctrl_type != bindings::v4l2_ctrl_type_V4L2_CTRL_TYPE_INTEGER_MENU
    {
        return Err((true, Errno::ENOTTY));
    }
    let lo = info.minimum.max(0);
    let hi = info.maximum.min(lo + MAX_MENU_ITEMS - 1);
    let mut out = Vec::new();
    for index in lo..=hi {
        match v4l2r::ioctl::querymenu::<bindings::v4l2_querymenu>(fd, id, index as u32) {
            Ok(_) => out.push(index as u32),
            Err(v4l2r::ioctl::QueryMenuError::InvalidIdOrIndex) => {}
            Err(e) => return Err((false, Errno::from(e))),
        }
    }
    Ok(out)
}

/// One stateless control a coded format relies on: its id, the size of our
/// struct (one element), and whether decoding is impossible without it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodecControl {
    pub id: u32,
    pub name: &'static str,
    pub size: usize,
    pub required: bool,
}

/// The table row of the control whose payload is `T` (ID and size from the type).
const fn cc<T: ControlPayload>(name: &'static str, required: bool) -> CodecControl {
    CodecControl { id: T::ID, name, size: size_of::<T>(), required }
}

use std::mem::size_of;

const H264_CONTROLS: &[CodecControl] = &[
    cc::<bindings::v4l2_ctrl_h264_sps>("H264_SPS", true),
    cc::<bindings::v4l2_ctrl_h264_pps>("H264_PPS", true),
    cc::<bindings::v4l2_ctrl_h264_scaling_matrix>("H264_SCALING_MATRIX", false),
    cc::<bindings::v4l2_ctrl_h264_pred_weights>("H264_PRED_WEIGHTS", false),
    cc::<bindings::v4l2_ctrl_h264_slice_params>("H264_SLICE_PARAMS", false),
    cc::<bindings::v4l2_ctrl_h264_decode_params>("H264_DECODE_PARAMS", true),
];

const HEVC_CONTROLS: &[CodecControl] = &[
    cc::<bindings::v4l2_ctrl_hevc_sps>("HEVC_SPS", true),
    cc::<bindings::v4l2_ctrl_hevc_pps>("HEVC_PPS", true),
    cc::<bindings::v4l2_ctrl_hevc_slice_params>("HEVC_SLICE_PARAMS", false),
    cc::<bindings::v4l2_ctrl_hevc_scaling_matrix>("HEVC_SCALING_MATRIX", false),
    cc::<bindings::v4l2_ctrl_hevc_decode_params>("HEVC_DECODE_PARAMS", true),
    cc::<HevcEntryPointOffset>("HEVC_ENTRY_POINT_OFFSETS", false),
];

const MPEG2_CONTROLS: &[CodecControl] = &[
    cc::<bindings::v4l2_ctrl_mpeg2_sequence>("MPEG2_SEQUENCE", true),
    cc::<bindings::v4l2_ctrl_mpeg2_picture>("MPEG2_PICTURE", true),
    cc::<bindings::v4l2_ctrl_mpeg2_quantisation>("MPEG2_QUANTISATION", false),
];

const VP8_CONTROLS: &[CodecControl] = &[cc::<bindings::v4l2_ctrl_vp8_frame>("VP8_FRAME", true)];

const VP9_CONTROLS: &[CodecControl] =
    &[cc::<bindings::v4l2_ctrl_vp9_frame>("VP9_FRAME", true), cc::<bindings::v4l2_ctrl_vp9_compressed_hdr>("VP9_COMPRESSED_HDR", false)];

const AV1_CONTROLS: &[CodecControl] = &[
    cc::<bindings::v4l2_ctrl_av1_sequence>("AV1_SEQUENCE", true),
    cc::<bindings::v4l2_ctrl_av1_tile_group_entry>("AV1_TILE_GROUP_ENTRY", false),
    cc::<bindings::v4l2_ctrl_av1_frame>("AV1_FRAME", true),
    cc::<bindings::v4l2_ctrl_av1_film_grain>("AV1_FILM_GRAIN", false),
];

const FWHT_CONTROLS: &[CodecControl] = &[cc::<bindings::v4l2_ctrl_fwht_params>("FWHT_PARAMS", true)];

/// The stateless controls of a coded (OUTPUT) format; empty for formats we do not know.
pub fn codec_controls(coded_fourcc: u32) -> &'static [CodecControl] {
    match coded_fourcc {
        V4L2_PIX_FMT_H264_SLICE => H264_CONTROLS,
        V4L2_PIX_FMT_HEVC_SLICE => HEVC_CONTROLS,
        V4L2_PIX_FMT_MPEG2_SLICE => MPEG2_CONTROLS,
        V4L2_PIX_FMT_VP8_FRAME => VP8_CONTROLS,
        V4L2_PIX_FMT_VP9_FRAME => VP9_CONTROLS,
        V4L2_PIX_FMT_AV1_FRAME => AV1_CONTROLS,
        V4L2_PIX_FMT_FWHT_STATELESS => FWHT_CONTROLS,
        _ => &[],
    }
}

/// Outcome of comparing one control with what the kernel reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeCheck {
    Ok,
    /// Optional control the device does not have.
    AbsentOptional,
    /// Required control the device does not have.
    AbsentRequired,
    /// The kernel's element size differs from our struct.
    Mismatch {
        kernel: u32,
        ours: usize,
    },
}

/// Pure comparison: `kernel` is `Some(elem_size)` when QUERY_EXT_CTRL found the control.
pub fn compare_size(ctrl: &CodecControl, kernel: Option<u32>) -> SizeCheck {
    match kernel {
        None if ctrl.required => SizeCheck::AbsentRequired,
        None => SizeCheck::AbsentOptional,
        Some(k) if k as usize == ctrl.size => SizeCheck::Ok,
        Some(k) => SizeCheck::Mismatch { kernel: k, ours: ctrl.size },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_bytes_cover_the_struct() {
        let sps = bindings::v4l2_ctrl_h264_sps { profile_idc: 100, level_idc: 40, ..Default::default() };
        let spec = ControlSpec::new(&sps);
        assert_eq!(spec.id, bindings::V4L2_CID_STATELESS_H264_SPS);
        assert_eq!(spec.data.len(), size_of::<bindings::v4l2_ctrl_h264_sps>());
        assert_eq!(spec.data.len(), 1048);
        assert_eq!(spec.data[0], 100);
        assert_eq!(spec.data[2], 40);
        let arr = [HevcEntryPointOffset(1), HevcEntryPointOffset(2), HevcEntryPointOffset(3)];
        let spec = ControlSpec::from_slice(&arr);
        assert_eq!(spec.id, bindings::V4L2_CID_STATELESS_HEVC_ENTRY_POINT_OFFSETS);
        assert_eq!(spec.data, &[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
    }

    #[test]
    fn scratch_lays_out_payloads_aligned() {
        let a = [1u8, 2, 3];
        let b = [9u8; 16];
        let specs = [ControlSpec { id: 1, data: &a }, ControlSpec { id: 2, data: &b }];
        let mut s = CtrlScratch::default();
        let mut c = [NO_CONTROL; 2];
        s.fill(&specs, &mut c);
        assert_eq!({ c[0].size }, 3);
        assert_eq!({ c[1].size }, 16);
        assert_eq!(&s.bytes[0..3], &a);
        assert_eq!(&s.bytes[8..24], &b);
        // The controls point at the copies.
        let base = s.bytes.as_ptr() as usize;
        // SAFETY: reading the pointer member of a union written by `fill` just above.
        let (p0, p1) = unsafe { (c[0].__bindgen_anon_1.p_u8 as usize, c[1].__bindgen_anon_1.p_u8 as usize) };
        assert_eq!((p0 - base, p1 - base), (0, 8));
        // Refill with fewer controls reuses the buffer.
        let mut c = [NO_CONTROL; 1];
        s.fill(&specs[..1], &mut c);
        assert_eq!({ c[0].id }, 1);
        let v = value_controls(&[(5, 1), (6, 0)]);
        assert_eq!(v.len(), 2);
        assert_eq!({ v[1].id }, 6);
        assert_eq!({ v[0].size }, 0);
        fn is_send<T: Send>() {}
        is_send::<CtrlScratch>();
    }

    #[test]
    fn known_struct_sizes() {
        // Sizes of the 6.12 uAPI structs (as the kernel reports in elem_size).
        assert_eq!(size_of::<bindings::v4l2_ctrl_h264_sps>(), 1048);
        assert_eq!(size_of::<bindings::v4l2_ctrl_h264_pps>(), 12);
        assert_eq!(size_of::<bindings::v4l2_ctrl_h264_scaling_matrix>(), 480);
        assert_eq!(size_of::<bindings::v4l2_ctrl_h264_slice_params>(), 152);
        assert_eq!(size_of::<bindings::v4l2_ctrl_h264_decode_params>(), 560);
        assert_eq!(size_of::<bindings::v4l2_ctrl_h264_pred_weights>(), 772);
        for f in [
            V4L2_PIX_FMT_H264_SLICE,
            V4L2_PIX_FMT_HEVC_SLICE,
            V4L2_PIX_FMT_MPEG2_SLICE,
            V4L2_PIX_FMT_VP8_FRAME,
            V4L2_PIX_FMT_VP9_FRAME,
            V4L2_PIX_FMT_AV1_FRAME,
        ] {
            let c = codec_controls(f);
            assert!(!c.is_empty());
            assert!(c.iter().any(|c| c.required));
            assert!(c.iter().all(|c| c.size > 0));
        }
        assert!(codec_controls(V4L2_PIX_FMT_NV12).is_empty());
    }

    #[test]
    fn size_comparison() {
        let c = H264_CONTROLS[0];
        assert_eq!(compare_size(&c, Some(1048)), SizeCheck::Ok);
        assert_eq!(compare_size(&c, Some(1044)), SizeCheck::Mismatch { kernel: 1044, ours: 1048 });
        assert_eq!(compare_size(&c, None), SizeCheck::AbsentRequired);
        let opt = H264_CONTROLS[2];
        assert_eq!(compare_size(&opt, None), SizeCheck::AbsentOptional);
    }
}
