"""Offline WCAG 2.3.1 flash analysis of frame sequences, videos, GIFs and PNG folders."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mural.events.errors import MuralError
from mural.safety.luminance import block_counts, block_sum, clamp_grid, luminance_and_red

FLASH_LIMIT = 3.0
"""WCAG 2.3.1: more than three flashes in any one second fails."""

FLASH_TARGET = 2.0
"""What the mural aims for, to keep a margin below the limit."""

GENERAL_SWING = 0.1
DARK_LIMIT = 0.8
RED_SWING = 20.0 / 320.0
_EPS = 1e-6
ANALYSIS_GRID = (36, 60)
"""Frames are block-averaged (in linear light) to this grid first; regions are unions of blocks."""

METHOD_LIMITS = (
    "Area: the WCAG area rule (flashing area >= 25% of any 10-degree field) is approximated by "
    "the mean over windows a third of the frame wide and high (the 341x256-of-1024x768 "
    "reference) at 1/6 steps plus the whole frame; a full-contrast flash counts once it covers "
    "about 10% of a window (stricter than 25%), a borderline-contrast flash over part of a "
    "window can be diluted below the 0.1 threshold, and patterns balanced inside every window "
    "(e.g. coarse anti-phase stripes) cancel out in the mean.",
    "Viewing geometry: the 10-degree visual field assumes the frame is seen whole at a typical "
    "distance; standing close to a large mural makes smaller areas matter. Analyse at the "
    "largest display size and judge the viewing distance on site.",
    "Sampling: only the frames given are seen (flashes between frames or faster than half the "
    "frame rate are missed); a second is the last ceil(fps) frames; a flash is two opposing "
    "transitions between luminance extrema found with 0.1 hysteresis, counted when the "
    "transition ends, and half flashes are reported.",
    "Red: saturated red uses Harding's max(R-G-B, 0) in linear RGB with the R/(R+G+B) >= 0.8 "
    "gate ramped in from 0.65 (conservative for orange-reds); the WCAG 2.2 CIE u'v' "
    "chromaticity variant is not computed.",
    "Colour: input is taken as sRGB on an SDR display; HDR, display gamma and brightness, "
    "and compression artefacts of the file are not modelled.",
)


class FlashInputError(MuralError, ValueError):
    """Frames that cannot be analysed (none, or of different sizes), or unreadable input."""


@dataclass(frozen=True)
class Region:
    """A rectangle as fractions (0..1) of the frame height (top/bottom) and width (left/right)."""

    name: str
    top: float
    left: float
    bottom: float
    right: float


def standard_regions(size: float = 1 / 3, steps: int = 6) -> tuple[Region, ...]:
    """Windows `size` of the frame on a side at 1/steps offsets, plus the whole frame."""
    span = round(size * steps)
    out = [Region("full frame", 0.0, 0.0, 1.0, 1.0)]
    for i in range(steps - span + 1):
        for j in range(steps - span + 1):
            name = f"y {i}/{steps}-{i + span}/{steps} x {j}/{steps}-{j + span}/{steps}"
            out.append(Region(name, i / steps, j / steps, (i + span) / steps, (j + span) / steps))
    return tuple(out)


@dataclass
class SecondRow:
    """Worst sliding one-second windows ending within this second."""

    second: int
    general: float
    red: float
    region: str


@dataclass
class FlashReport:
    """Result of an analysis; `passed` is the WCAG 2.3.1 verdict under the method's limits."""

    fps: float
    frames: int
    seconds: list[SecondRow]
    max_general: float
    max_red: float
    worst_region: str
    worst_second: int
    regions: int
    source: str | None = None
    loops: int = 1
    limit: float = FLASH_LIMIT
    target: float = FLASH_TARGET
    notes: tuple[str, ...] = field(default=METHOD_LIMITS)

    @property
    def passed(self) -> bool:
        return self.max_general <= self.limit and self.max_red <= self.limit

    @property
    def within_target(self) -> bool:
        return self.max_general <= self.target and self.max_red <= self.target

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "passed": self.passed,
            "within_target": self.within_target,
            "limit": self.limit,
            "target": self.target,
            "fps": self.fps,
            "frames": self.frames,
            "duration_s": round(self.duration_s, 3),
            "loops": self.loops,
            "regions": self.regions,
            "max_general": self.max_general,
            "max_red": self.max_red,
            "worst_region": self.worst_region,
            "worst_second": self.worst_second,
            "seconds": [
                {"second": r.second, "general": r.general, "red": r.red, "region": r.region}
                for r in self.seconds
            ],
            "method_limits": list(self.notes),
        }

    def format(self) -> str:
        """Per-second table, verdict, and the limits of the method, as plain text."""
        loop = f", looped x{self.loops}" if self.loops > 1 else ""
        lines = [
            f"Flash check{': ' + self.source if self.source else ''} "
            f"({self.frames} frames, {self.duration_s:.2f} s at {self.fps:g} fps{loop}, "
            f"{self.regions} regions)",
            "Flashes in the worst sliding 1-second window ending in each second "
            f"(limit {self.limit:g}, target {self.target:g}):",
            f"{'second':>6}  {'general':>7}  {'red':>5}  worst region",
        ]
        for r in self.seconds:
            flag = "  !" if max(r.general, r.red) > self.limit else ""
            region = r.region if max(r.general, r.red) > 0 else "-"
            lines.append(f"{r.second:>6}  {r.general:>7.1f}  {r.red:>5.1f}  {region}{flag}")
        lines.append(
            f"Max {self.max_general:g} general and {self.max_red:g} red flashes/s "
            f"(second {self.worst_second}, {self.worst_region})."
        )
        lines.append("Limits of this check:")
        lines.extend(
            textwrap.fill(note, 100, initial_indent="  - ", subsequent_indent="    ")
            for note in self.notes
        )
        if self.passed:
            margin = "" if self.within_target else f" (above the target of {self.target:g})"
            lines.append(f"PASS{margin}")
        else:
            lines.append(f"FAIL: more than {self.limit:g} flashes in a second")
        return "\n".join(lines)


