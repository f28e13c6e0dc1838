//! The one guard every vtable entry goes through: catches panics (a panic must
//! never unwind into C) and maps [`VaError`](crate::driver::error::VaError) (the driver's error type,
//! [`crate::driver::error`]) to a `VAStatus`.

use crate::driver::error::VaResult;
use crate::logging::panic_message;
use crate::va_sys::ffi;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Run `f`, catching panics. `entry` names the vtable entry for the log line.
pub fn guard<F>(entry: &'static str, f: F) -> ffi::VAStatus
where
    F: FnOnce() -> VaResult<()>,
{
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => ffi::VA_STATUS_SUCCESS as ffi::VAStatus,
        Ok(Err(e)) => {
            log::warn!("{entry}: {} (status {:#x})", e.msg, e.status);
            e.status
        }
        Err(panic) => {
            let what = panic_message(panic.as_ref());
            log::error!("{entry}: internal error (panic caught): {what}");
            ffi::VA_STATUS_ERROR_OPERATION_FAILED as ffi::VAStatus
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_error_and_panic_map_to_status() {
        assert_eq!(guard("ok", || Ok(())), ffi::VA_STATUS_SUCCESS as ffi::VAStatus);
        let e = guard("err", || Err(crate::va_err!(VA_STATUS_ERROR_INVALID_SURFACE, "no such surface")));
        assert_eq!(e, ffi::VA_STATUS_ERROR_INVALID_SURFACE as ffi::VAStatus);
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let p = guard("panic", || panic!("boom"));
        let p2 = guard("panic-string", || {
            let v: Vec<u8> = Vec::new();
            let _ = v[3];
            Ok(())
        });
        std::panic::set_hook(prev);
        assert_eq!(p, ffi::VA_STATUS_ERROR_OPERATION_FAILED as ffi::VAStatus);
        assert_eq!(p2, ffi::VA_STATUS_ERROR_OPERATION_FAILED as ffi::VAStatus);
    }
}
