//! Environment traps: device nodes that discovery finds but cannot open.
//!
//! Two causes account for nearly every "hardware decoding does not happen"
//! report of V4L2 VA drivers: the user may not open `/dev/media*` /
//! `/dev/video*` (not in the group that owns them), or a sandbox blocks them
//! although the permissions would allow it (Firefox's RDD process, which
//! runs the VA driver, unless `MOZ_DISABLE_RDD_SANDBOX=1`). When an open (or
//! the listing of `/dev`) fails with `EACCES` / `EPERM`, [`note_open_error`]
//! warns once per trap and process, with the remedy, even when the driver's
//! logging is off (then on stderr, as libva's own messages are).
//! `v4l2-request-va-info` uses the same wording ([`diagnose`]).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::unistd::{Gid, Group, Uid, User};

/// What keeps the process from a device node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trap {
    /// Firefox's RDD (media decoder) process: its sandbox blocks the nodes.
    FirefoxRdd,
    /// The permissions allow it, yet the open was refused: some sandbox or
    /// security module (flatpak, snap, AppArmor, SELinux) is in the way.
    Sandbox,
    /// The node's owner, group and mode do not let this user open it.
    Permission,
}

/// One trap, with the line that explains it and the remedy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    pub trap: Trap,
    /// What happened, e.g. "cannot open /dev/media0 (crw-rw---- root:video): EACCES".
    pub what: String,
    /// What to do, in one line.
    pub remedy: String,
}

static WARNED: [AtomicBool; 3] = [AtomicBool::new(false), AtomicBool::new(false), AtomicBool::new(false)];

fn trap_index(t: &Trap) -> usize {
    match t {
        Trap::FirefoxRdd => 0,
        Trap::Sandbox => 1,
        Trap::Permission => 2,
    }
}

/// Discovery could not open `path` (a `/dev/media*` or `/dev/video*` node, or
/// `/dev` itself): warn once per trap and process when `errno` is `EACCES` or
/// `EPERM` (other errors are the caller's to log).
pub fn note_open_error(path: &Path, errno: Errno) {
    let Some(d) = diagnose(path, errno) else {
        return;
    };
    if WARNED[trap_index(&d.trap)].swap(true, Ordering::Relaxed) {
        return;
    }
    let line = format!("{}: {}", d.what, d.remedy);
    if crate::logging::enabled() {
        log::warn!("{line}");
    } else {
        // Logging is off (the default inside applications): this one line still
        // has to reach the user, who otherwise only sees "no VA profiles".
        eprintln!("v4l2-request-va: warning: {line}");
    }
}

/// The trap behind a refused open of `path`, or `None` when `errno` is not a
/// permission error.
pub fn diagnose(path: &Path, errno: Errno) -> Option<Diagnosis> {
    if !matches!(errno, Errno::EACCES | Errno::EPERM) {
        return None;
    }
    let (comm, args) = own_process();
    let node = NodeAccess::of(path);
    let shown = match &node {
        Some(n) => format!("{} ({} {}:{})", path.display(), n.mode_string(), n.owner, n.group),
        None => path.display().to_string(),
    };
    let what = format!("cannot open {shown}: {}", errno.desc());
    if is_firefox_rdd(&comm, &args) {
        return Some(Diagnosis {
            trap: Trap::FirefoxRdd,
            what: format!("{what} (in Firefox's RDD process)"),
            remedy: "Firefox's RDD sandbox blocks V4L2 devices: start Firefox with MOZ_DISABLE_RDD_SANDBOX=1".into(),
        });
    }
    let user = Caller::current();
    match node {
        Some(n) if n.allows(&user) => Some(Diagnosis {
            trap: Trap::Sandbox,
            what: format!("{what} although its permissions allow it"),
            remedy: "a sandbox or security module (flatpak, snap, AppArmor, SELinux) blocks the device: allow /dev/media* and /dev/video* in it".into(),
        }),
        Some(n) => Some(Diagnosis {
            trap: Trap::Permission,
            what,
            remedy: n.remedy(&user),
        }),
        None => Some(Diagnosis {
            trap: Trap::Permission,
            what,
            remedy: "the device nodes are not accessible to this user: give the user read/write access to /dev/media* and /dev/video* (usually membership of group video)".into(),
        }),
    }
}

