//! RBSP bit reader over an escaped NAL unit payload.
//!
//! # The idea
//!
//! H.264/H.265 NAL units protect their payload against start-code emulation by
//! inserting an `emulation_prevention_three_byte` (0x03) after every `00 00`
//! pair that would otherwise be followed by a byte `<= 0x03`. The syntax (the
//! RBSP) is defined on the *unescaped* bytes, but hardware decoders receive the
//! *escaped* bytes, so a driver needs to know positions in both domains:
//!
//! - the RBSP position (`rbsp_bits_read`), which is what the standard's syntax
//!   tables count and what the V4L2 uAPI bit sizes are expressed in (GStreamer
//!   computes `header_bit_size`, `dec_ref_pic_marking_bit_size` and
//!   `pic_order_cnt_bit_size` in RBSP bits, i.e. raw bits minus 8 per skipped
//!   emulation-prevention byte);
//! - the raw position (`raw_bits_read`, `epb_count`), i.e. where the same bit
//!   lives in the buffer handed to the hardware.
//!
//! The reader strips emulation-prevention bytes lazily, one byte at a time, and
//! only when the next bit is actually needed: an `03` that follows the last bit
//! read is not counted yet. That is exactly how GStreamer's `NalReader` counts,
//! so the derived sizes agree with what `v4l2slh264dec` sends.
//!
//! Every read is bounds checked and returns [`CodecError::Truncated`] at the end
//! of the data; nothing here can panic on any input.

use super::CodecError;

/// Bit reader that removes emulation-prevention bytes on the fly.
#[derive(Clone, Debug)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Index of the next raw byte to load.
    next: usize,
    /// The byte currently being consumed (bits are taken MSB first).
    cur: u8,
    /// Bits of `cur` not consumed yet.
    bits_left: u8,
    /// Number of consecutive zero bytes just loaded (raw domain), for EPB detection.
    zeros: u8,
    /// Emulation-prevention bytes skipped so far.
    epb: usize,
    /// RBSP bits consumed so far.
    rbsp_bits: u64,
}

