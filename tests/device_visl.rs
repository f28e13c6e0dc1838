//! Real-device tests of `device` and `v4l2` against the kernel's virtual
//! stateless decoder `visl` (run in the qemu guest: `scripts/vm/run`).
//!
//! Gated on `V4L2RVA_DEVICE_TESTS=1`: without it every test returns at once;
//! with it, a missing visl device is a FAILURE, not a skip.
//!
//!   cargo test --test device_visl --no-run            # on the host
//!   V4L2RVA_DEVICE_TESTS=1 scripts/vm/run -- target/debug/deps/device_visl-<hash> --test-threads=1

use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::Duration;

use v4l2_request_va::testing::{
    codec_controls, discover, discover_at, fourcc, CaptureMemory, ControlSpec, DecoderNode, DecoderSession, Frame,
};
use v4l2_request_va::testing::{V4L2_PIX_FMT_H264_SLICE, V4L2_PIX_FMT_NV12};
use v4l2r::bindings;

/// The device is shared: run the tests one at a time even under the default harness.
static SERIAL: Mutex<()> = Mutex::new(());

const W: u32 = 176;
const H: u32 = 144;
const WAIT: Duration = Duration::from_secs(10);

fn enabled() -> bool {
    std::env::var("V4L2RVA_DEVICE_TESTS").is_ok_and(|v| v == "1")
}

fn init_log() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).is_test(true).try_init();
}

/// The visl node, or a panic (the env var says a device must be there).
fn visl() -> DecoderNode {
    init_log();
    let nodes = discover();
    eprintln!("discovered: {nodes:#?}");
    nodes
        .into_iter()
        .find(|n| n.driver == "visl")
        .expect("V4L2RVA_DEVICE_TESTS=1 but discover() found no visl decoder (is the visl module loaded?)")
}

/// Zeroed-but-valid H.264 controls for a 176x144 4:2:0 frame.
struct H264Ctrls {
    sps: bindings::v4l2_ctrl_h264_sps,
    pps: bindings::v4l2_ctrl_h264_pps,
    scaling: bindings::v4l2_ctrl_h264_scaling_matrix,
    decode: bindings::v4l2_ctrl_h264_decode_params,
    slice: bindings::v4l2_ctrl_h264_slice_params,
}

impl H264Ctrls {
    fn new() -> Self {
        let sps = bindings::v4l2_ctrl_h264_sps {
            profile_idc: 66,
            level_idc: 30,
            chroma_format_idc: 1,
            max_num_ref_frames: 1,
            pic_width_in_mbs_minus1: (W / 16 - 1) as u16,
            pic_height_in_map_units_minus1: (H / 16 - 1) as u16,
            flags: bindings::V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY,
            ..Default::default()
        };
        let decode = bindings::v4l2_ctrl_h264_decode_params {
            nal_ref_idc: 1,
            flags: bindings::V4L2_H264_DECODE_PARAM_FLAG_IDR_PIC,
            ..Default::default()
        };
        H264Ctrls {
            sps,
            pps: Default::default(),
            scaling: bindings::v4l2_ctrl_h264_scaling_matrix { scaling_list_4x4: [[16; 16]; 6], scaling_list_8x8: [[16; 64]; 6] },
            decode,
            slice: Default::default(),
        }
    }

    fn specs(&self) -> Vec<ControlSpec<'_>> {
        vec![
            ControlSpec::new(&self.sps),
            ControlSpec::new(&self.pps),
            ControlSpec::new(&self.scaling),
            ControlSpec::new(&self.decode),
            ControlSpec::new(&self.slice),
        ]
    }
}

/// Open + formats + buffers + STREAMON, as the driver does it.
fn streaming_session(node: &DecoderNode, captures: u32, outputs: u32) -> DecoderSession {
    let mut s = node.open_session().expect("open session");
    let c = H264Ctrls::new();
    s.set_output_format(V4L2_PIX_FMT_H264_SLICE, W, H, 256 * 1024).expect("S_FMT OUTPUT");
    s.set_controls(&[ControlSpec::new(&c.sps)]).expect("SPS without request");
    let cf = s.set_capture_format(V4L2_PIX_FMT_NV12, W, H).expect("S_FMT CAPTURE NV12");
    assert_eq!(cf.fourcc, V4L2_PIX_FMT_NV12);
    assert_eq!(s.alloc_capture(captures).expect("alloc CAPTURE"), captures);
    assert_eq!(s.alloc_output(outputs).expect("alloc OUTPUT"), outputs);
    s.stream_on().expect("STREAMON");
    s
}

