//! Host tests of the decode flow: the driver's VA entry points (vaCreateContext,
//! vaBeginPicture / vaRenderPicture / vaEndPicture, vaSyncSurface,
//! vaQuerySurfaceStatus / Error, export, images) over a scripted fake device
//! ([`super::fake_device`]), one test per way a device can misbehave.
//!
//! Pictures are real: the MPEG-2 I frame of `tests/data/mpeg2/progressive.m2v`
//! and the four-slice H.264 IDR of `tests/data/h264/cavlc-slices.h264`, with
//! the VA parameters their translator tests check by hand (field pictures
//! reuse interlaced.m2v's slices, as the MPEG-2 field test does).
//!
//! Every test checks, besides the VA status: which surfaces' states are
//! failed, that pictures after a failure land in the surface they were
//! decoded for (the slot the fake saw queued for them, with their
//! timestamp), and that the pool and the device agree about every CAPTURE
//! buffer ([`Context::capture_mismatches`]: a dequeued buffer never
//! accounted for would show there).

use super::context::{frame_timestamp, Context, DecodeState};
use super::fake_device::{Call, Completion, FakeHandle, FakeOp, Order, Script};
use super::*;
use crate::codec::{h264, mpeg2};
use crate::device::coded::FrameSizes;
use crate::v4l2::{
    CaptureMemory, V4L2_PIX_FMT_H264_SLICE, V4L2_PIX_FMT_MM21, V4L2_PIX_FMT_MPEG2_SLICE, V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_NV12_32L32,
};
use crate::va_sys::abi::pod_bytes;
use nix::errno::Errno;
use std::time::Duration;

const W: u32 = 176;
const H: u32 = 144;
/// Bound of every wait on the (fake) device in these tests.
const SYNC: Duration = Duration::from_millis(40);
const FENCE: Duration = Duration::from_millis(20);

fn status(r: VaResult<impl Sized>) -> u32 {
    match r {
        Ok(_) => ffi::VA_STATUS_SUCCESS,
        Err(e) => e.status as u32,
    }
}

/// A decoder node of MPEG-2 and H.264 at a path of its own (frame sizes are
/// kept per path), with `tiled` as its only CAPTURE format when given.
fn node(name: &str, tiled: Option<u32>) -> DecoderNode {
    let coded = [V4L2_PIX_FMT_MPEG2_SLICE, V4L2_PIX_FMT_H264_SLICE];
    DecoderNode {
        video_path: format!("/fake/{name}").into(),
        media_path: None,
        driver: "fake".into(),
        card: "fake".into(),
        coded_formats: coded.to_vec(),
        multiplanar: true,
        ten_bit_formats: vec![],
        tiled_capture: tiled.map(|t| coded.iter().map(|&c| (c, t)).collect()).unwrap_or_default(),
    }
}

/// A driver over a fake device, one context of `surfaces` render targets.
struct Rig {
    d: Driver,
    fake: FakeHandle,
    ctx: u32,
    s: Vec<u32>,
}

impl Rig {
    fn new(name: &str, script: Script, profile: ffi::VAProfile, surfaces: usize) -> Rig {
        Self::on(node(name, None), script, profile, surfaces)
    }

    fn on(node: DecoderNode, script: Script, profile: ffi::VAProfile, surfaces: usize) -> Rig {
        let fake = FakeHandle::new(script);
        let d = Driver::with_opener(vec![node], fake.opener());
        let cfg = d.create_config(profile, ffi::VAEntrypointVLD, &[]).unwrap();
        let s = d.create_surfaces(W, H, ffi::VA_RT_FORMAT_YUV420, None, surfaces).unwrap();
        let ctx = d.create_context(cfg, W, H, &s).map_err(|e| e.msg).unwrap();
        lock(&d.context(ctx).unwrap()).set_timeouts(SYNC, FENCE);
        Rig { d, fake, ctx, s }
    }

    fn context(&self) -> Arc<Mutex<Context>> {
        self.d.context(self.ctx).unwrap()
    }

    /// vaCreateBuffer + vaRenderPicture of each (type, bytes, elements), then vaDestroyBuffer.
    fn render(&self, buffers: &[(ffi::VABufferType, Vec<u8>, u32)]) -> VaResult<()> {
        for (t, bytes, n) in buffers {
            let id = self.d.create_buffer(*t, bytes.len() as u32 / n, *n, Some(bytes))?;
            let r = self.d.render_picture(self.ctx, &[id]);
            self.d.destroy_buffer(id)?;
            r?;
        }
        Ok(())
    }

    /// One MPEG-2 picture into `target`, as FFmpeg renders it.
    fn mpeg2(&self, target: u32, p: &mpeg2::tests::VaPicture) -> VaResult<()> {
        self.d.begin_picture(self.ctx, target)?;
        let mut bufs = vec![(ffi::VAPictureParameterBufferType, pod_bytes(&p.pic), 1), (ffi::VAIQMatrixBufferType, pod_bytes(&p.iq), 1)];
        for (param, data) in &p.slices {
            bufs.push((ffi::VASliceParameterBufferType, pod_bytes(param), 1));
            bufs.push((ffi::VASliceDataBufferType, data.to_vec(), 1));
        }
        self.render(&bufs)?;
        self.d.end_picture(self.ctx)
    }

    /// The MPEG-2 I frame into `target`.
    fn picture(&self, target: u32) -> VaResult<()> {
        self.mpeg2(target, &mpeg2::tests::progressive_i_frame())
    }

