//! VA buffers: parameter and slice data the application renders, image
//! storage, and zero-copy views of CAPTURE slots (vaDeriveImage).

use super::context::Context;
use crate::pool::SlotId;
use crate::va_sys::ffi;
use std::sync::{Arc, Mutex};

/// Where a buffer's bytes live.
pub enum BufferStore {
    /// Bytes owned by the driver.
    Owned(Vec<u8>),
    /// A view of CAPTURE slot `slot` of `context` (plane 0 mapping, which holds
    /// every plane for single-planar formats). Holding the context keeps the
    /// mapping alive as long as the buffer exists.
    Derived { context: Arc<Mutex<Context>>, slot: SlotId },
}

pub struct Buffer {
    pub buf_type: ffi::VABufferType,
    pub element_size: u32,
    pub num_elements: u32,
    pub store: BufferStore,
    pub map_count: u32,
}

impl Buffer {
    pub fn owned(buf_type: ffi::VABufferType, element_size: u32, num_elements: u32, data: Vec<u8>) -> Self {
        Buffer { buf_type, element_size, num_elements, store: BufferStore::Owned(data), map_count: 0 }
    }

    /// Bytes of an owned buffer (None for derived views).
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.store {
            BufferStore::Owned(v) => Some(v),
            BufferStore::Derived { .. } => None,
        }
    }
}
