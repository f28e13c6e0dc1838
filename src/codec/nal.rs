//! NAL unit framing shared by H.264 and HEVC: applications may hand slices with
//! or without an Annex-B start code, devices want either raw NAL units or
//! `00 00 01`-prefixed ones (`V4L2_CID_STATELESS_*_START_CODE`).

/// Length of an Annex-B start code at the start of `data` (0, 3 or 4).
pub fn start_code_len(data: &[u8]) -> usize {
    if data.starts_with(&[0, 0, 1]) {
        3
    } else if data.starts_with(&[0, 0, 0, 1]) {
        4
    } else {
        0
    }
}

/// Append one slice NAL unit to an OUTPUT buffer, with a 3-byte start code when
/// `annex_b`. A start code already in front of `slice` is dropped first, so the
/// output is the same whether or not the application passed one.
pub fn append_nal(out: &mut Vec<u8>, slice: &[u8], annex_b: bool) {
    let nal = slice.get(start_code_len(slice)..).unwrap_or(&[]);
    if annex_b {
        out.extend_from_slice(&[0, 0, 1]);
    }
    out.extend_from_slice(nal);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_codes_are_normalised() {
        assert_eq!(start_code_len(&[0, 0, 1, 0x65]), 3);
        assert_eq!(start_code_len(&[0, 0, 0, 1, 0x65]), 4);
        assert_eq!(start_code_len(&[0x65, 0, 0, 1]), 0);
        assert_eq!(start_code_len(&[0, 0]), 0);
        for input in [&[0x65u8, 1, 2][..], &[0, 0, 1, 0x65, 1, 2], &[0, 0, 0, 1, 0x65, 1, 2]] {
            let mut raw = Vec::new();
            append_nal(&mut raw, input, false);
            assert_eq!(raw, [0x65, 1, 2]);
            let mut annexb = Vec::new();
            append_nal(&mut annexb, input, true);
            assert_eq!(annexb, [0, 0, 1, 0x65, 1, 2]);
        }
        let mut empty = Vec::new();
        append_nal(&mut empty, &[0, 0, 1], true);
        assert_eq!(empty, [0, 0, 1]);
    }
}
