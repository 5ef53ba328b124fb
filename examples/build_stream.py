"""Build an emotion stream in code with the Python API and render it as a short video.

    python examples/build_stream.py out/built.mp4            # 8 s at 640x360, 24 fps
    python examples/build_stream.py out/built.gif --size 320x180 --fps 12

Three people gather, a fourth joins in awe, the network drops for two seconds (the light sinks
into shadow) and comes back: the shape of a night in ten lines.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mural


def night(seconds: float = 8.0) -> mural.StreamBuilder:
    """A small scripted night: expressions every half second, one blackout, one marker."""
    build = mural.StreamBuilder(scenario="build_stream example")
    people = {"ana": ("joy", 0.25, 0.4), "ben": ("calm", 0.5, 0.6), "chiara": ("love", 0.75, 0.4)}
    t = 0.0
    while t < seconds:
        for k, (who, (feeling, x, y)) in enumerate(people.items()):
            build.emotion(round(t + 0.05 * k, 3), who, feeling, intensity=0.85, x=x, y=y)
        if t >= seconds / 2:
            build.va(round(t + 0.2, 3), "dev", valence=0.6, arousal=0.7, x=0.5, y=0.3)
        t += 0.5
    build.signal(seconds * 0.55, 0.0)  # blackout ...
    build.marker(seconds * 0.8, "recovery")
    build.signal(seconds * 0.8, 1.0)  # ... and recovery
    return build


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="video to write (.mp4, .webm, .gif, folder/)")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--fps", type=float, default=24)
    parser.add_argument("--stream", type=Path, help="also save the stream (.jsonl or .csv)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    builder = night(args.seconds)
    if args.stream:
        builder.save(args.stream)
    mural.render_video(builder.build(), args.output, size=(width, height), fps=args.fps,
                       end=args.seconds, seed=3, palette="lagoon", force=True)
    print(f"wrote {args.output}")
    return args.output


if __name__ == "__main__":
    main()