    /// The four-slice H.264 IDR into `target`.
    fn h264_four_slices(&self, target: u32) -> VaResult<()> {
        let (pic, iq, slices) = h264::tests::cavlc_idr_four_slices(target);
        self.d.begin_picture(self.ctx, target)?;
        let mut bufs = vec![(ffi::VAPictureParameterBufferType, pod_bytes(&pic), 1), (ffi::VAIQMatrixBufferType, pod_bytes(&iq), 1)];
        for (param, data) in &slices {
            bufs.push((ffi::VASliceParameterBufferType, pod_bytes(param), 1));
            bufs.push((ffi::VASliceDataBufferType, data.to_vec(), 1));
        }
        self.render(&bufs)?;
        self.d.end_picture(self.ctx)
    }

    fn sync(&self, surface: u32) -> u32 {
        status(self.d.sync_surface(surface))
    }

    fn state(&self, surface: u32) -> Option<DecodeState> {
        lock(&self.context()).state(surface)
    }

    /// The slot and timestamp of `surface`'s current picture, as the pool has them.
    fn picture_of(&self, surface: u32) -> Option<(u32, u64)> {
        let ctx = self.context();
        let g = lock(&ctx);
        Some((g.surface_slot(surface)?.0, frame_timestamp(g.pool().surface_frame(surface)?)))
    }

    /// Pool and device agree about every CAPTURE buffer; the pool's own invariants hold.
    fn assert_accounted(&self) {
        let ctx = self.context();
        let g = lock(&ctx);
        assert_eq!(g.capture_mismatches(), [], "pool vs device (slot, pool queued, device queued)");
        g.pool().check_invariants().unwrap();
    }

    /// The fake's calls from index `from` on.
    fn calls_since(&self, from: usize) -> Vec<Call> {
        self.fake.calls().split_off(from)
    }

    /// The sum of the timeouts the device was asked to wait in `calls`.
    fn waited(calls: &[Call]) -> Duration {
        calls
            .iter()
            .map(|c| match c {
                Call::Wait { timeout, .. } | Call::DequeueCapture { timeout, .. } => *timeout,
                _ => Duration::ZERO,
            })
            .sum()
    }
}

/// The decodes the fake saw, in order: (timestamp, CAPTURE index) of those that queued a CAPTURE buffer.
fn captures_queued(fake: &FakeHandle) -> Vec<(u64, u32)> {
    fake.queued().into_iter().filter(|q| q.2).map(|q| (q.0, q.1)).collect()
}

#[test]
fn pictures_in_order_land_in_their_surfaces() {
    let r = Rig::new("in-order", Script::default(), ffi::VAProfileMPEG2Main, 3);
    for round in 0..3 {
        for &s in &r.s {
            r.picture(s).unwrap();
        }
        for &s in &r.s {
            assert_eq!(r.sync(s), ffi::VA_STATUS_SUCCESS, "round {round}");
            assert_eq!(r.state(s), Some(DecodeState::Ready));
            assert_eq!(r.d.query_surface_status(s).unwrap(), ffi::VASurfaceReady);
        }
        r.assert_accounted();
    }
    // Each surface shows the picture last queued for it.
    let queued = captures_queued(&r.fake);
    assert_eq!(queued.len(), 9);
    for (k, &s) in r.s.iter().enumerate() {
        let (ts, cap) = queued[6 + k];
        assert_eq!(r.picture_of(s), Some((cap, ts)));
    }
    // Timestamps name frames: increasing multiples of 1000 ns.
    assert!(queued.windows(2).all(|w| w[0].0 < w[1].0 && w[1].0 % 1000 == 0));
}

#[test]
fn out_of_order_completions_reach_the_right_surfaces() {
    let script = Script { order: Order::PairsReversed, ..Script::default() };
    let r = Rig::new("out-of-order", script, ffi::VAProfileMPEG2Main, 4);
    for &s in &r.s {
        r.picture(s).unwrap();
    }
    // Syncing the first surface reaps the pair whose later buffer comes back first.
    for &s in &r.s {
        assert_eq!(r.sync(s), ffi::VA_STATUS_SUCCESS);
    }
    let queued = captures_queued(&r.fake);
    for (k, &s) in r.s.iter().enumerate() {
        assert_eq!(r.picture_of(s), Some((queued[k].1, queued[k].0)), "surface {k}");
        assert_eq!(r.state(s), Some(DecodeState::Ready));
    }
    assert_eq!(lock(&r.context()).frames_in_flight(), 0);
    r.assert_accounted();
}

#[test]
fn a_wrong_timestamp_fails_that_surface_and_shifts_nothing() {
    let script = Script { completions: [Completion::Done, Completion::Timestamp(7_000), Completion::Done].into(), ..Script::default() };
    let r = Rig::new("wrong-timestamp", script, ffi::VAProfileMPEG2Main, 4);
    for &s in &r.s {
        r.picture(s).unwrap();
    }
    let statuses: Vec<u32> = r.s.iter().map(|&s| r.sync(s)).collect();
    let ok = ffi::VA_STATUS_SUCCESS;
    assert_eq!(statuses, [ok, ffi::VA_STATUS_ERROR_DECODING_ERROR, ok, ok]);
    assert_eq!(r.state(r.s[1]), Some(DecodeState::Failed));
    // vaQuerySurfaceError describes the failed surface only.
    let decoding_error = ffi::VA_STATUS_ERROR_DECODING_ERROR as ffi::VAStatus;
    assert!(!r.d.surface_error(r.s[1], decoding_error).unwrap().is_null());
    assert!(r.d.surface_error(r.s[2], decoding_error).unwrap().is_null());
    // The pictures after it are where they were queued, with their own timestamps.
    let queued = captures_queued(&r.fake);
    for k in [0, 2, 3] {
        assert_eq!(r.picture_of(r.s[k]), Some((queued[k].1, queued[k].0)), "surface {k}");
    }
    r.assert_accounted();
    // The failed surface decodes again.
    r.picture(r.s[1]).unwrap();
    assert_eq!(r.sync(r.s[1]), ok);
    r.assert_accounted();
}

