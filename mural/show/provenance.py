"""Provenance: the text every output carries (PNG chunks, video tags), built in one place.

A still, a video and a poster made from the same moment say the same things about it: which
software, source, seed, palette and size, whether the flash limiter was on, and what span.
"""

from __future__ import annotations

from collections.abc import Mapping

from mural._version import __version__


def provenance(
    *,
    source: str,
    seed: int,
    palette: str,
    size: tuple[int, int],
    limiter: bool | None = True,
    **extra: object,
) -> dict[str, str]:
    """The metadata of one output; `extra` keys become `mural:KEY` (underscores as dashes).

    `limiter=None` leaves the flash-limiter entry out (a poster is one image: nothing flashes).
    """
    width, height = size
    meta = {
        "Software": f"Lumina Mural {__version__}",
        "mural:source": _text(source),
        "mural:seed": str(seed),
        "mural:palette": palette,
        "mural:size": f"{width}x{height}",
    }
    if limiter is not None:
        meta["mural:flash-limiter"] = "on" if limiter else "OFF"
    for key, value in extra.items():
        if value is not None:
            meta[f"mural:{key.replace('_', '-')}"] = _text(value)
    return meta


def merged(base: Mapping[str, str], more: Mapping[str, object] | None) -> dict[str, str]:
    """`base` with caller-given entries on top (sessions add `mural:session`)."""
    return {**base, **{str(k): _text(v) for k, v in (more or {}).items()}}


def _text(value: object) -> str:
    """A value as metadata text: numbers short, and a file name that is not UTF-8 (bytes the
    file system allowed) shown with replacement characters instead of failing the write."""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


__all__ = ["merged", "provenance"]
