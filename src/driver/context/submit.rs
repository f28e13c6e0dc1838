//! Per-codec submission: the VA buffers of one picture, read as typed
//! parameter structs, translated by `crate::codec::<codec>` into V4L2 controls
//! and a bitstream, then handed to the context's generic request path
//! ([`Context::submit_parts`] / [`Context::submit_single`]).

use super::*;

/// An optional parameter buffer (IQ matrix, probabilities): absent is fine, short is an error.
fn optional<T: crate::va_sys::abi::VaPod>(bytes: Option<&[u8]>, what: &str) -> VaResult<Option<T>> {
    bytes.map(|b| read_pod(b, 0).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "short {what} buffer"))).transpose()
}

impl Context {
    pub(super) fn submit_h264(&mut self, picture: &PictureBuffers, target: SurfaceKey) -> VaResult<()> {
        let pic: ffi::VAPictureParameterBufferH264 = read_pod(&picture.pic_param, 0)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "missing or short H.264 picture parameter buffer"))?;
        let iq: Option<ffi::VAIQMatrixBufferH264> = optional(picture.iq_matrix(), "H.264 IQ matrix")?;
        let mut slices: Vec<h264::SliceInput> = recycle(std::mem::take(&mut self.scratch.h264_slices));
        Self::slices_into::<ffi::VASliceParameterBufferH264, _>(
            picture,
            |p| (p.slice_data_offset, p.slice_data_size),
            &mut slices,
            |param, data| h264::SliceInput { param, data },
        )?;
        let result = self.submit_h264_slices(target, &pic, iq.as_ref(), &slices);
        self.scratch.h264_slices = recycle(slices);
        result
    }

    /// The H.264 picture `pic` of `slices` into `target`.
    fn submit_h264_slices(
        &mut self,
        target: SurfaceKey,
        pic: &ffi::VAPictureParameterBufferH264,
        iq: Option<&ffi::VAIQMatrixBufferH264>,
        slices: &[h264::SliceInput],
    ) -> VaResult<()> {
        let (seq_fields, pic_fields) = crate::va_sys::abi::h264_bitfields(pic);
        let mut ctrls = h264::build_controls_with_state(
            &h264::H264Picture { pic, seq_fields, pic_fields, iq, slices, profile: self.config.profile },
            &PoolRefs { pool: &self.pool, field_coded: &self.field_coded },
            match &mut self.codec_state {
                CodecState::H264(st) => st,
                _ => return Err(va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "codec state mismatch")),
            },
        )
        .map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "H.264 translation: {e}"))?;

        // Field pictures (PAFF): both fields of a frame decode into one CAPTURE buffer.
        // The first field holds it; the second (the opposite parity into the same
        // surface, next in decode order, as FFmpeg and GStreamer send it) is queued
        // into the same slot with the same timestamp. VA does not flag second fields.
        // The order count of the parity a field picture lacks is 0 in a first field
        // and the first field's count in a second field (as GStreamer fills them;
        // VA clients differ).
        let dp = &mut ctrls.decode_params;
        let field_pic = dp.flags & v4l2::V4L2_H264_DECODE_PARAM_FLAG_FIELD_PIC != 0;
        let bottom = dp.flags & v4l2::V4L2_H264_DECODE_PARAM_FLAG_BOTTOM_FIELD != 0;
        let first = self.h264_first_field.take();
        let second_field = field_pic && first.is_some_and(|f| (f.0, f.1) == (target, !bottom));
        if field_pic {
            let other = match first {
                Some((_, _, poc)) if second_field => poc,
                _ => 0,
            };
            if bottom {
                dp.top_field_order_cnt = other;
            } else {
                dp.bottom_field_order_cnt = other;
            }
        }
        let own_poc = if bottom { dp.bottom_field_order_cnt } else { dp.top_field_order_cnt };
        let mut ref_surfaces = std::mem::take(&mut self.scratch.ref_surfaces);
        ref_surfaces.clear();
        ref_surfaces.extend(pic.ReferenceFrames.iter().filter(|r| r.flags & ffi::VA_PICTURE_H264_INVALID == 0).map(|r| r.picture_id));
        let annex_b = self.stream_mode.annex_b;
        // The controls every request of the picture carries, then each slice
        // request's own; every part's controls are a range of `specs`.
        let mut specs: Vec<ControlSpec> = recycle(std::mem::take(&mut self.scratch.specs));
        specs.push(ControlSpec::new(&ctrls.sps));
        specs.push(ControlSpec::new(&ctrls.pps));
        if ctrls.has_scaling_matrix {
            specs.push(ControlSpec::new(&ctrls.scaling_matrix));
        }
        specs.push(ControlSpec::new(&ctrls.decode_params));
        let common = specs.len();
        let mut parts = std::mem::take(&mut self.scratch.parts);
        parts.clear();
        self.bitstream.clear();
        if self.stream_mode.slice_based {
            // One request per slice, each with its SLICE_PARAMS and PRED_WEIGHTS.
            for (i, s) in slices.iter().enumerate() {
                let start = self.bitstream.len();
                h264::append_slice(&mut self.bitstream, s.data, annex_b);
                let first = specs.len();
                specs.extend_from_within(..common);
                if let Some(sp) = ctrls.slice_params.get(i) {
                    specs.push(ControlSpec::new(sp));
                }
                if let Some(pw) = ctrls.pred_weights.get(i) {
                    specs.push(ControlSpec::new(pw));
                }
                parts.push(RequestPart { bytes: start..self.bitstream.len(), specs: first..specs.len() });
            }
        } else {
            for s in slices {
                h264::append_slice(&mut self.bitstream, s.data, annex_b);
            }
            parts.push(RequestPart { bytes: 0..self.bitstream.len(), specs: 0..common });
        }
        let first_field = field_pic && !second_field;
        let submitted = self.submit_parts(target, &ref_surfaces, &specs, &parts, first_field, second_field);
        self.scratch.specs = recycle(specs);
        self.scratch.parts = parts;
        self.scratch.ref_surfaces = ref_surfaces;
        if let CodecState::H264(st) = &mut self.codec_state {
            st.reuse(ctrls);
        }
        let slot = submitted?;
        if first_field {
            self.h264_first_field = Some((target, bottom, own_poc));
        }
        if let Some(f) = self.field_coded.get_mut(slot.0 as usize) {
            *f = field_pic;
        }
        Ok(())
    }

    /// The first slice's (param, data), data cut to its range, once every
    /// slice is checked as [`Self::slices_into`] does.
    fn first_slice<P: crate::va_sys::abi::VaPod>(picture: &PictureBuffers, range: impl Fn(&P) -> (u32, u32)) -> VaResult<(P, &[u8])> {
        let mut first = None;
        Self::each_slice(picture, range, |param, data| {
            first.get_or_insert((param, data));
        })?;
        first.ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "picture without slice data"))
    }

    /// `make(param, data)` of every slice into `out` (cleared first), data cut to the slice's range.
    fn slices_into<'p, P: crate::va_sys::abi::VaPod, T>(
        picture: &'p PictureBuffers,
        range: impl Fn(&P) -> (u32, u32),
        out: &mut Vec<T>,
        make: impl Fn(P, &'p [u8]) -> T,
    ) -> VaResult<()> {
        out.clear();
        Self::each_slice(picture, range, |param, data| out.push(make(param, data)))
    }

    /// `f(param, data)` for every slice, data cut to the slice's range; an error
    /// for a short buffer, a range outside its data, or no slice at all.
    fn each_slice<'p, P: crate::va_sys::abi::VaPod>(
        picture: &'p PictureBuffers,
        range: impl Fn(&P) -> (u32, u32),
        mut f: impl FnMut(P, &'p [u8]),
    ) -> VaResult<()> {
        let mut n = 0usize;
        for &(pidx, count, data_idx) in &picture.slice_params {
            let bytes = picture.params(pidx);
            let data = picture.slice_data.get(data_idx);
            for i in 0..count as usize {
                let param: P = read_pod(bytes, i).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "short slice parameter buffer"))?;
                let (offset, size) = range(&param);
                let start = offset as usize;
                let end = start.saturating_add(size as usize);
                let slice = data.get(start..end).ok_or_else(|| {
                    va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "slice data {start}..{end} outside a {}-byte buffer", data.len())
                })?;
                f(param, slice);
                n += 1;
            }
        }
        if n == 0 {
            return Err(va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "picture without slice data"));
        }
        Ok(())
    }

    pub(super) fn submit_mpeg2(&mut self, picture: &PictureBuffers, target: SurfaceKey) -> VaResult<()> {
        let pic: ffi::VAPictureParameterBufferMPEG2 = read_pod(&picture.pic_param, 0)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "missing or short MPEG-2 picture parameters"))?;
        let iq: Option<ffi::VAIQMatrixBufferMPEG2> = optional(picture.iq_matrix(), "MPEG-2 IQ matrix")?;
        let mut slices: Vec<mpeg2::Mpeg2Slice> = recycle(std::mem::take(&mut self.scratch.mpeg2_slices));
        let filled = Self::slices_into::<ffi::VASliceParameterBufferMPEG2, _>(
            picture,
            |p| (p.slice_data_offset, p.slice_data_size),
            &mut slices,
            |param, data| mpeg2::Mpeg2Slice { param, data },
        );
        let result = filled.and_then(|()| self.submit_mpeg2_slices(&pic, iq.as_ref(), &slices, target));
        self.scratch.mpeg2_slices = recycle(slices);
        result
    }

    /// The MPEG-2 picture `pic` of `slices` into `target`.
    fn submit_mpeg2_slices(
        &mut self,
        pic: &ffi::VAPictureParameterBufferMPEG2,
        iq: Option<&ffi::VAIQMatrixBufferMPEG2>,
        slices: &[mpeg2::Mpeg2Slice],
        target: SurfaceKey,
    ) -> VaResult<()> {
        let p = mpeg2::Mpeg2Picture {
            pic,
            picture_coding_extension: crate::va_sys::abi::mpeg2_bitfields(pic),
            iq,
            slices,
            profile: self.config.profile,
        };
        let CodecState::Mpeg2(state) = &mut self.codec_state else {
            return Err(va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "codec state mismatch"));
        };
        let ctrls = mpeg2::build_controls_with_state(&p, &PoolRefs { pool: &self.pool, field_coded: &self.field_coded }, state)
            .map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "MPEG-2 translation: {e}"))?;
        self.bitstream.clear();
        mpeg2::append_bitstream(&mut self.bitstream, &p);
        let refs = [pic.forward_reference_picture, pic.backward_reference_picture];
        self.submit_single(target, &refs, &ctrls.specs(), ctrls.hold_capture, ctrls.second_field)
    }

    pub(super) fn submit_vp8(&mut self, picture: &PictureBuffers, target: SurfaceKey) -> VaResult<()> {
        let pic: ffi::VAPictureParameterBufferVP8 = read_pod(&picture.pic_param, 0)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "missing or short VP8 picture parameters"))?;
        let iq: ffi::VAIQMatrixBufferVP8 = picture
            .iq_matrix()
            .and_then(|b| read_pod(b, 0))
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "missing or short VP8 IQ matrix"))?;
        let probs: Option<ffi::VAProbabilityDataBufferVP8> = optional(picture.probabilities(), "VP8 probabilities")?;
        let &(pidx, _, data_idx) =
            picture.slice_params.first().ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "VP8 picture without slice parameters"))?;
        let slice: ffi::VASliceParameterBufferVP8 =
            read_pod(picture.params(pidx), 0).ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "short VP8 slice parameters"))?;
        let p = vp8::Vp8Picture {
            pic: &pic,
            pic_fields: crate::va_sys::abi::vp8_bitfields(&pic),
            iq: &iq,
            probs: probs.as_ref(),
            slice,
            data: picture.slice_data.get(data_idx),
        };
        let CodecState::Vp8(state) = &mut self.codec_state else {
            return Err(va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "codec state mismatch"));
        };
        let ctrls = vp8::build_controls_with_state(&p, &PoolRefs { pool: &self.pool, field_coded: &self.field_coded }, state)
            .map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "VP8 translation: {e}"))?;
        self.bitstream.clear();
        vp8::append_bitstream(&mut self.bitstream, &p);
        let refs = [pic.last_ref_frame, pic.golden_ref_frame, pic.alt_ref_frame];
        self.submit_single(target, &refs, &ctrls.specs(), false, false)
    }

    pub(super) fn submit_vp9(&mut self, picture: &PictureBuffers, target: SurfaceKey) -> VaResult<()> {
        let pic: ffi::VADecPictureParameterBufferVP9 = read_pod(&picture.pic_param, 0)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "missing or short VP9 picture parameters"))?;
        let (_, data) = Self::first_slice::<ffi::VASliceParameterBufferVP9>(picture, |p| (p.slice_data_offset, p.slice_data_size))?;
        let p = vp9::Vp9Picture { pic: &pic, pic_fields: crate::va_sys::abi::vp9_bitfields(&pic), data };
        let CodecState::Vp9(state) = &mut self.codec_state else {
            return Err(va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "codec state mismatch"));
        };
        let ctrls = match vp9::build_controls_with_state(&p, &PoolRefs { pool: &self.pool, field_coded: &self.field_coded }, state) {
            // FFmpeg (and mpv) open a new VA context when an inter frame changes the size.
            Err(crate::codec::CodecError::MissingReference) if state.has_no_references() => {
                return Err(va_err!(
                    VA_STATUS_ERROR_UNIMPLEMENTED,
                    "VP9 inter frame ({}x{}) is the first picture of this context: its references are pictures of another context; \
                     a size change without a key frame needs reference scaling, which V4L2 stateless decoders cannot signal",
                    pic.frame_width,
                    pic.frame_height
                ))
            }
            r => r.map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "VP9 translation: {e}"))?,
        };
        self.check_depth("VP9", u32::from(ctrls.frame.bit_depth))?;
        if ctrls.needs_reference_scaling {
            return Err(va_err!(
                VA_STATUS_ERROR_UNIMPLEMENTED,
                "VP9 frame needs reference scaling, which V4L2 stateless decoders cannot signal"
            ));
        }
        self.bitstream.clear();
        vp9::append_bitstream(&mut self.bitstream, &p);
        self.submit_single(target, &pic.reference_frames, &ctrls.specs(self.vp9_compressed_hdr), false, false)
    }

    pub(super) fn submit_hevc(&mut self, picture: &PictureBuffers, target: SurfaceKey) -> VaResult<()> {
        let pic: ffi::VAPictureParameterBufferHEVC = read_pod(&picture.pic_param, 0)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "missing or short HEVC picture parameters"))?;
        self.check_depth("HEVC luma", 8 + u32::from(pic.bit_depth_luma_minus8))?;
        self.check_depth("HEVC chroma", 8 + u32::from(pic.bit_depth_chroma_minus8))?;
        let iq: Option<ffi::VAIQMatrixBufferHEVC> = optional(picture.iq_matrix(), "HEVC IQ matrix")?;
        let mut slices: Vec<hevc::HevcSlice> = recycle(std::mem::take(&mut self.scratch.hevc_slices));
        let result = Self::slices_into::<ffi::VASliceParameterBufferHEVC, _>(
            picture,
            |p| (p.slice_data_offset, p.slice_data_size),
            &mut slices,
            |param, data| hevc::HevcSlice { param, long_slice_flags: crate::va_sys::abi::hevc_slice_flags(&param), data },
        )
        .and_then(|()| self.submit_hevc_slices(target, &pic, iq.as_ref(), &slices));
        self.scratch.hevc_slices = recycle(slices);
        result
    }

    /// The HEVC picture `pic` of `slices` into `target`.
    fn submit_hevc_slices(
        &mut self,
        target: SurfaceKey,
        pic: &ffi::VAPictureParameterBufferHEVC,
        iq: Option<&ffi::VAIQMatrixBufferHEVC>,
        slices: &[hevc::HevcSlice],
    ) -> VaResult<()> {
        let (pic_fields, slice_parsing_fields) = crate::va_sys::abi::hevc_bitfields(pic);
        let p = hevc::HevcPicture { pic, pic_fields, slice_parsing_fields, iq, slices };
        let annex_b = self.stream_mode.annex_b;
        let CodecState::Hevc(state) = &mut self.codec_state else {
            return Err(va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "codec state mismatch"));
        };
        state.set_annex_b(annex_b);
        let ctrls = hevc::build_controls_with_state(&p, &PoolRefs { pool: &self.pool, field_coded: &self.field_coded }, state)
            .map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "HEVC translation: {e}"))?;
        let mut ref_surfaces = std::mem::take(&mut self.scratch.ref_surfaces);
        ref_surfaces.clear();
        ref_surfaces.extend(pic.ReferenceFrames.iter().filter(|r| r.flags & ffi::VA_PICTURE_HEVC_INVALID == 0).map(|r| r.picture_id));
        let mut specs: Vec<ControlSpec> = recycle(std::mem::take(&mut self.scratch.specs));
        specs.push(ControlSpec::new(&ctrls.sps));
        specs.push(ControlSpec::new(&ctrls.pps));
        if ctrls.has_scaling_matrix {
            specs.push(ControlSpec::new(&ctrls.scaling_matrix));
        }
        specs.push(ControlSpec::new(&ctrls.decode_params));
        let common = specs.len();
        let mut entry_points = std::mem::take(&mut self.scratch.entry_points);
        entry_points.clear();
        if self.hevc_entry_points && !self.stream_mode.slice_based {
            entry_points.extend(ctrls.entry_point_offsets.iter().flatten().copied());
        }
        self.bitstream.clear();
        let mut parts = std::mem::take(&mut self.scratch.parts);
        parts.clear();
        if self.stream_mode.slice_based {
            for (i, s) in slices.iter().enumerate() {
                let start = self.bitstream.len();
                hevc::append_slice(&mut self.bitstream, s.data, annex_b);
                let first = specs.len();
                specs.extend_from_within(..common);
                if let Some(sp) = ctrls.slice_params.get(i) {
                    specs.push(ControlSpec::new(sp));
                }
                if self.hevc_entry_points {
                    if let Some(ep) = ctrls.entry_point_offsets.get(i).filter(|e| !e.is_empty()) {
                        specs.push(ControlSpec::from_slice(ep));
                    }
                }
                parts.push(RequestPart { bytes: start..self.bitstream.len(), specs: first..specs.len() });
            }
        } else {
            for s in slices {
                hevc::append_slice(&mut self.bitstream, s.data, annex_b);
            }
            specs.push(ControlSpec::from_slice(&ctrls.slice_params));
            if !entry_points.is_empty() {
                specs.push(ControlSpec::from_slice(&entry_points));
            }
            parts.push(RequestPart { bytes: 0..self.bitstream.len(), specs: 0..specs.len() });
        }
        let submitted = self.submit_parts(target, &ref_surfaces, &specs, &parts, false, false).map(|_| ());
        self.scratch.specs = recycle(specs);
        self.scratch.parts = parts;
        self.scratch.ref_surfaces = ref_surfaces;
        self.scratch.entry_points = entry_points;
        if let CodecState::Hevc(st) = &mut self.codec_state {
            st.reuse(ctrls);
        }
        submitted
    }

    pub(super) fn submit_av1(&mut self, picture: &PictureBuffers, target: SurfaceKey) -> VaResult<()> {
        let pic: ffi::VADecPictureParameterBufferAV1 = read_pod(&picture.pic_param, 0)
            .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "missing or short AV1 picture parameters"))?;
        if !av1::accepts_bit_depth(pic.bit_depth_idx, self.ten_bit()) {
            return Err(va_err!(
                VA_STATUS_ERROR_UNSUPPORTED_PROFILE,
                "AV1 bit_depth_idx {} needs an output format this context does not have",
                pic.bit_depth_idx
            ));
        }
        self.check_depth("AV1", if pic.bit_depth_idx == 1 { 10 } else { 8 })?;
        // Each tile's parameters go with the whole data buffer they were rendered with
        // (FFmpeg 5.1 repeats the tile group's buffer per tile; newer ones batch tiles).
        let mut tiles: Vec<av1::Av1Tile> = recycle(std::mem::take(&mut self.scratch.av1_tiles));
        let result = Self::av1_tiles_into(picture, &mut tiles).and_then(|()| self.submit_av1_tiles(target, &pic, &tiles));
        self.scratch.av1_tiles = recycle(tiles);
        result
    }

    /// Each tile's parameters with the whole data buffer it was rendered with.
    fn av1_tiles_into<'p>(picture: &'p PictureBuffers, tiles: &mut Vec<av1::Av1Tile<'p>>) -> VaResult<()> {
        tiles.clear();
        for &(pidx, count, data_idx) in &picture.slice_params {
            for i in 0..count as usize {
                let param: ffi::VASliceParameterBufferAV1 = read_pod(picture.params(pidx), i)
                    .ok_or_else(|| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "short AV1 tile parameters"))?;
                tiles.push(av1::Av1Tile { param, data: picture.slice_data.get(data_idx) });
            }
        }
        Ok(())
    }

    /// The AV1 picture `pic` of `tiles` into `target` (deferred, see below).
    fn submit_av1_tiles(&mut self, target: SurfaceKey, pic: &ffi::VADecPictureParameterBufferAV1, tiles: &[av1::Av1Tile]) -> VaResult<()> {
        let (seq, pinfo, lf, qm, mode, lr, seg, fg) = crate::va_sys::abi::av1_bitfields(pic);
        let p = av1::Av1Picture {
            pic,
            seq_info_fields: seq,
            pic_info_fields: pinfo,
            loop_filter_info_fields: lf,
            qmatrix_fields: qm,
            mode_control_fields: mode,
            loop_restoration_fields: lr,
            segment_info_fields: seg,
            film_grain_info_fields: fg,
            tiles,
        };
        // The previous picture's refresh_frame_flags are the slots this picture's
        // ref_frame_map shows it in (FFmpeg leaves the map empty before a shown key
        // frame: then the guess stands). Queue it now, before this picture, which may
        // reference it.
        if let Some(mut d) = self.deferred_av1.take() {
            if !d.exact && pic.ref_frame_map.iter().any(|&s| s != ffi::VA_INVALID_SURFACE) {
                d.ctrls.frame.refresh_frame_flags =
                    pic.ref_frame_map.iter().enumerate().fold(0u8, |acc, (i, &s)| if s == d.target { acc | (1 << i) } else { acc });
                d.exact = true;
            }
            self.queue_deferred_av1(d)?;
        }
        let CodecState::Av1(state) = &mut self.codec_state else {
            return Err(va_err!(VA_STATUS_ERROR_OPERATION_FAILED, "codec state mismatch"));
        };
        let ctrls = av1::build_controls_with_state(&p, &PoolRefs { pool: &self.pool, field_coded: &self.field_coded }, state)
            .map_err(|e| va_err!(VA_STATUS_ERROR_INVALID_BUFFER, "AV1 translation: {e}"))?;
        self.deferred_bits.clear();
        av1::append_bitstream(&mut self.deferred_bits, &p);
        let exact = ctrls.refresh_frame_flags_exact;
        self.deferred_av1 = Some(DeferredAv1 { target, refs: pic.ref_frame_map, ctrls, exact });
        self.states.insert(target, DecodeState::Pending);
        Ok(())
    }

    /// Queue the deferred AV1 picture (its bitstream is in `deferred_bits`).
    pub(super) fn queue_deferred_av1(&mut self, d: DeferredAv1) -> VaResult<()> {
        if d.exact {
            self.av1_refresh.0 += 1;
        } else {
            self.av1_refresh.1 += 1;
            log::debug!(
                "AV1 picture for surface {:#x} queued with guessed refresh_frame_flags {:#04x} (synced before the next picture)",
                d.target,
                d.ctrls.frame.refresh_frame_flags
            );
        }
        std::mem::swap(&mut self.bitstream, &mut self.deferred_bits);
        let r = self.submit_single(d.target, &d.refs, &d.ctrls.specs(), false, false);
        std::mem::swap(&mut self.bitstream, &mut self.deferred_bits);
        if let CodecState::Av1(st) = &mut self.codec_state {
            st.reuse(d.ctrls);
        }
        if r.is_err() {
            self.states.insert(d.target, DecodeState::Failed);
        }
        r
    }

    /// Queue a deferred picture of `surface` (any when `None`) before it is waited for,
    /// exported or read.
    pub(super) fn flush_deferred(&mut self, surface: Option<SurfaceKey>) -> VaResult<()> {
        let due = self.deferred_av1.as_ref().is_some_and(|d| surface.is_none_or(|s| s == d.target));
        match self.deferred_av1.take() {
            Some(d) if due => self.queue_deferred_av1(d),
            other => {
                self.deferred_av1 = other;
                Ok(())
            }
        }
    }
}
