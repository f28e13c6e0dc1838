//! Settings: every environment variable the driver reads, read once, in one place.
//!
//! Users configure the driver only through `LIBVA_V4L2_REQUEST_*` variables. They are
//! all read together the first time any setting is needed (in vaInitialize, when the
//! driver discovers its decoders) into one [`Settings`], which lives for the process:
//! changing a variable later has no effect. Every variable follows one rule: unset or
//! empty means the default; a value that does not parse is ignored with one warning that
//! names the variable, what it expects and that the default applies.
//!
//! `LIBVA_V4L2_REQUEST_LOG` is the exception: [`crate::logging`] reads it itself,
//! because the log has to exist before a bad value here can be reported.

use crate::pool::{PinMode, PoolPolicy};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

pub const SYNC_TIMEOUT_ENV: &str = "LIBVA_V4L2_REQUEST_SYNC_TIMEOUT_MS";
pub const FENCE_TIMEOUT_ENV: &str = "LIBVA_V4L2_REQUEST_FENCE_TIMEOUT_MS";
pub const DECODE_MODE_ENV: &str = "LIBVA_V4L2_REQUEST_DECODE_MODE";
pub const START_CODE_ENV: &str = "LIBVA_V4L2_REQUEST_START_CODE";
pub const CAPTURE_MEMORY_ENV: &str = "LIBVA_V4L2_REQUEST_CAPTURE_MEMORY";
pub const POOL_POLICY_ENV: &str = "LIBVA_V4L2_REQUEST_POOL";
pub const PIN_ENV: &str = "LIBVA_V4L2_REQUEST_PIN";
pub const POOL_SIZE_ENV: &str = "LIBVA_V4L2_REQUEST_POOL_SIZE";
pub const POOL_MEMORY_ENV: &str = "LIBVA_V4L2_REQUEST_POOL_MEMORY";
pub const EXPORT_ALIGN_ENV: &str = "LIBVA_V4L2_REQUEST_EXPORT_ALIGN";
pub const RECORD_ENV: &str = "LIBVA_V4L2_REQUEST_RECORD";
pub const VIDEO_PATH_ENV: &str = "LIBVA_V4L2_REQUEST_VIDEO_PATH";
pub const MEDIA_PATH_ENV: &str = "LIBVA_V4L2_REQUEST_MEDIA_PATH";

/// Default of [`SYNC_TIMEOUT_ENV`] in ms, and the range a value is clamped to.
pub const DEFAULT_SYNC_TIMEOUT_MS: u64 = 5000;
const SYNC_TIMEOUT_RANGE_MS: (u64, u64) = (10, 600_000);
/// Default of [`FENCE_TIMEOUT_ENV`] in ms, and the most a value may ask for.
pub const DEFAULT_FENCE_TIMEOUT_MS: u64 = 2000;
const MAX_FENCE_TIMEOUT_MS: u64 = 60_000;

/// `LIBVA_V4L2_REQUEST_DECODE_MODE`: the H.264/HEVC decode mode forced on the device
/// (by default the driver keeps the device's current value, as GStreamer does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeModeOverride {
    /// `frame`: one request per picture, every slice in it.
    Frame,
    /// `slice`: one request per slice.
    Slice,
}

/// `LIBVA_V4L2_REQUEST_START_CODE`: the H.264/HEVC start-code setting forced on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartCodeOverride {
    /// `annexb`: slice data with 00 00 01 start codes.
    AnnexB,
    /// `none`: raw NAL units.
    NoStartCode,
}