#[test]
fn a_buffer_flagged_with_an_error_fails_its_surface() {
    let script = Script { completions: [Completion::DeviceError].into(), ..Script::default() };
    let r = Rig::new("device-error", script, ffi::VAProfileMPEG2Main, 2);
    r.picture(r.s[0]).unwrap();
    r.picture(r.s[1]).unwrap();
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_ERROR_DECODING_ERROR);
    assert_eq!(r.sync(r.s[1]), ffi::VA_STATUS_SUCCESS);
    let ctx = r.context();
    let slot = lock(&ctx).surface_slot(r.s[0]).unwrap();
    assert!(lock(&ctx).pool().is_failed(slot));
    r.assert_accounted();
}

#[test]
fn a_missing_completion_is_bounded_by_the_sync_timeout() {
    let script = Script { completions: [Completion::Done, Completion::Never].into(), ..Script::default() };
    let r = Rig::new("never", script, ffi::VAProfileMPEG2Main, 4);
    for &s in &r.s[..3] {
        r.picture(s).unwrap();
    }
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
    // The hung picture and the one behind it: each vaSyncSurface returns an
    // error, having asked the device to wait no longer than the sync timeout in all.
    for k in [2, 1] {
        let from = r.fake.calls().len();
        assert_eq!(r.sync(r.s[k]), ffi::VA_STATUS_ERROR_DECODING_ERROR, "surface {k}");
        let waited = Rig::waited(&r.calls_since(from));
        assert!(waited > Duration::ZERO && waited <= SYNC, "surface {k}: waits of {waited:?} in one sync");
    }
    assert_eq!(r.state(r.s[1]), Some(DecodeState::Failed));
    assert_eq!(r.d.query_surface_status(r.s[2]).unwrap(), ffi::VASurfaceRendering);
    // The hung picture's buffer stays the device's: a new picture gets another one.
    let hung = captures_queued(&r.fake)[1].1;
    r.picture(r.s[3]).unwrap();
    assert_ne!(captures_queued(&r.fake)[3].1, hung);
    r.assert_accounted();
}

/// vaSyncSurface2 shorter than the sync timeout on a surface queued behind a
/// picture the device has not finished: TIMEDOUT, and neither surface is
/// failed (the decode goes on). It used to mark the picture ahead failed and
/// return DECODING_ERROR, since only the surface waited for was put back.
#[test]
fn a_short_sync_behind_a_running_picture_times_out_without_failing_anything() {
    let script = Script { completions: [Completion::Never].into(), ..Script::default() };
    let r = Rig::new("sync-within", script, ffi::VAProfileMPEG2Main, 2);
    r.picture(r.s[0]).unwrap();
    r.picture(r.s[1]).unwrap();
    for &s in [r.s[1], r.s[0]].iter() {
        let from = r.fake.calls().len();
        assert_eq!(status(r.d.sync_surface_within(s, Duration::from_millis(5))), ffi::VA_STATUS_ERROR_TIMEDOUT);
        assert!(Rig::waited(&r.calls_since(from)) <= Duration::from_millis(5));
        assert_eq!(r.state(r.s[0]), Some(DecodeState::Pending));
        assert_eq!(r.state(r.s[1]), Some(DecodeState::Pending));
    }
    assert_eq!(r.d.query_surface_status(r.s[1]).unwrap(), ffi::VASurfaceRendering);
    // The full sync timeout: the hung picture fails, the one behind it waits on.
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_ERROR_DECODING_ERROR);
    assert_eq!(r.state(r.s[0]), Some(DecodeState::Failed));
    assert_eq!(r.state(r.s[1]), Some(DecodeState::Pending));
    r.assert_accounted();
}

#[test]
fn without_hold_capture_field_pairs_are_refused_before_the_device() {
    let script = Script { hold_capture: false, ..Script::default() };
    let r = Rig::new("no-hold-fields", script, ffi::VAProfileMPEG2Main, 2);
    let e = r.mpeg2(r.s[0], &mpeg2::tests::intra_field(true)).unwrap_err();
    assert_eq!(e.status as u32, ffi::VA_STATUS_ERROR_DECODING_ERROR);
    assert!(e.msg.contains("HOLD_CAPTURE_BUF"), "{}", e.msg);
    assert!(r.fake.queued().is_empty(), "nothing reached the device");
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_ERROR_DECODING_ERROR);
    // Frame pictures still decode.
    r.picture(r.s[1]).unwrap();
    assert_eq!(r.sync(r.s[1]), ffi::VA_STATUS_SUCCESS);
    assert_eq!(r.fake.queued().len(), 1);
    r.assert_accounted();
}

#[test]
fn without_hold_capture_multi_slice_pictures_are_refused_on_slice_based_devices() {
    let script = Script { hold_capture: false, slice_based: true, frame_based_offered: false, ..Script::default() };
    let r = Rig::new("no-hold-slices", script, ffi::VAProfileH264Main, 2);
    let e = r.h264_four_slices(r.s[0]).unwrap_err();
    assert_eq!(e.status as u32, ffi::VA_STATUS_ERROR_DECODING_ERROR);
    assert!(e.msg.contains("4 slice requests"), "{}", e.msg);
    assert!(r.fake.queued().is_empty());
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_ERROR_DECODING_ERROR);
    r.assert_accounted();
}

#[test]
fn without_hold_capture_a_device_offering_frame_based_decodes_one_request() {
    let script = Script { hold_capture: false, slice_based: true, frame_based_offered: true, ..Script::default() };
    let r = Rig::new("no-hold-frame-based", script, ffi::VAProfileH264Main, 2);
    r.h264_four_slices(r.s[0]).unwrap();
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
    let q = r.fake.queued();
    assert_eq!(q.len(), 1);
    assert!(q[0].2 && !q[0].3, "one request, queuing the CAPTURE buffer, not holding it");
    r.assert_accounted();
}

