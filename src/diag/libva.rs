//! Where libva looks for drivers, whether ours is there, and whether it loads.
//!
//! libva loads `<dir>/<LIBVA_DRIVER_NAME>_drv_video.so` from each directory of
//! `LIBVA_DRIVERS_PATH` (colon-separated) or, when that is unset, from the
//! directory it was built with (its pkg-config `driverdir`), and calls
//! `__vaDriverInit_<major>_<minor>` for its own version or an older minor. The
//! check `dlopen`s the file found first (`RTLD_NOW`: every symbol resolved,
//! as libva does) and looks that symbol up; `dlopen`/`dlsym` are this
//! module's FFI edge ([`ffi`]).

use std::path::{Path, PathBuf};

use super::{Environment, Problem, DRIVER_FILE};

/// Where the search directories came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DirsFrom {
    /// `LIBVA_DRIVERS_PATH`
    Env,
    /// `pkg-config --variable=driverdir libva` now.
    #[default]
    PkgConfig,
    /// libva's `driverdir` when the driver was built (pkg-config missing now).
    BuildTime,
}

impl DirsFrom {
    pub fn describe(self) -> &'static str {
        match self {
            DirsFrom::Env => "LIBVA_DRIVERS_PATH",
            DirsFrom::PkgConfig => "pkg-config libva driverdir",
            DirsFrom::BuildTime => "libva driverdir at build time",
        }
    }
}

/// What the check found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LibvaReport {
    pub search_dirs: Vec<PathBuf>,
    pub dirs_from: DirsFrom,
    /// libva's version per pkg-config (`1.17.0` for libva 2.17), when known.
    pub libva_version: Option<String>,
    /// The driver file libva would load (the first one in the search dirs).
    pub driver: Option<PathBuf>,
    /// `Ok(init symbol)` or `Err(dlerror)`; `None` when there is no file.
    pub load: Option<Result<String, String>>,
}

fn pkg_config(args: &[&str]) -> Option<String> {
    let o = std::process::Command::new("pkg-config").args(args).output().ok()?;
    let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
    (o.status.success() && !s.is_empty()).then_some(s)
}

/// Gather the report (see the module doc).
pub fn inspect(env: &Environment) -> LibvaReport {
    let (search_dirs, dirs_from) = match &env.drivers_path {
        Some(p) => (p.split(':').filter(|d| !d.is_empty()).map(PathBuf::from).collect(), DirsFrom::Env),
        None => match pkg_config(&["--variable=driverdir", "libva"]) {
            Some(d) => (vec![PathBuf::from(d)], DirsFrom::PkgConfig),
            None => {
                ([env!("V4L2RVA_LIBVA_DRIVERDIR")].into_iter().filter(|d| !d.is_empty()).map(PathBuf::from).collect(), DirsFrom::BuildTime)
            }
        },
    };
    let driver = search_dirs.iter().map(|d| d.join(DRIVER_FILE)).find(|f| f.exists());
    let load = driver.as_deref().map(load_driver);
    LibvaReport { search_dirs, dirs_from, libva_version: pkg_config(&["--modversion", "libva"]), driver, load }
}

/// Highest libva minor version whose init symbol we look for.
const MAX_MINOR: u32 = 99;

/// `dlopen` the driver and find its `__vaDriverInit_1_<minor>`.
pub fn load_driver(path: &Path) -> Result<String, String> {
    let handle = ffi::Library::open(path)?;
    (0..=MAX_MINOR)
        .rev()
        .map(|minor| format!("__vaDriverInit_1_{minor}"))
        .find(|s| handle.has_symbol(s))
        .ok_or_else(|| "no __vaDriverInit_1_* symbol: not a libva driver".to_string())
}

/// `1.17.0` → 17.
fn minor_of(version: &str) -> Option<u32> {
    let mut it = version.split('.');
    (it.next()? == "1").then_some(())?;
    it.next()?.parse().ok()
}

