"""Biosignals → a mood control signal: band powers, personal baselines, signal quality.

The pure signal processing behind the `brainflow://` source and the Mind Monitor / EmotiBit OSC
maps. Nothing here touches a device or a socket, so every step is tested on synthetic arrays.

What it computes, and how far to trust it: these are *control signals for light*, not
measurements of emotion.

- **Valence** from frontal alpha asymmetry, ln(alpha right) − ln(alpha left) over a homologous
  frontal pair (F4/F3, AF8/AF7 ...). Alpha power is inversely related to cortical activity, so
  relatively more right alpha means relatively more *left* frontal activity, which Davidson's
  approach/withdrawal model links to positive, approach-related affect (Davidson 1992; Coan &
  Allen 2004). The effect is small and varies from person to person.
- **Arousal** from the beta/alpha ratio over the same frontal channels, as in Ramirez &
  Vamvakousis (2012, "Detecting emotion from EEG signals using the Emotive Epoc device"):
  more beta relative to alpha reads as a more aroused, alert state.
- Both are normalised against **that person's own baseline** (`Baseline`): a calibration window
  at the start, then a slow exponential running baseline, so the mural shows how someone moves
  relative to themselves, not a population norm. z-scores map to valence −1..1 (tanh) and
  arousal 0..1 (logistic).
- **Signal quality** (`channel_quality`): flat, railed or wildly noisy channels score low; the
  participant's signal level falls with them, so a failing sensor becomes that person's shadow
  rather than a burst of nonsense colour. While the level is low the last good mood is held and
  the baseline stops learning.
- **Arousal from electrodermal activity** (EmotiBit): ln(skin conductance) against its baseline.
  EDA carries no valence; those readings are neutral in valence.
- **Heart rate** from a PPG window: the dominant spectral peak between 42 and 210 bpm, only when
  it stands out clearly from the rest of that band.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mural.events import EmotionEvent, Event, SignalEvent
from mural.events.model import HEART_RATE_RANGE

FloatArray = NDArray[np.float64]

ALPHA = (8.0, 13.0)
BETA = (13.0, 30.0)
BANDS: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": ALPHA,
    "beta": BETA,
    "gamma": (30.0, 45.0),
}

# Homologous frontal pairs for the asymmetry, best first: (left, right).
FRONTAL_PAIRS: tuple[tuple[str, str], ...] = (
    ("F3", "F4"), ("AF7", "AF8"), ("AF3", "AF4"), ("Fp1", "Fp2"), ("F7", "F8"), ("F5", "F6"),
    ("F1", "F2"),
)

EPS = 1e-12
LN10 = math.log(10.0)

DEFAULT_CALIBRATE = 20.0  # seconds of good signal that make the first baseline
DEFAULT_TAU = 180.0  # seconds: time constant of the running baseline after calibration
DEFAULT_WINDOW = 4.0  # seconds of EEG behind each reading
DEFAULT_HOP = 0.5  # seconds between readings (about 2 Hz)
MIN_WINDOW = 2.0  # seconds: no reading from less (alpha needs a few cycles)
QUALITY_WINDOW = 1.0  # seconds: the newest part of the window that the signal level reads
QUALITY_GATE = 0.5  # below this level the mood is held and the baseline does not learn
# Smallest standard deviations the z-scores divide by (ln units): a baseline that happened to
# be very steady must not turn tiny wobbles into full-scale swings.
ASYMMETRY_FLOOR = 0.1
AROUSAL_FLOOR = 0.1
EDA_FLOOR = 0.05

# Signal-quality thresholds for EEG in microvolts (BrainFlow and Mind Monitor report µV).
FLAT_UV = (0.5, 2.0)  # std below the first is dead flat; full quality from the second
NOISY_UV = (300.0, 1000.0)  # std from the first loses quality, at the second none is left
CLIPPED = (0.02, 0.10)  # fraction of samples pinned at the window's extremes (railed)
EDA_OFF_SKIN_US = 0.05  # skin conductance below this (µS): the electrodes are not on skin


# -- spectra -----------------------------------------------------------------------------------


def band_powers(
    x: ArrayLike, fs: float, bands: Sequence[tuple[float, float]] = (ALPHA, BETA),
    *, segment: float = 2.0,
) -> FloatArray:
    """Absolute power per channel and band (µV²), shape (channels, bands), by Welch's method.

    Per channel on purpose: `DataFilter.get_avg_band_powers` averages across channels, which
    throws away exactly the left/right difference the valence needs. Hann-windowed segments of
    `segment` seconds (or the whole window if shorter) with 50 % overlap, each mean-removed.
    """
    data = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = data.shape[-1]
    if n < 8:
        raise ValueError(f"need at least 8 samples for band powers, got {n}")
    seg = int(min(n, max(8, round(segment * fs))))
    step = max(1, seg // 2)
    segments = np.lib.stride_tricks.sliding_window_view(data, seg, axis=-1)[:, ::step, :]
    segments = segments - segments.mean(axis=-1, keepdims=True)
    window = np.hanning(seg)
    spectrum = np.abs(np.fft.rfft(segments * window, axis=-1)) ** 2
    psd = spectrum.mean(axis=1) * (2.0 / (fs * float(np.sum(window**2))))  # one-sided µV²/Hz
    freqs = np.fft.rfftfreq(seg, 1.0 / fs)
    df = fs / seg
    lo = np.array([b[0] for b in bands])[:, None]
    hi = np.array([b[1] for b in bands])[:, None]
    masks = (freqs[None, :] >= lo) & (freqs[None, :] < hi)  # (bands, freqs)
    return psd @ masks.T.astype(np.float64) * df


def frontal_asymmetry(alpha_left: ArrayLike, alpha_right: ArrayLike) -> FloatArray:
    """ln(alpha right) − ln(alpha left): positive when the right side has more alpha, i.e. the
    left frontal cortex is relatively more active (Davidson's approach side)."""
    left = np.maximum(np.asarray(alpha_left, dtype=np.float64), EPS)
    right = np.maximum(np.asarray(alpha_right, dtype=np.float64), EPS)
    return np.log(right) - np.log(left)


def arousal_index(beta: ArrayLike, alpha: ArrayLike) -> FloatArray:
    """ln(Σ beta / Σ alpha) over the last axis (Ramirez & Vamvakousis 2012), in log units so a
    doubling reads the same from any starting point."""
    b = np.sum(np.asarray(beta, dtype=np.float64), axis=-1)
    a = np.sum(np.asarray(alpha, dtype=np.float64), axis=-1)
    return np.log(np.maximum(b, EPS)) - np.log(np.maximum(a, EPS))


def valence_from_z(z: ArrayLike) -> FloatArray:
    """z-score → valence −1..1; one standard deviation reads as about ±0.46, two as ±0.76."""
    return np.tanh(np.asarray(z, dtype=np.float64) / 2.0)


def arousal_from_z(z: ArrayLike) -> FloatArray:
    """z-score → arousal 0..1, the baseline itself at 0.5 (the same curve as valence, halved)."""
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(z, dtype=np.float64), -50.0, 50.0)))


