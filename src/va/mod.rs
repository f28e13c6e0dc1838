//! The libva ABI edge: bindgen bindings, the exported init symbol, the vtable
//! and the panic/status guard. All `unsafe` of the libva side lives here.

pub mod abi;
#[cfg(any())]
pub mod entry;
#[cfg(not(any()))]
pub mod entry {
    //! Stub until the driver layer is integrated.
    use super::ffi;
    /// # Safety
    /// libva's driver context.
    pub unsafe fn driver_init(_ctx: ffi::VADriverContextP) -> ffi::VAStatus {
        ffi::VA_STATUS_ERROR_UNIMPLEMENTED as ffi::VAStatus
    }
}
pub mod ffi;
pub mod guard;

include!(concat!(env!("OUT_DIR"), "/driver_init.rs"));
