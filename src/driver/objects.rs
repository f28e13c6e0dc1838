//! Typed object ID tables.
//!
//! Every VA object kind (config, context, surface, buffer, image) lives in its
//! own [`ObjectTable`]. IDs carry a per-kind tag in their top byte, so an ID of
//! the wrong kind is rejected instead of aliasing another object, and the
//! counter part only grows (it skips IDs still live on wrap-around), so an ID is
//! never reused while its object is alive. Tables are internally locked and
//! hand out `Arc`s: a caller never holds a table lock while it works on an
//! object, which keeps lock order simple (table → object, never the reverse).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The kind of object an ID names; its tag sits in the ID's top byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    Config = 0x01,
    Context = 0x02,
    Surface = 0x04,
    Buffer = 0x08,
    Image = 0x10,
}

const COUNTER_MASK: u32 = 0x00ff_ffff;

/// A table of live objects of one kind.
pub struct ObjectTable<T> {
    kind: ObjectKind,
    inner: Mutex<TableInner<T>>,
}

struct TableInner<T> {
    next: u32,
    objects: HashMap<u32, Arc<T>>,
}

/// Room every table starts with: with IDs always new, insertions and removals
/// leave tombstones, and a table at most half full clears them in place where
/// a small full one would allocate a new table (a VA buffer per slice makes
/// that churn every picture).
const INITIAL_CAPACITY: usize = 64;

impl<T> ObjectTable<T> {
    pub fn new(kind: ObjectKind) -> Self {
        ObjectTable { kind, inner: Mutex::new(TableInner { next: 1, objects: HashMap::with_capacity(INITIAL_CAPACITY) }) }
    }

    fn lock(&self) -> MutexGuard<'_, TableInner<T>> {
        // A panic while holding a table lock cannot leave the map half-updated
        // (every mutation is a single insert/remove), so poisoning is ignored.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tag(&self) -> u32 {
        (self.kind as u32) << 24
    }

    /// Insert an object and return its fresh ID, or `None` when the table is full.
    pub fn insert(&self, obj: T) -> Option<u32> {
        self.insert_arc(Arc::new(obj))
    }

    /// Insert an object already in an `Arc` (a recycled one: no allocation).
    pub fn insert_arc(&self, obj: Arc<T>) -> Option<u32> {
        let mut inner = self.lock();
        if inner.objects.len() as u32 >= COUNTER_MASK {
            return None;
        }
        loop {
            let counter = inner.next & COUNTER_MASK;
            inner.next = if counter == COUNTER_MASK { 1 } else { counter + 1 };
            if counter == 0 {
                continue;
            }
            let id = self.tag() | counter;
            if let std::collections::hash_map::Entry::Vacant(slot) = inner.objects.entry(id) {
                slot.insert(obj);
                return Some(id);
            }
        }
    }

    /// Look an object up by ID.
    pub fn get(&self, id: u32) -> Option<Arc<T>> {
        if id & !COUNTER_MASK != self.tag() {
            return None;
        }
        self.lock().objects.get(&id).cloned()
    }

    /// Remove an object; it is dropped when the last `Arc` goes.
    pub fn remove(&self, id: u32) -> Option<Arc<T>> {
        if id & !COUNTER_MASK != self.tag() {
            return None;
        }
        self.lock().objects.remove(&id)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().objects.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Remove and return every object (driver teardown).
    pub fn drain(&self) -> Vec<(u32, Arc<T>)> {
        self.lock().objects.drain().collect()
    }

    /// A snapshot of the live IDs.
    pub fn ids(&self) -> Vec<u32> {
        self.lock().objects.keys().copied().collect()
    }

    /// For tests: force the counter (exercises wrap-around).
    #[cfg(test)]
    fn set_next(&self, next: u32) {
        self.lock().next = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_tagged_and_kind_checked() {
        let surfaces = ObjectTable::new(ObjectKind::Surface);
        let buffers: ObjectTable<u8> = ObjectTable::new(ObjectKind::Buffer);
        let id = surfaces.insert(7u8).unwrap();
        assert_eq!(id >> 24, ObjectKind::Surface as u32);
        assert_eq!(*surfaces.get(id).unwrap(), 7);
        // Same counter value, other kind: must not resolve.
        let bid = buffers.insert(1).unwrap();
        assert_eq!(bid & COUNTER_MASK, id & COUNTER_MASK);
        assert!(surfaces.get(bid).is_none());
        assert!(buffers.get(id).is_none());
        assert!(surfaces.get(0).is_none());
        assert!(surfaces.get(u32::MAX).is_none());
    }

    #[test]
    fn removed_ids_are_not_reused_soon() {
        let t = ObjectTable::new(ObjectKind::Config);
        let a = t.insert(()).unwrap();
        t.remove(a).unwrap();
        let b = t.insert(()).unwrap();
        assert_ne!(a, b);
        assert!(t.get(a).is_none());
        assert!(t.remove(a).is_none());
    }

    #[test]
    fn wrap_around_skips_live_ids() {
        let t = ObjectTable::new(ObjectKind::Image);
        let first = t.insert(1).unwrap(); // counter 1 stays live
        t.set_next(COUNTER_MASK);
        let last = t.insert(2).unwrap();
        assert_eq!(last & COUNTER_MASK, COUNTER_MASK);
        let wrapped = t.insert(3).unwrap();
        assert_ne!(wrapped, first);
        assert_eq!(wrapped & COUNTER_MASK, 2);
        assert_eq!(*t.get(first).unwrap(), 1);
    }

    #[test]
    fn concurrent_use_gives_unique_live_ids() {
        let t = Arc::new(ObjectTable::new(ObjectKind::Buffer));
        let threads: Vec<_> = (0..8)
            .map(|n| {
                let t = t.clone();
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..2000u32 {
                        let id = t.insert(n * 100_000 + i).unwrap();
                        mine.push(id);
                        if i % 3 == 0 {
                            let gone = mine.remove(0);
                            assert!(t.remove(gone).is_some());
                        }
                    }
                    for id in &mine {
                        assert!(t.get(*id).is_some());
                    }
                    mine
                })
            })
            .collect();
        let mut all = HashSet::new();
        for th in threads {
            for id in th.join().unwrap() {
                assert!(all.insert(id), "id {id:#x} handed out twice while live");
            }
        }
        assert_eq!(all.len(), t.len());
    }
}
