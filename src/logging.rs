//! Logging: silent by default inside host applications.
//!
//! Set `LIBVA_V4L2_REQUEST_LOG` to an `env_logger` filter (for example `info`,
//! `debug`, or `v4l2_request_va=trace`) to enable logging on stderr.

use std::sync::Once;

/// Environment variable holding the `env_logger` filter.
pub const LOG_ENV: &str = "LIBVA_V4L2_REQUEST_LOG";

static INIT: Once = Once::new();

/// Initialise logging once per process. Does nothing when [`LOG_ENV`] is unset,
/// and never replaces a logger the host application installed itself.
pub fn init() {
    INIT.call_once(|| {
        if let Ok(filter) = std::env::var(LOG_ENV) {
            let _ = env_logger::Builder::new().parse_filters(&filter).format_timestamp_micros().try_init();
        }
    });
}

/// Whether logging was switched on (used to gate the pool summary at teardown).
pub fn enabled() -> bool {
    std::env::var_os(LOG_ENV).is_some()
}

/// The message of a caught panic (`panic!` with a literal or a formatted string).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
