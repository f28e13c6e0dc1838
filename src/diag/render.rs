//! The report as text (for people: problems last, one line each with the
//! remedy) and as JSON (for bug reports).

use std::fmt::Write;

use super::json::Json;
use super::{profile_name, CodedReport, DecoderReport, FrameSizes, NodePermission, Report};
use crate::device::tenbit::TenBit;
use crate::v4l2::fourcc_to_string;

fn fourccs(f: &[u32]) -> Vec<String> {
    f.iter().map(|f| fourcc_to_string(*f)).collect()
}

fn sizes_text(s: &FrameSizes) -> String {
    match s {
        FrameSizes::Range { min, max, step } => {
            format!("{}x{}..{}x{} step {}x{}", min.0, min.1, max.0, max.1, step.0, step.1)
        }
        FrameSizes::Discrete(v) => v.iter().map(|(w, h)| format!("{w}x{h}")).collect::<Vec<_>>().join(","),
    }
}

fn ten_bit_text(t: &TenBit) -> String {
    match t {
        TenBit::P010 => "yes (P010)".into(),
        TenBit::ControlRejected(e) => format!("no (10-bit control rejected: {})", e.desc()),
        TenBit::NoP010(f) => format!("no (no linear P010 on CAPTURE: {})", fourccs(f).join(" ")),
        TenBit::ProbeFailed(e) => format!("no (probe failed: {e})"),
    }
}

fn access_text(n: &NodePermission) -> String {
    match &n.access {
        Some(a) => format!("{} {}:{} {}", a.mode_string(), a.owner, a.group, if n.allowed { "ok" } else { "NO ACCESS" }),
        None => "cannot stat".into(),
    }
}

fn coded_text(out: &mut String, c: &CodedReport) {
    let _ = write!(out, "    {}", fourcc_to_string(c.fourcc));
    if !c.known {
        let _ = writeln!(out, "  (not a coded format this driver handles)");
        return;
    }
    match &c.controls {
        Ok(()) => {}
        Err(e) => {
            let _ = write!(out, "  NOT USED: {e}");
        }
    }
    match &c.capture_formats {
        Ok(f) => {
            let _ = write!(out, "  CAPTURE {}", fourccs(f).join(" "));
        }
        Err(e) => {
            let _ = write!(out, "  CAPTURE ? ({e})");
        }
    }
    match &c.frame_sizes {
        Ok(s) => {
            let _ = write!(out, "  sizes {}", sizes_text(s));
        }
        Err(e) => {
            let _ = write!(out, "  sizes ? ({e})");
        }
    }
    for m in &c.modes {
        let _ = write!(
            out,
            "  {} {} (offers {})",
            m.what,
            m.current.unwrap_or("?"),
            if m.offered.is_empty() { "?".into() } else { m.offered.join(",") }
        );
    }
    if let Some(t) = &c.ten_bit {
        let _ = write!(out, "  10-bit: {}", ten_bit_text(t));
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "          VA profiles: {}",
        if c.profiles.is_empty() { "none".into() } else { c.profiles.iter().map(|p| profile_name(*p)).collect::<Vec<_>>().join(" ") }
    );
}

fn decoder_text(out: &mut String, d: &DecoderReport) {
    let media = d.media.as_ref().map(|m| m.display().to_string()).unwrap_or_else(|| "-".into());
    if let Some(e) = &d.error {
        let _ = writeln!(out, "  {} (media {media}): {e}", d.video.display());
        return;
    }
    let _ = writeln!(
        out,
        "  {} {} ({}, {}) media {media}, {}, requests {}, HOLD_CAPTURE_BUF {}, used by the driver: {}",
        d.video.display(),
        d.driver,
        d.card,
        d.bus_info,
        if d.multiplanar { "M2M_MPLANE" } else { "M2M" },
        if d.requests { "yes" } else { "NO" },
        if d.hold_capture_buf { "yes" } else { "no" },
        if d.used { "yes" } else { "NO" },
    );
    for c in &d.coded {
        coded_text(out, c);
    }
}

