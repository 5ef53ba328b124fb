"""Option types and decorators shared by several commands."""

from __future__ import annotations

import re
from typing import Any

import click

MAX_SIDE = 16384


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080); raises ValueError with a readable message."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match:
        raise ValueError(f"size must look like WIDTHxHEIGHT (e.g. 1920x1080), got {text!r}")
    width, height = int(match[1]), int(match[2])
    if not (8 <= width <= MAX_SIDE and 8 <= height <= MAX_SIDE):
        raise ValueError(f"size {width}x{height} is outside 8..{MAX_SIDE} on a side")
    return width, height


class SizeType(click.ParamType):
    """WIDTHxHEIGHT, parsed before the command runs."""

    name = "WxH"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, tuple):
            return value
        try:
            return parse_size(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


SIZE = SizeType()
