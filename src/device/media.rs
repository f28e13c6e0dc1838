//! Media controller topology: `MEDIA_IOC_DEVICE_INFO` and `MEDIA_IOC_G_TOPOLOGY`
//! (not wrapped by v4l2r), plus the pure topology walk from a decoder entity to
//! the `major:minor` of its V4L2 video node.
//!
//! The `#[repr(C)]` structs mirror `include/uapi/linux/media.h` by hand (all
//! members are naturally aligned, so `repr(C)` gives the same layout as the
//! header's `__attribute__((packed))`); the tests assert every size.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::errno::Errno;

use crate::v4l2::{Op, V4l2Error};

/// `MEDIA_ENT_F_BASE`
pub const MEDIA_ENT_F_BASE: u32 = 0x0000_0000;
/// `MEDIA_ENT_F_OLD_BASE`
pub const MEDIA_ENT_F_OLD_BASE: u32 = 0x0001_0000;
/// `MEDIA_ENT_F_IO_V4L`: a V4L2 DMA engine (the m2m source / sink entities).
pub const MEDIA_ENT_F_IO_V4L: u32 = MEDIA_ENT_F_OLD_BASE + 1;
/// `MEDIA_ENT_F_PROC_VIDEO_DECODER`
pub const MEDIA_ENT_F_PROC_VIDEO_DECODER: u32 = MEDIA_ENT_F_BASE + 0x4008;
/// `MEDIA_ENT_F_PROC_VIDEO_ENCODER`
pub const MEDIA_ENT_F_PROC_VIDEO_ENCODER: u32 = MEDIA_ENT_F_BASE + 0x4007;
/// `MEDIA_INTF_T_V4L_VIDEO`
pub const MEDIA_INTF_T_V4L_VIDEO: u32 = 0x0000_0200;
/// `MEDIA_LNK_FL_LINK_TYPE`
pub const MEDIA_LNK_FL_LINK_TYPE: u32 = 0xf << 28;
/// `MEDIA_LNK_FL_DATA_LINK`
pub const MEDIA_LNK_FL_DATA_LINK: u32 = 0;
/// `MEDIA_LNK_FL_INTERFACE_LINK`
pub const MEDIA_LNK_FL_INTERFACE_LINK: u32 = 1 << 28;

/// Upper bound on any topology array we are willing to allocate.
const MAX_TOPOLOGY_ITEMS: u32 = 4096;

/// `struct media_device_info`
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MediaDeviceInfo {
    pub driver: [u8; 16],
    pub model: [u8; 32],
    pub serial: [u8; 40],
    pub bus_info: [u8; 32],
    pub media_version: u32,
    pub hw_revision: u32,
    pub driver_version: u32,
    pub reserved: [u32; 31],
}

impl Default for MediaDeviceInfo {
    fn default() -> Self {
        Self {
            driver: [0; 16],
            model: [0; 32],
            serial: [0; 40],
            bus_info: [0; 32],
            media_version: 0,
            hw_revision: 0,
            driver_version: 0,
            reserved: [0; 31],
        }
    }
}

/// `struct media_v2_entity`
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MediaV2Entity {
    pub id: u32,
    pub name: [u8; 64],
    pub function: u32,
    pub flags: u32,
    pub reserved: [u32; 5],
}

impl Default for MediaV2Entity {
    fn default() -> Self {
        Self { id: 0, name: [0; 64], function: 0, flags: 0, reserved: [0; 5] }
    }
}

/// `struct media_v2_interface`; the trailing union (`devnode` / `raw[16]`) is
/// `raw`, with `devnode.major == raw[0]` and `devnode.minor == raw[1]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MediaV2Interface {
    pub id: u32,
    pub intf_type: u32,
    pub flags: u32,
    pub reserved: [u32; 9],
    pub raw: [u32; 16],
}

/// `struct media_v2_pad`
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MediaV2Pad {
    pub id: u32,
    pub entity_id: u32,
    pub flags: u32,
    pub index: u32,
    pub reserved: [u32; 4],
}