/// The report as text.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "v4l2-request-va-info {} (driver v4l2_request, built against libva {}.{})",
        r.version, r.va_build_version.0, r.va_build_version.1
    );
    let _ = writeln!(out, "user: {} (uid {}), groups: {}", r.caller.name, r.caller.uid, group_names(&r.caller.gids).join(" "));
    let _ = writeln!(out, "\nmedia devices:");
    if r.media.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for m in &r.media {
        match &m.error {
            Some(e) if m.driver.is_empty() => {
                let _ = writeln!(out, "  {}: {e}", m.path.display());
            }
            _ => {
                let _ = writeln!(
                    out,
                    "  {} {} ({}, {}): decoders: {}",
                    m.path.display(),
                    m.driver,
                    m.model,
                    m.bus_info,
                    if m.decoders.is_empty() {
                        "none".into()
                    } else {
                        m.decoders.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" ")
                    }
                );
            }
        }
    }
    let _ = writeln!(out, "\ndecoders:");
    if r.decoders.is_empty() {
        let _ = writeln!(out, "  none found");
    }
    for d in &r.decoders {
        decoder_text(&mut out, d);
    }
    let profiles = all_profiles(r);
    let _ = writeln!(out, "\nVA profiles the driver advertises: {}", if profiles.is_empty() { "none".into() } else { profiles.join(" ") });
    let _ = writeln!(out, "\ndevice nodes:");
    for n in r.nodes.iter().chain(r.render_nodes.iter().map(|n| &n.permission)) {
        let _ = writeln!(out, "  {} {}", n.path.display(), access_text(n));
    }
    let _ = writeln!(out, "\nlibva:");
    let _ = writeln!(out, "  LIBVA_DRIVER_NAME={}", r.env.driver_name.as_deref().unwrap_or("(unset)"));
    let _ = writeln!(out, "  LIBVA_DRIVERS_PATH={}", r.env.drivers_path.as_deref().unwrap_or("(unset)"));
    let _ = writeln!(
        out,
        "  driver directories ({}): {}",
        r.libva.dirs_from.describe(),
        r.libva.search_dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(":")
    );
    let _ = writeln!(out, "  libva version (pkg-config): {}", r.libva.libva_version.as_deref().unwrap_or("unknown"));
    match (&r.libva.driver, &r.libva.load) {
        (Some(p), Some(Ok(sym))) => {
            let _ = writeln!(out, "  driver: {} loads, exports {sym}", p.display());
        }
        (Some(p), Some(Err(e))) => {
            let _ = writeln!(out, "  driver: {} does not load: {e}", p.display());
        }
        _ => {
            let _ = writeln!(out, "  driver: not found");
        }
    }
    for n in &r.render_nodes {
        let _ = writeln!(out, "  render node {} (DRM driver {})", n.path.display(), n.drm_driver.as_deref().unwrap_or("?"));
    }
    if r.problems.is_empty() {
        let _ = writeln!(out, "\nno problems found");
    } else {
        let _ = writeln!(out, "\nproblems ({}):", r.problems.len());
        for p in &r.problems {
            let _ = writeln!(out, "problem: {} -- fix: {}", p.what, p.remedy);
        }
    }
    out
}

fn group_names(gids: &[u32]) -> Vec<String> {
    gids.iter()
        .map(|g| {
            nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(*g)).ok().flatten().map(|g| g.name).unwrap_or_else(|| g.to_string())
        })
        .collect()
}

