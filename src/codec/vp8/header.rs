//! VP8 frame header re-parser (RFC 6386 sections 9 and 19).
//!
//! # The idea
//!
//! A VP8 frame is a 3-byte frame tag (key/inter, version, show_frame,
//! first_part_size), for key frames 7 more bytes (start code, 14-bit sizes
//! with 2-bit scales), then the first partition: a boolean-entropy-coded
//! frame header followed by the per-macroblock modes. VA hands over most
//! header values already decoded, but not: the raw segment feature values and
//! their mode (VA gives per-segment *results*, clipped), the frame-level loop
//! filter level when segmentation is on, the raw quantiser indices (VA gives
//! clipped per-segment results), `show_frame` and the scales when the
//! application passes the frame without its uncompressed header (FFmpeg).
//!
//! [`parse_first_partition`] decodes the header with a boolean decoder up to
//! the refresh flags, which covers all of these; the rest (token and MV
//! probability updates, `prob_skip_false`, ...) VA has, and the decoder state
//! at the header's end (`first_part_header_bits`, `coder_state`) VA gives as
//! `macroblock_offset` and `bool_coder_ctx`. Reads past the end of the data
//! yield zero bits, as libvpx's decoder does, so no input makes it fail
//! (except an empty partition).

use crate::codec::CodecError;

/// RFC 6386 7.3 boolean decoder, 2-byte window.
pub struct BoolDecoder<'a> {
    data: &'a [u8],
    pos: usize,
    value: u32,
    range: u32,
    bit_count: u32,
}

impl<'a> BoolDecoder<'a> {
    /// Starts decoding `data` (at least one byte).
    pub fn new(data: &'a [u8]) -> Result<Self, CodecError> {
        if data.is_empty() {
            return Err(CodecError::Truncated);
        }
        let b = |i: usize| u32::from(data.get(i).copied().unwrap_or(0));
        Ok(BoolDecoder { data, pos: 2, value: (b(0) << 8) | b(1), range: 255, bit_count: 0 })
    }

    /// One boolean whose probability of being 0 is `prob / 256`.
    pub fn read_bool(&mut self, prob: u8) -> bool {
        let split = 1 + (((self.range - 1) * u32::from(prob)) >> 8);
        let big_split = split << 8;
        let bit = if self.value >= big_split {
            self.range -= split;
            self.value -= big_split;
            true
        } else {
            self.range = split;
            false
        };
        while self.range < 128 {
            self.value <<= 1;
            self.range <<= 1;
            self.bit_count += 1;
            if self.bit_count == 8 {
                self.bit_count = 0;
                self.value |= u32::from(self.data.get(self.pos).copied().unwrap_or(0));
                self.pos += 1;
            }
        }
        bit
    }

    /// `L(n)`: an n-bit unsigned literal, most significant bit first.
    pub fn literal(&mut self, n: u32) -> u32 {
        (0..n).fold(0, |v, _| (v << 1) | u32::from(self.read_bool(128)))
    }

    /// `L(1)`.
    pub fn flag(&mut self) -> bool {
        self.read_bool(128)
    }

    /// An n-bit magnitude followed by a sign bit.
    fn signed(&mut self, n: u32) -> i32 {
        let m = self.literal(n) as i32;
        if self.flag() {
            -m
        } else {
            m
        }
    }

    /// A flag, then (if set) a signed n-bit value; 0 when absent.
    fn optional_signed(&mut self, n: u32) -> i32 {
        if self.flag() {
            self.signed(n)
        } else {
            0
        }
    }
}

/// The uncompressed data chunk at the start of a frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameTag {
    /// Key frame (the tag's bit 0 is 0).
    pub key_frame: bool,
    /// version (profile) 0..3.
    pub version: u8,
    /// show_frame.
    pub show_frame: bool,
    /// first_part_size (19 bits).
    pub first_part_size: u32,
    /// Key frames: width (14 bits), horizontal scale (2 bits), height, vertical scale.
    pub width: u16,
    /// horizontal_scale.
    pub horizontal_scale: u8,
    /// height.
    pub height: u16,
    /// vertical_scale.
    pub vertical_scale: u8,
}

