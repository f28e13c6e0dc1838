//! VA surfaces. A surface is a name for a decoded picture; the picture itself
//! lives in a CAPTURE slot of the context that decoded it (see [`crate::pool`]),
//! so the surface only records its size, format and that context.

use crate::va::ffi;

pub struct Surface {
    pub width: u32,
    pub height: u32,
    pub rt_format: u32,
    /// VA fourcc of the picture (NV12 for 8-bit 4:2:0).
    pub fourcc: u32,
    /// The context that decodes into this surface (render target or last decode).
    pub context: Option<u32>,
    /// Error details handed out by vaQuerySurfaceError (status -1 terminated).
    pub mb_errors: Box<[ffi::VASurfaceDecodeMBErrors; 2]>,
}

impl Surface {
    pub fn new(width: u32, height: u32, rt_format: u32, fourcc: u32) -> Self {
        let mut mb_errors: Box<[ffi::VASurfaceDecodeMBErrors; 2]> = Box::default();
        mb_errors[1].status = -1;
        Surface { width, height, rt_format, fourcc, context: None, mb_errors }
    }
}
