//! Context setup: the session opened, the codec's decode mode settled, formats
//! negotiated, both queues allocated (lazily) and the codec's backend created
//! from its row of the codec table.

use super::picture::PictureBuffers;
use super::queue::PictureQueue;
use super::{v4l2_err, Context};
use crate::device::DeviceOpener;
use crate::driver::backend::{BackendSetup, StreamMode, StreamModeControls};
use crate::driver::config::{codec_table, Config};
use crate::driver::error::VaResult;
use crate::driver::frames::{negotiate_formats, FrameSource};
use crate::pool::CapturePool;
use crate::v4l2::{CaptureFormat, DecoderDevice};
use crate::va_err;
use std::sync::Arc;

/// What a context's frame allocation handle is opened with.
pub(super) struct FrameOrigin {
    opener: Arc<dyn DeviceOpener>,
    node: crate::device::DecoderNode,
    coded_fourcc: u32,
    width: u32,
    height: u32,
    ten_bit: bool,
}

impl FrameOrigin {
    /// Open the allocation handle; its CAPTURE format must be the context's.
    pub(super) fn open(&self, capture: &CaptureFormat) -> VaResult<FrameSource> {
        let src = FrameSource::open(&*self.opener, &self.node, self.coded_fourcc, self.width, self.height, self.ten_bit)?;
        if src.format() != capture {
            return Err(va_err!(
                VA_STATUS_ERROR_ALLOCATION_FAILED,
                "frame allocation handle got CAPTURE {:?}, the context {:?}",
                src.format(),
                capture
            ));
        }
        Ok(src)
    }
}

/// Device-mode overrides for H.264 and HEVC (`LIBVA_V4L2_REQUEST_DECODE_MODE=frame|slice`,
/// `LIBVA_V4L2_REQUEST_START_CODE=annexb|none`): by default the driver uses the device's
/// current values, as GStreamer does; the overrides exercise the other paths on devices
/// (like visl) that offer both.
fn apply_mode_overrides(session: &mut dyn DecoderDevice, c: &StreamModeControls) {
    let mut values = Vec::new();
    use crate::settings::{settings, DecodeModeOverride, StartCodeOverride};
    match settings().decode_mode {
        Some(DecodeModeOverride::Frame) => values.push((c.decode_mode, c.frame_based as i32)),
        Some(DecodeModeOverride::Slice) => values.push((c.decode_mode, c.slice_based as i32)),
        None => {}
    }
    match settings().start_code {
        Some(StartCodeOverride::AnnexB) => values.push((c.start_code, c.annex_b as i32)),
        Some(StartCodeOverride::NoStartCode) => values.push((c.start_code, c.no_start_code as i32)),
        None => {}
    }
    if let Err(e) = session.set_control_values(&values) {
        log::warn!("decode mode override not applied: {e}");
    }
}

/// The decode and start-code modes the device is set to.
fn read_stream_mode(session: &dyn DecoderDevice, c: &StreamModeControls) -> StreamMode {
    StreamMode {
        slice_based: session.get_control(c.decode_mode).map(|v| v == c.slice_based as i32).unwrap_or(false),
        annex_b: session.get_control(c.start_code).map(|v| v == c.annex_b as i32).unwrap_or(false),
    }
}

/// A device without HOLD_CAPTURE_BUF cannot take a picture in several
/// requests: use frame-based decoding where its decode-mode menu offers it.
fn prefer_frame_based(session: &mut dyn DecoderDevice, c: &StreamModeControls, mode: StreamMode) -> StreamMode {
    let (id, frame) = (c.decode_mode, c.frame_based);
    let offered = session.menu_values(id).map(|v| v.contains(&frame)).unwrap_or(false);
    if !offered {
        log::info!(
            "{}: no HOLD_CAPTURE_BUF and slice-based only: pictures of several slices will be refused",
            session.video_path().display()
        );
        return mode;
    }
    match session.set_control_values(&[(id, frame as i32)]) {
        Ok(()) => {
            log::info!("{}: no HOLD_CAPTURE_BUF: decoding frame-based", session.video_path().display());
            StreamMode { slice_based: false, ..mode }
        }
        Err(e) => {
            log::warn!(
                "{}: frame-based decode mode refused ({e}): pictures of several slices will be refused",
                session.video_path().display()
            );
            mode
        }
    }
}

