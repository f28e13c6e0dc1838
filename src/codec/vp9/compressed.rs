//! VP9 compressed header: boolean decoder (§9.2) and probability updates (§6.3).
//!
//! # The idea
//!
//! The compressed header follows the uncompressed one (byte aligned) and is
//! `header_size_in_bytes` long. It is arithmetic coded: [`BoolDecoder`] is the
//! spec's decoder taken literally (an 8-bit window, one new bit per
//! renormalisation step), which is slow but obviously right and, for a header
//! of a few hundred bytes, fast enough.
//!
//! The V4L2 control `v4l2_ctrl_vp9_compressed_hdr` wants each probability
//! update "after translation with inv_map_table[]" and 0 for "no update": that
//! is `inv_map_table[decode_term_subexp()]`, *without* the final
//! `inv_recenter_nonneg` against the current probability (the kernel holds the
//! probability contexts and finishes the job). Motion vector updates are
//! `(mv_prob << 1) | 1`. This is what GStreamer's VP9 parser produces too.
//!
//! Besides the deltas, two syntax elements that VA does not carry and that
//! `v4l2_ctrl_vp9_frame` needs live here: `tx_mode` and `reference_mode`.

use super::header::UncompressedHeader;
use crate::codec::CodecError;
use v4l2r::bindings::v4l2_ctrl_vp9_compressed_hdr;

/// The spec's boolean decoder over exactly the compressed header bytes.
#[derive(Clone, Debug)]
pub struct BoolDecoder<'a> {
    data: &'a [u8],
    /// Next bit to shift in.
    pos: usize,
    value: u32,
    range: u32,
}

impl<'a> BoolDecoder<'a> {
    /// `init_bool(sz)`: loads the first byte and checks the marker bit.
    pub fn new(data: &'a [u8]) -> Result<Self, CodecError> {
        let first = *data.first().ok_or(CodecError::Truncated)?;
        let mut d = BoolDecoder { data, pos: 8, value: u32::from(first), range: 255 };
        if d.read_bool(128) {
            return Err(CodecError::Invalid("VP9 bool decoder marker bit"));
        }
        Ok(d)
    }

    fn next_bit(&mut self) -> u32 {
        // Past the end the spec decoder shifts in zeros (BoolMaxBits exhausted).
        let bit = self.data.get(self.pos / 8).map_or(0, |b| (b >> (7 - (self.pos % 8))) & 1);
        self.pos += 1;
        u32::from(bit)
    }

    /// `read_bool(p)`.
    pub fn read_bool(&mut self, p: u8) -> bool {
        let split = 1 + (((self.range - 1) * u32::from(p)) >> 8);
        let bit = if self.value < split {
            self.range = split;
            false
        } else {
            self.range -= split;
            self.value -= split;
            true
        };
        while self.range < 128 {
            self.value = (self.value << 1) | self.next_bit();
            self.range <<= 1;
        }
        bit
    }

    /// `L(n)`: an n-bit literal, MSB first, each bit with probability 128.
    pub fn read_literal(&mut self, n: u32) -> u32 {
        (0..n).fold(0, |v, _| (v << 1) | u32::from(self.read_bool(128)))
    }

    /// `exit_bool()`: the padding (everything not yet consumed) must be zero
    /// and the decoder must not have run past the end.
    pub fn exit(&self) -> Result<(), CodecError> {
        if self.pos > self.data.len() * 8 {
            return Err(CodecError::Truncated);
        }
        let mut pos = self.pos;
        while pos < self.data.len() * 8 {
            let b = self.data[pos / 8];
            let bits = b & (0xff >> (pos % 8));
            if bits != 0 {
                return Err(CodecError::Invalid("VP9 compressed header padding"));
            }
            pos = (pos / 8 + 1) * 8;
        }
        Ok(())
    }
}

/// inv_map_table of §6.3.5, built rather than typed: the 20 values `7 + 13k`
/// first, then every other value of 1..=253 in order, then 253 once more.
fn inv_map_table() -> [u8; 255] {
    let mut t = [0u8; 255];
    let mut n = 0;
    for k in 0..20u32 {
        t[n] = (7 + 13 * k) as u8;
        n += 1;
    }
    for v in 1..=253u32 {
        if v % 13 != 7 {
            t[n] = v as u8;
            n += 1;
        }
    }
    t[254] = 253;
    t
}

/// The parsed compressed header.
#[derive(Clone, Debug, Default)]
pub struct CompressedHeader {
    /// tx_mode (`V4L2_VP9_TX_MODE_*`).
    pub tx_mode: u8,
    /// reference_mode (`V4L2_VP9_REFERENCE_MODE_*`; SINGLE on intra frames).
    pub reference_mode: u8,
    /// The probability updates, as the V4L2 control expects them (tx_mode included).
    pub probs: v4l2_ctrl_vp9_compressed_hdr,
}

struct Reader<'a> {
    bd: BoolDecoder<'a>,
    inv_map: [u8; 255],
}