# -- series ------------------------------------------------------------------------------------


def _region_cells(regions: Sequence[Region], grid: tuple[int, int]) -> np.ndarray:
    """(R, 4) [y0, x0, y1, x1] block indices of each region, snapped to the grid."""
    gy, gx = grid
    cells = []
    for r in regions:
        if not (0 <= r.top < r.bottom <= 1 and 0 <= r.left < r.right <= 1):
            raise ValueError(f"region {r.name!r} is empty or outside the frame")
        y0, x0 = min(round(r.top * gy), gy - 1), min(round(r.left * gx), gx - 1)
        y1, x1 = max(round(r.bottom * gy), y0 + 1), max(round(r.right * gx), x0 + 1)
        cells.append((y0, x0, y1, x1))
    return np.array(cells, dtype=np.int64)


class _SeriesBuilder:
    """Reduces frames one at a time to region-mean luminance and red (memory: frames x regions)."""

    def __init__(self, regions: Sequence[Region]) -> None:
        self.regions = tuple(regions)
        self.shape: tuple[int, int] | None = None
        self.rows: list[np.ndarray] = []

    def _setup(self, shape: tuple[int, int]) -> None:
        self.shape = shape
        self.grid = clamp_grid(shape, ANALYSIS_GRID)
        self.cells = _region_cells(self.regions, self.grid)
        counts = np.zeros((self.grid[0] + 1, self.grid[1] + 1))
        counts[1:, 1:] = block_counts(shape, self.grid).cumsum(0).cumsum(1)
        self.pixels = self._box(counts)

    def _box(self, table: np.ndarray) -> np.ndarray:
        y0, x0, y1, x1 = self.cells.T
        return table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]

    def add(self, frame: np.ndarray) -> None:
        if self.shape is None:
            self._setup(frame.shape[:2])
        elif frame.shape[:2] != self.shape:
            raise FlashInputError(
                f"frame {len(self.rows)} is {frame.shape[1]}x{frame.shape[0]}, the first was "
                f"{self.shape[1]}x{self.shape[0]}"
            )
        sums = np.stack([block_sum(m, self.grid) for m in luminance_and_red(frame)], axis=-1)
        table = np.zeros((self.grid[0] + 1, self.grid[1] + 1, 2))
        table[1:, 1:] = sums.cumsum(0).cumsum(1)
        self.rows.append((self._box(table) / self.pixels[:, None]).astype(np.float32))

    def series(self) -> np.ndarray:
        """(T, R, 2) region means: [..., 0] luminance, [..., 1] red."""
        if not self.rows:
            raise FlashInputError("no frames to analyse")
        return np.stack(self.rows)


