"""Biosignals: band powers, baselines, quality and the EEG/EDA trackers on synthetic arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mural.events import EmotionEvent, SignalEvent
from mural.sources.biosignals import (
    ALPHA,
    BETA,
    DEFAULT_HOP,
    MIN_WINDOW,
    Baseline,
    EdaArousal,
    EegMood,
    Reading,
    arousal_from_z,
    arousal_index,
    band_powers,
    channel_quality,
    eda_quality,
    frontal_asymmetry,
    heart_rate_bpm,
    horseshoe_level,
    intensity_from,
    participant_level,
    pick_frontal_pair,
    reading_events,
    valence_from_z,
)

FS = 250


def tone(seconds: float, freq: float, amp: float, fs: float = FS, phase: float = 0.0,
         start: float = 0.0) -> np.ndarray:
    t = start + np.arange(round(seconds * fs)) / fs
    return amp * np.sin(2 * np.pi * freq * t + phase)


def eeg_session(
    segments: list[tuple[float, dict[str, float]]], *, channels: int = 4, left: int = 1,
    right: int = 2, fs: float = FS, seed: int = 0,
) -> np.ndarray:
    """EEG (channels, samples) in µV, segment by segment: every channel has 10 Hz alpha and
    20 Hz beta plus noise; a segment sets the frontal pair's `left`/`right` alpha amplitude,
    both's `beta`, and `flat=1` pins the left channel to a constant (a lifted electrode)."""
    rng = np.random.default_rng(seed)
    out = []
    start = 0.0
    for seconds, p in segments:
        n = round(seconds * fs)
        t = start + np.arange(n) / fs
        block = np.empty((channels, n))
        for ch in range(channels):
            alpha, beta = 10.0, 5.0
            if ch == left:
                alpha, beta = p.get("left", 20.0), p.get("beta", 8.0)
            elif ch == right:
                alpha, beta = p.get("right", 20.0), p.get("beta", 8.0)
            block[ch] = (alpha * np.sin(2 * np.pi * 10 * t + ch) +
                         beta * np.sin(2 * np.pi * 20 * t + 2 * ch) +
                         3.0 * rng.standard_normal(n))
        if p.get("flat"):
            block[left] = -4.0
        out.append(block)
        start += seconds
    return np.concatenate(out, axis=1)


def reading_times(count: int) -> np.ndarray:
    """When each reading's window ends (the first needs MIN_WINDOW of data)."""
    return MIN_WINDOW + DEFAULT_HOP * np.arange(count)


def during(readings: list[Reading], lo: float, hi: float) -> list[Reading]:
    """Readings whose whole 4 s window lies in [lo, hi]."""
    ends = reading_times(len(readings))
    return [r for r, end in zip(readings, ends, strict=True) if lo + 4.0 <= end <= hi]


# -- spectra -----------------------------------------------------------------------------------


def test_band_powers_measure_a_sine_in_its_band() -> None:
    x = np.stack([tone(4, 10, 20), tone(4, 20, 10), tone(4, 10, 0.0)])
    p = band_powers(x, FS, (ALPHA, BETA))
    assert p.shape == (3, 2)
    assert p[0, 0] == pytest.approx(20**2 / 2, rel=0.05)  # a sine's power is A²/2
    assert p[1, 1] == pytest.approx(10**2 / 2, rel=0.05)
    assert p[0, 1] < 1e-3 * p[0, 0] and p[1, 0] < 1e-3 * p[1, 1]
    # vectorised over channels: the same as one channel at a time
    assert np.allclose(p[1], band_powers(x[1], FS)[0])


def test_band_powers_need_a_few_samples() -> None:
    with pytest.raises(ValueError, match="at least 8 samples"):
        band_powers(np.zeros((2, 3)), FS)


