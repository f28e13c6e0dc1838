//! The internals the integration tests (`tests/`) and benches (`benches/`) use, re-exported: the crate's only public surface besides [`crate::diag`].

pub use crate::device::{discover, discover_at, DecoderNode};
pub use crate::format::{copy_frame, FrameLayout, PixelFormat};
pub use crate::tiling::{detile_nv12, nv12_planes, tile_nv12, LinearPlane, TiledFormat, TiledLayout};
pub use crate::v4l2::fourcc::{fourcc, V4L2_PIX_FMT_H264_SLICE, V4L2_PIX_FMT_NV12};
pub use crate::v4l2::{codec_controls, CaptureMemory, ControlSpec, DecoderSession, Frame};
