//! Surface memory checks: `early-export`, `put-image` and `import`.
//!
//! Each check prints one line (`<command> <what>: ok ...` or `... FAIL ...`);
//! a command fails (exit status 1) when any of its checks failed.

use crate::record::Rec;
use crate::sys::{self, Mapping};
use crate::va::{self, Display, DrmPrimeDescriptor, Image, SurfaceAttrib};
use crate::{arg_value, load, Engine, Res, DEFAULT_DEVICE};
use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

const DRM_NV12: u32 = 0x3231_564e;
const DRM_P010: u32 = 0x3031_3050;
const DRM_R8: u32 = 0x2020_3852;
const DRM_GR88: u32 = 0x3838_5247;
const DRM_R16: u32 = 0x2036_3152;
const DRM_GR1616: u32 = 0x3233_5247;
const VA_FOURCC_YUY2: u32 = 0x3259_5559;
const DRM_YUYV: u32 = 0x5659_5559;
const DRM_FORMAT_MOD_LINEAR: u64 = 0;
/// Allwinner's tiled NV12 (NV12_32L32): 32x32-byte tiles in both planes.
const DRM_FORMAT_MOD_ALLWINNER_TILED: u64 = 0x0900_0000_0000_0001;
/// MediaTek's MM21: 16x32-byte luma tiles, 16x16-byte chroma tiles.
const DRM_FORMAT_MOD_MTK_16L_32S_TILE: u64 = 0x0b00_0000_0000_0001;

/// Check lines and their failures.
#[derive(Default)]
struct Report {
    checks: usize,
    failed: Vec<String>,
}

impl Report {
    fn line(&mut self, cmd: &str, what: &str, r: Result<String, String>) {
        self.checks += 1;
        match r {
            Ok(detail) => println!("{cmd} {what}: ok {detail}"),
            Err(e) => {
                println!("{cmd} {what}: FAIL {e}");
                self.failed.push(format!("{what}: {e}"));
            }
        }
    }

    fn finish(self) -> Res<()> {
        if self.failed.is_empty() {
            Ok(())
        } else {
            Err(format!("{} of {} checks failed: {}", self.failed.len(), self.checks, self.failed.join("; ")).into())
        }
    }
}

fn fourcc_str(f: u32) -> String {
    f.to_le_bytes().iter().map(|&b| if b.is_ascii_graphic() { b as char } else { '.' }).collect()
}

/// Where the two planes of an NV12 / P010 picture lie in a buffer.
#[derive(Clone, Copy, Debug)]
struct Planes {
    width: usize,
    height: usize,
    /// Bytes per sample: 1 (NV12) or 2 (P010).
    bps: usize,
    offsets: [usize; 2],
    pitches: [usize; 2],
    /// Tiled layouts: the (bytes, rows) of a tile per plane. Tiles are stored whole, left
    /// to right then top to bottom, so a tile row of a plane is `pitch * rows` bytes (the
    /// DRM definitions of the modifiers above; written here as a plain reference, apart
    /// from the driver's detiler).
    tiles: Option<[(usize, usize); 2]>,
}

impl Planes {
    fn from_image(img: &Image) -> Res<Planes> {
        if img.num_planes != 2 {
            return Err(format!("image {:#x}: {} planes, expected 2", img.image_id, img.num_planes).into());
        }
        Ok(Planes {
            width: img.width as usize,
            height: img.height as usize,
            bps: if img.format.fourcc == va::VA_FOURCC_P010 { 2 } else { 1 },
            offsets: [img.offsets[0] as usize, img.offsets[1] as usize],
            pitches: [img.pitches[0] as usize, img.pitches[1] as usize],
            tiles: None,
        })
    }

    /// From an export (composed or separate layers), linear or tiled. Offsets count from
    /// the start of the objects' bytes laid end to end ([`read_all`] of [`Export::maps`]).
    fn from_prime(d: &DrmPrimeDescriptor) -> Res<Planes> {
        let bps = if d.fourcc == va::VA_FOURCC_P010 { 2 } else { 1 };
        // (object, offset, pitch) of luma and chroma.
        let planes = match d.num_layers {
            1 => [0, 1].map(|p| (d.layers[0].object_index[p], d.layers[0].offset[p], d.layers[0].pitch[p])),
            2 => [0, 1].map(|l| (d.layers[l].object_index[0], d.layers[l].offset[0], d.layers[l].pitch[0])),
            n => return Err(format!("{n} layers").into()),
        };
        let objects = (d.num_objects as usize).min(d.objects.len());
        let base = |obj: u32| -> Res<usize> {
            if obj as usize >= objects {
                return Err(format!("plane in object {obj} of {objects}").into());
            }
            Ok(d.objects[..obj as usize].iter().map(|o| o.size as usize).sum())
        };
        let offsets = [base(planes[0].0)? + planes[0].1 as usize, base(planes[1].0)? + planes[1].1 as usize];
        // The luma plane's object (checked by `base` above) carries the layout's modifier.
        let tiles = match d.objects[planes[0].0 as usize].drm_format_modifier {
            DRM_FORMAT_MOD_LINEAR => None,
            DRM_FORMAT_MOD_ALLWINNER_TILED => Some([(32, 32), (32, 32)]),
            DRM_FORMAT_MOD_MTK_16L_32S_TILE => Some([(16, 32), (16, 16)]),
            m => return Err(format!("modifier {m:#x} has no reference layout here").into()),
        };
        Ok(Planes {
            width: d.width as usize,
            height: d.height as usize,
            bps,
            offsets,
            pitches: [planes[0].2 as usize, planes[1].2 as usize],
            tiles,
        })
    }

    /// Where the byte of `plane` at `row`, byte column `col` lies in the buffer.
    fn index(&self, plane: usize, row: usize, col: usize) -> usize {
        let (base, pitch) = (self.offsets[plane], self.pitches[plane]);
        match self.tiles {
            None => base + row * pitch + col,
            Some(t) => {
                let (tw, th) = t[plane];
                base + (row / th) * pitch * th + (col / tw) * tw * th + (row % th) * tw + col % tw
            }
        }
    }

    fn rows(&self, plane: usize) -> usize {
        if plane == 0 {
            self.height
        } else {
            self.height.div_ceil(2)
        }
    }

    /// Visible bytes of a row (interleaved chroma: as many bytes as luma).
    fn row_bytes(&self) -> usize {
        self.width.next_multiple_of(2) * self.bps
    }

    /// The byte of `plane` at `row`, byte column `col`.
    fn at(&self, buf: &[u8], plane: usize, row: usize, col: usize) -> Option<u8> {
        buf.get(self.index(plane, row, col)).copied()
    }