fn fill_bitstream(s: &mut DecoderSession, out: u32, len: usize, seed: u8) {
    let buf = s.output_buffer_mut(out).expect("free OUTPUT buffer is mapped");
    assert!(buf.len() >= len, "OUTPUT buffer {} < {len}", buf.len());
    buf[..4].copy_from_slice(&[0, 0, 0, 1]);
    for (i, b) in buf[4..len].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(seed);
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

fn maps() -> usize {
    std::fs::read_to_string("/proc/self/maps").map(|m| m.lines().count()).unwrap_or(0)
}

#[test]
fn discovers_visl_with_matching_h264_controls() {
    if !enabled() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let node = visl();
    assert!(node.multiplanar, "visl is an M2M_MPLANE device");
    assert!(node.media_path.is_some(), "found through the media controller");
    assert!(node.video_path.starts_with("/dev"));
    assert!(node.supports(V4L2_PIX_FMT_H264_SLICE), "H.264 kept after the size check: {:?}", node.coded_formats);
    // visl offers all seven stateless formats; every one we know must pass the size check.
    assert!(node.coded_formats.len() >= 6, "{:?}", node.coded_formats);

    // Element sizes as the kernel reports them, one by one.
    let s = node.open_session().expect("open");
    for c in codec_controls(V4L2_PIX_FMT_H264_SLICE) {
        let info = s.query_control(c.id).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(info.elem_size as usize, c.size, "{} size: kernel {} vs ours {}", c.name, info.elem_size, c.size);
    }
    // The decode-mode / start-code menus (visl: both items of each).
    let modes = s.menu_values(bindings::V4L2_CID_STATELESS_H264_DECODE_MODE).expect("DECODE_MODE menu");
    assert_eq!(modes, vec![0, 1]);
    let starts = s.menu_values(bindings::V4L2_CID_STATELESS_H264_START_CODE).expect("START_CODE menu");
    assert_eq!(starts, vec![0, 1]);
    assert!(s.ioctl_count() > 0);

    // Naming the node (LIBVA_V4L2_REQUEST_VIDEO_PATH) selects the same node.
    let again = discover_at(Some(&node.video_path), None);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].video_path, node.video_path);
    assert_eq!(again[0].media_path, node.media_path);
}

