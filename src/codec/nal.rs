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

/// Split an Annex-B byte stream into its NAL units (start codes and trailing
/// zero bytes removed). For tests that walk real encoder output.
#[cfg(test)]
pub fn split_annexb(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let mut e = starts.get(k + 1).map_or(data.len(), |&n| n - 3);
        while e > s && data[e - 1] == 0 {
            e -= 1; // trailing_zero_8bits / the zero_byte of a 4-byte start code
        }
        out.push(&data[s..e]);
    }
    out
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
        assert_eq!(split_annexb(&[0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0]), vec![&[0x67, 1][..], &[0x68, 2][..]]);
        let mut empty = Vec::new();
        append_nal(&mut empty, &[0, 0, 1], true);
        assert_eq!(empty, [0, 0, 1]);
    }
}
