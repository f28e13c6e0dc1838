//! Reader of the driver's LIBVA_V4L2_REQUEST_RECORD log (format: the driver's
//! src/driver/record.rs).

pub const MAGIC: &[u8; 8] = b"V4L2RVAR";

#[derive(Clone, Debug)]
pub enum Rec {
    Init { pid: u32 },
    Config { profile: i32, entrypoint: u32, id: u32 },
    Surfaces { width: u32, height: u32, rt_format: u32, fourcc: u32, ids: Vec<u32> },
    Context { config: u32, width: u32, height: u32, id: u32, targets: Vec<u32> },
    Begin { context: u32, target: u32 },
    Buffer { context: u32, type_: u32, element_size: u32, num_elements: u32, bytes: Vec<u8> },
    End { context: u32 },
    DestroyConfig { id: u32 },
    DestroySurfaces { ids: Vec<u32> },
    DestroyContext { id: u32 },
}

fn words(p: &[u8], n: usize) -> Option<Vec<u32>> {
    if p.len() < n * 4 {
        return None;
    }
    Some((0..n).map(|i| u32::from_le_bytes(p[i * 4..i * 4 + 4].try_into().unwrap())).collect())
}

fn list(p: &[u8], at: usize, n: u32) -> Option<Vec<u32>> {
    let w = words(p.get(at * 4..)?, n as usize)?;
    Some(w)
}

/// Parse a whole record file. Unknown tags are skipped.
pub fn parse(data: &[u8]) -> Result<Vec<Rec>, String> {
    if data.len() < 12 || &data[..8] != MAGIC {
        return Err("not a LIBVA_V4L2_REQUEST_RECORD file (bad magic)".into());
    }
    let version = u32::from_le_bytes(data[8..12].try_into().unwrap());
    if version != 1 {
        return Err(format!("record format version {version} (this client reads 1)"));
    }
    let mut out = Vec::new();
    let mut at = 12;
    while at < data.len() {
        let head = data.get(at..at + 8).ok_or_else(|| format!("truncated record header at byte {at}"))?;
        let tag = u32::from_le_bytes(head[..4].try_into().unwrap());
        let len = u32::from_le_bytes(head[4..].try_into().unwrap()) as usize;
        let p = data.get(at + 8..at + 8 + len).ok_or_else(|| format!("truncated record (tag {tag}) at byte {at}"))?;
        let bad = || format!("malformed record (tag {tag}, {len} bytes) at byte {at}");
        let rec = match tag {
            1 => {
                let w = words(p, 1).ok_or_else(bad)?;
                Some(Rec::Init { pid: w[0] })
            }
            2 => {
                let w = words(p, 3).ok_or_else(bad)?;
                Some(Rec::Config { profile: w[0] as i32, entrypoint: w[1], id: w[2] })
            }
            3 => {
                let w = words(p, 5).ok_or_else(bad)?;
                let ids = list(p, 5, w[4]).ok_or_else(bad)?;
                Some(Rec::Surfaces { width: w[0], height: w[1], rt_format: w[2], fourcc: w[3], ids })
            }
            4 => {
                let w = words(p, 5).ok_or_else(bad)?;
                let targets = list(p, 5, w[4]).ok_or_else(bad)?;
                Some(Rec::Context { config: w[0], width: w[1], height: w[2], id: w[3], targets })
            }
            5 => {
                let w = words(p, 2).ok_or_else(bad)?;
                Some(Rec::Begin { context: w[0], target: w[1] })
            }
            6 => {
                let w = words(p, 5).ok_or_else(bad)?;
                let bytes = p.get(20..20 + w[4] as usize).ok_or_else(bad)?.to_vec();
                Some(Rec::Buffer { context: w[0], type_: w[1], element_size: w[2], num_elements: w[3], bytes })
            }
            7 => {
                let w = words(p, 1).ok_or_else(bad)?;
                Some(Rec::End { context: w[0] })
            }
            8 => {
                let w = words(p, 1).ok_or_else(bad)?;
                Some(Rec::DestroyConfig { id: w[0] })
            }
            9 => {
                let w = words(p, 1).ok_or_else(bad)?;
                Some(Rec::DestroySurfaces { ids: list(p, 1, w[0]).ok_or_else(bad)? })
            }
            10 => {
                let w = words(p, 1).ok_or_else(bad)?;
                Some(Rec::DestroyContext { id: w[0] })
            }
            _ => None,
        };
        out.extend(rec);
        at += 8 + len;
    }
    Ok(out)
}

/// The records of the first driver instance (up to the second INIT, if any) and
/// how many instances the file holds.
pub fn first_instance(recs: Vec<Rec>) -> (Vec<Rec>, usize) {
    let inits = recs.iter().filter(|r| matches!(r, Rec::Init { .. })).count();
    let mut out = Vec::new();
    let mut seen = 0;
    for r in recs {
        if matches!(r, Rec::Init { .. }) {
            seen += 1;
            if seen > 1 {
                break;
            }
            continue;
        }
        out.push(r);
    }
    (out, inits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(tag: u32, w: &[u32], b: &[u8]) -> Vec<u8> {
        let mut v = tag.to_le_bytes().to_vec();
        v.extend_from_slice(&((w.len() * 4 + b.len()) as u32).to_le_bytes());
        for x in w {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(b);
        v
    }

    #[test]
    fn parses_records() {
        let mut f = MAGIC.to_vec();
        f.extend_from_slice(&1u32.to_le_bytes());
        f.extend(rec(1, &[42], &[]));
        f.extend(rec(2, &[6, 1, 0x0100_0001], &[]));
        f.extend(rec(3, &[176, 144, 1, 0, 2, 0x0400_0001, 0x0400_0002], &[]));
        f.extend(rec(99, &[1, 2], &[]));
        f.extend(rec(6, &[0x0200_0001, 5, 3, 1, 3], &[7, 8, 9]));
        f.extend(rec(1, &[43], &[]));
        f.extend(rec(7, &[0x0200_0001], &[]));
        let (r, n) = first_instance(parse(&f).unwrap());
        assert_eq!(n, 2);
        assert_eq!(r.len(), 3);
        assert!(matches!(&r[1], Rec::Surfaces { ids, .. } if ids == &[0x0400_0001, 0x0400_0002]));
        assert!(matches!(&r[2], Rec::Buffer { bytes, type_: 5, .. } if bytes == &[7, 8, 9]));
        assert!(parse(b"nope").is_err());
        let mut t = f.clone();
        t.truncate(f.len() - 2);
        assert!(parse(&t).is_err());
    }
}