#[test]
fn negotiates_nv12_allocates_and_exports() {
    if !enabled() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let node = visl();
    let mut s = node.open_session().expect("open");
    s.set_control_values(&[(bindings::V4L2_CID_STATELESS_H264_DECODE_MODE, 1), (bindings::V4L2_CID_STATELESS_H264_START_CODE, 1)])
        .expect("decode mode / start code");
    assert_eq!(s.get_control(bindings::V4L2_CID_STATELESS_H264_DECODE_MODE).unwrap(), 1);
    assert_eq!(s.get_control(bindings::V4L2_CID_STATELESS_H264_START_CODE).unwrap(), 1);
    s.set_output_format(V4L2_PIX_FMT_H264_SLICE, W, H, 64 * 1024).expect("S_FMT OUTPUT");
    let fmts = s.capture_formats().expect("ENUM_FMT CAPTURE");
    assert!(fmts.contains(&V4L2_PIX_FMT_NV12), "CAPTURE formats {fmts:x?}");
    let cf = s.set_capture_format(V4L2_PIX_FMT_NV12, W, H).expect("S_FMT CAPTURE");
    eprintln!("CAPTURE format: {cf:?}");
    assert_eq!((cf.width, cf.height), (W, H));
    assert_eq!(cf.num_planes, 1);
    assert!(cf.bytesperline[0] >= W);
    assert!(cf.sizeimage[0] as usize >= (cf.bytesperline[0] * H * 3 / 2) as usize);
    assert_eq!(s.capture_format(), Some(&cf));
    // Unknown CAPTURE format is refused, not silently replaced.
    assert!(s.set_capture_format(fourcc(b"XR24"), W, H).is_err());
    let cf = s.set_capture_format(V4L2_PIX_FMT_NV12, W, H).expect("S_FMT CAPTURE again");

    assert_eq!(s.alloc_capture(4).expect("REQBUFS CAPTURE"), 4);
    assert_eq!(s.alloc_output(3).expect("REQBUFS OUTPUT"), 3);
    assert!(s.supports_hold_capture(), "visl supports HOLD_CAPTURE_BUF");
    assert!(s.output_buffer_size() >= 64 * 1024);
    for i in 0..4 {
        let p = s.capture_plane(i, 0).expect("mapped CAPTURE");
        assert!(p.len() >= cf.sizeimage[0] as usize);
    }
    assert!(s.capture_plane(4, 0).is_none());
    assert!(s.capture_plane(0, 1).is_none());
    s.capture_plane_mut(1, 0).unwrap()[0] = 0x5a;
    assert_eq!(s.capture_plane(1, 0).unwrap()[0], 0x5a);

    let fd = s.capture_dmabuf(0).expect("EXPBUF").try_clone_to_owned().expect("dup");
    let st = nix::sys::stat::fstat(fd.as_raw_fd()).expect("fstat dmabuf");
    assert!(st.st_size == 0 || st.st_size as usize >= cf.sizeimage[0] as usize);
    let flags = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
    assert!(flags & libc::FD_CLOEXEC != 0, "exported fd is CLOEXEC");
    assert!(s.capture_dmabuf(99).is_err());
    // The plane length is queried once per buffer (its first export), then
    // remembered: exporting a buffer again costs no ioctl.
    let before = s.ioctl_count();
    let len = s.capture_plane_length(0, 0).expect("QUERYBUF");
    assert!(len as usize >= cf.sizeimage[0] as usize);
    assert_eq!(s.capture_plane_length(0, 0).unwrap(), len);
    s.capture_dmabuf(0).expect("export again");
    assert_eq!(s.ioctl_count(), before + 1, "one QUERYBUF, then nothing");

    let range = s.grow_capture(2).expect("CREATE_BUFS CAPTURE");
    assert_eq!(range, 4..6);
    assert_eq!(s.capture_count(), 6);
    assert!(s.capture_plane(5, 0).is_some());
    s.stream_on().expect("STREAMON");
    s.stream_on().expect("STREAMON is idempotent");
    eprintln!("ioctls for setup: {}", s.ioctl_count());
}