/// `struct media_v2_link`
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MediaV2Link {
    pub id: u32,
    pub source_id: u32,
    pub sink_id: u32,
    pub flags: u32,
    pub reserved: [u32; 6],
}

/// `struct media_v2_topology`
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MediaV2Topology {
    pub topology_version: u64,
    pub num_entities: u32,
    pub reserved1: u32,
    pub ptr_entities: u64,
    pub num_interfaces: u32,
    pub reserved2: u32,
    pub ptr_interfaces: u64,
    pub num_pads: u32,
    pub reserved3: u32,
    pub ptr_pads: u64,
    pub num_links: u32,
    pub reserved4: u32,
    pub ptr_links: u64,
}

/// The ioctl edge of the media controller (device info and topology).
mod ioctl {
    use super::{MediaDeviceInfo, MediaV2Topology};
    nix::ioctl_readwrite!(media_ioc_device_info, b'|', 0x00, MediaDeviceInfo);
    nix::ioctl_readwrite!(media_ioc_g_topology, b'|', 0x04, MediaV2Topology);

    pub fn device_info(fd: i32, info: &mut MediaDeviceInfo) -> nix::Result<()> {
        // SAFETY: `info` is a valid, exclusively borrowed `struct media_device_info`
        // whose size is encoded in the request number (asserted by the tests); the
        // kernel only writes within it.
        unsafe { media_ioc_device_info(fd, info) }.map(|_| ())
    }

    /// # Contract
    /// Every non-zero `ptr_*` of `topo` points to writable memory for `num_*`
    /// elements of the matching struct (upheld by [`super::read_topology`], the
    /// only caller).
    pub fn g_topology(fd: i32, topo: &mut MediaV2Topology) -> nix::Result<()> {
        // SAFETY: `topo` is a valid `struct media_v2_topology`; the kernel writes at
        // most `num_*` elements through each non-null `ptr_*`, and the caller
        // guarantees those arrays are live and large enough (see contract).
        unsafe { media_ioc_g_topology(fd, topo) }.map(|_| ())
    }
}

/// Bytes of a fixed-size C string up to the first NUL, lossily decoded.
pub fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
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

/// A decoder found in a topology: the entity and the video devnode it is reached through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecoderDevnode {
    pub entity_name: String,
    pub major: u32,
    pub minor: u32,
}

impl Topology {
    /// Video device nodes (`major:minor`) of every entity with `function`.
    ///
    /// The m2m framework registers: source IO entity → processing entity → sink IO
    /// entity (data links between pads) and an interface link from the V4L2 video
    /// interface to both IO entities. A direct interface link to the processing
    /// entity is accepted too. Each devnode is reported once per entity.
    pub fn devnodes_for_function(&self, function: u32) -> Vec<DecoderDevnode> {
        let mut out: Vec<DecoderDevnode> = Vec::new();
        for ent in self.entities.iter().filter(|e| e.function == function) {
            // Entities reachable through one data link (either direction), and the entity itself.
            let mut neighbours = vec![ent.id];
            let own_pads: Vec<u32> = self.pads.iter().filter(|p| p.entity_id == ent.id).map(|p| p.id).collect();
            for link in self.links.iter().filter(|l| l.flags & MEDIA_LNK_FL_LINK_TYPE == MEDIA_LNK_FL_DATA_LINK) {
                let other_pad = if own_pads.contains(&link.source_id) {
                    link.sink_id
                } else if own_pads.contains(&link.sink_id) {
                    link.source_id
                } else {
                    continue;
                };
                if let Some(p) = self.pads.iter().find(|p| p.id == other_pad) {
                    if !neighbours.contains(&p.entity_id) {
                        neighbours.push(p.entity_id);
                    }
                }
            }
            for link in self.links.iter().filter(|l| l.flags & MEDIA_LNK_FL_LINK_TYPE == MEDIA_LNK_FL_INTERFACE_LINK) {
                if !neighbours.contains(&link.sink_id) {
                    continue;
                }
                let Some(intf) = self.interfaces.iter().find(|i| i.id == link.source_id) else {
                    continue;
                };
                if intf.intf_type != MEDIA_INTF_T_V4L_VIDEO {
                    continue;
                }
                let dn = DecoderDevnode { entity_name: ent.name.clone(), major: intf.major, minor: intf.minor };
                if !out.contains(&dn) {
                    out.push(dn);
                }
            }
        }
        out
    }

