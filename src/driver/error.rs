//! The driver's error type: a `VAStatus` and a message, returned by every
//! fallible operation of the safe driver and mapped to the status libva hands
//! the application by the vtable guard ([`crate::va::guard`]).

use crate::va_sys::ffi;

/// An error that reaches the application as a `VAStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaError {
    pub status: ffi::VAStatus,
    pub msg: String,
}

impl VaError {
    pub fn new(status: u32, msg: impl Into<String>) -> Self {
        VaError { status: status as ffi::VAStatus, msg: msg.into() }
    }
}

/// Result type of the safe driver layer.
pub type VaResult<T> = Result<T, VaError>;

/// Shorthand constructors, one per VA status the driver returns.
#[macro_export]
macro_rules! va_err {
    ($status:ident, $($arg:tt)*) => {
        $crate::driver::error::VaError::new($crate::va_sys::ffi::$status, format!($($arg)*))
    };
}
