//! The unit tests' global allocator: the system allocator, counting the
//! allocations (alloc, alloc_zeroed, realloc) made on a thread while that
//! thread has counting switched on ([`count`]). Per thread (flag and count),
//! so tests running in parallel do not disturb each other's counts. With
//! [`count_traced`] each counted allocation also prints its call stack, to
//! find where a per-frame allocation comes from.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    Count,
    Trace,
}

thread_local! {
    static MODE: Cell<Mode> = const { Cell::new(Mode::Off) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn counted() {
    let mode = MODE.try_with(Cell::get).unwrap_or(Mode::Off);
    if mode == Mode::Off {
        return;
    }
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    if mode == Mode::Trace {
        // Capturing allocates: not counted, not traced.
        MODE.with(|m| m.set(Mode::Off));
        eprintln!("counted allocation at:\n{}", std::backtrace::Backtrace::force_capture());
        MODE.with(|m| m.set(Mode::Trace));
    }
}

// SAFETY: every call forwards to the system allocator with the same arguments.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted();
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        counted();
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted();
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counting<T>(mode: Mode, f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATIONS.with(Cell::get);
    MODE.with(|m| m.set(mode));
    let r = f();
    MODE.with(|m| m.set(Mode::Off));
    (r, ALLOCATIONS.with(Cell::get) - before)
}

/// Allocations on this thread while `f` runs.
pub fn count<T>(f: impl FnOnce() -> T) -> (T, u64) {
    counting(Mode::Count, f)
}

/// [`count`], printing the call stack of each allocation to stderr.
pub fn count_traced<T>(f: impl FnOnce() -> T) -> (T, u64) {
    counting(Mode::Trace, f)
}
