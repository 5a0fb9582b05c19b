#!/usr/bin/python3
"""Writes the seed corpus of fuzz_image (fuzz/corpus/fuzz_image/): one small file per format and pixel
layout stb decodes. Run once; the outputs are committed.   /usr/bin/python3 fuzz/make_image_seeds.py
"""
import os
import shutil

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_image")
DATA = os.path.join(HERE, "..", "tests", "data", "io")
os.makedirs(OUT, exist_ok=True)


def out(name):
    return os.path.join(OUT, name)


# A textured 8 × 6 RGB picture (not flat, so the decoders' coefficient paths run).
rgb = Image.new("RGB", (8, 6))
rgb.putdata([((x * 37 + y * 11) % 256, (x * 5 + y * 50) % 256, (x * y * 13) % 256) for y in range(6) for x in range(8)])

rgb.save(out("rgb_8x6.png"))
rgb.convert("L").save(out("gray_8x6.png"))
rgb.convert("RGBA").save(out("rgba_8x6.png"))
rgb.convert("LA").save(out("gray_alpha_8x6.png"))
rgb.convert("P", palette=Image.ADAPTIVE, colors=16).save(out("palette_8x6.png"))
rgb.convert("1").save(out("bilevel_8x6.png"))
rgb.save(out("baseline_8x6.jpg"), quality=90)
rgb.save(out("progressive_8x6.jpg"), quality=90, progressive=True)
rgb.convert("L").save(out("gray_8x6.jpg"), quality=90)
rgb.save(out("subsampled_8x6.jpg"), quality=75, subsampling=2)
rgb.save(out("rgb_8x6.bmp"))
rgb.convert("P", palette=Image.ADAPTIVE, colors=16).save(out("palette_8x6.bmp"))
rgb.save(out("rgb_8x6.gif"))
rgb.save(out("rgb_8x6.tga"))
rgb.save(out("rgb_8x6_rle.tga"), compression="tga_rle")
rgb.save(out("rgb_8x6.ppm"))
rgb.convert("L").save(out("gray_8x6.pgm"))
g16 = Image.new("I;16", (4, 4))
g16.putdata([1000 * i for i in range(16)])
g16.save(out("gray16_4x4.png"))

# The small test files of tests/io as well (truncated, not an image, huge declared size).
for name in ["truncated.png", "not_an_image.png", "huge_9000x9000.png", "huge_20000x20000.jpg"]:
    shutil.copy(os.path.join(DATA, name), out(name))