/// Frames allocated on a second handle (REQBUFS MMAP, EXPBUF, REQBUFS 0) and
/// queued as dma-bufs on the decoding handle: the memory outlives the
/// allocation queue, visl decodes into it, and the CPU sees what it wrote.
#[test]
fn decodes_into_frames_from_a_second_handle() {
    if !enabled() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let node = visl();
    let c = H264Ctrls::new();
    let negotiate = |s: &mut DecoderSession| {
        s.set_output_format(V4L2_PIX_FMT_H264_SLICE, W, H, 256 * 1024).expect("S_FMT OUTPUT");
        s.set_controls(&[ControlSpec::new(&c.sps)]).expect("SPS without request");
        s.set_capture_format(V4L2_PIX_FMT_NV12, W, H).expect("S_FMT CAPTURE")
    };
    let mut alloc = node.open_session().expect("open allocation handle");
    let cf = negotiate(&mut alloc);
    let frames = alloc.allocate_frames(3).expect("allocate frames");
    assert_eq!(frames.len(), 3);
    // The allocation queue is empty again: it can allocate more.
    assert_eq!(alloc.allocate_frames(1).expect("again").len(), 1);
    drop(alloc);
    for f in &frames {
        assert!(f.len() >= cf.sizeimage[0] as usize);
        assert!(f.bytes().is_some(), "frame is mapped");
    }
    let mut s = node.open_session().expect("open session");
    assert_eq!(negotiate(&mut s), cf);
    assert!(s.capture_supports_dmabuf(), "visl takes dma-bufs on CAPTURE");
    assert_eq!(s.alloc_capture_frames(frames, 8).expect("REQBUFS DMABUF"), 3);
    assert_eq!(s.capture_memory(), CaptureMemory::DmaBuf);
    assert_eq!(s.alloc_output(2).expect("alloc OUTPUT"), 2);
    s.stream_on().expect("STREAMON");
    for i in 0..3u32 {
        s.capture_plane_mut(i, 0).expect("frame writable")[..64].fill(0xa5);
    }
    for f in 0..6u32 {
        let out = s.next_output().expect("free OUTPUT");
        fill_bitstream(&mut s, out, 700, f as u8);
        let cap = f % 3;
        let ts = (u64::from(f) + 1) * 1000;
        s.queue_decode(out, 700, ts, &c.specs(), cap, true, false).expect("queue decode into a frame");
        let done = s.wait_decode(out, WAIT).expect("decode completes");
        assert_eq!(done.len(), 1, "{done:?}");
        assert_eq!((done[0].index, done[0].timestamp_ns, done[0].error), (cap, ts, false));
        let p = s.capture_plane(cap, 0).expect("decoded frame readable");
        assert!(p[..64].iter().any(|&b| b != 0xa5), "visl wrote into the frame");
    }
    // An index without a frame is never queued.
    let out = s.next_output().unwrap();
    fill_bitstream(&mut s, out, 100, 9);
    assert!(s.queue_decode(out, 100, 99_000, &c.specs(), 5, true, false).is_err());

    // Shrinking while streaming: VIDIOC_REMOVE_BUFS gives index 1 back (visl has it,
    // Linux >= 6.10), the hole takes no decode, and CREATE_BUFS of one buffer refills
    // exactly that index with a new frame, which visl then decodes into.
    assert!(s.can_remove_capture(), "visl's CAPTURE queue reports VIDIOC_REMOVE_BUFS");
    s.remove_capture_frame(1).expect("REMOVE_BUFS CAPTURE 1");
    assert!(s.remove_capture_frame(1).is_err(), "removed twice");
    assert!(s.capture_plane(1, 0).is_none(), "the frame went with the buffer");
    let out = s.next_output().unwrap();
    fill_bitstream(&mut s, out, 100, 10);
    assert!(s.queue_decode(out, 100, 98_000, &c.specs(), 1, true, false).is_err(), "a hole takes no decode");
    let mut alloc = node.open_session().expect("open allocation handle again");
    negotiate(&mut alloc);
    let frame = alloc.allocate_frames(1).expect("one more frame").pop().expect("a frame");
    drop(alloc);
    let dup = Frame::new(frame.fd().try_clone_to_owned().expect("dup"), frame.len());
    assert!(s.restore_capture_frame(2, dup).is_err(), "index 2 is no hole");
    s.restore_capture_frame(1, frame).expect("CREATE_BUFS refills index 1");
    s.capture_plane_mut(1, 0).expect("new frame writable")[..64].fill(0x5a);
    let out = s.next_output().unwrap();
    fill_bitstream(&mut s, out, 700, 11);
    s.queue_decode(out, 700, 97_000, &c.specs(), 1, true, false).expect("decode into the refilled index");
    // A queued buffer cannot be removed.
    assert!(s.remove_capture_frame(1).is_err(), "queued");
    let done = s.wait_decode(out, WAIT).expect("decode completes");
    assert_eq!((done[0].index, done[0].timestamp_ns, done[0].error), (1, 97_000, false));
    assert!(s.capture_plane(1, 0).expect("readable")[..64].iter().any(|&b| b != 0x5a), "visl wrote into the new frame");
}

