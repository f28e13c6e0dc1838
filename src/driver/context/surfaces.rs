//! One record per surface a context knows: its latest decode's state, its
//! composed-layer exports (the pinning rule). A destroyed surface is one
//! removal here and one `CapturePool::release_surface`: the pool owns the
//! surface's slot binding, its pin and an imported slot's retirement.

use super::DecodeState;
use crate::pool::SurfaceKey;
use std::collections::HashMap;

/// What a context knows about one surface (besides its pool binding).
#[derive(Clone, Copy, Debug, Default)]
pub struct SurfaceRecord {
    /// Where its latest decode in this context stands (`None`: never decoded here).
    pub decode: Option<DecodeState>,
    /// Composed-layer exports of it so far (see `Context::note_export`).
    pub composed_exports: u32,
}

/// The records of a context's surfaces.
#[derive(Default)]
pub struct SurfaceRecords(HashMap<SurfaceKey, SurfaceRecord>);

impl SurfaceRecords {
    /// `surface`'s latest decode state (`None`: never decoded in this context).
    pub fn state(&self, surface: SurfaceKey) -> Option<DecodeState> {
        self.0.get(&surface).and_then(|r| r.decode)
    }

    pub fn set_state(&mut self, surface: SurfaceKey, state: DecodeState) {
        self.record_mut(surface).decode = Some(state);
    }

    /// `surface`'s record, created empty if it has none.
    pub fn record_mut(&mut self, surface: SurfaceKey) -> &mut SurfaceRecord {
        self.0.entry(surface).or_default()
    }

    /// Forget `surface` (destroyed); returns what was known of it.
    pub fn remove(&mut self, surface: SurfaceKey) -> Option<SurfaceRecord> {
        self.0.remove(&surface)
    }
}
