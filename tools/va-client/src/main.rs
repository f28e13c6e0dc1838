//! va-client: a test client for the v4l2_request VA driver, through the real
//! libva on a DRM render node.
//!
//! ```text
//! va-client replay RECORD [--export-every-frame | --export-frames A-B,...] [--fence-hold N] [--fence-delay-ms T]
//!                         [--frames M] [--device PATH]
//! va-client churn N [--record RECORD] [--decode-every K] [--pictures P] [--warmup W]
//!                   [--device PATH]
//! ```
//!
//! `replay` re-creates the configs, surfaces and contexts of a
//! `LIBVA_V4L2_REQUEST_RECORD` log in the recorded order (the returned IDs must
//! equal the recorded ones: surface IDs inside parameter buffers depend on it),
//! replays every picture (vaCreateBuffer with the recorded bytes, Begin /
//! Render / End, vaSyncSurface) and optionally exports every decoded frame
//! (DRM PRIME 2, composed layers, read-only). With `--fence-hold N` or
//! `--fence-delay-ms T` a sw_sync fence is attached to each export as a
//! reader (DMA_BUF_IOCTL_IMPORT_SYNC_FILE, DMA_BUF_SYNC_READ) and signalled N
//! frames later, or by a second thread T ms after it was attached. Prints one
//! line per frame, then `frames decoded N`:
//!
//! ```text
//! frame I surface S exported fd=F fence_attached_at=SECS signalled_at=SECS
//! ```
//!
//! (CLOCK_REALTIME seconds with microseconds, strace -ttt's clock;
//! `fence_attached_at` is taken after the import returned, `signalled_at`
//! just before the timeline was advanced, so the fence was certainly pending
//! between the two.)
//!
//! `fuzz` (`va-client fuzz RECORD [--rounds R] [--seed S] [--frames M]`) first
//! checks call-order and ID abuse against the status codes the driver must return
//! (unknown context/surface/buffer/config, render or end without begin, a
//! truncated picture parameter buffer), then replays the first M pictures of
//! RECORD R times with deterministic damage: bytes of parameter and IQ buffers
//! flipped, buffers truncated, slice data dropped or pictures ended early. Every
//! call may fail, but each must return (no crash, no hang); prints the status
//! counts and `fuzz rounds=R pictures=P` at the end.
//!
//! `early-export RECORD`, `put-image [--record RECORD [--visl-tiled-pattern] [--export-refused]]` and `import RECORD`
//! check surface memory against the VA-API contract (see `surfaces.rs`):
//! surfaces exported before any decode (mpv's probe, GStreamer's context
//! without render targets, surfaces adopted by a later context) show the
//! pictures vaGetImage reads; vaPutImage writes what vaGetImage and an export
//! read back; surfaces imported from the caller's dma-bufs (DRM PRIME 2) are
//! decoded into those buffers, and bad layouts are refused. One line per check,
//! exit status 1 when any failed.
//!
//! `limits` (`va-client limits PROFILE [--device PATH]`, PROFILE a VAProfile number) prints
//! the config's size limits as the driver reports them and what vaCreateContext says at and
//! beyond them:
//!
//! ```text
//! limits profile=P max_attrib=WxH surface_min=WxH surface_max=WxH
//! limits context WxH: ok | VA status
//! ```
//!
//! for a context inside the range (the maximum, capped at 4096x2304 to bound the memory the
//! device allocates), one just wider, one just taller than the maximum and one just below
//! the minimum (the out-of-range contexts use surfaces of the inside size: the size check
//! comes first).
//!
//! `image-bench RECORD [--reps K]` decodes the record's first picture and prints the
//! download throughput of vaGetImage and of vaDeriveImage + map + copy as ratios to a
//! memcpy of the same bytes (scripts/bench runs it).
//!
//! `churn` runs N decode sessions in one process (config, surfaces, context;
//! every K-th session decodes the first P pictures of RECORD with its surface
//! IDs remapped; one surface exported and its fds closed; everything
//! destroyed) and compares open fds, mappings and V4L2 buffer mappings after
//! W warm-up sessions with the counts at the end. Exit status 1 on growth.

mod record;
mod surfaces;
mod sys;
mod va;

use record::Rec;
use std::collections::HashMap;
use std::error::Error;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use va::Display;

type Res<T> = Result<T, Box<dyn Error>>;

const DEFAULT_DEVICE: &str = "/dev/dri/renderD128";

/// Replays records, creating objects and mapping recorded IDs to the ones returned.
struct Engine<'a> {
    va: &'a Display,
    /// Returned IDs must equal the recorded ones (replay); otherwise they are remapped (churn).
    strict: bool,
    configs: HashMap<u32, u32>,
    surfaces: HashMap<u32, u32>,
    contexts: HashMap<u32, u32>,
    /// Buffers of the open picture, destroyed after vaEndPicture.
    buffers: Vec<u32>,
    target: Option<u32>,
    pictures: usize,
}

