#!/usr/bin/env python3
"""Writes the committed seed corpus for frame_decoder_fuzz (fuzz/corpus/frame_decoder/).

The harness reads its integers (header width, chunk schedule) from the end of the input, as
FuzzedDataProvider does, and the stream from the front, so a seed is a frame stream followed
by a few schedule bytes. Re-run after changing the harness's input layout."""

import os
import struct

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "frame_decoder")
os.makedirs(out, exist_ok=True)
schedule = bytes([1, 3, 7, 2, 4])  # chunk sizes and width picks, consumed from the end

seeds = {
    "valid_frames": b"".join(struct.pack("!I", len(p)) + p for p in [b"hello", b"x" * 300, b"!"]),
    "zero_length": struct.pack("!I", 0) * 5 + struct.pack("!I", 3) + b"abc",
    "max_frame": struct.pack("!I", 4096) + b"m" * 4096,
    "max_plus_one": struct.pack("!I", 4097) + b"n" * 16,
    "all_ones": b"\xff\xff\xff\xff" + b"\x00" * 16,
    "http_get": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "tls_record": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    "truncated": struct.pack("!I", 100) + b"t" * 50,
    "two_byte": struct.pack("!H", 2) + b"hi" + struct.pack("!H", 0),
    "eight_byte": struct.pack("!Q", 3) + b"xyz",
}
for name, stream in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(stream + schedule)
print(f"wrote {len(seeds)} seeds to {out}")
