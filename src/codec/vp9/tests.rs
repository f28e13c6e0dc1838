//! Tests: header parsers on real libvpx output, translation of one recorded
//! VA picture to exact control structs.

use super::compressed::parse_compressed_header;
use super::header::{parse_uncompressed_header, ParserState, UncompressedHeader};
use super::*;

/// Splits an IVF file into frames, and VP9 superframes into their frames
/// (what FFmpeg's vp9_superframe_split does before the hwaccel sees them).
fn ivf_frames(file: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 32;
    while pos + 12 <= file.len() {
        let size = u32::from_le_bytes(file[pos..pos + 4].try_into().unwrap()) as usize;
        let pkt = &file[pos + 12..pos + 12 + size];
        pos += 12 + size;
        let last = pkt[pkt.len() - 1];
        if last & 0xe0 == 0xc0 {
            let n = usize::from(last & 7) + 1;
            let mag = usize::from((last >> 3) & 3) + 1;
            let idx_len = 2 + mag * n;
            if pkt.len() >= idx_len && pkt[pkt.len() - idx_len] == last {
                let mut off = 0;
                let mut p = pkt.len() - idx_len + 1;
                for _ in 0..n {
                    let mut sz = 0usize;
                    for b in 0..mag {
                        sz |= usize::from(pkt[p + b]) << (8 * b);
                    }
                    p += mag;
                    out.push(pkt[off..off + sz].to_vec());
                    off += sz;
                }
                continue;
            }
        }
        out.push(pkt.to_vec());
    }
    out
}

const P0: &[u8] = include_bytes!("../../../tests/data/vp9/p0.ivf");
const P2: &[u8] = include_bytes!("../../../tests/data/vp9/p2.ivf");

fn parse_all(file: &[u8]) -> Vec<UncompressedHeader> {
    let mut st = ParserState::default();
    ivf_frames(file).iter().map(|f| parse_uncompressed_header(f, &mut st, None).unwrap()).collect()
}

#[test]
fn dump() {
    for (i, h) in parse_all(P0).iter().enumerate() {
        eprintln!("{i}: {h:?}");
    }
    let mut st = ParserState::default();
    for f in ivf_frames(P0) {
        let h = parse_uncompressed_header(&f, &mut st, None).unwrap();
        let c = parse_compressed_header(&f, &h).unwrap();
        eprintln!("tx {} ref {} skip {:?} coef0 {:?}", c.tx_mode, c.reference_mode, c.probs.skip, c.probs.coef[0][0][0][0]);
    }
}