impl Reader<'_> {
    /// diff_update_prob: 0 = no update, else inv_map_table[decode_term_subexp].
    fn delta(&mut self) -> u8 {
        if !self.bd.read_bool(252) {
            return 0;
        }
        let d = if self.bd.read_literal(1) == 0 {
            self.bd.read_literal(4)
        } else if self.bd.read_literal(1) == 0 {
            self.bd.read_literal(4) + 16
        } else if self.bd.read_literal(1) == 0 {
            self.bd.read_literal(5) + 32
        } else {
            let v = self.bd.read_literal(7);
            if v < 65 {
                v + 64
            } else {
                let bit = self.bd.read_literal(1);
                (v << 1) - 1 + bit
            }
        };
        self.inv_map[(d as usize).min(254)]
    }

    fn mv(&mut self) -> u8 {
        if self.bd.read_bool(252) {
            ((self.bd.read_literal(7) << 1) | 1) as u8
        } else {
            0
        }
    }
}

/// Parses the compressed header: `data` is the whole frame, `h` its parsed
/// uncompressed header.
pub fn parse_compressed_header(data: &[u8], h: &UncompressedHeader) -> Result<CompressedHeader, CodecError> {
    let start = h.uncompressed_header_size;
    let end = start + usize::from(h.header_size_in_bytes);
    let bytes = data.get(start..end).ok_or(CodecError::Truncated)?;
    let mut rd = Reader { bd: BoolDecoder::new(bytes)?, inv_map: inv_map_table() };
    let mut out = CompressedHeader::default();
    let p = &mut out.probs;

    // read_tx_mode
    let tx_mode = if h.quant.lossless() {
        0
    } else {
        let mut m = rd.bd.read_literal(2);
        if m == 3 {
            m += rd.bd.read_literal(1);
        }
        m as u8
    };
    p.tx_mode = tx_mode;
    if tx_mode == 4 {
        for i in 0..2 {
            for j in 0..1 {
                p.tx8[i][j] = rd.delta();
            }
        }
        for i in 0..2 {
            for j in 0..2 {
                p.tx16[i][j] = rd.delta();
            }
        }
        for i in 0..2 {
            for j in 0..3 {
                p.tx32[i][j] = rd.delta();
            }
        }
    }
    // read_coef_probs
    let max_tx = [0usize, 1, 2, 3, 3][usize::from(tx_mode)];
    for tx in 0..=max_tx {
        if rd.bd.read_literal(1) == 1 {
            for i in 0..2 {
                for j in 0..2 {
                    for k in 0..6 {
                        let max_l = if k == 0 { 3 } else { 6 };
                        for l in 0..max_l {
                            for m in 0..3 {
                                p.coef[tx][i][j][k][l][m] = rd.delta();
                            }
                        }
                    }
                }
            }
        }
    }
    // read_skip_prob
    for i in 0..3 {
        p.skip[i] = rd.delta();
    }
    let mut reference_mode = 0u8;
    if !h.is_intra() {
        for i in 0..7 {
            for j in 0..3 {
                p.inter_mode[i][j] = rd.delta();
            }
        }
        if h.is_filter_switchable {
            for i in 0..4 {
                for j in 0..2 {
                    p.interp_filter[i][j] = rd.delta();
                }
            }
        }
        for i in 0..4 {
            p.is_inter[i] = rd.delta();
        }
        // frame_reference_mode
        let sb = h.ref_frame_sign_bias;
        let compound_allowed = sb[1] != sb[0] || sb[2] != sb[0];
        if compound_allowed {
            reference_mode = if rd.bd.read_literal(1) == 0 {
                0
            } else if rd.bd.read_literal(1) == 0 {
                1
            } else {
                2
            };
        }
        // frame_reference_mode_probs
        if reference_mode == 2 {
            for i in 0..5 {
                p.comp_mode[i] = rd.delta();
            }
        }
        if reference_mode != 1 {
            for i in 0..5 {
                p.single_ref[i][0] = rd.delta();
                p.single_ref[i][1] = rd.delta();
            }
        }
        if reference_mode != 0 {
            for i in 0..5 {
                p.comp_ref[i] = rd.delta();
            }
        }
        for i in 0..4 {
            for j in 0..9 {
                p.y_mode[i][j] = rd.delta();
            }
        }
        for i in 0..16 {
            for j in 0..3 {
                p.partition[i][j] = rd.delta();
            }
        }
        // mv_probs
        for j in 0..3 {
            p.mv.joint[j] = rd.mv();
        }
        for i in 0..2 {
            p.mv.sign[i] = rd.mv();
            for j in 0..10 {
                p.mv.classes[i][j] = rd.mv();
            }
            p.mv.class0_bit[i] = rd.mv();
            for j in 0..10 {
                p.mv.bits[i][j] = rd.mv();
            }
        }
        for i in 0..2 {
            for j in 0..2 {
                for k in 0..3 {
                    p.mv.class0_fr[i][j][k] = rd.mv();
                }
            }
            for k in 0..3 {
                p.mv.fr[i][k] = rd.mv();
            }
        }
        if h.allow_high_precision_mv {
            for i in 0..2 {
                p.mv.class0_hp[i] = rd.mv();
                p.mv.hp[i] = rd.mv();
            }
        }
    }
    rd.bd.exit()?;
    out.tx_mode = tx_mode;
    out.reference_mode = reference_mode;
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests_support {
    /// The generated inv_map_table, for tests.
    pub fn inv_map() -> [u8; 255] {
        super::inv_map_table()
    }
}
