//! The decoupled CAPTURE buffer pool: a pure state machine, no ioctls.
//!
//! # Why it exists
//!
//! A consumer (a compositor, a GL importer) keeps reading a frame through the
//! DMA-BUF exported from a V4L2 CAPTURE buffer long after the player has handed
//! the VA surface back to its surface pool, and FFmpeg's surface pool is LIFO:
//! the surface just returned is the next one decoded into. A driver that binds
//! each VA surface to one CAPTURE buffer forever (1:1) therefore re-queues the
//! buffer the compositor is still scanning out one or two frames later, and the
//! screen shows a half-decoded picture.
//!
//! So VA surfaces are *not* bound 1:1 to CAPTURE buffers. The pool owns
//! `slots` (one per CAPTURE buffer index, [`SlotId`]) and every decode binds
//! the target surface to a slot chosen **least recently used** among the free
//! slots. A slot that was exported is chosen **last**, after every free slot that
//! was never exported. With `P` slots and `S` surfaces the player created, at
//! most `S` slots are bound at any time, so a slot that just lost its binding
//! waits behind roughly `P - S` others before it is queued again.
//!
//! # Which slots may be recycled
//!
//! A slot is chosen for a new decode only if all of these hold:
//! - it is not queued in the device (no decode in flight into it);
//! - it is not any surface's current binding (except the binding of the surface
//!   being decoded, which that decode replaces);
//! - no queued (pending) frame has it in its reference set (DPB), and it is not
//!   a reference of the frame being queued.
//!
//! When a surface is decoded again its previous slot loses the binding and
//! becomes free, or stays held until the last pending frame that references it
//! completes.
//!
//! # Policies
//!
//! - [`PoolPolicy::Lru`] (default): the rule above.
//! - [`PoolPolicy::OneToOne`]: each surface keeps decoding into the same slot,
//!   as naive drivers do (its first decode takes the LRU slot; it moves only
//!   when its slot is still queued or is a reference of the frame itself).
//!   Only for comparison measurements (`LIBVA_V4L2_REQUEST_POOL=1:1`).
//! - Per-surface pinning ([`CapturePool::pin_surface`]): a pinned surface
//!   reuses its own slot whenever that slot is not referenced by a pending
//!   frame (consumers that cache imports by surface id need a stable buffer);
//!   otherwise it falls back to LRU. `OneToOne` is "every surface pinned".
//!
//! If no slot is free, [`CapturePool::begin_decode`] returns
//! [`PoolError::NeedGrow`] while the pool is below its maximum (the caller then
//! allocates buffers with `VIDIOC_CREATE_BUFS` and calls
//! [`CapturePool::add_slots`]), and [`PoolError::Exhausted`] at the maximum.
//!
//! # Shrinking
//!
//! The pool grows for bursts (a consumer holding exports longer, a deeper
//! decode-ahead) that may pass. At every decode it counts the *idle* slots
//! besides the one chosen: unbound, unreferenced, outside their export margin.
//! When at least [`SHRINK_SPARE`] slots were idle at every decode of a window
//! of [`SHRINK_WINDOW`] decodes, [`CapturePool::surplus_slot`] names the least
//! recently used idle slot (never-exported first); the caller gives its buffer
//! back to the device (`VIDIOC_REMOVE_BUFS`) and calls
//! [`CapturePool::remove_slot`]. A removed slot is a hole: never chosen, and
//! the first to be filled again ([`CapturePool::removed_slot`],
//! [`CapturePool::revive_slot`]) when the pool must grow. One slot per window,
//! and one idle slot always kept, so a pool that fits its stream never
//! oscillates between growing and shrinking.
//!
//! # Ownership
//!
//! Every slot has exactly one [state](SlotState); each transition checks the
//! state it starts from and returns [`PoolError::InvalidState`] otherwise, so a
//! buffer completed twice, aborted after completion, and so on is reported,
//! never silently corrupts the pool. The surface → slot binding is recorded on
//! both sides and [`CapturePool::check_invariants`] verifies they agree.
//!
//! # Statistics
//!
//! The pool counts decodes, re-queues (a slot queued again after having held a
//! picture), the re-queue interval of every slot measured in decodes (the
//! difference of the global decode counter between two consecutive queues of
//! the same slot), the distance from an export to the next queue of the slot,
//! re-queues of exported slots and reader-fence waits. [`PoolStats::summary`]
//! renders them for the opt-in summary at context teardown.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::time::Duration;

/// A VA surface, as the driver names it (its `VASurfaceID`).
pub type SurfaceKey = u32;

/// Per-context frame counter; also the V4L2 buffer timestamp references use.
pub type FrameId = u64;

/// A pool slot; equal to the V4L2 CAPTURE buffer index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId(pub u32);

impl SlotId {
    fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "slot {}", self.0)
    }
}

/// Default upper bound for the pool (V4L2's historical `VIDEO_MAX_FRAME`).
pub const MAX_POOL_SLOTS: usize = 64;

/// Decodes after an export before the exported slot may be decoded into again
/// (unless the pool is at its maximum, where the reader-fence wait alone
/// protects it). A compositor holds a frame while it is on screen and while the
/// next one is composited: two to three frame periods; one decode is one frame
/// period, plus one for a decode-ahead client.
pub const EXPORT_MARGIN: u64 = 4;

/// Default CAPTURE memory budget per context: 192 MiB holds 16 buffers of
/// 3840x2160 NV12 (a level 5.1 H.264 DPB of 5, the picture being decoded and
/// what a player holds for display), leaving room in a 512 MiB board's CMA; at
/// 1080p the slot maximum (64) binds first.
pub const DEFAULT_POOL_MEMORY: u64 = 192 << 20;
/// The pool may always hold this many buffers, whatever the budget says (a
/// decoder cannot work with fewer than its references plus one).
pub const MIN_MAX_SLOTS: usize = 4;

/// A CAPTURE memory budget given in MiB (`LIBVA_V4L2_REQUEST_POOL_MEMORY`), in
/// bytes; `None` unless a positive number.
pub fn parse_pool_memory(value: &str) -> Option<u64> {
    let mib = value.trim().parse::<u64>().ok().filter(|&m| m > 0)?;
    mib.checked_mul(1 << 20)
}

/// Most slots a context may hold: as many buffers of `frame_bytes` as fit the
/// budget, at least [`MIN_MAX_SLOTS`], at most [`MAX_POOL_SLOTS`].
pub fn max_slots_for(budget: u64, frame_bytes: u64) -> usize {
    let n = budget / frame_bytes.max(1);
    (n.min(MAX_POOL_SLOTS as u64) as usize).max(MIN_MAX_SLOTS)
}

/// A pool-size override (`LIBVA_V4L2_REQUEST_POOL_SIZE`: CAPTURE buffers set
/// up front); `None` unless a number in 1..=[`MAX_POOL_SLOTS`].
pub fn parse_pool_size(value: &str) -> Option<usize> {
    value.trim().parse::<usize>().ok().filter(|n| (1..=MAX_POOL_SLOTS).contains(n))
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PoolPolicy {
    /// Least recently used free slot, exported slots last (the default).
    #[default]
    Lru,
    /// Each surface always decodes into the same slot (naive drivers; for comparisons).
    OneToOne,
}

impl PoolPolicy {
    /// Parse a policy name: `lru`, or `1:1` / `1to1` / `one-to-one` / `onetoone`
    /// (case-insensitive). `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "lru" => Some(Self::Lru),
            "1:1" | "1to1" | "1-1" | "one-to-one" | "onetoone" | "one_to_one" => Some(Self::OneToOne),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Lru => "lru",
            Self::OneToOne => "1:1",
        }
    }
}

/// Override for per-surface pinning (issue 5): whether the driver pins
/// surfaces whose consumer caches imports by surface id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PinMode {
    /// Pin surfaces the driver detects as cached by their consumer (the default).
    #[default]
    Auto,
    /// Pin every surface.
    Always,
    /// Never pin: always LRU.
    Never,
}

impl PinMode {
    /// Parse `auto`, `always` or `never` (case-insensitive; also `1`/`0`, `on`/`off`).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "always" | "1" | "on" | "yes" | "true" => Some(Self::Always),
            "never" | "0" | "off" | "no" | "false" => Some(Self::Never),
            _ => None,
        }
    }
}

/// Errors of pool operations. None of them changes the pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoolError {
    /// No slot is free but the pool may grow: allocate buffers and call
    /// [`CapturePool::add_slots`], then retry.
    NeedGrow,
    /// No slot is free and the pool is at its maximum size.
    Exhausted,
    /// The slot index is outside the pool.
    UnknownSlot(SlotId),
    /// The operation is not valid in the slot's current state.
    InvalidState {
        /// The slot.
        slot: SlotId,
        /// Name of the state it is in.
        state: &'static str,
        /// The operation that was refused.
        op: &'static str,
    },
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NeedGrow => write!(f, "no free CAPTURE slot: the pool must grow"),
            Self::Exhausted => write!(f, "no free CAPTURE slot and the pool is at its maximum size"),
            Self::UnknownSlot(s) => write!(f, "unknown CAPTURE {s}"),
            Self::InvalidState { slot, state, op } => {
                write!(f, "CAPTURE {slot}: {op} is invalid in state {state}")
            }
        }
    }
}

impl std::error::Error for PoolError {}

/// The state of one slot. Exactly one at any time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// Holds no picture anyone names; may be chosen for a decode.
    Free,
    /// Bound to `surface`, which has not been decoded into it yet (an export before the first decode).
    Reserved {
        /// The surface bound to the slot.
        surface: SurfaceKey,
    },
    /// Owned by the device: the decode of `frame` is in flight. `surface` is
    /// the surface bound to it, `None` if that surface was re-decoded or destroyed meanwhile.
    Queued {
        /// The frame being decoded.
        frame: FrameId,
        /// The surface bound to the slot, if still bound.
        surface: Option<SurfaceKey>,
    },
    /// Holds the decoded picture of `frame` and is `surface`'s current binding.
    Decoded {
        /// The frame held.
        frame: FrameId,
        /// The surface bound to the slot.
        surface: SurfaceKey,
    },
    /// The device returned the buffer with an error; still `surface`'s binding so
    /// the error can be reported; the content is garbage.
    Failed {
        /// The frame whose decode failed.
        frame: FrameId,
        /// The surface bound to the slot.
        surface: SurfaceKey,
    },
    /// Holds the picture of `frame`, which no surface names any more; may be
    /// chosen once no pending frame references it.
    Released {
        /// The frame held.
        frame: FrameId,
    },
}

impl SlotState {
    /// Name of the state (for errors and logs).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Reserved { .. } => "reserved",
            Self::Queued { .. } => "queued",
            Self::Decoded { .. } => "decoded",
            Self::Failed { .. } => "failed",
            Self::Released { .. } => "released",
        }
    }

    /// The surface whose current binding this slot is.
    pub fn surface(&self) -> Option<SurfaceKey> {
        match *self {
            Self::Reserved { surface } | Self::Decoded { surface, .. } | Self::Failed { surface, .. } => Some(surface),
            Self::Queued { surface, .. } => surface,
            Self::Free | Self::Released { .. } => None,
        }
    }

    /// The frame the slot holds or decodes.
    pub fn frame(&self) -> Option<FrameId> {
        match *self {
            Self::Queued { frame, .. } | Self::Decoded { frame, .. } | Self::Failed { frame, .. } | Self::Released { frame } => Some(frame),
            Self::Free | Self::Reserved { .. } => None,
        }
    }

    /// The state once no surface binds the slot any more.
    fn unbound(self) -> Self {
        match self {
            Self::Reserved { .. } | Self::Free => Self::Free,
            Self::Queued { frame, .. } => Self::Queued { frame, surface: None },
            Self::Decoded { frame, .. } | Self::Failed { frame, .. } | Self::Released { frame } => Self::Released { frame },
        }
    }
}