    /// Video devnodes of the stateless decoders of this media device.
    pub fn decoder_devnodes(&self) -> Vec<DecoderDevnode> {
        self.devnodes_for_function(MEDIA_ENT_F_PROC_VIDEO_DECODER)
    }

    /// Whether any video interface of this topology has `major:minor`.
    pub fn has_video_devnode(&self, major: u32, minor: u32) -> bool {
        self.interfaces.iter().any(|i| i.intf_type == MEDIA_INTF_T_V4L_VIDEO && i.major == major && i.minor == minor)
    }
}

fn media_err(op: Op, path: &Path, errno: Errno, what: &str) -> V4l2Error {
    log::warn!("{} on {} failed: {} ({})", op.name(), path.display(), errno, what);
    V4l2Error::Ioctl { op, errno, context: format!("{} {}", path.display(), what) }
}

/// `MEDIA_IOC_DEVICE_INFO`
pub fn device_info(fd: &File, path: &Path) -> Result<DeviceInfo, V4l2Error> {
    let mut info = MediaDeviceInfo::default();
    ioctl::device_info(fd.as_raw_fd(), &mut info).map_err(|e| media_err(Op::MediaDeviceInfo, path, e, ""))?;
    Ok(DeviceInfo {
        driver: c_str(&info.driver),
        model: c_str(&info.model),
        bus_info: c_str(&info.bus_info),
        media_version: info.media_version,
    })
}

