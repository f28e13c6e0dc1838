//! Extended controls: compound payloads (`ControlSpec`), S_EXT_CTRLS with or
//! without a request, control queries (QUERY_EXT_CTRL / QUERYMENU) and the
//! table of stateless controls per coded format used by the size check.

use std::os::fd::AsRawFd;

use nix::errno::Errno;
use v4l2r::bindings;
use v4l2r::ioctl::{CtrlId, CtrlWhich, QueryCtrlFlags};

use super::fourcc::*;

/// One compound control payload: the bytes of a `#[repr(C)]` v4l2 control
/// struct (or an array of them). Build it with [`ControlSpec::new`] /
/// [`ControlSpec::from_slice`], or from bytes you already have.
#[derive(Clone, Copy, Debug)]
pub struct ControlSpec<'a> {
    pub id: u32,
    pub data: &'a [u8],
}

impl<'a> ControlSpec<'a> {
    /// A control whose payload is one struct (e.g. `v4l2_ctrl_h264_sps`).
    pub fn new<T: Copy>(id: u32, value: &'a T) -> Self {
        ControlSpec { id, data: as_bytes(value) }
    }

    /// A control whose payload is an array (e.g. H.264 slice params for several slices).
    pub fn from_slice<T: Copy>(id: u32, values: &'a [T]) -> Self {
        ControlSpec { id, data: slice_as_bytes(values) }
    }
}

/// The one raw-byte view of control structs.
mod raw {
    /// # Contract
    /// `T` is a plain-old-data uAPI struct (bindgen'd from videodev2.h / v4l2-controls.h):
    /// integers and arrays of integers only, no references, no implicit padding.
    pub fn slice_as_bytes<T: Copy>(v: &[T]) -> &[u8] {
        // SAFETY: the pointer and length describe exactly the memory of `v`, which stays
        // borrowed for the returned lifetime; u8 has alignment 1. The v4l2 control structs
        // are plain-old-data whose padding is explicit (`reserved`/`padding` members), so
        // every byte is initialised.
        unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
    }
}

/// Bytes of one plain-old-data v4l2 struct (see the contract on [`slice_as_bytes`]).
pub fn as_bytes<T: Copy>(v: &T) -> &[u8] {
    raw::slice_as_bytes(std::slice::from_ref(v))
}