/// Exact histogram of small integers (interval → count), for min/median.
#[derive(Clone, Debug, Default)]
struct Histogram {
    counts: BTreeMap<u64, u64>,
    total: u64,
}

impl Histogram {
    fn add(&mut self, v: u64) {
        *self.counts.entry(v).or_insert(0) += 1;
        self.total += 1;
    }

    fn remove(&mut self, v: u64) {
        if let Some(c) = self.counts.get_mut(&v) {
            *c -= 1;
            if *c == 0 {
                self.counts.remove(&v);
            }
            self.total -= 1;
        }
    }

    fn merge(&mut self, other: &Histogram) {
        for (&v, &c) in &other.counts {
            *self.counts.entry(v).or_insert(0) += c;
        }
        self.total += other.total;
    }

    fn min(&self) -> Option<u64> {
        self.counts.keys().next().copied()
    }

    fn max(&self) -> Option<u64> {
        self.counts.keys().next_back().copied()
    }

    /// Lower median.
    fn median(&self) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let target = (self.total - 1) / 2;
        let mut seen = 0;
        for (&v, &c) in &self.counts {
            seen += c;
            if seen > target {
                return Some(v);
            }
        }
        None
    }
}

/// Decodes per shrink window (see the module documentation): about two
/// seconds of video at 30 frames per second.
pub const SHRINK_WINDOW: u64 = 64;
/// Idle slots that must exist at every decode of a window before one goes.
pub const SHRINK_SPARE: usize = 2;

/// Per-slot counters.
#[derive(Clone, Debug, Default)]
struct SlotCounters {
    queues: u64,
    requeues: u64,
    exported_requeues: u64,
    intervals: Histogram,
    export_intervals: Histogram,
    fence_waits: u64,
    fence_wait_total: Duration,
    fence_wait_max: Duration,
}

/// What `abort_decode` needs to undo a `begin_decode`.
#[derive(Clone, Debug)]
struct Undo {
    /// State of the chosen slot before it was queued.
    prev_state: SlotState,
    prev_stamp: u64,
    prev_last_queued: Option<u64>,
    prev_exported_at: Option<u64>,
    interval: Option<u64>,
    export_interval: Option<u64>,
    exported_requeue: bool,
    /// The surface's previous binding (if another slot): slot, its state and stamp before.
    prev_binding: Option<(SlotId, SlotState, u64)>,
}

/// A decode in flight into a slot.
#[derive(Clone, Debug)]
struct Pending {
    refs: Vec<SlotId>,
    undo: Undo,
}

/// Whose memory a slot given by [`CapturePool::adopt_slot`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adopted {
    /// A frame the driver allocated for the surface before it had a context:
    /// an ordinary slot once the surface is gone.
    SurfaceFrame,
    /// The application's buffer (vaCreateSurfaces2 import).
    Imported,
}

#[derive(Clone, Debug)]
struct Slot {
    state: SlotState,
    /// Present exactly when `state` is `Queued`.
    pending: Option<Pending>,
    /// Sticky until reset: a DMA-BUF of this buffer exists outside the driver.
    exported: bool,
    /// Number of pending frames whose DPB contains this slot.
    dpb_refs: u32,
    /// LRU stamp: tick of the last queue or of the moment the slot became unbound.
    stamp: u64,
    /// Decode sequence number of the last queue.
    last_queued: Option<u64>,
    /// Decode sequence number at the last export not yet followed by a queue.
    exported_at: Option<u64>,
    /// The surface whose memory this is (an application's imported buffer):
    /// only that surface decodes into it; when the surface is released the
    /// slot is retired.
    owner: Option<SurfaceKey>,
    /// Never chosen again: its memory belonged to an application (an imported
    /// buffer whose surface is gone).
    retired: bool,
    /// Its buffer was given back to the device (a hole until revived).
    removed: bool,
    counters: SlotCounters,
}

impl Slot {
    fn new() -> Self {
        Self {
            state: SlotState::Free,
            pending: None,
            exported: false,
            dpb_refs: 0,
            stamp: 0,
            last_queued: None,
            exported_at: None,
            owner: None,
            retired: false,
            removed: false,
            counters: SlotCounters::default(),
        }
    }
}

/// Statistics of one slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotStats {
    /// The slot.
    pub slot: SlotId,
    /// Times queued.
    pub queues: u64,
    /// Times queued again after having held a picture.
    pub requeues: u64,
    /// Smallest re-queue interval, in decodes.
    pub min_interval: Option<u64>,
    /// Median re-queue interval, in decodes.
    pub median_interval: Option<u64>,
    /// Whether the slot was exported.
    pub exported: bool,
    /// Re-queues while the slot was exported.
    pub exported_requeues: u64,
    /// Smallest distance, in decodes, from an export to the next queue.
    pub min_export_to_requeue: Option<u64>,
    /// Reader-fence waits before re-queuing the slot.
    pub fence_waits: u64,
    /// Longest reader-fence wait.
    pub fence_wait_max: Duration,
}

/// Pool statistics, for tests and the summary at context teardown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Policy in force.
    pub policy: PoolPolicy,
    /// Current number of slots.
    pub slots: usize,
    /// Maximum number of slots.
    pub max_slots: usize,
    /// Slots added by growth since the last reset.
    pub grown: u64,
    /// Slots whose buffer was given back since the last reset.
    pub removed: u64,
    /// Slots with a buffer now.
    pub live: usize,
    /// Decodes queued (aborted ones excluded).
    pub decodes: u64,
    /// Decodes the device returned.
    pub completed: u64,
    /// Decodes the device returned with an error.
    pub failed: u64,
    /// Decodes undone before the device owned the buffer.
    pub aborted: u64,
    /// Queues of a slot that had held a picture before.
    pub requeues: u64,
    /// Exports recorded (`mark_exported` calls).
    pub exports: u64,
    /// Re-queues of slots that had been exported.
    pub exported_requeues: u64,
    /// Smallest re-queue interval over all slots, in decodes.
    pub min_requeue_interval: Option<u64>,
    /// Median re-queue interval over all slots, in decodes.
    pub median_requeue_interval: Option<u64>,
    /// Largest re-queue interval over all slots, in decodes.
    pub max_requeue_interval: Option<u64>,
    /// Smallest distance, in decodes, from an export to the next queue of that slot.
    pub min_export_to_requeue: Option<u64>,
    /// Median distance from an export to the next queue of that slot.
    pub median_export_to_requeue: Option<u64>,
    /// Reader-fence waits.
    pub fence_waits: u64,
    /// Total time spent in reader-fence waits.
    pub fence_wait_total: Duration,
    /// Longest reader-fence wait.
    pub fence_wait_max: Duration,
    /// Per-slot statistics, by slot index.
    pub per_slot: Vec<SlotStats>,
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

impl PoolStats {
    /// Multi-line human-readable summary.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "CAPTURE pool ({}): {} slots, {} with a buffer (max {}, {} added by growth, {} given back)",
            self.policy.name(),
            self.slots,
            self.live,
            self.max_slots,
            self.grown,
            self.removed
        );
        let _ = writeln!(
            s,
            "decodes {} (completed {}, failed {}, aborted {}), re-queues {}, exports {}, re-queues of exported slots {}",
            self.decodes, self.completed, self.failed, self.aborted, self.requeues, self.exports, self.exported_requeues
        );
        let _ = writeln!(
            s,
            "re-queue interval (decodes): min {}, median {}, max {}; export -> re-queue: min {}, median {}",
            opt(self.min_requeue_interval),
            opt(self.median_requeue_interval),
            opt(self.max_requeue_interval),
            opt(self.min_export_to_requeue),
            opt(self.median_export_to_requeue)
        );
        let _ = writeln!(s, "fence waits {} (total {}, max {})", self.fence_waits, ms(self.fence_wait_total), ms(self.fence_wait_max));
        let _ = writeln!(
            s,
            "{:>5} {:>7} {:>8} {:>6} {:>7} {:>8} {:>9} {:>10} {:>11} {:>12}",
            "slot", "queues", "requeues", "min", "median", "exported", "exp-requ", "exp->requ", "fence-waits", "fence-max"
        );
        for p in &self.per_slot {
            let _ = writeln!(
                s,
                "{:>5} {:>7} {:>8} {:>6} {:>7} {:>8} {:>9} {:>10} {:>11} {:>12}",
                p.slot.0,
                p.queues,
                p.requeues,
                opt(p.min_interval),
                opt(p.median_interval),
                if p.exported { "yes" } else { "no" },
                p.exported_requeues,
                opt(p.min_export_to_requeue),
                p.fence_waits,
                ms(p.fence_wait_max)
            );
        }
        s
    }
}

/// The CAPTURE buffer pool. See the [module documentation](self).
#[derive(Clone, Debug)]
pub struct CapturePool {
    policy: PoolPolicy,
    max_slots: usize,
    /// Decodes that must pass after an export before the slot is reused (see
    /// [`EXPORT_MARGIN`]); ignored once the pool is at its maximum.
    margin: u64,
    /// Most live slots ever held (a context's peak memory).
    peak: usize,
    /// Slots currently removed (holes in `slots`).
    holes: usize,
    /// Slots removed since the last reset.
    removed: u64,
    /// Decode sequence number at which the current shrink window began.
    window_start: u64,
    /// Fewest idle slots seen at a decode of the current window.
    window_min_idle: usize,
    slots: Vec<Slot>,
    /// Surface → its current slot. Mirrors `SlotState::surface()`.
    bindings: HashMap<SurfaceKey, SlotId>,
    pinned: HashSet<SurfaceKey>,
    /// Monotonic event counter for LRU stamps.
    tick: u64,
    /// Decode sequence number (decodes begun since reset).
    seq: u64,
    grown: u64,
    decodes: u64,
    completed: u64,
    failed: u64,
    aborted: u64,
    exports: u64,
    fence_waits: u64,
    fence_wait_total: Duration,
    fence_wait_max: Duration,
    /// Reference lists of completed decodes, for the next ones (no allocation per decode).
    spare_refs: Vec<Vec<SlotId>>,
}

/// Upper bound on slot indices we can name with a `u32`.
fn clamp_max(max_slots: usize) -> usize {
    max_slots.min(u32::MAX as usize)
}

impl CapturePool {
    /// A pool of `slots` free slots that may grow up to `max_slots`
    /// (`slots` is clamped to `max_slots`).
    pub fn new(slots: usize, max_slots: usize, policy: PoolPolicy) -> Self {
        let max_slots = clamp_max(max_slots);
        let mut pool = Self {
            policy,
            max_slots,
            margin: EXPORT_MARGIN,
            peak: 0,
            holes: 0,
            removed: 0,
            window_start: 0,
            window_min_idle: usize::MAX,
            slots: Vec::new(),
            bindings: HashMap::new(),
            pinned: HashSet::new(),
            tick: 0,
            seq: 0,
            grown: 0,
            decodes: 0,
            completed: 0,
            failed: 0,
            aborted: 0,
            exports: 0,
            fence_waits: 0,
            fence_wait_total: Duration::ZERO,
            fence_wait_max: Duration::ZERO,
            spare_refs: Vec::new(),
        };
        pool.reset(slots);
        pool
    }

    /// Change the export margin (decodes; tests and measurements).
    #[cfg(test)]
    pub fn set_margin(&mut self, decodes: u64) {
        self.margin = decodes;
    }

