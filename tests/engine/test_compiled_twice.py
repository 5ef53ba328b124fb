"""The same bits whether a kernel was compiled in this process or loaded from numba's cache.

A kernel with rounding-changing fast-math once gave other memory bits when loaded from a cache
written by another process (a farm worker restoring a checkpoint, a still after a video) than
when compiled fresh. Two processes share one empty cache folder: the first compiles and fills
it on the video path, the second loads it on the still path; their state must agree.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from tests.helpers import blackout, crowd
    from tests.helpers import signal as network
    from mural.show.wall import Wall

    events = sorted(crowd(["joy", "calm", "anger"], end=8.0)
                    + [blackout(3.0), network(5.0, 1.0)], key=lambda e: e.t)
    wall = Wall(events, size=(64, 36), seed=2)
    if sys.argv[1] == "video":
        for k in range(71):
            wall.advance_to(0.3 + k / 10)
            frame = wall.render()
    else:
        wall.advance_to(7.3)
        frame = wall.render()
    e = wall.engine
    np.savez(sys.argv[2], frame=frame, gain=wall.guard.gain, live=e.live, memory=e.memory,
             vitality=e.vitality, chroma=e.chroma, coarse=e.live_coarse)
""")


def test_a_kernel_loaded_from_the_cache_gives_the_bits_of_a_fresh_compile(tmp_path):
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    env = {"NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
           "SDL_VIDEODRIVER": "dummy"}
    for mode in ("video", "still"):
        done = subprocess.run([sys.executable, "-c", SCRIPT, mode, str(tmp_path / mode)],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    assert any(cache.rglob("*.nbc"))  # the second process did load compiled kernels
    fresh, loaded = np.load(tmp_path / "video.npz"), np.load(tmp_path / "still.npz")
    for name in fresh.files:
        assert np.array_equal(fresh[name], loaded[name]), name
