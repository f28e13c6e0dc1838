//! Detiling throughput (tiled CAPTURE -> linear NV12, vaGetImage's path for
//! tiled decoders) at 1080p and 4K, as a ratio to a memcpy of the same
//! picture bytes. Run with `cargo bench --bench detile`.
//! A plain harness-less bench (no extra dependencies); timings are not asserted.
//! "hot" reuses one source/destination pair (cache-resident on big caches);
//! "cold" rotates through pairs totalling > 48 MB so memory bandwidth dominates.
//! `DETILE_BENCH_MS` sets the time per case (default 700 ms).

use std::hint::black_box;
use std::time::{Duration, Instant};
use v4l2_request_va::testing::{detile_nv12, nv12_planes, tile_nv12, TiledFormat, TiledLayout};

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

fn align(v: u32, a: u32) -> u32 {
    v.div_ceil(a) * a
}

/// The layout each format's kernel driver reports for a `w`x`h` stream.
fn driver_layout(f: TiledFormat, w: u32, h: u32) -> TiledLayout {
    let l = match f {
        // hantro: size rounded to 4, sizeimage w*h*3/2 (+ motion vectors, left out).
        TiledFormat::Nv12Tiled4x4 => {
            let (w, h) = (align(w, 4), align(h, 4));
            TiledLayout::from_v4l2(f, w, h, &[(w, w * h * 3 / 2)])
        }
        // cedrus_prepare_format.
        TiledFormat::Nv12Tiled32x32 => {
            let (bpl, h) = (align(w, 32), align(h, 32));
            TiledLayout::from_v4l2(f, w, h, &[(bpl, bpl * h + bpl * align(h, 64) / 2)])
        }
        // mtk vcodec: 64-aligned buffer width and height.
        TiledFormat::Mm21 => {
            let (w, h) = (align(w, 64), align(h, 64));
            TiledLayout::from_v4l2(f, w, h, &[(w, w * h), (w, w * h / 2)])
        }
    };
    l.expect("driver layout")
}

fn main() {
    let budget = Duration::from_millis(std::env::var("DETILE_BENCH_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(700));
    println!("{:<32} {:>9} {:>9} {:>7} {:>9} {:>9} {:>7}", "case", "hot ms", "hot GB/s", "x mcpy", "cold ms", "cold GB/s", "x mcpy");
    for (w, h) in [(1920u32, 1080u32), (3840, 2160)] {
        let bytes = (w as usize * h as usize) * 3 / 2;
        let cold_n = (48usize << 20).div_ceil(bytes).max(2);
        let gbs = |t: f64| bytes as f64 / t / 1e9;
        println!("-- {w}x{h}: {bytes} picture bytes per frame, cold set {cold_n} pairs");

        // Reference: one memcpy of the picture's bytes.
        let srcs: Vec<Vec<u8>> = (0..cold_n).map(|i| vec![i as u8 + 1; bytes]).collect();
        let mut dsts: Vec<Vec<u8>> = (0..cold_n).map(|_| vec![0u8; bytes]).collect();
        let m_hot = time(budget, || {
            dsts[0].copy_from_slice(black_box(&srcs[0]));
            black_box(&mut dsts[0]);
        });
        let mut k = 0;
        let m_cold = time(budget, || {
            k = (k + 1) % cold_n;
            dsts[k].copy_from_slice(black_box(&srcs[k]));
            black_box(&mut dsts[k]);
        });
        drop((srcs, dsts));
        let line = |name: &str, hot: f64, cold: f64| {
            println!(
                "{:<32} {:>9.3} {:>9.2} {:>7.2} {:>9.3} {:>9.2} {:>7.2}",
                name,
                hot * 1e3,
                gbs(hot),
                m_hot / hot,
                cold * 1e3,
                gbs(cold),
                m_cold / cold
            )
        };
        line("memcpy (reference)", m_hot, m_cold);

        let planes = nv12_planes(w as usize, h as usize);
        for f in TiledFormat::ALL {
            let layout = driver_layout(f, w, h);
            let mut tiled: Vec<Vec<Vec<u8>>> = (0..cold_n)
                .map(|i| {
                    (0..layout.num_buffers())
                        .map(|b| (0..layout.buffer_size(b).unwrap()).map(|j| (j as u8).wrapping_mul(3 + i as u8)).collect())
                        .collect()
                })
                .collect();
            let mut linear: Vec<Vec<u8>> = (0..cold_n).map(|_| vec![0u8; bytes]).collect();
            let detile = |k: usize, tiled: &[Vec<u8>], linear: &mut Vec<u8>| {
                let src: Vec<&[u8]> = tiled.iter().map(Vec::as_slice).collect();
                detile_nv12(&layout, black_box(&src), w, h, &mut [linear.as_mut_slice()], &planes).expect("detile");
                black_box((k, linear));
            };
            let hot = time(budget, || detile(0, &tiled[0], &mut linear[0]));
            let mut k = 0;
            let cold = time(budget, || {
                k = (k + 1) % cold_n;
                detile(k, &tiled[k], &mut linear[k]);
            });
            line(&format!("detile {} -> NV12", f.name()), hot, cold);

            let tile = |tiled: &mut [Vec<u8>], linear: &[u8]| {
                let mut dst: Vec<&mut [u8]> = tiled.iter_mut().map(Vec::as_mut_slice).collect();
                tile_nv12(&layout, &mut dst, w, h, &[black_box(linear)], &planes).expect("tile");
                black_box(&mut dst);
            };
            let hot = time(budget, || tile(&mut tiled[0], &linear[0]));
            let mut k = 0;
            let cold = time(budget, || {
                k = (k + 1) % cold_n;
                tile(&mut tiled[k], &linear[k]);
            });
            line(&format!("tile NV12 -> {}", f.name()), hot, cold);
        }
    }
}
