//! Fuzz target of the VP9 translation (see [`crate::codec::fuzz`]): picture
//! and slice parameters as FFmpeg fills them (sizes, profile, depth, the
//! eight reference surfaces), or random bytes, with boundary values, and runs
//! of consecutive frames of the test streams (superframes split), real or
//! damaged, through [`build_controls_with_state`] and [`append_bitstream`].

use super::tests::{ivf_frames, pic_fields_value, P0, P2};
use super::*;
use crate::codec::fuzz::{havoc, mutate_bytes, random_pod, run, surface, tweak_one_field, FuzzRefs, Rng, Tweak};
use crate::va_sys::ffi::VASegmentParameterVP9;

/// Executions of the bounded run in `cargo test`.
const ITERS: u64 = 50_000;

fn tweak_pic(p: &mut VADecPictureParameterBufferVP9, r: &mut Rng) {
    tweak_one_field!(p, r;
        frame_width, frame_height, reference_frames, filter_level, sharpness_level, log2_tile_rows,
        log2_tile_columns, frame_header_length_in_bytes, first_partition_size, mb_segment_tree_probs,
        segment_pred_probs, profile, bit_depth,
    );
}

impl Tweak for VASegmentParameterVP9 {
    fn tweak(mut self, r: &mut Rng) -> Self {
        tweak_one_field!(self, r; filter_level, luma_ac_quant_scale, luma_dc_quant_scale, chroma_ac_quant_scale, chroma_dc_quant_scale);
        self
    }
}

#[test]
fn fuzz_translation() {
    let streams: Vec<Vec<Vec<u8>>> = [
        P0,
        P2,
        &include_bytes!("../../../tests/streams/vp9-p0.ivf")[..],
        &include_bytes!("../../../tests/streams/vp9-p2.ivf")[..],
        &include_bytes!("../../../tests/streams/vp9-refscale.ivf")[..],
        &include_bytes!("../../../tests/streams/vp9-reschange.ivf")[..],
    ]
    .iter()
    .map(|s| ivf_frames(s))
    .collect();
    run("vp9", ITERS, |r, out| {
        let mut state = Vp9State::default();
        let refs = FuzzRefs::new(r);
        let stream = r.pick(&streams);
        // From the key frame most of the time, so that inter frames find their state.
        let first = if r.chance(1, 2) { 0 } else { r.below(stream.len()) };
        let count = 1 + r.below(3);
        for frame in stream.iter().skip(first).take(count) {
            let mut fields = pic_fields_value(|b| {
                b.set_subsampling_x(1);
                b.set_subsampling_y(1);
                b.set_frame_type(r.below(2) as u32);
                b.set_show_frame(1);
                b.set_last_ref_frame(r.below(8) as u32);
                b.set_golden_ref_frame(r.below(8) as u32);
                b.set_alt_ref_frame(r.below(8) as u32);
            });
            let mut pic = VADecPictureParameterBufferVP9 { frame_width: 176, frame_height: 144, bit_depth: 8, ..Default::default() };
            for s in pic.reference_frames.iter_mut() {
                *s = surface(r);
            }
            match r.below(16) {
                0 => {
                    pic = random_pod(r);
                    fields = r.next_u64() as u32;
                }
                1..=3 => fields = fields.tweak(r),
                4..=7 => {}
                _ => havoc(&mut pic, r, tweak_pic),
            }
            let data = if r.chance(1, 3) { mutate_bytes(frame, r) } else { frame.clone() };
            let p = Vp9Picture { pic: &pic, pic_fields: fields, data: &data };
            let res = build_controls_with_state(&p, &refs, &mut state);
            out.note(&res);
            if let Ok(c) = &res {
                let _ = c.specs(r.chance(1, 2));
            }
            let _ = frame_info(&data);
            let mut bits = Vec::new();
            append_bitstream(&mut bits, &p);
        }
    });
}