#[test]
fn with_hold_capture_slices_and_fields_share_one_buffer() {
    let script = Script { slice_based: true, ..Script::default() };
    let r = Rig::new("hold-slices", script, ffi::VAProfileH264Main, 2);
    r.h264_four_slices(r.s[0]).unwrap();
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
    let q = r.fake.queued();
    assert_eq!(q.len(), 4);
    assert!(q.iter().all(|e| (e.0, e.1) == (q[0].0, q[0].1)), "one timestamp, one CAPTURE buffer: {q:?}");
    assert_eq!(q.iter().map(|e| (e.2, e.3)).collect::<Vec<_>>(), [(true, true), (false, true), (false, true), (false, false)]);
    assert_eq!(r.picture_of(r.s[0]), Some((q[0].1, q[0].0)));
    r.assert_accounted();

    let r = Rig::new("hold-fields", Script::default(), ffi::VAProfileMPEG2Main, 2);
    r.mpeg2(r.s[0], &mpeg2::tests::intra_field(true)).unwrap();
    r.mpeg2(r.s[0], &mpeg2::tests::intra_field(false)).unwrap();
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
    let q = r.fake.queued();
    assert_eq!(q.len(), 2);
    assert_eq!((q[0].0, q[0].1, q[0].2, q[0].3), (q[1].0, q[1].1, true, true));
    assert!(!q[1].2 && !q[1].3);
    r.assert_accounted();
}

#[test]
fn a_lone_first_field_is_released_with_a_flush() {
    let r = Rig::new("lone-field", Script::default(), ffi::VAProfileMPEG2Main, 2);
    r.mpeg2(r.s[0], &mpeg2::tests::intra_field(true)).unwrap();
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
    assert!(r.fake.calls().iter().any(|c| matches!(c, Call::FlushHeld { .. })));
    r.picture(r.s[1]).unwrap();
    assert_eq!(r.sync(r.s[1]), ffi::VA_STATUS_SUCCESS);
    r.assert_accounted();
}

#[test]
fn ioctl_errors_before_the_request_is_queued_fail_only_that_picture() {
    for op in [FakeOp::RequestControls, FakeOp::QueueOutput, FakeOp::QueueRequest] {
        let r = Rig::new(&format!("errno-{op:?}"), Script::default(), ffi::VAProfileMPEG2Main, 3);
        r.picture(r.s[0]).unwrap();
        r.fake.script(|s| s.failures.push((op, Errno::EIO)));
        let e = r.picture(r.s[1]).unwrap_err();
        assert_eq!(e.status as u32, ffi::VA_STATUS_ERROR_DECODING_ERROR, "{op:?}");
        assert!(e.msg.contains("EIO"), "{op:?}: {}", e.msg);
        r.picture(r.s[2]).unwrap();
        assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS, "{op:?}");
        assert_eq!(r.sync(r.s[1]), ffi::VA_STATUS_ERROR_DECODING_ERROR, "{op:?}");
        assert_eq!(r.sync(r.s[2]), ffi::VA_STATUS_SUCCESS, "{op:?}");
        // The failed picture's slot went back to the pool; the next picture is where it was queued.
        let queued = captures_queued(&r.fake);
        assert_eq!(r.picture_of(r.s[2]), Some((queued[2].1, queued[2].0)), "{op:?}");
        assert_eq!(lock(&r.context()).pool().stats().aborted, 1, "{op:?}");
        r.assert_accounted();
    }
}

#[test]
fn a_failed_dequeue_loses_no_buffer() {
    let script = Script { failures: vec![(FakeOp::Dequeue, Errno::EIO)], ..Script::default() };
    let r = Rig::new("errno-dqbuf", script, ffi::VAProfileMPEG2Main, 2);
    r.picture(r.s[0]).unwrap();
    r.picture(r.s[1]).unwrap();
    // The first wait fails; the buffers stay dequeueable and the next sync
    // finds them: the first picture did decode, with its own timestamp, so
    // its surface is ready after all.
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_ERROR_DECODING_ERROR);
    assert_eq!(r.sync(r.s[1]), ffi::VA_STATUS_SUCCESS);
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
    let queued = captures_queued(&r.fake);
    assert_eq!(r.picture_of(r.s[0]), Some((queued[0].1, queued[0].0)));
    assert_eq!(lock(&r.context()).frames_in_flight(), 0);
    r.assert_accounted();
    r.picture(r.s[0]).unwrap();
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
    r.assert_accounted();
}

#[test]
fn a_failed_create_bufs_fails_the_picture_and_the_next_one_grows_the_pool() {
    // MMAP buffers: the pool grows with CREATE_BUFS.
    let r = Rig::new("errno-create-bufs", Script { dmabuf: false, ..Script::default() }, ffi::VAProfileMPEG2Main, 2);
    r.picture(r.s[0]).unwrap();
    r.fake.script(|s| s.failures.push((FakeOp::CreateBuffers, Errno::ENOMEM)));
    // The first picture's slot is busy until synced: the second needs a new buffer.
    let e = r.picture(r.s[1]).unwrap_err();
    assert_eq!(e.status as u32, ffi::VA_STATUS_ERROR_OPERATION_FAILED);
    assert!(e.msg.contains("ENOMEM"), "{}", e.msg);
    assert_eq!(r.sync(r.s[1]), ffi::VA_STATUS_ERROR_DECODING_ERROR);
    r.picture(r.s[1]).unwrap();
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
    assert_eq!(r.sync(r.s[1]), ffi::VA_STATUS_SUCCESS);
    r.assert_accounted();
}