/// Bytes of a slice of plain-old-data v4l2 structs. Only use with the uAPI
/// control structs of `v4l2r::bindings` (integers, arrays, explicit padding).
pub fn slice_as_bytes<T: Copy>(v: &[T]) -> &[u8] {
    raw::slice_as_bytes(v)
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
/// built per call and never stored: the scratch stays `Send`.)
#[derive(Default, Debug)]
pub(crate) struct CtrlScratch {
    bytes: Vec<u8>,
}

impl CtrlScratch {
    fn fill(&mut self, specs: &[ControlSpec<'_>]) -> Vec<bindings::v4l2_ext_control> {
        self.bytes.clear();
        let mut offsets = Vec::with_capacity(specs.len());
        for s in specs {
            let pad = (8 - self.bytes.len() % 8) % 8;
            self.bytes.resize(self.bytes.len() + pad, 0);
            offsets.push(self.bytes.len());
            self.bytes.extend_from_slice(s.data);
        }
        let base = self.bytes.as_mut_ptr();
        let mut ctrls = Vec::with_capacity(specs.len());
        for (s, off) in specs.iter().zip(offsets) {
            ctrls.push(bindings::v4l2_ext_control {
                id: s.id,
                size: s.data.len() as u32,
                reserved2: [0],
                __bindgen_anon_1: bindings::v4l2_ext_control__bindgen_ty_1 { p_u8: base.wrapping_add(off) },
            });
        }
        ctrls
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
    let mut ctrls = scratch.fill(specs);
    let res = v4l2r::ioctl::s_ext_ctrls(fd, which_v4l2r(which), ctrls.as_mut_slice());
    let ids: Vec<u32> = specs.iter().map(|s| s.id).collect();
    res.map_err(|e| to_failure(e, &ids))
}

/// VIDIOC_S_EXT_CTRLS with plain 32-bit values (menus, integers, booleans).
pub(crate) fn s_ext_ctrl_values(fd: &impl AsRawFd, which: Which, values: &[(u32, i32)]) -> Result<(), ExtCtrlsFailure> {
    if values.is_empty() {
        return Ok(());
    }
    let mut ctrls = value_controls(values);
    let res = v4l2r::ioctl::s_ext_ctrls(fd, which_v4l2r(which), ctrls.as_mut_slice());
    let ids: Vec<u32> = values.iter().map(|v| v.0).collect();
    res.map_err(|e| to_failure(e, &ids))
}

fn to_failure(e: v4l2r::ioctl::ExtControlError, ids: &[u32]) -> ExtCtrlsFailure {
    let failed_id = ids.get(e.error_idx as usize).copied();
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

const fn cc(id: u32, name: &'static str, size: usize, required: bool) -> CodecControl {
    CodecControl { id, name, size, required }
}

use std::mem::size_of;

const H264_CONTROLS: &[CodecControl] = &[
    cc(bindings::V4L2_CID_STATELESS_H264_SPS, "H264_SPS", size_of::<bindings::v4l2_ctrl_h264_sps>(), true),
    cc(bindings::V4L2_CID_STATELESS_H264_PPS, "H264_PPS", size_of::<bindings::v4l2_ctrl_h264_pps>(), true),
    cc(
        bindings::V4L2_CID_STATELESS_H264_SCALING_MATRIX,
        "H264_SCALING_MATRIX",
        size_of::<bindings::v4l2_ctrl_h264_scaling_matrix>(),
        false,
    ),
    cc(bindings::V4L2_CID_STATELESS_H264_PRED_WEIGHTS, "H264_PRED_WEIGHTS", size_of::<bindings::v4l2_ctrl_h264_pred_weights>(), false),
    cc(bindings::V4L2_CID_STATELESS_H264_SLICE_PARAMS, "H264_SLICE_PARAMS", size_of::<bindings::v4l2_ctrl_h264_slice_params>(), false),
    cc(bindings::V4L2_CID_STATELESS_H264_DECODE_PARAMS, "H264_DECODE_PARAMS", size_of::<bindings::v4l2_ctrl_h264_decode_params>(), true),
];

const HEVC_CONTROLS: &[CodecControl] = &[
    cc(bindings::V4L2_CID_STATELESS_HEVC_SPS, "HEVC_SPS", size_of::<bindings::v4l2_ctrl_hevc_sps>(), true),
    cc(bindings::V4L2_CID_STATELESS_HEVC_PPS, "HEVC_PPS", size_of::<bindings::v4l2_ctrl_hevc_pps>(), true),
    cc(bindings::V4L2_CID_STATELESS_HEVC_SLICE_PARAMS, "HEVC_SLICE_PARAMS", size_of::<bindings::v4l2_ctrl_hevc_slice_params>(), false),
    cc(
        bindings::V4L2_CID_STATELESS_HEVC_SCALING_MATRIX,
        "HEVC_SCALING_MATRIX",
        size_of::<bindings::v4l2_ctrl_hevc_scaling_matrix>(),
        false,
    ),
    cc(bindings::V4L2_CID_STATELESS_HEVC_DECODE_PARAMS, "HEVC_DECODE_PARAMS", size_of::<bindings::v4l2_ctrl_hevc_decode_params>(), true),
    cc(bindings::V4L2_CID_STATELESS_HEVC_ENTRY_POINT_OFFSETS, "HEVC_ENTRY_POINT_OFFSETS", size_of::<u32>(), false),
];

const MPEG2_CONTROLS: &[CodecControl] = &[
    cc(bindings::V4L2_CID_STATELESS_MPEG2_SEQUENCE, "MPEG2_SEQUENCE", size_of::<bindings::v4l2_ctrl_mpeg2_sequence>(), true),
    cc(bindings::V4L2_CID_STATELESS_MPEG2_PICTURE, "MPEG2_PICTURE", size_of::<bindings::v4l2_ctrl_mpeg2_picture>(), true),
    cc(bindings::V4L2_CID_STATELESS_MPEG2_QUANTISATION, "MPEG2_QUANTISATION", size_of::<bindings::v4l2_ctrl_mpeg2_quantisation>(), false),
];

const VP8_CONTROLS: &[CodecControl] =
    &[cc(bindings::V4L2_CID_STATELESS_VP8_FRAME, "VP8_FRAME", size_of::<bindings::v4l2_ctrl_vp8_frame>(), true)];

const VP9_CONTROLS: &[CodecControl] = &[
    cc(bindings::V4L2_CID_STATELESS_VP9_FRAME, "VP9_FRAME", size_of::<bindings::v4l2_ctrl_vp9_frame>(), true),
    cc(bindings::V4L2_CID_STATELESS_VP9_COMPRESSED_HDR, "VP9_COMPRESSED_HDR", size_of::<bindings::v4l2_ctrl_vp9_compressed_hdr>(), false),
];

const AV1_CONTROLS: &[CodecControl] = &[
    cc(bindings::V4L2_CID_STATELESS_AV1_SEQUENCE, "AV1_SEQUENCE", size_of::<bindings::v4l2_ctrl_av1_sequence>(), true),
    cc(
        bindings::V4L2_CID_STATELESS_AV1_TILE_GROUP_ENTRY,
        "AV1_TILE_GROUP_ENTRY",
        size_of::<bindings::v4l2_ctrl_av1_tile_group_entry>(),
        false,
    ),
    cc(bindings::V4L2_CID_STATELESS_AV1_FRAME, "AV1_FRAME", size_of::<bindings::v4l2_ctrl_av1_frame>(), true),
    cc(bindings::V4L2_CID_STATELESS_AV1_FILM_GRAIN, "AV1_FILM_GRAIN", size_of::<bindings::v4l2_ctrl_av1_film_grain>(), false),
];

const FWHT_CONTROLS: &[CodecControl] =
    &[cc(bindings::V4L2_CID_STATELESS_FWHT_PARAMS, "FWHT_PARAMS", size_of::<bindings::v4l2_ctrl_fwht_params>(), true)];

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
    fn as_bytes_covers_the_struct() {
        let sps = bindings::v4l2_ctrl_h264_sps { profile_idc: 100, level_idc: 40, ..Default::default() };
        let b = as_bytes(&sps);
        assert_eq!(b.len(), size_of::<bindings::v4l2_ctrl_h264_sps>());
        assert_eq!(b[0], 100);
        assert_eq!(b[2], 40);
        let arr = [1u32, 2, 3];
        assert_eq!(slice_as_bytes(&arr), &[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
        let spec = ControlSpec::from_slice(7, &arr);
        assert_eq!(spec.data.len(), 12);
        let spec = ControlSpec::new(bindings::V4L2_CID_STATELESS_H264_SPS, &sps);
        assert_eq!(spec.data.len(), 1048);
    }

    #[test]
    fn scratch_lays_out_payloads_aligned() {
        let a = [1u8, 2, 3];
        let b = [9u8; 16];
        let specs = [ControlSpec { id: 1, data: &a }, ControlSpec { id: 2, data: &b }];
        let mut s = CtrlScratch::default();
        let c = s.fill(&specs);
        assert_eq!(c.len(), 2);
        assert_eq!({ c[0].size }, 3);
        assert_eq!({ c[1].size }, 16);
        assert_eq!(&s.bytes[0..3], &a);
        assert_eq!(&s.bytes[8..24], &b);
        // Refill with fewer controls reuses the buffer.
        let c = s.fill(&specs[..1]);
        assert_eq!(c.len(), 1);
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