def intensity_from(valence: float, arousal: float) -> float:
    """How strongly to express a reading: a calm, neutral state still glows (0.4); a clear
    departure from the baseline in either dimension brightens toward 1."""
    departure = max(abs(valence), abs(2.0 * arousal - 1.0))
    return float(min(1.0, 0.4 + 0.6 * departure))


# -- signal quality ----------------------------------------------------------------------------


def _ramp(value: FloatArray, zero_at: float, one_at: float) -> FloatArray:
    """0 at `zero_at`, 1 at `one_at`, linear between (either direction)."""
    return np.clip((value - zero_at) / (one_at - zero_at), 0.0, 1.0)


def channel_quality(x: ArrayLike) -> FloatArray:
    """Per-channel quality 0..1 of an EEG window (channels, samples) in µV.

    Three ways a dry electrode fails: *flat* (lifted off, or a dead channel: a tiny standard
    deviation), *railed* (the amplifier saturated: many samples pinned at the window's minimum
    or maximum), and *wildly noisy* (movement, a loose contact: a standard deviation far beyond
    EEG's tens of microvolts). The worst of the three wins. A linear trend is removed first, so
    a board's DC offset or slow drift is not mistaken for noise.
    """
    data = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = data.shape[-1]
    if n < 2:
        return np.zeros(data.shape[0])
    finite = np.isfinite(data).all(axis=-1)
    data = np.where(np.isfinite(data), data, 0.0)
    t = np.linspace(-1.0, 1.0, n)
    centred = data - data.mean(axis=-1, keepdims=True)
    slope = centred @ t / float(t @ t)
    detrended = centred - slope[:, None] * t[None, :]
    std = detrended.std(axis=-1)
    flat = _ramp(std, *FLAT_UV)
    noisy = 1.0 - _ramp(std, *NOISY_UV)
    lo = data.min(axis=-1, keepdims=True)
    hi = data.max(axis=-1, keepdims=True)
    tol = 1e-6 * np.maximum(hi - lo, 1e-9)
    pinned = ((data <= lo + tol) | (data >= hi - tol)).mean(axis=-1)
    railed = 1.0 - _ramp(pinned, *CLIPPED)
    return np.where(finite, np.minimum(np.minimum(flat, noisy), railed), 0.0)


