//! Fuzz target of the VP8 translation (see [`crate::codec::fuzz`]): the VA
//! buffers the unit tests derive from a real frame (FFmpeg's layout, data
//! after the uncompressed chunk, or GStreamer's, the whole frame), or random
//! bytes, with boundary values in partition counts and sizes, and the frames
//! of the test streams, real or damaged, through [`build_controls_with_state`]
//! and [`append_bitstream`].

use super::header::FrameTag;
use super::tests::{va_for, IVF};
use super::*;
use crate::codec::fuzz::{havoc, ivf_frames, mutate_bytes, random_pod, run, tweak_one_field, FuzzRefs, Rng, Tweak};

/// Executions of the bounded run in `cargo test`.
const ITERS: u64 = 50_000;

fn tweak_pic(p: &mut VAPictureParameterBufferVP8, r: &mut Rng) {
    tweak_one_field!(p, r;
        frame_width, frame_height, last_ref_frame, golden_ref_frame, alt_ref_frame, out_of_loop_frame,
        mb_segment_tree_probs, loop_filter_level, loop_filter_deltas_ref_frame, loop_filter_deltas_mode,
        prob_skip_false, prob_intra, prob_last, prob_gf, y_mode_probs, uv_mode_probs, mv_probs,
    );
}

fn tweak_slice(s: &mut VASliceParameterBufferVP8, r: &mut Rng) {
    tweak_one_field!(s, r; slice_data_size, slice_data_offset, slice_data_flag, macroblock_offset, num_of_partitions, partition_size);
}

#[test]
fn fuzz_translation() {
    let frames: Vec<&[u8]> = ivf_frames(IVF)
        .into_iter()
        .chain(ivf_frames(include_bytes!("../../../tests/streams/vp8.ivf")))
        .filter(|f| FrameTag::parse(f).is_ok())
        .collect();
    run("vp8", ITERS, |r, out| {
        let mut state = Vp8State::new();
        let refs = FuzzRefs::new(r);
        for _ in 0..=r.below(3) {
            let frame = *r.pick(&frames);
            let tag = FrameTag::parse(frame).expect("filtered above");
            let (mut pic, mut fields, mut iq, mut slice) = va_for(frame, tag.key_frame);
            match r.below(16) {
                0 => {
                    pic = random_pod(r);
                    fields = r.next_u64() as u32;
                    iq = random_pod(r);
                }
                1..=3 => fields = fields.tweak(r),
                4..=7 => {}
                _ => havoc(&mut pic, r, tweak_pic),
            }
            if r.chance(1, 8) {
                iq.quantization_index = iq.quantization_index.tweak(r);
            }
            let probs: Option<VAProbabilityDataBufferVP8> = match r.below(3) {
                0 => None,
                1 => Some(random_pod(r)),
                _ => Some(Default::default()),
            };
            // FFmpeg: data after the uncompressed chunk; GStreamer: the whole frame.
            let mut data = if r.chance(1, 2) {
                frame[tag.len()..].to_vec()
            } else {
                slice.slice_data_offset = tag.len() as u32;
                slice.slice_data_size = frame.len() as u32;
                frame.to_vec()
            };
            if r.chance(1, 3) {
                data = mutate_bytes(&data, r);
            }
            if r.chance(1, 3) {
                havoc(&mut slice, r, tweak_slice);
            }
            let p = Vp8Picture { pic: &pic, pic_fields: fields, iq: &iq, probs: probs.as_ref(), slice, data: &data };
            let res = build_controls_with_state(&p, &refs, &mut state);
            out.note(&res);
            let mut bits = Vec::new();
            append_bitstream(&mut bits, &p);
            if res.is_ok() {
                assert!(!bits.is_empty());
            }
        }
    });
}
