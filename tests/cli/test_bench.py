"""`mural bench`: runs, reports stages, ends with JSON."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from mural.cli import main
from mural.show.bench import revive, run_bench, standard_scene


def test_bench_json_last_line_has_the_figures():
    result = CliRunner().invoke(main, ["bench", "--size", "160x90", "--particles", "500",
                                       "--frames", "6", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    assert data["size"] == "160x90" and data["particles"] == 500 and data["frames"] == 6
    assert data["fps"] > 0
    assert {"simulation", "splat", "glow", "tonemap"} <= set(data["stages_ms"])
    assert "fps" in result.output.splitlines()[1]


def test_the_standard_scene_holds_exactly_n_live_particles():
    mural = standard_scene((160, 90), 1234)
    assert mural.engine.live_particles == 1234
    rng = np.random.default_rng(0)
    for _ in range(60):
        mural.advance_to(mural.time + 1 / 30)
        revive(mural, rng)
        assert mural.engine.live_particles == 1234


def test_run_bench_times_every_frame():
    result = run_bench((96, 54), 200, 4, warmup=1)
    assert result.frames == 4 and result.seconds > 0
    assert abs(sum(result.stages_ms.values()) - 1000 * result.seconds / 4) < 1.0


def test_soak_reports_memory_and_frame_time_over_simulated_time():
    result = CliRunner().invoke(main, ["bench", "--soak", "--hours", "0.03", "--size", "96x54",
                                       "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    points = data["points"]
    assert len(points) == 12
    assert points[-1]["sim_hours"] >= 0.029
    assert all(p["rss_mb"] > 0 and p["frame_ms"] > 0 for p in points)
    # bounded: applied events are forgotten, so what is held stays under one festival cycle
    assert data["max_events_held"] < 2500
    assert data["rss_mb_second_half"] < data["rss_mb_first_half"] + 50
