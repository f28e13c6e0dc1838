//! Plain-old-data views of VA parameter buffers.
//!
//! Applications hand the driver parameter structs (`VAPictureParameterBufferH264`
//! and friends) as raw bytes in VA buffers. This is the one place that turns
//! those bytes into typed values: only types marked [`VaPod`] (bindgen structs
//! made of integers and arrays of integers, valid for every bit pattern) may be
//! read, and reads are unaligned copies with a length check.

use super::ffi;

/// Marker for bindgen types that are valid for any bit pattern.
///
/// # Safety
/// Implement only for `#[repr(C)]` types without pointers, references, bools,
/// enums with invalid values, or padding-sensitive invariants.
pub unsafe trait VaPod: Copy + Default {}

// SAFETY: each of these bindgen structs consists solely of integer fields,
// integer arrays, nested structs of the same kind and bitfield storage units
// (plain integers), so every bit pattern is a valid value.
unsafe impl VaPod for ffi::VAPictureParameterBufferH264 {}
// SAFETY: as above (integers and integer arrays only).
unsafe impl VaPod for ffi::VASliceParameterBufferH264 {}
// SAFETY: as above (u8 arrays only).
unsafe impl VaPod for ffi::VAIQMatrixBufferH264 {}

// SAFETY: as above: integer fields, integer arrays, nested plain structs and
// bitfield storage units only.
unsafe impl VaPod for ffi::VAPictureParameterBufferMPEG2 {}
// SAFETY: as above.
unsafe impl VaPod for ffi::VASliceParameterBufferMPEG2 {}
// SAFETY: as above.
unsafe impl VaPod for ffi::VAIQMatrixBufferMPEG2 {}
// SAFETY: as above.
unsafe impl VaPod for ffi::VAPictureParameterBufferVP8 {}
// SAFETY: as above.
unsafe impl VaPod for ffi::VASliceParameterBufferVP8 {}
// SAFETY: as above.
unsafe impl VaPod for ffi::VAIQMatrixBufferVP8 {}
// SAFETY: as above.
unsafe impl VaPod for ffi::VAProbabilityDataBufferVP8 {}
// SAFETY: as above.
unsafe impl VaPod for ffi::VADecPictureParameterBufferVP9 {}
// SAFETY: as above.
unsafe impl VaPod for ffi::VASliceParameterBufferVP9 {}
// SAFETY: as above.
unsafe impl VaPod for ffi::VAPictureParameterBufferHEVC {}
// SAFETY: as above.
unsafe impl VaPod for ffi::VASliceParameterBufferHEVC {}
// SAFETY: as above.
unsafe impl VaPod for ffi::VAIQMatrixBufferHEVC {}
// SAFETY: integers, integer arrays and one raw pointer (`anchor_frames_list`):
// any bit pattern is a valid raw pointer value, and the driver never
// dereferences it.
unsafe impl VaPod for ffi::VADecPictureParameterBufferAV1 {}
// SAFETY: integers and integer arrays only.
unsafe impl VaPod for ffi::VASliceParameterBufferAV1 {}

/// Read element `index` of an array of `T` stored in `bytes`.
pub fn read_pod<T: VaPod>(bytes: &[u8], index: usize) -> Option<T> {
    let size = std::mem::size_of::<T>();
    let start = index.checked_mul(size)?;
    let end = start.checked_add(size)?;
    let chunk = bytes.get(start..end)?;
    // SAFETY: `chunk` holds exactly size_of::<T>() readable bytes, T is VaPod so
    // any bit pattern is a valid T, and read_unaligned has no alignment needs.
    Some(unsafe { std::ptr::read_unaligned(chunk.as_ptr() as *const T) })
}

/// The bytes of `v`, as an application hands a parameter struct to
/// vaCreateBuffer (tests only: they build VA buffers from typed values).
#[cfg(test)]
pub fn pod_bytes<T: VaPod>(v: &T) -> Vec<u8> {
    let mut out = vec![0u8; std::mem::size_of::<T>()];
    // SAFETY: `out` has exactly size_of::<T>() writable bytes and
    // write_unaligned has no alignment needs. Bytes where T has implicit
    // padding hold whatever the value held; they are only ever read back
    // through `read_pod`, which ignores them, exactly like the bytes of a
    // C application's struct.
    unsafe { std::ptr::write_unaligned(out.as_mut_ptr() as *mut T, *v) };
    out
}

