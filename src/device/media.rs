//! The walk through a media controller topology (read by
//! [`crate::v4l2::media::read_topology`]) from a decoder entity to the
//! `major:minor` of its V4L2 video node, and from there to `/dev/videoN`
//! through sysfs. Pure but for the sysfs read.

use std::path::Path;

use crate::v4l2::media::{
    Topology, MEDIA_ENT_F_PROC_VIDEO_DECODER, MEDIA_INTF_T_V4L_VIDEO, MEDIA_LNK_FL_DATA_LINK, MEDIA_LNK_FL_INTERFACE_LINK,
    MEDIA_LNK_FL_LINK_TYPE,
};

/// A decoder found in a topology: the entity and the video devnode it is reached through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecoderDevnode {
    pub entity_name: String,
    pub major: u32,
    pub minor: u32,
}

/// Video device nodes (`major:minor`) of every entity with `function`.
///
/// The m2m framework registers: source IO entity → processing entity → sink IO
/// entity (data links between pads) and an interface link from the V4L2 video
/// interface to both IO entities. A direct interface link to the processing
/// entity is accepted too. Each devnode is reported once per entity.
pub fn devnodes_for_function(topo: &Topology, function: u32) -> Vec<DecoderDevnode> {
    let mut out: Vec<DecoderDevnode> = Vec::new();
    for ent in topo.entities.iter().filter(|e| e.function == function) {
        // Entities reachable through one data link (either direction), and the entity itself.
        let mut neighbours = vec![ent.id];
        let own_pads: Vec<u32> = topo.pads.iter().filter(|p| p.entity_id == ent.id).map(|p| p.id).collect();
        for link in topo.links.iter().filter(|l| l.flags & MEDIA_LNK_FL_LINK_TYPE == MEDIA_LNK_FL_DATA_LINK) {
            let other_pad = if own_pads.contains(&link.source_id) {
                link.sink_id
            } else if own_pads.contains(&link.sink_id) {
                link.source_id
            } else {
                continue;
            };
            if let Some(p) = topo.pads.iter().find(|p| p.id == other_pad) {
                if !neighbours.contains(&p.entity_id) {
                    neighbours.push(p.entity_id);
                }
            }
        }
        for link in topo.links.iter().filter(|l| l.flags & MEDIA_LNK_FL_LINK_TYPE == MEDIA_LNK_FL_INTERFACE_LINK) {
            if !neighbours.contains(&link.sink_id) {
                continue;
            }
            let Some(intf) = topo.interfaces.iter().find(|i| i.id == link.source_id) else {
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
pub fn decoder_devnodes(topo: &Topology) -> Vec<DecoderDevnode> {
    devnodes_for_function(topo, MEDIA_ENT_F_PROC_VIDEO_DECODER)
}

/// Whether any video interface of this topology has `major:minor`.
pub fn has_video_devnode(topo: &Topology, major: u32, minor: u32) -> bool {
    topo.interfaces.iter().any(|i| i.intf_type == MEDIA_INTF_T_V4L_VIDEO && i.major == major && i.minor == minor)
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
    use crate::v4l2::media::sys::{MEDIA_ENT_F_IO_V4L, MEDIA_ENT_F_PROC_VIDEO_ENCODER};
    use crate::v4l2::media::{Entity, Interface, Link, Pad};

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
        let d = decoder_devnodes(&t);
        assert_eq!(d, vec![DecoderDevnode { entity_name: "visl-proc".into(), major: 81, minor: 3 }]);
        assert!(has_video_devnode(&t, 81, 3));
        assert!(!has_video_devnode(&t, 81, 4));
    }

    #[test]
    fn encoder_is_not_a_decoder() {
        let t = m2m_topology(MEDIA_ENT_F_PROC_VIDEO_ENCODER, 81, 3, 0);
        assert!(decoder_devnodes(&t).is_empty());
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
        let d = decoder_devnodes(&t);
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
        assert_eq!(decoder_devnodes(&t).len(), 1);
    }

    #[test]
    fn non_video_interfaces_and_dangling_links_are_ignored() {
        let mut t = m2m_topology(MEDIA_ENT_F_PROC_VIDEO_DECODER, 81, 3, 0);
        t.interfaces[0].intf_type = MEDIA_INTF_T_V4L_VIDEO + 3; // a subdev node
        t.links.push(Link { id: 99, source_id: 1234, sink_id: 1, flags: MEDIA_LNK_FL_INTERFACE_LINK });
        t.links.push(Link { id: 98, source_id: 555, sink_id: 556, flags: 0 });
        assert!(decoder_devnodes(&t).is_empty());
        assert!(decoder_devnodes(&Topology::default()).is_empty());
    }
}
