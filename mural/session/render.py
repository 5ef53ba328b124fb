"""Rendering a checked plan offline: every video, still and exposure, frame-exactly.

Outputs at one size share one wall and one pass through `show.video.render_span`, the same
pipeline `mural video` uses; exposures are made by the permanent mural's own renderer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mural.safety.guard import SafetyConfig
from mural.session.model import Output, Plan, RunResult
from mural.show.exposure import DEFAULT_POSTER, render_exposure
from mural.show.video import PaletteCue, StillJob, VideoJob, render_span, still_frame
from mural.show.wall import Wall
from mural.sinks.progress import Progress

if TYPE_CHECKING:
    from mural.show.farm import FarmOptions

_still_frame = still_frame  # for session.live until it takes stills through the player


def source_name(plan: Plan) -> str:
    """The session's sources as written, for provenance."""
    names = [s.written for s in plan.session.sources]
    names += [c.cue.add_source for c in plan.cues if c.cue.add_source]
    return " + ".join(str(n) for n in names)


def render_plan(plan: Plan, *, force: bool = False, quiet: bool = True,
                echo: Callable[[str], None] | None = None,
                safety: SafetyConfig | None = None,
                farm: FarmOptions | None = None) -> RunResult:
    """Render every output of a checked plan from its events, frame-exactly.

    With `farm` (mural.show.farm.FarmOptions: `--workers`, `--scheduler`) every .mp4 video and
    frames folder is rendered on that Dask cluster in segments, with the session's palette
    cues and pauses, the same frames as here; other videos, stills and exposures render here.
    """
    with contextlib.ExitStack() as stack:
        farmed = _Farmed(farm, stack) if farm is not None else None
        return _render_plan(plan, force, quiet, echo, safety, farmed)


class _Farmed:
    """The plan's one Dask cluster, opened at the first video that goes to it."""

    def __init__(self, options: FarmOptions, stack: contextlib.ExitStack) -> None:
        self.options = options
        self.stack = stack
        self.cluster = None

    def takes(self, job: VideoJob) -> bool:
        from mural.show.farm import FARM_KINDS
        from mural.sinks.video import output_kind

        return output_kind(job.target) in FARM_KINDS

    def render(self, plan: Plan, job: VideoJob, size: tuple[int, int], cues: list[PaletteCue],
               force: bool, quiet: bool, safety: SafetyConfig | None) -> str:
        from mural.show.farm import Cluster, farm_render

        if self.cluster is None:
            self.cluster = self.stack.enter_context(Cluster(self.options))
        settings = plan.session.mural
        done = farm_render(self.cluster, plan.events, job, size=size, seed=settings.seed,
                           palette=settings.palette, personal=plan.personal, safety=safety,
                           cues=cues, source_name=source_name(plan), force=force, quiet=quiet,
                           label=Path(job.target).name)
        (w, h), export = done.export.size, done.export
        return (f"wrote {job.target}: {export.frames} frames, {w}x{h} @ "
                f"{float(export.fps):g} fps on {done.workers} workers ({done.segments} "
                "segments)")


def _render_plan(plan: Plan, force: bool, quiet: bool, echo: Callable[[str], None] | None,
                 safety: SafetyConfig | None, farmed: _Farmed | None) -> RunResult:
    session = plan.session
    settings = session.mural
    say = echo or (lambda line: None)
    result = RunResult(skipped=list(plan.skipped))
    holds = tuple((c.t, c.cue.pause) for c in plan.cues if c.cue.pause)
    extra = {"mural:session": str(session.path)}
    passes: dict[tuple[int, int], tuple[list[VideoJob], list[StillJob]]] = {}

    def pass_at(size: tuple[int, int]) -> tuple[list[VideoJob], list[StillJob]]:
        return passes.setdefault(tuple(size), ([], []))

    for out in plan.outputs:
        if out.kind == "video":
            end = out.end if out.end is not None else plan.duration
            pass_at(out.size or settings.size)[0].append(VideoJob(
                out.target, out.start, end, out.fps or settings.fps, out.speed, out.crf,
                holds, extra))
        elif out.kind == "still":
            pass_at(settings.size)[1].append(
                StillJob(out.target, float(out.at or 0.0), out.size, extra))
    for timed in plan.cues:
        if timed.cue.still:
            pass_at(settings.size)[1].append(
                StillJob(timed.cue.still, timed.t, timed.cue.size, extra))
    for size, (videos, stills) in passes.items():
        if farmed is not None:
            every = [PaletteCue(c.t, c.cue.palette, c.cue.fade) for c in plan.cues
                     if c.cue.palette]
            for job in [v for v in videos if farmed.takes(v)]:
                line = farmed.render(plan, job, size, every, force, quiet, safety)
                result.written.append(Path(job.target))
                result.lines.append(line)
                say(line)
                videos.remove(job)
            if not videos and not stills:
                continue
        last = max([v.end for v in videos] + [s.t for s in stills])
        cues = [PaletteCue(c.t, c.cue.palette, c.cue.fade) for c in plan.cues
                if c.cue.palette and c.t <= last]
        wall = Wall(plan.events, size=size, seed=settings.seed, palette=settings.palette,
                    personal=plan.personal, safety=safety)
        label = Path(videos[0].target).name if videos else "stills"
        span = render_span(wall, videos=videos, stills=stills, cues=cues,
                           source=source_name(plan), force=force, quiet=quiet, label=label,
                           say=say)
        result.written += [Path(s.target) for s, _ in span.stills]
        result.written += [Path(v.target) for v, *_ in span.videos]
        lines = span.lines()
        result.lines += lines
        for line in lines[len(span.stills):]:
            say(line)
    for out in plan.outputs:
        if out.kind == "exposure":
            _render_exposure_output(plan, out, force, quiet, result, say)
    return result


def _render_exposure_output(plan: Plan, out: Output, force: bool, quiet: bool,
                            result: RunResult, say: Callable[[str], None]) -> None:
    settings = plan.session.mural
    end = out.end if out.end is not None else plan.duration
    with Progress(1000, quiet=quiet, label=Path(out.target).name) as bar:
        def progress(stage: str, fraction: float) -> None:
            bar.update(max(0, int(fraction * 1000) - bar.done))

        done = render_exposure(
            plan.events, out.target, start=out.start, end=end, size=out.size or DEFAULT_POSTER,
            seed=settings.seed, palette=settings.palette, palette_changes=plan.palette_changes(),
            personal=plan.personal, force=force, progress=progress,
            metadata={"mural:session": str(plan.session.path), "mural:source": source_name(plan)},
        )
    result.written.append(Path(out.target))
    result.lines.append(done.summary())
    say(done.summary())


__all__ = ["render_plan", "source_name"]