/// The problems of a report, each with its remedy.
pub fn problems(r: &LibvaReport, built_for: (u32, u32)) -> Vec<Problem> {
    let dirs = r.search_dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(":");
    let Some(driver) = &r.driver else {
        let remedy = match r.dirs_from {
            DirsFrom::Env => "point LIBVA_DRIVERS_PATH at the directory that holds it (or unset it after `meson install`)".into(),
            _ => format!(
                "install it there (`meson setup build && meson install -C build`) or export LIBVA_DRIVERS_PATH=<directory holding {DRIVER_FILE}>"
            ),
        };
        return vec![Problem {
            what: format!(
                "{DRIVER_FILE} is not in libva's driver path ({}: {})",
                r.dirs_from.describe(),
                if dirs.is_empty() { "unknown" } else { &dirs }
            ),
            remedy,
        }];
    };
    let mut out = Vec::new();
    match &r.load {
        Some(Err(e)) => out.push(Problem {
            what: format!("{} does not load: {e}", driver.display()),
            remedy: "rebuild and reinstall the driver on this system (a library it needs is missing or differs)".into(),
        }),
        Some(Ok(symbol)) => {
            let exported = symbol.rsplit('_').next().and_then(|m| m.parse::<u32>().ok());
            if let (Some(theirs), Some(ours)) = (r.libva_version.as_deref().and_then(minor_of), exported) {
                if ours > theirs {
                    out.push(Problem {
                        what: format!(
                            "{} exports {symbol}, but the installed libva is {}: libva does not look for it",
                            driver.display(),
                            r.libva_version.as_deref().unwrap_or("?")
                        ),
                        remedy: format!(
                            "rebuild the driver against this libva (it was built against libva {}.{})",
                            built_for.0, built_for.1
                        ),
                    });
                }
            }
        }
        None => {}
    }
    out
}

/// The `dlopen` edge.
mod ffi {
    use std::ffi::{CStr, CString};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    /// A library opened with `dlopen(RTLD_NOW | RTLD_LOCAL)`. Never closed: a
    /// Rust `cdylib` may have registered thread-local destructors, and the
    /// tool exits right after the check.
    pub struct Library(*mut libc::c_void);

    fn last_error() -> String {
        // SAFETY: dlerror returns NULL or a pointer to a NUL-terminated string that
        // stays valid until the next dl* call on this thread; it is copied at once.
        let e = unsafe { libc::dlerror() };
        if e.is_null() {
            "unknown dlopen error".into()
        } else {
            // SAFETY: non-null, NUL-terminated (see above).
            unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
        }
    }

    impl Library {
        pub fn open(path: &Path) -> Result<Self, String> {
            let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| "path contains NUL".to_string())?;
            // SAFETY: `c` is a valid NUL-terminated path. Loading runs the library's
            // initialisers, which is what libva does with the same file.
            let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            if h.is_null() {
                Err(last_error())
            } else {
                Ok(Library(h))
            }
        }

        pub fn has_symbol(&self, name: &str) -> bool {
            let Ok(c) = CString::new(name) else {
                return false;
            };
            // SAFETY: self.0 is a live handle from dlopen (never closed) and `c` a
            // NUL-terminated symbol name; the returned address is only compared to NULL.
            !unsafe { libc::dlsym(self.0, c.as_ptr()) }.is_null()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(version: Option<&str>, load: Option<Result<String, String>>) -> LibvaReport {
        LibvaReport {
            search_dirs: vec![PathBuf::from("/usr/lib/dri")],
            dirs_from: DirsFrom::PkgConfig,
            libva_version: version.map(String::from),
            driver: load.as_ref().map(|_| PathBuf::from("/usr/lib/dri").join(DRIVER_FILE)),
            load,
        }
    }

    #[test]
    fn missing_driver_file() {
        let p = problems(&report(None, None), (1, 17));
        assert_eq!(p.len(), 1);
        assert!(p[0]
            .what
            .starts_with("v4l2_request_drv_video.so is not in libva's driver path (pkg-config libva driverdir: /usr/lib/dri)"));
        assert!(p[0].remedy.contains("meson install"));
    }

    #[test]
    fn version_skew_and_load_errors() {
        assert!(problems(&report(Some("1.17.0"), Some(Ok("__vaDriverInit_1_17".into()))), (1, 17)).is_empty());
        assert!(problems(&report(Some("1.20.0"), Some(Ok("__vaDriverInit_1_17".into()))), (1, 17)).is_empty());
        let p = problems(&report(Some("1.16.0"), Some(Ok("__vaDriverInit_1_17".into()))), (1, 17));
        assert!(p[0].what.contains("the installed libva is 1.16.0"));
        let p = problems(&report(None, Some(Err("libfoo.so: cannot open".into()))), (1, 17));
        assert!(p[0].what.ends_with("does not load: libfoo.so: cannot open"));
        assert_eq!(minor_of("1.17.0"), Some(17));
        assert_eq!(minor_of("2.17.0"), None);
    }

    #[test]
    fn a_non_driver_library_is_refused() {
        // libc loads, but is no libva driver.
        let e = load_driver(Path::new("libc.so.6")).unwrap_err();
        assert!(e.contains("no __vaDriverInit_1_"), "{e}");
        assert!(load_driver(Path::new("/nonexistent/x.so")).is_err());
    }
}