#[test]
fn mmap_contexts_allocate_capture_memory_with_the_first_picture() {
    // Devices without DMABUF CAPTURE (linear, or MM21 with two buffers per
    // picture): the queue is set up empty at vaCreateContext, the first
    // picture creates one buffer.
    let mm21 = Script { capture_formats: vec![V4L2_PIX_FMT_MM21], dmabuf: false, ..Script::default() };
    for (name, n, script) in [
        ("mmap-deferred", node("mmap-deferred", None), Script { dmabuf: false, ..Script::default() }),
        ("mm21-deferred", node("mm21-deferred", Some(V4L2_PIX_FMT_MM21)), mm21),
    ] {
        let r = Rig::on(n, script, ffi::VAProfileMPEG2Main, 2);
        let allocs = |calls: &[Call]| -> Vec<(u32, CaptureMemory)> {
            calls
                .iter()
                .filter_map(|c| match c {
                    Call::AllocCapture { count, memory, .. } => Some((*count, *memory)),
                    _ => None,
                })
                .collect()
        };
        let calls = r.fake.calls();
        assert_eq!(allocs(&calls), vec![(0, CaptureMemory::Mmap)], "{name}");
        assert!(!calls.iter().any(|c| matches!(c, Call::AddCapture { .. })), "{name}: a buffer before any picture");
        r.picture(r.s[0]).unwrap();
        assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS, "{name}");
        let added: Vec<_> = r
            .fake
            .calls()
            .into_iter()
            .filter_map(|c| if let Call::AddCapture { indices, .. } = c { Some(indices) } else { None })
            .collect();
        assert_eq!(added, vec![0..1], "{name}: one buffer for the first picture");
        r.picture(r.s[1]).unwrap();
        assert_eq!(r.sync(r.s[1]), ffi::VA_STATUS_SUCCESS, "{name}");
        r.assert_accounted();
    }
}

#[test]
fn contexts_outside_the_device_frame_sizes_allocate_nothing() {
    let n = node("frame-sizes", None);
    crate::device::coded::record(
        &n.video_path,
        V4L2_PIX_FMT_MPEG2_SLICE,
        FrameSizes { min_width: 48, max_width: 1920, min_height: 48, max_height: 1088 },
    );
    let fake = FakeHandle::new(Script::default());
    let d = Driver::with_opener(vec![n], fake.opener());
    let cfg = d.create_config(ffi::VAProfileMPEG2Main, ffi::VAEntrypointVLD, &[]).unwrap();
    for (w, h) in [(3840, 2160), (1920, 1090), (32, 144), (176, 16)] {
        assert_eq!(status(d.create_context(cfg, w, h, &[])), ffi::VA_STATUS_ERROR_RESOLUTION_NOT_SUPPORTED, "{w}x{h}");
    }
    assert_eq!(fake.opens(), 0, "the device was never opened");
    d.create_context(cfg, 1920, 1088, &[]).unwrap();
    assert_eq!(fake.opens(), 1);
}

#[test]
fn tiled_capture_decodes_and_exports_with_its_modifier() {
    // MM21 on frames (DMABUF: a dma-buf per plane) and on MMAP buffers.
    for (fourcc, objects, dmabuf) in [(V4L2_PIX_FMT_NV12_32L32, 1, true), (V4L2_PIX_FMT_MM21, 2, true), (V4L2_PIX_FMT_MM21, 2, false)] {
        let name = format!("tiled-{}-{}", crate::v4l2::fourcc_to_string(fourcc), if dmabuf { "dmabuf" } else { "mmap" });
        let script = Script { capture_formats: vec![fourcc], dmabuf, ..Script::default() };
        let r = Rig::on(node(&name, Some(fourcc)), script, ffi::VAProfileMPEG2Main, 2);
        assert!(r.fake.calls().iter().any(|c| matches!(c, Call::SetCaptureFormat { fourcc: f, .. } if *f == fourcc)));
        r.picture(r.s[0]).unwrap();
        assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
        let desc = r.d.export_surface(r.s[0], ffi::VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2, ffi::VA_EXPORT_SURFACE_SEPARATE_LAYERS).unwrap();
        assert_eq!(desc.num_objects, objects, "{name}");
        let want = if fourcc == V4L2_PIX_FMT_MM21 {
            crate::tiling::DRM_FORMAT_MOD_MTK_16L_32S_TILE
        } else {
            crate::tiling::DRM_FORMAT_MOD_ALLWINNER_TILED
        };
        for o in &desc.objects[..objects as usize] {
            assert_eq!(o.drm_format_modifier, want, "{name}");
            nix::unistd::close(o.fd).unwrap();
        }
        // vaDeriveImage of a tiled picture: a linear NV12 copy.
        let img = r.d.derive_image(r.s[0]).unwrap();
        assert_eq!((img.format.fourcc, img.width, img.height), (ffi::VA_FOURCC_NV12, W as u16, H as u16));
        r.d.destroy_image(img.image_id).unwrap();
        r.assert_accounted();
    }
}

#[test]
fn exported_buffers_wait_for_reader_fences_before_reuse() {
    let r = Rig::new("fences", Script::default(), ffi::VAProfileMPEG2Main, 2);
    // Exported before its first decode: the surface is pinned to its slot.
    let desc = r.d.export_surface(r.s[0], ffi::VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2, 0).unwrap();
    nix::unistd::close(desc.objects[0].fd).unwrap();
    let slot = lock(&r.context()).surface_slot(r.s[0]).unwrap();
    r.fake.script(|s| s.pending_fences.push(slot.0));
    r.picture(r.s[0]).unwrap();
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
    let stats = lock(&r.context()).pool().stats();
    assert_eq!(stats.fence_waits, 1, "the consumer's fences were waited for (and the wait was bounded)");
    // Pinned: the same buffer again; fences signalled now, no wait.
    r.fake.script(|s| s.pending_fences.clear());
    r.picture(r.s[0]).unwrap();
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
    assert_eq!(lock(&r.context()).surface_slot(r.s[0]), Some(slot));
    assert_eq!(lock(&r.context()).pool().stats().fence_waits, 1);
    r.assert_accounted();
}

