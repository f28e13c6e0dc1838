//! v4l2-request-va: a VA-API driver over V4L2 stateless (request API) decoders.
//!
//! Layers, from the host application inwards:
//! - [`va`]: the libva ABI edge. The only place (with the ioctl edge) that holds
//!   `unsafe`. Every vtable entry runs through [`va::guard`].
//! - [`driver`]: safe Rust objects behind the VA IDs (configs, contexts,
//!   surfaces, buffers, images) and the decode flow.
//! - [`pool`]: the decoupled CAPTURE buffer pool (pure state machine).
//! - [`codec`]: VA buffers → V4L2 stateless controls, bitstream re-parsers (pure).
//! - [`device`]: decoder discovery (media topology walk, probing) and opening.
//! - [`v4l2`]: every ioctl: the V4L2 queues, requests, controls and the media
//!   controller (the ioctl edge, over v4l2r). Imports nothing from the layers above.
//! - [`va_sys`]: the libva bindings and POD views of VA buffers (a leaf).
//! - [`format`]: image layout math, DRM modifiers and plane copies (pure).
//! - [`tiling`]: tiled CAPTURE layouts (`NV12_4L4`, `NV12_32L32`, `MM21`) and
//!   the detiling copy to linear NV12 (pure).
//! - [`settings`]: every `LIBVA_V4L2_REQUEST_*` environment variable, read once.
//! - [`diag`]: the `v4l2-request-va-info` diagnostic command (its own FFI
//!   edge: `dlopen` of the installed driver).
//! - [`testing`]: what the integration tests and benches use of the internals.
//!
//! Only [`diag`] (for the command) and [`testing`] are public; the rest is
//! `pub(crate)`, so the compiler sees every dead item. The libva entry point
//! (`__vaDriverInit_<major>_<minor>`, [`va`]) is `#[no_mangle]` and exported
//! from the cdylib regardless.

pub(crate) mod codec;
pub(crate) mod device;
pub mod diag;
pub(crate) mod driver;
pub(crate) mod format;
pub(crate) mod logging;
pub(crate) mod pool;
pub(crate) mod settings;
#[cfg(test)]
mod test_alloc;
pub mod testing;
pub(crate) mod tiling;
pub(crate) mod v4l2;
pub(crate) mod va;
pub(crate) mod va_sys;
