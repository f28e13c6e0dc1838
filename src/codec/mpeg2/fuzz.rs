//! Fuzz target of the MPEG-2 translation (see [`crate::codec::fuzz`]):
//! picture parameters and IQ matrices as the unit tests fill them, or random
//! bytes, with boundary values, and 1..8 slices of the test streams (with or
//! without their start code), real or damaged, through
//! [`build_controls_with_state`] and [`append_bitstream`].

use super::tests::{ext_value, ffmpeg_default_iq, pic_param, INTERLACED, PROGRESSIVE};
use super::*;
use crate::codec::fuzz::{havoc, mutate_bytes, random_pod, run, start_code_units, surface, tweak_one_field, FuzzRefs, Rng, Tweak};
use crate::va_sys::ffi::{
    VAIQMatrixBufferMPEG2, VAPictureParameterBufferMPEG2, VAProfileMPEG2Main, VAProfileMPEG2Simple, VASliceParameterBufferMPEG2,
};

/// Executions of the bounded run in `cargo test`.
const ITERS: u64 = 50_000;

fn tweak_pic(p: &mut VAPictureParameterBufferMPEG2, r: &mut Rng) {
    tweak_one_field!(p, r; horizontal_size, vertical_size, forward_reference_picture, backward_reference_picture, picture_coding_type, f_code);
}

fn tweak_iq(q: &mut VAIQMatrixBufferMPEG2, r: &mut Rng) {
    tweak_one_field!(q, r;
        load_intra_quantiser_matrix, load_non_intra_quantiser_matrix, load_chroma_intra_quantiser_matrix,
        load_chroma_non_intra_quantiser_matrix, intra_quantiser_matrix, non_intra_quantiser_matrix,
        chroma_intra_quantiser_matrix, chroma_non_intra_quantiser_matrix,
    );
}

fn tweak_slice(s: &mut VASliceParameterBufferMPEG2, r: &mut Rng) {
    tweak_one_field!(s, r;
        slice_data_size, slice_data_offset, slice_data_flag, macroblock_offset, slice_horizontal_position,
        slice_vertical_position, quantiser_scale_code, intra_slice_flag,
    );
}

#[test]
fn fuzz_translation() {
    let streams: Vec<Vec<&[u8]>> = [
        PROGRESSIVE,
        INTERLACED,
        &include_bytes!("../../../tests/streams/mpeg2-progressive.m2v")[..],
        &include_bytes!("../../../tests/streams/mpeg2-interlaced.m2v")[..],
        &include_bytes!("../../../tests/streams/mpeg2-fields.m2v")[..],
    ]
    .iter()
    .map(|s| start_code_units(s).into_iter().filter(|u| (1..=0xaf).contains(&u[3])).collect())
    .collect();
    run("mpeg2", ITERS, |r, out| {
        let mut state = Mpeg2State::new();
        let refs = FuzzRefs::new(r);
        for _ in 0..=r.below(3) {
            let mut ext = ext_value(|b| {
                b.set_picture_structure(1 + r.below(3) as u32);
                b.set_frame_pred_frame_dct(r.below(2) as u32);
                b.set_progressive_frame(r.below(2) as u32);
                b.set_is_first_field(r.below(2) as u32);
                b.set_top_field_first(r.below(2) as u32);
            });
            let mut pic = pic_param(1 + r.below(4) as i32, 0x1122, ext, surface(r), surface(r));
            match r.below(16) {
                0 => {
                    pic = random_pod(r);
                    ext = r.next_u64() as u32;
                }
                1..=3 => ext = ext.tweak(r),
                4..=7 => {}
                _ => havoc(&mut pic, r, tweak_pic),
            }
            let iq = match r.below(4) {
                0 => Some(random_pod(r)),
                1 => {
                    let mut q = ffmpeg_default_iq();
                    havoc(&mut q, r, tweak_iq);
                    Some(q)
                }
                2 => Some(ffmpeg_default_iq()),
                _ => None,
            };
            let stream = r.pick(&streams);
            let first = r.below(stream.len());
            let datas: Vec<Vec<u8>> = stream[first..]
                .iter()
                .take(1 + r.below(8))
                .map(|d| {
                    let d = if r.chance(1, 4) { &d[4..] } else { d };
                    if r.chance(1, 3) {
                        mutate_bytes(d, r)
                    } else {
                        d.to_vec()
                    }
                })
                .collect();
            let slices: Vec<Mpeg2Slice> = datas
                .iter()
                .map(|d| {
                    let mut param = VASliceParameterBufferMPEG2 {
                        slice_data_size: d.len() as u32,
                        macroblock_offset: 38,
                        slice_vertical_position: r.below(200) as u32,
                        quantiser_scale_code: r.below(32) as i32,
                        ..Default::default()
                    };
                    if r.chance(1, 3) {
                        havoc(&mut param, r, tweak_slice);
                    }
                    Mpeg2Slice { param, data: d }
                })
                .collect();
            let profile = *r.pick(&[VAProfileMPEG2Simple, VAProfileMPEG2Main, -7]);
            let p = Mpeg2Picture { pic: &pic, picture_coding_extension: ext, iq: iq.as_ref(), slices: &slices, profile };
            let res = build_controls_with_state(&p, &refs, &mut state);
            out.note(&res);
            let mut bits = Vec::new();
            append_bitstream(&mut bits, &p);
            if res.is_ok() {
                assert!(bits.len() >= slices.len() * 4);
            }
        }
    });
}