/// The driver's settings (see the module doc); field docs name the variable.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// [`SYNC_TIMEOUT_ENV`]: upper bound of any wait on the device (ms, 10..=600000, default 5000).
    pub sync_timeout: Duration,
    /// [`FENCE_TIMEOUT_ENV`]: upper bound of the wait for consumers' reader fences before an
    /// exported buffer is queued again (ms, at most 60000, default 2000).
    pub fence_timeout: Duration,
    /// [`DECODE_MODE_ENV`] (`frame` or `slice`).
    pub decode_mode: Option<DecodeModeOverride>,
    /// [`START_CODE_ENV`] (`annexb` or `none`).
    pub start_code: Option<StartCodeOverride>,
    /// [`CAPTURE_MEMORY_ENV`]: `dmabuf` (default: the driver's own frames where the device
    /// takes dma-bufs) gives true, `mmap` (the queue's own buffers) false.
    pub capture_frames: bool,
    /// [`POOL_POLICY_ENV`]: `lru` (default) or `1:1`.
    pub pool_policy: PoolPolicy,
    /// [`PIN_ENV`]: `auto` (default), `always` or `never`.
    pub pin_mode: PinMode,
    /// [`POOL_SIZE_ENV`]: CAPTURE buffers set up front (1..=64; default: as decodes need them).
    pub pool_size: Option<usize>,
    /// [`POOL_MEMORY_ENV`]: CAPTURE memory budget per context in bytes (given in MiB).
    pub pool_memory: u64,
    /// [`EXPORT_ALIGN_ENV`]: pitch alignment a consumer needs for a linear modifier.
    pub export_align: u32,
    /// [`RECORD_ENV`]: file the VA calls are recorded to (`%p`: the process ID).
    pub record_path: Option<String>,
    /// [`VIDEO_PATH_ENV`]: use this video node instead of discovering decoders.
    pub video_path: Option<PathBuf>,
    /// [`MEDIA_PATH_ENV`]: its media node (default: found through sysfs).
    pub media_path: Option<PathBuf>,
}

impl Settings {
    /// Read every setting through `lookup` (the process environment in
    /// [`settings`]; a map in tests), warning once per value that does not parse.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Settings {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let read = |name: &str, expected: &str, parse: &dyn Fn(&str) -> Option<u64>| {
            get(name).and_then(|v| warn_unless(name, &v, expected, parse(&v)))
        };
        let sync_ms = read(SYNC_TIMEOUT_ENV, "a number of milliseconds", &|v| v.parse().ok())
            .map(|ms| ms.clamp(SYNC_TIMEOUT_RANGE_MS.0, SYNC_TIMEOUT_RANGE_MS.1))
            .unwrap_or(DEFAULT_SYNC_TIMEOUT_MS);
        let fence_ms = read(FENCE_TIMEOUT_ENV, "a number of milliseconds", &|v| v.parse().ok())
            .map(|ms| ms.min(MAX_FENCE_TIMEOUT_MS))
            .unwrap_or(DEFAULT_FENCE_TIMEOUT_MS);
        let choice = |name: &str, expected: &str| get(name).map(|v| (v.to_ascii_lowercase(), v, name.to_string(), expected.to_string()));
        let decode_mode = choice(DECODE_MODE_ENV, "frame or slice").and_then(|(l, v, n, e)| {
            let parsed = match l.as_str() {
                "frame" => Some(DecodeModeOverride::Frame),
                "slice" => Some(DecodeModeOverride::Slice),
                _ => None,
            };
            warn_unless(&n, &v, &e, parsed)
        });
        let start_code = choice(START_CODE_ENV, "annexb or none").and_then(|(l, v, n, e)| {
            let parsed = match l.as_str() {
                "annexb" => Some(StartCodeOverride::AnnexB),
                "none" => Some(StartCodeOverride::NoStartCode),
                _ => None,
            };
            warn_unless(&n, &v, &e, parsed)
        });
        let capture_frames = choice(CAPTURE_MEMORY_ENV, "dmabuf or mmap")
            .and_then(|(l, v, n, e)| {
                let parsed = match l.as_str() {
                    "dmabuf" => Some(true),
                    "mmap" => Some(false),
                    _ => None,
                };
                warn_unless(&n, &v, &e, parsed)
            })
            .unwrap_or(true);
        let pool_policy =
            get(POOL_POLICY_ENV).and_then(|v| warn_unless(POOL_POLICY_ENV, &v, "lru or 1:1", PoolPolicy::parse(&v))).unwrap_or_default();
        let pin_mode = get(PIN_ENV).and_then(|v| warn_unless(PIN_ENV, &v, "auto, always or never", PinMode::parse(&v))).unwrap_or_default();
        let pool_size = get(POOL_SIZE_ENV).and_then(|v| {
            let expected = format!("1..={}", crate::pool::MAX_POOL_SLOTS);
            warn_unless(POOL_SIZE_ENV, &v, &expected, crate::pool::parse_pool_size(&v))
        });
        let pool_memory = get(POOL_MEMORY_ENV)
            .and_then(|v| warn_unless(POOL_MEMORY_ENV, &v, "a positive number of MiB", crate::pool::parse_pool_memory(&v)))
            .unwrap_or(crate::pool::DEFAULT_POOL_MEMORY);
        let export_align = get(EXPORT_ALIGN_ENV)
            .and_then(|v| {
                let expected = format!("1..={}", crate::format::MAX_EXPORT_ALIGN);
                warn_unless(EXPORT_ALIGN_ENV, &v, &expected, crate::format::parse_export_align(&v))
            })
            .unwrap_or(crate::format::DEFAULT_EXPORT_ALIGN);
        Settings {
            sync_timeout: Duration::from_millis(sync_ms),
            fence_timeout: Duration::from_millis(fence_ms),
            decode_mode,
            start_code,
            capture_frames,
            pool_policy,
            pin_mode,
            pool_size,
            pool_memory,
            export_align,
            record_path: get(RECORD_ENV),
            video_path: get(VIDEO_PATH_ENV).map(PathBuf::from),
            media_path: get(MEDIA_PATH_ENV).map(PathBuf::from),
        }
    }
}