def test_asymmetry_and_arousal_index() -> None:
    assert frontal_asymmetry(1.0, 4.0) == pytest.approx(math.log(4))
    assert frontal_asymmetry(4.0, 1.0) == pytest.approx(-math.log(4))
    assert math.isfinite(float(frontal_asymmetry(0.0, 1.0)))  # a dead channel is not a crash
    assert arousal_index([2.0, 2.0], [1.0, 1.0]) == pytest.approx(math.log(2))
    assert arousal_index([1.0, 1.0], [1.0, 1.0]) == pytest.approx(0.0)


def test_z_to_valence_and_arousal() -> None:
    z = np.array([-50.0, -2.0, 0.0, 2.0, 50.0])
    v, a = valence_from_z(z), arousal_from_z(z)
    assert v[2] == 0.0 and a[2] == 0.5
    assert np.all(np.diff(v) > 0) and np.all(np.diff(a) > 0)
    assert v.min() >= -1.0 and v.max() <= 1.0 and a.min() >= 0.0 and a.max() <= 1.0
    assert valence_from_z(2.0) == pytest.approx(0.76, abs=0.01)
    assert intensity_from(0.0, 0.5) == pytest.approx(0.4)
    assert intensity_from(-1.0, 0.5) == 1.0 and intensity_from(0.0, 1.0) == 1.0


# -- baselines ----------------------------------------------------------------------------------


def test_baseline_calibrates_then_scores_against_the_person() -> None:
    b = Baseline((0.01,), calibrate=2.0, tau=100.0)
    values = [1.0, 3.0, 1.0, 3.0]  # mean 2, std 1 over 2 s of 0.5 s steps
    assert [b.update((v,), 0.5) for v in values[:3]] == [None, None, None]
    assert not b.calibrated
    assert b.update((values[3],), 0.5) is not None and b.calibrated
    assert b.mean[0] == pytest.approx(2.0, abs=0.05)
    z = b.update((4.0,), 0.5)
    assert z[0] == pytest.approx(2.0, rel=0.05)


def test_baseline_floor_bad_signal_and_slow_drift() -> None:
    b = Baseline((0.5,), calibrate=1.0, tau=60.0)
    b.update((1.0,), 1.0)  # a dead-steady calibration: std 0, the floor applies
    assert b.update((2.0,), 0.5, learn=False)[0] == pytest.approx(2.0)  # (2 - 1) / 0.5
    assert b.mean[0] == 1.0  # a bad signal teaches nothing
    assert b.update((math.nan,), 0.5)[0] == 0.0  # NaN never reaches the mural
    # a sustained shift is news for minutes, then becomes the new normal
    first = b.update((2.0,), 0.5)[0]
    for _ in range(int(3 * 60 / 0.5)):
        last = b.update((2.0,), 0.5)[0]
    assert first > 1.5 and abs(last) < 0.35 * first


def test_baseline_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        Baseline((0.1,), calibrate=-1)
    with pytest.raises(ValueError):
        Baseline((0.1,), tau=0)


def test_no_calibration_window_scores_from_the_first_value() -> None:
    b = Baseline((0.1,), calibrate=0.0)
    assert b.update((3.0,), 0.5)[0] == 0.0


# -- quality ------------------------------------------------------------------------------------


def test_channel_quality_flags_flat_railed_noisy_and_nan() -> None:
    good = tone(2, 10, 20) + 5 * np.random.default_rng(1).standard_normal(2 * FS)
    drifting = good + 40_000 + np.linspace(0, 3_000, good.size)  # a raw board's DC and drift
    flat = np.full(good.size, 12.0) + 0.01 * np.random.default_rng(2).standard_normal(good.size)
    railed = np.clip(tone(2, 10, 400), -187.5, 187.5)  # saturated amplifier
    noisy = 2_000 * np.random.default_rng(3).standard_normal(good.size)
    nan = good.copy()
    nan[5] = math.nan
    q = channel_quality(np.stack([good, drifting, flat, railed, noisy, nan]))
    assert q[0] == 1.0 and q[1] == 1.0
    assert q[2] == 0.0 and q[3] == 0.0 and q[4] == 0.0 and q[5] == 0.0


