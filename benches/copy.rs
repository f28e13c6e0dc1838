//! Plane-copy throughput for a 1920x1080 NV12 frame between different pitches
//! (vaGetImage's path). Run with `cargo bench --bench copy`; prints GB/s.
//! A plain harness-less bench (no extra dependencies); timings are not asserted.
//! "hot" reuses one source/destination pair (cache-resident on big caches);
//! "cold" rotates through 8 pairs (~50 MB) so memory bandwidth dominates.
//! `COPY_BENCH_MS` sets the time per case (default 700 ms).

use std::hint::black_box;
use std::time::{Duration, Instant};
use v4l2_request_va::format::{copy_frame, FrameLayout, PixelFormat};

const W: u32 = 1920;
const H: u32 = 1080;

fn capture(pitch: u32, height: u32) -> FrameLayout {
    let size = pitch * height * 3 / 2;
    FrameLayout::from_single_planar(PixelFormat::Nv12, W, height, pitch, size).expect("capture layout")
}

fn image(pitch: u32) -> FrameLayout {
    FrameLayout::from_single_planar(PixelFormat::Nv12, W, H, pitch, pitch * H * 3 / 2).expect("image layout")
}

fn buffer(layout: &FrameLayout, fill: u8) -> Vec<u8> {
    let n = layout.buffer_size(0).expect("one buffer");
    (0..n).map(|i| (i as u8).wrapping_mul(fill)).collect()
}

/// Runs `f` for at least `budget`, returns seconds per call.
fn time(budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..3 {
        f(); // warm up (page faults, caches)
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        f();
        n += 1;
    }
    start.elapsed().as_secs_f64() / n as f64
}

fn main() {
    let budget = Duration::from_millis(std::env::var("COPY_BENCH_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(700));
    let bytes = (W as usize * H as usize) * 3 / 2;
    println!("NV12 {W}x{H} frame copy, {bytes} bytes of picture per frame");
    println!("{:<44} {:>10} {:>10} {:>10} {:>10}", "case", "hot ms", "hot GB/s", "cold ms", "cold GB/s");

    let gbs = |t: f64| bytes as f64 / t / 1e9;
    const COLD: usize = 8;

    // Reference: one memcpy of the frame's bytes.
    let srcs: Vec<Vec<u8>> = (0..COLD).map(|i| vec![i as u8 + 1; bytes]).collect();
    let mut dsts: Vec<Vec<u8>> = (0..COLD).map(|_| vec![0u8; bytes]).collect();
    let hot = time(budget, || {
        dsts[0].copy_from_slice(black_box(&srcs[0]));
        black_box(&mut dsts[0]);
    });
    let mut k = 0;
    let cold = time(budget, || {
        k = (k + 1) % COLD;
        dsts[k].copy_from_slice(black_box(&srcs[k]));
        black_box(&mut dsts[k]);
    });
    println!(
        "{:<44} {:>10.3} {:>10.2} {:>10.3} {:>10.2}",
        "memcpy of the same bytes (reference)",
        hot * 1e3,
        gbs(hot),
        cold * 1e3,
        gbs(cold)
    );

    let cases: [(&str, FrameLayout, FrameLayout); 6] = [
        ("capture 1920x1088 p1920 -> image p1920", capture(1920, 1088), image(1920)),
        ("capture 1920x1088 p2048 -> image p1920", capture(2048, 1088), image(1920)),
        ("capture 1920x1088 p1920 -> image p2048", capture(1920, 1088), image(2048)),
        ("capture 1920x1080 p1984 -> image p1920", capture(1984, 1080), image(1920)),
        ("capture 1920x1080 p2048 -> image p2048", capture(2048, 1080), image(2048)),
        ("capture 1920x1080 p2304 -> image p2304", capture(2304, 1080), image(2304)),
    ];
    for (name, sl, dl) in cases {
        let srcs: Vec<Vec<u8>> = (0..COLD).map(|i| buffer(&sl, 3 + i as u8)).collect();
        let mut dsts: Vec<Vec<u8>> = (0..COLD).map(|i| buffer(&dl, 5 + i as u8)).collect();
        let hot = time(budget, || {
            copy_frame(&sl, black_box(&srcs[0]), &dl, &mut dsts[0]).expect("copy");
            black_box(&mut dsts[0]);
        });
        let mut k = 0;
        let cold = time(budget, || {
            k = (k + 1) % COLD;
            copy_frame(&sl, black_box(&srcs[k]), &dl, &mut dsts[k]).expect("copy");
            black_box(&mut dsts[k]);
        });
        println!("{:<44} {:>10.3} {:>10.2} {:>10.3} {:>10.2}", name, hot * 1e3, gbs(hot), cold * 1e3, gbs(cold));
    }
}
