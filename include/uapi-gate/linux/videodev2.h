/*
 * Gate for v4l2r's bindgen run (see .cargo/config.toml): clang finds this file only when
 * the uAPI headers of scripts/setup-headers are not linked at .uapi/include (the -I
 * directory v4l2r is given is searched first, CPATH next, the system's headers last).
 * Without it clang would silently take the system's older videodev2.h and v4l2r would
 * fail to compile; this way its build script fails (and so reruns on the next build).
 */
#error "uAPI headers >= 6.5 missing: run scripts/setup-headers, then cargo build again"
