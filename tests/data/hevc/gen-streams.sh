#!/bin/sh
# Regenerates the tiny HEVC streams used by the codec unit tests (src/codec/hevc).
# Needs ffmpeg with libx265. Expected values in src/codec/hevc/oracle.rs were read
# off `ffmpeg -i X -c copy -bsf:v trace_headers -f null -` for these files.
set -e
cd "$(dirname "$0")"
src="-f lavfi -i testsrc=size=176x144:rate=25"
common="-an -c:v libx265 -f hevc"
# Main: 3 B-frames with pyramid, weighted P and B prediction, WPP (entry points), 3 refs.
ffmpeg -y -v error $src -frames:v 8 $common -pix_fmt yuv420p \
  -x265-params "log-level=error:bframes=3:b-adapt=0:b-pyramid=1:weightp=1:weightb=1:ref=3:wpp=1:keyint=60:scenecut=0:open-gop=0" bframes-wp.hevc
# Main: 2 slices per picture, 16x16 CTUs, 2 B-frames, no SAO, deblocking offsets.
ffmpeg -y -v error $src -frames:v 6 $common -pix_fmt yuv420p \
  -x265-params "log-level=error:slices=2:ctu=16:bframes=2:b-adapt=0:ref=2:wpp=1:sao=0:deblock=-1,1:keyint=60:scenecut=0" slices.hevc
# Main10: default scaling lists, P only, 2 refs, tiles off, SAO on.
ffmpeg -y -v error $src -frames:v 5 $common -pix_fmt yuv420p10le \
  -x265-params "log-level=error:scaling-list=default:bframes=0:ref=2:no-wpp=1:keyint=60:scenecut=0" main10-scaling.hevc