def participant_level(quality: ArrayLike, used: Sequence[int]) -> float:
    """A participant's signal level from per-channel quality: the worst channel the mood is
    read from sets it, the rest of the montage shades it (a bad ear sensor dims a little, a bad
    frontal sensor — which the valence depends on — drops it)."""
    q = np.asarray(quality, dtype=np.float64)
    if q.size == 0:
        return 0.0
    worst_used = float(q[list(used)].min()) if len(used) else float(q.min())
    return float(np.clip(worst_used * (0.5 + 0.5 * float(q.mean())), 0.0, 1.0))


def horseshoe_level(horseshoe: ArrayLike) -> float:
    """Muse's per-sensor fit (TP9, AF7, AF8, TP10; 1 good, 2 ok, 4 bad) → a level 0..1, the
    frontal sensors counting double because the mood is read from them."""
    h = np.asarray(horseshoe, dtype=np.float64).ravel()
    if h.size == 0 or not np.isfinite(h).all():
        return 0.0
    per = np.clip((3.5 - h) / 2.5, 0.0, 1.0)  # 1 → 1.0, 2 → 0.6, 3 → 0.2, 4 → 0
    weights = np.array([1.0, 2.0, 2.0, 1.0]) if h.size == 4 else np.ones(h.size)
    return float(per @ weights / weights.sum())


def eda_quality(samples: ArrayLike) -> float:
    """Quality 0..1 of a window of skin conductance (µS): near zero means the electrodes are
    off the skin; a dead-flat trace means a stalled sensor."""
    s = np.asarray(samples, dtype=np.float64).ravel()
    if s.size == 0 or not np.isfinite(s).all():
        return 0.0
    level = float(np.median(s))
    on_skin = float(np.clip((level - EDA_OFF_SKIN_US) / EDA_OFF_SKIN_US, 0.0, 1.0))
    if s.size >= 8 and float(s.std()) < 1e-6:
        return min(on_skin, 0.2)
    return on_skin


# -- heart rate ---------------------------------------------------------------------------------


