//! Deterministic fuzzing of the codec translators (test-only, stable Rust).
//!
//! # The idea
//!
//! `cargo fuzz` needs a nightly compiler; this is the coverage-free
//! equivalent that runs inside `cargo test --release`. Each codec has one
//! target (`src/codec/<codec>/fuzz.rs`, test `fuzz_translation`) that builds
//! VA parameter structs, hands them with slice data to the codec's
//! translation entry point (`build_controls_with_state`, then the bitstream
//! assembly the driver runs after it) and requires that nothing panics:
//! every bad input must come back as a [`CodecError`](super::CodecError).
//!
//! Inputs of one execution, all drawn from a seeded xorshift generator:
//! - parameter structs: mostly a real picture's values (the ones the unit
//!   tests check translations of) with a few fields replaced by boundary
//!   values ([`Tweak`]: 0, 1, max, min, ±1, one bit flipped, counts around the
//!   spec limits 15/16/17, 31/32/33, 63/64, 255/256), sometimes every byte
//!   random ([`random_pod`]);
//! - slice data: real slices / frames / tiles of the streams under
//!   `tests/data` and `tests/streams`, as they are or damaged
//!   ([`mutate_bytes`]: bit flips, boundary bytes, truncation, splices);
//! - a sequence of one to three pictures per execution, through one codec
//!   state, with a reference resolver knowing a random subset of surfaces.
//!
//! A bounded run of every target is part of the unit tests (fixed seed,
//! a few thousand executions each). Longer runs:
//! `V4L2RVA_FUZZ_ITERS=<n> cargo test --release --lib fuzz_translation -- --nocapture`
//! (`V4L2RVA_FUZZ_SEED=<n>` changes the seed); each target prints its
//! executions, crashes and time. A crash fails the test with the execution
//! index and the panic message; `V4L2RVA_FUZZ_ONLY=<index>` replays that one
//! execution alone (same seed).

use crate::codec::h264::RefResolver;
use crate::va_sys::abi::{read_pod, VaPod};
use crate::va_sys::ffi::VASurfaceID;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// xorshift64* generator: tiny, deterministic, good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // splitmix64 of the seed: nearby seeds give unrelated streams, never 0.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// Counts and indices around the limits of the codecs' syntax (list sizes
/// 15/16/32, 6-bit ids, tile counts, byte and word boundaries).
const INTERESTING: &[i64] =
    &[2, 3, 4, 7, 8, 9, 14, 15, 16, 17, 19, 20, 21, 22, 23, 31, 32, 33, 63, 64, 65, 127, 128, 255, 256, 4096, 65535];

/// A field value replaced by a boundary value or a near neighbour of the real one.
pub trait Tweak: Copy {
    fn tweak(self, r: &mut Rng) -> Self;
}

macro_rules! tweak_int {
    ($($t:ty),*) => {$(
        impl Tweak for $t {
            fn tweak(self, r: &mut Rng) -> Self {
                match r.below(11) {
                    0 => 0,
                    1 => 1,
                    2 => <$t>::MAX,
                    3 => <$t>::MIN,
                    4 => self.wrapping_add(1),
                    5 => self.wrapping_sub(1),
                    6 => self ^ (1 << r.below(<$t>::BITS as usize)),
                    7 => r.next_u64() as $t,
                    8 => *r.pick(INTERESTING) as $t,
                    9 => (*r.pick(INTERESTING) as $t).wrapping_sub(1),
                    _ => r.below(40) as $t,
                }
            }
        }
    )*};
}
tweak_int!(u8, i8, u16, i16, u32, i32, u64, i64);

/// An array: one element tweaked, or (rarely) all of them set to one value.
impl<T: Tweak, const N: usize> Tweak for [T; N] {
    fn tweak(mut self, r: &mut Rng) -> Self {
        if N == 0 {
            return self;
        }
        if r.chance(1, 8) {
            let v = self[r.below(N)].tweak(r);
            self = [v; N];
        } else {
            let i = r.below(N);
            self[i] = self[i].tweak(r);
        }
        self
    }
}

/// Tweak one of the named fields of `$v` (chosen by `$r`).
macro_rules! tweak_one_field {
    ($v:expr, $r:expr; $($f:ident),+ $(,)?) => {{
        const NAMES: &[&str] = &[$(stringify!($f)),+];
        let k = $r.below(NAMES.len());
        let mut i = 0usize;
        $(
            if k == i {
                $v.$f = $crate::codec::fuzz::Tweak::tweak($v.$f, $r);
            }
            i += 1;
        )+
        let _ = i;
    }};
}
pub(crate) use tweak_one_field;