/// Whether the process is Firefox's RDD (remote data decoder) process: its
/// main thread is named "RDD Process", and Firefox child processes end their
/// command line with the process type (`-contentproc ... rdd`).
pub fn is_firefox_rdd(comm: &str, args: &[String]) -> bool {
    comm.trim_end() == "RDD Process" || (args.iter().any(|a| a == "-contentproc") && args.last().is_some_and(|a| a == "rdd"))
}

fn own_process() -> (String, Vec<String>) {
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
    let args = std::fs::read("/proc/self/cmdline")
        .map(|b| b.split(|&c| c == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8_lossy(s).into_owned()).collect())
        .unwrap_or_default();
    (comm, args)
}

/// Who is asking: the real user and the process's groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    pub name: String,
    /// Primary and supplementary groups of the process.
    pub gids: Vec<u32>,
}

impl Caller {
    pub fn current() -> Self {
        let uid = Uid::current();
        let name = User::from_uid(uid).ok().flatten().map(|u| u.name).unwrap_or_else(|| uid.to_string());
        let mut gids: Vec<u32> = vec![Gid::current().as_raw()];
        for g in nix::unistd::getgroups().unwrap_or_default() {
            if !gids.contains(&g.as_raw()) {
                gids.push(g.as_raw());
            }
        }
        Caller { uid: uid.as_raw(), name, gids }
    }
}

/// Owner, group and mode of a device node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAccess {
    pub uid: u32,
    pub gid: u32,
    pub owner: String,
    pub group: String,
    /// Permission bits (`st_mode & 0o777`).
    pub mode: u32,
    pub char_device: bool,
    /// Members of the group listed in the group database (not the primary
    /// members, whose passwd entry names the group).
    pub group_members: Vec<String>,
}

impl NodeAccess {
    /// `stat` of `path` (`None` when even that fails).
    pub fn of(path: &Path) -> Option<Self> {
        let md = std::fs::metadata(path).ok()?;
        let (uid, gid) = (md.uid(), md.gid());
        let owner = User::from_uid(Uid::from_raw(uid)).ok().flatten().map(|u| u.name).unwrap_or_else(|| uid.to_string());
        let group = Group::from_gid(Gid::from_raw(gid)).ok().flatten();
        Some(NodeAccess {
            uid,
            gid,
            owner,
            group: group.as_ref().map(|g| g.name.clone()).unwrap_or_else(|| gid.to_string()),
            mode: md.permissions().mode() & 0o777,
            char_device: std::os::unix::fs::FileTypeExt::is_char_device(&md.file_type()),
            group_members: group.map(|g| g.mem).unwrap_or_default(),
        })
    }

    /// `crw-rw----` style.
    pub fn mode_string(&self) -> String {
        let mut s = String::from(if self.char_device { "c" } else { "-" });
        for shift in [6, 3, 0] {
            let bits = (self.mode >> shift) & 7;
            s.push(if bits & 4 != 0 { 'r' } else { '-' });
            s.push(if bits & 2 != 0 { 'w' } else { '-' });
            s.push(if bits & 1 != 0 { 'x' } else { '-' });
        }
        s
    }

    /// Whether the mode bits give `caller` read and write access (what the
    /// driver's opens need).
    pub fn allows(&self, caller: &Caller) -> bool {
        let rw = |bits: u32| bits & 6 == 6;
        if caller.uid == 0 {
            return true;
        }
        if caller.uid == self.uid {
            return rw(self.mode >> 6);
        }
        if caller.gids.contains(&self.gid) {
            return rw(self.mode >> 3);
        }
        rw(self.mode)
    }

    /// Whether `caller` is in the node's group: by the process's groups.
    pub fn caller_in_group(&self, caller: &Caller) -> bool {
        caller.gids.contains(&self.gid)
    }

