"""Measures of the look, shared by the look tests and the contact sheets in docs/.

Each takes HxWx3 uint8 sRGB frames. See the README's "The look" for what they mean.
"""

from __future__ import annotations

import numpy as np

from mural.events import Event, SignalEvent, event_from_dict

LUMA = np.array([0.2126, 0.7152, 0.0722])


def linear(frame: np.ndarray) -> np.ndarray:
    v = frame.astype(np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def luminance(frame: np.ndarray) -> np.ndarray:
    return linear(frame) @ LUMA


def area_mean(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Block means onto `shape` (rows, cols); the frame is cropped to a multiple."""
    rows, cols = shape
    h, w = values.shape[:2]
    by, bx = h // rows, w // cols
    v = values[: rows * by, : cols * bx]
    return v.reshape(rows, by, cols, bx, *v.shape[2:]).mean(axis=(1, 3))


def luminance_ratio(dark: np.ndarray, lit: np.ndarray) -> float:
    """Mean relative luminance of `dark` over that of `lit`."""
    return float(luminance(dark).mean() / max(1e-9, luminance(lit).mean()))


def form_correlation(a: np.ndarray, b: np.ndarray, shape: tuple[int, int] = (72, 128)) -> float:
    """Pearson correlation of 128x72 lightness maps (cube-root luminance): same forms?"""
    x = np.cbrt(area_mean(luminance(a), shape)).ravel()
    y = np.cbrt(area_mean(luminance(b), shape)).ravel()
    x, y = x - x.mean(), y - y.mean()
    return float((x @ y) / np.sqrt((x @ x) * (y @ y) + 1e-18))


def oklab(frame: np.ndarray) -> np.ndarray:
    """HxWx3 OKLab (L, a, b) of an sRGB frame (Ottosson 2020)."""
    lin = linear(frame)
    m1 = np.array([[0.4122214708, 0.5363325363, 0.0514459929],
                   [0.2119034982, 0.6806995451, 0.1073969566],
                   [0.0883024619, 0.2817188376, 0.6299787005]])
    m2 = np.array([[0.2104542553, 0.7936177850, -0.0040720468],
                   [1.9779984951, -2.4285922050, 0.4505937099],
                   [0.0259040371, 0.7827717662, -0.8086757660]])
    return np.cbrt(lin @ m1.T) @ m2.T


def chroma_per_lightness(frame: np.ndarray) -> float:
    """Mean OKLab chroma over mean OKLab lightness: how saturated the light is for how bright
    it is (a muted memory has less chroma per lightness than the lit mural)."""
    lab = oklab(frame)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    return float(chroma.mean() / max(1e-9, lab[..., 0].mean()))


def high_frequency_share(frame: np.ndarray, cutoff: float = 1 / 8) -> float:
    """Share of the luminance spectrum's energy above `cutoff` of Nyquist (mean removed)."""
    lum = luminance(frame)
    lum = lum - lum.mean()
    power = np.abs(np.fft.rfft2(lum)) ** 2
    fy = np.abs(np.fft.fftfreq(lum.shape[0]))[:, None] * 2  # 1 = Nyquist
    fx = np.fft.rfftfreq(lum.shape[1])[None, :] * 2
    high = np.maximum(fy, fx) > cutoff
    return float(power[high].sum() / max(1e-18, power.sum()))


def upscale(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear upscale (Pillow) to (width, height)."""
    from PIL import Image

    return np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR))


def mean_hue(frame: np.ndarray) -> float:
    """Circular mean OKLab hue angle (radians) weighted by chroma."""
    lab = oklab(frame)
    return float(np.angle((lab[..., 1] + 1j * lab[..., 2]).sum()))


def crowd_night(*, people: int = 8, lit: tuple[float, float] = (0.0, 40.0),
                dark: float = 45.0, silent: bool = False, before: tuple[str, ...] = (
                    "calm", "trust", "love", "awe"), after: tuple[str, ...] = ("joy", "hope"),
                back_for: float = 20.0, every: float = 0.5) -> list[Event]:
    """A crowd lit for `lit`, then `dark` seconds of a network blackout (or, `silent`, of
    nobody sending anything), then back with other emotions for `back_for` seconds."""
    events: list[Event] = []
    start, end = lit
    homes = [((i * 0.37 + 0.12) % 0.9 + 0.05, (i * 0.61 + 0.2) % 0.8 + 0.1) for i in range(people)]

    def speak(t0: float, t1: float, feelings: tuple[str, ...]) -> None:
        t = t0
        while t < t1:
            for i in range(people):
                x, y = homes[i]
                events.append(event_from_dict({
                    "t": round(t + 0.013 * i, 3), "participant": f"p{i:02d}",
                    "emotion": feelings[i % len(feelings)], "intensity": 0.85,
                    "x": x, "y": y}))
            t += every

    speak(start, end, before)
    back = end + dark
    if not silent:
        events.append(SignalEvent(t=end, level=0.0))
        events.append(SignalEvent(t=back, level=1.0))
    speak(back, back + back_for, after)
    events.sort(key=lambda e: e.t)
    return events