def find_transitions(
    series: np.ndarray, threshold: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Transitions between successive extrema of each column of a (T, S) series.

    An extremum is confirmed once the series has come back from it by `threshold` (hysteresis),
    so slow ramps are one transition and noise below the threshold is ignored; the last,
    unconfirmed leg counts too when it is large enough. Returns flat arrays
    (column, end_frame, low, high) - the frame is where the transition's extremum is reached.
    """
    x = np.asarray(series, np.float64)
    T, S = x.shape
    thr = np.broadcast_to(np.asarray(threshold, np.float64), (S,)) - _EPS
    anchor = x[0].copy()
    ext, ext_t = x[0].copy(), np.zeros(S, np.int64)
    lo, lo_t = x[0].copy(), np.zeros(S, np.int64)
    hi, hi_t = x[0].copy(), np.zeros(S, np.int64)
    direction = np.zeros(S, np.int8)
    cols: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    peaks: list[np.ndarray] = []

    def emit(mask: np.ndarray) -> None:
        idx = np.flatnonzero(mask)
        cols.append(idx)
        ends.append(ext_t[idx].copy())
        starts.append(anchor[idx].copy())
        peaks.append(ext[idx].copy())

    for t in range(1, T):
        v = x[t]
        if (direction == 0).any():
            und = direction == 0
            new_lo, new_hi = und & (v < lo), und & (v > hi)
            lo[new_lo], lo_t[new_lo] = v[new_lo], t
            hi[new_hi], hi_t[new_hi] = v[new_hi], t
            up, down = und & (v - lo >= thr), und & (hi - v >= thr)
            anchor[up], anchor[down] = lo[up], hi[down]
            ext[up | down], ext_t[up | down] = v[up | down], t
            direction[up], direction[down] = 1, -1
        rising, falling = direction == 1, direction == -1
        higher, lower = rising & (v > ext), falling & (v < ext)
        ext[higher | lower], ext_t[higher | lower] = v[higher | lower], t
        turn = (rising & (ext - v >= thr)) | (falling & (v - ext >= thr))
        if turn.any():
            emit(turn)
            anchor[turn] = ext[turn]
            ext[turn], ext_t[turn] = v[turn], t
            direction[turn] = -direction[turn]
    emit(direction != 0)  # the leg in progress at the end

    col, end = np.concatenate(cols), np.concatenate(ends)
    a, b = np.concatenate(starts), np.concatenate(peaks)
    return col, end, np.minimum(a, b), np.maximum(a, b)


def flash_counts(
    series: np.ndarray, fps: float, *, threshold: float, dark_limit: float | None
) -> np.ndarray:
    """(T, S) flashes in the sliding window of ceil(fps) frames ending at each frame.

    A transition qualifies when its darker end is below dark_limit (if given); transitions
    alternate in direction, so flashes = qualifying transitions / 2.
    """
    T, S = series.shape
    col, end, low, _high = find_transitions(series, threshold)
    keep = np.ones(col.shape, bool) if dark_limit is None else low < dark_limit
    per_frame = np.zeros((T + 1, S), np.int64)
    np.add.at(per_frame, (end[keep] + 1, col[keep]), 1)
    cum = per_frame.cumsum(axis=0)
    window = max(1, math.ceil(fps - _EPS))
    t = np.arange(1, T + 1)
    return (cum[t] - cum[np.maximum(t - window, 0)]) / 2.0


def _report(
    series: np.ndarray,
    fps: float,
    regions: Sequence[Region],
    *,
    source: str | None,
    loops: int,
) -> FlashReport:
    if loops > 1:
        series = np.concatenate([series] * loops, axis=0)
    T = series.shape[0]
    general = flash_counts(series[..., 0], fps, threshold=GENERAL_SWING, dark_limit=DARK_LIMIT)
    red = flash_counts(series[..., 1], fps, threshold=RED_SWING, dark_limit=None)
    worst = np.maximum(general, red)  # (T, R)
    # Counts step by 0.5; among equal counts, name the region that swings most (the patch
    # rather than the whole frame around it).
    swing = (series.max(axis=0) - series.min(axis=0)).max(axis=-1)  # (R,)
    score = worst + 0.1 * np.clip(swing, 0, 1)[None, :]
    second_of = np.floor(np.arange(T) / fps + _EPS).astype(np.int64)
    starts = np.flatnonzero(np.diff(second_of, prepend=-1))
    rows = []
    for k, s0 in enumerate(starts):
        s1 = starts[k + 1] if k + 1 < len(starts) else T
        block = score[s0:s1]
        _, r = np.unravel_index(int(np.argmax(block)), block.shape)
        rows.append(SecondRow(
            second=int(second_of[s0]),
            general=float(general[s0:s1].max()),
            red=float(red[s0:s1].max()),
            region=regions[r].name,
        ))
    t, r = np.unravel_index(int(np.argmax(score)), score.shape)
    return FlashReport(
        fps=float(fps),
        frames=T,
        seconds=rows,
        max_general=float(general.max()),
        max_red=float(red.max()),
        worst_region=regions[r].name,
        worst_second=int(second_of[t]),
        regions=len(regions),
        source=source,
        loops=loops,
    )


def analyse_frames(
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    regions: Sequence[Region] | None = None,
    loop: bool = False,
    source: str | None = None,
) -> FlashReport:
    """Count general and red flashes per sliding second in every region of an sRGB frame stream.

    Method (and its limits, also listed in the report): each frame is linearised and
    block-averaged to a coarse grid; each region's mean relative luminance and mean saturated-red
    measure become time series; a transition is the change between successive extrema (found
    with hysteresis at the WCAG threshold, so slow ramps are one transition), a general one
    counting when it is >= 0.1 and its darker end is below 0.8, a red one when it is > 20/320;
    a flash is a pair of opposing transitions. Region means only approximate the WCAG area rule,
    the 10-degree field / viewing distance is not modelled, only the given frames are sampled,
    and the red metric is Harding's approximation. `loop`: the clip plays in a loop (GIFs),
    so it is analysed repeated, with every seam seen with a full second on both sides.
    """
    if not (fps and fps > 0 and math.isfinite(fps)):
        raise ValueError(f"fps must be a positive number, got {fps}")
    regions = tuple(regions) if regions is not None else standard_regions()
    if not regions:
        raise ValueError("no regions to analyse")
    builder = _SeriesBuilder(regions)
    for frame in frames:
        builder.add(frame)
    series = builder.series()
    loops = max(2, math.ceil(2 * fps / len(series)) + 1) if loop else 1
    return _report(series, fps, regions, source=source, loops=loops)
