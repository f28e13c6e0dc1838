//! The media controller ioctls `MEDIA_IOC_DEVICE_INFO` and
//! `MEDIA_IOC_G_TOPOLOGY` (not wrapped by v4l2r), returning owned, parsed
//! copies ([`DeviceInfo`], [`Topology`]). The structs and constants are
//! bindgen's, from the same `linux/media.h` as the rest of the uAPI (build.rs);
//! the walk from a decoder entity to its video node is `crate::device::media`.

use std::os::fd::BorrowedFd;
use std::path::Path;

use nix::errno::Errno;

use super::error::{Op, V4l2Error};

/// bindgen output of `linux/media.h` (structs and the `MEDIA_ENT_F_*`,
/// `MEDIA_INTF_T_*`, `MEDIA_LNK_FL_*` constants).
#[allow(non_camel_case_types, non_upper_case_globals, dead_code, clippy::all)]
#[allow(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
pub mod sys {
    include!(concat!(env!("OUT_DIR"), "/media_bindings.rs"));
}

pub use sys::{
    MEDIA_ENT_F_PROC_VIDEO_DECODER, MEDIA_INTF_T_V4L_VIDEO, MEDIA_LNK_FL_DATA_LINK, MEDIA_LNK_FL_INTERFACE_LINK, MEDIA_LNK_FL_LINK_TYPE,
};

/// Upper bound on any topology array we are willing to allocate.
const MAX_TOPOLOGY_ITEMS: u32 = 4096;

/// The ioctl edge of the media controller (device info and topology).
mod ioctl {
    use std::os::fd::{AsRawFd, BorrowedFd};

    use super::sys::{media_device_info, media_v2_topology};

    nix::ioctl_readwrite!(media_ioc_device_info, b'|', 0x00, media_device_info);
    nix::ioctl_readwrite!(media_ioc_g_topology, b'|', 0x04, media_v2_topology);

    pub fn device_info(media: BorrowedFd<'_>, info: &mut media_device_info) -> nix::Result<()> {
        // SAFETY: `info` is a valid, exclusively borrowed `struct media_device_info`
        // whose size is encoded in the request number; the kernel only writes within
        // it. `media` is an open fd for the duration of the call.
        unsafe { media_ioc_device_info(media.as_raw_fd(), info) }.map(|_| ())
    }

    /// `MEDIA_IOC_G_TOPOLOGY`.
    ///
    /// # Safety
    /// Every non-zero `ptr_*` of `topo` must point to memory writable for
    /// `num_*` elements of the matching struct (`media_v2_entity`, ...), live
    /// for the duration of the call: the kernel writes up to that many.
    pub unsafe fn g_topology(media: BorrowedFd<'_>, topo: &mut media_v2_topology) -> nix::Result<()> {
        // SAFETY: `topo` is a valid `struct media_v2_topology`; the kernel writes at
        // most `num_*` elements through each non-null `ptr_*`, and the caller
        // guarantees those arrays are live and large enough (see # Safety).
        unsafe { media_ioc_g_topology(media.as_raw_fd(), topo) }.map(|_| ())
    }
}

/// Bytes of a fixed-size C string up to the first NUL, lossily decoded.
pub fn c_str(chars: &[std::os::raw::c_char]) -> String {
    let bytes: Vec<u8> = chars.iter().map(|&c| c as u8).take_while(|&b| b != 0).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Owned, parsed device info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    pub driver: String,
    pub model: String,
    pub bus_info: String,
    pub media_version: u32,
}

/// One entity of a topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    pub id: u32,
    pub name: String,
    pub function: u32,
}

/// One interface (device node) of a topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interface {
    pub id: u32,
    pub intf_type: u32,
    pub major: u32,
    pub minor: u32,
}

/// One pad of a topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pad {
    pub id: u32,
    pub entity_id: u32,
    pub flags: u32,
}

/// One link of a topology (data link: pad → pad; interface link: interface → entity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub id: u32,
    pub source_id: u32,
    pub sink_id: u32,
    pub flags: u32,
}

/// A parsed topology (owned copy of what `MEDIA_IOC_G_TOPOLOGY` returned).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    pub version: u64,
    pub entities: Vec<Entity>,
    pub interfaces: Vec<Interface>,
    pub pads: Vec<Pad>,
    pub links: Vec<Link>,
}

fn media_err(op: Op, path: &Path, errno: Errno, what: &str) -> V4l2Error {
    log::warn!("{} on {} failed: {} ({})", op.name(), path.display(), errno, what);
    V4l2Error::Ioctl { op, errno, context: format!("{} {}", path.display(), what) }
}

/// `MEDIA_IOC_DEVICE_INFO` on the media device open as `media` (at `path`, for messages).
pub fn device_info(media: BorrowedFd<'_>, path: &Path) -> Result<DeviceInfo, V4l2Error> {
    let mut info = sys::media_device_info::default();
    ioctl::device_info(media, &mut info).map_err(|e| media_err(Op::MediaDeviceInfo, path, e, ""))?;
    Ok(DeviceInfo {
        driver: c_str(&info.driver),
        model: c_str(&info.model),
        bus_info: c_str(&info.bus_info),
        media_version: info.media_version,
    })
}

/// The parsed form of one `media_v2_interface` (its `devnode` for the node number).
fn interface(i: &sys::media_v2_interface) -> Interface {
    // SAFETY: both members of the union are plain `__u32` storage (`devnode` is two
    // of them, `raw` sixteen), so every bit pattern is a valid `devnode`.
    let devnode = unsafe { i.__bindgen_anon_1.devnode };
    Interface { id: i.id, intf_type: i.intf_type, major: devnode.major, minor: devnode.minor }
}

