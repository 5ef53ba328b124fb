"""`mural still`: the mural as it stands at one moment of a recording, as a PNG."""

from __future__ import annotations

from pathlib import Path

import click

from mural.cli.options import (
    TIME,
    friendly,
    palette_option,
    safety_from_flag,
    seed_option,
    size_option,
    strict_option,
    unsafe_option,
    warn_problem,
)
from mural.show.still import render_still
from mural.sources.offline import load_offline


@click.command("still")
@click.argument("source")
@click.option("--at", "at", type=TIME, default=None, help="Moment to render: seconds or m:ss.")
@click.option("--exposure", "exposure", default=None, metavar="START:END",
              help="Instead of one moment, the permanent mural: a long exposure of the span "
                   "(\"session\", \"1:05..3:00\", \"65:180\"); --size defaults to 7680x4320.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="PNG file to write.")
@size_option()
@seed_option
@palette_option
@strict_option
@unsafe_option
@click.option("--force", is_flag=True, help="Overwrite the output if it exists.")
@click.option("--checkpoints", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A folder from `mural checkpoint` (same size, seed, palette): start from the "
                   "latest checkpoint at or before --at; the same pixels, in seconds.")
@click.pass_context
@friendly
def command(ctx, source, at, exposure, output, size, seed, palette, strict, unsafe,
            force, checkpoints) -> None:
    """Render the mural at one moment of SOURCE as a PNG.

    The simulation fast-forwards to the moment without compositing the frames on the way,
    so a still an hour into a recording takes a small fraction of an hour.
    """
    if (at is None) == (exposure is None):
        raise click.UsageError("give either --at TIME or --exposure START:END")
    if exposure is not None and checkpoints is not None:
        raise click.UsageError("--checkpoints serves --at stills (an exposure sees the whole "
                               "span)")
    if exposure is not None:
        _exposure(ctx, source, exposure, output, size, seed, palette, strict, force)
        return
    render_still(source, at, output, size=size, seed=seed, palette=palette, strict=strict,
                 safety=safety_from_flag(unsafe), force=force, on_problem=warn_problem,
                 checkpoints=checkpoints)
    click.echo(f"wrote {output} ({size[0]}x{size[1]}, t={at:g}s, seed {seed}, palette {palette})")


def _exposure(ctx, source, span, output, size, seed, palette, strict, force) -> None:
    """`--exposure`: the long exposure of a span (mural.show.exposure), written as a PNG."""
    from mural.session import parse_range
    from mural.show.exposure import DEFAULT_POSTER, ExposureError, render_exposure

    try:
        start, end = parse_range(span)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--exposure") from None
    if ctx.get_parameter_source("size") == click.core.ParameterSource.DEFAULT:
        size = DEFAULT_POSTER
    stream = load_offline(source, strict=strict, on_problem=warn_problem)
    try:
        result = render_exposure(stream.events, output, start=start, end=end, size=size,
                                 seed=seed, palette=palette, force=force,
                                 metadata={"mural:source": source})
    except ExposureError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result.summary())