    /// Bytes a buffer needs to hold every visible row.
    fn end(&self) -> usize {
        match self.tiles {
            None => (0..2).map(|p| self.offsets[p] + (self.rows(p) - 1) * self.pitches[p] + self.row_bytes()).max().unwrap_or(0),
            // Whole tile rows.
            Some(t) => (0..2).map(|p| self.offsets[p] + self.rows(p).div_ceil(t[p].1) * t[p].1 * self.pitches[p]).max().unwrap_or(0),
        }
    }
}

/// Compare the visible bytes of `buf` (laid out as `l`) with `want(plane, row, byte column)`.
fn check_bytes(buf: &[u8], l: &Planes, want: impl Fn(usize, usize, usize) -> u8) -> Result<(), String> {
    if buf.len() < l.end() {
        return Err(format!("buffer of {} bytes, layout needs {}", buf.len(), l.end()));
    }
    let mut bad = 0usize;
    let mut first = None;
    for p in 0..2 {
        for r in 0..l.rows(p) {
            for c in 0..l.row_bytes() {
                let (got, exp) = (l.at(buf, p, r, c).unwrap_or(0), want(p, r, c));
                if got != exp {
                    bad += 1;
                    first.get_or_insert(format!("plane {p} row {r} byte {c}: {got:#04x}, expected {exp:#04x}"));
                }
            }
        }
    }
    match first {
        None => Ok(()),
        Some(f) => Err(format!("{bad} bytes differ, first at {f}")),
    }
}

/// Write `value(plane, row, byte column)` into the visible bytes of `buf`.
fn fill_bytes(buf: &mut [u8], l: &Planes, value: impl Fn(usize, usize, usize) -> u8) {
    for p in 0..2 {
        for r in 0..l.rows(p) {
            for c in 0..l.row_bytes() {
                if let Some(b) = buf.get_mut(l.index(p, r, c)) {
                    *b = value(p, r, c);
                }
            }
        }
    }
}