/// `MEDIA_IOC_G_TOPOLOGY`, twice (counts, then arrays), retried while the
/// topology changes between the two calls (bounded).
pub fn read_topology(fd: &File, path: &Path) -> Result<Topology, V4l2Error> {
    for _attempt in 0..4 {
        let mut counts = MediaV2Topology::default();
        ioctl::g_topology(fd.as_raw_fd(), &mut counts).map_err(|e| media_err(Op::MediaGTopology, path, e, "(counts)"))?;
        if counts.num_entities > MAX_TOPOLOGY_ITEMS
            || counts.num_interfaces > MAX_TOPOLOGY_ITEMS
            || counts.num_pads > MAX_TOPOLOGY_ITEMS
            || counts.num_links > MAX_TOPOLOGY_ITEMS
        {
            log::warn!("{}: implausibly large media topology {:?}", path.display(), counts);
            return Err(V4l2Error::Invalid(format!("{}: topology too large", path.display())));
        }
        let mut entities = vec![MediaV2Entity::default(); counts.num_entities as usize];
        let mut interfaces = vec![MediaV2Interface::default(); counts.num_interfaces as usize];
        let mut pads = vec![MediaV2Pad::default(); counts.num_pads as usize];
        let mut links = vec![MediaV2Link::default(); counts.num_links as usize];
        let mut topo = MediaV2Topology {
            num_entities: counts.num_entities,
            ptr_entities: entities.as_mut_ptr() as usize as u64,
            num_interfaces: counts.num_interfaces,
            ptr_interfaces: interfaces.as_mut_ptr() as usize as u64,
            num_pads: counts.num_pads,
            ptr_pads: pads.as_mut_ptr() as usize as u64,
            num_links: counts.num_links,
            ptr_links: links.as_mut_ptr() as usize as u64,
            ..Default::default()
        };
        match ioctl::g_topology(fd.as_raw_fd(), &mut topo) {
            Ok(()) => {}
            // The topology grew between the two calls.
            Err(Errno::ENOSPC) => continue,
            Err(e) => return Err(media_err(Op::MediaGTopology, path, e, "(arrays)")),
        }
        if topo.topology_version != counts.topology_version {
            continue;
        }
        let n = |got: u32, cap: usize| (got as usize).min(cap);
        return Ok(Topology {
            version: topo.topology_version,
            entities: entities[..n(topo.num_entities, entities.len())]
                .iter()
                .map(|e| Entity { id: e.id, name: c_str(&e.name), function: e.function })
                .collect(),
            interfaces: interfaces[..n(topo.num_interfaces, interfaces.len())]
                .iter()
                .map(|i| Interface { id: i.id, intf_type: i.intf_type, major: i.raw[0], minor: i.raw[1] })
                .collect(),
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

/// `DEVNAME=` of a sysfs `uevent` file (`/sys/dev/char/M:m/uevent`).
pub fn parse_uevent_devname(uevent: &str) -> Option<String> {
    uevent.lines().find_map(|l| l.strip_prefix("DEVNAME=")).map(|s| s.trim().to_string()).filter(|s| !s.is_empty() && !s.contains(".."))
}

/// `/dev/<DEVNAME>` of a character device number, through sysfs.
pub fn devnode_path(major: u32, minor: u32) -> Option<std::path::PathBuf> {
    let uevent = std::fs::read_to_string(format!("/sys/dev/char/{major}:{minor}/uevent")).ok()?;
    let name = parse_uevent_devname(&uevent)?;
    Some(Path::new("/dev").join(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn struct_sizes_match_media_h() {
        // Sizes from include/uapi/linux/media.h (6.12).
        assert_eq!(size_of::<MediaDeviceInfo>(), 256);
        assert_eq!(size_of::<MediaV2Entity>(), 96);
        assert_eq!(size_of::<MediaV2Interface>(), 112);
        assert_eq!(size_of::<MediaV2Pad>(), 32);
        assert_eq!(size_of::<MediaV2Link>(), 40);
        assert_eq!(size_of::<MediaV2Topology>(), 72);
    }

    #[test]
    fn ioctl_numbers_match_media_h() {
        // _IOWR('|', 0x00, struct media_device_info) and _IOWR('|', 0x04, struct media_v2_topology).
        assert_eq!(nix::request_code_readwrite!(b'|', 0x00, size_of::<MediaDeviceInfo>()), 0xc100_7c00);
        assert_eq!(nix::request_code_readwrite!(b'|', 0x04, size_of::<MediaV2Topology>()), 0xc048_7c04);
    }

    #[test]
    fn field_offsets() {
        let t = MediaV2Topology::default();
        let base = &t as *const _ as usize;
        assert_eq!(&t.ptr_entities as *const _ as usize - base, 16);
        assert_eq!(&t.ptr_interfaces as *const _ as usize - base, 32);
        assert_eq!(&t.ptr_pads as *const _ as usize - base, 48);
        assert_eq!(&t.ptr_links as *const _ as usize - base, 64);
        let i = MediaV2Interface::default();
        assert_eq!(&i.raw as *const _ as usize - &i as *const _ as usize, 48);
        let e = MediaV2Entity::default();
        assert_eq!(&e.function as *const _ as usize - &e as *const _ as usize, 68);
        let d = MediaDeviceInfo::default();
        assert_eq!(&d.media_version as *const _ as usize - &d as *const _ as usize, 120);
    }

    #[test]
    fn c_str_stops_at_nul() {
        assert_eq!(c_str(b"visl\0\0\0"), "visl");
        assert_eq!(c_str(b"abc"), "abc");
        assert_eq!(c_str(b"\0abc"), "");
    }

    #[test]
    fn uevent_devname() {
        let u = "MAJOR=81\nMINOR=0\nDEVNAME=video0\n";
        assert_eq!(parse_uevent_devname(u).as_deref(), Some("video0"));
        assert_eq!(parse_uevent_devname("MAJOR=1\n"), None);
        assert_eq!(parse_uevent_devname("DEVNAME=../etc\n"), None);
        assert_eq!(parse_uevent_devname("DEVNAME=v4l/video3").as_deref(), Some("v4l/video3"));
    }

    /// The topology v4l2_m2m_register_media_controller() builds (ids as on visl).
    pub(crate) fn m2m_topology(func: u32, major: u32, minor: u32, base: u32) -> Topology {
        let (src, proc_, sink, intf) = (base + 1, base + 3, base + 6, base + 12);
        Topology {
            version: 1,
            entities: vec![
                Entity { id: src, name: "visl-source".into(), function: MEDIA_ENT_F_IO_V4L },
                Entity { id: proc_, name: "visl-proc".into(), function: func },
                Entity { id: sink, name: "visl-sink".into(), function: MEDIA_ENT_F_IO_V4L },
            ],
            interfaces: vec![Interface { id: intf, intf_type: MEDIA_INTF_T_V4L_VIDEO, major, minor }],
            pads: vec![
                Pad { id: base + 2, entity_id: src, flags: 2 },
                Pad { id: base + 4, entity_id: proc_, flags: 1 },
                Pad { id: base + 5, entity_id: proc_, flags: 2 },
                Pad { id: base + 7, entity_id: sink, flags: 1 },
            ],
            links: vec![
                Link { id: base + 8, source_id: base + 2, sink_id: base + 4, flags: 3 },
                Link { id: base + 10, source_id: base + 5, sink_id: base + 7, flags: 3 },
                Link { id: base + 13, source_id: intf, sink_id: src, flags: MEDIA_LNK_FL_INTERFACE_LINK | 3 },
                Link { id: base + 14, source_id: intf, sink_id: sink, flags: MEDIA_LNK_FL_INTERFACE_LINK | 3 },
            ],
        }
    }

    #[test]
    fn walk_m2m_decoder_topology() {
        let t = m2m_topology(MEDIA_ENT_F_PROC_VIDEO_DECODER, 81, 3, 0);
        let d = t.decoder_devnodes();
        assert_eq!(d, vec![DecoderDevnode { entity_name: "visl-proc".into(), major: 81, minor: 3 }]);
        assert!(t.has_video_devnode(81, 3));
        assert!(!t.has_video_devnode(81, 4));
    }

    #[test]
    fn encoder_is_not_a_decoder() {
        let t = m2m_topology(MEDIA_ENT_F_PROC_VIDEO_ENCODER, 81, 3, 0);
        assert!(t.decoder_devnodes().is_empty());
    }

    #[test]
    fn decoder_and_encoder_on_one_media_device() {
        // hantro: decoder and encoder share /dev/media0.
        let a = m2m_topology(MEDIA_ENT_F_PROC_VIDEO_DECODER, 81, 0, 0);
        let b = m2m_topology(MEDIA_ENT_F_PROC_VIDEO_ENCODER, 81, 1, 100);
        let t = Topology {
            version: 2,
            entities: [a.entities, b.entities].concat(),
            interfaces: [a.interfaces, b.interfaces].concat(),
            pads: [a.pads, b.pads].concat(),
            links: [a.links, b.links].concat(),
        };
        let d = t.decoder_devnodes();
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].major, d[0].minor), (81, 0));
    }

    #[test]
    fn direct_interface_link_to_the_decoder() {
        let t = Topology {
            version: 1,
            entities: vec![Entity { id: 1, name: "dec".into(), function: MEDIA_ENT_F_PROC_VIDEO_DECODER }],
            interfaces: vec![Interface { id: 2, intf_type: MEDIA_INTF_T_V4L_VIDEO, major: 81, minor: 7 }],
            pads: vec![],
            links: vec![Link { id: 3, source_id: 2, sink_id: 1, flags: MEDIA_LNK_FL_INTERFACE_LINK }],
        };
        assert_eq!(t.decoder_devnodes().len(), 1);
    }

    #[test]
    fn non_video_interfaces_and_dangling_links_are_ignored() {
        let mut t = m2m_topology(MEDIA_ENT_F_PROC_VIDEO_DECODER, 81, 3, 0);
        t.interfaces[0].intf_type = MEDIA_INTF_T_V4L_VIDEO + 3; // a subdev node
        t.links.push(Link { id: 99, source_id: 1234, sink_id: 1, flags: MEDIA_LNK_FL_INTERFACE_LINK });
        t.links.push(Link { id: 98, source_id: 555, sink_id: 556, flags: 0 });
        assert!(t.decoder_devnodes().is_empty());
        assert!(Topology::default().decoder_devnodes().is_empty());
    }
}
