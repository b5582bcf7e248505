"""The ten digits of every handwriting font in a folder, one font a row, to a PNG: how the fonts of
digitsum.data.handfonts were chosen (by looking). Each row: the font's name, its digits as drawn
(black on white), then as the training pool stores them (MNIST's 28x28 box, shown 2x, no slant).

    python scripts/hand_fonts_montage.py [--folder .cache/digitsum/hand-fonts] [--out montage.png]

The folder defaults to the cache that `python -m digitsum fetch-hand-fonts` fills; to look at other
candidates, fetch them there with digitsum.data.handfonts.fetch(folder, fonts=[(name, version, integrity)]).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from digitsum.data.fontdigits import upright_digit       # noqa: E402
from digitsum.data.handfonts import CACHE, load_font      # noqa: E402

CELL, NAME = 52, 190   # px: one digit's cell; the name column


def row(path: Path) -> Image.Image:
    font = load_font(str(path))
    out = Image.new("L", (NAME + 10 * CELL + 10 * 60, CELL + 8), 255)
    draw = ImageDraw.Draw(out)
    draw.text((4, CELL // 2), path.name.split("-latin")[0], fill=0, anchor="lm", font=ImageFont.load_default(14))
    for d in range(10):
        left, top, right, bottom = font.getbbox(str(d))
        draw.text((NAME + d * CELL + (CELL - left - right) / 2, 4 + (CELL - top - bottom) / 2), str(d), font=font, fill=0)
        mnist = Image.fromarray(255 - upright_digit(str(d), font)).resize((56, 56), Image.Resampling.NEAREST)
        out.paste(mnist, (NAME + 10 * CELL + d * 60, 2))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folder", type=Path, default=CACHE)
    p.add_argument("--out", type=Path, default=Path("hand-fonts-montage.png"))
    a = p.parse_args()
    paths = sorted(a.folder.glob("*-latin-400-normal.woff"))
    if not paths:
        print(f"error: no *-latin-400-normal.woff in {a.folder}; run python -m digitsum fetch-hand-fonts", file=sys.stderr)
        return 2
    rows = [row(path) for path in paths]
    sheet = Image.new("L", (rows[0].width, sum(r.height for r in rows)), 255)
    for i, r in enumerate(rows):
        sheet.paste(r, (0, i * r.height))
    sheet.save(a.out)
    print(f"wrote {a.out}: {len(rows)} fonts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