impl Tweak for crate::va_sys::ffi::VAPictureH264 {
    fn tweak(mut self, r: &mut Rng) -> Self {
        if r.chance(1, 4) {
            self.picture_id = surface(r);
        } else {
            tweak_one_field!(self, r; picture_id, frame_idx, flags, TopFieldOrderCnt, BottomFieldOrderCnt);
        }
        self
    }
}

impl Tweak for crate::va_sys::ffi::VAPictureHEVC {
    fn tweak(mut self, r: &mut Rng) -> Self {
        if r.chance(1, 4) {
            self.picture_id = surface(r);
        } else {
            tweak_one_field!(self, r; picture_id, pic_order_cnt, flags);
        }
        self
    }
}

/// A parameter struct made of random bytes.
pub fn random_pod<T: VaPod>(r: &mut Rng) -> T {
    read_pod(&r.bytes(std::mem::size_of::<T>()), 0).unwrap_or_default()
}

/// Apply one to four mutations chosen by `one` to `v`.
pub fn havoc<T>(v: &mut T, r: &mut Rng, one: impl Fn(&mut T, &mut Rng)) {
    for _ in 0..=r.below(4) {
        one(v, r);
    }
}

/// Damaged slice data: bit flips, boundary bytes, truncation, emulation
/// prevention and start-code splices, a cut-and-repeat, or random bytes.
pub fn mutate_bytes(data: &[u8], r: &mut Rng) -> Vec<u8> {
    let mut d = data.to_vec();
    for _ in 0..=r.below(3) {
        let len = d.len();
        match r.below(8) {
            0 if len > 0 => {
                let i = r.below(len);
                d[i] ^= 1 << r.below(8);
            }
            1 if len > 0 => {
                let i = r.below(len);
                d[i] = *r.pick(&[0u8, 1, 3, 0x7f, 0x80, 0xff]);
            }
            2 => d.truncate(r.below(len + 1)),
            3 => d.truncate(r.below(len.min(24) + 1)),
            4 => {
                let i = r.below(len + 1);
                const SPLICES: [&[u8]; 5] = [&[0, 0, 3], &[0, 0, 1], &[0, 0, 0, 1], &[0xff; 8], &[0; 8]];
                let splice = *r.pick(&SPLICES);
                d.splice(i..i, splice.iter().copied());
            }
            5 if len > 0 => {
                let a = r.below(len);
                let b = a + r.below(len - a) + 1;
                let piece = d[a..b].to_vec();
                let at = r.below(len + 1);
                d.splice(at..at, piece);
            }
            6 => {
                let n = r.below(64);
                d = r.bytes(n);
            }
            _ if len > 0 => {
                // A run of random bytes somewhere in the header.
                let start = r.below(len.min(32));
                for b in d.iter_mut().skip(start).take(1 + r.below(8)) {
                    *b = r.next_u64() as u8;
                }
            }
            _ => {}
        }
    }
    d
}

/// A reference resolver that knows a random subset of the surfaces 0..64
/// (timestamp `1000 * (id + 1)`) and says random things about field coding.
pub struct FuzzRefs {
    pub known: u64,
    pub field: u64,
}

impl FuzzRefs {
    pub fn new(r: &mut Rng) -> Self {
        let known = if r.chance(1, 4) { u64::MAX } else { r.next_u64() };
        FuzzRefs { known, field: if r.chance(1, 2) { 0 } else { r.next_u64() } }
    }
}

impl RefResolver for FuzzRefs {
    fn timestamp(&self, surface: VASurfaceID) -> Option<u64> {
        (surface < 64 && self.known >> surface & 1 == 1).then(|| 1000 * (u64::from(surface) + 1))
    }

    fn field_coded(&self, surface: VASurfaceID) -> Option<bool> {
        (surface < 64 && self.known >> surface & 1 == 1).then(|| self.field >> surface & 1 == 1)
    }
}

/// A surface id for a parameter struct: mostly one the resolver may know.
pub fn surface(r: &mut Rng) -> VASurfaceID {
    match r.below(8) {
        0 => crate::va_sys::ffi::VA_INVALID_SURFACE,
        1 => r.next_u64() as u32,
        _ => r.below(64) as u32,
    }
}

