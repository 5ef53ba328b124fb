"""`mural bench`: frames per second of the whole pipeline and of each stage."""

from __future__ import annotations

import json

import click

from mural.cli.options import SIZE
from mural.show.bench import run_bench, run_soak


@click.command("bench")
@click.option("--size", type=SIZE, default="1920x1080", show_default=True, help="Frame size.")
@click.option("--particles", type=click.IntRange(1, 2_000_000), default=20_000,
              show_default=True, help="Live particles in the scene.")
@click.option("--frames", type=click.IntRange(1, 100_000), default=240, show_default=True,
              help="Frames to time (after a short warm-up).")
@click.option("--timeline-fps", type=click.FloatRange(1, 1000), default=60.0, show_default=True,
              help="Display rate the frames advance time at (the simulation keeps its own step).")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON object on the last line.")
@click.option("--soak", is_flag=True,
              help="Soak test instead: hours of simulated time (the festival on a loop); "
                   "reports memory and frame time over time.")
@click.option("--hours", type=click.FloatRange(0.01, 1000), default=2.0, show_default=True,
              help="Simulated hours for --soak.")
def command(size, particles, frames, timeline_fps, as_json, soak, hours) -> None:
    """Render a standard scene with N live particles and report frames per second.

    Stages: simulation (emitters, particles, shadow fields), splat (trails into the light
    field), safety (flash limiter), glow (shade + bloom), tonemap (curve, grade, upscale,
    sRGB), heads (crisp particles at full resolution).
    """
    if soak:
        _soak(size, hours, as_json)
        return
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


def _soak(size: tuple[int, int], hours: float, as_json: bool) -> None:
    points = run_soak(size, hours)
    click.echo(f"soak: {hours:g} simulated hours at {size[0]}x{size[1]}")
    click.echo("  sim h   RSS MB   frame ms   step ms   events held   particles")
    for p in points:
        click.echo(f"  {p.sim_hours:5.2f}  {p.rss_mb:7.1f}  {p.frame_ms:9.2f}  {p.step_ms:8.2f}"
                   f"  {p.events_held:12d}  {p.live_particles:10d}")
    half = max(1, len(points) // 2)
    first, last = points[:half], points[half:]

    def mean(values):
        return sum(values) / len(values)

    summary = {
        "soak_hours": hours,
        "size": f"{size[0]}x{size[1]}",
        "rss_mb_first_half": round(mean([p.rss_mb for p in first]), 1),
        "rss_mb_second_half": round(mean([p.rss_mb for p in last]), 1),
        "frame_ms_first_half": round(mean([p.frame_ms for p in first]), 2),
        "frame_ms_second_half": round(mean([p.frame_ms for p in last]), 2),
        "max_events_held": max(p.events_held for p in points),
        "points": [vars(p) for p in points],
    }
    click.echo(f"  memory {summary['rss_mb_first_half']} -> {summary['rss_mb_second_half']} MB, "
               f"frame {summary['frame_ms_first_half']} -> {summary['frame_ms_second_half']} ms "
               "(first half -> second half)")
    if as_json:
        click.echo(json.dumps(summary))
