//! The libva ABI edge: the exported init symbol, the vtable and the
//! panic/status guard. All `unsafe` of the libva side lives here and in
//! [`crate::va_sys`] (the bindings and the POD reads of VA buffers).

pub mod entry;
pub mod guard;

include!(concat!(env!("OUT_DIR"), "/driver_init.rs"));
