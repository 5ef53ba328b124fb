"""Render the contact sheets of the README and docs/ from the code in this checkout.

    python docs/make_sheets.py docs/          # festival.png and look.png (this code's look)
    python docs/make_sheets.py OUT --root OLD_CHECKOUT   # the same sheets from another checkout

Each sheet is a grid of 480x270 frames with a label: the festival recording's moments, a
45 s network blackout and its recovery, and a joyful against a grieving crowd.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

TILE = (480, 270)


def crowd(feelings, *, dark=45.0, until=None, people=8, every=0.5):
    """A crowd lit for 40 s, a network blackout of `dark` seconds, back with joy and hope."""
    import mural

    builder = mural.StreamBuilder()
    homes = [((i * 0.37 + 0.12) % 0.9 + 0.05, (i * 0.61 + 0.2) % 0.8 + 0.1)
             for i in range(people)]

    def speak(t0, t1, labels):
        t = t0
        while t < t1:
            for i, (x, y) in enumerate(homes):
                builder.emotion(round(t + 0.013 * i, 3), f"p{i:02d}", labels[i % len(labels)],
                                intensity=0.85, x=x, y=y)
            t += every

    speak(0.0, 40.0, feelings)
    if dark:
        builder.signal(40.0, 0.0).signal(40.0 + dark, 1.0)
        speak(40.0 + dark, until or 40.0 + dark + 20.0, ("joy", "hope"))
    return builder.build()


def frames(stream, times, seed=7):
    import mural

    wall = (mural.wall if hasattr(mural, "wall") else mural.mural)(
        stream, size=(TILE[0] * 2, TILE[1] * 2), seed=seed)
    return [wall.frame_at(t) for t in times]


def sheet(rows, path):
    """rows: [[(label, frame), ...], ...] -> one PNG."""
    cols = max(len(r) for r in rows)
    out = Image.new("RGB", (cols * TILE[0], len(rows) * TILE[1]))
    draw = ImageDraw.Draw(out)
    for j, row in enumerate(rows):
        for i, (label, frame) in enumerate(row):
            tile = Image.fromarray(np.ascontiguousarray(frame)).resize(TILE, Image.LANCZOS)
            out.paste(tile, (i * TILE[0], j * TILE[1]))
            draw.text((i * TILE[0] + 8, j * TILE[1] + 6), label, fill=(210, 220, 230))
    out.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--root", type=Path, default=Path(__file__).parents[1])
    parser.add_argument("--suffix", default="")
    args = parser.parse_args()
    sys.path.insert(0, str(args.root))
    import mural

    festival = mural.open_stream(str(args.root / "assets" / "sessions" / "festival.jsonl"))
    moments = [("gathering 0:20", 20.0), ("surge 1:31", 91.0), ("blackout 1:40", 100.0),
               ("recovery 1:58", 118.0), ("finale 2:50", 170.0)]
    fest = frames(festival, [t for _, t in moments])
    sheet([[(label, f) for (label, _), f in zip(moments, fest, strict=True)]],
          args.out / f"festival{args.suffix}.png")

    night = [("lit 0:39", 39.5), ("dark +5 s", 45.0), ("dark +20 s", 60.0),
             ("dark +40 s", 80.0), ("back +2 s", 87.0), ("back +6 s", 91.0)]
    lit = frames(crowd(("calm", "trust", "love", "awe")), [t for _, t in night])
    silent = frames(crowd(("calm", "trust", "love", "awe"), dark=0.0),
                    [t for _, t in night[:4]])
    joy = frames(crowd(("joy", "hope", "surprise", "anticipation"), dark=0.0), [39.5])
    grief = frames(crowd(("sadness", "fear", "disgust", "anger"), dark=0.0), [39.5])
    silence = [("silent " + label.split(" ", 1)[1] if i else label, f)
               for i, ((label, _), f) in enumerate(zip(night[:4], silent, strict=True))]
    sheet([[(label, f) for (label, _), f in zip(night, lit, strict=True)],
           silence + [("joyful crowd", joy[0]), ("grieving crowd", grief[0])]],
          args.out / f"look{args.suffix}.png")


if __name__ == "__main__":
    main()
