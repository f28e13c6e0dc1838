//! The VA-API AV1 bitfield unions, decoded from their `.value` words.
//!
//! Reading a union is `unsafe`, so the VA edge (`src/va_sys/abi.rs`) reads each
//! union's `.value` and this module turns the words back into named fields
//! with bindgen's own accessors (i.e. with the bit layout of the libva headers
//! the crate was built against, not a hand-written copy of it).

use crate::va_sys::ffi::{
    _VADecPictureParameterBufferAV1__bindgen_ty_1__bindgen_ty_1 as SeqBits,
    _VADecPictureParameterBufferAV1__bindgen_ty_2__bindgen_ty_1 as PicBits,
    _VADecPictureParameterBufferAV1__bindgen_ty_3__bindgen_ty_1 as LfBits,
    _VADecPictureParameterBufferAV1__bindgen_ty_4__bindgen_ty_1 as QmBits,
    _VADecPictureParameterBufferAV1__bindgen_ty_5__bindgen_ty_1 as ModeBits,
    _VADecPictureParameterBufferAV1__bindgen_ty_6__bindgen_ty_1 as LrBits, _VAFilmGrainStructAV1__bindgen_ty_1__bindgen_ty_1 as FgBits,
    _VASegmentationStructAV1__bindgen_ty_1__bindgen_ty_1 as SegBits, __BindgenBitfieldUnit,
};

/// `seq_info_fields`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct SeqInfo {
    pub still_picture: bool,
    pub use_128x128_superblock: bool,
    pub enable_filter_intra: bool,
    pub enable_intra_edge_filter: bool,
    pub enable_interintra_compound: bool,
    pub enable_masked_compound: bool,
    pub enable_dual_filter: bool,
    pub enable_order_hint: bool,
    pub enable_jnt_comp: bool,
    pub enable_cdef: bool,
    pub mono_chrome: bool,
    pub color_range: bool,
    pub subsampling_x: bool,
    pub subsampling_y: bool,
    pub film_grain_params_present: bool,
}

impl SeqInfo {
    /// Decodes `seq_info_fields.value`.
    pub fn from_value(v: u32) -> Self {
        let b = SeqBits { _bitfield_align_1: [], _bitfield_1: __BindgenBitfieldUnit::new(v.to_ne_bytes()) };
        SeqInfo {
            still_picture: b.still_picture() != 0,
            use_128x128_superblock: b.use_128x128_superblock() != 0,
            enable_filter_intra: b.enable_filter_intra() != 0,
            enable_intra_edge_filter: b.enable_intra_edge_filter() != 0,
            enable_interintra_compound: b.enable_interintra_compound() != 0,
            enable_masked_compound: b.enable_masked_compound() != 0,
            enable_dual_filter: b.enable_dual_filter() != 0,
            enable_order_hint: b.enable_order_hint() != 0,
            enable_jnt_comp: b.enable_jnt_comp() != 0,
            enable_cdef: b.enable_cdef() != 0,
            mono_chrome: b.mono_chrome() != 0,
            color_range: b.color_range() != 0,
            subsampling_x: b.subsampling_x() != 0,
            subsampling_y: b.subsampling_y() != 0,
            film_grain_params_present: b.film_grain_params_present() != 0,
        }
    }
}

/// `pic_info_fields`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct PicInfo {
    pub frame_type: u8,
    pub show_frame: bool,
    pub showable_frame: bool,
    pub error_resilient_mode: bool,
    pub disable_cdf_update: bool,
    pub allow_screen_content_tools: bool,
    pub force_integer_mv: bool,
    pub allow_intrabc: bool,
    pub use_superres: bool,
    pub allow_high_precision_mv: bool,
    pub is_motion_mode_switchable: bool,
    pub use_ref_frame_mvs: bool,
    pub disable_frame_end_update_cdf: bool,
    pub uniform_tile_spacing_flag: bool,
    pub allow_warped_motion: bool,
    pub large_scale_tile: bool,
}

impl PicInfo {
    /// Decodes `pic_info_fields.value`.
    pub fn from_value(v: u32) -> Self {
        let b = PicBits { _bitfield_align_1: [], _bitfield_1: __BindgenBitfieldUnit::new(v.to_ne_bytes()) };
        PicInfo {
            frame_type: b.frame_type() as u8,
            show_frame: b.show_frame() != 0,
            showable_frame: b.showable_frame() != 0,
            error_resilient_mode: b.error_resilient_mode() != 0,
            disable_cdf_update: b.disable_cdf_update() != 0,
            allow_screen_content_tools: b.allow_screen_content_tools() != 0,
            force_integer_mv: b.force_integer_mv() != 0,
            allow_intrabc: b.allow_intrabc() != 0,
            use_superres: b.use_superres() != 0,
            allow_high_precision_mv: b.allow_high_precision_mv() != 0,
            is_motion_mode_switchable: b.is_motion_mode_switchable() != 0,
            use_ref_frame_mvs: b.use_ref_frame_mvs() != 0,
            disable_frame_end_update_cdf: b.disable_frame_end_update_cdf() != 0,
            uniform_tile_spacing_flag: b.uniform_tile_spacing_flag() != 0,
            allow_warped_motion: b.allow_warped_motion() != 0,
            large_scale_tile: b.large_scale_tile() != 0,
        }
    }
}

/// `loop_filter_info_fields`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct LoopFilterInfo {
    pub sharpness_level: u8,
    pub mode_ref_delta_enabled: bool,
    pub mode_ref_delta_update: bool,
}

