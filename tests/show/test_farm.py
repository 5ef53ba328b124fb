"""The render farm for real: a local Dask cluster, and a `dask scheduler` + `dask worker` pair
started here on loopback; PNG folders bit-identical to the serial export, an MP4 with exactly
fps x duration frames and monotonic timestamps, a killed worker's segment re-run elsewhere,
--resume after an interrupt."""

from __future__ import annotations

import ast
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from click.testing import CliRunner

from mural.cli import main
from mural.events import write_stream
from mural.show import farm as farm_module
from mural.show.farm import (
    FarmError,
    FarmInterrupted,
    FarmOptions,
    farm_export,
    plan_segments,
    staging_folder,
)
from mural.show.video import VideoJob, export_video
from mural.sinks.segments import packet_times, presentation_times
from mural.sinks.video import probe_video
from tests.helpers import blackout, crowd
from tests.helpers import signal as network

pytest.importorskip("distributed")

SIZE = (64, 36)
KW = dict(size=SIZE, fps=10, seed=2, quiet=True)


@pytest.fixture(scope="module")
def events():
    stream = crowd(["joy", "calm", "anger"], end=8.0) + [blackout(3.0), network(5.0, 1.0)]
    return sorted(stream, key=lambda e: e.t)


def same_frames(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert names and all(n.startswith("frame_") for n in names)
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """A real scheduler and two workers (no nannies: a killed worker stays dead)."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                 start_new_session=True)
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                               "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              **quiet)]
    try:
        workers = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker",
                                     address, "--nthreads", "1", "--no-nanny",
                                     "--no-dashboard", "--host", "127.0.0.1"], **quiet)
                   for _ in range(2)]
        procs += workers
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def test_segments_fall_on_frames_and_own_their_holds():
    from mural.show.farm import first_frame_at

    job = VideoJob("x.mp4", 1.0, 9.0, 10, holds=((3.05, 0.5), (9.0, 1.0), (8.95, 0.2)))
    segments = plan_segments(job, slots=2, kind="mp4", size=SIZE, remote=True)
    assert [(s.k0, s.k1) for s in segments] == [(0, 20), (20, 40), (40, 60), (60, 80)]
    local = plan_segments(job, slots=2, kind="mp4", size=SIZE)  # one per local worker
    assert [(s.k0, s.k1) for s in local] == [(0, 40), (40, 80)]
    plain = plan_segments(VideoJob("x/", 1.0, 9.0, 10, holds=((3.05, 0.5), (8.95, 0.2))),
                          slots=2, kind="frames", size=SIZE, segment_seconds=2.0)
    assert [s.written for s in plain] == [20, 25, 20, 22]  # + a 0.5 s hold, + a 0.2 s one
    assert [s.first for s in plain] == [0, 20, 45, 65]
    assert plain[1].begin == 3.0 and plain[3].begin == 7.0
    assert sum(s.written for s in plain) == 87
    cuts = [first_frame_at(job, t) for t in (2.55, 6.0, 20.0)]
    cut = plan_segments(job, slots=2, kind="mp4", size=SIZE, cuts=cuts, remote=True)
    assert [(s.k0, s.k1) for s in cut] == [(0, 16), (16, 33), (33, 50), (50, 65), (65, 80)]
    cut = plan_segments(job, slots=2, kind="mp4", size=SIZE, cuts=cuts)
    assert [(s.k0, s.k1) for s in cut] == [(0, 16), (16, 50), (50, 80)]
    assert first_frame_at(VideoJob("x/", 1.0, 9.0, 7), 10 / 3) == 17  # 3.43 s, not 3.29


def test_without_dask_the_error_names_the_extra(monkeypatch, tmp_path, events):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(FarmError, match=r"pip install 'lumina-mural\[farm\]'"):
        farm_export(events, tmp_path / "x.mp4", FarmOptions(workers=2), end=2, **KW)
    result = CliRunner().invoke(main, ["video", "sim:calm?duration=3", "-o",
                                       str(tmp_path / "y.mp4"), "--workers", "2", "-q"])
    assert result.exit_code == 1 and "lumina-mural[farm]" in result.output
    assert "Traceback" not in result.output


def test_a_gif_is_refused_with_a_way_out(tmp_path, events):
    with pytest.raises(FarmError, match="makes .mp4 files and PNG frame folders"):
        farm_export(events, tmp_path / "x.gif", FarmOptions(workers=2), end=2, **KW)


def test_workers_3_writes_the_serial_png_folder_bit_for_bit(tmp_path, events):
    serial = export_video(events, tmp_path / "serial/", start=0.5, end=7.5, **KW)
    done = farm_export(events, tmp_path / "farm/", FarmOptions(workers=3, segment_seconds=1.2),
                       start=0.5, end=7.5, **KW)
    assert done.export.frames == serial.frames == 70
    assert done.segments == 6 and done.workers == 3
    same_frames(tmp_path / "serial", tmp_path / "farm")
    assert not staging_folder(tmp_path / "farm").exists()


def decoded(path: Path) -> np.ndarray:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    return np.stack([np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader])


def test_an_mp4_through_a_real_scheduler_has_every_frame_in_order(tmp_path, cluster, events):
    address, _ = cluster
    # At 64x36 x264's own noise at crf 20 is ~31 dB against the source (the farm is within
    # 34..40 dB of the serial file); near-lossless, encoder noise is small enough for the
    # 40 dB bound to mean something. (The 60 s 1080p festival at crf 20: 41.5 dB at worst.)
    serial = tmp_path / "serial.mp4"
    export_video(events, serial, start=1.0, end=7.0, crf=4, **KW)
    recording = tmp_path / "crowd.jsonl"
    write_stream(recording, events)  # the workers get its events, not this path
    out = tmp_path / "farm.mp4"
    result = CliRunner().invoke(main, [
        "video", str(recording), "-o", str(out), "--size", "64x36", "--fps", "10",
        "--seed", "2", "--start", "1", "--end", "7", "--crf", "4", "--scheduler", address,
        "--segment", "2", "-q"])
    assert result.exit_code == 0, result.output
    assert "on 2 workers (3 segments" in result.output
    info = probe_video(out)
    assert (info["frames"], info["width"], info["height"], info["codec"]) == (60, 64, 36, "h264")
    dts = packet_times(out)
    assert len(dts) == 60 and all(b > a for a, b in zip(dts, dts[1:], strict=False))
    pts = sorted(presentation_times(out))
    step = pts[1] - pts[0]
    assert pts == [pts[0] + k * step for k in range(60)]  # one frame every 1/fps, no gap
    ours, theirs = decoded(out), decoded(serial)
    assert ours.shape == theirs.shape == (60, 36, 64, 3)
    for a, b in zip(ours, theirs, strict=True):
        mse = np.mean((a.astype(np.float64) - b) ** 2)
        assert mse == 0 or 10 * np.log10(255**2 / mse) >= 40


def test_mural_run_with_cues_and_pauses_renders_the_same_frames_on_the_farm(
        tmp_path, cluster, events):
    from mural.session import check_session, render_plan

    write_stream(tmp_path / "crowd.jsonl", events)
    (tmp_path / "night.toml").write_text("""
[mural]
size = "64x36"
fps = 10
seed = 5
[[source]]
uri = "crowd.jsonl"
[[cue]]
at = 2.05
palette = "ember"
fade = 2
[[cue]]
at = 4.5
pause = 0.5
[[cue]]
at = 6
palette = "lagoon"
[[output]]
video = "serial/"
start = 1
end = 7.5
""")
    plan, problems, _ = check_session(tmp_path / "night.toml")
    assert plan is not None, problems
    render_plan(plan)
    (tmp_path / "night.toml").write_text(
        (tmp_path / "night.toml").read_text().replace('"serial/"', '"farm/"'))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "night.toml"), "--scheduler",
                                       cluster[0], "--segment", "1.5", "-q"])
    assert result.exit_code == 0, result.output
    assert "wrote " in result.output and "on 2 workers (5 segments)" in result.output
    assert probe_video(tmp_path / "farm")["frames"] == 65 + 5  # the pause holds 5 frames
    same_frames(tmp_path / "serial", tmp_path / "farm")


def test_resume_after_an_interrupt_renders_only_the_rest(tmp_path, cluster, events):
    serial = tmp_path / "serial/"
    export_video(events, serial, start=0.0, end=8.0, **KW)

    def stop_after_two(event):
        if event["kind"] == "done":
            stop_after_two.done += 1
            if stop_after_two.done == 2:
                raise KeyboardInterrupt

    stop_after_two.done = 0
    out = tmp_path / "farm/"
    options = FarmOptions(scheduler=cluster[0], segment_seconds=1.0, observe=stop_after_two)
    with pytest.raises(FarmInterrupted) as stopped:
        farm_export(events, out, options, end=8.0, **KW)
    assert "--resume" in stopped.value.hint
    staging = staging_folder(out)
    kept = sorted(p.name for p in staging.iterdir() if p.name.startswith("seg-"))
    assert len(kept) >= 2 and not out.exists()
    with pytest.raises(FileExistsError, match="--resume"):
        farm_export(events, out, FarmOptions(scheduler=cluster[0], segment_seconds=1.0),
                    end=8.0, **KW)
    done = farm_export(events, out, FarmOptions(scheduler=cluster[0], resume=True), end=8.0,
                       **KW)
    assert done.reused >= 2 and len(done.rendered) == done.segments - done.reused
    assert done.segments == 8  # the interrupted run's segments, not a new plan
    same_frames(serial, out)
    assert not staging.exists()


def test_given_checkpoints_cut_the_segments_and_spare_the_head_its_pass(tmp_path, cluster,
                                                                      events):
    from mural.show.checkpoint import write_checkpoints

    folder = tmp_path / "ck"
    write_checkpoints(events, folder, every=2.5, size=SIZE, seed=2)
    serial = export_video(events, tmp_path / "serial/", start=0.3, end=8.0, **KW)
    done = farm_export(events, tmp_path / "farm/", FarmOptions(scheduler=cluster[0]),
                       start=0.3, end=8.0, checkpoints=folder, **KW)
    assert done.export.frames == serial.frames == 77
    assert done.checkpoint_seconds == 0  # no simulation pass on the head
    starts = sorted(r.index for r in done.rendered)
    assert len(starts) == done.segments >= 4  # cut at 2.5, 5 and 7.5 s at least
    same_frames(tmp_path / "serial", tmp_path / "farm")
    with pytest.raises(Exception, match="seed 2 .this render: seed 3"):
        farm_export(events, tmp_path / "other/", FarmOptions(scheduler=cluster[0]),
                    start=0.3, end=8.0, checkpoints=folder, **{**KW, "seed": 3})


def test_dask_settings_reach_the_local_workers_as_environment():
    env = {**os.environ, **farm_module.config_env(farm_module.LOCAL_FARM_CONFIG)}
    keys = list(farm_module.LOCAL_FARM_CONFIG)
    code = f"import dask, distributed; print(repr([dask.config.get(k) for k in {keys!r}]))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert ast.literal_eval(out.stdout) == list(farm_module.LOCAL_FARM_CONFIG.values())


def test_a_local_cluster_keeps_its_bookkeeping_out_of_the_way():
    """Local workers come up preloaded, heartbeat every LOCAL_HEARTBEAT_S (Dask's own 0.5 s
    cost the head most of its CPU) and run without the profiler."""
    import time

    with farm_module.Cluster(FarmOptions(workers=1)) as local:
        local.client.wait_for_workers(1, timeout=60)
        rendezvous = local._rendezvous
        assert rendezvous and os.path.exists(os.path.join(rendezvous, "scheduler.json"))

        def looks(dask_worker):
            import dask

            return (dask_worker.periodic_callbacks["heartbeat"].callback_time,
                    "mural.show.farm" in sys.modules,
                    dask.config.get("distributed.worker.profile.enabled"))

        deadline = time.monotonic() + 20
        while True:
            (heartbeat, preloaded, profiling), = local.client.run(looks).values()
            if heartbeat == farm_module.LOCAL_HEARTBEAT_S * 1000 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert heartbeat == farm_module.LOCAL_HEARTBEAT_S * 1000
        assert preloaded and profiling is False
    assert not os.path.exists(rendezvous)  # the address file goes with the cluster


def test_a_killed_worker_has_its_segment_re_run_elsewhere(tmp_path, cluster, events):
    """Last in this file: it kills one of the two workers."""
    address, workers = cluster
    serial = tmp_path / "serial/"
    big = dict(KW, size=(640, 360))  # segments long enough to be killed in the middle
    export_video(events, serial, start=0.0, end=12.0, **big)
    pids = {w.pid for w in workers}
    killed = []

    def kill_one(event):
        if event["kind"] == "progress" and not killed and event["pid"] in pids:
            os.kill(event["pid"], signal.SIGKILL)
            killed.append(event["pid"])

    done = farm_export(events, tmp_path / "farm/", FarmOptions(
        scheduler=address, segment_seconds=6.0, observe=kill_one), end=12.0, **big)
    assert killed and next(w for w in workers if w.pid == killed[0]).wait(5) is not None
    assert done.moved >= 1  # the killed worker's segment was rendered again by the other
    assert killed[0] not in {r.pid for r in done.rendered}
    same_frames(serial, tmp_path / "farm")


def test_farm_module_imports_dask_only_when_asked():
    code = ("import sys, mural, mural.show.farm, mural.cli; "
            "print('distributed' in sys.modules, 'dask' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
    assert farm_module.FARM_EXTRA == "lumina-mural[farm]"