/// Distinct byte values in the visible luma rows, and an FNV-1a hash of them.
fn luma_stats(buf: &[u8], l: &Planes) -> (usize, u64) {
    let mut seen = [false; 256];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for r in 0..l.height {
        for c in 0..l.row_bytes() {
            let b = l.at(buf, 0, r, c).unwrap_or(0);
            seen[b as usize] = true;
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    (seen.iter().filter(|&&s| s).count(), h)
}

/// A deterministic picture: sample (x, y) of `plane` for `seed`; P010 samples are
/// 10 bits in the high bits of little-endian 16-bit words.
fn pattern(seed: u32, bps: usize, plane: usize, row: usize, col: usize) -> u8 {
    let sample = col / bps;
    let v = (sample as u32).wrapping_mul(3) ^ (row as u32).wrapping_mul(7) ^ seed.wrapping_mul(0x9e37) ^ (plane as u32 * 101);
    if bps == 1 {
        v as u8
    } else {
        let w = ((v & 0x3ff) << 6) as u16;
        w.to_le_bytes()[col % 2]
    }
}

/// Export flags for a name in check lines.
fn flags_name(flags: u32) -> &'static str {
    if flags & va::VA_EXPORT_SURFACE_SEPARATE_LAYERS != 0 {
        "separate"
    } else {
        "composed"
    }
}

/// An export: the descriptor and the fds the caller now owns.
struct Export {
    desc: DrmPrimeDescriptor,
    fds: Vec<OwnedFd>,
}

impl Export {
    fn take(desc: DrmPrimeDescriptor) -> Export {
        let n = (desc.num_objects as usize).min(desc.objects.len());
        let fds = desc.objects[..n].iter().filter_map(|o| sys::own_fd(o.fd)).collect();
        Export { desc, fds }
    }

    /// Map every object (MM21: luma and chroma buffers), for [`read_all`].
    fn maps(&self) -> Res<Vec<Mapping>> {
        self.fds.iter().zip(&self.desc.objects).map(|(fd, o)| Ok(Mapping::new(fd.as_fd(), o.size as usize, false)?)).collect()
    }
}

/// The bytes of every mapping, end to end (the buffer [`Planes::from_prime`] describes).
fn read_all(maps: &[Mapping]) -> Vec<u8> {
    maps.iter().flat_map(|m| m.read()).collect()
}

/// Validate an export of a `width`×`height` `fourcc` surface against the VA-API contract;
/// returns a summary.
fn check_descriptor(e: &Export, fourcc: u32, width: u32, height: u32, separate: bool) -> Result<String, String> {
    let d = &e.desc;
    let bps = if fourcc == va::VA_FOURCC_P010 { 2 } else { 1 };
    if d.fourcc != fourcc || d.width != width || d.height != height {
        return Err(format!(
            "descriptor {} {}x{}, expected {} {width}x{height}",
            fourcc_str(d.fourcc),
            d.width,
            d.height,
            fourcc_str(fourcc)
        ));
    }
    if d.num_objects == 0 || d.num_objects > 4 || e.fds.len() != d.num_objects as usize {
        return Err(format!("{} objects, {} valid fds", d.num_objects, e.fds.len()));
    }
    let (want_layers, formats): (u32, &[u32]) = match (separate, bps) {
        (false, 1) => (1, &[DRM_NV12]),
        (false, _) => (1, &[DRM_P010]),
        (true, 1) => (2, &[DRM_R8, DRM_GR88]),
        (true, _) => (2, &[DRM_R16, DRM_GR1616]),
    };
    if d.num_layers != want_layers {
        return Err(format!("{} layers, expected {want_layers}", d.num_layers));
    }
    // (object, offset, pitch, rows) of the luma and chroma planes.
    let mut planes = Vec::new();
    for (i, l) in d.layers[..want_layers as usize].iter().enumerate() {
        let want_planes = if separate { 1 } else { 2 };
        if l.drm_format != formats[i] || l.num_planes != want_planes {
            return Err(format!(
                "layer {i}: {} with {} planes, expected {} with {want_planes}",
                fourcc_str(l.drm_format),
                l.num_planes,
                fourcc_str(formats[i])
            ));
        }
        for p in 0..l.num_planes as usize {
            planes.push((l.object_index[p], l.offset[p] as u64, l.pitch[p] as u64));
        }
    }
    let rows = [height as u64, height.div_ceil(2) as u64];
    let row_bytes = width.next_multiple_of(2) as u64 * bps;
    let mut ends = Vec::new();
    for (p, &(obj, off, pitch)) in planes.iter().enumerate() {
        if obj >= d.num_objects {
            return Err(format!("plane {p} in object {obj} of {}", d.num_objects));
        }
        if pitch < row_bytes {
            return Err(format!("plane {p} pitch {pitch} < {row_bytes} bytes per row"));
        }
        let end = off + pitch * (rows[p] - 1) + row_bytes;
        if end > d.objects[obj as usize].size as u64 {
            return Err(format!("plane {p} ends at {end}, object {obj} has {} bytes", d.objects[obj as usize].size));
        }
        ends.push((obj, off, off + pitch * rows[p]));
    }
    if ends[0].0 == ends[1].0 && ends[0].1 < ends[1].2 && ends[1].1 < ends[0].2 {
        return Err(format!("planes overlap: luma {}..{}, chroma {}..{}", ends[0].1, ends[0].2, ends[1].1, ends[1].2));
    }
    let fd = e.fds[0].as_fd();
    let fd_size = sys::fd_size(fd).map_err(|err| format!("lseek on the exported fd: {err}"))?;
    if fd_size < d.objects[0].size as u64 {
        return Err(format!("dma-buf holds {fd_size} bytes, descriptor says {}", d.objects[0].size));
    }
    let m = Mapping::new(fd, d.objects[0].size as usize, false).map_err(|err| format!("mmap of the exported fd: {err}"))?;
    let bytes = m.read();
    if bytes.len() != d.objects[0].size as usize {
        return Err("short mapping".into());
    }
    Ok(format!(
        "fourcc={} {}x{} layers={} pitch={},{} offset={},{} size={} fd_size={fd_size} modifier={:#x} mmap=ok",
        fourcc_str(d.fourcc),
        d.width,
        d.height,
        d.num_layers,
        planes[0].2,
        planes[1].2,
        planes[0].1,
        planes[1].1,
        d.objects[0].size,
        d.objects[0].drm_format_modifier
    ))
}

/// Whether the driver lists P010 surfaces for a 10-bit config (HEVC Main10 or VP9 profile 2).
fn p010_listed(va: &Display) -> bool {
    for profile in [va::VA_PROFILE_HEVC_MAIN10, va::VA_PROFILE_VP9_PROFILE2] {
        if let Ok(cfg) = va.create_config(profile, va::VA_ENTRYPOINT_VLD) {
            let listed = va.surface_pixel_formats(cfg).map(|f| f.contains(&va::VA_FOURCC_P010)).unwrap_or(false);
            let _ = va.destroy_config(cfg);
            if listed {
                return true;
            }
        }
    }
    false
}

/// The setup of a record: its first config, surfaces and context records.
struct Setup {
    config: Rec,
    /// The creation records of the context's surfaces, and their IDs in that order.
    surfaces: Vec<Rec>,
    ids: Vec<u32>,
    context: Rec,
    width: u32,
    height: u32,
    rt_format: u32,
    fourcc: u32,
    /// Records of the pictures (Begin / Buffer / End), at most `frames` pictures.
    pictures: Vec<Rec>,
}

/// Replay `s` on `e`: its config, its surfaces, its context and its pictures; the
/// surface the last picture decoded into.
fn decode_setup(e: &mut Engine<'_>, s: &Setup) -> Res<u32> {
    e.step(&s.config)?;
    for r in &s.surfaces {
        e.step(r)?;
    }
    e.step(&s.context)?;
    let mut target = None;
    for r in &s.pictures {
        if let Some(t) = e.step(r)? {
            target = Some(t);
        }
    }
    Ok(target.ok_or("record's first picture decoded nothing")?)
}

fn setup_of(recs: &[Rec], frames: usize) -> Res<Setup> {
    let first_begin = recs.iter().position(|r| matches!(r, Rec::Begin { .. })).ok_or("record has no picture")?;
    let head = &recs[..first_begin];
    // The context the first picture decodes in, its config and the surfaces of its targets
    // (clients create and destroy probe configs and surfaces before it).
    let Some(Rec::Begin { context: ctx_id, target }) = recs.get(first_begin) else { unreachable!() };
    let context = head
        .iter()
        .rev()
        .find(|r| matches!(r, Rec::Context { id, .. } if id == ctx_id))
        .ok_or("record has no context for its first picture")?
        .clone();
    let Rec::Context { config: cfg_id, targets, .. } = &context else { unreachable!() };
    let config = head
        .iter()
        .rev()
        .find(|r| matches!(r, Rec::Config { id, .. } if id == cfg_id))
        .ok_or("record has no config for its context")?
        .clone();
    // The live creation record of each surface when the first picture begins (clients
    // create their surfaces one call each or all at once).
    let mut live: HashMap<u32, usize> = HashMap::new();
    for (i, r) in head.iter().enumerate() {
        match r {
            Rec::Surfaces { ids, .. } => live.extend(ids.iter().map(|&id| (id, i))),
            Rec::DestroySurfaces { ids } => {
                for id in ids.iter() {
                    live.remove(id);
                }
            }
            _ => {}
        }
    }
    let wanted: Vec<u32> = if targets.is_empty() { vec![*target] } else { targets.to_vec() };
    let mut which: Vec<usize> = Vec::new();
    for t in &wanted {
        let i = *live.get(t).ok_or_else(|| format!("record never creates surface {t:#x}"))?;
        if !which.contains(&i) {
            which.push(i);
        }
    }
    let surfaces: Vec<Rec> = which.iter().map(|&i| head[i].clone()).collect();
    let ids: Vec<u32> = surfaces.iter().flat_map(ids_of).collect();
    let Some(&Rec::Surfaces { width, height, rt_format, fourcc, .. }) = surfaces.first() else { unreachable!() };
    let fourcc = if fourcc != 0 { fourcc } else { va::VA_FOURCC_NV12 };
    let mut pictures = Vec::new();
    let mut ends = 0;
    for r in &recs[first_begin..] {
        if ends >= frames {
            break;
        }
        if matches!(r, Rec::Begin { .. } | Rec::Buffer { .. } | Rec::End { .. }) {
            pictures.push(r.clone());
        }
        if matches!(r, Rec::End { .. }) {
            ends += 1;
        }
    }
    Ok(Setup { config, surfaces, ids, context, width, height, rt_format, fourcc, pictures })
}

/// Replay `pictures` through `engine`; after each decoded picture compare `views[surface]`
/// (the caller's own mapping of the surface's buffer) with vaGetImage of the surface.
/// `visl_tiled`: the device is visl writing its fixed tiled pattern (the same for every
/// picture): the caller's mapping must hold that pattern (it was blank before the surface's
/// first decode, so this shows the decode landed in the exported memory), and pictures are
/// not expected to differ. Returns the number of pictures compared.
fn replay_compare(
    cmd: &str,
    tag: &str,
    engine: &mut Engine,
    s: &Setup,
    views: &HashMap<u32, (Vec<Mapping>, Planes)>,
    visl_tiled: bool,
    rep: &mut Report,
) -> Res<usize> {
    let va = engine.va;
    let image = va.create_image(va::VA_FOURCC_NV12, s.width, s.height)?;
    let il = Planes::from_image(&image)?;
    let mut n = 0usize;
    let mut hashes = std::collections::HashSet::new();
    let mut result: Res<()> = Ok(());
    for r in &s.pictures {
        let surface = match engine.step(r) {
            Ok(Some(surface)) => surface,
            Ok(None) => continue,
            Err(e) => {
                result = Err(format!("{tag} picture {n}: {e}").into());
                break;
            }
        };
        let what = format!("{tag} frame {n} surface {surface:#x}");
        let check = (|| -> Result<String, String> {
            let (m, ml) = views.get(&surface).ok_or("no view of this surface")?;
            va.get_image(surface, 0, 0, s.width, s.height, image.image_id).map_err(|e| e.to_string())?;
            let img = va.read_image(&image).map_err(|e| e.to_string())?;
            let mine = read_all(m);
            check_bytes(&mine, ml, |p, row, c| il.at(&img, p, row, c).unwrap_or(0))
                .map_err(|e| format!("caller's mapping vs vaGetImage: {e}"))?;
            if visl_tiled {
                check_bytes(&mine, ml, visl_tiled_pattern).map_err(|e| format!("caller's mapping vs visl's tiled pattern: {e}"))?;
            }
            let (distinct, hash) = luma_stats(&img, &il);
            if distinct < 2 {
                return Err(format!("picture is uniformly {:#04x}: nothing was drawn", il.at(&img, 0, 0, 0).unwrap_or(0)));
            }
            hashes.insert(hash);
            Ok(format!("equal to vaGetImage, luma_values={distinct} hash={hash:016x}"))
        })();
        rep.line(cmd, &what, check);
        n += 1;
    }
    let _ = va.destroy_image(image.image_id);
    result?;
    let distinct = hashes.len();
    if visl_tiled {
        println!("{cmd} {tag} pictures differ: not expected (visl writes one fixed tiled pattern; {distinct} distinct of {n})");
    } else {
        rep.line(
            cmd,
            &format!("{tag} pictures differ"),
            if n < 2 || distinct >= 2 { Ok(format!("{distinct} distinct of {n}")) } else { Err(format!("all {n} pictures are equal")) },
        );
    }
    Ok(n)
}

/// Export each surface (composed layers, read-only) and map every object of it (MM21:
/// luma and chroma buffers); the views of (iii)/(ii).
fn export_views(va: &Display, surfaces: &[u32], exports: &mut Vec<Export>) -> Res<HashMap<u32, (Vec<Mapping>, Planes)>> {
    let mut views = HashMap::new();
    for &s in surfaces {
        let e = Export::take(va.export_surface(s)?);
        let planes = Planes::from_prime(&e.desc)?;
        views.insert(s, (e.maps()?, planes));
        exports.push(e);
    }
    Ok(views)
}

fn ids_of(r: &Rec) -> Vec<u32> {
    match r {
        Rec::Surfaces { ids, .. } => ids.to_vec(),
        _ => Vec::new(),
    }
}

pub fn early_export(args: &[String]) -> Res<()> {
    const CMD: &str = "early-export";
    let path = args.first().filter(|a| !a.starts_with("--")).ok_or("early-export needs a record file")?;
    let frames: usize = arg_value(args, "--frames")?.unwrap_or(usize::MAX);
    // `--visl-tiled-pattern`: visl on a tiled-only profile (see `replay_compare`).
    let visl_tiled = args.iter().any(|a| a == "--visl-tiled-pattern");
    let device: String = arg_value(args, "--device")?.unwrap_or_else(|| DEFAULT_DEVICE.to_string());
    let recs = load(path)?;
    let s = setup_of(&recs, frames)?;
    let va = Display::open(&device)?;
    let mut rep = Report::default();

    // (i) mpv's probe: 128x128 surfaces, no config or context, exported at once.
    let mut kinds = vec![("NV12", va::VA_RT_FORMAT_YUV420, va::VA_FOURCC_NV12)];
    if p010_listed(&va) {
        kinds.push(("P010", va::VA_RT_FORMAT_YUV420_10, va::VA_FOURCC_P010));
    } else {
        println!("{CMD} probe P010: skipped (no 10-bit config lists P010 surfaces)");
    }
    for (name, rt, fourcc) in kinds {
        let surf = va.create_surfaces(rt, 128, 128, fourcc, 1)?;
        for flags in [
            va::VA_EXPORT_SURFACE_SEPARATE_LAYERS | va::VA_EXPORT_SURFACE_READ_ONLY,
            va::VA_EXPORT_SURFACE_COMPOSED_LAYERS | va::VA_EXPORT_SURFACE_READ_ONLY,
        ] {
            let separate = flags & va::VA_EXPORT_SURFACE_SEPARATE_LAYERS != 0;
            let r = va
                .export_surface_flags(surf[0], flags)
                .map_err(|e| e.to_string())
                .and_then(|d| check_descriptor(&Export::take(d), fourcc, 128, 128, separate));
            rep.line(CMD, &format!("probe {name} 128x128 {}", flags_name(flags)), r);
        }
        va.destroy_surfaces(&surf)?;
    }

    // (ii) GStreamer: context without render targets, then surfaces exported before any decode.
    let mut total = 0;
    {
        let mut e = Engine::new(&va, false);
        e.step(&s.config)?;
        let Rec::Context { config, id, .. } = &s.context else { unreachable!() };
        let cfg = Engine::map(&e.configs, "config", *config)?;
        let ctx = va.create_context(cfg, s.width, s.height, &[])?;
        e.contexts.insert(*id, ctx);
        for r in &s.surfaces {
            e.step(r)?;
        }
        let surfaces: Vec<u32> = s.ids.iter().filter_map(|i| e.surfaces.get(i).copied()).collect();
        let mut exports = Vec::new();
        let r = export_views(&va, &surfaces, &mut exports)
            .and_then(|views| replay_compare(CMD, "gst", &mut e, &s, &views, visl_tiled, &mut rep).map(|n| (n, views)));
        let t = e.teardown();
        let (n, views) = r?;
        t?;
        drop(views);
        rep.line(
            CMD,
            "gst replay",
            if n > 0 {
                Ok(format!("{n} pictures, {} surfaces exported before decoding", surfaces.len()))
            } else {
                Err("no picture decoded".into())
            },
        );
        total += n;
    }

    // (iii) Adoption: surfaces exported before any context exists, then a context with them as targets.
    {
        let mut e = Engine::new(&va, false);
        for r in &s.surfaces {
            e.step(r)?;
        }
        let surfaces: Vec<u32> = s.ids.iter().filter_map(|i| e.surfaces.get(i).copied()).collect();
        let mut exports = Vec::new();
        let r = export_views(&va, &surfaces, &mut exports).and_then(|views| {
            e.step(&s.config)?;
            e.step(&s.context)?;
            replay_compare(CMD, "adopt", &mut e, &s, &views, visl_tiled, &mut rep).map(|n| (n, views))
        });
        let t = e.teardown();
        let (n, views) = r?;
        t?;
        drop(views);
        rep.line(
            CMD,
            "adopt replay",
            if n > 0 {
                Ok(format!("{n} pictures, {} surfaces exported before any context", surfaces.len()))
            } else {
                Err("no picture decoded".into())
            },
        );
        total += n;
    }
    let failed = rep.failed.len();
    rep.finish()?;
    println!("{CMD} ok {total} frames ({failed} failures)");
    Ok(())
}

/// vaPutImage checks on one surface of `fourcc`, `w`×`h`. `export_refused`: the surface's
/// layout has no DRM modifier (NV12_4L4), so its export must fail with
/// VA_STATUS_ERROR_UNSUPPORTED_MEMORY_TYPE (the export checks are then skipped).
#[allow(clippy::too_many_arguments)]
fn put_checks(va: &Display, rep: &mut Report, tag: &str, surface: u32, fourcc: u32, w: u32, h: u32, export_refused: bool) -> Res<()> {
    const CMD: &str = "put-image";
    let img1 = va.create_image(fourcc, w, h)?;
    let img2 = va.create_image(fourcc, w, h)?;
    let back = va.create_image(fourcc, w, h)?;
    let r = (|| -> Res<()> {
        let l = Planes::from_image(&img1)?;
        let bps = l.bps;
        va.write_image(&img1, |b| fill_bytes(b, &l, |p, r, c| pattern(1, bps, p, r, c)))?;
        let l2 = Planes::from_image(&img2)?;
        va.write_image(&img2, |b| fill_bytes(b, &l2, |p, r, c| pattern(2, bps, p, r, c)))?;
        let lb = Planes::from_image(&back)?;

        // Full frame.
        let put = va.put_image(surface, img1.image_id, (0, 0, w, h), (0, 0, w, h));
        rep.line(CMD, &format!("{tag} full frame vaPutImage"), put.as_ref().map(|_| String::new()).map_err(|e| e.to_string()));
        if put.is_err() {
            return Ok(());
        }
        let _ = va.sync_surface(surface);
        let full = |p: usize, r: usize, c: usize| pattern(1, bps, p, r, c);
        let got = va
            .get_image(surface, 0, 0, w, h, back.image_id)
            .map_err(|e| e.to_string())
            .and_then(|_| va.read_image(&back).map_err(|e| e.to_string()));
        rep.line(CMD, &format!("{tag} full frame vaGetImage"), got.and_then(|b| check_bytes(&b, &lb, full)).map(|_| "equal".into()));
        let export = va.export_surface(surface).map(Export::take).map_err(|e| e.to_string());
        let view = export.and_then(|e| {
            let pl = Planes::from_prime(&e.desc).map_err(|x| x.to_string())?;
            let m = e.maps().map_err(|x| x.to_string())?;
            Ok((e, m, pl))
        });
        let view = match (view, export_refused) {
            // A layout without a DRM modifier (NV12_4L4): vaExportSurfaceHandle must refuse.
            (Err(e), true) if e.contains("(0x24)") => {
                rep.line(CMD, &format!("{tag} export refused (no DRM modifier for the layout)"), Ok(e));
                return Ok(());
            }
            (Ok(_), true) => Err("export of a layout without DRM modifier succeeded".to_string()),
            (v, _) => v,
        };
        let r = view.as_ref().map_err(|e| e.clone()).and_then(|(_, m, pl)| check_bytes(&read_all(m), pl, full));
        rep.line(CMD, &format!("{tag} full frame export mmap"), r.map(|_| "equal".into()));

        // A sub-rectangle of the second image at an even offset, no scaling.
        let (sx, sy) = ((w / 8) & !1, (h / 8) & !1);
        let (rw, rh) = ((w / 2) & !1, (h / 2) & !1);
        let (dx, dy) = ((w / 4 + 2) & !1, (h / 4 + 2) & !1);
        let put = va.put_image(surface, img2.image_id, (sx as i32, sy as i32, rw, rh), (dx as i32, dy as i32, rw, rh));
        let what = format!("{tag} rect {rw}x{rh} from {sx},{sy} to {dx},{dy}");
        rep.line(CMD, &format!("{what} vaPutImage"), put.as_ref().map(|_| String::new()).map_err(|e| e.to_string()));
        if put.is_err() {
            return Ok(());
        }
        let _ = va.sync_surface(surface);
        let (sx, sy, rw, rh, dx, dy) = (sx as usize, sy as usize, rw as usize, rh as usize, dx as usize, dy as usize);
        let composite = |p: usize, r: usize, c: usize| {
            // Luma coordinates of this byte (chroma rows cover two luma rows).
            let (x, y) = (c / bps, if p == 0 { r } else { r * 2 });
            if (dx..dx + rw).contains(&x) && (dy..dy + rh).contains(&y) {
                let (r2, c2) = if p == 0 { (r - dy + sy, c - dx * bps + sx * bps) } else { (r - dy / 2 + sy / 2, c - dx * bps + sx * bps) };
                pattern(2, bps, p, r2, c2)
            } else {
                pattern(1, bps, p, r, c)
            }
        };
        let got = va
            .get_image(surface, 0, 0, w, h, back.image_id)
            .map_err(|e| e.to_string())
            .and_then(|_| va.read_image(&back).map_err(|e| e.to_string()));
        rep.line(CMD, &format!("{what} vaGetImage"), got.and_then(|b| check_bytes(&b, &lb, composite)).map(|_| "equal".into()));
        let r = view.as_ref().map_err(|e| e.clone()).and_then(|(_, m, pl)| check_bytes(&read_all(m), pl, composite));
        rep.line(CMD, &format!("{what} export mmap (fd exported before the put)"), r.map(|_| "equal".into()));
        Ok(())
    })();
    for i in [img1.image_id, img2.image_id, back.image_id] {
        let _ = va.destroy_image(i);
    }
    r
}

/// The test kernel's visl writes this into every picture of a tiled CAPTURE format
/// (scripts/vm/patches/0003-visl-tiled-pattern.patch): byte `col` of `row` of `plane`.
fn visl_tiled_pattern(plane: usize, row: usize, col: usize) -> u8 {
    (col * 3 + row * 5 + (col >> 4) * 29 + (row >> 3) * 41 + plane * 101) as u8
}

/// vaGetImage of a picture decoded into a tiled layout on the test kernel's visl: the
/// driver's detiled copy must equal visl's pattern byte for byte.
fn tiled_pattern_check(va: &Display, rep: &mut Report, surface: u32, w: u32, h: u32) -> Res<()> {
    const CMD: &str = "put-image";
    let img = va.create_image(va::VA_FOURCC_NV12, w, h)?;
    let l = Planes::from_image(&img)?;
    let got = va
        .get_image(surface, 0, 0, w, h, img.image_id)
        .map_err(|e| e.to_string())
        .and_then(|_| va.read_image(&img).map_err(|e| e.to_string()));
    rep.line(
        CMD,
        "decoded tiled picture vaGetImage",
        got.and_then(|b| check_bytes(&b, &l, visl_tiled_pattern)).map(|_| "equal to visl's tiled pattern".into()),
    );
    let _ = va.destroy_image(img.image_id);
    Ok(())
}

/// Calls that must fail with an error status (and return).
fn put_errors(va: &Display, rep: &mut Report, surface: u32, w: u32, h: u32) -> Res<()> {
    const CMD: &str = "put-image";
    let mut expect_error = |what: &str, r: Result<(), va::VaError>| {
        rep.line(
            CMD,
            &format!("error {what}"),
            match r {
                Ok(()) => Err("succeeded, expected an error status".into()),
                Err(e) => Ok(format!("{e}")),
            },
        )
    };
    let big = va.create_image(va::VA_FOURCC_NV12, w + 32, h + 32)?;
    expect_error("image larger than the surface", va.put_image(surface, big.image_id, (0, 0, w + 32, h + 32), (0, 0, w + 32, h + 32)));
    expect_error(
        "destination past the surface's right edge",
        va.put_image(surface, big.image_id, (0, 0, 64, 16), (w as i32 - 32, 0, 64, 16)),
    );
    expect_error(
        "source past the image's bottom edge",
        va.put_image(surface, big.image_id, (0, (h + 32 - 8) as i32, 16, 16), (0, 0, 16, 16)),
    );
    expect_error("scaling (32x32 to 64x64)", va.put_image(surface, big.image_id, (0, 0, 32, 32), (0, 0, 64, 64)));
    expect_error("negative destination", va.put_image(surface, big.image_id, (0, 0, 16, 16), (-16, 0, 16, 16)));
    let _ = va.destroy_image(big.image_id);
    let p010 = va.create_image(va::VA_FOURCC_P010, w, h)?;
    expect_error("P010 image into an NV12 surface", va.put_image(surface, p010.image_id, (0, 0, w, h), (0, 0, w, h)));
    let _ = va.destroy_image(p010.image_id);
    expect_error("unknown image", va.put_image(surface, 0x0a00_7fff, (0, 0, 16, 16), (0, 0, 16, 16)));
    let small = va.create_image(va::VA_FOURCC_NV12, 16, 16)?;
    expect_error("unknown surface", va.put_image(0x0400_7fff, small.image_id, (0, 0, 16, 16), (0, 0, 16, 16)));
    let _ = va.destroy_image(small.image_id);
    Ok(())
}

pub fn put_image(args: &[String]) -> Res<()> {
    const CMD: &str = "put-image";
    let record: Option<String> = arg_value(args, "--record")?;
    let device: String = arg_value(args, "--device")?.unwrap_or_else(|| DEFAULT_DEVICE.to_string());
    // The record decodes into a tiled layout of the test kernel's visl, which writes a
    // fixed pattern into every tiled picture; `--export-refused`: that layout has no DRM
    // modifier.
    let visl_tiled = args.iter().any(|a| a == "--visl-tiled-pattern");
    let export_refused = args.iter().any(|a| a == "--export-refused");
    let va = Display::open(&device)?;
    let mut rep = Report::default();
    let (w, h) = (160u32, 96u32);

    // A surface without a context, created first (its own frame).
    let lone = va.create_surfaces(va::VA_RT_FORMAT_YUV420, w, h, va::VA_FOURCC_NV12, 1)?;
    // Every layout gives it memory: its own frame (on MM21 one dma-buf per plane).
    put_checks(&va, &mut rep, "no-context NV12", lone[0], va::VA_FOURCC_NV12, w, h, false)?;
    put_errors(&va, &mut rep, lone[0], w, h)?;

    // A render target of a context, after decoding the record's first picture into it.
    let mut total = 1;
    if let Some(path) = record {
        let recs = load(&path)?;
        let s = setup_of(&recs, 1)?;
        let mut e = Engine::new(&va, false);
        let r = (|| -> Res<()> {
            let t = decode_setup(&mut e, &s)?;
            println!("{CMD} decoded one picture into surface {t:#x}");
            if visl_tiled {
                tiled_pattern_check(&va, &mut rep, t, s.width, s.height)?;
            }
            put_checks(&va, &mut rep, "decoded NV12", t, s.fourcc, s.width, s.height, export_refused)?;
            total += 1;
            Ok(())
        })();
        let td = e.teardown();
        r?;
        td?;
    } else {
        println!("{CMD} decoded: skipped (no --record)");
    }

    if p010_listed(&va) {
        let p = va.create_surfaces(va::VA_RT_FORMAT_YUV420_10, w, h, va::VA_FOURCC_P010, 1)?;
        put_checks(&va, &mut rep, "no-context P010", p[0], va::VA_FOURCC_P010, w, h, false)?;
        va.destroy_surfaces(&p)?;
        total += 1;
    } else {
        println!("{CMD} P010: skipped (no 10-bit config lists P010 surfaces)");
    }
    va.destroy_surfaces(&lone)?;
    let checks = rep.checks;
    rep.finish()?;
    println!("{CMD} ok {total} surfaces {checks} checks");
    Ok(())
}

/// The caller's buffers for `import`: a dma-buf per surface and the descriptor naming it.
struct Owned {
    fd: OwnedFd,
    desc: DrmPrimeDescriptor,
}

pub fn import(args: &[String]) -> Res<()> {
    const CMD: &str = "import";
    let path = args.first().filter(|a| !a.starts_with("--")).ok_or("import needs a record file")?;
    let frames: usize = arg_value(args, "--frames")?.unwrap_or(usize::MAX);
    let sources: String = arg_value(args, "--source")?.unwrap_or_else(|| "export,udmabuf".into());
    let device: String = arg_value(args, "--device")?.unwrap_or_else(|| DEFAULT_DEVICE.to_string());
    let recs = load(path)?;
    let s = setup_of(&recs, frames)?;
    let va = Display::open(&device)?;
    let mut rep = Report::default();
    let n_surfaces = s.ids.len();
    let Rec::Config { profile, entrypoint, .. } = s.config else { unreachable!() };
    let mut total = 0;

    for (k, source) in sources.split(',').enumerate() {
        // Bad layouts are checked once, on the first source's buffer (each refusal costs the
        // driver a format negotiation).
        let bad_layouts_due = k == 0;
        // The layout the device decodes into: exports of a first context's render targets.
        let cfg = va.create_config(profile, entrypoint)?;
        let first = va.create_surfaces(s.rt_format, s.width, s.height, s.fourcc, n_surfaces)?;
        let ctx = va.create_context(cfg, s.width, s.height, &first)?;
        // Read-write: the caller fills its buffers before importing them.
        let rw = va::VA_EXPORT_SURFACE_COMPOSED_LAYERS | va::VA_EXPORT_SURFACE_READ_ONLY | va::VA_EXPORT_SURFACE_WRITE_ONLY;
        let exports = first.iter().map(|&x| va.export_surface_flags(x, rw).map(Export::take)).collect::<Result<Vec<_>, _>>();
        va.destroy_context(ctx)?;
        va.destroy_surfaces(&first)?;
        let exports = exports?;
        let mut bufs: Vec<Owned> = Vec::new();
        for e in exports {
            let Export { desc, fds } = e;
            let fd = fds.into_iter().next().ok_or("export without fd")?;
            match source {
                "export" => bufs.push(Owned { fd, desc }),
                "udmabuf" => {
                    let (u, size) = sys::udmabuf(desc.objects[0].size as usize)?;
                    let mut d = desc;
                    d.objects[0].size = size as u32;
                    bufs.push(Owned { fd: u, desc: d });
                }
                other => return Err(format!("unknown --source {other} (export or udmabuf)").into()),
            }
        }
        // The caller's views, filled with 0x5a: a decode that misses them shows.
        let mut views = HashMap::new();
        let mut imported = Vec::new();
        let mut e = Engine::new(&va, false);
        e.configs.insert(
            match s.config {
                Rec::Config { id, .. } => id,
                _ => 0,
            },
            cfg,
        );
        let r = (|| -> Res<usize> {
            for (i, b) in bufs.iter_mut().enumerate() {
                b.desc.objects[0].fd = std::os::fd::AsRawFd::as_raw_fd(&b.fd);
                let m = Mapping::new(b.fd.as_fd(), b.desc.objects[0].size as usize, true)?;
                m.write(|x| x.fill(0x5a));
                let attribs =
                    [SurfaceAttrib::MemoryType(va::VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2), SurfaceAttrib::PrimeDescriptor(&b.desc)];
                let got = va.create_surfaces_with(s.rt_format, s.width, s.height, 1, &attribs);
                rep.line(
                    CMD,
                    &format!("{source} surface {i} vaCreateSurfaces (DRM PRIME 2)"),
                    got.as_ref().map(|v| format!("{:#x}", v[0])).map_err(|x| x.to_string()),
                );
                let id = got?[0];
                imported.push(id);
                e.surfaces.insert(s.ids[i], id);
                views.insert(id, (vec![m], Planes::from_prime(&b.desc)?));
            }
            e.step(&s.context)?;
            replay_compare(CMD, source, &mut e, &s, &views, false, &mut rep)
        })();
        let td = e.teardown();
        let n = r?;
        td?;
        rep.line(
            CMD,
            &format!("{source} replay"),
            if n > 0 { Ok(format!("{n} pictures into {} imported surfaces", imported.len())) } else { Err("no picture decoded".into()) },
        );
        total += n;

        // Bad layouts of the same buffer must be refused with an error status.
        if let Some(b) = bufs.first().filter(|_| bad_layouts_due) {
            let cfg = va.create_config(profile, entrypoint)?;
            let mut bad = Vec::new();
            let mut d = b.desc;
            d.layers[0].pitch = [s.width / 2; 4];
            bad.push(("pitch too small", d));
            let mut d = b.desc;
            d.fourcc = VA_FOURCC_YUY2;
            d.layers[0].drm_format = DRM_YUYV;
            d.layers[0].num_planes = 1;
            bad.push(("wrong fourcc (YUYV)", d));
            let mut d = b.desc;
            d.objects[0].size = d.layers[0].pitch[0] * s.height;
            bad.push(("object too small for the chroma plane", d));
            for (what, d) in bad {
                let attribs = [SurfaceAttrib::MemoryType(va::VA_SURFACE_ATTRIB_MEM_TYPE_DRM_PRIME_2), SurfaceAttrib::PrimeDescriptor(&d)];
                let r = match va.create_surfaces_with(s.rt_format, s.width, s.height, 1, &attribs) {
                    Err(x) => Ok(format!("refused at vaCreateSurfaces: {x}")),
                    Ok(ids) => {
                        let r = match va.create_context(cfg, s.width, s.height, &ids) {
                            Err(x) => Ok(format!("accepted by vaCreateSurfaces, refused at vaCreateContext: {x}")),
                            Ok(c) => {
                                let _ = va.destroy_context(c);
                                Err("accepted by vaCreateSurfaces and vaCreateContext".to_string())
                            }
                        };
                        let _ = va.destroy_surfaces(&ids);
                        r
                    }
                };
                rep.line(CMD, &format!("{source} bad layout: {what}"), r);
            }
            va.destroy_config(cfg)?;
        }
    }
    let checks = rep.checks;
    rep.finish()?;
    println!("{CMD} ok {total} frames {checks} checks");
    Ok(())
}

/// `va-client image-bench RECORD [--reps K]`: download throughput of one decoded picture
/// (the record's first) next to a plain memcpy of the same number of bytes in this process:
/// vaGetImage into an image, and vaDeriveImage, vaMapBuffer, a copy of the mapped bytes and
/// vaDestroyImage (what a client that derives does per frame). The three are timed in
/// turn K times; the ratios (memcpy time / operation time, 1.0 = memcpy speed) are the
/// medians of the per-round ratios. Times are the machine's (the guest's under TCG).
pub fn image_bench(args: &[String]) -> Res<()> {
    const CMD: &str = "image-bench";
    let path = args.first().filter(|a| !a.starts_with("--")).ok_or("usage: va-client image-bench RECORD [--reps K]")?;
    let reps: usize = arg_value(args, "--reps")?.unwrap_or(30).max(1);
    let device: String = arg_value(args, "--device")?.unwrap_or_else(|| DEFAULT_DEVICE.to_string());
    let va = Display::open(&device)?;
    let recs = load(path)?;
    let s = setup_of(&recs, 1)?;
    let mut e = Engine::new(&va, false);
    let r = (|| -> Res<()> {
        let t = decode_setup(&mut e, &s)?;
        va.sync_surface(t)?;
        let image = va.create_image(s.fourcc, s.width, s.height)?;
        let bytes = image.data_size as usize;
        let src = vec![0x5au8; bytes];
        let mut dst = vec![0u8; bytes];
        let mut derived_bytes = vec![0u8; bytes];
        let mut get_ratios = Vec::with_capacity(reps);
        let mut derive_ratios = Vec::with_capacity(reps);
        let mut memcpy_secs = Vec::with_capacity(reps);
        // One untimed round: first-touch page faults belong to no operation.
        va.get_image(t, 0, 0, s.width, s.height, image.image_id)?;
        dst.copy_from_slice(&src);
        for _ in 0..reps {
            let t0 = Instant::now();
            dst.copy_from_slice(&src);
            std::hint::black_box(&dst);
            let memcpy = t0.elapsed().as_secs_f64();
            let t0 = Instant::now();
            va.get_image(t, 0, 0, s.width, s.height, image.image_id)?;
            let get = t0.elapsed().as_secs_f64();
            let t0 = Instant::now();
            let d = va.derive_image(t)?;
            va.read_image_into(&d, &mut derived_bytes)?;
            va.destroy_image(d.image_id)?;
            let derive = t0.elapsed().as_secs_f64();
            memcpy_secs.push(memcpy);
            get_ratios.push(memcpy / get.max(1e-9));
            derive_ratios.push(memcpy / derive.max(1e-9));
        }
        va.destroy_image(image.image_id)?;
        let median = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        let mb_s = bytes as f64 / median(&mut memcpy_secs) / 1e6;
        println!(
            "{CMD} {}x{} {} ({bytes} bytes), {reps} rounds: vaGetImage {:.2}x memcpy, vaDeriveImage+map+copy {:.2}x memcpy (memcpy {mb_s:.0} MB/s here)",
            s.width,
            s.height,
            String::from_utf8_lossy(&s.fourcc.to_le_bytes()),
            median(&mut get_ratios),
            median(&mut derive_ratios)
        );
        Ok(())
    })();
    let td = e.teardown();
    r?;
    td?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nv12(width: usize, height: usize, pitch: usize) -> Planes {
        Planes { width, height, bps: 1, offsets: [0, pitch * height], pitches: [pitch, pitch], tiles: None }
    }

    #[test]
    fn tiled_exports_address_whole_tiles() {
        // NV12_32L32 as the driver exports it: one object, chroma after whole luma tile rows.
        let mut d = va::DrmPrimeDescriptor {
            fourcc: va::VA_FOURCC_NV12,
            width: 70,
            height: 40,
            num_objects: 1,
            num_layers: 1,
            ..Default::default()
        };
        d.objects[0] = va::DrmObject { fd: -1, size: 96 * 64 * 3 / 2, drm_format_modifier: DRM_FORMAT_MOD_ALLWINNER_TILED };
        d.layers[0] =
            va::DrmLayer { drm_format: DRM_NV12, num_planes: 2, object_index: [0; 4], offset: [0, 96 * 64, 0, 0], pitch: [96; 4] };
        let l = Planes::from_prime(&d).unwrap();
        // Row 33, byte 40: tile row 1 (96 * 32 bytes), tile 1 (1024), row 1 in it, byte 8.
        assert_eq!(l.index(0, 33, 40), 96 * 32 + 1024 + 32 + 8);
        assert_eq!(l.index(1, 0, 0), 96 * 64);
        assert_eq!(l.end(), 96 * 64 + 96 * 32);
        // MM21: two objects (luma, chroma at offset 0 of the second), 16x32 and 16x16 tiles.
        let mut m = d;
        m.num_objects = 2;
        m.objects[0] = va::DrmObject { fd: -1, size: 80 * 64, drm_format_modifier: DRM_FORMAT_MOD_MTK_16L_32S_TILE };
        m.objects[1] = va::DrmObject { fd: -1, size: 80 * 32, drm_format_modifier: DRM_FORMAT_MOD_MTK_16L_32S_TILE };
        m.layers[0] = va::DrmLayer { drm_format: DRM_NV12, num_planes: 2, object_index: [0, 1, 0, 0], offset: [0; 4], pitch: [80; 4] };
        let l = Planes::from_prime(&m).unwrap();
        assert_eq!(l.index(0, 33, 17), 80 * 32 + 512 + 16 + 1);
        assert_eq!(l.index(1, 17, 17), 80 * 64 + 80 * 16 + 256 + 16 + 1);
        let mut buf = vec![0u8; l.end()];
        fill_bytes(&mut buf, &l, visl_tiled_pattern);
        assert!(check_bytes(&buf, &l, visl_tiled_pattern).is_ok());
        // An unknown modifier has no reference layout.
        m.objects[0].drm_format_modifier = 0x0100_0000_0000_0004;
        assert!(Planes::from_prime(&m).is_err());
    }

    #[test]
    fn fill_then_check_finds_the_one_changed_byte() {
        let l = nv12(6, 4, 8);
        let mut buf = vec![0u8; l.end()];
        assert_eq!(l.end(), 8 * 4 + 8 + 6);
        fill_bytes(&mut buf, &l, |p, r, c| pattern(3, 1, p, r, c));
        assert!(check_bytes(&buf, &l, |p, r, c| pattern(3, 1, p, r, c)).is_ok());
        // Padding bytes past the visible width are not compared.
        buf[7] ^= 0xff;
        assert!(check_bytes(&buf, &l, |p, r, c| pattern(3, 1, p, r, c)).is_ok());
        buf[l.offsets[1] + 8 + 5] ^= 1;
        let e = check_bytes(&buf, &l, |p, r, c| pattern(3, 1, p, r, c)).unwrap_err();
        assert!(e.starts_with("1 bytes differ, first at plane 1 row 1 byte 5"), "{e}");
        assert!(check_bytes(&buf[..l.end() - 1], &l, |_, _, _| 0).is_err());
    }

    #[test]
    fn p010_pattern_keeps_ten_bits_high() {
        for c in (0..64).step_by(2) {
            let w = u16::from_le_bytes([pattern(5, 2, 0, 3, c), pattern(5, 2, 0, 3, c + 1)]);
            assert_eq!(w & 0x3f, 0);
        }
        // Two seeds differ somewhere (the sub-rectangle check relies on it).
        assert!((0..64).any(|c| pattern(1, 1, 0, 0, c) != pattern(2, 1, 0, 0, c)));
    }

    #[test]
    fn luma_stats_see_uniform_pictures() {
        let l = nv12(4, 2, 4);
        let flat = vec![0x10u8; l.end()];
        assert_eq!(luma_stats(&flat, &l).0, 1);
        let mut drawn = flat.clone();
        drawn[5] = 0xeb;
        assert_eq!(luma_stats(&drawn, &l).0, 2);
        assert_ne!(luma_stats(&drawn, &l).1, luma_stats(&flat, &l).1);
    }
}
