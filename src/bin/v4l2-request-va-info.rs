//! `v4l2-request-va-info [--json]`: the decoders the driver finds through the
//! media controller, what it makes of them, and each problem in the way of
//! hardware decoding with its remedy (see `v4l2_request_va::diag`).
//! Exit status: 0 without problems, 1 with problems, 2 on a usage error.

use v4l2_request_va::diag;

const USAGE: &str = "usage: v4l2-request-va-info [--json]

Lists the V4L2 stateless decoders found through the media controller (coded and
CAPTURE formats, frame sizes, decode mode, 10-bit probe, VA profiles), checks
device permissions, libva's driver path, LIBVA_DRIVER_NAME and the render node,
and prints each problem with its remedy. --json: the same as JSON, for bug
reports. LIBVA_V4L2_REQUEST_LOG=info shows the driver's own discovery log.";

fn main() {
    let mut as_json = false;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--json" => as_json = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => {
                eprintln!("v4l2-request-va-info: unknown argument {other:?}\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    diag::init_logging();
    let report = diag::collect(diag::Environment::read());
    if as_json {
        println!("{}", diag::render::json(&report).pretty());
    } else {
        print!("{}", diag::render::text(&report));
    }
    std::process::exit(if report.problems.is_empty() { 0 } else { 1 });
}