/// The `.value` words of the `seq_fields` and `pic_fields` bitfield unions of
/// an H.264 picture parameter buffer.
pub fn h264_bitfields(pic: &ffi::VAPictureParameterBufferH264) -> (u32, u32) {
    // SAFETY: both unions overlay a bitfield struct on a plain u32 `value`;
    // every bit pattern is a valid u32.
    unsafe { (pic.seq_fields.value, pic.pic_fields.value) }
}

/// `picture_coding_extension.value` of an MPEG-2 picture parameter buffer.
pub fn mpeg2_bitfields(pic: &ffi::VAPictureParameterBufferMPEG2) -> u32 {
    // SAFETY: the union overlays a bitfield struct on a plain u32 `value`.
    unsafe { pic.picture_coding_extension.value }
}

/// `pic_fields.value` of a VP8 picture parameter buffer.
pub fn vp8_bitfields(pic: &ffi::VAPictureParameterBufferVP8) -> u32 {
    // SAFETY: the union overlays a bitfield struct on a plain u32 `value`.
    unsafe { pic.pic_fields.value }
}

/// `pic_fields.value` of a VP9 picture parameter buffer.
pub fn vp9_bitfields(pic: &ffi::VADecPictureParameterBufferVP9) -> u32 {
    // SAFETY: the union overlays a bitfield struct on a plain u32 `value`.
    unsafe { pic.pic_fields.value }
}

/// The `.value` words of the bitfield unions of an AV1 picture parameter buffer:
/// seq_info, pic_info, loop_filter_info, qmatrix, mode_control,
/// loop_restoration, seg_info.segment_info, film_grain_info.film_grain_info.
pub fn av1_bitfields(pic: &ffi::VADecPictureParameterBufferAV1) -> (u32, u32, u8, u16, u32, u16, u32, u32) {
    // SAFETY: each union overlays a bitfield struct on a plain integer `value`;
    // every bit pattern is a valid integer.
    unsafe {
        (
            pic.seq_info_fields.value,
            pic.pic_info_fields.value,
            pic.loop_filter_info_fields.value,
            pic.qmatrix_fields.value,
            pic.mode_control_fields.value,
            pic.loop_restoration_fields.value,
            pic.seg_info.segment_info_fields.value,
            pic.film_grain_info.film_grain_info_fields.value,
        )
    }
}

/// `pic_fields.value` and `slice_parsing_fields.value` of an HEVC picture parameter buffer.
pub fn hevc_bitfields(pic: &ffi::VAPictureParameterBufferHEVC) -> (u32, u32) {
    // SAFETY: both unions overlay a bitfield struct on a plain u32 `value`.
    unsafe { (pic.pic_fields.value, pic.slice_parsing_fields.value) }
}

/// `LongSliceFlags.value` of an HEVC slice parameter buffer.
pub fn hevc_slice_flags(slice: &ffi::VASliceParameterBufferHEVC) -> u32 {
    // SAFETY: the union overlays a bitfield struct on a plain u32 `value`.
    unsafe { slice.LongSliceFlags.value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_length_checked() {
        let size = std::mem::size_of::<ffi::VAIQMatrixBufferH264>();
        let mut bytes = vec![0u8; size * 2];
        bytes[size] = 42; // first byte of element 1: ScalingList4x4[0][0]
        let second: ffi::VAIQMatrixBufferH264 = read_pod(&bytes, 1).unwrap();
        assert_eq!(second.ScalingList4x4[0][0], 42);
        assert!(read_pod::<ffi::VAIQMatrixBufferH264>(&bytes, 2).is_none());
        assert!(read_pod::<ffi::VAIQMatrixBufferH264>(&bytes[1..], 1).is_none());
        assert!(read_pod::<ffi::VAIQMatrixBufferH264>(&bytes, usize::MAX).is_none());
    }
}
