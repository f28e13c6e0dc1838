//! The detiler against an independent implementation: GStreamer's
//! `videoconvert` writes `NV12_4L4`, `NV12_32L32` and `NV12_16L32S` (= MM21).
//!
//! For each size, one `gst-launch-1.0` run turns a linear NV12 frame of noise
//! (`rawvideoparse`) into the three tiled formats; then `detile_nv12` must give
//! the linear frame back byte for byte, and `tile_nv12` must write exactly
//! GStreamer's bytes at every picture position.
//!
//! GStreamer's buffers are one allocation: luma tiles, then chroma tiles at
//! `ALIGN(w, TW) * ALIGN(h, TH)`. That is the V4L2 layout with
//! `bytesperline = ALIGN(w, TW)` and height `ALIGN(h, TH)`; MM21's two V4L2
//! buffers are the two halves of GStreamer's buffer cut at the chroma offset.
//! Its linear NV12 has pitch `ALIGN(w, 4)` and chroma at `pitch * ALIGN(h, 2)`.
//!
//! Needs `gst-launch-1.0` (gstreamer1.0-tools) and `rawvideoparse`/`videoconvert`
//! (gstreamer1.0-plugins-base), both in `scripts/packages`; without
//! `gst-launch-1.0` the test prints SKIPPED and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

use v4l2_request_va::testing::{detile_nv12, tile_nv12, LinearPlane, TiledFormat, TiledLayout};

/// Sizes: tile-aligned for every format, aligned for some, odd, and 1080p.
const SIZES: [(u32, u32); 8] = [(64, 64), (72, 40), (176, 144), (1920, 1080), (98, 62), (33, 17), (100, 50), (352, 288)];

fn gst_name(f: TiledFormat) -> &'static str {
    match f {
        TiledFormat::Nv12Tiled4x4 => "NV12_4L4",
        TiledFormat::Nv12Tiled32x32 => "NV12_32L32",
        TiledFormat::Mm21 => "NV12_16L32S",
    }
}