impl FrameTag {
    /// Length of the uncompressed chunk: 10 for key frames, 3 otherwise.
    #[allow(clippy::len_without_is_empty)] // never empty
    #[cfg(test)]
    pub fn len(&self) -> usize {
        if self.key_frame {
            10
        } else {
            3
        }
    }

    /// Parses the uncompressed chunk at the start of `frame`.
    pub fn parse(frame: &[u8]) -> Result<Self, CodecError> {
        let t = frame.get(..3).ok_or(CodecError::Truncated)?;
        let tag = u32::from(t[0]) | u32::from(t[1]) << 8 | u32::from(t[2]) << 16;
        let mut f = FrameTag {
            key_frame: tag & 1 == 0,
            version: ((tag >> 1) & 7) as u8,
            show_frame: (tag >> 4) & 1 != 0,
            first_part_size: tag >> 5,
            ..Default::default()
        };
        if f.key_frame {
            let k = frame.get(3..10).ok_or(CodecError::Truncated)?;
            if k[..3] != [0x9d, 0x01, 0x2a] {
                return Err(CodecError::Invalid("VP8 key frame start code"));
            }
            let w = u16::from_le_bytes([k[3], k[4]]);
            let h = u16::from_le_bytes([k[5], k[6]]);
            f.width = w & 0x3fff;
            f.horizontal_scale = (w >> 14) as u8;
            f.height = h & 0x3fff;
            f.vertical_scale = (h >> 14) as u8;
        }
        Ok(f)
    }

    /// Whether the fields fit the chunk [`Self::write`] writes.
    pub fn check(&self) -> Result<(), CodecError> {
        if self.first_part_size >= 1 << 19 || self.version > 7 {
            return Err(CodecError::Invalid("VP8 first_part_size"));
        }
        if self.key_frame && (self.width > 0x3fff || self.height > 0x3fff || self.horizontal_scale > 3 || self.vertical_scale > 3) {
            return Err(CodecError::Invalid("VP8 frame size"));
        }
        Ok(())
    }

    /// Writes the chunk back (inverse of [`FrameTag::parse`]).
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.check()?;
        let tag = u32::from(!self.key_frame) | u32::from(self.version) << 1 | u32::from(self.show_frame) << 4 | self.first_part_size << 5;
        out.extend_from_slice(&tag.to_le_bytes()[..3]);
        if self.key_frame {
            out.extend_from_slice(&[0x9d, 0x01, 0x2a]);
            out.extend_from_slice(&(self.width | u16::from(self.horizontal_scale) << 14).to_le_bytes());
            out.extend_from_slice(&(self.height | u16::from(self.vertical_scale) << 14).to_le_bytes());
        }
        Ok(())
    }
}

/// The first partition's header, up to the refresh flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FirstPartHeader {
    /// Key frames: color_space.
    pub color_space: bool,
    /// Key frames: clamping_type.
    pub clamping_type: bool,
    /// segmentation_enabled.
    pub segmentation_enabled: bool,
    /// update_mb_segmentation_map (false when segmentation is off).
    pub update_mb_segmentation_map: bool,
    /// update_segment_feature_data (false when segmentation is off).
    pub update_segment_feature_data: bool,
    /// segment_feature_mode: true = absolute values, false = deltas (only
    /// meaningful with `update_segment_feature_data`).
    pub segment_feature_mode_absolute: bool,
    /// quantizer_update_value per segment (with `update_segment_feature_data`).
    pub quantizer_update: [i8; 4],
    /// loop_filter_update_value per segment (with `update_segment_feature_data`).
    pub lf_update: [i8; 4],
    /// segment_prob (255 where not sent; with `update_mb_segmentation_map`).
    pub segment_probs: [u8; 3],
    /// filter_type: true = simple.
    pub filter_type_simple: bool,
    /// loop_filter_level (frame level, before segment adjustment).
    pub loop_filter_level: u8,
    /// sharpness_level.
    pub sharpness_level: u8,
    /// loop_filter_adj_enable.
    pub loop_filter_adj_enable: bool,
    /// mode_ref_lf_delta_update (false when adjustments are off).
    pub mode_ref_lf_delta_update: bool,
    /// ref_frame deltas sent in this frame (None: unchanged).
    pub ref_frame_delta: [Option<i8>; 4],
    /// mb_mode deltas sent in this frame (None: unchanged).
    pub mb_mode_delta: [Option<i8>; 4],
    /// log2_nbr_of_dct_partitions.
    pub log2_nbr_of_dct_partitions: u8,
    /// y_ac_qi.
    pub y_ac_qi: u8,
    /// y_dc_delta.
    pub y_dc_delta: i8,
    /// y2_dc_delta.
    pub y2_dc_delta: i8,
    /// y2_ac_delta.
    pub y2_ac_delta: i8,
    /// uv_dc_delta.
    pub uv_dc_delta: i8,
    /// uv_ac_delta.
    pub uv_ac_delta: i8,
    /// Inter frames: refresh_golden_frame.
    pub refresh_golden_frame: bool,
    /// Inter frames: refresh_alternate_frame.
    pub refresh_alternate_frame: bool,
    /// Inter frames: copy_buffer_to_golden.
    pub copy_buffer_to_golden: u8,
    /// Inter frames: copy_buffer_to_alternate.
    pub copy_buffer_to_alternate: u8,
    /// Inter frames: sign_bias_golden.
    pub sign_bias_golden: bool,
    /// Inter frames: sign_bias_alternate.
    pub sign_bias_alternate: bool,
    /// refresh_entropy_probs.
    pub refresh_entropy_probs: bool,
    /// refresh_last (key frames: always).
    pub refresh_last: bool,
}