    /// Most slots the pool ever had.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Number of slot indices (removed ones included).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Number of slots with a buffer (removed ones excluded).
    pub fn live(&self) -> usize {
        self.slots.len() - self.holes
    }

    /// Whether the pool has no slots.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Maximum number of slots.
    pub fn max_slots(&self) -> usize {
        self.max_slots
    }

    /// Append up to `n` free slots (fewer if that would pass the maximum) and
    /// return their indices. [`PoolError::Exhausted`] if the pool is already at
    /// its maximum and `n > 0`.
    pub fn add_slots(&mut self, n: usize) -> Result<Range<u32>, PoolError> {
        let start = self.slots.len();
        if n == 0 {
            return Ok(start as u32..start as u32);
        }
        if start >= self.max_slots {
            return Err(PoolError::Exhausted);
        }
        let add = n.min(self.max_slots - start);
        if add < n {
            log::warn!("CAPTURE pool: growth by {n} clamped to {add} (max {})", self.max_slots);
        }
        self.slots.extend((0..add).map(|_| Slot::new()));
        self.peak = self.peak.max(self.live());
        self.grown += add as u64;
        log::debug!("CAPTURE pool grown by {add} to {} slots", self.slots.len());
        Ok(start as u32..(start + add) as u32)
    }

    fn slot(&self, slot: SlotId) -> Result<&Slot, PoolError> {
        self.slots.get(slot.index()).ok_or(PoolError::UnknownSlot(slot))
    }

