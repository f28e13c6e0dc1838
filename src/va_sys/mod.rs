//! The libva types, below every layer that uses them: the bindgen bindings of
//! the driver-side libva API ([`ffi`]) and the plain-old-data reads of VA
//! parameter buffers and their bitfield unions ([`abi`]). Part of the ABI edge
//! with [`crate::va`] (the exported symbols and vtable), but a leaf: it imports
//! no other module of the crate, so [`crate::codec`] and [`crate::driver`] use
//! the VA structs without depending on the vtable layer above them.

pub mod abi;
pub mod ffi;
