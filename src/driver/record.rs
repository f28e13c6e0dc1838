//! Recording of what the application asked the driver to do
//! (`LIBVA_V4L2_REQUEST_RECORD=<file>`), for bug reports and for replay by
//! `tools/va-client` (`va-client replay <file>`).
//!
//! Off by default. The variable is read once, on the first hook call; when it
//! is unset every hook is one atomic load and a branch. `%p` in the path is
//! replaced by the process id (one file per process, e.g. for GStreamer's
//! plugin scanner). The file is opened in append mode; each record is written
//! with a single `write`, so a crash loses at most the record being written.
//!
//! # Format (version 1), all integers little-endian
//!
//! A file starts with the 8 bytes `V4L2RVAR` and a `u32` version (1); a file
//! that already had content is appended to without a new header. Then
//! records, each `u32 tag`, `u32 payload length`, payload:
//!
//! | tag | record | payload |
//! |---|---|---|
//! | 1 | INIT (driver instance created, vaInitialize) | `u32 pid` |
//! | 2 | CONFIG created | `i32 profile, u32 entrypoint, u32 config id` |
//! | 3 | SURFACES created | `u32 width, height, rt_format, fourcc (0: default), count`, `count x u32 surface id` |
//! | 4 | CONTEXT created | `u32 config, width, height, context id, n`, `n x u32 render target` |
//! | 5 | BEGIN picture | `u32 context, u32 target surface` |
//! | 6 | BUFFER rendered | `u32 context, u32 buffer type, u32 element size, u32 num_elements, u32 byte count`, bytes |
//! | 7 | END picture | `u32 context` |
//! | 8 | CONFIG destroyed | `u32 config id` |
//! | 9 | SURFACES destroyed | `u32 n`, `n x u32 surface id` |
//! | 10 | CONTEXT destroyed | `u32 context id` |
//!
//! Creations are recorded only when they succeeded (with the IDs returned);
//! BEGIN/BUFFER/END are recorded as called. Readers skip unknown tags. Object
//! IDs are deterministic per driver instance (tagged counters from 1), so a
//! replay that creates the same objects in the same order gets the same IDs
//! and the surface IDs inside recorded parameter buffers stay valid.

use crate::settings::RECORD_ENV;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, OnceLock};

/// File magic and format version.
pub const MAGIC: &[u8; 8] = b"V4L2RVAR";
pub const VERSION: u32 = 1;

pub const TAG_INIT: u32 = 1;
pub const TAG_CONFIG: u32 = 2;
pub const TAG_SURFACES: u32 = 3;
pub const TAG_CONTEXT: u32 = 4;
pub const TAG_BEGIN: u32 = 5;
pub const TAG_BUFFER: u32 = 6;
pub const TAG_END: u32 = 7;
pub const TAG_DESTROY_CONFIG: u32 = 8;
pub const TAG_DESTROY_SURFACES: u32 = 9;
pub const TAG_DESTROY_CONTEXT: u32 = 10;

static RECORDER: OnceLock<Option<Mutex<File>>> = OnceLock::new();

fn open(path: &str) -> Option<Mutex<File>> {
    let path = path.replace("%p", &std::process::id().to_string());
    let mut f = match OpenOptions::new().create(true).append(true).open(&path) {
        Ok(f) => f,
        Err(e) => {
            log::warn!("{RECORD_ENV}: cannot open {path}: {e}; not recording");
            return None;
        }
    };
    let empty = f.metadata().map(|m| m.len() == 0).unwrap_or(false);
    if empty {
        let mut head = MAGIC.to_vec();
        head.extend_from_slice(&VERSION.to_le_bytes());
        if let Err(e) = f.write_all(&head) {
            log::warn!("{RECORD_ENV}: cannot write {path}: {e}; not recording");
            return None;
        }
    }
    log::info!("recording VA calls to {path}");
    Some(Mutex::new(f))
}

fn recorder() -> Option<&'static Mutex<File>> {
    RECORDER.get_or_init(|| crate::settings::settings().record_path.as_deref().and_then(open)).as_ref()
}

/// Encodes one record: tag, payload length, payload.
pub fn encode(tag: u32, words: &[u32], bytes: &[u8]) -> Vec<u8> {
    let len = words.len() * 4 + bytes.len();
    let mut v = Vec::with_capacity(8 + len);
    v.extend_from_slice(&tag.to_le_bytes());
    v.extend_from_slice(&(len as u32).to_le_bytes());
    for w in words {
        v.extend_from_slice(&w.to_le_bytes());
    }
    v.extend_from_slice(bytes);
    v
}

fn write(tag: u32, words: &[u32], bytes: &[u8]) {
    let Some(r) = recorder() else { return };
    let rec = encode(tag, words, bytes);
    let mut f = super::lock(r);
    if let Err(e) = f.write_all(&rec) {
        log::warn!("{RECORD_ENV}: write failed: {e}");
    }
}

pub fn init() {
    write(TAG_INIT, &[std::process::id()], &[]);
}

pub fn config(profile: i32, entrypoint: u32, id: u32) {
    write(TAG_CONFIG, &[profile as u32, entrypoint, id], &[]);
}

pub fn surfaces(width: u32, height: u32, rt_format: u32, fourcc: Option<u32>, ids: &[u32]) {
    if recorder().is_none() {
        return;
    }
    let mut w = vec![width, height, rt_format, fourcc.unwrap_or(0), ids.len() as u32];
    w.extend_from_slice(ids);
    write(TAG_SURFACES, &w, &[]);
}

pub fn context(config: u32, width: u32, height: u32, targets: &[u32], id: u32) {
    if recorder().is_none() {
        return;
    }
    let mut w = vec![config, width, height, id, targets.len() as u32];
    w.extend_from_slice(targets);
    write(TAG_CONTEXT, &w, &[]);
}

pub fn begin(context: u32, target: u32) {
    write(TAG_BEGIN, &[context, target], &[]);
}

pub fn buffer(context: u32, buf_type: u32, element_size: u32, num_elements: u32, bytes: &[u8]) {
    write(TAG_BUFFER, &[context, buf_type, element_size, num_elements, bytes.len() as u32], bytes);
}

pub fn end(context: u32) {
    write(TAG_END, &[context], &[]);
}

pub fn destroy_config(id: u32) {
    write(TAG_DESTROY_CONFIG, &[id], &[]);
}

pub fn destroy_surfaces(ids: &[u32]) {
    if recorder().is_none() {
        return;
    }
    let mut w = vec![ids.len() as u32];
    w.extend_from_slice(ids);
    write(TAG_DESTROY_SURFACES, &w, &[]);
}

pub fn destroy_context(id: u32) {
    write(TAG_DESTROY_CONTEXT, &[id], &[]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_layout() {
        let r = encode(TAG_BUFFER, &[0x0200_0001, 4, 2, 1, 3], &[1, 2, 3]);
        assert_eq!(&r[..4], &TAG_BUFFER.to_le_bytes());
        assert_eq!(u32::from_le_bytes(r[4..8].try_into().unwrap()), 23);
        assert_eq!(r.len(), 8 + 23);
        assert_eq!(&r[8..12], &0x0200_0001u32.to_le_bytes());
        assert_eq!(&r[28..], &[1, 2, 3]);
    }
}
