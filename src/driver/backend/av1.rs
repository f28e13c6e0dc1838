//! The AV1 backend: one request per picture (sequence, frame, tile group
//! entries, film grain), each picture held back until the next one tells its
//! `refresh_frame_flags` (VA does not carry them; the V4L2 frame control
//! needs them).

use super::{check_depth, recycle, BackendSetup, CodecBackend, PictureBuffers, PictureQueue};
use crate::codec::av1;
use crate::driver::context::DecodeState;
use crate::driver::error::VaResult;
use crate::pool::SurfaceKey;
use crate::va_err;
use crate::va_sys::abi::read_pod;
use crate::va_sys::ffi;

/// An AV1 picture translated but not queued yet.
struct DeferredAv1 {
    target: SurfaceKey,
    refs: [ffi::VASurfaceID; 8],
    ctrls: av1::Av1Controls,
    /// refresh_frame_flags is known (shown key frame, switch frame, or learnt
    /// from the next picture's ref_frame_map).
    exact: bool,
}

pub struct Av1Backend {
    profile: ffi::VAProfile,
    ten_bit: bool,
    state: Box<av1::Av1State>,
    tiles: Vec<av1::Av1Tile<'static>>,
    /// The latest picture, held back until the next picture tells its
    /// refresh_frame_flags (see [`Av1Backend::submit_tiles`]).
    deferred: Option<DeferredAv1>,
    /// Bitstream of the deferred picture (swapped with the queue's, reused).
    deferred_bits: Vec<u8>,
    /// Pictures queued with exact / guessed refresh_frame_flags.
    refresh_counts: (u64, u64),
}

pub fn new(setup: &BackendSetup) -> Box<dyn CodecBackend> {
    Box::new(Av1Backend {
        profile: setup.profile,
        ten_bit: setup.ten_bit,
        state: Box::default(),
        tiles: Vec::new(),
        deferred: None,
        deferred_bits: Vec::new(),
        refresh_counts: (0, 0),
    })
}

impl CodecBackend for Av1Backend {
    fn submit(&mut self, q: &mut PictureQueue, picture: &PictureBuffers, target: SurfaceKey) -> VaResult<()> {
        let pic: ffi::VADecPictureParameterBufferAV1 = read_pod(&picture.pic_param, 0)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "missing or short AV1 picture parameters"))?;
        if !av1::accepts_bit_depth(pic.bit_depth_idx, self.ten_bit) {
            return Err(va_err!(
                VA_STATUS_ERROR_UNSUPPORTED_PROFILE,
                "AV1 bit_depth_idx {} needs an output format this context does not have",
                pic.bit_depth_idx
            ));
        }
        check_depth(self.ten_bit, self.profile, "AV1", if pic.bit_depth_idx == 1 { 10 } else { 8 })?;
        // Each tile's parameters go with the whole data buffer they were rendered with
        // (FFmpeg 5.1 repeats the tile group's buffer per tile; newer ones batch tiles).
        let mut tiles: Vec<av1::Av1Tile> = recycle(std::mem::take(&mut self.tiles));
        let result = tiles_into(picture, &mut tiles).and_then(|()| self.submit_tiles(q, target, &pic, &tiles));
        self.tiles = recycle(tiles);
        result
    }

    /// Queue the deferred picture of `surface` (any when `None`) before it is
    /// waited for, exported or read.
    fn flush(&mut self, q: &mut PictureQueue, surface: Option<SurfaceKey>) -> VaResult<()> {
        let due = self.deferred.as_ref().is_some_and(|d| surface.is_none_or(|s| s == d.target));
        match self.deferred.take() {
            Some(d) if due => self.queue_deferred(q, d),
            other => {
                self.deferred = other;
                Ok(())
            }
        }
    }

    fn log_summary(&self) {
        if self.refresh_counts != (0, 0) {
            log::info!(
                "AV1 refresh_frame_flags: {} pictures exact, {} guessed (synced before the next picture arrived)",
                self.refresh_counts.0,
                self.refresh_counts.1
            );
        }
    }
}

/// Each tile's parameters with the whole data buffer it was rendered with.
fn tiles_into<'p>(picture: &'p PictureBuffers, tiles: &mut Vec<av1::Av1Tile<'p>>) -> VaResult<()> {
    tiles.clear();
    for &(pidx, count, data_idx) in &picture.slice_params {
        for i in 0..count as usize {
            let param: ffi::VASliceParameterBufferAV1 =
                read_pod(picture.params(pidx), i).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "short AV1 tile parameters"))?;
            tiles.push(av1::Av1Tile { param, data: picture.slice_data.get(data_idx) });
        }
    }
    Ok(())
}

impl Av1Backend {
    /// The AV1 picture `pic` of `tiles` into `target` (deferred, see below).
    fn submit_tiles(
        &mut self,
        q: &mut PictureQueue,
        target: SurfaceKey,
        pic: &ffi::VADecPictureParameterBufferAV1,
        tiles: &[av1::Av1Tile],
    ) -> VaResult<()> {
        let (seq, pinfo, lf, qm, mode, lr, seg, fg) = crate::va_sys::abi::av1_bitfields(pic);
        let p = av1::Av1Picture {
            pic,
            seq_info_fields: seq,
            pic_info_fields: pinfo,
            loop_filter_info_fields: lf,
            qmatrix_fields: qm,
            mode_control_fields: mode,
            loop_restoration_fields: lr,
            segment_info_fields: seg,
            film_grain_info_fields: fg,
            tiles,
        };
        // The previous picture's refresh_frame_flags are the slots this picture's
        // ref_frame_map shows it in (FFmpeg leaves the map empty before a shown key
        // frame: then the guess stands). Queue it now, before this picture, which may
        // reference it.
        if let Some(mut d) = self.deferred.take() {
            if !d.exact && pic.ref_frame_map.iter().any(|&s| s != ffi::VA_INVALID_SURFACE) {
                d.ctrls.frame.refresh_frame_flags =
                    pic.ref_frame_map.iter().enumerate().fold(0u8, |acc, (i, &s)| if s == d.target { acc | (1 << i) } else { acc });
                d.exact = true;
            }
            self.queue_deferred(q, d)?;
        }
        let ctrls = av1::build_controls_with_state(&p, &q.refs(), &mut self.state)
            .map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "AV1 translation: {e}"))?;
        self.deferred_bits.clear();
        av1::append_bitstream(&mut self.deferred_bits, &p);
        let exact = ctrls.refresh_frame_flags_exact;
        self.deferred = Some(DeferredAv1 { target, refs: pic.ref_frame_map, ctrls, exact });
        q.set_state(target, DecodeState::Pending);
        Ok(())
    }

    /// Queue the deferred picture `d` (its bitstream is in `deferred_bits`).
    fn queue_deferred(&mut self, q: &mut PictureQueue, d: DeferredAv1) -> VaResult<()> {
        if d.exact {
            self.refresh_counts.0 += 1;
        } else {
            self.refresh_counts.1 += 1;
            log::debug!(
                "AV1 picture for surface {:#x} queued with guessed refresh_frame_flags {:#04x} (synced before the next picture)",
                d.target,
                d.ctrls.frame.refresh_frame_flags
            );
        }
        q.swap_bitstream(&mut self.deferred_bits);
        let r = q.submit_single(d.target, &d.refs, &d.ctrls.specs(), false, false);
        q.swap_bitstream(&mut self.deferred_bits);
        self.state.reuse(d.ctrls);
        if r.is_err() {
            q.set_state(d.target, DecodeState::Failed);
        }
        r
    }
}
