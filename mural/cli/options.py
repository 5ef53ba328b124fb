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


def parse_time(text: str | float) -> float:
    """Seconds from '75', '75.5', '1:15' or '1:02:03'; raises ValueError when unreadable."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        parts = str(text).strip().split(":")
        if not 1 <= len(parts) <= 3 or any(p.strip() == "" for p in parts):
            raise ValueError(f"time must be seconds or m:ss, got {text!r}")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"time must be seconds or m:ss, got {text!r}") from None
        value = 0.0
        for number in numbers:
            value = value * 60.0 + number
    if not (value >= 0.0 and value < 1e7):  # also rejects NaN
        raise ValueError(f"time must be a number of seconds >= 0, got {text!r}")
    return value


class TimeType(click.ParamType):
    """Seconds, or m:ss / h:mm:ss."""

    name = "SECONDS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        try:
            return parse_time(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


TIME = TimeType()


def user_errors():
    """Exceptions that mean bad input, not a bug: shown as one clean line, never a traceback."""
    from mural.events import EventError, StreamError
    from mural.events.recorder import RecorderError
    from mural.render.palette import PaletteError
    from mural.sources import SourceError
    from mural.state import StateError

    return (StreamError, SourceError, PaletteError, EventError, FileExistsError, StateError,
            RecorderError)


def friendly(func):
    """Turn user errors raised inside a command into click errors (exit code 1, one line)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except user_errors() as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def warn_problem(problem: object) -> None:
    """One warning line per skipped bad input line."""
    click.echo(f"warning: skipped {problem}", err=True)


def seed_option(func):
    return click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
                        help="Seed for every random choice; same seed, same mural.")(func)


def size_option(default: str = "1920x1080"):
    return click.option("--size", type=SIZE, default=default, show_default=True,
                        help="Output size WIDTHxHEIGHT.")


def palette_option(func):
    return click.option("--palette", default="abyss", show_default=True,
                        help="Palette name (abyss, ember, lagoon) or a palette .toml file.")(func)


def strict_option(func):
    return click.option("--strict", is_flag=True,
                        help="Stop at the first bad input line instead of skipping it.")(func)


UNSAFE_FLAG = "--unsafe-disable-flash-limiter"


def unsafe_option(func):
    """The only way to switch the photosensitive-safety limiter off, and it says so."""
    return click.option(
        UNSAFE_FLAG, "unsafe", is_flag=True,
        help="DANGER: switch off the flash limiter and brightness ceiling (never in public).",
    )(func)


def safety_from_flag(unsafe: bool):
    """SafetyConfig for a command; warns loudly when the limiter is off."""
    from mural.safety.guard import SafetyConfig

    if unsafe:
        click.secho("WARNING: the photosensitive-safety flash limiter is OFF "
                    f"({UNSAFE_FLAG}). Do not show this output in public.", fg="red", err=True)
    return SafetyConfig(enabled=not unsafe)