impl<'a> Engine<'a> {
    fn new(va: &'a Display, strict: bool) -> Self {
        Engine {
            va,
            strict,
            configs: HashMap::new(),
            surfaces: HashMap::new(),
            contexts: HashMap::new(),
            buffers: Vec::new(),
            target: None,
            pictures: 0,
        }
    }

    fn same(&self, what: &str, recorded: u32, got: u32) -> Res<()> {
        if self.strict && recorded != got {
            return Err(format!(
                "{what} id {got:#x} differs from the recorded {recorded:#x}: the replay is not faithful \
                 (another driver, or calls the record does not hold)"
            )
            .into());
        }
        Ok(())
    }

    fn map(m: &HashMap<u32, u32>, what: &str, id: u32) -> Res<u32> {
        m.get(&id).copied().ok_or_else(|| format!("record names unknown {what} {id:#x}").into())
    }

    /// Rewrite recorded surface IDs inside parameter buffers (only when IDs were remapped).
    fn remap_bytes(&self, type_: u32, bytes: &[u8]) -> Vec<u8> {
        let mut v = bytes.to_vec();
        let identity = self.surfaces.iter().all(|(a, b)| a == b);
        if identity || !(type_ == va::VA_PICTURE_PARAMETER_BUFFER || type_ == va::VA_SLICE_PARAMETER_BUFFER) {
            return v;
        }
        for w in v.chunks_exact_mut(4) {
            let x = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            if let Some(&y) = self.surfaces.get(&x) {
                w.copy_from_slice(&y.to_le_bytes());
            }
        }
        v
    }

    /// Run one record; returns the target surface when a picture was decoded (synced).
    fn step(&mut self, rec: &Rec) -> Res<Option<u32>> {
        let va = self.va;
        match rec {
            Rec::Init { .. } => {}
            Rec::Config { profile, entrypoint, id } => {
                let got = va.create_config(*profile, *entrypoint)?;
                self.configs.insert(*id, got);
                self.same("config", *id, got)?;
            }
            Rec::Surfaces { width, height, rt_format, fourcc, ids } => {
                let got = va.create_surfaces(*rt_format, *width, *height, *fourcc, ids.len())?;
                for (a, b) in ids.iter().zip(&got) {
                    self.surfaces.insert(*a, *b);
                }
                for (a, b) in ids.iter().zip(&got) {
                    self.same("surface", *a, *b)?;
                }
            }
            Rec::Context { config, width, height, id, targets } => {
                let cfg = Self::map(&self.configs, "config", *config)?;
                let t = targets.iter().map(|s| Self::map(&self.surfaces, "surface", *s)).collect::<Res<Vec<_>>>()?;
                let got = va.create_context(cfg, *width, *height, &t)?;
                self.contexts.insert(*id, got);
                self.same("context", *id, got)?;
            }
            Rec::Begin { context, target } => {
                let c = Self::map(&self.contexts, "context", *context)?;
                let s = Self::map(&self.surfaces, "surface", *target)?;
                va.begin_picture(c, s)?;
                self.target = Some(s);
            }
            Rec::Buffer { context, buf_type, element_size, num_elements, bytes } => {
                let c = Self::map(&self.contexts, "context", *context)?;
                let data = self.remap_bytes(*buf_type, bytes);
                let id = va.render_buffer(c, *buf_type, *element_size, *num_elements, &data)?;
                self.buffers.push(id);
            }
            Rec::End { context } => {
                let c = Self::map(&self.contexts, "context", *context)?;
                let r = va.end_picture(c);
                for b in self.buffers.drain(..) {
                    va.destroy_buffer(b)?;
                }
                r?;
                let s = self.target.take().ok_or("vaEndPicture without vaBeginPicture in the record")?;
                va.sync_surface(s)?;
                self.pictures += 1;
                return Ok(Some(s));
            }
            Rec::DestroyConfig { id } => {
                let c = self.configs.remove(id).ok_or_else(|| format!("record destroys unknown config {id:#x}"))?;
                va.destroy_config(c)?;
            }
            Rec::DestroySurfaces { ids } => {
                let mut v = Vec::new();
                for id in ids.iter() {
                    v.push(self.surfaces.remove(id).ok_or_else(|| format!("record destroys unknown surface {id:#x}"))?);
                }
                va.destroy_surfaces(&v)?;
            }
            Rec::DestroyContext { id } => {
                let c = self.contexts.remove(id).ok_or_else(|| format!("record destroys unknown context {id:#x}"))?;
                va.destroy_context(c)?;
            }
        }
        Ok(None)
    }

