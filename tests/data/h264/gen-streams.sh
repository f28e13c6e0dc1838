#!/bin/sh
# Regenerates the tiny H.264 streams used by the codec unit tests (src/codec/h264).
# Needs ffmpeg with libx264. The expected values in src/codec/h264/oracle.rs are
# produced from these files by gen-oracle.py (ffmpeg -bsf:v trace_headers).
set -e
cd "$(dirname "$0")"
src="-f lavfi -i testsrc=size=176x144:rate=25"
common="-an -pix_fmt yuv420p -c:v libx264 -bsf:v h264_mp4toannexb -f h264"
# High, CABAC, 3 B-frames with pyramid, explicit weighted P prediction, 3 refs.
ffmpeg -y -v error $src -frames:v 10 $common -profile:v high \
  -x264-params "bframes=3:b-adapt=0:b-pyramid=normal:weightp=2:ref=3:keyint=60:scenecut=0" cabac-bframes-wp.h264
# Main, CAVLC, 4 slices per picture, 2 B-frames, 2 refs.
ffmpeg -y -v error $src -frames:v 6 $common -profile:v main \
  -x264-params "cabac=0:slices=4:bframes=2:b-adapt=0:ref=2:weightp=0:keyint=60:scenecut=0" cavlc-slices.h264
# High, MBAFF interlaced (top field first), 2 B-frames: field_pic_flag and delta_pic_order_cnt_bottom coded.
ffmpeg -y -v error $src -frames:v 6 $common -profile:v high \
  -x264-params "interlaced=1:tff=1:bframes=2:b-adapt=0:ref=2:keyint=60:scenecut=0" mbaff.h264
# Constrained Baseline: POC type 2, CAVLC, P only, 2 slices.
ffmpeg -y -v error $src -frames:v 5 $common -profile:v baseline \
  -x264-params "slices=2:ref=2:keyint=60:scenecut=0" baseline-poc2.h264
