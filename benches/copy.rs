//! Plane-copy speed of the image download against a plain memcpy of the same
//! number of bytes. vaGetImage copies each plane with `format::copy_plane`, or
//! `copy_plane_over_padding` when the rows are as wide as the image; the bench
//! goes through `format::copy_frame`, which makes the same calls.
//!
//! Run with `cargo bench --bench copy`. A harness-less bench without extra
//! dependencies; timings are printed, never asserted. Hot cache: every case
//! copies the same source and destination buffers over and over, and the
//! reference memcpy copies the picture's byte count between the same two
//! buffers. The two are timed in alternating batches (so both see the same
//! machine load), and the figures are medians over the repetitions; the ratio
//! is memcpy time / copy time (1.0 = memcpy speed, higher = faster).
//! Batches are short (`COPY_BENCH_MS`, default 1 ms) and many
//! (`COPY_BENCH_REPS`, default 101) so that most pairs run between two
//! preemptions on a busy host.

use std::hint::black_box;
use std::time::Instant;
use v4l2_request_va::testing::{copy_frame, FrameLayout, PixelFormat};

/// A decoder CAPTURE buffer: `height` rows (coded height), chroma at `pitch * height`.
fn capture(format: PixelFormat, width: u32, height: u32, pitch: u32) -> FrameLayout {
    FrameLayout::from_single_planar(format, width, height, pitch, pitch * height * 3 / 2).expect("capture layout")
}

/// A VA image of the visible size with pitch `pitch` (as vaCreateImage lays it out).
fn image(format: PixelFormat, width: u32, height: u32, pitch: u32) -> FrameLayout {
    FrameLayout::from_single_planar(format, width, height, pitch, pitch * height * 3 / 2).expect("image layout")
}

fn buffer(layout: &FrameLayout, seed: u8) -> Vec<u8> {
    let n = layout.buffer_size(0).expect("one buffer");
    (0..n).map(|i| (i as u8).wrapping_mul(seed)).collect()
}

/// Picture bytes a copy between the two layouts moves (rows × row bytes per plane).
fn picture_bytes(s: &FrameLayout, d: &FrameLayout) -> usize {
    s.planes().iter().zip(d.planes()).map(|(a, b)| a.rows.min(b.rows) * a.row_bytes.min(b.row_bytes)).sum()
}

/// Seconds per call of `f(src, dst)` over a batch of `n` calls.
fn batch(n: u32, src: &[u8], dst: &mut [u8], f: &impl Fn(&[u8], &mut [u8])) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f(black_box(src), black_box(&mut *dst));
    }
    start.elapsed().as_secs_f64() / f64::from(n)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

struct Case {
    name: &'static str,
    src: FrameLayout,
    dst: FrameLayout,
}

fn main() {
    let env = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let batch_s = env("COPY_BENCH_MS", 1) as f64 / 1e3;
    let reps = env("COPY_BENCH_REPS", 101).max(1) as usize;
    use PixelFormat::{Nv12, P010};
    let cases = [
        Case { name: "NV12 1920x1080 p1920 -> p1920 (equal)", src: capture(Nv12, 1920, 1088, 1920), dst: image(Nv12, 1920, 1080, 1920) },
        Case {
            name: "NV12 1920x1080 p2048 -> p2048 (equal, padded)",
            src: capture(Nv12, 1920, 1080, 2048),
            dst: image(Nv12, 1920, 1080, 2048),
        },
        Case {
            name: "NV12 1920x1080 p2048 -> p1920 (src > dst)",
            src: capture(Nv12, 1920, 1088, 2048),
            dst: image(Nv12, 1920, 1080, 1920),
        },
        Case {
            name: "NV12 1920x1080 p1920 -> p2048 (dst > src)",
            src: capture(Nv12, 1920, 1088, 1920),
            dst: image(Nv12, 1920, 1080, 2048),
        },
        Case {
            name: "NV12 1920x1080 p2304 -> p1920 (src > dst)",
            src: capture(Nv12, 1920, 1080, 2304),
            dst: image(Nv12, 1920, 1080, 1920),
        },
        Case { name: "NV12 176x144 p176 -> p176 (equal)", src: capture(Nv12, 176, 144, 176), dst: image(Nv12, 176, 144, 176) },
        Case { name: "NV12 176x144 p192 -> p176 (src > dst)", src: capture(Nv12, 176, 144, 192), dst: image(Nv12, 176, 144, 176) },
        Case { name: "P010 1920x1080 p3840 -> p3840 (equal)", src: capture(P010, 1920, 1088, 3840), dst: image(P010, 1920, 1080, 3840) },
        Case {
            name: "P010 1920x1080 p4096 -> p3840 (src > dst)",
            src: capture(P010, 1920, 1088, 4096),
            dst: image(P010, 1920, 1080, 3840),
        },
        Case { name: "NV12 3840x2160 p3840 -> p3840 (equal)", src: capture(Nv12, 3840, 2160, 3840), dst: image(Nv12, 3840, 2160, 3840) },
        Case {
            name: "NV12 3840x2160 p4096 -> p3840 (src > dst)",
            src: capture(Nv12, 3840, 2160, 4096),
            dst: image(Nv12, 3840, 2160, 3840),
        },
    ];
    println!("Image download copy vs memcpy of the same bytes, hot cache, median of {reps} alternating batches");
    println!("{:<46} {:>10} {:>10} {:>10} {:>6}", "case", "bytes", "copy us", "memcpy us", "ratio");
    for case in cases {
        let bytes = picture_bytes(&case.src, &case.dst);
        let src = buffer(&case.src, 3);
        let mut dst = buffer(&case.dst, 5);
        let copy = |s: &[u8], d: &mut [u8]| copy_frame(&case.src, s, &case.dst, d).expect("copy");
        // The reference moves the same number of bytes between the same buffers.
        let memcpy = |s: &[u8], d: &mut [u8]| d[..bytes].copy_from_slice(&s[..bytes]);
        // Warm up (page faults, caches) and size the batches.
        let once = batch(3, &src, &mut dst, &copy).min(batch(3, &src, &mut dst, &memcpy));
        let n = ((batch_s / once.max(1e-9)) as u32).clamp(1, 1_000_000);
        let (mut tc, mut tm, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for r in 0..reps {
            // Alternate which one runs first.
            let (c, m) = if r % 2 == 0 {
                let c = batch(n, &src, &mut dst, &copy);
                (c, batch(n, &src, &mut dst, &memcpy))
            } else {
                let m = batch(n, &src, &mut dst, &memcpy);
                (batch(n, &src, &mut dst, &copy), m)
            };
            tc.push(c);
            tm.push(m);
            ratios.push(m / c);
        }
        let (c, m, ratio) = (median(&mut tc), median(&mut tm), median(&mut ratios));
        println!("{:<46} {:>10} {:>10.2} {:>10.2} {:>6.2}", case.name, bytes, c * 1e6, m * 1e6, ratio);
    }
}