impl<'a> BitReader<'a> {
    /// A reader positioned on the first bit of `data` (escaped bytes).
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, next: 0, cur: 0, bits_left: 0, zeros: 0, epb: 0, rbsp_bits: 0 }
    }

    /// Loads the next RBSP byte into `cur`, skipping an emulation-prevention byte.
    fn load(&mut self) -> Result<(), CodecError> {
        loop {
            let b = *self.data.get(self.next).ok_or(CodecError::Truncated)?;
            self.next += 1;
            if self.zeros >= 2 && b == 0x03 {
                self.epb += 1;
                self.zeros = 0;
                continue;
            }
            self.zeros = if b == 0 { self.zeros.saturating_add(1) } else { 0 };
            self.cur = b;
            self.bits_left = 8;
            return Ok(());
        }
    }

    /// Reads one bit.
    pub fn read_bit(&mut self) -> Result<bool, CodecError> {
        if self.bits_left == 0 {
            self.load()?;
        }
        self.bits_left -= 1;
        self.rbsp_bits += 1;
        Ok((self.cur >> self.bits_left) & 1 == 1)
    }

    /// Reads `n` bits (`n <= 32`), u(n).
    pub fn read_bits(&mut self, n: u32) -> Result<u32, CodecError> {
        if n > 32 {
            return Err(CodecError::Invalid("bit count above 32"));
        }
        let mut v: u64 = 0;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.read_bit()?);
        }
        Ok(v as u32)
    }

    /// Reads a one-bit flag.
    pub fn read_flag(&mut self) -> Result<bool, CodecError> {
        self.read_bit()
    }

    /// Reads an unsigned Exp-Golomb code, ue(v). Values up to `u32::MAX`.
    pub fn read_ue(&mut self) -> Result<u32, CodecError> {
        let mut zeros = 0u32;
        while !self.read_bit()? {
            zeros += 1;
            if zeros > 31 {
                return Err(CodecError::Invalid("exp-golomb code longer than 32 bits"));
            }
        }
        let suffix = u64::from(self.read_bits(zeros)?);
        let v = (1u64 << zeros) - 1 + suffix;
        u32::try_from(v).map_err(|_| CodecError::Invalid("exp-golomb value above u32"))
    }

    /// Reads ue(v) and checks it against an inclusive maximum.
    pub fn read_ue_max(&mut self, max: u32, what: &'static str) -> Result<u32, CodecError> {
        let v = self.read_ue()?;
        if v > max {
            return Err(CodecError::Invalid(what));
        }
        Ok(v)
    }

    /// Reads a signed Exp-Golomb code, se(v).
    pub fn read_se(&mut self) -> Result<i32, CodecError> {
        let k = i64::from(self.read_ue()?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        // k <= u32::MAX so |v| <= 2^31: only +2^31 does not fit.
        i32::try_from(v).map_err(|_| CodecError::Invalid("exp-golomb value above i32"))
    }

    /// Reads se(v) and checks it against an inclusive range.
    pub fn read_se_range(&mut self, min: i32, max: i32, what: &'static str) -> Result<i32, CodecError> {
        let v = self.read_se()?;
        if v < min || v > max {
            return Err(CodecError::Invalid(what));
        }
        Ok(v)
    }

    /// Skips `n` bits.
    pub fn skip_bits(&mut self, n: u64) -> Result<(), CodecError> {
        for _ in 0..n {
            self.read_bit()?;
        }
        Ok(())
    }

    /// True when the next bit is the first bit of a byte (in the RBSP domain,
    /// which is also byte aligned in the raw domain since EPBs are whole bytes).
    pub fn is_byte_aligned(&self) -> bool {
        self.bits_left == 0
    }

    /// Skips to the next byte boundary (no-op when aligned); returns the bits skipped.
    #[cfg(test)]
    pub fn byte_align(&mut self) -> u32 {
        let n = u32::from(self.bits_left);
        self.rbsp_bits += u64::from(self.bits_left);
        self.bits_left = 0;
        n
    }

    /// RBSP bits consumed so far (emulation-prevention bytes not counted).
    pub fn rbsp_bits_read(&self) -> u64 {
        self.rbsp_bits
    }

    /// Raw (escaped) bits consumed so far: RBSP bits plus 8 per skipped EPB.
    /// Equals GStreamer's `nal_reader_get_pos()`.
    pub fn raw_bits_read(&self) -> u64 {
        self.next as u64 * 8 - u64::from(self.bits_left)
    }

    /// Emulation-prevention bytes skipped so far.
    pub fn epb_count(&self) -> usize {
        self.epb
    }

    /// more_rbsp_data() of the standard: true if RBSP data remains before the
    /// `rbsp_stop_one_bit` (the last bit equal to 1 of the NAL unit).
    #[cfg(test)]
    pub fn more_rbsp_data(&self) -> bool {
        let mut probe = self.clone();
        // Position (in RBSP bits) of the last 1 bit at or after the current position.
        let start = probe.rbsp_bits;
        let mut last_one: Option<u64> = None;
        while let Ok(bit) = probe.read_bit() {
            if bit {
                last_one = Some(probe.rbsp_bits - 1);
            }
        }
        match last_one {
            Some(pos) => pos > start,
            None => false,
        }
    }

    /// True when no bit at all is left.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.bits_left == 0 && self.clone().load().is_err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bits_msb_first() {
        let mut r = BitReader::new(&[0b1010_0000, 0xff]);
        assert!(r.read_bit().unwrap());
        assert!(!r.read_bit().unwrap());
        assert_eq!(r.read_bits(2).unwrap(), 0b10);
        assert_eq!(r.read_bits(8).unwrap(), 0b0000_1111);
        assert_eq!(r.rbsp_bits_read(), 12);
        assert_eq!(r.read_bits(4).unwrap(), 0xf);
        assert_eq!(r.read_bit(), Err(CodecError::Truncated));
    }

    #[test]
    fn ue_and_se() {
        // ue: 1 -> 0, 010 -> 1, 011 -> 2, 00100 -> 3, 00111 -> 6
        // bits: 1 010 011 00100 00111 -> 1010 0110 0100 0011 1(000)
        let mut r = BitReader::new(&[0b1010_0110, 0b0100_0011, 0b1000_0000]);
        assert_eq!(r.read_ue().unwrap(), 0);
        assert_eq!(r.read_ue().unwrap(), 1);
        assert_eq!(r.read_ue().unwrap(), 2);
        assert_eq!(r.read_ue().unwrap(), 3);
        assert_eq!(r.read_ue().unwrap(), 6);
        // se: k=1 -> 1, k=2 -> -1, k=3 -> 2, k=4 -> -2
        // bits 010 011 00100 00101 -> 0100 1100 1000 0101
        let mut r = BitReader::new(&[0b0100_1100, 0b1000_0101]);
        assert_eq!(r.read_se().unwrap(), 1);
        assert_eq!(r.read_se().unwrap(), -1);
        assert_eq!(r.read_se().unwrap(), 2);
        assert_eq!(r.read_se().unwrap(), -2);
    }

    #[test]
    fn ue_extremes() {
        // 31 zeros, a one, 31 ones: (2^31 - 1) + (2^31 - 1) = u32::MAX - 1
        let mut bits = vec![0u8; 3];
        bits.push(0b0000_0001); // 31 zeros then the marker 1
        bits.extend_from_slice(&[0xff, 0xff, 0xff, 0xfe]);
        let mut r = BitReader::new(&bits);
        assert_eq!(r.read_ue().unwrap(), u32::MAX - 1);
        // 32 zeros: invalid, not a panic
        let mut r = BitReader::new(&[0, 0, 0, 0, 0x80]);
        assert!(matches!(r.read_ue(), Err(CodecError::Invalid(_))));
        // all zeros until the end: truncated or invalid, never a panic
        let mut r = BitReader::new(&[0, 0]);
        assert!(r.read_ue().is_err());
        // the largest se(v): k = 2^32 - 2 -> -(2^31 - 1)
        let mut r = BitReader::new(&bits);
        assert_eq!(r.read_se().unwrap(), -(i32::MAX));
    }

    #[test]
    fn strips_emulation_prevention() {
        // 00 00 03 01 -> RBSP 00 00 01
        let data = [0x00, 0x00, 0x03, 0x01, 0xaa];
        let mut r = BitReader::new(&data);
        assert_eq!(r.read_bits(16).unwrap(), 0);
        // EPB not consumed until the next bit is needed
        assert_eq!(r.epb_count(), 0);
        assert_eq!(r.raw_bits_read(), 16);
        assert_eq!(r.read_bits(8).unwrap(), 0x01);
        assert_eq!(r.epb_count(), 1);
        assert_eq!(r.rbsp_bits_read(), 24);
        assert_eq!(r.raw_bits_read(), 32);
        assert_eq!(r.read_bits(8).unwrap(), 0xaa);
    }

    #[test]
    fn consecutive_emulation_prevention() {
        // 00 00 03 00 00 03 00 -> 00 00 00 00 00
        let data = [0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00];
        let mut r = BitReader::new(&data);
        assert_eq!(r.read_bits(32).unwrap(), 0);
        assert_eq!(r.read_bits(8).unwrap(), 0);
        assert_eq!(r.epb_count(), 2);
        assert_eq!(r.rbsp_bits_read(), 40);
        assert_eq!(r.raw_bits_read(), 56);
        assert!(r.read_bit().is_err());
    }

    #[test]
    fn three_not_after_two_zeros_is_data() {
        let data = [0x00, 0x03, 0x00, 0x00, 0x04];
        let mut r = BitReader::new(&data);
        assert_eq!(r.read_bits(16).unwrap(), 0x0003);
        assert_eq!(r.read_bits(24).unwrap(), 0x000004);
        assert_eq!(r.epb_count(), 0);
    }

    #[test]
    fn more_rbsp_data_and_alignment() {
        // data bit 1, then stop bit, then zero padding
        let mut r = BitReader::new(&[0b1100_0000]);
        assert!(r.more_rbsp_data());
        assert!(r.read_bit().unwrap());
        assert!(!r.more_rbsp_data());
        assert!(!r.is_byte_aligned());
        assert_eq!(r.byte_align(), 7);
        assert!(r.is_byte_aligned());
        assert!(r.is_empty());
        // trailing cabac_zero_words after the stop bit
        let r = BitReader::new(&[0b1000_0000, 0x00, 0x00, 0x03, 0x00, 0x00]);
        assert!(!r.more_rbsp_data());
        let r = BitReader::new(&[0b0100_0000, 0x80]);
        assert!(r.more_rbsp_data());
        let r = BitReader::new(&[]);
        assert!(!r.more_rbsp_data());
    }

    #[test]
    fn too_many_bits_is_an_error() {
        let mut r = BitReader::new(&[0; 8]);
        assert!(r.read_bits(33).is_err());
        assert_eq!(r.read_bits(32).unwrap(), 0);
    }
}
