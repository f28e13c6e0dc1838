"""Unit tests of the visl trace parser / comparer.   python3 -m unittest discover -s tests/e2e"""
import gzip
import os
import re
import tempfile
import unittest

import vtrace

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, 'data', 'v4l2slh264dec-h264-bframes-6.trace.gz')  # GStreamer, first 6 requests


def rewrite(fn):
    """Copy of the sample with fn applied to its text; returns the path."""
    text = gzip.open(SAMPLE, 'rt').read()
    f = tempfile.NamedTemporaryFile('w', suffix='.trace', delete=False)
    f.write(fn(text))
    f.close()
    return f.name


class Parse(unittest.TestCase):
    def test_records(self):
        t = vtrace.read_trace(SAMPLE)
        recs = vtrace.records(t, 'h264')
        self.assertEqual(len(recs), 6)
        self.assertEqual(recs[0]['v4l2_ctrl_h264_sps']['profile_idc'], '100')
        self.assertEqual(recs[0]['v4l2_ctrl_h264_decode_params']['flags'], 'IDR_PIC')
        self.assertEqual(len([k for k in recs[1] if k.startswith('v4l2_h264_dpb_entry[')]), 16)
        self.assertEqual(recs[1]['v4l2_h264_dpb_entry[0]']['fields'], 'TOP_FIELD_REF|BOTTOM_FIELD_REF')
        self.assertEqual(recs[1]['v4l2_h264_dpb_entry[1]']['fields'], '')
        self.assertEqual(t.output_qbuf_ts[:2], [0, 1000])

    def test_normalised_references(self):
        t = vtrace.read_trace(SAMPLE)
        n = vtrace.normalise('h264', vtrace.records(t, 'h264'), vtrace.ts_labeller(t))
        self.assertEqual(n[1]['list0[0]'], 'f0 TOP_FIELD_REF|BOTTOM_FIELD_REF')
        self.assertNotIn('list1[0]', n[1])                  # P slice: list1 unused (H3)
        self.assertIn('dpb[f1].frame_num', n[2])


class Compare(unittest.TestCase):
    def test_self(self):
        ok, frames, fields, msgs = vtrace.compare('h264', SAMPLE, SAMPLE)
        self.assertTrue(ok, msgs)
        self.assertEqual(frames, 6)
        self.assertGreater(fields, 400)

    def test_timestamps_and_dpb_slots_are_names(self):
        # another client: timestamps = frame counter * 7 + 3 and DPB slots reversed (N1, H2, H3)
        def relabel(text):
            text = re.sub(r'(reference_ts |timestamp = )(\d+)', lambda m: m.group(1) + str(int(m.group(2)) // 1000 * 7 + 3), text)
            text = re.sub(r'v4l2_h264_dpb_entry: \[(\d+)\]', lambda m: 'v4l2_h264_dpb_entry: [%d]' % (15 - int(m.group(1))), text)
            return re.sub(r'(ref_pic_list[01]: \[\d+\]: fields \S* index )(\d+)',
                          lambda m: m.group(1) + (m.group(2) if m.group(2) == '255' else str(15 - int(m.group(2)))), text)
        other = rewrite(relabel)
        try:
            ok, frames, fields, msgs = vtrace.compare('h264', other, SAMPLE)
            self.assertTrue(ok, msgs)
        finally:
            os.unlink(other)

    def test_difference_found(self):
        other = rewrite(lambda t: t.replace('dec_ref_pic_marking_bit_size 2', 'dec_ref_pic_marking_bit_size 3', 1))
        try:
            ok, frames, fields, msgs = vtrace.compare('h264', other, SAMPLE)
            self.assertFalse(ok)
            self.assertIn('frame 0 decode_params.dec_ref_pic_marking_bit_size', msgs[0])
        finally:
            os.unlink(other)


class Av1Sizes(unittest.TestCase):
    SEQ = {'max_frame_width_minus_1': '175', 'max_frame_height_minus_1': '143'}

    def pic(self, refs=None, **fields):
        """refs: {i: (found_ref[i], ref_frame_idx[i])}"""
        p = dict(self.SEQ, **{k: str(v) for k, v in fields.items()})
        for i, (found, idx) in (refs or {}).items():
            p['found_ref[%d]' % i], p['ref_frame_idx[%d]' % i] = str(found), str(idx)
        return p

    def test_override_found_ref_and_render(self):
        pics = [
            self.pic(frame_type=0, show_frame=1, frame_size_override_flag=0),               # key: max size
            self.pic(frame_type=1, show_frame=1, frame_size_override_flag=1, refs={0: (0, 0)},
                     frame_width_minus_1=87, frame_height_minus_1=71, refresh_frame_flags=2),
            self.pic(frame_type=1, show_frame=1, frame_size_override_flag=1, refs={0: (1, 1)},
                     refresh_frame_flags=1),                                                # size of slot 1
            self.pic(frame_type=1, show_frame=1, frame_size_override_flag=1, refs={0: (0, 0), 1: (1, 2)},
                     refresh_frame_flags=0),                                                # slot 2: the key frame
            self.pic(frame_type=1, show_frame=1, frame_size_override_flag=0, refresh_frame_flags=0),
        ]
        vtrace.av1_derive_sizes(pics)
        got = [(p['frame_width_minus_1'], p['frame_height_minus_1'], p['upscaled_width']) for p in pics]
        self.assertEqual(got, [('175', '143', '176'), ('87', '71', '88'), ('87', '71', '88'),
                               ('175', '143', '176'), ('175', '143', '176')])

    def test_superres_left_out(self):
        pics = [self.pic(frame_type=0, show_frame=1, frame_size_override_flag=0, use_superres=1)]
        vtrace.av1_derive_sizes(pics)
        self.assertNotIn('frame_width_minus_1', pics[0])


if __name__ == '__main__':
    unittest.main()