def heart_rate_bpm(ppg: ArrayLike, fs: float, *, concentration: float = 0.55) -> float | None:
    """Heart rate (bpm) from a PPG window (channels, samples) or one trace: the strongest
    spectral peak between 42 and 210 bpm, in whichever channel concentrates its power there
    most. None when no channel puts at least `concentration` of that band's power within
    ±0.15 Hz of its peak (no pulse in the window, motion, the sensor off the skin): better no
    number than a wrong one. Needs at least 6 s of signal."""
    data = np.atleast_2d(np.asarray(ppg, dtype=np.float64))
    n = data.shape[-1]
    if n < 6 * fs or not np.isfinite(data).all():
        return None
    centred = data - data.mean(axis=-1, keepdims=True)
    size = 1 << max(12, int(math.ceil(math.log2(n))))  # zero-pad for a fine frequency grid
    spectrum = np.abs(np.fft.rfft(centred * np.hanning(n), n=size, axis=-1)) ** 2
    freqs = np.fft.rfftfreq(size, 1.0 / fs)
    band = (freqs >= 0.7) & (freqs <= 3.5)
    if not band.any():
        return None
    f = freqs[band]
    sub = spectrum[:, band]
    peak_f = f[np.argmax(sub, axis=-1)]  # (channels,)
    near = np.abs(f[None, :] - peak_f[:, None]) <= 0.15
    share = (sub * near).sum(axis=-1) / (sub.sum(axis=-1) + EPS)
    best = int(np.argmax(share))
    if share[best] < concentration:
        return None
    bpm = float(peak_f[best] * 60.0)
    lo, hi = HEART_RATE_RANGE
    return round(bpm, 1) if lo <= bpm <= hi else None


# -- baselines ----------------------------------------------------------------------------------


class Baseline:
    """One person's baseline for a few features: z-scores against it, learning as it goes.

    For the first `calibrate` seconds of good signal it only collects (mean and variance of the
    calibration window; `update` returns None). Then every update returns z-scores and moves
    the mean and variance toward the new value with time constant `tau` seconds — slow enough
    that a mood shift shows for minutes, fast enough that electrode drift over an hour does not
    pin the mural to one colour. Updates with `learn=False` (a bad signal) neither collect nor
    move the baseline. `floor` bounds each standard deviation from below.
    """

    def __init__(
        self, floor: Sequence[float], *, calibrate: float = DEFAULT_CALIBRATE,
        tau: float = DEFAULT_TAU,
    ) -> None:
        if calibrate < 0 or not math.isfinite(calibrate):
            raise ValueError(f"calibrate must be a finite number >= 0, got {calibrate!r}")
        if tau <= 0 or not math.isfinite(tau):
            raise ValueError(f"tau must be a finite number > 0, got {tau!r}")
        self.floor = np.asarray(floor, dtype=np.float64)
        self.calibrate = float(calibrate)
        self.tau = float(tau)
        self.collected = 0.0  # seconds of good signal seen while calibrating
        self._sum = np.zeros_like(self.floor)
        self._sumsq = np.zeros_like(self.floor)
        self._weight = 0.0
        self.mean: FloatArray | None = None
        self.var: FloatArray | None = None

    @property
    def calibrated(self) -> bool:
        return self.mean is not None

    def update(self, x: ArrayLike, dt: float, *, learn: bool = True) -> FloatArray | None:
        """z-scores of `x` (None while calibrating); `dt` is the time this value stands for."""
        value = np.asarray(x, dtype=np.float64)
        if not np.isfinite(value).all():
            learn = False
        if self.mean is None or self.var is None:
            if not learn:
                return None
            w = max(dt, 1e-9)
            self._sum += w * value
            self._sumsq += w * value * value
            self._weight += w
            self.collected += dt
            if self.collected + 1e-9 < self.calibrate:
                return None
            mean = self._sum / self._weight
            self.mean = mean
            self.var = np.maximum(self._sumsq / self._weight - mean * mean, 0.0)
        z = (value - self.mean) / np.maximum(np.sqrt(self.var), self.floor)
        if learn:
            a = 1.0 - math.exp(-max(dt, 0.0) / self.tau)
            delta = value - self.mean
            self.mean = self.mean + a * delta
            self.var = (1.0 - a) * (self.var + a * delta * delta)
        return np.where(np.isfinite(z), z, 0.0)


# -- readings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One step of a biosensor: its signal level and, once calibrated, a mood."""

    level: float
    valence: float | None = None
    arousal: float | None = None
    intensity: float | None = None
    heart_rate: float | None = None