def test_participant_level_hangs_on_the_frontal_pair() -> None:
    assert participant_level([1, 1, 1, 1], (1, 2)) == 1.0
    assert participant_level([1, 0, 1, 1], (1, 2)) == 0.0  # the valence needs AF7
    assert 0.5 < participant_level([0, 1, 1, 1], (1, 2)) < 1.0  # an ear sensor only dims
    assert participant_level([], ()) == 0.0


def test_horseshoe_level() -> None:
    assert horseshoe_level([4, 4, 4, 4]) < 0.3
    assert horseshoe_level([1, 1, 1, 1]) > 0.8
    assert 0.4 < horseshoe_level([2, 2, 2, 2]) < 0.8
    assert horseshoe_level([1, 4, 4, 1]) < horseshoe_level([4, 1, 1, 4])  # frontal counts double
    assert horseshoe_level([1, math.nan, 1, 1]) == 0.0


def test_eda_quality() -> None:
    rng = np.random.default_rng(4)
    assert eda_quality(2.0 + 0.01 * rng.standard_normal(30)) == 1.0
    assert eda_quality(0.01 + 0.001 * rng.standard_normal(30)) < 0.3  # off the skin
    assert eda_quality(np.full(30, 2.0)) <= 0.2  # stalled
    assert eda_quality([]) == 0.0


def test_heart_rate_from_ppg() -> None:
    rng = np.random.default_rng(5)
    fs = 64
    t = np.arange(10 * fs) / fs
    pulse = 10 * np.sin(2 * np.pi * 1.2 * t) + 4 * np.sin(2 * np.pi * 2.4 * t)
    assert heart_rate_bpm(pulse + 8 * rng.standard_normal(t.size), fs) == pytest.approx(72, abs=2)
    ambient = rng.standard_normal(t.size)  # a dark, unlit channel next to the pulse
    assert heart_rate_bpm(np.stack([ambient, pulse]), fs) == pytest.approx(72, abs=2)
    misses = sum(heart_rate_bpm(rng.standard_normal((3, t.size)), fs) is not None
                 for _ in range(50))
    assert misses <= 2  # noise is (almost) never a heart rate
    assert heart_rate_bpm(pulse[: 3 * fs], fs) is None  # too short to tell


# -- trackers -----------------------------------------------------------------------------------


def test_eeg_mood_moves_with_alpha_asymmetry_and_beta() -> None:
    x = eeg_session([(12, {}), (8, {"right": 40}), (8, {}), (8, {"left": 40}), (8, {"beta": 24})])
    mood = EegMood(FS, 4, 1, 2, calibrate=6)
    readings = mood.feed(x)
    assert len(readings) == len(reading_times(len(readings)))
    rest = [r.valence for r in during(readings, 20, 28)]
    right = [r.valence for r in during(readings, 12, 20)]
    left = [r.valence for r in during(readings, 28, 36)]
    aroused = [r.arousal for r in during(readings, 36, 44)]
    assert right and min(right) > 0.5  # right alpha up: left frontal more active: positive
    assert left and max(left) < -0.5
    assert rest and max(abs(v) for v in rest) < 0.3
    assert aroused and min(aroused) > 0.8
    assert all(r.intensity is not None and 0.4 <= r.intensity <= 1.0 for r in readings
               if r.valence is not None)


def test_eeg_mood_is_the_same_however_the_samples_arrive() -> None:
    x = eeg_session([(10, {}), (6, {"right": 35})], seed=2)
    whole = EegMood(FS, 4, 1, 2, calibrate=4).feed(x)
    chunked = EegMood(FS, 4, 1, 2, calibrate=4)
    rng = np.random.default_rng(7)
    pieces, at = [], 0
    while at < x.shape[1]:
        step = int(rng.integers(1, 400))
        pieces.extend(chunked.feed(x[:, at : at + step]))
        at += step
    assert pieces == whole


