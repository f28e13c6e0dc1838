//! VA surfaces. A surface is a name for a decoded picture; the picture itself
//! lives in a CAPTURE slot of the context that decoded it (see [`crate::pool`]),
//! so the surface records its size, format and holds that context: a context
//! (its V4L2 session and buffers) outlives vaDestroyContext as long as a
//! surface still names a picture in it (FFmpeg reads the last frames of the old
//! resolution after it destroyed the old context).

use super::context::Context;
use super::frames::OwnFrame;
use crate::va_sys::ffi;
use std::sync::{Arc, Mutex};

pub struct Surface {
    pub width: u32,
    pub height: u32,
    /// VA fourcc of the picture (NV12 for 8-bit 4:2:0).
    pub fourcc: u32,
    /// The context that decodes into this surface (render target or last decode).
    pub context: Option<Arc<Mutex<Context>>>,
    /// Memory the surface owns while it has no context (allocated by an early
    /// export); adopted by the first context that decodes into it (see
    /// [`super::frames`]).
    pub own_frame: Option<OwnFrame>,
    /// Error details handed out by vaQuerySurfaceError (status -1 terminated).
    pub mb_errors: Box<[ffi::VASurfaceDecodeMBErrors; 2]>,
}

impl Surface {
    pub fn new(width: u32, height: u32, fourcc: u32) -> Self {
        let mut mb_errors: Box<[ffi::VASurfaceDecodeMBErrors; 2]> = Box::default();
        mb_errors[1].status = -1;
        Surface { width, height, fourcc, context: None, own_frame: None, mb_errors }
    }
}
