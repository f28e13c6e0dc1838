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
//! The format (magic `V4L2RVAR`, version, tags, record layouts) is defined
//! once, with its table, in the `va-record` crate (`crates/va-record`), which
//! `tools/va-client` parses it with. This module only opens the file and
//! writes: each record is encoded into one buffer kept with the file (reused
//! from record to record, so recording allocates nothing per record once the
//! buffer holds the largest record so far) and written with one `write`.

use crate::settings::RECORD_ENV;
use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use va_record::{Record, HEADER};

/// The open file and the buffer each record is encoded into.
struct Recorder {
    file: File,
    buf: Vec<u8>,
}

impl Recorder {
    /// Opens `path` for appending (the header first when the file is empty).
    fn open(path: &str) -> std::io::Result<Self> {
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        if file.metadata()?.len() == 0 {
            file.write_all(&HEADER)?;
        }
        Ok(Self { file, buf: Vec::new() })
    }

    /// Encodes `rec` into the buffer and writes it with one `write`.
    fn write(&mut self, rec: &Record<'_>) {
        self.buf.clear();
        if let Err(e) = rec.encode(&mut self.buf) {
            log::warn!("{RECORD_ENV}: {:?} record not written: {e}", rec.tag());
            return;
        }
        if let Err(e) = self.file.write_all(&self.buf) {
            log::warn!("{RECORD_ENV}: write failed: {e}");
        }
    }
}

static RECORDER: OnceLock<Option<Mutex<Recorder>>> = OnceLock::new();

fn open(path: &str) -> Option<Mutex<Recorder>> {
    let path = path.replace("%p", &std::process::id().to_string());
    match Recorder::open(&path) {
        Ok(r) => {
            log::info!("recording VA calls to {path}");
            Some(Mutex::new(r))
        }
        Err(e) => {
            log::warn!("{RECORD_ENV}: cannot open or write {path}: {e}; not recording");
            None
        }
    }
}

fn recorder() -> Option<&'static Mutex<Recorder>> {
    RECORDER.get_or_init(|| crate::settings::settings().record_path.as_deref().and_then(open)).as_ref()
}

fn write(rec: Record<'_>) {
    let Some(r) = recorder() else { return };
    super::lock(r).write(&rec);
}

pub fn init() {
    write(Record::Init { pid: std::process::id() });
}

pub fn config(profile: i32, entrypoint: u32, id: u32) {
    write(Record::Config { profile, entrypoint, id });
}

pub fn surfaces(width: u32, height: u32, rt_format: u32, fourcc: Option<u32>, ids: &[u32]) {
    write(Record::Surfaces { width, height, rt_format, fourcc: fourcc.unwrap_or(0), ids: Cow::Borrowed(ids) });
}

pub fn context(config: u32, width: u32, height: u32, targets: &[u32], id: u32) {
    write(Record::Context { config, width, height, id, targets: Cow::Borrowed(targets) });
}

pub fn begin(context: u32, target: u32) {
    write(Record::Begin { context, target });
}

pub fn buffer(context: u32, buf_type: u32, element_size: u32, num_elements: u32, bytes: &[u8]) {
    write(Record::Buffer { context, buf_type, element_size, num_elements, bytes: Cow::Borrowed(bytes) });
}

pub fn end(context: u32) {
    write(Record::End { context });
}

pub fn destroy_config(id: u32) {
    write(Record::DestroyConfig { id });
}

pub fn destroy_surfaces(ids: &[u32]) {
    write(Record::DestroySurfaces { ids: Cow::Borrowed(ids) });
}

pub fn destroy_context(id: u32) {
    write(Record::DestroyContext { id });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of its own under the temp dir, removed on drop.
    struct TempFile(std::path::PathBuf);

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn writes_header_once_and_records_without_allocating() {
        let t = TempFile(std::env::temp_dir().join(format!("v4l2rva-record-test-{}", std::process::id())));
        let path = t.0.to_str().unwrap();
        let _ = std::fs::remove_file(path);
        let slice = vec![0xa5u8; 4096];
        let recs = [
            Record::Init { pid: 7 },
            Record::Surfaces { width: 64, height: 64, rt_format: 1, fourcc: 0, ids: Cow::Borrowed(&[1, 2, 3]) },
            Record::Begin { context: 9, target: 2 },
            Record::Buffer { context: 9, buf_type: 5, element_size: 4096, num_elements: 1, bytes: Cow::Borrowed(&slice) },
            Record::End { context: 9 },
        ];
        let mut r = Recorder::open(path).unwrap();
        for rec in &recs {
            r.write(rec);
        }
        // Once the buffer holds the largest record, recording allocates nothing.
        let ((), n) = crate::test_alloc::count(|| {
            for rec in &recs {
                r.write(rec);
            }
        });
        assert_eq!(n, 0, "allocations per round of records");
        drop(r);
        // Appending to a file with content writes no second header.
        Recorder::open(path).unwrap().write(&Record::DestroyContext { id: 9 });
        let data = std::fs::read(path).unwrap();
        let back: Vec<Record<'_>> = va_record::records(&data).unwrap().collect::<Result<_, _>>().unwrap();
        let mut want: Vec<Record<'_>> = recs.iter().chain(&recs).cloned().collect();
        want.push(Record::DestroyContext { id: 9 });
        assert_eq!(back, want);
    }
}
