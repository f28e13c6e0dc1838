//! Build script: generates the libva driver-side bindings with bindgen and the
//! `__vaDriverInit_<major>_<minor>` entry point named after the libva headers we
//! build against (libva looks the driver up by that exact symbol).

use std::env;
use std::fs;
use std::path::PathBuf;

/// `pkg-config --variable=<name> libva`, when pkg-config and libva's .pc file are there.
fn libva_pkg_config_variable(name: &str) -> Option<String> {
    let o = std::process::Command::new("pkg-config").args([&format!("--variable={name}"), "libva"]).output().ok()?;
    let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
    (o.status.success() && !s.is_empty()).then_some(s)
}

fn va_include_dir() -> PathBuf {
    if let Ok(dir) = env::var("VA_INCLUDE_DIR") {
        return PathBuf::from(dir);
    }
    // pkg-config libva --variable=includedir; fall back to /usr/include.
    PathBuf::from(libva_pkg_config_variable("includedir").unwrap_or_else(|| "/usr/include".into()))
}

fn define_value(header: &str, name: &str) -> u32 {
    header
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            match (it.next(), it.next(), it.next()) {
                (Some("#define"), Some(n), Some(v)) if n == name => v.parse().ok(),
                _ => None,
            }
        })
        .next()
        .unwrap_or_else(|| panic!("{name} not found in va_version.h"))
}

fn main() {
    let inc = va_include_dir();
    let version_h = inc.join("va/va_version.h");
    println!("cargo:rerun-if-changed=include/va_wrapper.h");
    println!("cargo:rerun-if-changed={}", version_h.display());
    println!("cargo:rerun-if-env-changed=VA_INCLUDE_DIR");

    let version = fs::read_to_string(&version_h).unwrap_or_else(|e| panic!("cannot read {}: {e} (install libva-dev)", version_h.display()));
    let major = define_value(&version, "VA_MAJOR_VERSION");
    let minor = define_value(&version, "VA_MINOR_VERSION");

    // libva's driver directory as its .pc file says (where meson installs the driver by
    // default): v4l2-request-va-info's fallback when pkg-config is missing at run time.
    let driverdir = libva_pkg_config_variable("driverdir").unwrap_or_default();
    println!("cargo:rustc-env=V4L2RVA_LIBVA_DRIVERDIR={driverdir}");

    let out = PathBuf::from(env::var("OUT_DIR").unwrap());

    let bindings = bindgen::Builder::default()
        .header("include/va_wrapper.h")
        .clang_arg(format!("-I{}", inc.display()))
        .allowlist_type("VA.*")
        .allowlist_type("_VA.*")
        .allowlist_type("drm_state")
        .allowlist_var("VA_.*")
        .allowlist_var("VA[A-Z].*")
        .derive_default(true)
        .derive_debug(true)
        .layout_tests(false)
        .generate_comments(false)
        .prepend_enum_name(false)
        .generate()
        .expect("bindgen failed on libva headers");
    bindings.write_to_file(out.join("va_bindings.rs")).expect("write va_bindings.rs");

    // The media controller uAPI (`linux/media.h`): the structs and constants of
    // `MEDIA_IOC_DEVICE_INFO` / `MEDIA_IOC_G_TOPOLOGY` (src/v4l2/media.rs), from the
    // same uAPI headers v4l2r's bindgen reads videodev2.h from (.cargo/config.toml;
    // the system's headers when that is unset).
    println!("cargo:rerun-if-env-changed=V4L2R_VIDEODEV2_H_PATH");
    let mut media = bindgen::Builder::default().header_contents("media_wrapper.h", "#include <linux/media.h>\n");
    if let Ok(dir) = env::var("V4L2R_VIDEODEV2_H_PATH") {
        println!("cargo:rerun-if-changed={dir}/linux/media.h");
        media = media.clang_arg(format!("-I{dir}"));
    }
    let media = media
        .allowlist_type("media_device_info")
        .allowlist_type("media_v2_.*")
        .allowlist_var("MEDIA_ENT_F_.*")
        .allowlist_var("MEDIA_INTF_T_.*")
        .allowlist_var("MEDIA_LNK_FL_.*")
        .derive_default(true)
        .derive_debug(true)
        .layout_tests(false)
        .generate_comments(false)
        .generate()
        .expect("bindgen failed on linux/media.h");
    media.write_to_file(out.join("media_bindings.rs")).expect("write media_bindings.rs");

    let init = format!(
        "/// Entry point libva looks up by name (`__vaDriverInit_<major>_<minor>` of the\n\
         /// libva headers this driver was built against).\n\
         ///\n\
         /// # Safety\n\
         /// `ctx` must be the driver context libva passes to the init symbol.\n\
         #[no_mangle]\n\
         pub unsafe extern \"C\" fn __vaDriverInit_{major}_{minor}(ctx: crate::va_sys::ffi::VADriverContextP) -> crate::va_sys::ffi::VAStatus {{\n\
         \x20   // SAFETY: the caller's contract (above) is driver_init's.\n\
         \x20   unsafe {{ crate::va::entry::driver_init(ctx) }}\n\
         }}\n\
         /// The libva version this driver was built against.\n\
         pub const VA_BUILD_VERSION: (u32, u32) = ({major}, {minor});\n"
    );
    fs::write(out.join("driver_init.rs"), init).expect("write driver_init.rs");
}