class MoodFromFeatures:
    """Features (frontal asymmetry, arousal index) → readings, through one person's baseline.

    Shared by the EEG tracker and the Mind Monitor map, which get their band powers differently.
    A reading below `QUALITY_GATE` holds the last good mood (or has none before calibration).
    """

    def __init__(self, *, calibrate: float = DEFAULT_CALIBRATE, tau: float = DEFAULT_TAU) -> None:
        self.baseline = Baseline((ASYMMETRY_FLOOR, AROUSAL_FLOOR), calibrate=calibrate, tau=tau)
        self._last: tuple[float, float] | None = None

    def held(self, level: float) -> Reading:
        """A reading that carries only a level (and the last good mood, if any)."""
        if self._last is None:
            return Reading(level=level)
        v, a = self._last
        return Reading(level=level, valence=v, arousal=a, intensity=intensity_from(v, a))

    def step(
        self, asymmetry: float, arousal: float, level: float, dt: float,
        *, trusted: bool | None = None,
    ) -> Reading:
        """Advance by `dt` seconds. `trusted` says whether the features' whole window had a
        good signal (default: the current level passes the gate)."""
        ok = level >= QUALITY_GATE if trusted is None else trusted
        good = ok and math.isfinite(asymmetry) and math.isfinite(arousal)
        z = self.baseline.update((asymmetry, arousal), dt, learn=good)
        if z is not None and good:
            self._last = (float(valence_from_z(z[0])), float(arousal_from_z(z[1])))
        return self.held(level)


class EegMood:
    """A sliding window over streaming EEG → one Reading per hop of *data*.

    Readings are keyed on sample counts, not on the wall clock: a chunk of ten seconds that
    arrives at once (a playback file, a Bluetooth hiccup) yields the same twenty readings as
    the same samples arriving in real time. `left`/`right` index the frontal pair in the rows
    fed to `feed`.
    """

    def __init__(
        self, fs: float, channels: int, left: int, right: int, *,
        calibrate: float = DEFAULT_CALIBRATE, tau: float = DEFAULT_TAU,
        window: float = DEFAULT_WINDOW, hop: float = DEFAULT_HOP,
    ) -> None:
        if fs <= 0:
            raise ValueError(f"sampling rate must be > 0, got {fs!r}")
        self.fs = float(fs)
        self.channels = channels
        self.left, self.right = left, right
        self.win_n = max(8, round(window * fs))
        self.hop_n = max(1, round(hop * fs))
        self.min_n = min(self.win_n, max(8, round(MIN_WINDOW * fs)))
        self.quality_n = min(self.win_n, max(8, round(QUALITY_WINDOW * fs)))
        self.mood = MoodFromFeatures(calibrate=calibrate, tau=tau)
        self._levels: deque[float] = deque(maxlen=max(1, math.ceil(self.win_n / self.hop_n)))
        self._buf = np.zeros((channels, 0))
        self._start = 0  # absolute sample index of _buf[:, 0]
        self._next = self.hop_n  # absolute sample index at which the next reading is due

    def feed(self, eeg: ArrayLike) -> list[Reading]:
        """Take (channels, samples) of EEG in µV; return the readings that became due."""
        chunk = np.asarray(eeg, dtype=np.float64)
        if chunk.ndim != 2 or chunk.shape[0] != self.channels:
            raise ValueError(f"expected ({self.channels}, samples), got {chunk.shape}")
        self._buf = np.concatenate([self._buf, chunk], axis=1)
        end = self._start + self._buf.shape[1]
        out: list[Reading] = []
        while self._next <= end:
            stop = self._next
            begin = max(self._start, stop - self.win_n)
            if stop - begin >= self.min_n:
                out.append(self.reading(self._buf[:, begin - self._start : stop - self._start]))
            self._next += self.hop_n
        keep = max(self._start, self._next - self.win_n)
        self._buf = self._buf[:, keep - self._start :]
        self._start = keep
        return out

    def reading(self, window: FloatArray) -> Reading:
        """One reading from one window (the baseline advances by one hop). Until a whole
        window has arrived only the level is read: a short window's spectrum would bias the
        start of the calibration. The level comes from the newest second, so a failing sensor
        shows within a second; the mood only moves when the whole window was good."""
        quality = channel_quality(window[:, -self.quality_n :])
        level = participant_level(quality, (self.left, self.right))
        self._levels.append(level)
        if window.shape[-1] < self.win_n:
            return self.mood.held(level)
        trusted = min(self._levels) >= QUALITY_GATE
        powers = band_powers(window[[self.left, self.right]], self.fs, (ALPHA, BETA))
        asym = float(frontal_asymmetry(powers[0, 0], powers[1, 0]))
        arousal = float(arousal_index(powers[:, 1], powers[:, 0]))
        return self.mood.step(asym, arousal, level, self.hop_n / self.fs, trusted=trusted)