#[test]
fn reader_fences_on_the_second_buffer_of_a_two_buffer_format_are_waited_for() {
    // MM21: luma and chroma in two dma-bufs; a consumer still reading the chroma one.
    let script = Script { capture_formats: vec![V4L2_PIX_FMT_MM21], ..Script::default() };
    let r = Rig::on(node("fences-mm21", Some(V4L2_PIX_FMT_MM21)), script, ffi::VAProfileMPEG2Main, 2);
    r.picture(r.s[0]).unwrap();
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
    // Composed exports twice (a consumer that caches by surface): the surface keeps its buffer.
    for _ in 0..2 {
        let desc = r.d.export_surface(r.s[0], ffi::VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2, ffi::VA_EXPORT_SURFACE_COMPOSED_LAYERS).unwrap();
        for o in &desc.objects[..desc.num_objects as usize] {
            nix::unistd::close(o.fd).unwrap();
        }
    }
    let slot = lock(&r.context()).surface_slot(r.s[0]).unwrap();
    r.fake.script(|s| s.pending_plane_fences.push((slot.0, 1)));
    r.picture(r.s[0]).unwrap();
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
    assert_eq!(lock(&r.context()).surface_slot(r.s[0]), Some(slot), "pinned: decoded into the same buffer");
    assert_eq!(lock(&r.context()).pool().stats().fence_waits, 1, "the chroma buffer's fence was waited for");
    r.assert_accounted();
}

#[test]
fn idle_buffers_go_back_to_the_device_where_remove_bufs_exists() {
    // Burst: 6 pictures in flight need 6 buffers; then the application lets
    // go of 5 surfaces and decodes one at a time: their buffers are idle, and
    // the pool gives them back one per window.
    let r = Rig::new("shrink", Script::default(), ffi::VAProfileMPEG2Main, 6);
    for &s in &r.s {
        r.picture(s).unwrap();
    }
    for &s in &r.s {
        assert_eq!(r.sync(s), ffi::VA_STATUS_SUCCESS);
    }
    r.d.destroy_surfaces(&r.s[1..]).unwrap();
    for _ in 0..3 * crate::pool::SHRINK_WINDOW {
        r.picture(r.s[0]).unwrap();
        assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
    }
    let removed = r.fake.calls().iter().filter(|c| matches!(c, Call::RemoveCapture { .. })).count();
    assert!(removed >= 2, "{removed} buffers given back");
    assert_eq!(lock(&r.context()).pool().stats().removed, removed as u64);
    r.assert_accounted();

    // Without REMOVE_BUFS nothing is given back.
    let r = Rig::new("no-shrink", Script { remove_bufs: false, ..Script::default() }, ffi::VAProfileMPEG2Main, 6);
    for &s in &r.s {
        r.picture(s).unwrap();
    }
    r.d.destroy_surfaces(&r.s[1..]).unwrap();
    for _ in 0..2 * crate::pool::SHRINK_WINDOW {
        r.picture(r.s[0]).unwrap();
        assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
    }
    assert!(!r.fake.calls().iter().any(|c| matches!(c, Call::RemoveCapture { .. })));
    r.assert_accounted();
}

#[test]
fn the_linear_default_negotiates_nv12() {
    let r = Rig::new("linear", Script::default(), ffi::VAProfileMPEG2Main, 1);
    assert!(r.fake.calls().iter().any(|c| matches!(c, Call::SetCaptureFormat { fourcc: V4L2_PIX_FMT_NV12, .. })));
    r.picture(r.s[0]).unwrap();
    assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS);
    let img = r.d.derive_image(r.s[0]).unwrap();
    assert_eq!(img.format.fourcc, ffi::VA_FOURCC_NV12);
    r.d.destroy_image(img.image_id).unwrap();
}

/// A CAPTURE QBUF that fails after its request was queued: the request is in
/// the device and would take the next picture's CAPTURE buffer, shifting
/// every later picture by one buffer (each then failing on its timestamp).
/// The buffer is queued again, and every picture lands where it belongs.
#[test]
fn a_capture_qbuf_failure_after_the_request_shifts_nothing() {
    let r = Rig::new("errno-capture-qbuf", Script::default(), ffi::VAProfileMPEG2Main, 5);
    r.picture(r.s[0]).unwrap();
    r.fake.script(|s| s.failures.push((FakeOp::QueueCapture, Errno::EIO)));
    for &s in &r.s[1..] {
        r.picture(s).unwrap();
    }
    assert!(r.fake.calls().iter().any(|c| matches!(c, Call::QueueCapture { .. })));
    let queued = captures_queued(&r.fake);
    for (k, &s) in r.s.iter().enumerate() {
        assert_eq!(r.sync(s), ffi::VA_STATUS_SUCCESS, "surface {k}");
        assert_eq!(r.picture_of(s), Some((queued[k].1, queued[k].0)), "surface {k}");
    }
    r.assert_accounted();
}

const PRIME_2: u32 = ffi::VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2;

/// The first 8 bytes of dma-buf `fd` (one of the fake's memfds): the
/// timestamp a job stamped there ([`Script::stamp_pictures`]).
fn stamp_of(fd: i32) -> u64 {
    nix::unistd::lseek(fd, 0, nix::unistd::Whence::SeekSet).unwrap();
    let mut b = [0u8; 8];
    assert_eq!(nix::unistd::read(fd, &mut b).unwrap(), 8);
    u64::from_le_bytes(b)
}

/// Which memory dma-buf `fd` is: (device, inode).
fn memory_of(fd: i32) -> (u64, u64) {
    let st = nix::sys::stat::fstat(fd).unwrap();
    (st.st_dev as u64, st.st_ino as u64)
}