def test_eeg_mood_baseline_is_personal() -> None:
    # This person's right alpha is naturally higher: that is their neutral, not joy.
    x = eeg_session([(12, {"right": 30}), (8, {"right": 30}), (8, {"right": 60})])
    readings = EegMood(FS, 4, 1, 2, calibrate=8).feed(x)
    assert max(abs(r.valence) for r in during(readings, 12, 20)) < 0.3
    assert min(r.valence for r in during(readings, 20, 28)) > 0.5


def test_a_flat_channel_drops_the_level_and_holds_the_mood() -> None:
    x = eeg_session([(10, {}), (6, {"flat": 1}), (8, {})])
    readings = EegMood(FS, 4, 1, 2, calibrate=4).feed(x)
    ends = reading_times(len(readings))
    flat = [r for r, e in zip(readings, ends, strict=True) if 11.0 <= e <= 16.0]
    back = [r for r, e in zip(readings, ends, strict=True) if e >= 17.0]
    assert flat and max(r.level for r in flat) < 0.3  # within a second of lifting off
    assert back and min(r.level for r in back) > 0.8  # and back within a second of contact
    before = [r for r, e in zip(readings, ends, strict=True) if e < 11.0][-1]  # last good one
    assert before.level > 0.8
    assert {(r.valence, r.arousal) for r in flat} == {(before.valence, before.arousal)}


def test_eeg_mood_checks_its_input() -> None:
    mood = EegMood(FS, 4, 1, 2)
    with pytest.raises(ValueError):
        mood.feed(np.zeros((3, 10)))
    with pytest.raises(ValueError):
        EegMood(0, 4, 1, 2)


def test_eda_arousal_rises_with_skin_conductance() -> None:
    eda = EdaArousal(calibrate=5.0)
    rng = np.random.default_rng(8)
    out = [eda.step(2.0 + 0.02 * rng.standard_normal(30), 0.5) for _ in range(10)]
    assert out[0].valence is None and out[-1].arousal is not None
    up = [eda.step(3.0 + 0.02 * rng.standard_normal(30), 0.5) for _ in range(4)]
    assert up[-1].arousal > 0.8 and up[-1].valence == 0.0
    off = eda.step(np.full(30, 0.001), 0.5)
    assert off.level < 0.3 and off.arousal == up[-1].arousal  # held, not believed


def test_pick_frontal_pair() -> None:
    assert pick_frontal_pair(["TP9", "AF7", "AF8", "TP10"]) == (1, 2, None)
    names = ["Fz", "C3", "Cz", "C4", "Pz", "PO7", "Oz", "PO8",
             "F5", "F7", "F3", "F1", "F2", "F4", "F6", "F8"]  # BrainFlow's synthetic board
    assert pick_frontal_pair(names)[:2] == (10, 13)  # F3/F4 before the other pairs
    left, right, note = pick_frontal_pair(["ch1", "ch2", "ch3"])
    assert (left, right) == (0, 1) and note and "valence means little" in note
    with pytest.raises(ValueError):
        pick_frontal_pair(["Cz"])


def test_reading_events() -> None:
    assert reading_events(Reading(level=0.5), "ana", 3.0) == [
        SignalEvent(t=3.0, level=0.5, participant="ana")]
    events = reading_events(Reading(level=1.2, valence=0.123456, arousal=0.9, intensity=0.7),
                            "ana", 3.0, heart_rate=300.0)
    assert events[0] == SignalEvent(t=3.0, level=1.0, participant="ana")
    emotion = events[1]
    assert isinstance(emotion, EmotionEvent)
    assert (emotion.valence, emotion.arousal, emotion.intensity) == (0.1235, 0.9, 0.7)
    assert emotion.heart_rate is None  # 300 bpm is not a heart rate
    assert reading_events(Reading(1.0, 0.0, 0.5, 0.4), "b", 0.0, 61.0)[1].heart_rate == 61.0
