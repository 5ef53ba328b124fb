"""What a session file says, as frozen dataclasses; and the checked plan ready to run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mural.engine.engine import Personal
from mural.events import Event
from mural.events.errors import MuralError
from mural.render.palette import DEFAULT_PALETTE
from mural.session.toml import FileProblem, TomlLines
from mural.sources import is_live

SessionProblem = FileProblem
DEFAULT_SIZE = (1920, 1080)
DEFAULT_FPS = 30.0
MIN_SPEED, MAX_SPEED = 1 / 16, 1024.0
TABLES = ("mural", "source", "participants", "cue", "output")
MURAL_KEYS = ("size", "fps", "seed", "palette")
CUE_KEYS = ("at", "marker", "offset", "palette", "fade", "still", "size", "add_source",
            "remove_source", "speed", "pause")
CUE_ACTIONS = ("palette", "still", "add_source", "remove_source", "speed", "pause")
VIDEO_KEYS = ("video", "start", "end", "fps", "size", "speed", "crf")
STILL_KEYS = ("still", "at", "exposure", "size")


class SessionError(MuralError, ValueError):
    """A session with problems; `problems` lists every one (file, line, message)."""

    def __init__(self, problems: list[FileProblem]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{count}:\n" + "\n".join(f"  {p}" for p in problems))



# -- the model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MuralSettings:
    """[mural]: the defaults every output starts from."""

    size: tuple[int, int] = DEFAULT_SIZE
    fps: float = DEFAULT_FPS
    seed: int = 0
    palette: str = DEFAULT_PALETTE  # a name, or a resolved path to a palette file


@dataclass(frozen=True)
class SourceSpec:
    """[[source]]: one SOURCE, relative paths resolved against the session file."""

    uri: str
    written: str  # as in the file (remove_source refers to this or to `uri`)
    line: int | None = None


@dataclass(frozen=True)
class Cue:
    """[[cue]]: something that happens at a time or at a marker."""

    at: float | None = None
    marker: str | None = None
    offset: float = 0.0
    palette: str | None = None
    fade: float = 0.0
    still: str | None = None
    size: tuple[int, int] | None = None
    add_source: str | None = None
    remove_source: str | None = None
    speed: float | None = None
    pause: float | None = None
    index: int = 0
    line: int | None = None


@dataclass(frozen=True)
class Output:
    """[[output]]: a video (mp4/webm/gif/frames folder) or a still (a moment or an exposure)."""

    kind: str  # "video", "still" or "exposure"
    target: str  # resolved path (a folder keeps its trailing "/")
    start: float = 0.0
    end: float | None = None  # None: the end of the session
    at: float | None = None
    fps: float | None = None
    size: tuple[int, int] | None = None
    speed: float = 1.0
    crf: int = 20
    index: int = 0
    line: int | None = None


@dataclass(frozen=True)
class Session:
    """A parsed session file. Paths are resolved against the file's folder."""

    path: Path
    mural: MuralSettings
    sources: tuple[SourceSpec, ...]
    participants: str | None
    cues: tuple[Cue, ...]
    outputs: tuple[Output, ...]
    lines: TomlLines = field(default_factory=TomlLines, compare=False, repr=False)

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def live(self) -> bool:
        """True when any source (or added source) is live: it is played, not rendered."""
        uris = [s.uri for s in self.sources] + [c.add_source for c in self.cues if c.add_source]
        return any(is_live(u) for u in uris)


@dataclass(frozen=True)
class Overrides:
    """Command-line values that win over the file.

    `size` sets the session's size and every video/still size (not the exposure posters:
    `poster_size` sets those); `fps` every frame rate; `palette` the starting palette
    (palette cues still apply); `until` ends the whole session there (outputs are cut,
    later cues and stills are skipped).
    """

    size: tuple[int, int] | None = None
    seed: int | None = None
    fps: float | None = None
    palette: str | None = None
    poster_size: tuple[int, int] | None = None
    until: float | None = None



@dataclass(frozen=True)
class TimedCue:
    """A cue with its moment resolved."""

    t: float
    cue: Cue


@dataclass
class Plan:
    """A checked session, ready to render: merged events, resolved cues, outputs to write."""

    session: Session
    events: list[Event]
    duration: float
    markers: dict[str, float]
    cues: list[TimedCue]
    outputs: list[Output]
    personal: dict[str, Personal]
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    until: float | None = None

    @property
    def live(self) -> bool:
        return self.session.live

    def palette_changes(self) -> list[tuple[float, str, float]]:
        return [(c.t, c.cue.palette, c.cue.fade) for c in self.cues if c.cue.palette]



@dataclass
class RunResult:
    """What a session run wrote."""

    written: list[Path] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


