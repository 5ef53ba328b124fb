"""`mural bench`: frames per second of the whole pipeline and of each stage."""

from __future__ import annotations

import json

import click

from mural.bench import run_bench
from mural.cli.options import SIZE


@click.command("bench")
@click.option("--size", type=SIZE, default="1920x1080", show_default=True, help="Frame size.")
@click.option("--particles", type=click.IntRange(1, 2_000_000), default=20_000,
              show_default=True, help="Live particles in the scene.")
@click.option("--frames", type=click.IntRange(1, 100_000), default=240, show_default=True,
              help="Frames to time (after a short warm-up).")
@click.option("--timeline-fps", type=click.FloatRange(1, 1000), default=60.0, show_default=True,
              help="Display rate the frames advance time at (the simulation keeps its own step).")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON object on the last line.")
def command(size, particles, frames, timeline_fps, as_json) -> None:
    """Render a standard scene with N live particles and report frames per second.

    Stages: simulation (emitters, particles, shadow fields), splat (trails into the light
    field), safety (flash limiter), glow (shade + bloom), tonemap (curve, grade, upscale,
    sRGB), heads (crisp particles at full resolution).
    """
    result = run_bench(size, particles, frames, timeline_fps=timeline_fps)
    data = result.to_dict()
    click.echo(f"{data['size']}, {particles} particles, {frames} frames at a "
               f"{timeline_fps:g} fps timeline ({data['threads']} threads, {data['machine']})")
    click.echo(f"  {data['fps']:.1f} fps  ({data['ms_per_frame']:.2f} ms/frame)")
    for stage, ms in data["stages_ms"].items():
        share = 100.0 * ms / data["ms_per_frame"] if data["ms_per_frame"] else 0.0
        click.echo(f"  {stage:<11} {ms:7.2f} ms  {share:5.1f}%")
    if as_json:
        click.echo(json.dumps(data))
