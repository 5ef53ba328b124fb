"""Lumina Mural: a generative bioluminescent mural driven by emotion streams."""

import os as _os

from mural._version import __version__

# numba's parallel kernels run on OpenMP, whose idle threads spin; on a 2-core machine that
# shares its cores with ffmpeg or a window, spinning threads make every kernel several times
# slower. Passive waiting costs microseconds per kernel and saves the frame rate.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The Python API (mural/api.py), loaded on first use so `import mural` and the CLI stay light.
__all__ = [
    "StreamBuilder",
    "__version__",
    "mural",
    "open_session",
    "open_stream",
    "render_exposure",
    "render_still",
    "render_video",
    "run_session",
    "to_image",
    "wall",
]


def __getattr__(name: str):
    if name in __all__:
        from mural import api

        return getattr(api, name)
    raise AttributeError(f"module 'mural' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