fn align(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

/// xorshift64* noise.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// GStreamer's default linear NV12 layout for `w`×`h`: (buffer size, planes, plane rows, row bytes).
fn gst_nv12(w: usize, h: usize) -> (usize, [LinearPlane; 2], [(usize, usize); 2]) {
    let pitch = align(w, 4);
    let uv = pitch * align(h, 2);
    let planes = [LinearPlane { buffer: 0, offset: 0, pitch }, LinearPlane { buffer: 0, offset: uv, pitch }];
    (uv + pitch * align(h, 2) / 2, planes, [(h, w), (h.div_ceil(2), w.div_ceil(2) * 2)])
}

/// A linear NV12 frame: noise in the picture, zeros in the padding.
fn linear_frame(w: usize, h: usize, seed: u64) -> Vec<u8> {
    let (size, planes, area) = gst_nv12(w, h);
    let mut frame = vec![0u8; size];
    let n = noise(size, seed);
    for (p, (rows, row_bytes)) in planes.iter().zip(area) {
        for y in 0..rows {
            let r = p.offset + y * p.pitch;
            frame[r..r + row_bytes].copy_from_slice(&n[r..r + row_bytes]);
        }
    }
    frame
}

/// Runs one pipeline writing `input` (linear NV12) as every tiled format.
fn gst_tile(dir: &Path, w: u32, h: u32, input: &Path) -> Result<Vec<(TiledFormat, PathBuf)>, String> {
    let mut args: Vec<String> = ["-q", "filesrc"].iter().map(|s| s.to_string()).collect();
    args.push(format!("location={}", input.display()));
    args.extend(["!", "rawvideoparse", "format=nv12"].iter().map(|s| s.to_string()));
    args.push(format!("width={w}"));
    args.push(format!("height={h}"));
    args.extend(["!", "tee", "name=t"].iter().map(|s| s.to_string()));
    let mut outs = Vec::new();
    for f in TiledFormat::ALL {
        let out = dir.join(format!("{w}x{h}.{}", gst_name(f)));
        for a in ["t.", "!", "queue", "!", "videoconvert", "!", &format!("video/x-raw,format={}", gst_name(f)), "!", "filesink"] {
            args.push(a.to_string());
        }
        args.push(format!("location={}", out.display()));
        outs.push((f, out));
    }
    let o = Command::new("gst-launch-1.0").args(&args).output().map_err(|e| format!("gst-launch-1.0: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "gst-launch-1.0 {} failed ({}): {}{}",
            args.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(outs)
}

/// The V4L2-style layout of GStreamer's tiled buffer of `len` bytes, and the buffers it spans.
fn gst_layout(f: TiledFormat, w: usize, h: usize, len: usize) -> Result<(TiledLayout, usize), String> {
    let ly = f.tile(0).ok_or("no luma tile")?;
    let pitch = align(w, ly.width);
    let chroma = pitch * align(h, ly.height);
    let l = match f.num_buffers() {
        1 => TiledLayout::from_v4l2(f, w as u32, align(h, ly.height) as u32, &[(pitch as u32, len as u32)]),
        _ => TiledLayout::from_v4l2(f, w as u32, h as u32, &[(pitch as u32, chroma as u32), (pitch as u32, (len - chroma) as u32)]),
    };
    l.map(|l| (l, chroma)).map_err(|e| format!("layout of {len} bytes: {e}"))
}

fn split(buf: &[u8], f: TiledFormat, chroma: usize) -> Vec<&[u8]> {
    match f.num_buffers() {
        1 => vec![buf],
        _ => vec![&buf[..chroma], &buf[chroma..]],
    }
}

/// Checks one format and size; returns a one-line result.
fn check(f: TiledFormat, w: u32, h: u32, linear: &[u8], tiled: &[u8]) -> Result<String, String> {
    let (wu, hu) = (w as usize, h as usize);
    let (size, planes, area) = gst_nv12(wu, hu);
    let (layout, chroma) = gst_layout(f, wu, hu, tiled.len())?;

    // Detile: GStreamer's tiled bytes -> the linear input, exactly.
    let mut out = vec![0u8; size];
    detile_nv12(&layout, &split(tiled, f, chroma), w, h, &mut [&mut out], &planes).map_err(|e| format!("detile: {e}"))?;
    if out != linear {
        let at = out.iter().zip(linear).position(|(a, b)| a != b).unwrap_or(0);
        let (plane, off) = if at >= planes[1].offset { (1, at - planes[1].offset) } else { (0, at) };
        return Err(format!("detile differs first at plane {plane} row {} byte {}", off / planes[0].pitch, off % planes[0].pitch));
    }

    // Tile: written twice over two backgrounds, the bytes that agree are the
    // ones written; they must be GStreamer's, and be all picture bytes.
    let tiled_by = |fill: u8| -> Result<Vec<u8>, String> {
        let mut t = vec![fill; tiled.len()];
        let mut bufs: Vec<&mut [u8]> = match f.num_buffers() {
            1 => vec![&mut t[..]],
            _ => {
                let (a, b) = t.split_at_mut(chroma);
                vec![a, b]
            }
        };
        tile_nv12(&layout, &mut bufs, w, h, &[linear], &planes).map_err(|e| format!("tile: {e}"))?;
        Ok(t)
    };
    let (t0, t1) = (tiled_by(0x00)?, tiled_by(0xFF)?);
    let mut written = 0;
    for (i, ((a, b), g)) in t0.iter().zip(&t1).zip(tiled).enumerate() {
        if a == b {
            written += 1;
            if a != g {
                return Err(format!("tile differs from GStreamer at byte {i}"));
            }
        }
    }
    let picture: usize = area.iter().map(|(rows, row_bytes)| rows * row_bytes).sum();
    // Unwritten bytes keep their (different) fills, so `written` counts exactly the bytes written.
    if written != picture {
        return Err(format!("tile wrote {written} bytes, the picture has {picture}"));
    }
    Ok(format!("{:<11} {:>4}x{:<4} ok ({} tiled bytes from GStreamer)", gst_name(f), w, h, tiled.len()))
}

#[test]
fn detile_matches_gstreamer_videoconvert() {
    if Command::new("gst-launch-1.0").arg("--version").output().map(|o| !o.status.success()).unwrap_or(true) {
        eprintln!("SKIPPED detile_matches_gstreamer_videoconvert: gst-launch-1.0 not found (install gstreamer1.0-tools)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("v4l2rva-tiling-gst-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    for (w, h) in SIZES {
        let linear = linear_frame(w as usize, h as usize, u64::from(w) << 16 | u64::from(h));
        let input = dir.join(format!("{w}x{h}.nv12"));
        std::fs::write(&input, &linear).unwrap();
        let outs = match gst_tile(&dir, w, h, &input) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{w}x{h}: {e}"));
                continue;
            }
        };
        for (f, path) in outs {
            let tiled = std::fs::read(&path).unwrap_or_default();
            match check(f, w, h, &linear, &tiled) {
                Ok(line) => println!("{line}"),
                Err(e) => failures.push(format!("{} {w}x{h}: {e}", gst_name(f))),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