/// An export of an MM21 picture: NV12 in two objects (luma, chroma), each
/// with the MTK modifier, planes at offset 0 with equal pitches; returns the
/// objects' fds (the caller closes them).
fn mm21_export_fds(d: &ffi::VADRMPRIMESurfaceDescriptor, separate: bool) -> [i32; 2] {
    assert_eq!((d.fourcc, d.num_objects), (ffi::VA_FOURCC_NV12, 2));
    for o in &d.objects[..2] {
        assert_eq!(o.drm_format_modifier, crate::tiling::DRM_FORMAT_MOD_MTK_16L_32S_TILE);
        assert!(o.size > 0);
    }
    let planes: Vec<(u32, u32, u32)> = if separate {
        assert_eq!(d.num_layers, 2);
        (0..2).map(|i| (d.layers[i].object_index[0], d.layers[i].offset[0], d.layers[i].pitch[0])).collect()
    } else {
        assert_eq!((d.num_layers, d.layers[0].num_planes), (1, 2));
        (0..2).map(|i| (d.layers[0].object_index[i], d.layers[0].offset[i], d.layers[0].pitch[i])).collect()
    };
    assert_eq!(planes[0].0..=planes[1].0, 0..=1, "luma in object 0, chroma in object 1");
    assert_eq!((planes[0].1, planes[1].1), (0, 0));
    assert_eq!(planes[0].2, planes[1].2);
    [d.objects[0].fd, d.objects[1].fd]
}

fn close_all(fds: impl IntoIterator<Item = i32>) {
    for fd in fds {
        nix::unistd::close(fd).unwrap();
    }
}

/// The bytes of image `id`'s buffer.
fn image_bytes(d: &Driver, image: &ffi::VAImage) -> Vec<u8> {
    lock(&d.buffer(image.buf).unwrap()).bytes().unwrap().to_vec()
}

fn nv12_image(d: &Driver) -> ffi::VAImage {
    d.create_image(&image::image_format(crate::format::PixelFormat::Nv12), W, H).unwrap()
}

/// mpv's interop probe (and GStreamer, Chromium) export surfaces before any
/// context exists. On an MM21 device whose CAPTURE queue takes dma-bufs, such
/// a surface owns a frame of two dma-bufs (luma, chroma), exported as two
/// objects with the MTK modifier; the context that decodes into the surface
/// adopts the frame, and every picture lands in the very dma-bufs exported.
#[test]
fn a_two_buffer_surface_exported_before_any_context_shows_its_pictures() {
    let script = Script { capture_formats: vec![V4L2_PIX_FMT_MM21], stamp_pictures: true, ..Script::default() };
    let fake = FakeHandle::new(script);
    let d = Driver::with_opener(vec![node("early-mm21", Some(V4L2_PIX_FMT_MM21))], fake.opener());
    let s = d.create_surfaces(W, H, ffi::VA_RT_FORMAT_YUV420, None, 2).unwrap();
    let flags = ffi::VA_EXPORT_SURFACE_SEPARATE_LAYERS | ffi::VA_EXPORT_SURFACE_READ_ONLY;
    let early = mm21_export_fds(&d.export_surface(s[0], PRIME_2, flags).unwrap(), true);
    let calls = fake.calls();
    assert!(calls.iter().any(|c| matches!(c, Call::AllocateFrames { count: 1, .. })), "the surface's own frame: {calls:?}");
    assert!(!calls.iter().any(|c| matches!(c, Call::AllocCapture { .. })), "no context yet: {calls:?}");
    let memory = early.map(memory_of);
    assert_ne!(memory[0], memory[1], "two dma-bufs");

    // A context with both surfaces as render targets: frames (DMABUF), the
    // early-exported one adopted as the first surface's slot.
    let cfg = d.create_config(ffi::VAProfileMPEG2Main, ffi::VAEntrypointVLD, &[]).unwrap();
    let ctx = d.create_context(cfg, W, H, &s).map_err(|e| e.msg).unwrap();
    lock(&d.context(ctx).unwrap()).set_timeouts(SYNC, FENCE);
    let r = Rig { d, fake, ctx, s };
    let calls = r.fake.calls();
    assert!(calls.iter().any(|c| matches!(c, Call::AllocCapture { memory: CaptureMemory::DmaBuf, .. })), "{calls:?}");
    let adopted = lock(&r.context()).surface_slot(r.s[0]).expect("the first surface has its slot");
    assert!(calls.iter().any(|c| matches!(c, Call::AddCapture { indices, .. } if indices.contains(&adopted.0))), "{calls:?}");

    for round in 0..2 {
        r.picture(r.s[0]).unwrap();
        assert_eq!(r.sync(r.s[0]), ffi::VA_STATUS_SUCCESS, "round {round}");
        let (slot, ts) = r.picture_of(r.s[0]).unwrap();
        assert_eq!(slot, adopted.0, "round {round}: decoded into its own frame");
        assert_eq!(early.map(stamp_of), [ts, ts], "round {round}: the picture is in both dma-bufs exported before the context");
        // Exported again: the same two dma-bufs.
        let again = mm21_export_fds(&r.d.export_surface(r.s[0], PRIME_2, ffi::VA_EXPORT_SURFACE_COMPOSED_LAYERS).unwrap(), false);
        assert_eq!(again.map(memory_of), memory, "round {round}");
        close_all(again);
        // vaGetImage detiles both buffers: the stamp opens the luma and the chroma plane.
        let img = nv12_image(&r.d);
        r.d.get_image(r.s[0], 0, 0, W, H, img.image_id).unwrap();
        let bytes = image_bytes(&r.d, &img);
        let c = img.offsets[1] as usize;
        assert_eq!((&bytes[..8], &bytes[c..c + 8]), (&ts.to_le_bytes()[..], &ts.to_le_bytes()[..]), "round {round}");
        r.d.destroy_image(img.image_id).unwrap();
    }
    // The other render target decodes into a frame of its own (allocated as the pool grows).
    r.picture(r.s[1]).unwrap();
    assert_eq!(r.sync(r.s[1]), ffi::VA_STATUS_SUCCESS);
    let (slot, ts) = r.picture_of(r.s[1]).unwrap();
    assert_ne!(slot, adopted.0);
    let other = mm21_export_fds(&r.d.export_surface(r.s[1], PRIME_2, flags).unwrap(), true);
    assert_eq!(other.map(stamp_of), [ts, ts]);
    assert!(other.map(memory_of).iter().all(|m| !memory.contains(m)));
    close_all(other.into_iter().chain(early));
    r.assert_accounted();
}