/// `parsed`, with one warning when `value` of `name` did not parse.
fn warn_unless<T>(name: &str, value: &str, expected: &str, parsed: Option<T>) -> Option<T> {
    if parsed.is_none() {
        log::warn!("{name}={value:?} ignored: expected {expected}; the default applies");
    }
    parsed
}

/// The process's settings, read from its environment the first time they are needed.
pub fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| Settings::from_lookup(|name| std::env::var(name).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> Settings {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn unset_and_empty_give_the_defaults() {
        for s in [with(&[]), with(&[(SYNC_TIMEOUT_ENV, ""), (POOL_POLICY_ENV, "  "), (RECORD_ENV, "")])] {
            assert_eq!(s.sync_timeout, Duration::from_millis(DEFAULT_SYNC_TIMEOUT_MS));
            assert_eq!(s.fence_timeout, Duration::from_millis(DEFAULT_FENCE_TIMEOUT_MS));
            assert_eq!((s.decode_mode, s.start_code), (None, None));
            assert!(s.capture_frames);
            assert_eq!((s.pool_policy, s.pin_mode, s.pool_size), (PoolPolicy::Lru, PinMode::Auto, None));
            assert_eq!(s.pool_memory, crate::pool::DEFAULT_POOL_MEMORY);
            assert_eq!(s.export_align, crate::format::DEFAULT_EXPORT_ALIGN);
            assert_eq!((s.record_path, s.video_path, s.media_path), (None, None, None));
        }
    }

    #[test]
    fn values_parse_and_clamp() {
        let s = with(&[
            (SYNC_TIMEOUT_ENV, "3"),
            (FENCE_TIMEOUT_ENV, "999999"),
            (DECODE_MODE_ENV, "Frame"),
            (START_CODE_ENV, "none"),
            (CAPTURE_MEMORY_ENV, "mmap"),
            (POOL_POLICY_ENV, "1:1"),
            (PIN_ENV, "never"),
            (POOL_SIZE_ENV, "16"),
            (POOL_MEMORY_ENV, "64"),
            (EXPORT_ALIGN_ENV, "64"),
            (RECORD_ENV, "/tmp/r-%p"),
            (VIDEO_PATH_ENV, "/dev/video3"),
        ]);
        assert_eq!(s.sync_timeout, Duration::from_millis(10));
        assert_eq!(s.fence_timeout, Duration::from_millis(MAX_FENCE_TIMEOUT_MS));
        assert_eq!(s.decode_mode, Some(DecodeModeOverride::Frame));
        assert_eq!(s.start_code, Some(StartCodeOverride::NoStartCode));
        assert!(!s.capture_frames);
        assert_eq!((s.pool_policy, s.pin_mode, s.pool_size), (PoolPolicy::OneToOne, PinMode::Never, Some(16)));
        assert_eq!(s.pool_memory, 64 << 20);
        assert_eq!(s.export_align, 64);
        assert_eq!(s.record_path.as_deref(), Some("/tmp/r-%p"));
        assert_eq!(s.video_path, Some(PathBuf::from("/dev/video3")));
        assert_eq!(s.media_path, None);
    }

    #[test]
    fn values_that_do_not_parse_give_the_defaults() {
        let s = with(&[
            (SYNC_TIMEOUT_ENV, "soon"),
            (FENCE_TIMEOUT_ENV, "-1"),
            (DECODE_MODE_ENV, "fast"),
            (START_CODE_ENV, "yes"),
            (CAPTURE_MEMORY_ENV, "userptr"),
            (POOL_POLICY_ENV, "fifo"),
            (PIN_ENV, "sometimes"),
            (POOL_SIZE_ENV, "0"),
            (POOL_MEMORY_ENV, "0"),
            (EXPORT_ALIGN_ENV, "100000"),
        ]);
        assert_eq!(s, with(&[]));
    }
}