/// Decodes the frame header at the start of the first partition `part`.
pub fn parse_first_partition(part: &[u8], key_frame: bool) -> Result<FirstPartHeader, CodecError> {
    let mut d = BoolDecoder::new(part)?;
    let mut h = FirstPartHeader { segment_probs: [255; 3], ..Default::default() };
    if key_frame {
        h.color_space = d.flag();
        h.clamping_type = d.flag();
    }
    h.segmentation_enabled = d.flag();
    if h.segmentation_enabled {
        h.update_mb_segmentation_map = d.flag();
        h.update_segment_feature_data = d.flag();
        if h.update_segment_feature_data {
            h.segment_feature_mode_absolute = d.flag();
            for q in h.quantizer_update.iter_mut() {
                *q = d.optional_signed(7) as i8;
            }
            for l in h.lf_update.iter_mut() {
                *l = d.optional_signed(6) as i8;
            }
        }
        if h.update_mb_segmentation_map {
            for p in h.segment_probs.iter_mut() {
                if d.flag() {
                    *p = d.literal(8) as u8;
                }
            }
        }
    }
    h.filter_type_simple = d.flag();
    h.loop_filter_level = d.literal(6) as u8;
    h.sharpness_level = d.literal(3) as u8;
    h.loop_filter_adj_enable = d.flag();
    if h.loop_filter_adj_enable {
        h.mode_ref_lf_delta_update = d.flag();
        if h.mode_ref_lf_delta_update {
            for r in h.ref_frame_delta.iter_mut() {
                if d.flag() {
                    *r = Some(d.signed(6) as i8);
                }
            }
            for m in h.mb_mode_delta.iter_mut() {
                if d.flag() {
                    *m = Some(d.signed(6) as i8);
                }
            }
        }
    }
    h.log2_nbr_of_dct_partitions = d.literal(2) as u8;
    h.y_ac_qi = d.literal(7) as u8;
    h.y_dc_delta = d.optional_signed(4) as i8;
    h.y2_dc_delta = d.optional_signed(4) as i8;
    h.y2_ac_delta = d.optional_signed(4) as i8;
    h.uv_dc_delta = d.optional_signed(4) as i8;
    h.uv_ac_delta = d.optional_signed(4) as i8;
    if key_frame {
        h.refresh_entropy_probs = d.flag();
        h.refresh_golden_frame = true;
        h.refresh_alternate_frame = true;
        h.refresh_last = true;
    } else {
        h.refresh_golden_frame = d.flag();
        h.refresh_alternate_frame = d.flag();
        if !h.refresh_golden_frame {
            h.copy_buffer_to_golden = d.literal(2) as u8;
        }
        if !h.refresh_alternate_frame {
            h.copy_buffer_to_alternate = d.literal(2) as u8;
        }
        h.sign_bias_golden = d.flag();
        h.sign_bias_alternate = d.flag();
        h.refresh_entropy_probs = d.flag();
        h.refresh_last = d.flag();
    }
    Ok(h)
}
