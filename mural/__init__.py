"""Lumina Mural: a generative bioluminescent mural driven by emotion streams."""

import os as _os

from mural._version import __version__

# numba's parallel kernels run on OpenMP. An idle OpenMP thread that sleeps at once (a passive
# wait) costs ~70 us to wake on this project's 2-core machine, several times per step: a
# quarter of a fast-forward's time. One that spins for ever takes a core from ffmpeg or a
# window. So idle threads spin briefly (30,000 rounds, ~0.3 ms: the gaps inside a step) and
# then sleep. A user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins (set before libgomp loads,
# at the first parallel kernel).
if "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ.setdefault("GOMP_SPINCOUNT", "30000")

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
    "write_checkpoints",
]


def __getattr__(name: str):
    if name in __all__:
        from mural import api

        return getattr(api, name)
    raise AttributeError(f"module 'mural' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