/// `MEDIA_IOC_G_TOPOLOGY`, twice (counts, then arrays), retried while the
/// topology changes between the two calls (bounded).
pub fn read_topology(media: BorrowedFd<'_>, path: &Path) -> Result<Topology, V4l2Error> {
    for _attempt in 0..4 {
        let mut counts = sys::media_v2_topology::default();
        // SAFETY: every `ptr_*` of `counts` is zero: the kernel writes only the counts.
        unsafe { ioctl::g_topology(media, &mut counts) }.map_err(|e| media_err(Op::MediaGTopology, path, e, "(counts)"))?;
        let (num_entities, num_interfaces, num_pads, num_links) =
            (counts.num_entities, counts.num_interfaces, counts.num_pads, counts.num_links);
        if num_entities > MAX_TOPOLOGY_ITEMS
            || num_interfaces > MAX_TOPOLOGY_ITEMS
            || num_pads > MAX_TOPOLOGY_ITEMS
            || num_links > MAX_TOPOLOGY_ITEMS
        {
            log::warn!("{}: implausibly large media topology {:?}", path.display(), counts);
            return Err(V4l2Error::Invalid(format!("{}: topology too large", path.display())));
        }
        let mut entities = vec![sys::media_v2_entity::default(); num_entities as usize];
        let mut interfaces = vec![sys::media_v2_interface::default(); num_interfaces as usize];
        let mut pads = vec![sys::media_v2_pad::default(); num_pads as usize];
        let mut links = vec![sys::media_v2_link::default(); num_links as usize];
        let mut topo = sys::media_v2_topology {
            num_entities,
            ptr_entities: entities.as_mut_ptr() as usize as u64,
            num_interfaces,
            ptr_interfaces: interfaces.as_mut_ptr() as usize as u64,
            num_pads,
            ptr_pads: pads.as_mut_ptr() as usize as u64,
            num_links,
            ptr_links: links.as_mut_ptr() as usize as u64,
            ..Default::default()
        };
        // SAFETY: each `ptr_*` points to a live Vec of exactly `num_*` default
        // elements of the matching struct, not otherwise borrowed until the call returns.
        match unsafe { ioctl::g_topology(media, &mut topo) } {
            Ok(()) => {}
            // The topology grew between the two calls.
            Err(Errno::ENOSPC) => continue,
            Err(e) => return Err(media_err(Op::MediaGTopology, path, e, "(arrays)")),
        }
        let version = topo.topology_version;
        if version != counts.topology_version {
            continue;
        }
        let n = |got: u32, cap: usize| (got as usize).min(cap);
        return Ok(Topology {
            version,
            entities: entities[..n(topo.num_entities, entities.len())]
                .iter()
                .map(|e| Entity { id: e.id, name: c_str(&e.name), function: e.function })
                .collect(),
            interfaces: interfaces[..n(topo.num_interfaces, interfaces.len())].iter().map(interface).collect(),
            pads: pads[..n(topo.num_pads, pads.len())].iter().map(|p| Pad { id: p.id, entity_id: p.entity_id, flags: p.flags }).collect(),
            links: links[..n(topo.num_links, links.len())]
                .iter()
                .map(|l| Link { id: l.id, source_id: l.source_id, sink_id: l.sink_id, flags: l.flags })
                .collect(),
        });
    }
    log::warn!("{}: media topology kept changing while reading it", path.display());
    Err(V4l2Error::Invalid(format!("{}: topology unstable", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;
    use std::os::fd::AsFd;

    #[test]
    fn struct_sizes_match_media_h() {
        // Sizes of include/uapi/linux/media.h (6.12), as the request numbers encode them.
        assert_eq!(size_of::<sys::media_device_info>(), 256);
        assert_eq!(size_of::<sys::media_v2_entity>(), 96);
        assert_eq!(size_of::<sys::media_v2_interface>(), 112);
        assert_eq!(size_of::<sys::media_v2_pad>(), 32);
        assert_eq!(size_of::<sys::media_v2_link>(), 40);
        assert_eq!(size_of::<sys::media_v2_topology>(), 72);
        assert_eq!(nix::request_code_readwrite!(b'|', 0x00, size_of::<sys::media_device_info>()), 0xc100_7c00);
        assert_eq!(nix::request_code_readwrite!(b'|', 0x04, size_of::<sys::media_v2_topology>()), 0xc048_7c04);
    }

    #[test]
    fn c_str_stops_at_nul() {
        let chars = |b: &[u8]| b.iter().map(|&b| b as std::os::raw::c_char).collect::<Vec<_>>();
        assert_eq!(c_str(&chars(b"visl\0\0\0")), "visl");
        assert_eq!(c_str(&chars(b"abc")), "abc");
        assert_eq!(c_str(&chars(b"\0abc")), "");
    }

    #[test]
    fn interface_devnode_is_the_union_start() {
        let mut raw = [0; 16];
        raw[..2].copy_from_slice(&[81, 3]);
        let i = sys::media_v2_interface {
            id: 7,
            intf_type: MEDIA_INTF_T_V4L_VIDEO,
            __bindgen_anon_1: sys::media_v2_interface__bindgen_ty_1 { raw },
            ..Default::default()
        };
        assert_eq!(interface(&i), Interface { id: 7, intf_type: MEDIA_INTF_T_V4L_VIDEO, major: 81, minor: 3 });
    }

    #[test]
    fn ioctls_on_a_non_media_fd_fail_cleanly() {
        let f = std::fs::File::open("/dev/null").unwrap();
        assert!(device_info(f.as_fd(), Path::new("/dev/null")).is_err());
        assert!(read_topology(f.as_fd(), Path::new("/dev/null")).is_err());
    }
}