/// The frames of an IVF file (VP8, VP9, AV1), as stored.
pub fn ivf_frames(file: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut pos = 32;
    while let Some(hdr) = file.get(pos..pos + 12) {
        let size = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
        let Some(frame) = file.get(pos + 12..pos + 12 + size) else { break };
        out.push(frame);
        pos += 12 + size;
    }
    out
}

/// Start-code units of an elementary stream, each from its `00 00 01` on.
pub fn start_code_units(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts.iter().enumerate().map(|(k, &s)| &data[s..starts.get(k + 1).copied().unwrap_or(data.len())]).collect()
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// What one execution did: pictures handed to the translator, and how many
/// of them it accepted (the rest were errors, as they should be for most).
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcome {
    pub pictures: u64,
    pub translated: u64,
}

impl Outcome {
    /// Count one picture and whether it translated.
    pub fn note<T, E>(&mut self, r: &Result<T, E>) {
        self.pictures += 1;
        self.translated += u64::from(r.is_ok());
    }
}

/// Run target `name`: `default_iters` executions (a tenth in unoptimised
/// builds; or `V4L2RVA_FUZZ_ITERS`) of `one`, each with its own generator
/// seeded from the run seed and its index. Panics (failing the test) if any
/// execution panicked.
pub fn run(name: &str, default_iters: u64, one: impl FnMut(&mut Rng, &mut Outcome)) {
    let default_iters = if cfg!(debug_assertions) { default_iters / 10 } else { default_iters };
    let iters = env_u64("V4L2RVA_FUZZ_ITERS").unwrap_or(default_iters);
    let seed = env_u64("V4L2RVA_FUZZ_SEED").unwrap_or(0x5eed);
    run_with(name, iters, seed, env_u64("V4L2RVA_FUZZ_ONLY"), one)
}

/// [`run`] with explicit iterations, seed and single execution to replay.
pub fn run_with(name: &str, iters: u64, seed: u64, only: Option<u64>, mut one: impl FnMut(&mut Rng, &mut Outcome)) {
    let name_hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let start = Instant::now();
    let mut crashes: Vec<(u64, String)> = Vec::new();
    let mut executions = 0;
    let mut total = Outcome::default();
    for i in 0..iters {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        let mut r = Rng::new(seed ^ name_hash ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        executions += 1;
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| one(&mut r, &mut total))) {
            crashes.push((i, crate::logging::panic_message(p.as_ref())));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzz {name}: {executions} executions, {} crashes, {secs:.1} s ({:.0}/s), seed {seed:#x}; {} pictures, {} translated",
        crashes.len(),
        executions as f64 / secs.max(1e-9),
        total.pictures,
        total.translated
    );
    let mut kinds: Vec<&str> = crashes.iter().map(|(_, m)| m.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert!(
        crashes.is_empty(),
        "fuzz {name}: {} of {executions} executions panicked (seed {seed:#x}); first at index {} (V4L2RVA_FUZZ_ONLY={} replays it); distinct messages: {kinds:#?}",
        crashes.len(),
        crashes[0].0,
        crashes[0].0
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_deterministic_and_spread() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert_eq!((0..8).map(|_| a.next_u64()).collect::<Vec<_>>(), (0..8).map(|_| b.next_u64()).collect::<Vec<_>>());
        let mut seen = [false; 10];
        for _ in 0..1000 {
            seen[a.below(10)] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn a_panicking_target_fails_with_its_index() {
        let r = catch_unwind(|| run_with("self-test", 10, 1, None, |r, _| assert!(r.below(4) != 0, "boom")));
        let msg = crate::logging::panic_message(r.unwrap_err().as_ref());
        assert!(msg.contains("panicked") && msg.contains("boom"), "{msg}");
    }

    #[test]
    fn stream_splitters() {
        assert_eq!(start_code_units(&[9, 0, 0, 1, 5, 6, 0, 0, 1, 7]), vec![&[0, 0, 1, 5, 6][..], &[0, 0, 1, 7][..]]);
        let mut ivf = vec![0u8; 32];
        ivf.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xaa, 0xbb]);
        ivf.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]); // truncated frame
        assert_eq!(ivf_frames(&ivf), vec![&[0xaa, 0xbb][..]]);
    }
}