    fn slot_mut(&mut self, slot: SlotId) -> Result<&mut Slot, PoolError> {
        self.slots.get_mut(slot.index()).ok_or(PoolError::UnknownSlot(slot))
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    fn no_slot_error(&self) -> PoolError {
        if self.live() < self.max_slots {
            PoolError::NeedGrow
        } else {
            PoolError::Exhausted
        }
    }

    /// Whether `surface` reuses its own slot (pinned or 1:1 policy).
    fn is_pinned(&self, surface: SurfaceKey) -> bool {
        self.policy == PoolPolicy::OneToOne || self.pinned.contains(&surface)
    }

    /// Whether slot `i` was exported less than the margin ago (in decodes).
    fn inside_margin(&self, i: usize) -> bool {
        self.slots.get(i).and_then(|s| s.exported_at).is_some_and(|e| self.seq.saturating_sub(e) < self.margin)
    }

    /// Whether slot `i` may receive a new decode for `surface` with references `refs`.
    fn recyclable(&self, i: usize, surface: SurfaceKey, refs: &[SlotId]) -> bool {
        let Some(s) = self.slots.get(i) else {
            return false;
        };
        if s.retired || s.removed || s.dpb_refs > 0 || refs.contains(&SlotId(i as u32)) || s.owner.is_some_and(|o| o != surface) {
            return false;
        }
        match s.state {
            SlotState::Free | SlotState::Released { .. } => true,
            SlotState::Reserved { surface: b } | SlotState::Decoded { surface: b, .. } | SlotState::Failed { surface: b, .. } => {
                b == surface
            }
            SlotState::Queued { .. } => false,
        }
    }

    /// Whether slot `i` holds nothing anyone needs and could take any decode
    /// now: unbound, not queued, unreferenced (also by `refs`), outside its
    /// export margin, neither retired nor removed.
    fn idle(&self, i: usize, refs: &[SlotId]) -> bool {
        self.slots.get(i).is_some_and(|s| {
            !s.retired
                && s.owner.is_none()
                && !s.removed
                && s.dpb_refs == 0
                && matches!(s.state, SlotState::Free | SlotState::Released { .. })
                && !refs.contains(&SlotId(i as u32))
        }) && !self.inside_margin(i)
    }

    /// At the end of a shrink window (see the module documentation): a slot
    /// the pool has had to spare at every decode of the window, to be given
    /// back ([`remove_slot`](Self::remove_slot)). `None` otherwise, under the
    /// 1:1 policy, and until [`SHRINK_WINDOW`] decodes have passed since the
    /// window began; each call at a window's end starts the next window.
    pub fn surplus_slot(&mut self) -> Option<SlotId> {
        if self.policy != PoolPolicy::Lru || self.seq < self.window_start + SHRINK_WINDOW {
            return None;
        }
        let min_idle = std::mem::replace(&mut self.window_min_idle, usize::MAX);
        self.window_start = self.seq;
        if min_idle < SHRINK_SPARE {
            return None;
        }
        (0..self.slots.len())
            .filter(|&i| self.idle(i, &[]))
            .min_by_key(|&i| (self.slots[i].exported, self.slots[i].stamp, i))
            .map(|i| SlotId(i as u32))
    }

    /// Mark idle `slot` removed: its buffer went back to the device. Its last
    /// picture (no surface names it) is gone.
    pub fn remove_slot(&mut self, slot: SlotId) -> Result<(), PoolError> {
        if !self.idle(slot.index(), &[]) {
            let state = self.slot(slot)?.state.name();
            return Err(PoolError::InvalidState { slot, state, op: "remove" });
        }
        let tick = self.next_tick();
        let s = &mut self.slots[slot.index()];
        s.state = SlotState::Free;
        s.removed = true;
        s.exported = false;
        s.exported_at = None;
        s.last_queued = None;
        s.stamp = tick;
        self.holes += 1;
        self.removed += 1;
        log::debug!("CAPTURE pool: {slot} removed, {} live slots", self.live());
        Ok(())
    }

    /// The lowest removed slot: where the next buffer goes when the pool grows
    /// (the kernel fills the lowest free index first).
    pub fn removed_slot(&self) -> Option<SlotId> {
        self.slots.iter().position(|s| s.removed).map(|i| SlotId(i as u32))
    }

    /// A buffer is back at removed `slot`: it is a free slot again.
    pub fn revive_slot(&mut self, slot: SlotId) -> Result<(), PoolError> {
        let tick = self.next_tick();
        let s = self.slot_mut(slot)?;
        if !s.removed {
            return Err(PoolError::InvalidState { slot, state: s.state.name(), op: "revive" });
        }
        s.removed = false;
        s.stamp = tick;
        self.holes -= 1;
        self.grown += 1;
        self.peak = self.peak.max(self.live());
        Ok(())
    }

    /// Choose a slot for a decode (or reservation) of `surface`.
    fn choose(&self, surface: SurfaceKey, refs: &[SlotId]) -> Result<SlotId, PoolError> {
        let own = self.bindings.get(&surface).copied();
        if self.is_pinned(surface) {
            if let Some(b) = own {
                // 1:1 mimics naive drivers: the DPB pins of pending frames do not
                // count (an in-order device reads them before it overwrites the
                // slot); only a decode in flight into it or a reference of this
                // very frame forces the fallback. Pinned surfaces honour every rule.
                let own_ok = match self.policy {
                    PoolPolicy::OneToOne => self.slots.get(b.index()).is_some_and(|s| {
                        !refs.contains(&b) && !matches!(s.state, SlotState::Queued { .. }) && s.state.surface() == Some(surface)
                    }),
                    PoolPolicy::Lru => self.recyclable(b.index(), surface, refs),
                };
                if own_ok {
                    return Ok(b);
                }
                log::debug!("CAPTURE pool: pinned surface {surface:#x} cannot reuse {b} now; falling back to LRU");
            }
        }
        // Slots exported within the margin are left to their consumer: the pool
        // grows instead, until it is at its maximum.
        let at_max = self.live() >= self.max_slots;
        (0..self.slots.len())
            .filter(|&i| self.recyclable(i, surface, refs))
            .filter(|&i| at_max || !self.inside_margin(i))
            .min_by_key(|&i| {
                let s = &self.slots[i];
                // The surface's own binding only loses it now: most recent of all.
                let stamp = if Some(SlotId(i as u32)) == own { u64::MAX } else { s.stamp };
                (s.exported, stamp, i)
            })
            .map(|i| SlotId(i as u32))
            .ok_or_else(|| self.no_slot_error())
    }

    /// Validate and deduplicate the reference list of a frame. Unknown slots
    /// are an error; slots that hold no picture (free, reserved) have nothing
    /// to protect and are dropped (a broken stream may name a never-decoded
    /// surface; decoding it anyway is what other drivers do).
    #[cfg(test)]
    fn check_refs(&self, refs: &[SlotId]) -> Result<Vec<SlotId>, PoolError> {
        self.check_refs_into(refs, Vec::new())
    }

    /// [`Self::check_refs`] into `out` (cleared first; a spare list).
    fn check_refs_into(&self, refs: &[SlotId], mut out: Vec<SlotId>) -> Result<Vec<SlotId>, PoolError> {
        out.clear();
        for &r in refs {
            let s = self.slot(r)?;
            if matches!(s.state, SlotState::Free | SlotState::Reserved { .. }) {
                log::debug!("CAPTURE pool: reference to {r} ignored: it holds no picture ({})", s.state.name());
                continue;
            }
            if !out.contains(&r) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Bind `surface` to `slot`, unbinding its previous slot. Returns the
    /// previous binding (slot, state and stamp before) if it was another slot.
    fn rebind(&mut self, surface: SurfaceKey, slot: SlotId) -> Option<(SlotId, SlotState, u64)> {
        let prev = self.bindings.insert(surface, slot)?;
        if prev == slot {
            return None;
        }
        let tick = self.next_tick();
        let p = self.slots.get_mut(prev.index())?;
        let before = (prev, p.state, p.stamp);
        p.state = p.state.unbound();
        p.stamp = tick;
        Some(before)
    }

    /// Choose a slot to decode `frame` into for `surface`. `refs` = slots the
    /// frame references (its DPB). Binds surface→slot, marks the slot Queued,
    /// pins refs until [`complete_decode`](Self::complete_decode) or
    /// [`abort_decode`](Self::abort_decode).
    pub fn begin_decode(&mut self, surface: SurfaceKey, frame: FrameId, refs: &[SlotId]) -> Result<SlotId, PoolError> {
        let spare = self.spare_refs.pop().unwrap_or_default();
        let refs = self.check_refs_into(refs, spare)?;
        let chosen = self.choose(surface, &refs)?;
        let idle = (0..self.slots.len()).filter(|&i| i != chosen.index() && self.idle(i, &refs)).count();
        self.window_min_idle = self.window_min_idle.min(idle);
        let tick = self.next_tick();
        self.seq += 1;
        let seq = self.seq;

        let c = &mut self.slots[chosen.index()];
        let prev_state = c.state;
        let prev_stamp = c.stamp;
        let prev_last_queued = c.last_queued;
        let prev_exported_at = c.exported_at;
        let interval = c.last_queued.map(|last| seq - last);
        let export_interval = c.exported_at.map(|e| seq.saturating_sub(e));
        let exported_requeue = interval.is_some() && c.exported;
        if let Some(iv) = interval {
            c.counters.requeues += 1;
            c.counters.intervals.add(iv);
            if c.exported {
                c.counters.exported_requeues += 1;
            }
        }
        if let Some(ei) = export_interval {
            c.counters.export_intervals.add(ei);
        }
        c.counters.queues += 1;
        c.last_queued = Some(seq);
        c.exported_at = None;
        c.stamp = tick;
        c.state = SlotState::Queued { frame, surface: Some(surface) };

        let prev_binding = self.rebind(surface, chosen);
        for r in &refs {
            self.slots[r.index()].dpb_refs += 1;
        }
        self.slots[chosen.index()].pending = Some(Pending {
            refs,
            undo: Undo {
                prev_state,
                prev_stamp,
                prev_last_queued,
                prev_exported_at,
                interval,
                export_interval,
                exported_requeue,
                prev_binding,
            },
        });
        self.decodes += 1;
        log::trace!("CAPTURE pool: frame {frame} of surface {surface:#x} -> {chosen} (interval {interval:?})");
        Ok(chosen)
    }

    /// Take the pending decode of a queued slot, releasing its DPB pins.
    fn take_pending(&mut self, slot: SlotId, op: &'static str) -> Result<(FrameId, Option<SurfaceKey>, Pending), PoolError> {
        let s = self.slot_mut(slot)?;
        let SlotState::Queued { frame, surface } = s.state else {
            return Err(PoolError::InvalidState { slot, state: s.state.name(), op });
        };
        let Some(mut pending) = s.pending.take() else {
            return Err(PoolError::InvalidState { slot, state: "queued without a pending frame", op });
        };
        for r in &pending.refs {
            if let Some(rs) = self.slots.get_mut(r.index()) {
                rs.dpb_refs = rs.dpb_refs.saturating_sub(1);
            }
        }
        self.spare_refs.push(std::mem::take(&mut pending.refs));
        Ok((frame, surface, pending))
    }

    /// Undo [`begin_decode`](Self::begin_decode) when queuing failed before the
    /// device owned the buffer: the slot gets its previous state back and the
    /// surface its previous binding (when nothing else changed them meanwhile).
    pub fn abort_decode(&mut self, slot: SlotId) -> Result<(), PoolError> {
        let (frame, surface, pending) = self.take_pending(slot, "abort")?;
        let u = pending.undo;
        let c = &mut self.slots[slot.index()];
        if let Some(iv) = u.interval {
            c.counters.requeues -= 1;
            c.counters.intervals.remove(iv);
            if u.exported_requeue {
                c.counters.exported_requeues -= 1;
            }
        }
        if let Some(ei) = u.export_interval {
            c.counters.export_intervals.remove(ei);
        }
        c.counters.queues = c.counters.queues.saturating_sub(1);
        c.last_queued = u.prev_last_queued;
        c.exported_at = c.exported_at.or(u.prev_exported_at);
        c.stamp = u.prev_stamp;
        // The buffer content is untouched: the previous state is still true,
        // except for a binding the surface no longer has.
        let still_bound = surface.is_some();
        c.state = if still_bound { u.prev_state } else { u.prev_state.unbound() };
        if let (Some(sfc), true) = (surface, u.prev_state.surface().is_none()) {
            // The slot was a fresh one: give the surface its previous binding back.
            self.bindings.remove(&sfc);
            if let Some((p, p_state, p_stamp)) = u.prev_binding {
                if let Some(ps) = self.slots.get_mut(p.index()) {
                    // Only if nothing happened to it meanwhile (same picture, still unbound).
                    if ps.state == p_state.unbound() && p_state.surface() == Some(sfc) {
                        ps.state = p_state;
                        ps.stamp = p_stamp;
                        self.bindings.insert(sfc, p);
                    }
                }
            }
        }
        self.decodes = self.decodes.saturating_sub(1);
        self.aborted += 1;
        log::debug!("CAPTURE pool: decode of frame {frame} into {slot} aborted");
        Ok(())
    }

    /// The device returned the CAPTURE buffer (DQBUF). `ok = false` on
    /// `V4L2_BUF_FLAG_ERROR`. Completing a slot that is not queued (a double
    /// completion) is an error and changes nothing.
    pub fn complete_decode(&mut self, slot: SlotId, ok: bool) -> Result<(), PoolError> {
        let (frame, surface, _pending) = self.take_pending(slot, "complete")?;
        let tick = self.next_tick();
        let c = &mut self.slots[slot.index()];
        c.state = match surface {
            Some(surface) if ok => SlotState::Decoded { frame, surface },
            Some(surface) => SlotState::Failed { frame, surface },
            None => {
                c.stamp = tick;
                SlotState::Released { frame }
            }
        };
        self.completed += 1;
        if !ok {
            self.failed += 1;
            log::debug!("CAPTURE pool: decode of frame {frame} into {slot} failed");
        }
        Ok(())
    }

    /// Bind a never-decoded `surface` to a slot so it can be exported before
    /// its first decode. Returns the surface's current slot if it has one.
    pub fn reserve_slot(&mut self, surface: SurfaceKey) -> Result<SlotId, PoolError> {
        if let Some(&s) = self.bindings.get(&surface) {
            return Ok(s);
        }
        let chosen = self.choose(surface, &[])?;
        let tick = self.next_tick();
        let c = &mut self.slots[chosen.index()];
        c.state = SlotState::Reserved { surface };
        c.stamp = tick;
        self.bindings.insert(surface, chosen);
        Ok(chosen)
    }

    /// Add one slot reserved for `surface` and pin the surface to it: the
    /// surface brought its own buffer (a frame it owned before it had a
    /// context). The surface's previous binding, if any, is released. An
    /// [`Adopted::Imported`] slot is the application's memory: only `surface`
    /// decodes into it, and it is retired when the surface is released.
    pub fn adopt_slot(&mut self, surface: SurfaceKey, memory: Adopted) -> Result<SlotId, PoolError> {
        let range = self.add_slots(1)?;
        let slot = SlotId(range.start);
        let tick = self.next_tick();
        self.rebind(surface, slot);
        let c = &mut self.slots[slot.index()];
        c.state = SlotState::Reserved { surface };
        c.stamp = tick;
        c.owner = (memory == Adopted::Imported).then_some(surface);
        self.pinned.insert(surface);
        Ok(slot)
    }

    /// Whether pinned `surface` cannot decode into its own slot right now only
    /// because a pending frame references it or a decode into it is in flight
    /// (the caller can reap decodes and try again instead of falling back).
    pub fn pinned_slot_busy(&self, surface: SurfaceKey, refs: &[SlotId]) -> bool {
        if self.policy != PoolPolicy::Lru || !self.pinned.contains(&surface) {
            return false;
        }
        let Some(&b) = self.bindings.get(&surface) else { return false };
        let Some(s) = self.slots.get(b.index()) else { return false };
        !refs.contains(&b) && (s.dpb_refs > 0 || matches!(s.state, SlotState::Queued { .. }))
    }

    /// The slot `surface` is bound to.
    pub fn surface_slot(&self, surface: SurfaceKey) -> Option<SlotId> {
        self.bindings.get(&surface).copied()
    }

    /// The frame the slot holds or decodes.
    pub fn slot_frame(&self, slot: SlotId) -> Option<FrameId> {
        self.slots.get(slot.index()).and_then(|s| s.state.frame())
    }

    /// The state of a slot.
    #[cfg(test)]
    pub fn slot_state(&self, slot: SlotId) -> Option<SlotState> {
        self.slots.get(slot.index()).map(|s| s.state)
    }

    /// The frame held or decoded by `surface`'s slot.
    pub fn surface_frame(&self, surface: SurfaceKey) -> Option<FrameId> {
        self.surface_slot(surface).and_then(|s| self.slot_frame(s))
    }

    /// The slot holding or decoding `frame` (references are named by frame).
    #[cfg(test)]
    pub fn frame_slot(&self, frame: FrameId) -> Option<SlotId> {
        self.slots.iter().position(|s| s.state.frame() == Some(frame)).map(|i| SlotId(i as u32))
    }

    /// Whether a decode into the slot is in flight.
    #[cfg(test)]
    pub fn is_queued(&self, slot: SlotId) -> bool {
        matches!(self.slot_state(slot), Some(SlotState::Queued { .. }))
    }

    /// Whether the decode into the slot failed (`V4L2_BUF_FLAG_ERROR`).
    #[cfg(test)]
    pub fn is_failed(&self, slot: SlotId) -> bool {
        matches!(self.slot_state(slot), Some(SlotState::Failed { .. }))
    }

    /// Number of pending frames whose DPB contains the slot.
    #[cfg(test)]
    pub fn pending_refs(&self, slot: SlotId) -> u32 {
        self.slots.get(slot.index()).map_or(0, |s| s.dpb_refs)
    }

    /// Record that the slot's buffer was exported (vaExportSurfaceHandle,
    /// vaDeriveImage). Sticky until [`reset`](Self::reset): exported slots
    /// are recycled last.
    pub fn mark_exported(&mut self, slot: SlotId) -> Result<(), PoolError> {
        let seq = self.seq;
        let s = self.slot_mut(slot)?;
        s.exported = true;
        s.exported_at = Some(seq);
        self.exports += 1;
        Ok(())
    }

    /// Whether the slot was exported.
    #[cfg(test)]
    pub fn is_exported(&self, slot: SlotId) -> bool {
        self.slots.get(slot.index()).is_some_and(|s| s.exported)
    }

    /// Make `surface` keep its slot: its decodes reuse its current slot whenever
    /// that slot is not referenced by a pending frame (LRU otherwise).
    pub fn pin_surface(&mut self, surface: SurfaceKey) {
        self.pinned.insert(surface);
    }

    /// Undo [`pin_surface`](Self::pin_surface) (the driver never does: a pin
    /// lasts until [`release_surface`](Self::release_surface)).
    #[cfg(test)]
    pub fn unpin_surface(&mut self, surface: SurfaceKey) {
        self.pinned.remove(&surface);
    }

    /// Whether `surface` keeps its slot (pinned, or the 1:1 policy).
    pub fn is_surface_pinned(&self, surface: SurfaceKey) -> bool {
        self.is_pinned(surface)
    }

    /// The surface was destroyed: drop its binding and pin. Its slot becomes
    /// free (or stays held while queued or referenced by a pending frame). A
    /// slot it adopted ([`adopt_slot`](Self::adopt_slot)) is retired: never
    /// chosen again, its memory goes back to the application. A retired slot
    /// still queued or referenced keeps those duties.
    pub fn release_surface(&mut self, surface: SurfaceKey) {
        self.pinned.remove(&surface);
        for s in self.slots.iter_mut().filter(|s| s.owner == Some(surface)) {
            s.owner = None;
            s.retired = true;
        }
        if let Some(slot) = self.bindings.remove(&surface) {
            let tick = self.next_tick();
            if let Some(s) = self.slots.get_mut(slot.index()) {
                s.state = s.state.unbound();
                if !matches!(s.state, SlotState::Queued { .. }) {
                    s.stamp = tick;
                }
            }
        }
    }

    /// Forget everything (context teardown, resolution change): bindings, pins,
    /// pending frames, exports and statistics. The pool then has `slots` free
    /// slots (clamped to the maximum; 0 for an empty pool).
    pub fn reset(&mut self, slots: usize) {
        let n = slots.min(self.max_slots);
        if n < slots {
            log::warn!("CAPTURE pool: {slots} slots requested, clamped to {n}");
        }
        self.slots = (0..n).map(|_| Slot::new()).collect();
        self.peak = n;
        self.holes = 0;
        self.removed = 0;
        self.window_start = 0;
        self.window_min_idle = usize::MAX;
        self.bindings.clear();
        self.pinned.clear();
        self.tick = 0;
        self.seq = 0;
        self.grown = 0;
        self.decodes = 0;
        self.completed = 0;
        self.failed = 0;
        self.aborted = 0;
        self.exports = 0;
        self.fence_waits = 0;
        self.fence_wait_total = Duration::ZERO;
        self.fence_wait_max = Duration::ZERO;
    }

    /// Record a reader-fence wait before re-queuing an exported slot.
    pub fn record_fence_wait(&mut self, slot: SlotId, waited: Duration) {
        self.fence_waits += 1;
        self.fence_wait_total = self.fence_wait_total.saturating_add(waited);
        self.fence_wait_max = self.fence_wait_max.max(waited);
        match self.slots.get_mut(slot.index()) {
            Some(s) => {
                s.counters.fence_waits += 1;
                s.counters.fence_wait_total = s.counters.fence_wait_total.saturating_add(waited);
                s.counters.fence_wait_max = s.counters.fence_wait_max.max(waited);
            }
            None => log::debug!("CAPTURE pool: fence wait recorded for unknown {slot}"),
        }
    }

    /// Statistics since the last reset.
    pub fn stats(&self) -> PoolStats {
        let mut all = Histogram::default();
        let mut all_exp = Histogram::default();
        let mut requeues = 0;
        let mut exported_requeues = 0;
        let per_slot = self
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let c = &s.counters;
                all.merge(&c.intervals);
                all_exp.merge(&c.export_intervals);
                requeues += c.requeues;
                exported_requeues += c.exported_requeues;
                SlotStats {
                    slot: SlotId(i as u32),
                    queues: c.queues,
                    requeues: c.requeues,
                    min_interval: c.intervals.min(),
                    median_interval: c.intervals.median(),
                    exported: s.exported,
                    exported_requeues: c.exported_requeues,
                    min_export_to_requeue: c.export_intervals.min(),
                    fence_waits: c.fence_waits,
                    fence_wait_max: c.fence_wait_max,
                }
            })
            .collect();
        PoolStats {
            policy: self.policy,
            slots: self.slots.len(),
            max_slots: self.max_slots,
            grown: self.grown,
            removed: self.removed,
            live: self.live(),
            decodes: self.decodes,
            completed: self.completed,
            failed: self.failed,
            aborted: self.aborted,
            requeues,
            exports: self.exports,
            exported_requeues,
            min_requeue_interval: all.min(),
            median_requeue_interval: all.median(),
            max_requeue_interval: all.max(),
            min_export_to_requeue: all_exp.min(),
            median_export_to_requeue: all_exp.median(),
            fence_waits: self.fence_waits,
            fence_wait_total: self.fence_wait_total,
            fence_wait_max: self.fence_wait_max,
            per_slot,
        }
    }

    /// Check the pool's internal consistency (bindings agree on both sides,
    /// DPB pin counts match the pending frames, pending data exactly on queued
    /// slots). For tests and debug assertions; returns a description of the
    /// first violation.
    #[cfg(test)]
    pub fn check_invariants(&self) -> Result<(), String> {
        for (&sfc, &slot) in &self.bindings {
            let s = self.slot(slot).map_err(|e| format!("binding of {sfc:#x}: {e}"))?;
            if s.state.surface() != Some(sfc) {
                return Err(format!("surface {sfc:#x} bound to {slot} in state {:?}", s.state));
            }
        }
        let mut refs = vec![0u32; self.slots.len()];
        for (i, s) in self.slots.iter().enumerate() {
            if let Some(sfc) = s.state.surface() {
                if self.bindings.get(&sfc) != Some(&SlotId(i as u32)) {
                    return Err(format!("slot {i} claims surface {sfc:#x} which is bound to {:?}", self.bindings.get(&sfc)));
                }
                if s.owner.is_some_and(|o| o != sfc) {
                    return Err(format!("slot {i} is surface {:#x}'s memory but holds surface {sfc:#x}", s.owner.unwrap_or(0)));
                }
            }
            let queued = matches!(s.state, SlotState::Queued { .. });
            if queued != s.pending.is_some() {
                return Err(format!("slot {i}: state {:?} but pending {}", s.state, s.pending.is_some()));
            }
            if let Some(p) = &s.pending {
                for r in &p.refs {
                    if r.index() == i {
                        return Err(format!("slot {i} references itself"));
                    }
                    match refs.get_mut(r.index()) {
                        Some(c) => *c += 1,
                        None => return Err(format!("slot {i} references unknown {r}")),
                    }
                }
            }
        }
        let holes = self.slots.iter().filter(|s| s.removed).count();
        if holes != self.holes {
            return Err(format!("{holes} removed slots but {} counted", self.holes));
        }
        for (i, s) in self.slots.iter().enumerate() {
            if s.removed && (s.state != SlotState::Free || s.dpb_refs > 0) {
                return Err(format!("removed slot {i} in state {:?} with {} references", s.state, s.dpb_refs));
            }
            if s.dpb_refs != refs[i] {
                return Err(format!("slot {i}: dpb_refs {} but {} pending frames reference it", s.dpb_refs, refs[i]));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool without the export margin (the tests of the other rules).
    fn pool(n: usize) -> CapturePool {
        let mut p = CapturePool::new(n, MAX_POOL_SLOTS, PoolPolicy::Lru);
        p.set_margin(0);
        p
    }

    /// Begin + complete.
    fn decode(p: &mut CapturePool, sfc: SurfaceKey, frame: FrameId, refs: &[SlotId]) -> SlotId {
        let s = p.begin_decode(sfc, frame, refs).expect("begin");
        p.complete_decode(s, true).expect("complete");
        p.check_invariants().expect("invariants");
        s
    }

    #[test]
    fn memory_budget() {
        assert_eq!(parse_pool_memory("256"), Some(256 << 20));
        assert_eq!(parse_pool_memory("0"), None);
        assert_eq!(parse_pool_memory("x"), None);
        let uhd = 3840 * 2176 * 3 / 2;
        assert_eq!(max_slots_for(DEFAULT_POOL_MEMORY, uhd), 16);
        assert_eq!(max_slots_for(DEFAULT_POOL_MEMORY, 1920 * 1088 * 3 / 2), MAX_POOL_SLOTS);
        // 8192x8192: the budget would allow 2; the floor keeps a decoder working.
        assert_eq!(max_slots_for(DEFAULT_POOL_MEMORY, 8192 * 8192 * 3 / 2), MIN_MAX_SLOTS);
        assert_eq!(max_slots_for(0, 0), MIN_MAX_SLOTS);
    }

    #[test]
    fn pool_size_parse() {
        assert_eq!(parse_pool_size(" 32 "), Some(32));
        assert_eq!(parse_pool_size("0"), None);
        assert_eq!(parse_pool_size("-3"), None);
        assert_eq!(parse_pool_size("65"), None);
        assert_eq!(parse_pool_size("abc"), None);
        assert_eq!(parse_pool_size("99999999999999999999999"), None);
    }

    #[test]
    fn policy_parse() {
        assert_eq!(PoolPolicy::parse("LRU"), Some(PoolPolicy::Lru));
        assert_eq!(PoolPolicy::parse("1:1"), Some(PoolPolicy::OneToOne));
        assert_eq!(PoolPolicy::parse(" one-to-one "), Some(PoolPolicy::OneToOne));
        assert_eq!(PoolPolicy::parse("fifo"), None);
        assert_eq!(PoolPolicy::OneToOne.name(), "1:1");
        assert_eq!(PinMode::parse("Always"), Some(PinMode::Always));
        assert_eq!(PinMode::parse("never"), Some(PinMode::Never));
        assert_eq!(PinMode::parse("sometimes"), None);
    }

    #[test]
    fn new_clamps_and_empty() {
        let p = CapturePool::new(100, 10, PoolPolicy::Lru);
        assert_eq!(p.len(), 10);
        let mut e = CapturePool::new(0, 4, PoolPolicy::Lru);
        assert!(e.is_empty());
        assert_eq!(e.begin_decode(1, 1, &[]), Err(PoolError::NeedGrow));
        let mut z = CapturePool::new(0, 0, PoolPolicy::Lru);
        assert_eq!(z.begin_decode(1, 1, &[]), Err(PoolError::Exhausted));
        assert_eq!(z.add_slots(1), Err(PoolError::Exhausted));
        assert_eq!(z.add_slots(0), Ok(0..0));
    }

    #[test]
    fn fresh_pool_uses_slots_in_index_order() {
        let mut p = pool(4);
        for (i, sfc) in (10..14).enumerate() {
            assert_eq!(decode(&mut p, sfc, i as u64, &[]), SlotId(i as u32));
        }
    }

    #[test]
    fn lru_order_recycles_longest_free_first() {
        let mut p = pool(4);
        // Surfaces 1..=4 fill the pool.
        for sfc in 1..=4 {
            decode(&mut p, sfc, sfc as u64, &[]);
        }
        // Surface 3 then 1 are destroyed: slot 2 freed first, then slot 0.
        p.release_surface(3);
        p.release_surface(1);
        assert_eq!(decode(&mut p, 5, 5, &[]), SlotId(2));
        assert_eq!(decode(&mut p, 6, 6, &[]), SlotId(0));
        assert_eq!(p.begin_decode(7, 7, &[]), Err(PoolError::NeedGrow));
    }

    #[test]
    fn redecoding_a_surface_moves_it_to_the_lru_slot() {
        let mut p = pool(3);
        assert_eq!(decode(&mut p, 1, 1, &[]), SlotId(0));
        // LIFO reuse of surface 1: it must not land in slot 0 again while others are free.
        assert_eq!(decode(&mut p, 1, 2, &[]), SlotId(1));
        assert_eq!(decode(&mut p, 1, 3, &[]), SlotId(2));
        // Slot 0 became free first (at frame 2).
        assert_eq!(decode(&mut p, 1, 4, &[]), SlotId(0));
        assert_eq!(p.surface_slot(1), Some(SlotId(0)));
        assert_eq!(p.surface_frame(1), Some(4));
        assert_eq!(p.slot_state(SlotId(1)), Some(SlotState::Released { frame: 2 }));
        assert_eq!(p.frame_slot(3), Some(SlotId(2)));
        assert_eq!(p.frame_slot(99), None);
    }

    #[test]
    fn own_slot_reused_when_nothing_else_is_free() {
        let mut p = pool(1);
        assert_eq!(decode(&mut p, 1, 1, &[]), SlotId(0));
        assert_eq!(decode(&mut p, 1, 2, &[]), SlotId(0));
        assert_eq!(p.surface_frame(1), Some(2));
    }

    #[test]
    fn bound_slots_never_chosen() {
        let mut p = pool(3);
        decode(&mut p, 1, 1, &[]);
        decode(&mut p, 2, 2, &[]);
        decode(&mut p, 3, 3, &[]);
        assert_eq!(p.begin_decode(4, 4, &[]), Err(PoolError::NeedGrow));
        p.check_invariants().unwrap();
    }

    #[test]
    fn queued_slots_never_chosen() {
        let mut p = pool(2);
        let a = p.begin_decode(1, 1, &[]).unwrap();
        p.release_surface(1); // slot a still queued
        let b = p.begin_decode(2, 2, &[]).unwrap();
        assert_ne!(a, b);
        p.release_surface(2);
        assert_eq!(p.begin_decode(3, 3, &[]), Err(PoolError::NeedGrow));
        p.complete_decode(a, true).unwrap();
        assert_eq!(p.slot_state(a), Some(SlotState::Released { frame: 1 }));
        assert_eq!(p.begin_decode(3, 3, &[]), Ok(a));
        p.check_invariants().unwrap();
    }

    #[test]
    fn dpb_slots_held_until_pending_frame_completes() {
        let mut p = pool(3);
        let r = decode(&mut p, 1, 1, &[]);
        // Surface 2 decodes frame 2 referencing frame 1 (still queued).
        let f2 = p.begin_decode(2, 2, &[r]).unwrap();
        // Surface 1 is released by the player: its slot is referenced by pending frame 2.
        p.release_surface(1);
        assert_eq!(p.pending_refs(r), 1);
        let f3 = p.begin_decode(3, 3, &[]).unwrap();
        assert!(f3 != r && f3 != f2);
        p.release_surface(3);
        p.complete_decode(f3, true).unwrap();
        // Only f3 is free: r is pinned by frame 2's DPB.
        assert_eq!(p.begin_decode(4, 4, &[]), Ok(f3));
        p.release_surface(4);
        p.complete_decode(f3, true).unwrap();
        p.complete_decode(f2, true).unwrap();
        assert_eq!(p.pending_refs(r), 0);
        // Now r (freed earlier) is the LRU.
        assert_eq!(p.begin_decode(5, 5, &[]), Ok(r));
        p.check_invariants().unwrap();
    }

    #[test]
    fn references_of_the_frame_itself_are_not_chosen() {
        let mut p = pool(2);
        let a = decode(&mut p, 1, 1, &[]);
        p.release_surface(1); // a is Released and LRU
        let b = p.begin_decode(2, 2, &[a]).unwrap();
        assert_ne!(a, b);
        // With only `a` left, a frame referencing a has nowhere to go.
        p.complete_decode(b, true).unwrap();
        assert_eq!(p.begin_decode(3, 3, &[a]), Err(PoolError::NeedGrow));
        p.check_invariants().unwrap();
    }

    #[test]
    fn invalid_references_are_errors_and_change_nothing() {
        let mut p = pool(2);
        assert_eq!(p.begin_decode(1, 1, &[SlotId(7)]), Err(PoolError::UnknownSlot(SlotId(7))));
        assert_eq!(p.surface_slot(1), None);
        assert_eq!(p.stats().decodes, 0);
        // A free slot holds no picture: the reference is dropped, not pinned.
        let s = p.begin_decode(9, 1, &[SlotId(1)]).unwrap();
        assert_eq!(s, SlotId(0));
        assert_eq!(p.pending_refs(SlotId(1)), 0);
        p.abort_decode(s).unwrap();
        // Duplicated refs pin once.
        let a = decode(&mut p, 1, 1, &[]);
        let b = p.begin_decode(2, 2, &[a, a, a]).unwrap();
        assert_eq!(p.pending_refs(a), 1);
        p.complete_decode(b, true).unwrap();
        assert_eq!(p.pending_refs(a), 0);
    }

    #[test]
    fn exported_slots_chosen_last() {
        let mut p = pool(4);
        for sfc in 1..=4 {
            decode(&mut p, sfc, sfc as u64, &[]);
        }
        p.mark_exported(SlotId(0)).unwrap();
        p.mark_exported(SlotId(1)).unwrap();
        assert!(p.is_exported(SlotId(0)));
        assert!(!p.is_exported(SlotId(2)));
        // Free in order 0, 1, 2, 3.
        for sfc in 1..=4 {
            p.release_surface(sfc);
        }
        // Non-exported first (LRU among them), then exported (LRU among them).
        assert_eq!(decode(&mut p, 10, 10, &[]), SlotId(2));
        assert_eq!(decode(&mut p, 11, 11, &[]), SlotId(3));
        assert_eq!(decode(&mut p, 12, 12, &[]), SlotId(0));
        assert_eq!(decode(&mut p, 13, 13, &[]), SlotId(1));
        let st = p.stats();
        assert_eq!(st.exports, 2);
        assert_eq!(st.exported_requeues, 2);
        assert_eq!(st.requeues, 4);
        assert_eq!(p.mark_exported(SlotId(9)), Err(PoolError::UnknownSlot(SlotId(9))));
    }

    #[test]
    fn growth_then_exhaustion() {
        let mut p = CapturePool::new(2, 5, PoolPolicy::Lru);
        decode(&mut p, 1, 1, &[]);
        decode(&mut p, 2, 2, &[]);
        assert_eq!(p.begin_decode(3, 3, &[]), Err(PoolError::NeedGrow));
        assert_eq!(p.add_slots(2), Ok(2..4));
        assert_eq!(p.begin_decode(3, 3, &[]), Ok(SlotId(2)));
        decode(&mut p, 4, 4, &[]);
        assert_eq!(p.begin_decode(5, 5, &[]), Err(PoolError::NeedGrow));
        // Clamped to the maximum.
        assert_eq!(p.add_slots(10), Ok(4..5));
        decode(&mut p, 5, 5, &[]);
        assert_eq!(p.begin_decode(6, 6, &[]), Err(PoolError::Exhausted));
        assert_eq!(p.add_slots(1), Err(PoolError::Exhausted));
        assert_eq!(p.len(), 5);
        assert_eq!(p.stats().grown, 3);
        p.check_invariants().unwrap();
    }

    #[test]
    fn reset_forgets_everything() {
        let mut p = pool(4);
        let a = decode(&mut p, 1, 1, &[]);
        p.mark_exported(a).unwrap();
        p.pin_surface(1);
        let q = p.begin_decode(2, 2, &[a]).unwrap();
        p.record_fence_wait(a, Duration::from_millis(3));
        p.reset(6);
        assert_eq!(p.len(), 6);
        assert_eq!(p.surface_slot(1), None);
        assert_eq!(p.surface_slot(2), None);
        assert!(!p.is_queued(q));
        assert!(!p.is_exported(a));
        assert_eq!(p.pending_refs(a), 0);
        assert!(!p.is_surface_pinned(1));
        assert_eq!(p.complete_decode(q, true), Err(PoolError::InvalidState { slot: q, state: "free", op: "complete" }));
        let st = p.stats();
        assert_eq!((st.decodes, st.exports, st.fence_waits, st.requeues), (0, 0, 0, 0));
        assert!(p.slots.iter().all(|s| s.state == SlotState::Free));
        p.reset(0);
        assert!(p.is_empty());
        assert_eq!(p.begin_decode(1, 1, &[]), Err(PoolError::NeedGrow));
        p.reset(1000);
        assert_eq!(p.len(), MAX_POOL_SLOTS);
        p.check_invariants().unwrap();
    }

    #[test]
    fn one_to_one_policy_reuses_the_same_slot() {
        let mut p = CapturePool::new(8, 8, PoolPolicy::OneToOne);
        let a = decode(&mut p, 1, 1, &[]);
        let b = decode(&mut p, 2, 2, &[a]);
        for f in 3..20 {
            let sfc = if f % 2 == 0 { 2 } else { 1 };
            let want = if sfc == 1 { a } else { b };
            assert_eq!(decode(&mut p, sfc, f, &[]), want);
        }
        let st = p.stats();
        assert_eq!(st.min_requeue_interval, Some(2));
        assert!(p.is_surface_pinned(77));
    }

    #[test]
    fn pinned_surface_keeps_its_slot_and_falls_back_when_referenced() {
        let mut p = pool(6);
        p.pin_surface(1);
        let a = decode(&mut p, 1, 1, &[]);
        decode(&mut p, 2, 2, &[]);
        assert_eq!(decode(&mut p, 1, 3, &[]), a);
        assert_eq!(decode(&mut p, 1, 4, &[]), a);
        // A pending frame references the pinned slot: fall back to LRU.
        let q = p.begin_decode(3, 5, &[a]).unwrap();
        let moved = p.begin_decode(1, 6, &[]).unwrap();
        assert_ne!(moved, a);
        assert_eq!(p.surface_slot(1), Some(moved));
        p.complete_decode(q, true).unwrap();
        p.complete_decode(moved, true).unwrap();
        // Pinned to the new slot from now on.
        assert_eq!(decode(&mut p, 1, 7, &[]), moved);
        // Pinned slot in flight: next decode falls back too.
        let f8 = p.begin_decode(1, 8, &[]).unwrap();
        assert_eq!(f8, moved);
        let f9 = p.begin_decode(1, 9, &[]).unwrap();
        assert_ne!(f9, moved);
        p.complete_decode(f8, true).unwrap();
        p.complete_decode(f9, true).unwrap();
        assert_eq!(p.slot_state(f8), Some(SlotState::Released { frame: 8 }));
        p.unpin_surface(1);
        assert!(!p.is_surface_pinned(1));
        assert_ne!(decode(&mut p, 1, 10, &[]), f9);
        p.check_invariants().unwrap();
    }

    #[test]
    fn reserve_before_first_decode() {
        let mut p = pool(4);
        let r = p.reserve_slot(1).unwrap();
        assert_eq!(p.reserve_slot(1), Ok(r));
        assert_eq!(p.slot_state(r), Some(SlotState::Reserved { surface: 1 }));
        assert_eq!(p.surface_frame(1), None);
        p.mark_exported(r).unwrap();
        p.pin_surface(1);
        // Pinned: the first decode goes into the exported, reserved slot.
        assert_eq!(decode(&mut p, 1, 1, &[]), r);
        // Unpinned reservation is dropped on decode.
        let r2 = p.reserve_slot(2).unwrap();
        let d2 = decode(&mut p, 2, 2, &[]);
        assert_ne!(d2, r2);
        assert_eq!(p.slot_state(r2), Some(SlotState::Free));
        // A reserved slot holds no picture: referencing it pins nothing.
        let r3 = p.reserve_slot(3).unwrap();
        let d4 = p.begin_decode(4, 4, &[r3]).unwrap();
        assert_eq!(p.pending_refs(r3), 0);
        assert_eq!(p.slot_state(r3), Some(SlotState::Reserved { surface: 3 }));
        p.complete_decode(d4, true).unwrap();
        p.check_invariants().unwrap();
    }

    #[test]
    fn exported_slots_wait_out_the_margin_and_the_pool_grows_meanwhile() {
        let mut p = CapturePool::new(0, 6, PoolPolicy::Lru);
        assert_eq!(p.margin, EXPORT_MARGIN);
        // A lazy pool: nothing until a decode needs it.
        assert_eq!(p.begin_decode(1, 1, &[]), Err(PoolError::NeedGrow));
        p.add_slots(1).unwrap();
        // A client that never exports (LIFO, one surface) needs one slot.
        for f in 1..10 {
            assert_eq!(decode(&mut p, 1, f, &[]), SlotId(0));
        }
        assert_eq!(p.peak(), 1);
        // Exporting every frame of two alternating surfaces: an exported slot is
        // reused only after EXPORT_MARGIN more decodes, so the pool grows to cover it.
        let mut last_export: HashMap<SlotId, u64> = HashMap::new();
        for k in 0..40u64 {
            let sfc = 1 + (k % 2) as u32;
            let frame = 100 + k;
            let slot = loop {
                match p.begin_decode(sfc, frame, &[]) {
                    Ok(s) => break s,
                    Err(PoolError::NeedGrow) => {
                        p.add_slots(1).unwrap();
                    }
                    Err(e) => panic!("{e}"),
                }
            };
            p.complete_decode(slot, true).unwrap();
            if let Some(&at) = last_export.get(&slot) {
                assert!(p.seq - at > EXPORT_MARGIN, "slot {slot} reused {} decodes after its export", p.seq - at);
            }
            p.mark_exported(slot).unwrap();
            last_export.insert(slot, p.seq);
            p.check_invariants().unwrap();
        }
        // Two bound surfaces + the slots inside the margin, well below the maximum.
        assert!(p.len() <= 2 + EXPORT_MARGIN as usize, "grew to {}", p.len());
        assert_eq!(p.peak(), p.len());
        // At the maximum the margin gives way (the fence wait protects the slot).
        let mut small = CapturePool::new(2, 2, PoolPolicy::Lru);
        let a = decode(&mut small, 1, 1, &[]);
        small.mark_exported(a).unwrap();
        let b = decode(&mut small, 2, 2, &[]);
        small.mark_exported(b).unwrap();
        assert_eq!(small.begin_decode(3, 3, &[]), Err(PoolError::Exhausted));
        small.release_surface(1);
        assert_eq!(decode(&mut small, 3, 3, &[]), a);
    }

    #[test]
    fn adopted_slots_carry_their_surface_for_good() {
        let mut p = pool(4);
        // Surface 7 brings its own buffer: a new slot, reserved and pinned.
        let own = p.adopt_slot(7, Adopted::Imported).unwrap();
        assert_eq!(own, SlotId(4));
        assert_eq!(p.len(), 5);
        assert_eq!(p.slot_state(own), Some(SlotState::Reserved { surface: 7 }));
        assert!(p.is_surface_pinned(7));
        p.check_invariants().unwrap();
        // Its first decode and every later one land there.
        assert_eq!(decode(&mut p, 7, 1, &[]), own);
        assert_eq!(decode(&mut p, 7, 2, &[]), own);
        // While a pending frame references it, the slot is busy for surface 7
        // (the context reaps that frame instead of falling back to LRU).
        let other = p.begin_decode(1, 3, &[own]).unwrap();
        assert!(p.pinned_slot_busy(7, &[]));
        // ... unless the frame being queued references it itself.
        assert!(!p.pinned_slot_busy(7, &[own]));
        assert!(!p.pinned_slot_busy(1, &[]));
        p.complete_decode(other, true).unwrap();
        assert!(!p.pinned_slot_busy(7, &[]));
        assert_eq!(decode(&mut p, 7, 4, &[]), own);
        p.check_invariants().unwrap();
        // While surface 7 lives, no other surface decodes into its memory.
        for f in 5..10 {
            assert_ne!(decode(&mut p, (f % 3) as u32 + 20, f, &[]), own);
        }
        // Released, its slot is retired: never chosen again.
        p.release_surface(7);
        for f in 10..20 {
            assert_ne!(decode(&mut p, (f % 3) as u32 + 20, f, &[]), own);
        }
        // A full pool cannot adopt.
        let mut full = CapturePool::new(2, 2, PoolPolicy::Lru);
        assert_eq!(full.adopt_slot(1, Adopted::Imported), Err(PoolError::Exhausted));
    }

    #[test]
    fn double_complete_and_bad_transitions_are_errors() {
        let mut p = pool(2);
        let s = p.begin_decode(1, 1, &[]).unwrap();
        p.complete_decode(s, true).unwrap();
        assert_eq!(p.complete_decode(s, true), Err(PoolError::InvalidState { slot: s, state: "decoded", op: "complete" }));
        assert_eq!(p.abort_decode(s), Err(PoolError::InvalidState { slot: s, state: "decoded", op: "abort" }));
        assert_eq!(p.complete_decode(SlotId(5), true), Err(PoolError::UnknownSlot(SlotId(5))));
        assert_eq!(p.abort_decode(SlotId(1)), Err(PoolError::InvalidState { slot: SlotId(1), state: "free", op: "abort" }));
        assert_eq!(p.stats().completed, 1);
        p.check_invariants().unwrap();
        let e = PoolError::InvalidState { slot: s, state: "decoded", op: "complete" };
        assert_eq!(e.to_string(), "CAPTURE slot 0: complete is invalid in state decoded");
    }

    #[test]
    fn failed_decode_keeps_binding_and_reports() {
        let mut p = pool(2);
        let s = p.begin_decode(1, 1, &[]).unwrap();
        p.complete_decode(s, false).unwrap();
        assert!(p.is_failed(s));
        assert_eq!(p.surface_slot(1), Some(s));
        assert_eq!(p.surface_frame(1), Some(1));
        let st = p.stats();
        assert_eq!((st.completed, st.failed), (1, 1));
        // Re-decoding the surface moves it on; the failed slot is released.
        let t = decode(&mut p, 1, 2, &[]);
        assert_ne!(t, s);
        assert_eq!(p.slot_state(s), Some(SlotState::Released { frame: 1 }));
    }

    #[test]
    fn abort_restores_previous_binding_and_stats() {
        let mut p = pool(3);
        let a = decode(&mut p, 1, 1, &[]);
        p.mark_exported(a).unwrap();
        let before = p.stats();
        let b = p.begin_decode(1, 2, &[a]).unwrap();
        assert_eq!(p.surface_slot(1), Some(b));
        assert_eq!(p.pending_refs(a), 1);
        p.abort_decode(b).unwrap();
        assert_eq!(p.surface_slot(1), Some(a));
        assert_eq!(p.slot_state(a), Some(SlotState::Decoded { frame: 1, surface: 1 }));
        assert_eq!(p.slot_state(b), Some(SlotState::Free));
        assert_eq!(p.pending_refs(a), 0);
        let after = p.stats();
        assert_eq!(after.decodes, before.decodes);
        assert_eq!(after.requeues, before.requeues);
        assert_eq!(after.aborted, 1);
        // The aborted slot is chosen again (its LRU stamp is restored).
        assert_eq!(p.begin_decode(1, 3, &[]), Ok(b));
        p.check_invariants().unwrap();
        assert_eq!(p.abort_decode(b), Ok(()));
        assert_eq!(p.abort_decode(b), Err(PoolError::InvalidState { slot: b, state: "free", op: "abort" }));
        p.check_invariants().unwrap();
    }

    #[test]
    fn abort_of_reused_own_slot_restores_it() {
        let mut p = pool(1);
        let a = decode(&mut p, 1, 1, &[]);
        assert_eq!(p.begin_decode(1, 2, &[]), Ok(a));
        p.abort_decode(a).unwrap();
        assert_eq!(p.slot_state(a), Some(SlotState::Decoded { frame: 1, surface: 1 }));
        assert_eq!(p.surface_slot(1), Some(a));
        p.check_invariants().unwrap();
    }

    #[test]
    fn release_while_queued_then_complete() {
        let mut p = pool(2);
        let s = p.begin_decode(1, 1, &[]).unwrap();
        p.release_surface(1);
        assert_eq!(p.surface_slot(1), None);
        assert!(p.is_queued(s));
        p.complete_decode(s, true).unwrap();
        assert_eq!(p.slot_state(s), Some(SlotState::Released { frame: 1 }));
        p.release_surface(1); // no binding: no-op
        p.check_invariants().unwrap();
    }

    #[test]
    fn stats_intervals_and_fence_waits() {
        let mut p = pool(3);
        // One surface, LIFO: cycles through 0, 1, 2, 0, 1, 2 ...
        for f in 0..9 {
            let s = decode(&mut p, 1, f, &[]);
            assert_eq!(s, SlotId((f % 3) as u32));
            p.mark_exported(s).unwrap();
        }
        p.record_fence_wait(SlotId(0), Duration::from_millis(2));
        p.record_fence_wait(SlotId(0), Duration::from_millis(5));
        p.record_fence_wait(SlotId(42), Duration::from_millis(1));
        let st = p.stats();
        assert_eq!(st.decodes, 9);
        assert_eq!(st.requeues, 6);
        assert_eq!(st.exported_requeues, 6);
        assert_eq!(st.min_requeue_interval, Some(3));
        assert_eq!(st.median_requeue_interval, Some(3));
        // Exported right after its decode: next queue 3 decodes later.
        assert_eq!(st.min_export_to_requeue, Some(3));
        assert_eq!(st.fence_waits, 3);
        assert_eq!(st.fence_wait_total, Duration::from_millis(8));
        assert_eq!(st.fence_wait_max, Duration::from_millis(5));
        assert_eq!(st.per_slot[0].queues, 3);
        assert_eq!(st.per_slot[0].requeues, 2);
        assert_eq!(st.per_slot[0].min_interval, Some(3));
        assert_eq!(st.per_slot[0].fence_waits, 2);
        assert_eq!(st.per_slot[0].fence_wait_max, Duration::from_millis(5));
        let text = st.summary();
        assert!(text.contains("CAPTURE pool (lru): 3 slots"), "{text}");
        assert!(text.contains("re-queue interval (decodes): min 3, median 3"), "{text}");
        assert!(text.contains("fence waits 3"), "{text}");
        assert_eq!(text.lines().count(), 5 + 3);
    }

    #[test]
    fn histogram_median() {
        let mut h = Histogram::default();
        assert_eq!(h.median(), None);
        for v in [5, 1, 9, 3] {
            h.add(v);
        }
        assert_eq!(h.median(), Some(3));
        h.add(7);
        assert_eq!(h.median(), Some(5));
        h.remove(1);
        h.remove(100);
        assert_eq!((h.min(), h.max(), h.total), (Some(3), Some(9), 4));
    }

    // ---- simulation: FFmpeg-like LIFO surface pool ----

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64*
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            if n == 0 {
                0
            } else {
                self.next() % n
            }
        }
    }

    /// Decode `frames` frames with `surfaces` surfaces handed out LIFO, a DPB of
    /// up to 4 reference frames, 2 decodes in flight, the player holding
    /// `display` frames for display, every frame exported. Returns the stats.
    fn simulate(policy: PoolPolicy, slots: usize, surfaces: u32, frames: u64, seed: u64) -> PoolStats {
        let mut rng = Rng(seed);
        let mut p = CapturePool::new(slots, MAX_POOL_SLOTS, policy);
        p.set_margin(0);
        let mut free: Vec<SurfaceKey> = (0..surfaces).rev().collect();
        let mut dpb: Vec<SurfaceKey> = Vec::new(); // reference surfaces, oldest first
        let mut display: std::collections::VecDeque<SurfaceKey> = Default::default();
        let mut in_flight: std::collections::VecDeque<SlotId> = Default::default();
        let display_depth = 2;
        let held = |s: SurfaceKey, dpb: &[SurfaceKey], disp: &std::collections::VecDeque<SurfaceKey>| dpb.contains(&s) || disp.contains(&s);
        for f in 0..frames {
            let sfc = free.pop().expect("simulation: surface pool empty");
            let refs: Vec<SlotId> = dpb.iter().filter_map(|&s| p.surface_slot(s)).collect();
            let slot = p.begin_decode(sfc, f, &refs).expect("simulation: begin_decode");
            in_flight.push_back(slot);
            if in_flight.len() > 2 {
                let s = in_flight.pop_front().unwrap();
                p.complete_decode(s, true).unwrap();
            }
            p.mark_exported(slot).unwrap();
            p.check_invariants().unwrap();
            // Reference frame ~2/3 of the time (B-frames are not).
            let is_ref = f % 8 == 0 || rng.below(3) != 0;
            if is_ref {
                dpb.push(sfc);
                if dpb.len() > 4 {
                    let old = dpb.remove(0);
                    if !held(old, &dpb, &display) {
                        free.push(old);
                    }
                }
            }
            display.push_back(sfc);
            if display.len() > display_depth {
                let old = display.pop_front().unwrap();
                if !held(old, &dpb, &display) {
                    free.push(old);
                }
            }
        }
        while let Some(s) = in_flight.pop_front() {
            p.complete_decode(s, true).unwrap();
        }
        p.check_invariants().unwrap();
        p.stats()
    }

    #[test]
    fn simulation_lifo_surfaces_lru_pool_keeps_requeue_distance() {
        for surfaces in [8u32, 10, 12, 16] {
            for seed in [1u64, 7, 12345] {
                let st = simulate(PoolPolicy::Lru, 24, surfaces, 300, seed);
                let floor = 24 - surfaces as u64;
                let min = st.min_requeue_interval.unwrap();
                let exp = st.min_export_to_requeue.unwrap();
                assert!(min >= floor, "S={surfaces} seed={seed}: min interval {min} < {floor}\n{}", st.summary());
                assert!(exp >= floor, "S={surfaces} seed={seed}: export->requeue {exp} < {floor}\n{}", st.summary());
                assert_eq!(st.decodes, 300);
                assert_eq!(st.slots, 24);
            }
        }
    }

    /// LRU against 1:1 over several surface counts (`--nocapture` prints the
    /// distances and one full summary): LRU keeps every export out of the device
    /// for at least `slots - surfaces` decodes and re-queues no sooner than 1:1.
    #[test]
    fn simulation_lru_beats_one_to_one_for_every_surface_count() {
        for surfaces in [8u32, 12, 16] {
            let lru = simulate(PoolPolicy::Lru, 24, surfaces, 300, 1);
            let one = simulate(PoolPolicy::OneToOne, 24, surfaces, 300, 1);
            for (policy, st) in [(PoolPolicy::Lru, &lru), (PoolPolicy::OneToOne, &one)] {
                println!(
                    "S={surfaces} {}: re-queue min {:?} median {:?}; export->re-queue min {:?} median {:?}",
                    policy.name(),
                    st.min_requeue_interval,
                    st.median_requeue_interval,
                    st.min_export_to_requeue,
                    st.median_export_to_requeue
                );
            }
            let need = u64::from(24 - surfaces);
            let lru_exp = lru.min_export_to_requeue.expect("LRU re-queued exported slots");
            assert!(lru_exp >= need, "S={surfaces}: LRU export->re-queue {lru_exp} < {need}");
            assert!(lru.min_requeue_interval >= one.min_requeue_interval, "S={surfaces}");
            assert!(one.min_export_to_requeue.expect("1:1 re-queued exported slots") < lru_exp, "S={surfaces}");
        }
        println!("{}", simulate(PoolPolicy::Lru, 24, 12, 300, 1).summary());
    }

    #[test]
    fn simulation_one_to_one_gives_small_distance() {
        let lru = simulate(PoolPolicy::Lru, 24, 10, 300, 99);
        let one = simulate(PoolPolicy::OneToOne, 24, 10, 300, 99);
        let one_min = one.min_requeue_interval.unwrap();
        assert!(one_min <= 3, "1:1 min interval {one_min}\n{}", one.summary());
        assert!(one.min_export_to_requeue.unwrap() <= 3);
        assert!(lru.min_requeue_interval.unwrap() >= 14);
        // 1:1 never touches more slots than surfaces.
        assert!(one.per_slot.iter().filter(|s| s.queues > 0).count() <= 10);
    }

    // ---- shrinking ----

    /// Decode `n` frames of 4 surfaces round-robin (each referencing the one
    /// before), exporting each when `export`; growth revives holes first, as
    /// the context does. Returns how many slots had to be added or revived.
    fn play(p: &mut CapturePool, frame: &mut FrameId, n: usize, export: bool) -> usize {
        let mut grew = 0;
        let mut last: Option<SlotId> = None;
        for _ in 0..n {
            *frame += 1;
            let sfc = (*frame % 4) as SurfaceKey + 1;
            let refs: Vec<SlotId> = last.into_iter().collect();
            let slot = loop {
                match p.begin_decode(sfc, *frame, &refs) {
                    Ok(s) => break s,
                    Err(PoolError::NeedGrow) => {
                        grew += 1;
                        match p.removed_slot() {
                            Some(h) => {
                                assert_eq!(p.slots.iter().position(|s| s.removed), Some(h.index()), "lowest hole first");
                                p.revive_slot(h).unwrap();
                            }
                            None => {
                                p.add_slots(1).unwrap();
                            }
                        }
                    }
                    Err(e) => panic!("{e}"),
                }
            };
            p.complete_decode(slot, true).unwrap();
            if export {
                p.mark_exported(slot).unwrap();
            }
            if let Some(s) = p.surplus_slot() {
                assert!(s != slot && Some(s) != last, "gave back a slot in use");
                p.remove_slot(s).unwrap();
            }
            p.check_invariants().unwrap();
            last = Some(slot);
        }
        grew
    }

    #[test]
    fn surplus_slots_are_given_back_and_refilled_first() {
        let mut p = CapturePool::new(0, 16, PoolPolicy::Lru);
        let mut frame = 0;
        // A zero-copy burst with a long margin (a consumer holding frames for
        // 12 decodes): exported slots stay out for the margin, the pool grows.
        p.set_margin(12);
        play(&mut p, &mut frame, 100, true);
        p.set_margin(EXPORT_MARGIN);
        let burst = p.live();
        assert!(burst >= 8, "the margin needs slots: {burst}");
        assert_eq!(p.stats().removed, 0, "nothing is spare while every slot is in use");
        // The consumer goes away: the pool gives buffers back, one per window,
        // down to what the stream needs plus one idle slot, and never grows again.
        let grew = play(&mut p, &mut frame, 12 * SHRINK_WINDOW as usize, false);
        assert_eq!(grew, 0, "shrinking made the pool grow again");
        let calm = p.live();
        assert!(calm < burst, "no buffer given back: {calm} of {burst}");
        assert_eq!(p.stats().removed as usize, burst - calm);
        assert_eq!(calm, 6, "4 bound surfaces + the slot decoded into + 1 idle");
        assert_eq!(p.peak(), burst, "the peak is the burst's");
        // Exports again: holes are filled (lowest first) before any new index.
        let len = p.len();
        p.set_margin(12);
        play(&mut p, &mut frame, 100, true);
        assert_eq!(p.len(), len, "a new index while holes were left");
        assert!(p.live() > calm);
        assert!(p.stats().summary().contains("given back"));
    }

    #[test]
    fn removal_rules() {
        let mut p = pool(3);
        let a = decode(&mut p, 1, 1, &[]);
        // Bound (surface 1's picture) and queued slots are not idle.
        assert!(p.remove_slot(a).is_err());
        let q = p.begin_decode(2, 2, &[a]).unwrap();
        assert!(p.remove_slot(q).is_err());
        p.complete_decode(q, true).unwrap();
        let free = (0..3).map(SlotId).find(|&s| s != a && s != q).unwrap();
        p.remove_slot(free).unwrap();
        assert!(p.remove_slot(free).is_err(), "removed twice");
        assert_eq!(p.live(), 2);
        assert_eq!(p.removed_slot(), Some(free));
        // A hole is never chosen; the pool asks to grow instead.
        p.release_surface(1);
        p.release_surface(2);
        decode(&mut p, 3, 3, &[]);
        decode(&mut p, 4, 4, &[]);
        assert!(matches!(p.begin_decode(5, 5, &[]), Err(PoolError::NeedGrow)));
        p.revive_slot(free).unwrap();
        assert!(p.revive_slot(free).is_err(), "revived twice");
        assert_eq!(decode(&mut p, 5, 5, &[]), free);
        // 1:1 never shrinks.
        let mut one = CapturePool::new(8, 8, PoolPolicy::OneToOne);
        let mut f = 0;
        for _ in 0..3 * SHRINK_WINDOW {
            f += 1;
            let s = one.begin_decode(1, f, &[]).unwrap();
            one.complete_decode(s, true).unwrap();
            assert_eq!(one.surplus_slot(), None);
        }
    }

    // ---- randomized property test ----

    #[test]
    fn random_operations_keep_invariants() {
        for seed in 1..=40u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let policy = if seed % 3 == 0 { PoolPolicy::OneToOne } else { PoolPolicy::Lru };
            let mut p = CapturePool::new(rng.below(6) as usize, 12, policy);
            p.set_margin(0);
            let mut frame: FrameId = 0;
            for step in 0..600 {
                let n = p.len() as u64;
                let slot = SlotId(rng.below(n + 2) as u32);
                let sfc = rng.below(8) as SurfaceKey;
                match rng.below(100) {
                    0..=34 => {
                        // Refs: slots holding pictures, plus occasionally garbage.
                        let mut refs: Vec<SlotId> =
                            (0..n as u32).map(SlotId).filter(|&s| p.slot_frame(s).is_some() && rng.below(3) == 0).collect();
                        if rng.below(10) == 0 {
                            refs.push(slot);
                        }
                        let before = p.clone();
                        frame += 1;
                        match p.begin_decode(sfc, frame, &refs) {
                            Ok(c) => {
                                let prev = before.slots[c.index()].clone();
                                // (References to slots without a picture are dropped.)
                                if prev.state.frame().is_some() {
                                    assert!(!refs.contains(&c), "seed {seed} step {step}: chose a reference");
                                }
                                // (1:1 reuses a surface's own slot regardless of DPB pins.)
                                if policy == PoolPolicy::Lru || before.surface_slot(sfc) != Some(c) {
                                    assert_eq!(prev.dpb_refs, 0, "seed {seed} step {step}: chose a DPB slot");
                                }
                                assert!(!matches!(prev.state, SlotState::Queued { .. }), "chose a queued slot");
                                // LRU order: no recyclable slot had a better (exported, stamp) key.
                                if !before.is_surface_pinned(sfc) {
                                    let eff = before.check_refs(&refs).unwrap();
                                    let own = before.surface_slot(sfc);
                                    let key = |i: usize| {
                                        let s = &before.slots[i];
                                        let stamp = if own == Some(SlotId(i as u32)) { u64::MAX } else { s.stamp };
                                        (s.exported, stamp, i)
                                    };
                                    for i in (0..before.len()).filter(|&i| before.recyclable(i, sfc, &eff)) {
                                        assert!(key(c.index()) <= key(i), "seed {seed} step {step}: {c} chosen before slot {i}");
                                    }
                                }
                                if let Some(b) = prev.state.surface() {
                                    assert_eq!(b, sfc, "seed {seed} step {step}: stole another surface's slot");
                                }
                                assert_eq!(p.surface_slot(sfc), Some(c));
                                assert_eq!(p.slot_frame(c), Some(frame));
                                assert!(p.is_queued(c));
                            }
                            Err(e) => {
                                // Errors change nothing.
                                assert_eq!(format!("{:?}", p.slots), format!("{:?}", before.slots), "{e}");
                                if e == PoolError::NeedGrow && rng.below(2) == 0 {
                                    let r = p.add_slots(1 + rng.below(3) as usize).unwrap();
                                    assert!(!r.is_empty());
                                }
                            }
                        }
                    }
                    35..=59 => {
                        let queued = p.is_queued(slot);
                        let r = p.complete_decode(slot, rng.below(8) != 0);
                        assert_eq!(r.is_ok(), queued);
                        if queued {
                            assert!(p.complete_decode(slot, true).is_err());
                        }
                    }
                    60..=64 => {
                        let queued = p.is_queued(slot);
                        assert_eq!(p.abort_decode(slot).is_ok(), queued);
                    }
                    65..=72 => {
                        let known = slot.index() < p.len();
                        assert_eq!(p.mark_exported(slot).is_ok(), known);
                    }
                    73..=80 => p.release_surface(sfc),
                    81..=84 => p.pin_surface(sfc),
                    85..=86 => p.unpin_surface(sfc),
                    87..=89 => {
                        let _ = p.reserve_slot(sfc);
                    }
                    90 => {
                        let memory = if rng.below(2) == 0 { Adopted::Imported } else { Adopted::SurfaceFrame };
                        let _ = p.adopt_slot(sfc, memory);
                    }
                    91..=93 => p.record_fence_wait(slot, Duration::from_micros(rng.below(1000))),
                    94..=96 => {
                        let _ = p.add_slots(rng.below(3) as usize);
                    }
                    97 => p.reset(rng.below(8) as usize),
                    _ => {
                        let st = p.stats();
                        assert_eq!(st.slots, p.len());
                        let _ = st.summary();
                    }
                }
                if let Err(e) = p.check_invariants() {
                    panic!("seed {seed} step {step}: {e}");
                }
                assert!(p.len() <= 12);
            }
        }
    }
}