#[test]
fn decodes_frames_through_the_request_ring() {
    if !enabled() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let node = visl();
    let mut s = streaming_session(&node, 4, 2);
    let c = H264Ctrls::new();
    let before = s.ioctl_count();
    let frames = 8u32;
    for f in 0..frames {
        let out = s.next_output().expect("free OUTPUT slot");
        fill_bitstream(&mut s, out, 1000 + f as usize, f as u8);
        let cap = f % 4;
        let ts = (u64::from(f) + 1) * 1000;
        s.queue_decode(out, 1000 + f as usize, ts, &c.specs(), cap, true, false).expect("queue decode");
        assert!(s.output_in_flight(out));
        assert!(s.output_buffer_mut(out).is_none(), "in-flight OUTPUT is not writable");
        assert!(s.capture_plane_mut(cap, 0).is_none(), "queued CAPTURE is not writable");
        assert!(s.capture_plane(cap, 0).is_none(), "queued CAPTURE is not readable");
        let done = s.wait_decode(out, WAIT).expect("decode completes");
        assert!(!s.output_in_flight(out));
        assert_eq!(done.len(), 1, "one CAPTURE per frame: {done:?}");
        assert_eq!(done[0].index, cap);
        assert!(!done[0].error, "visl decodes without error");
        assert_eq!(done[0].timestamp_ns, ts, "timestamp copied from OUTPUT");
        assert!(s.capture_plane(cap, 0).is_some(), "decoded CAPTURE is readable");
        // Already reaped: poll says done, nothing more to dequeue.
        assert_eq!(s.poll_decode(out).expect("poll"), Some(vec![]));
    }
    let per_frame = (s.ioctl_count() - before) as f64 / f64::from(frames);
    eprintln!("ioctls per frame: {per_frame:.1}");
    assert!(per_frame <= 10.0, "{per_frame} ioctls per frame");

    // Two frames in flight at once (ring of 2), reaped in order via poll.
    let o1 = s.next_output().unwrap();
    fill_bitstream(&mut s, o1, 500, 1);
    s.queue_decode(o1, 500, 100_000, &c.specs(), 0, true, false).unwrap();
    let o2 = s.next_output().unwrap();
    assert_ne!(o1, o2);
    fill_bitstream(&mut s, o2, 500, 2);
    s.queue_decode(o2, 500, 101_000, &c.specs(), 1, true, false).unwrap();
    assert_eq!(s.next_output(), None, "ring full");
    assert!(s.queue_decode(o1, 500, 1, &c.specs(), 2, true, false).is_err(), "slot in flight");
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + WAIT;
    while got.len() < 2 && std::time::Instant::now() < deadline {
        for o in [o1, o2] {
            if let Some(v) = s.poll_decode(o).unwrap() {
                got.extend(v);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    got.sort_by_key(|c| c.index);
    assert_eq!(got.iter().map(|c| (c.index, c.timestamp_ns)).collect::<Vec<_>>(), vec![(0, 100_000), (1, 101_000)]);
    assert!(s.next_output().is_some());
}

#[test]
fn slices_hold_the_capture_buffer() {
    if !enabled() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let node = visl();
    let mut s = streaming_session(&node, 2, 3);
    let c = H264Ctrls::new();
    let ts = 7_000;
    let o1 = s.next_output().unwrap();
    fill_bitstream(&mut s, o1, 300, 1);
    s.queue_decode(o1, 300, ts, &c.specs(), 1, true, true).expect("slice 1 (hold)");
    let first = s.wait_decode(o1, WAIT).expect("slice 1 completes");
    assert!(first.is_empty(), "CAPTURE held after slice 1: {first:?}");
    assert!(s.capture_queued(1));
    let o2 = s.next_output().unwrap();
    fill_bitstream(&mut s, o2, 300, 2);
    s.queue_decode(o2, 300, ts, &c.specs(), 1, false, false).expect("slice 2 (last)");
    let last = s.wait_decode(o2, WAIT).expect("slice 2 completes");
    assert_eq!(last.len(), 1, "{last:?}");
    assert_eq!((last[0].index, last[0].timestamp_ns, last[0].error), (1, ts, false));
}

#[test]
fn grows_output_buffers_when_a_frame_does_not_fit() {
    if !enabled() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let node = visl();
    let mut s = node.open_session().expect("open");
    let c = H264Ctrls::new();
    s.set_output_format(V4L2_PIX_FMT_H264_SLICE, W, H, 32 * 1024).unwrap();
    s.set_capture_format(V4L2_PIX_FMT_NV12, W, H).unwrap();
    s.alloc_capture(2).unwrap();
    s.alloc_output(2).unwrap();
    s.stream_on().unwrap();
    // One normal frame first, so the ring has completed requests.
    let out = s.next_output().unwrap();
    fill_bitstream(&mut s, out, 100, 0);
    s.queue_decode(out, 100, 1000, &c.specs(), 0, true, false).unwrap();
    assert_eq!(s.wait_decode(out, WAIT).unwrap().len(), 1);

    let small = s.output_buffer_size();
    let big = small * 3 + 17;
    s.ensure_output_size(big).expect("grow OUTPUT");
    assert!(s.output_buffer_size() >= big, "{} < {big}", s.output_buffer_size());
    assert_eq!(s.output_count(), 2);
    let out = s.next_output().unwrap();
    fill_bitstream(&mut s, out, big, 9);
    s.queue_decode(out, big, 2000, &c.specs(), 1, true, false).expect("queue big frame");
    let d = s.wait_decode(out, WAIT).expect("big frame completes");
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].index, d[0].timestamp_ns, d[0].error), (1, 2000, false));
    // Growing is refused while a decode is in flight.
    let out = s.next_output().unwrap();
    fill_bitstream(&mut s, out, 100, 3);
    s.queue_decode(out, 100, 3000, &c.specs(), 0, true, false).unwrap();
    let e = s.ensure_output_size(s.output_buffer_size() * 2);
    assert!(e.is_err());
    s.wait_decode(out, WAIT).unwrap();
}

