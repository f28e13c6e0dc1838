//! Reading a LIBVA_V4L2_REQUEST_RECORD file: the format (magic, version, tags,
//! record layouts) and its parser are the `va-record` crate
//! (`crates/va-record`, shared with the driver's writer); this module keeps
//! the replay's view of it: owned records, unknown tags skipped, and the
//! records of the first driver instance.

/// One record, owned (`va_record::Record` with its lists and bytes owned).
pub type Rec = va_record::Record<'static>;

/// Parse a whole record file. Unknown tags are skipped (a newer driver may
/// write some); any other damage is an error.
pub fn parse(data: &[u8]) -> Result<Vec<Rec>, String> {
    let mut out = Vec::new();
    for r in va_record::records(data).map_err(|e| e.to_string())? {
        match r {
            Ok(r) => out.push(r.into_owned()),
            Err(va_record::Error::UnknownTag { .. }) => {}
            Err(e) => return Err(e.to_string()),
        }
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

    /// An unknown tag (99), as a newer driver might write it.
    fn unknown(f: &mut Vec<u8>) {
        f.extend_from_slice(&99u32.to_le_bytes());
        f.extend_from_slice(&8u32.to_le_bytes());
        f.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
    }

    #[test]
    fn parses_records() {
        let mut f = va_record::HEADER.to_vec();
        let enc = |f: &mut Vec<u8>, r: Rec| r.encode(f).unwrap();
        enc(&mut f, Rec::Init { pid: 42 });
        enc(&mut f, Rec::Config { profile: 6, entrypoint: 1, id: 0x0100_0001 });
        enc(&mut f, Rec::Surfaces { width: 176, height: 144, rt_format: 1, fourcc: 0, ids: vec![0x0400_0001, 0x0400_0002].into() });
        unknown(&mut f);
        enc(&mut f, Rec::Buffer { context: 0x0200_0001, buf_type: 5, element_size: 3, num_elements: 1, bytes: vec![7, 8, 9].into() });
        enc(&mut f, Rec::Init { pid: 43 });
        enc(&mut f, Rec::End { context: 0x0200_0001 });
        let (r, n) = first_instance(parse(&f).unwrap());
        assert_eq!(n, 2);
        assert_eq!(r.len(), 3);
        assert!(matches!(&r[1], Rec::Surfaces { ids, .. } if ids[..] == [0x0400_0001, 0x0400_0002]));
        assert!(matches!(&r[2], Rec::Buffer { bytes, buf_type: 5, .. } if bytes[..] == [7, 8, 9]));
        assert!(parse(b"nope").is_err());
        let mut t = f.clone();
        t.truncate(f.len() - 2);
        assert!(parse(&t).is_err());
    }
}