impl LoopFilterInfo {
    /// Decodes `loop_filter_info_fields.value`.
    pub fn from_value(v: u8) -> Self {
        let b = LfBits { _bitfield_align_1: [], _bitfield_1: __BindgenBitfieldUnit::new([v]) };
        LoopFilterInfo {
            sharpness_level: b.sharpness_level(),
            mode_ref_delta_enabled: b.mode_ref_delta_enabled() != 0,
            mode_ref_delta_update: b.mode_ref_delta_update() != 0,
        }
    }
}

/// `qmatrix_fields`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct QmatrixInfo {
    pub using_qmatrix: bool,
    pub qm_y: u8,
    pub qm_u: u8,
    pub qm_v: u8,
}

impl QmatrixInfo {
    /// Decodes `qmatrix_fields.value`.
    pub fn from_value(v: u16) -> Self {
        let b = QmBits { _bitfield_align_1: [], _bitfield_1: __BindgenBitfieldUnit::new(v.to_ne_bytes()) };
        QmatrixInfo { using_qmatrix: b.using_qmatrix() != 0, qm_y: b.qm_y() as u8, qm_u: b.qm_u() as u8, qm_v: b.qm_v() as u8 }
    }
}

/// `mode_control_fields`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct ModeControl {
    pub delta_q_present_flag: bool,
    pub log2_delta_q_res: u8,
    pub delta_lf_present_flag: bool,
    pub log2_delta_lf_res: u8,
    pub delta_lf_multi: bool,
    pub tx_mode: u8,
    pub reference_select: bool,
    pub reduced_tx_set_used: bool,
    pub skip_mode_present: bool,
}

impl ModeControl {
    /// Decodes `mode_control_fields.value`.
    pub fn from_value(v: u32) -> Self {
        let b = ModeBits { _bitfield_align_1: [], _bitfield_1: __BindgenBitfieldUnit::new(v.to_ne_bytes()) };
        ModeControl {
            delta_q_present_flag: b.delta_q_present_flag() != 0,
            log2_delta_q_res: b.log2_delta_q_res() as u8,
            delta_lf_present_flag: b.delta_lf_present_flag() != 0,
            log2_delta_lf_res: b.log2_delta_lf_res() as u8,
            delta_lf_multi: b.delta_lf_multi() != 0,
            tx_mode: b.tx_mode() as u8,
            reference_select: b.reference_select() != 0,
            reduced_tx_set_used: b.reduced_tx_set_used() != 0,
            skip_mode_present: b.skip_mode_present() != 0,
        }
    }
}

/// `loop_restoration_fields`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct LoopRestorationInfo {
    /// FrameRestorationType per plane (0 none, 1 Wiener, 2 self-guided, 3 switchable).
    pub frame_restoration_type: [u8; 3],
    pub lr_unit_shift: u8,
    pub lr_uv_shift: u8,
}

impl LoopRestorationInfo {
    /// Decodes `loop_restoration_fields.value`.
    pub fn from_value(v: u16) -> Self {
        let b = LrBits { _bitfield_align_1: [], _bitfield_1: __BindgenBitfieldUnit::new(v.to_ne_bytes()) };
        LoopRestorationInfo {
            frame_restoration_type: [
                b.yframe_restoration_type() as u8,
                b.cbframe_restoration_type() as u8,
                b.crframe_restoration_type() as u8,
            ],
            lr_unit_shift: b.lr_unit_shift() as u8,
            lr_uv_shift: b.lr_uv_shift() as u8,
        }
    }
}

/// `seg_info.segment_info_fields`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct SegmentInfo {
    pub enabled: bool,
    pub update_map: bool,
    pub temporal_update: bool,
    pub update_data: bool,
}

impl SegmentInfo {
    /// Decodes `seg_info.segment_info_fields.value`.
    pub fn from_value(v: u32) -> Self {
        let b = SegBits { _bitfield_align_1: [], _bitfield_1: __BindgenBitfieldUnit::new(v.to_ne_bytes()) };
        SegmentInfo {
            enabled: b.enabled() != 0,
            update_map: b.update_map() != 0,
            temporal_update: b.temporal_update() != 0,
            update_data: b.update_data() != 0,
        }
    }
}

/// `film_grain_info.film_grain_info_fields`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct FilmGrainInfo {
    pub apply_grain: bool,
    pub chroma_scaling_from_luma: bool,
    pub grain_scaling_minus_8: u8,
    pub ar_coeff_lag: u8,
    pub ar_coeff_shift_minus_6: u8,
    pub grain_scale_shift: u8,
    pub overlap_flag: bool,
    pub clip_to_restricted_range: bool,
}

impl FilmGrainInfo {
    /// Decodes `film_grain_info.film_grain_info_fields.value`.
    pub fn from_value(v: u32) -> Self {
        let b = FgBits { _bitfield_align_1: [], _bitfield_1: __BindgenBitfieldUnit::new(v.to_ne_bytes()) };
        FilmGrainInfo {
            apply_grain: b.apply_grain() != 0,
            chroma_scaling_from_luma: b.chroma_scaling_from_luma() != 0,
            grain_scaling_minus_8: b.grain_scaling_minus_8() as u8,
            ar_coeff_lag: b.ar_coeff_lag() as u8,
            ar_coeff_shift_minus_6: b.ar_coeff_shift_minus_6() as u8,
            grain_scale_shift: b.grain_scale_shift() as u8,
            overlap_flag: b.overlap_flag() != 0,
            clip_to_restricted_range: b.clip_to_restricted_range() != 0,
        }
    }
}