#[test]
fn errors_are_reported_not_panics() {
    if !enabled() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let node = visl();
    let mut s = node.open_session().expect("open");
    // Wrong order of calls: typed state errors.
    assert!(s.alloc_output(2).is_err(), "no OUTPUT format yet");
    assert!(s.alloc_capture(2).is_err(), "no CAPTURE format yet");
    assert!(s.stream_on().is_err());
    assert!(s.next_output().is_none());
    assert!(s.output_buffer_mut(0).is_none());
    assert!(s.wait_decode(0, Duration::from_millis(1)).is_err());
    // Unsupported coded format.
    assert!(s.set_output_format(fourcc(b"XVID"), W, H, 4096).is_err());
    drop(s);

    let mut s = streaming_session(&node, 2, 2);
    let c = H264Ctrls::new();
    let out = s.next_output().unwrap();
    fill_bitstream(&mut s, out, 100, 0);
    // Too many bytes, bad CAPTURE index, invalid control payload: each fails cleanly
    // and leaves the slot usable.
    assert!(s.queue_decode(out, 1 << 30, 1000, &c.specs(), 0, true, false).is_err());
    assert!(s.queue_decode(out, 100, 1000, &c.specs(), 9, true, false).is_err());
    let mut bad = H264Ctrls::new();
    bad.decode.nal_ref_idc = 4; // rejected by the kernel's DECODE_PARAMS validation
    let e = s.queue_decode(out, 100, 1000, &bad.specs(), 0, true, false).expect_err("invalid DECODE_PARAMS");
    eprintln!("invalid DECODE_PARAMS: {e}");
    assert!(e.errno().is_some());
    assert!(!s.capture_queued(0), "nothing queued on CAPTURE after a failed request");
    let again = s.next_output().unwrap();
    fill_bitstream(&mut s, again, 100, 0);
    s.queue_decode(again, 100, 1000, &c.specs(), 0, true, false).expect("slot usable after errors");
    let d = s.wait_decode(again, WAIT).unwrap();
    assert_eq!(d.len(), 1);
    // A bounded wait with nothing queued times out quickly on CAPTURE.
    assert!(s.dequeue_capture(Duration::from_millis(10)).unwrap().is_empty());
}

#[test]
fn sessions_do_not_leak_fds_or_mappings() {
    if !enabled() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let node = visl();
    let c = H264Ctrls::new();
    // Warm up (lazy allocations in libc / the logger).
    drop(streaming_session(&node, 2, 2));
    let (fds0, maps0) = (open_fds(), maps());
    let n: u32 = std::env::var("V4L2RVA_SESSION_LOOPS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    for i in 0..n {
        let mut s = streaming_session(&node, 3, 2);
        if i % 10 == 0 {
            // Some sessions decode and drop with a request in flight.
            let out = s.next_output().unwrap();
            fill_bitstream(&mut s, out, 64, 0);
            s.queue_decode(out, 64, 1000, &c.specs(), 0, true, false).unwrap();
            if i % 20 == 0 {
                s.wait_decode(out, WAIT).unwrap();
            }
            let _exported = s.capture_dmabuf(1).unwrap().try_clone_to_owned().unwrap();
        }
    }
    let (fds1, maps1) = (open_fds(), maps());
    eprintln!("{n} sessions: fds {fds0} -> {fds1}, maps {maps0} -> {maps1}");
    assert_eq!(fds1, fds0, "fd leak");
    assert!(maps1 <= maps0 + 2, "mapping leak: {maps0} -> {maps1}");
}