impl Context {
    /// Open a session on `node` (through `opener`), negotiate formats and
    /// allocate both queues. Formats are always negotiated afresh: nothing is
    /// cached across sessions.
    pub fn new(
        opener: &Arc<dyn DeviceOpener>,
        config: Config,
        node: &crate::device::DecoderNode,
        width: u32,
        height: u32,
        num_surfaces: usize,
        ten_bit: bool,
    ) -> VaResult<Self> {
        let row = codec_table()
            .into_iter()
            .find(|r| r.codec == config.codec)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_UNSUPPORTED_PROFILE, "no backend for {:?}", config.codec))?;
        let mut session = opener.open(node).map_err(|e| v4l2_err("open decoder", e))?;
        let stream_mode = match row.stream_mode_controls {
            Some(controls) => {
                apply_mode_overrides(&mut *session, controls);
                read_stream_mode(&*session, controls)
            }
            None => StreamMode::default(),
        };
        let capture = negotiate_formats(&mut *session, node, config.coded_fourcc, width, height, ten_bit)?;
        let policy = crate::settings::settings().pool_policy;
        // Nothing is allocated up front unless asked (LIBVA_V4L2_REQUEST_POOL_SIZE):
        // the pool grows when a decode finds no eligible slot, up to what the
        // memory budget allows.
        let slots = crate::settings::settings().pool_size.unwrap_or(0) as u32;
        let frame_bytes = capture.sizeimage[..capture.num_planes].iter().map(|&b| b as u64).sum::<u64>().max(1);
        let budget = crate::settings::settings().pool_memory;
        let max_slots = crate::pool::max_slots_for(budget, frame_bytes);
        // Frames (DMABUF) where the device's CAPTURE queue takes them: picture
        // memory then exists independently of this queue (surfaces can own it
        // before a context exists, see super::frames). Formats whose planes are
        // separate buffers (MM21) too: a frame has one dma-buf per plane.
        // MMAP otherwise.
        // The allocation handle is opened when the first frame is needed (a
        // context that never decodes costs no second handle).
        let frames_from = ((1..=crate::v4l2::MAX_FRAME_PLANES).contains(&capture.num_planes)
            && crate::settings::settings().capture_frames
            && session.capture_supports_dmabuf())
        .then(|| FrameOrigin { opener: opener.clone(), node: node.clone(), coded_fourcc: config.coded_fourcc, width, height, ten_bit });
        let mut frames = None;
        let got = match &frames_from {
            Some(origin) => {
                let f = if slots > 0 {
                    let src = frames.insert(origin.open(&capture)?);
                    src.allocate(slots.min(max_slots as u32))?
                } else {
                    Vec::new()
                };
                session.alloc_capture_frames(f, max_slots as u32).map_err(|e| v4l2_err("allocate CAPTURE buffers (DMABUF)", e))?
            }
            // MMAP: the queue is set up empty (REQBUFS 0); buffers come with
            // CREATE_BUFS as the pool grows, the first with the first picture.
            None => session.alloc_capture(slots.min(max_slots as u32)).map_err(|e| v4l2_err("allocate CAPTURE buffers", e))?,
        };
        // OUTPUT buffers come with the first picture (a context that never
        // decodes, or is created far bigger than its pictures, costs nothing);
        // their capabilities are needed now.
        session.query_output_caps().map_err(|e| v4l2_err("query the OUTPUT queue", e))?;
        // Known only now (the OUTPUT queue's capabilities): without HOLD_CAPTURE_BUF
        // a picture must be one request, so a slice-based H.264/HEVC device that
        // also decodes frame-based is switched to frame-based.
        let stream_mode = match row.stream_mode_controls {
            Some(controls) if stream_mode.slice_based && !session.supports_hold_capture() => {
                prefer_frame_based(&mut *session, controls, stream_mode)
            }
            _ => stream_mode,
        };
        log::info!(
            "context: {:?} {width}x{height} on {}: CAPTURE {} {}x{} pitch {} {:?}, {:?}; pool: slots={got} surfaces={num_surfaces} policy={} max={max_slots} budget={}MiB margin={}",
            config.codec,
            node.video_path.display(),
            crate::v4l2::fourcc_to_string(capture.fourcc),
            capture.width,
            capture.height,
            capture.bytesperline[0],
            session.capture_memory(),
            stream_mode,
            policy.name(),
            budget >> 20,
            crate::pool::EXPORT_MARGIN
        );
        let backend = (row.backend)(&BackendSetup {
            profile: config.profile,
            ten_bit: capture.fourcc == crate::v4l2::V4L2_PIX_FMT_P010,
            stream_mode,
            session: &*session,
        });
        let pool = CapturePool::new(got as usize, max_slots, policy);
        Ok(Context {
            width,
            height,
            picture: PictureBuffers::default(),
            queue: PictureQueue::new(session, pool, capture, got as usize, frames, frames_from, frame_bytes),
            backend,
        })
    }
}