    /// The one-line remedy for a `caller` whom [`Self::allows`] refuses.
    pub fn remedy(&self, caller: &Caller) -> String {
        let g = &self.group;
        if self.gid == 0 || self.mode & 0o060 != 0o060 {
            return format!(
                "only {} may open it: add a udev rule giving a group read/write access (e.g. MODE=\"0660\", GROUP=\"video\") and add {} to that group",
                self.owner, caller.name
            );
        }
        if self.caller_in_group(caller) {
            // In the group, yet refused: cannot happen with mode g+rw; keep it honest.
            return format!("{} is in group {g} but has no access: check the node's ACLs", caller.name);
        }
        if self.group_members.contains(&caller.name) {
            return format!(
                "{} was added to group {g} after this session started: log out and in again (or run `newgrp {g}`)",
                caller.name
            );
        }
        format!("add {0} to group {g}: `sudo usermod -aG {g} {0}`, then log out and in again", caller.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(uid: u32, gid: u32, group: &str, mode: u32, members: &[&str]) -> NodeAccess {
        NodeAccess {
            uid,
            gid,
            owner: "root".into(),
            group: group.into(),
            mode,
            char_device: true,
            group_members: members.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn caller(uid: u32, name: &str, gids: &[u32]) -> Caller {
        Caller { uid, name: name.into(), gids: gids.to_vec() }
    }

    #[test]
    fn firefox_rdd_is_recognised() {
        assert!(is_firefox_rdd("RDD Process\n", &[]));
        let args: Vec<String> =
            ["/usr/lib/firefox/firefox", "-contentproc", "-parentBuildID", "1", "7", "true", "rdd"].iter().map(|s| s.to_string()).collect();
        assert!(is_firefox_rdd("firefox-esr", &args));
        let mut content = args.clone();
        *content.last_mut().unwrap() = "tab".into();
        assert!(!is_firefox_rdd("Web Content", &content));
        assert!(!is_firefox_rdd("mpv", &["mpv".into(), "rdd".into()]));
    }

    #[test]
    fn mode_bits_decide_access() {
        let video = node(0, 44, "video", 0o660, &[]);
        assert_eq!(video.mode_string(), "crw-rw----");
        assert!(video.allows(&caller(1000, "alice", &[1000, 44])));
        assert!(!video.allows(&caller(1000, "alice", &[1000])));
        assert!(video.allows(&caller(0, "root", &[0])));
        let open = node(0, 0, "root", 0o666, &[]);
        assert!(open.allows(&caller(65534, "nobody", &[65534])));
        let read_only = node(0, 44, "video", 0o640, &[]);
        assert!(!read_only.allows(&caller(1000, "alice", &[44])));
    }

    #[test]
    fn remedies_name_the_group_or_the_missing_rule() {
        let alice = caller(1000, "alice", &[1000]);
        let video = node(0, 44, "video", 0o660, &[]);
        assert_eq!(video.remedy(&alice), "add alice to group video: `sudo usermod -aG video alice`, then log out and in again");
        let added = node(0, 44, "video", 0o660, &["bob", "alice"]);
        assert!(added.remedy(&alice).contains("log out and in again (or run `newgrp video`)"));
        let root_only = node(0, 0, "root", 0o600, &[]);
        assert!(root_only.remedy(&alice).starts_with("only root may open it: add a udev rule"));
    }

    #[test]
    fn only_permission_errors_are_traps() {
        assert!(diagnose(Path::new("/dev/null"), Errno::ENOENT).is_none());
        assert!(diagnose(Path::new("/dev/null"), Errno::EBUSY).is_none());
        // /dev/null is crw-rw-rw-: refused although allowed means a sandbox.
        let d = diagnose(Path::new("/dev/null"), Errno::EACCES).unwrap();
        assert_eq!(d.trap, Trap::Sandbox);
        assert!(d.what.starts_with("cannot open /dev/null (crw-rw-rw- root:root)"), "{}", d.what);
    }
}