class EdaArousal:
    """Skin conductance → arousal against the person's baseline (no valence: neutral 0)."""

    def __init__(self, *, calibrate: float = DEFAULT_CALIBRATE, tau: float = DEFAULT_TAU) -> None:
        self.baseline = Baseline((EDA_FLOOR,), calibrate=calibrate, tau=tau)
        self._last: float | None = None

    def step(self, samples: ArrayLike, dt: float) -> Reading:
        """One hop's EDA samples (µS) → a reading."""
        s = np.asarray(samples, dtype=np.float64).ravel()
        level = eda_quality(s)
        good = level >= QUALITY_GATE
        feature = math.log(max(float(np.median(s)), 1e-6)) if s.size and good else math.nan
        z = self.baseline.update((feature,), dt, learn=good)
        if z is not None and good:
            self._last = float(arousal_from_z(z[0]))
        if self._last is None:
            return Reading(level=level)
        return Reading(level=level, valence=0.0, arousal=self._last,
                       intensity=intensity_from(0.0, self._last))


def pick_frontal_pair(names: Sequence[str]) -> tuple[int, int, str | None]:
    """(left index, right index, note) for a montage: the best homologous frontal pair it has,
    else its first two channels with a note saying the valence will mean little."""
    upper = [n.strip().upper() for n in names]
    for left, right in FRONTAL_PAIRS:
        if left.upper() in upper and right.upper() in upper:
            return upper.index(left.upper()), upper.index(right.upper()), None
    if len(names) < 2:
        raise ValueError("need at least two EEG channels for an asymmetry")
    shown = ", ".join(names[:2]) if names else "channels 0 and 1"
    return 0, 1, (f"no frontal pair (F3/F4, AF7/AF8 ...) in {', '.join(names) or 'the montage'}; "
                  f"using {shown} for the asymmetry, so valence means little")


def reading_events(
    reading: Reading, participant: str, t: float, heart_rate: float | None = None
) -> list[Event]:
    """The events one reading becomes: the participant's signal level, and their mood once
    there is one (rounded to four places: recordings should not carry float noise)."""
    out: list[Event] = [SignalEvent(t=t, level=round(_unit(reading.level), 4),
                                    participant=participant)]
    if reading.valence is not None and reading.arousal is not None:
        hr = reading.heart_rate if reading.heart_rate is not None else heart_rate
        lo, hi = HEART_RATE_RANGE
        out.append(EmotionEvent(
            t=t,
            participant=participant,
            valence=round(float(np.clip(reading.valence, -1.0, 1.0)), 4),
            arousal=round(_unit(reading.arousal), 4),
            intensity=round(_unit(reading.intensity if reading.intensity is not None else 1.0),
                            4),
            heart_rate=hr if hr is not None and lo <= hr <= hi else None,
        ))
    return out


def _unit(value: float) -> float:
    return float(min(1.0, max(0.0, value))) if math.isfinite(value) else 0.0


__all__ = [
    "ALPHA",
    "BANDS",
    "BETA",
    "LN10",
    "Baseline",
    "EdaArousal",
    "EegMood",
    "MoodFromFeatures",
    "Reading",
    "arousal_from_z",
    "arousal_index",
    "band_powers",
    "channel_quality",
    "eda_quality",
    "frontal_asymmetry",
    "heart_rate_bpm",
    "horseshoe_level",
    "intensity_from",
    "participant_level",
    "pick_frontal_pair",
    "reading_events",
    "valence_from_z",
]
