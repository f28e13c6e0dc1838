/*
 * vp9-resize-enc: encode raw I420 segments of different sizes into ONE VP9 stream
 * (IVF), changing the frame size between segments WITHOUT a key frame, so that the
 * first frame of a smaller segment is an inter frame predicted from larger references
 * (VP9 reference scaling). Used by scripts/make-streams for vp9-refscale; vpxenc itself
 * cannot do this on demand (its dynamic resize depends on rate-control history).
 *
 *   vp9-resize-enc OUT.ivf W:H:FRAMES:FILE[:key] ...
 *
 * Each segment reads FRAMES raw I420 frames of W x H from FILE. The first segment
 * opens the encoder (its first frame is a key frame); a later segment of another size
 * goes through vpx_codec_enc_config_set, which libvpx codes as an inter frame when the
 * new size is at most the initial one and within VP9's reference ratio (2x smaller at
 * most); ":key" forces a key frame on the segment's first frame. One pass, realtime,
 * CBR 100 kbps, no lag, no automatic key frames, one thread: deterministic output.
 *
 * Build: cc -O2 -o vp9-resize-enc vp9-resize-enc.c -lvpx   (Debian: libvpx-dev)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

static void die(const char *what, vpx_codec_ctx_t *codec) {
    fprintf(stderr, "vp9-resize-enc: %s%s%s\n", what, codec ? ": " : "", codec ? vpx_codec_error_detail(codec) ? vpx_codec_error_detail(codec) : vpx_codec_error(codec) : "");
    exit(1);
}

static void le16(unsigned char *p, unsigned v) { p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; }
static void le32(unsigned char *p, unsigned v) { le16(p, v & 0xffff); le16(p + 2, v >> 16); }

static void ivf_header(FILE *f, unsigned w, unsigned h, unsigned frames) {
    unsigned char hdr[32] = { 'D', 'K', 'I', 'F' };
    le16(hdr + 4, 0);
    le16(hdr + 6, 32);
    memcpy(hdr + 8, "VP90", 4);
    le16(hdr + 12, w);
    le16(hdr + 14, h);
    le32(hdr + 16, 25); /* time base: 1/25 s */
    le32(hdr + 20, 1);
    le32(hdr + 24, frames);
    le32(hdr + 28, 0);
    fseek(f, 0, SEEK_SET);
    if (fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr) die("write IVF header", NULL);
}

static unsigned write_packets(vpx_codec_ctx_t *codec, FILE *out) {
    vpx_codec_iter_t iter = NULL;
    const vpx_codec_cx_pkt_t *pkt;
    unsigned n = 0;
    while ((pkt = vpx_codec_get_cx_data(codec, &iter))) {
        if (pkt->kind != VPX_CODEC_CX_FRAME_PKT) continue;
        unsigned char fh[12];
        unsigned long long pts = (unsigned long long)pkt->data.frame.pts;
        le32(fh, (unsigned)pkt->data.frame.sz);
        le32(fh + 4, (unsigned)(pts & 0xffffffffu));
        le32(fh + 8, (unsigned)(pts >> 32));
        if (fwrite(fh, 1, 12, out) != 12 || fwrite(pkt->data.frame.buf, 1, pkt->data.frame.sz, out) != pkt->data.frame.sz)
            die("write frame", NULL);
        n++;
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s OUT.ivf W:H:FRAMES:FILE[:key] ...\n", argv[0]);
        return 2;
    }
    FILE *out = fopen(argv[1], "wb");
    if (!out) die("cannot open output", NULL);
    vpx_codec_ctx_t codec;
    vpx_codec_enc_cfg_t cfg;
    vpx_image_t img;
    int opened = 0;
    unsigned frames_out = 0, w0 = 0, h0 = 0;
    long long pts = 0;
    ivf_header(out, 0, 0, 0);
    for (int s = 2; s < argc; s++) {
        unsigned w, h, n;
        char file[4096], key[8] = "";
        if (sscanf(argv[s], "%u:%u:%u:%4095[^:]:%7s", &w, &h, &n, file, key) < 4 || w < 2 || h < 2)
            die("bad segment (want W:H:FRAMES:FILE[:key])", NULL);
        FILE *in = fopen(file, "rb");
        if (!in) die("cannot open segment input", NULL);
        if (!opened) {
            if (vpx_codec_enc_config_default(vpx_codec_vp9_cx(), &cfg, 0)) die("config default", NULL);
            cfg.g_w = w;
            cfg.g_h = h;
            cfg.g_timebase.num = 1;
            cfg.g_timebase.den = 25;
            cfg.g_threads = 1;
            cfg.g_pass = VPX_RC_ONE_PASS;
            cfg.g_lag_in_frames = 0;
            cfg.g_error_resilient = 0;
            cfg.rc_end_usage = VPX_CBR;
            cfg.rc_target_bitrate = 100;
            cfg.rc_dropframe_thresh = 0;
            cfg.rc_resize_allowed = 0;
            cfg.kf_mode = VPX_KF_DISABLED;
            if (vpx_codec_enc_init(&codec, vpx_codec_vp9_cx(), &cfg, 0)) die("encoder init", &codec);
            if (vpx_codec_control(&codec, VP8E_SET_CPUUSED, 8)) die("cpu-used", &codec);
            opened = 1;
            w0 = w;
            h0 = h;
        } else if (w != cfg.g_w || h != cfg.g_h) {
            cfg.g_w = w;
            cfg.g_h = h;
            if (vpx_codec_enc_config_set(&codec, &cfg)) die("config set (new size)", &codec);
        }
        if (!vpx_img_alloc(&img, VPX_IMG_FMT_I420, w, h, 1)) die("image alloc", NULL);
        for (unsigned i = 0; i < n; i++) {
            for (int p = 0; p < 3; p++) {
                unsigned pw = p ? (w + 1) / 2 : w, ph = p ? (h + 1) / 2 : h;
                for (unsigned y = 0; y < ph; y++)
                    if (fread(img.planes[p] + (size_t)y * img.stride[p], 1, pw, in) != pw) die("short segment input", NULL);
            }
            vpx_enc_frame_flags_t flags = (i == 0 && strcmp(key, "key") == 0) ? VPX_EFLAG_FORCE_KF : 0;
            if (vpx_codec_encode(&codec, &img, pts++, 1, flags, VPX_DL_REALTIME)) die("encode", &codec);
            frames_out += write_packets(&codec, out);
        }
        vpx_img_free(&img);
        fclose(in);
    }
    if (vpx_codec_encode(&codec, NULL, -1, 1, 0, VPX_DL_REALTIME)) die("flush", &codec);
    frames_out += write_packets(&codec, out);
    ivf_header(out, w0, h0, frames_out);
    if (vpx_codec_destroy(&codec)) die("destroy", &codec);
    if (fclose(out)) die("close output", NULL);
    return 0;
}