/// Profiles of every used decoder, without duplicates.
fn all_profiles(r: &Report) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in r.decoders.iter().flat_map(|d| d.profiles.iter()) {
        let n = profile_name(*p);
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

fn result_json<T>(r: &Result<T, String>, ok: impl FnOnce(&T) -> Json) -> Json {
    match r {
        Ok(v) => ok(v),
        Err(e) => Json::obj([("error", Json::str(e.clone()))]),
    }
}

fn permission_json(n: &NodePermission) -> Json {
    Json::obj([
        ("path", Json::str(n.path.display().to_string())),
        ("mode", Json::opt_str(n.access.as_ref().map(|a| a.mode_string()))),
        ("owner", Json::opt_str(n.access.as_ref().map(|a| a.owner.clone()))),
        ("group", Json::opt_str(n.access.as_ref().map(|a| a.group.clone()))),
        ("access", Json::Bool(n.allowed)),
    ])
}

fn coded_json(c: &CodedReport) -> Json {
    Json::obj([
        ("fourcc", Json::str(fourcc_to_string(c.fourcc))),
        ("handled", Json::Bool(c.known)),
        (
            "controls",
            match &c.controls {
                Ok(()) => Json::str("ok"),
                Err(e) => Json::str(e.clone()),
            },
        ),
        ("capture_formats", result_json(&c.capture_formats, |f| Json::strs(fourccs(f)))),
        (
            "frame_sizes",
            result_json(&c.frame_sizes, |s| match s {
                FrameSizes::Range { min, max, step } => Json::obj([
                    ("min", Json::str(format!("{}x{}", min.0, min.1))),
                    ("max", Json::str(format!("{}x{}", max.0, max.1))),
                    ("step", Json::str(format!("{}x{}", step.0, step.1))),
                ]),
                FrameSizes::Discrete(v) => Json::strs(v.iter().map(|(w, h)| format!("{w}x{h}"))),
            }),
        ),
        (
            "modes",
            Json::Obj(
                c.modes
                    .iter()
                    .map(|m| {
                        (
                            m.what.replace(' ', "_"),
                            Json::obj([("current", Json::opt_str(m.current)), ("offered", Json::strs(m.offered.iter().copied()))]),
                        )
                    })
                    .collect(),
            ),
        ),
        ("ten_bit", Json::opt_str(c.ten_bit.as_ref().map(ten_bit_text))),
        ("va_profiles", Json::strs(c.profiles.iter().map(|p| profile_name(*p)))),
    ])
}

/// The report as JSON.
pub fn json(r: &Report) -> Json {
    Json::obj([
        ("tool", Json::str("v4l2-request-va-info")),
        ("version", Json::str(r.version)),
        ("va_build_version", Json::str(format!("{}.{}", r.va_build_version.0, r.va_build_version.1))),
        (
            "user",
            Json::obj([
                ("name", Json::str(r.caller.name.clone())),
                ("uid", Json::Num(r.caller.uid.into())),
                ("groups", Json::strs(group_names(&r.caller.gids))),
            ]),
        ),
        (
            "media_devices",
            Json::Arr(
                r.media
                    .iter()
                    .map(|m| {
                        Json::obj([
                            ("path", Json::str(m.path.display().to_string())),
                            ("driver", Json::str(m.driver.clone())),
                            ("model", Json::str(m.model.clone())),
                            ("bus_info", Json::str(m.bus_info.clone())),
                            ("decoders", Json::strs(m.decoders.iter().map(|p| p.display().to_string()))),
                            ("error", Json::opt_str(m.error.clone())),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "decoders",
            Json::Arr(
                r.decoders
                    .iter()
                    .map(|d| {
                        Json::obj([
                            ("video", Json::str(d.video.display().to_string())),
                            ("media", Json::opt_str(d.media.as_ref().map(|m| m.display().to_string()))),
                            ("driver", Json::str(d.driver.clone())),
                            ("card", Json::str(d.card.clone())),
                            ("bus_info", Json::str(d.bus_info.clone())),
                            ("multiplanar", Json::Bool(d.multiplanar)),
                            ("requests", Json::Bool(d.requests)),
                            ("hold_capture_buf", Json::Bool(d.hold_capture_buf)),
                            ("used", Json::Bool(d.used)),
                            ("error", Json::opt_str(d.error.clone())),
                            ("coded_formats", Json::Arr(d.coded.iter().map(coded_json).collect())),
                            ("va_profiles", Json::strs(d.profiles.iter().map(|p| profile_name(*p)))),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("va_profiles", Json::strs(all_profiles(r))),
        ("device_nodes", Json::Arr(r.nodes.iter().map(permission_json).collect())),
        (
            "render_nodes",
            Json::Arr(
                r.render_nodes
                    .iter()
                    .map(|n| {
                        let mut j = permission_json(&n.permission);
                        if let Json::Obj(f) = &mut j {
                            f.push(("drm_driver".into(), Json::opt_str(n.drm_driver.clone())));
                        }
                        j
                    })
                    .collect(),
            ),
        ),
        (
            "libva",
            Json::obj([
                ("LIBVA_DRIVER_NAME", Json::opt_str(r.env.driver_name.clone())),
                ("LIBVA_DRIVERS_PATH", Json::opt_str(r.env.drivers_path.clone())),
                ("driver_dirs", Json::strs(r.libva.search_dirs.iter().map(|d| d.display().to_string()))),
                ("driver_dirs_from", Json::str(r.libva.dirs_from.describe())),
                ("libva_version", Json::opt_str(r.libva.libva_version.clone())),
                ("driver", Json::opt_str(r.libva.driver.as_ref().map(|p| p.display().to_string()))),
                ("init_symbol", Json::opt_str(r.libva.load.as_ref().and_then(|l| l.as_ref().ok()).cloned())),
                ("load_error", Json::opt_str(r.libva.load.as_ref().and_then(|l| l.as_ref().err()).cloned())),
            ]),
        ),
        (
            "problems",
            Json::Arr(
                r.problems
                    .iter()
                    .map(|p| Json::obj([("problem", Json::str(p.what.clone())), ("fix", Json::str(p.remedy.clone()))]))
                    .collect(),
            ),
        ),
    ])
}
