//! The libva ABI edge: bindgen bindings, the exported init symbol, the vtable
//! and the panic/status guard. All `unsafe` of the libva side lives here.

pub mod abi;
pub mod entry;
pub mod ffi;
pub mod guard;

include!(concat!(env!("OUT_DIR"), "/driver_init.rs"));
