"""Option types and decorators shared by several commands."""

from __future__ import annotations

from typing import Any

import click

from mural.render.palette import DEFAULT_PALETTE
from mural.session.values import MAX_SIDE, parse_size, parse_time  # noqa: F401


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


class TimeType(click.ParamType):
    """Seconds, or m:ss / h:mm:ss."""

    name = "SECONDS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        try:
            return parse_time(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


TIME = TimeType()


def error_message(exc: BaseException) -> str:
    """The one line a user sees for an error: ours say what and where; the operating
    system's (a full disk, a read-only folder, too many open files) name the file."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    return str(exc) or type(exc).__name__


def friendly(func):
    """Every user error raised inside a command becomes one clean line and exit code 1.

    Every error of ours that a user can cause derives from MuralError; OSError covers what the
    machine refuses (disk full, read-only, permissions, too many open files).
    """
    import functools

    from mural.events.errors import MuralError

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (MuralError, OSError) as exc:
            raise click.ClickException(error_message(exc)) from None

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
    return click.option("--palette", default=DEFAULT_PALETTE, show_default=True,
                        help="Palette name (abyss, ember, lagoon) or a palette .toml file.")(func)


def strict_option(func):
    return click.option("--strict", is_flag=True,
                        help="A bad line in a recording is an error instead of a warning (live "
                             "inputs count and report bad input either way).")(func)


def live_options(func):
    """--live-key, --join-ttl, --max-phones: defaults for the live SOURCEs of a command."""
    func = click.option("--max-phones", type=click.IntRange(1, 10_000), default=None,
                        help="web://: at most this many phones connected (default 200).")(func)
    func = click.option("--join-ttl", type=click.FloatRange(min=60), default=None,
                        metavar="SECONDS",
                        help="web://: the join code rotates this often (default 4 h); a phone "
                             "that joined keeps its session.")(func)
    return click.option("--live-key", default=None, metavar="SECRET",
                        help="A shared secret every osc:// and ws:// SOURCE requires (one "
                             "that names its own ?key= keeps it).")(func)


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