/// vaPutImage / vaGetImage on an MM21 surface without a context: its own
/// frame's two buffers are tiled into and detiled from, and a context adopts
/// the frame with the picture put there.
#[test]
fn images_of_a_two_buffer_surface_without_a_context_use_both_buffers() {
    let script = Script { capture_formats: vec![V4L2_PIX_FMT_MM21], ..Script::default() };
    let fake = FakeHandle::new(script);
    let d = Driver::with_opener(vec![node("put-mm21", Some(V4L2_PIX_FMT_MM21))], fake.opener());
    let s = d.create_surfaces(W, H, ffi::VA_RT_FORMAT_YUV420, None, 1).unwrap();
    let src = nv12_image(&d);
    {
        let buf = d.buffer(src.buf).unwrap();
        let mut buf = lock(&buf);
        let buffer::BufferStore::Owned(v) = &mut buf.store else { panic!("an owned image buffer") };
        for (i, b) in v.iter_mut().enumerate() {
            *b = (i * 7 % 251) as u8;
        }
    }
    let whole = image::Rect { x: 0, y: 0, w: W, h: H };
    d.put_image(s[0], src.image_id, whole, whole).unwrap();
    assert!(fake.calls().iter().any(|c| matches!(c, Call::AllocateFrames { .. })), "the surface's own frame");
    let back = nv12_image(&d);
    d.get_image(s[0], 0, 0, W, H, back.image_id).unwrap();
    let check = |img: &ffi::VAImage, what: &str| {
        let (a, b) = (image_bytes(&d, &src), image_bytes(&d, img));
        for (p, rows) in [(0, H), (1, H / 2)] {
            for y in 0..rows as usize {
                let row = |bytes: &[u8], i: &ffi::VAImage| {
                    let at = i.offsets[p] as usize + y * i.pitches[p] as usize;
                    bytes[at..at + W as usize].to_vec()
                };
                assert_eq!(row(&a, &src), row(&b, img), "{what}: plane {p} row {y}");
            }
        }
    };
    check(&back, "read back before a context");
    // The export: two objects (the own frame's dma-bufs).
    close_all(mm21_export_fds(&d.export_surface(s[0], PRIME_2, 0).unwrap(), false));
    // A context adopts the frame: the picture put is there.
    let cfg = d.create_config(ffi::VAProfileMPEG2Main, ffi::VAEntrypointVLD, &[]).unwrap();
    d.create_context(cfg, W, H, &s).map_err(|e| e.msg).unwrap();
    assert!(fake.calls().iter().any(|c| matches!(c, Call::AddCapture { .. })), "the frame adopted");
    let after = nv12_image(&d);
    d.get_image(s[0], 0, 0, W, H, after.image_id).unwrap();
    check(&after, "read back from the context");
    for i in [src, back, after] {
        d.destroy_image(i.image_id).unwrap();
    }
}

/// Imports stay single-buffer and linear: on an MM21 device (two tiled
/// buffers per picture) an application's buffer is refused with
/// VA_STATUS_ERROR_INVALID_PARAMETER, one object or two.
#[test]
fn imports_into_a_two_buffer_device_are_refused() {
    let fake = FakeHandle::new(Script { capture_formats: vec![V4L2_PIX_FMT_MM21], ..Script::default() });
    let d = Driver::with_opener(vec![node("import-mm21", Some(V4L2_PIX_FMT_MM21))], fake.opener());
    let pitch = W.next_multiple_of(16);
    let size = pitch * H * 3 / 2;
    let mut desc = ffi::VADRMPRIMESurfaceDescriptor {
        fourcc: ffi::VA_FOURCC_NV12,
        width: W,
        height: H,
        num_objects: 1,
        num_layers: 1,
        ..Default::default()
    };
    desc.objects[0].size = size;
    desc.objects[0].drm_format_modifier = crate::format::DRM_FORMAT_MOD_LINEAR;
    desc.layers[0].drm_format = drm_fourcc::DrmFourcc::Nv12 as u32;
    desc.layers[0].num_planes = 2;
    desc.layers[0].offset[1] = pitch * H;
    desc.layers[0].pitch = [pitch, pitch, 0, 0];
    let memfd = || {
        let fd = nix::sys::memfd::memfd_create(c"import", nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC).unwrap();
        nix::unistd::ftruncate(&fd, size as i64).unwrap();
        fd
    };
    let linear = d.import_surface(W, H, ffi::VA_RT_FORMAT_YUV420, None, &desc, memfd());
    let e = linear.expect_err("a linear import into an MM21 device");
    assert_eq!(e.status as u32, ffi::VA_STATUS_ERROR_INVALID_PARAMETER);
    assert!(e.msg.contains("MM21"), "{}", e.msg);
    desc.num_objects = 2;
    desc.layers[0].object_index[1] = 1;
    desc.layers[0].offset[1] = 0;
    assert_eq!(status(d.import_surface(W, H, ffi::VA_RT_FORMAT_YUV420, None, &desc, memfd())), ffi::VA_STATUS_ERROR_INVALID_PARAMETER);
    assert!(d.surfaces.is_empty());
}