    /// Destroy every object still alive (contexts, surfaces, configs).
    fn teardown(&mut self) -> Res<()> {
        let mut first: Option<Box<dyn Error>> = None;
        for b in self.buffers.drain(..) {
            if let Err(e) = self.va.destroy_buffer(b) {
                first.get_or_insert(e.into());
            }
        }
        for (_, c) in self.contexts.drain() {
            if let Err(e) = self.va.destroy_context(c) {
                first.get_or_insert(e.into());
            }
        }
        let s: Vec<u32> = self.surfaces.drain().map(|(_, v)| v).collect();
        if !s.is_empty() {
            if let Err(e) = self.va.destroy_surfaces(&s) {
                first.get_or_insert(e.into());
            }
        }
        for (_, c) in self.configs.drain() {
            if let Err(e) = self.va.destroy_config(c) {
                first.get_or_insert(e.into());
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Export `surface` and take its fds; returns (all fds, first fd number, layout
/// summary: fourcc, plane pitches/offsets, object size and DRM modifier).
fn export(va: &Display, surface: u32) -> Res<(Vec<OwnedFd>, i32, String)> {
    let d = va.export_surface(surface)?;
    let l = &d.layers[0];
    let mut layout = format!(
        "fourcc={:#x} {}x{} planes={} pitch={},{} offset={},{} size={} modifier={:#x}",
        d.fourcc,
        d.width,
        d.height,
        l.num_planes,
        l.pitch[0],
        l.pitch[1],
        l.offset[0],
        l.offset[1],
        d.objects[0].size,
        d.objects[0].drm_format_modifier
    );
    if d.num_objects > 1 {
        // One dma-buf per plane (MM21): which object each plane is in, and the second's size and modifier.
        layout += &format!(
            " objects={} object_index={},{} size1={} modifier1={:#x}",
            d.num_objects, l.object_index[0], l.object_index[1], d.objects[1].size, d.objects[1].drm_format_modifier
        );
    }
    let n = (d.num_objects as usize).min(d.objects.len());
    let fds: Vec<OwnedFd> = d.objects[..n].iter().filter_map(|o| sys::own_fd(o.fd)).collect();
    if fds.is_empty() || d.num_layers != 1 {
        return Err(format!("export of surface {surface:#x}: {} objects, {} layers", d.num_objects, d.num_layers).into());
    }
    let first = fds[0].as_raw_fd();
    Ok((fds, first, layout))
}

struct Frame {
    surface: u32,
    fd: Option<i32>,
    layout: String,
    attached: Option<f64>,
    signalled: Option<f64>,
}

fn arg_value<T: std::str::FromStr>(args: &[String], name: &str) -> Res<Option<T>> {
    match args.iter().position(|a| a == name) {
        Some(i) => {
            let v = args.get(i + 1).ok_or_else(|| format!("{name} needs a value"))?;
            Ok(Some(v.parse().map_err(|_| format!("bad value for {name}: {v}"))?))
        }
        None => Ok(None),
    }
}

/// `record-info RECORD`: what the record holds, read with the shared
/// `va-record` parser (the E2E scripts ask this instead of parsing the format
/// again): pictures (END records) of the first driver instance, instances, and
/// records of the first instance.
fn record_info(args: &[String]) -> Res<()> {
    let path = args.first().ok_or("record-info needs a RECORD")?;
    let data = std::fs::read(path).map_err(|e| format!("read {path}: {e}"))?;
    let (recs, instances) = record::first_instance(record::parse(&data)?);
    let pictures = recs.iter().filter(|r| matches!(r, Rec::End { .. })).count();
    println!("record-info pictures={pictures} instances={instances} records={}", recs.len());
    Ok(())
}

fn load(path: &str) -> Res<Vec<Rec>> {
    let data = std::fs::read(path).map_err(|e| format!("read {path}: {e}"))?;
    let all = record::parse(&data)?;
    let pid = all.iter().find_map(|r| match r {
        Rec::Init { pid } => Some(*pid),
        _ => None,
    });
    let (recs, instances) = record::first_instance(all);
    if instances > 1 {
        eprintln!("va-client: {path} holds {instances} driver instances; using the first (pid {pid:?})");
    }
    Ok(recs)
}

/// `--export-frames A-B[,C-D...]`: the frames (0-based, inclusive) to export.
fn export_ranges(value: Option<&str>) -> Res<Vec<std::ops::RangeInclusive<usize>>> {
    let Some(v) = value else { return Ok(Vec::new()) };
    v.split(',')
        .map(|r| {
            let (a, b) = r.split_once('-').ok_or_else(|| format!("--export-frames: {r:?} is not A-B"))?;
            Ok(a.trim().parse::<usize>()?..=b.trim().parse::<usize>()?)
        })
        .collect()
}

fn replay(args: &[String]) -> Res<()> {
    let path = args.first().filter(|a| !a.starts_with("--")).ok_or("replay needs a record file")?;
    let hold: Option<usize> = arg_value(args, "--fence-hold")?;
    let delay: Option<u64> = arg_value(args, "--fence-delay-ms")?;
    let max_frames: Option<usize> = arg_value(args, "--frames")?;
    let device: String = arg_value(args, "--device")?.unwrap_or_else(|| DEFAULT_DEVICE.to_string());
    let fences = hold.is_some() || delay.is_some();
    let every = fences || args.iter().any(|a| a == "--export-every-frame");
    let ranges = export_ranges(arg_value::<String>(args, "--export-frames")?.as_deref())?;
    let exporting = |i: usize| every || ranges.iter().any(|r| r.contains(&i));
    let recs = load(path)?;

    let va = Display::open(&device)?;
    eprintln!("va-client: driver {:?}", va.vendor);
    let timeline = if fences { Some(Arc::new(sys::Timeline::open()?)) } else { None };
    let signalled: Arc<Mutex<HashMap<usize, f64>>> = Arc::new(Mutex::new(HashMap::new()));
    let mut held: std::collections::VecDeque<(usize, Vec<OwnedFd>)> = Default::default();
    // The delayed signaller: signals fences in order, each at its deadline.
    let (tx, signaller) = match (delay, &timeline) {
        (Some(_), Some(tl)) => {
            let (tx, rx) = mpsc::channel::<(usize, Instant, Vec<OwnedFd>)>();
            let tl = tl.clone();
            let sig = signalled.clone();
            let h = std::thread::spawn(move || -> std::io::Result<()> {
                for (i, deadline, fds) in rx {
                    let now = Instant::now();
                    if deadline > now {
                        std::thread::sleep(deadline - now);
                    }
                    let t = sys::now();
                    tl.signal_one()?;
                    sig.lock().unwrap_or_else(|p| p.into_inner()).insert(i, t);
                    drop(fds);
                }
                Ok(())
            });
            (Some(tx), Some(h))
        }
        _ => (None, None),
    };

    let mut engine = Engine::new(&va, true);
    let mut frames: Vec<Frame> = Vec::new();
    let mut result: Res<()> = Ok(());
    for rec in &recs {
        if matches!(rec, Rec::Begin { .. }) && max_frames.is_some_and(|m| frames.len() >= m) {
            break;
        }
        let surface = match engine.step(rec) {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            Err(e) => {
                result = Err(format!("frame {}: {e}", frames.len()).into());
                break;
            }
        };
        let i = frames.len();
        let mut f = Frame { surface, fd: None, layout: String::new(), attached: None, signalled: None };
        if exporting(i) {
            let (fds, first, layout) = match export(&va, surface) {
                Ok(v) => v,
                Err(e) => {
                    result = Err(format!("frame {i}: {e}").into());
                    break;
                }
            };
            f.fd = Some(first);
            f.layout = layout;
            if let Some(tl) = &timeline {
                let attach = tl.create_fence().and_then(|fence| sys::attach_read_fence(fds[0].as_fd(), fence.as_fd()));
                if let Err(e) = attach {
                    result = Err(format!("frame {i}: attach sw_sync fence: {e}").into());
                    break;
                }
                let t = sys::now();
                f.attached = Some(t);
                if let (Some(ms), Some(tx)) = (delay, &tx) {
                    let _ = tx.send((i, Instant::now() + Duration::from_millis(ms), fds));
                } else {
                    held.push_back((i, fds));
                }
            }
            // Without fences the fds close here.
        }
        frames.push(f);
        if let (Some(n), Some(tl)) = (hold, &timeline) {
            if delay.is_none() {
                while held.len() > n {
                    let (j, fds) = held.pop_front().expect("non-empty");
                    let t = sys::now();
                    if let Err(e) = tl.signal_one() {
                        result = Err(format!("signal fence of frame {j}: {e}").into());
                    }
                    frames[j].signalled = Some(t);
                    drop(fds);
                }
            }
        }
    }
    // Signal whatever is still held, then let the delayed signaller finish.
    if let Some(tl) = &timeline {
        for (j, fds) in held.drain(..) {
            let t = sys::now();
            if let Err(e) = tl.signal_one() {
                eprintln!("va-client: signal fence of frame {j}: {e}");
            }
            frames[j].signalled = Some(t);
            drop(fds);
        }
    }
    drop(tx);
    if let Some(h) = signaller {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = result.and(Err(format!("fence signaller: {e}").into())),
            Err(_) => result = result.and(Err("fence signaller panicked".into())),
        }
    }
    for (j, t) in signalled.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        if let Some(f) = frames.get_mut(*j) {
            f.signalled = Some(*t);
        }
    }
    if let Err(e) = engine.teardown() {
        result = result.and(Err(format!("teardown: {e}").into()));
    }
    drop(engine);
    drop(va);
    let ts = |t: Option<f64>| t.map(|t| format!("{t:.6}")).unwrap_or_else(|| "-".into());
    for (i, f) in frames.iter().enumerate() {
        match f.fd {
            Some(fd) => println!(
                "frame {i} surface {:#x} exported fd={fd} fence_attached_at={} signalled_at={} {}",
                f.surface,
                ts(f.attached),
                ts(f.signalled),
                f.layout
            ),
            None => println!("frame {i} surface {:#x} decoded", f.surface),
        }
    }
    println!("frames decoded {}", frames.len());
    result
}

fn churn(args: &[String]) -> Res<()> {
    let n: usize = args.first().ok_or("churn needs a session count")?.parse().map_err(|_| "bad session count")?;
    let record: Option<String> = arg_value(args, "--record")?;
    let every: usize = arg_value(args, "--decode-every")?.unwrap_or(0);
    let pictures: usize = arg_value(args, "--pictures")?.unwrap_or(2);
    let warmup: usize = arg_value(args, "--warmup")?.unwrap_or(3);
    let device: String = arg_value(args, "--device")?.unwrap_or_else(|| DEFAULT_DEVICE.to_string());

    // Setup records (up to the first picture) and the first `pictures` pictures.
    let (setup, pics) = match &record {
        Some(p) => {
            let recs = load(p)?;
            let first_begin = recs.iter().position(|r| matches!(r, Rec::Begin { .. })).unwrap_or(recs.len());
            let setup = recs[..first_begin].to_vec();
            let mut pics = Vec::new();
            let mut ends = 0;
            for r in &recs[first_begin..] {
                if ends >= pictures {
                    break;
                }
                if matches!(r, Rec::Begin { .. } | Rec::Buffer { .. } | Rec::End { .. }) {
                    pics.push(r.clone());
                }
                if matches!(r, Rec::End { .. }) {
                    ends += 1;
                }
            }
            (setup, pics)
        }
        None => (
            vec![
                Rec::Config { profile: va::VA_PROFILE_H264_MAIN, entrypoint: va::VA_ENTRYPOINT_VLD, id: 1 },
                Rec::Surfaces { width: 176, height: 144, rt_format: va::VA_RT_FORMAT_YUV420, fourcc: 0, ids: vec![11, 12, 13, 14].into() },
                Rec::Context { config: 1, width: 176, height: 144, id: 21, targets: vec![11, 12, 13, 14].into() },
            ],
            Vec::new(),
        ),
    };

    let va = Display::open(&device)?;
    let mut decoded = 0usize;
    let mut exports = 0usize;
    // Counts taken inside one session (objects alive): shows what the counters see.
    let mut during: Option<sys::Resources> = None;
    let mut session = |k: usize, probe: bool| -> Res<()> {
        let mut e = Engine::new(&va, false);
        let r = (|| -> Res<()> {
            for r in &setup {
                e.step(r)?;
            }
            let mut last = None;
            // The probed session decodes too: buffers exist only once a picture needs them.
            if every > 0 && (k.is_multiple_of(every) || probe) && !pics.is_empty() {
                for r in &pics {
                    if let Some(s) = e.step(r)? {
                        last = Some(s);
                    }
                }
                decoded += 1;
            }
            let s = match last.or_else(|| e.surfaces.values().min().copied()) {
                Some(s) => s,
                None => return Err("no surface to export".into()),
            };
            let (fds, _, _) = export(&va, s)?;
            if probe {
                during = Some(sys::resources());
            }
            drop(fds);
            exports += 1;
            Ok(())
        })();
        let t = e.teardown();
        r.and(t).map_err(|err| format!("session {k}: {err}").into())
    };
    for k in 0..warmup {
        session(k, false)?;
    }
    let before = sys::resources();
    let t0 = Instant::now();
    for k in 0..n {
        session(k, k + 1 == n)?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let after = sys::resources();
    println!(
        "churn sessions={n} fds before={} after={} maps before={} after={} video_maps before={} after={} \
         video_fds before={} after={} media_fds before={} after={} dmabuf_fds before={} after={} \
         decoded_sessions={decoded} exports={exports} seconds={secs:.1} \
         in_session: fds={} video_fds={} media_fds={} dmabuf_fds={} video_maps={}",
        before.fds,
        after.fds,
        before.maps,
        after.maps,
        before.video_maps,
        after.video_maps,
        before.video_fds,
        after.video_fds,
        before.media_fds,
        after.media_fds,
        before.dmabuf_fds,
        after.dmabuf_fds,
        during.as_ref().map_or(0, |d| d.fds),
        during.as_ref().map_or(0, |d| d.video_fds),
        during.as_ref().map_or(0, |d| d.media_fds),
        during.as_ref().map_or(0, |d| d.dmabuf_fds),
        during.as_ref().map_or(0, |d| d.video_maps),
    );
    if after.fds > before.fds || after.maps > before.maps || after.video_maps > before.video_maps {
        return Err(format!("resources grew over {n} sessions: before {before:?}, after {after:?}").into());
    }
    Ok(())
}

/// xorshift64*: deterministic damage without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const VA_STATUS_ERROR_INVALID_CONFIG: i32 = 0x04;
const VA_STATUS_ERROR_INVALID_CONTEXT: i32 = 0x05;
const VA_STATUS_ERROR_INVALID_SURFACE: i32 = 0x06;
const VA_STATUS_ERROR_INVALID_BUFFER: i32 = 0x07;
const VA_STATUS_ERROR_INVALID_PARAMETER: i32 = 0x12;
const VA_IQ_MATRIX_BUFFER: u32 = 1;
const VA_SLICE_DATA_BUFFER: u32 = 5;

fn expect_status(what: &str, r: Result<(), va::VaError>, want: i32, failures: &mut Vec<String>) {
    match r {
        Err(e) if e.status == want => println!("abuse {what}: {e} (as expected)"),
        Err(e) => failures.push(format!("{what}: {e}, expected status {want:#x}")),
        Ok(()) => failures.push(format!("{what}: succeeded, expected status {want:#x}")),
    }
}

fn fuzz(args: &[String]) -> Res<()> {
    let path = args.first().ok_or("fuzz needs a record file")?;
    let rounds: usize = arg_value(args, "--rounds")?.unwrap_or(20);
    let seed: u64 = arg_value(args, "--seed")?.unwrap_or(0x5eed_1234_abcd_ef01);
    let frames: usize = arg_value(args, "--frames")?.unwrap_or(8);
    let device: String = arg_value(args, "--device")?.unwrap_or_else(|| DEFAULT_DEVICE.to_string());
    let recs = load(path)?;
    let first_begin = recs.iter().position(|r| matches!(r, Rec::Begin { .. })).ok_or("record has no picture")?;
    let setup = &recs[..first_begin];
    let mut pics: Vec<Vec<Rec>> = Vec::new();
    for r in &recs[first_begin..] {
        match r {
            Rec::Begin { .. } => pics.push(vec![r.clone()]),
            Rec::Buffer { .. } | Rec::End { .. } => {
                if let Some(p) = pics.last_mut() {
                    p.push(r.clone());
                }
            }
            _ => {}
        }
        if pics.len() > frames {
            pics.pop();
            break;
        }
    }
    let va = Display::open(&device)?;

    // 1. Call order and IDs: exact status codes.
    let mut failures = Vec::new();
    {
        let mut e = Engine::new(&va, false);
        for r in setup {
            e.step(r)?;
        }
        let (&_, &ctx) = e.contexts.iter().next().ok_or("record has no context")?;
        let (&_, &surf) = e.surfaces.iter().next().ok_or("record has no surface")?;
        expect_status("vaEndPicture without vaBeginPicture", va.end_picture(ctx), VA_STATUS_ERROR_INVALID_PARAMETER, &mut failures);
        expect_status(
            "vaRenderPicture without vaBeginPicture",
            va.render_buffer(ctx, va::VA_PICTURE_PARAMETER_BUFFER, 4, 1, &[0; 4]).map(|b| {
                let _ = va.destroy_buffer(b);
            }),
            VA_STATUS_ERROR_INVALID_PARAMETER,
            &mut failures,
        );
        expect_status(
            "vaBeginPicture on an unknown context",
            va.begin_picture(0x0200_7fff, surf),
            VA_STATUS_ERROR_INVALID_CONTEXT,
            &mut failures,
        );
        expect_status(
            "vaBeginPicture on an unknown surface",
            va.begin_picture(ctx, 0x0400_7fff),
            VA_STATUS_ERROR_INVALID_SURFACE,
            &mut failures,
        );
        expect_status("vaSyncSurface of an unknown surface", va.sync_surface(0x0400_7fff), VA_STATUS_ERROR_INVALID_SURFACE, &mut failures);
        expect_status("vaSyncSurface of a context id", va.sync_surface(ctx), VA_STATUS_ERROR_INVALID_SURFACE, &mut failures);
        expect_status(
            "vaDestroyBuffer of an unknown buffer",
            va.destroy_buffer(0x0800_7fff),
            VA_STATUS_ERROR_INVALID_BUFFER,
            &mut failures,
        );
        expect_status(
            "vaDestroyConfig of an unknown config",
            va.destroy_config(0x0100_7fff),
            VA_STATUS_ERROR_INVALID_CONFIG,
            &mut failures,
        );
        expect_status(
            "vaExportSurfaceHandle of an unknown surface",
            va.export_surface(0x0400_7fff).map(|_| ()),
            VA_STATUS_ERROR_INVALID_SURFACE,
            &mut failures,
        );
        // A truncated picture parameter buffer: EndPicture refuses it.
        va.begin_picture(ctx, surf)?;
        let b = va.render_buffer(ctx, va::VA_PICTURE_PARAMETER_BUFFER, 8, 1, &[0; 8])?;
        expect_status(
            "vaEndPicture with an 8-byte picture parameter buffer",
            va.end_picture(ctx),
            VA_STATUS_ERROR_INVALID_BUFFER,
            &mut failures,
        );
        va.destroy_buffer(b)?;
        e.teardown()?;
    }

    // 2. Damaged replays.
    let mut rng = Rng(seed | 1);
    let mut statuses: std::collections::BTreeMap<String, usize> = Default::default();
    let mut note = |r: Result<(), Box<dyn Error>>| {
        let key = match r {
            Ok(()) => "ok".to_string(),
            Err(e) => match e.downcast_ref::<va::VaError>() {
                Some(v) => format!("{}:{:#x}", v.call, v.status),
                None => format!("other:{e}"),
            },
        };
        *statuses.entry(key).or_insert(0) += 1;
    };
    let mut pictures = 0usize;
    for _ in 0..rounds {
        let mut e = Engine::new(&va, false);
        for r in setup {
            e.step(r)?;
        }
        for pic in &pics {
            let mode = rng.below(6);
            let mut began = None;
            for r in pic {
                match r {
                    Rec::Begin { .. } => {
                        let res = e.step(r).map(|_| ());
                        if res.is_ok() {
                            began = e.target;
                        }
                        note(res);
                    }
                    Rec::Buffer { context, buf_type, element_size, num_elements, bytes } => {
                        let mut b = bytes.to_vec();
                        let (mut es, mut ne) = (*element_size, *num_elements);
                        let param =
                            matches!(*buf_type, va::VA_PICTURE_PARAMETER_BUFFER | va::VA_SLICE_PARAMETER_BUFFER | VA_IQ_MATRIX_BUFFER);
                        match mode {
                            0 | 1 if param && !b.is_empty() => {
                                for _ in 0..1 + rng.below(8) {
                                    let i = rng.below(b.len());
                                    b[i] ^= 1 << rng.below(8);
                                }
                            }
                            2 if param && !b.is_empty() => {
                                let i = rng.below(b.len());
                                b[i] = rng.next() as u8;
                                b.truncate(rng.below(b.len()));
                                es = b.len() as u32;
                                ne = 1;
                            }
                            3 if *buf_type == VA_SLICE_DATA_BUFFER => continue, // slice data dropped
                            4 if *buf_type == VA_SLICE_DATA_BUFFER && !b.is_empty() => {
                                let n = b.len();
                                for _ in 0..1 + rng.below(16) {
                                    b[rng.below(n)] = rng.next() as u8;
                                }
                            }
                            _ => {}
                        }
                        let rec =
                            Rec::Buffer { context: *context, buf_type: *buf_type, element_size: es, num_elements: ne, bytes: b.into() };
                        note(e.step(&rec).map(|_| ()));
                    }
                    Rec::End { .. } => {
                        if mode == 5 && rng.below(2) == 0 {
                            // Picture abandoned: the next vaBeginPicture replaces it.
                            e.target = None;
                            continue;
                        }
                        let res = e.step(r).map(|_| ());
                        if res.is_err() {
                            e.target = None;
                        }
                        note(res);
                        pictures += 1;
                    }
                    _ => {}
                }
            }
            let _ = began;
        }
        for b in e.buffers.drain(..) {
            let _ = va.destroy_buffer(b);
        }
        note(e.teardown());
    }
    for (k, n) in &statuses {
        println!("fuzz status {k} x{n}");
    }
    println!("fuzz rounds={rounds} pictures={pictures} abuse_failures={}", failures.len());
    if !failures.is_empty() {
        return Err(failures.join("; ").into());
    }
    Ok(())
}

fn limits(args: &[String]) -> Res<()> {
    let profile: i32 = args.first().filter(|a| !a.starts_with("--")).ok_or("limits needs a VAProfile number")?.parse()?;
    let device: String = arg_value(args, "--device")?.unwrap_or_else(|| DEFAULT_DEVICE.to_string());
    let va = Display::open(&device)?;
    let vld = va::VA_ENTRYPOINT_VLD;
    let max_w = va.config_attribute(profile, vld, va::VA_CONFIG_ATTRIB_MAX_PICTURE_WIDTH)?;
    let max_h = va.config_attribute(profile, vld, va::VA_CONFIG_ATTRIB_MAX_PICTURE_HEIGHT)?;
    let config = va.create_config(profile, vld)?;
    let attribs = va.surface_attributes(config)?;
    let get = |t: u32| attribs.iter().find(|(ty, _)| *ty == t).map_or(-1, |&(_, v)| v);
    let (min_w, min_h) = (get(va::VA_SURFACE_ATTRIB_MIN_WIDTH), get(va::VA_SURFACE_ATTRIB_MIN_HEIGHT));
    println!(
        "limits profile={profile} max_attrib={max_w}x{max_h} surface_min={min_w}x{min_h} surface_max={}x{}",
        get(va::VA_SURFACE_ATTRIB_MAX_WIDTH),
        get(va::VA_SURFACE_ATTRIB_MAX_HEIGHT)
    );
    let (in_w, in_h) = (max_w.min(4096), max_h.min(2304));
    let surfaces = va.create_surfaces(va::VA_RT_FORMAT_YUV420, in_w, in_h, 0, 4)?;
    let mut sizes = vec![(in_w, in_h), (max_w + 16, max_h), (max_w, max_h + 16)];
    if min_w > 1 && min_h > 1 {
        sizes.push((min_w as u32 - 1, min_h as u32));
    }
    for (w, h) in sizes {
        match va.create_context(config, w, h, &surfaces) {
            Ok(ctx) => {
                println!("limits context {w}x{h}: ok");
                va.destroy_context(ctx)?;
            }
            Err(e) => println!("limits context {w}x{h}: {e}"),
        }
    }
    va.destroy_surfaces(&surfaces)?;
    // A context at the largest size (capped at 8192x8192) with no render targets must
    // allocate no picture or bitstream memory before its first picture. visl's buffers
    // are vmalloc'ed: the kernel's VmallocUsed around vaCreateContext shows what it cost.
    let (big_w, big_h) = ((max_w as u32).min(8192), (max_h as u32).min(8192));
    let before = vmalloc_used_kib()?;
    match va.create_context(config, big_w, big_h, &[]) {
        Ok(ctx) => {
            let after = vmalloc_used_kib()?;
            println!("limits empty-context {big_w}x{big_h}: ok vmalloc_delta_kib={}", after as i64 - before as i64);
            va.destroy_context(ctx)?;
        }
        Err(e) => println!("limits empty-context {big_w}x{big_h}: {e}"),
    }
    va.destroy_config(config)?;
    Ok(())
}

/// `VmallocUsed` of /proc/meminfo, KiB.
fn vmalloc_used_kib() -> Res<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    let line = meminfo.lines().find(|l| l.starts_with("VmallocUsed:")).ok_or("no VmallocUsed in /proc/meminfo")?;
    Ok(line.split_whitespace().nth(1).ok_or("malformed VmallocUsed line")?.parse()?)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("replay") => replay(&args[1..]),
        Some("churn") => churn(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("early-export") => surfaces::early_export(&args[1..]),
        Some("put-image") => surfaces::put_image(&args[1..]),
        Some("import") => surfaces::import(&args[1..]),
        Some("limits") => limits(&args[1..]),
        Some("image-bench") => surfaces::image_bench(&args[1..]),
        Some("record-info") => record_info(&args[1..]),
        _ => {
            eprintln!(
                "usage: va-client replay RECORD [--export-every-frame | --export-frames A-B,...] [--fence-hold N] [--fence-delay-ms T] [--frames M] [--device PATH]\n\
                 \x20      va-client churn N [--record RECORD] [--decode-every K] [--pictures P] [--warmup W] [--device PATH]\n\
                 \x20      va-client fuzz RECORD [--rounds R] [--seed S] [--frames M] [--device PATH]\n\
                 \x20      va-client early-export RECORD [--frames M] [--visl-tiled-pattern] [--device PATH]\n\
                 \x20      va-client put-image [--record RECORD [--visl-tiled-pattern] [--export-refused]] [--device PATH]\n\
                 \x20      va-client import RECORD [--frames M] [--source export,udmabuf] [--device PATH]\n\
                 \x20      va-client limits PROFILE [--device PATH]\n\
                 \x20      va-client image-bench RECORD [--reps K] [--device PATH]\n\
                 \x20      va-client record-info RECORD"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = r {
        eprintln!("va-client: FAILED: {e}");
        std::process::exit(1);
    }
}
