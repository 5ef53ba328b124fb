"""Session files: a whole show (sources, personal colours, cues, outputs) in one TOML file.

Parsing gives frozen dataclasses; `check_session` finds every problem (each with its line)
before anything renders; `run_session` renders every output frame-exactly when all sources are
recordings or simulations. See the README's "Sessions" section for every key.

Timeline rules (offline):
* A cue happens at `at`, or at the first marker named `marker` in the session's streams plus
  `offset`. Cues at the same moment apply in file order, before any frame or still at that
  moment is rendered, so a frame at exactly the cue's time already shows it.
* `palette` crossfades over `fade` seconds of mural time (as `Wall.set_palette`).
* `pause` holds the mural still for that many seconds in every video that spans the cue:
  the frame at the cue's moment is repeated, then the video goes on where it stopped.
  Exposures and stills ignore it. `speed` only affects live play.
* `add_source` brings in a recording's events from the cue on (its own timestamps, events
  before the cue are left out); `remove_source` drops a source's events from the cue on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mural.session.check import check_session, load_session
from mural.session.live import play_plan
from mural.session.model import (
    Cue,
    MuralSettings,
    Output,
    Overrides,
    Plan,
    RunResult,
    Session,
    SessionError,
    SessionProblem,
    SourceSpec,
    TimedCue,
)
from mural.session.parse import apply_overrides, parse_session
from mural.session.render import render_plan
from mural.session.toml import FileProblem, TomlLines, toml_error
from mural.session.values import parse_range, parse_size, parse_time


def run_session(
    path: str | Path,
    *,
    overrides: Overrides | None = None,
    force: bool = False,
    quiet: bool = True,
    strict: bool = False,
    echo: Callable[[str], None] | None = None,
) -> RunResult:
    """Check everything, then render every output (a live session plays in a window first).

    Raises SessionError (every problem, nothing written) before any rendering starts.
    """
    plan, problems, warnings = check_session(path, overrides=overrides, force=force, strict=strict)
    if plan is None:
        raise SessionError(problems)
    for line in warnings:
        (echo or (lambda _: None))(f"warning: {line}")
    if plan.live:
        return play_plan(plan, force=force, quiet=quiet, echo=echo)
    return render_plan(plan, force=force, quiet=quiet, echo=echo)




__all__ = [
    "Cue",
    "FileProblem",
    "MuralSettings",
    "Output",
    "Overrides",
    "Plan",
    "RunResult",
    "Session",
    "SessionError",
    "SessionProblem",
    "SourceSpec",
    "TimedCue",
    "TomlLines",
    "apply_overrides",
    "check_session",
    "load_session",
    "parse_range",
    "parse_session",
    "parse_size",
    "parse_time",
    "play_plan",
    "render_plan",
    "run_session",
    "toml_error",
]
