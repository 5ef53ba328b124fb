"""Rendering a checked plan offline: every video, still and exposure, frame-exactly."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from mural.session.model import (
    Cue,
    Output,
    Plan,
    RunResult,
)


@dataclass
class _Moment:
    cues: list[Cue] = field(default_factory=list)
    stills: list[tuple[str, tuple[int, int] | None, str]] = field(default_factory=list)
    frames: list[tuple[int, int]] = field(default_factory=list)  # (writer, repeats)


def _source_name(plan: Plan) -> str:
    names = [s.written for s in plan.session.sources]
    names += [c.cue.add_source for c in plan.cues if c.cue.add_source]
    return " + ".join(str(n) for n in names)


def render_plan(plan: Plan, *, force: bool = False, quiet: bool = True,
                echo: Callable[[str], None] | None = None) -> RunResult:
    """Render every output of a checked plan from its events, frame-exactly."""
    from mural.show.video import frame_count, frame_time

    session = plan.session
    say = echo or (lambda line: None)
    result = RunResult(skipped=list(plan.skipped))
    base_size = session.mural.size
    groups: dict[tuple[int, int], dict[float, _Moment]] = {}
    videos: dict[tuple[int, int], list[Output]] = {}

    def moment(size: tuple[int, int], t: float) -> _Moment:
        return groups.setdefault(size, {}).setdefault(t, _Moment())

    for out in plan.outputs:
        if out.kind == "video":
            size = out.size or base_size
            index = len(videos.setdefault(size, []))
            videos[size].append(out)
            fps = out.fps or session.mural.fps
            end = out.end if out.end is not None else plan.duration
            for k in range(frame_count(out.start, end, fps, out.speed)):
                moment(size, frame_time(out.start, k, fps, out.speed)).frames.append((index, 1))
            for timed in plan.cues:
                if timed.cue.pause and out.start <= timed.t < end:
                    rate = Fraction(fps).limit_denominator(1001 * 1000)
                    held = Fraction(str(timed.cue.pause)) * rate
                    hold = max(1, math.floor(held + Fraction(1, 2)))
                    moment(size, timed.t).frames.append((index, hold))
        elif out.kind == "still":
            moment(base_size, float(out.at or 0.0)).stills.append(
                (out.target, out.size, f"output line {out.line}"))
    for timed in plan.cues:
        if timed.cue.still:
            moment(base_size, timed.t).stills.append(
                (timed.cue.still, timed.cue.size, f"cue line {timed.cue.line}"))
    for size, moments in groups.items():
        _add_cues(moments, plan, max(moments))
        _render_pass(plan, size, moments, videos.get(size, []), force, quiet, result, say)

    for out in plan.outputs:
        if out.kind == "exposure":
            _render_exposure_output(plan, out, force, quiet, result, say)
    return result


def _add_cues(moments: dict[float, _Moment], plan: Plan, last: float) -> None:
    """Palette cues go into a pass in time order (same moment: file order)."""
    for timed in plan.cues:
        if timed.cue.palette and timed.t <= last:
            moments.setdefault(timed.t, _Moment()).cues.append(timed.cue)


def _render_pass(plan: Plan, size: tuple[int, int], moments: dict[float, _Moment],
                 outs: list[Output], force: bool, quiet: bool, result: RunResult,
                 say: Callable[[str], None]) -> None:
    import contextlib

    from mural._version import __version__
    from mural.show.video import cores_shared_with_the_encoder, preset_for
    from mural.show.wall import Wall
    from mural.sinks.png import save_png
    from mural.sinks.progress import Progress
    from mural.sinks.video import VideoWriter

    session = plan.session
    settings = session.mural
    mural = Wall(plan.events, size=size, seed=settings.seed, palette=settings.palette,
                  personal=plan.personal)
    source = _source_name(plan)
    total = sum(sum(r for _, r in m.frames) + len(m.stills) for m in moments.values())
    with contextlib.ExitStack() as stack:
        writers = []
        for out in outs:
            fps = out.fps or settings.fps
            end = out.end if out.end is not None else plan.duration
            meta = {
                "Software": f"Lumina Mural {__version__}", "mural:session": str(session.path),
                "mural:source": source, "mural:seed": settings.seed,
                "mural:palette": mural.palette.name, "mural:size": f"{size[0]}x{size[1]}",
                "mural:fps": f"{fps:g}", "mural:start": f"{out.start:g}",
                "mural:end": f"{end:g}",
            }
            writers.append(stack.enter_context(VideoWriter(
                out.target, size, fps, crf=out.crf, force=force, preset=preset_for(size),
                metadata=meta)))
        if writers:
            stack.enter_context(cores_shared_with_the_encoder())
        label = Path(outs[0].target).name if outs else "stills"
        bar = stack.enter_context(Progress(total, quiet=quiet, label=label))
        for t in sorted(moments):
            m = moments[t]
            mural.advance_to(t)
            for cue in m.cues:
                mural.set_palette(cue.palette, cue.fade)
            for target, still_size, _ in m.stills:
                frame = _still_frame(mural, still_size or size)
                width, height = frame.shape[1], frame.shape[0]
                save_png(target, frame, {
                    "Software": f"Lumina Mural {__version__}",
                    "mural:session": str(session.path), "mural:source": source,
                    "mural:time": f"{t:g}", "mural:seed": settings.seed,
                    "mural:palette": mural.palette.name, "mural:size": f"{width}x{height}",
                })
                result.written.append(Path(target))
                result.lines.append(f"wrote {target} ({width}x{height}, t={t:g}s)")
                say(result.lines[-1])
                bar.update()
            if m.frames:
                frame = mural.render()
                for index, repeats in m.frames:
                    for _ in range(repeats):
                        writers[index].write(frame)
                        bar.update()
    for out, writer in zip(outs, writers, strict=True):
        result.written.append(Path(out.target))
        width, height = writer.output_size
        result.lines.append(f"wrote {out.target}: {writer.frames_written} frames, "
                            f"{width}x{height} @ {float(writer.fps):g} fps")
        say(result.lines[-1])


def _still_frame(mural, size: tuple[int, int]):
    """The current moment composited at `size` (the simulation keeps its own size)."""
    if tuple(size) == mural.compositor.size:
        return mural.render().copy()
    own = mural.compositor.size
    mural.set_render_size(size)
    try:
        return mural.render().copy()
    finally:
        mural.set_render_size(own)


def _render_exposure_output(plan: Plan, out: Output, force: bool, quiet: bool,
                            result: RunResult, say: Callable[[str], None]) -> None:
    from mural.show.exposure import DEFAULT_POSTER, render_exposure
    from mural.sinks.progress import Progress

    settings = plan.session.mural
    end = out.end if out.end is not None else plan.duration
    with Progress(1000, quiet=quiet, label=Path(out.target).name) as bar:
        def progress(stage: str, fraction: float) -> None:
            bar.update(max(0, int(fraction * 1000) - bar.done))

        done = render_exposure(
            plan.events, out.target, start=out.start, end=end, size=out.size or DEFAULT_POSTER,
            seed=settings.seed, palette=settings.palette, palette_changes=plan.palette_changes(),
            personal=plan.personal, force=force, progress=progress,
            metadata={"mural:session": str(plan.session.path), "mural:source": _source_name(plan)},
        )
    result.written.append(Path(out.target))
    result.lines.append(done.summary())
    say(done.summary())


