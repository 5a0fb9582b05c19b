#!/usr/bin/python3
"""Writes the small image files that tests/io/ reads (run once; the outputs are committed).

    /usr/bin/python3 tests/data/io/make_io_data.py     # needs python3-pil

Every file is a few hundred bytes; the pixel values are formulas the tests recompute.
"""
import io
import os
import struct
import zlib

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


# 8-bit gray, 4 wide × 3 high: value(x, y) = 20x + 60y + 5.
gray = Image.new("L", (4, 3))
gray.putdata([20 * x + 60 * y + 5 for y in range(3) for x in range(4)])
gray.save(path("gray_4x3.png"))

# RGBA, 3 wide × 2 high: (r, g, b, a) = (10x + 1, 100 + 50y, 200 - 30x, 40 + 100x): alpha must be dropped.
rgba = Image.new("RGBA", (3, 2))
rgba.putdata([(10 * x + 1, 100 + 50 * y, 200 - 30 * x, 40 + 100 * x) for y in range(2) for x in range(3)])
rgba.save(path("rgba_3x2.png"))

# 16-bit gray PNG, 4 × 4 (must be refused).
g16 = Image.new("I;16", (4, 4))
g16.putdata([1000 * (x + 4 * y) for y in range(4) for x in range(4)])
g16.save(path("gray16_4x4.png"))

# A solid-colour JPEG (lossy: decodes to within a few levels of (200, 100, 50)).
Image.new("RGB", (8, 8), (200, 100, 50)).save(path("solid_8x8.jpg"), quality=95)

# A valid header followed by too little pixel data: a 16 × 16 RGB PNG cut to half its length.
noise = Image.frombytes("RGB", (16, 16), bytes((i * 97 + 13) % 256 for i in range(16 * 16 * 3)))
buf = io.BytesIO()
noise.save(buf, format="PNG")
data = buf.getvalue()
with open(path("truncated.png"), "wb") as f:
    f.write(data[: len(data) // 2])

# Not an image at all.
with open(path("not_an_image.png"), "wb") as f:
    f.write(b"This is a text file with a .png name.\n")


def png_header_only(width, height, colour_type=2):
    """A PNG signature and IHDR declaring width × height 8-bit pixels, an empty IDAT, and IEND."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


# Declares 9000 × 9000 RGB (within stb's own limits, above load_image's default 8192).
with open(path("huge_9000x9000.png"), "wb") as f:
    f.write(png_header_only(9000, 9000))

# Declares 60000 × 60000 RGB: beyond stb_image's own limit (2^30 bytes of samples), so stb's header
# reader refuses it ("unknown image type" after trying every format); the library reads the size from
# the IHDR chunk itself and refuses it by that size.
with open(path("huge_60000x60000.png"), "wb") as f:
    f.write(png_header_only(60000, 60000))

# An empty file with an image's name.
with open(path("empty.png"), "wb") as f:
    pass

# Gray + alpha, 3 wide × 2 high: (v, a) = (30x + 70y + 9, 255 - 80x): alpha must be dropped.
la = Image.new("LA", (3, 2))
la.putdata([(30 * x + 70 * y + 9, 255 - 80 * x) for y in range(2) for x in range(3)])
la.save(path("gray_alpha_3x2.png"))

# Palette (PNG colour type 3), 4 wide × 2 high: pixel (x, y) has palette index x + 4y, whose colour is
# (index·30 + 3, 200 - index·20, index·7).
pal = Image.new("P", (4, 2))
palette = []
for i in range(256):
    palette += [(i * 30 + 3) % 256, (200 - i * 20) % 256, (i * 7) % 256]
pal.putpalette(palette)
pal.putdata([x + 4 * y for y in range(2) for x in range(4)])
pal.save(path("palette_4x2.png"), optimize=False)

# A JPEG whose frame header (SOF0) declares 20000 × 20000 pixels, the rest of solid_8x8.jpg unchanged:
# within stb's own limits, above load_image's default 8192.
jpeg = bytearray(open(path("solid_8x8.jpg"), "rb").read())
sof = jpeg.index(b"\xff\xc0")
jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 20000, 20000)
with open(path("huge_20000x20000.jpg"), "wb") as f:
    f.write(jpeg)

# The same 4 × 3 gray ramp as BMP and GIF (read: lossless 8-bit) and TGA and PGM (refused: formats
# without a signature or with stb 2.27 bugs are not handed to stb).
for ext in ["bmp", "gif", "tga", "pgm"]:
    gray.save(path("gray_4x3." + ext))
