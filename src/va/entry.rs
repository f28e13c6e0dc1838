//! The exported driver init and the vtable entries (being written).
use super::ffi;

/// Fill libva's driver context. Called through `__vaDriverInit_<major>_<minor>`.
///
/// # Safety
/// `ctx` must be the driver context libva passes to the init symbol.
pub unsafe fn driver_init(ctx: ffi::VADriverContextP) -> ffi::VAStatus {
    let _ = ctx;
    ffi::VA_STATUS_ERROR_UNIMPLEMENTED as ffi::VAStatus
}
