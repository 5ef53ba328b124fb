"""`mural video`: export a recording or scenario as MP4, WebM, GIF or a folder of PNG frames."""

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
from mural.show.video import (
    DEFAULT_FPS,
    MAX_SPEED,
    MIN_SPEED,
    ExportInterrupted,
    export_video,
    terminate_as_interrupt,
)

EXIT_INTERRUPTED = 130  # the shell's code for "stopped by Ctrl-C"


def farm_options(func):
    """--workers, --scheduler, --resume, --segment: the render farm (also on `mural run`)."""
    func = click.option("--segment", type=click.FloatRange(min=0.1), default=None,
                        metavar="SECONDS",
                        help="Farm: seconds of video per segment (default: about four per "
                             "worker, at most a minute).")(func)
    func = click.option("--resume", is_flag=True,
                        help="Farm: continue an interrupted farm export from its finished "
                             "segments.")(func)
    func = click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
                        help="Render on an existing Dask cluster (`dask scheduler`, "
                             "`dask worker`).")(func)
    return click.option("--workers", type=click.IntRange(1, 1024), default=None,
                        help="Render on a local Dask cluster of N worker processes "
                             "(pip install 'lumina-mural[farm]').")(func)


def farm_from_flags(workers, scheduler, resume, segment):
    """FarmOptions for the farm flags, or None to render here; UsageError for a mix-up."""
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers N (a local cluster) or --scheduler ADDRESS "
                               "(an existing one), not both")
    if workers is None and scheduler is None:
        if resume or segment is not None:
            raise click.UsageError("--resume and --segment are for farm exports (--workers "
                                   "or --scheduler)")
        return None
    from mural.show.farm import FarmOptions

    return FarmOptions(workers=workers, scheduler=scheduler, resume=resume,
                       segment_seconds=segment)


@click.command("video")
@click.argument("source")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="out.mp4, out.webm, out.gif, or a folder (frames/) for numbered PNG frames.")
@click.option("--fps", type=click.FloatRange(min=1, max=240), default=DEFAULT_FPS,
              show_default=True, help="Frames per second of video.")
@size_option("1280x720")
@click.option("--start", type=TIME, default=0.0, show_default=True,
              help="First moment to show: seconds or m:ss.")
@click.option("--end", type=TIME, default=None,
              help="Where to stop: seconds or m:ss (default: the stream's last event).")
@click.option("--speed", type=click.FloatRange(min=MIN_SPEED, max=MAX_SPEED), default=1.0,
              show_default=True, help="Time-lapse: seconds of SOURCE per second of video "
                                      f"({MIN_SPEED:g}..{MAX_SPEED:g}).")
@seed_option
@palette_option
@click.option("--crf", type=click.IntRange(0, 51), default=20, show_default=True,
              help="Quality: 0 lossless .. 51 worst (H.264 scale; WebM maps it to VP9's).")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@strict_option
@click.option("--check-flashes", is_flag=True,
              help="Run the WCAG 2.3.1 flash check on the export; exit 1 if it fails.")
@unsafe_option
@click.option("--checkpoints", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A folder from `mural checkpoint` (same size, seed, palette): start from the "
                   "latest checkpoint at or before --start instead of from 0.")
@farm_options
@click.pass_context
@friendly
def command(ctx, source, output, fps, size, start, end, speed, seed, palette, crf, force, quiet,
            strict, check_flashes, unsafe, checkpoints, workers, scheduler, resume,
            segment) -> None:
    """Render SOURCE (a recording or sim:NAME) frame by frame into a video.

    Frame k shows the mural at START + k/FPS exactly, however fast the machine is, so the same
    arguments always give the same frames. Ctrl-C keeps a playable file of what was rendered.

    With --workers N (a local Dask cluster) or --scheduler tcp://HOST:PORT (an existing one)
    the export is cut into segments rendered in parallel and joined without re-encoding (MP4
    or a PNG folder); Ctrl-C keeps the finished segments and --resume continues from them.
    """
    farm = farm_from_flags(workers, scheduler, resume, segment)
    kwargs = dict(fps=fps, size=size, start=start, end=end, seed=seed, palette=palette,
                  speed=speed, crf=crf, force=force, quiet=quiet, strict=strict,
                  safety=safety_from_flag(unsafe), on_problem=warn_problem,
                  checkpoints=checkpoints)
    try:
        with terminate_as_interrupt():  # SIGTERM keeps a playable file, as Ctrl-C does
            if farm is None:
                result = export_video(source, output, **kwargs)
                line = result.summary()
            else:
                from mural.show.farm import farm_export

                done = farm_export(source, output, farm, **kwargs)
                result, line = done.export, done.summary()
    except ExportInterrupted as stop:
        click.echo(f"interrupted: {stop.result.summary()}", err=True)
        hint = getattr(stop, "hint", None)
        if hint:
            click.echo(hint, err=True)
        ctx.exit(EXIT_INTERRUPTED)
    click.echo(line)
    if check_flashes:
        from mural.show.flashes import analyse_video

        report = analyse_video(result.path, fps=fps if result.kind == "frames" else None)
        click.echo(report.format())
        if not report.passed:
            ctx.exit(1)
