"""`mural sensors` and map files through `mural validate`, on this machine for real."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from click.testing import CliRunner
from pythonosc.udp_client import SimpleUDPClient

from mural.cli import main

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_the_synthetic_board_is_listed_as_working():
    result = CliRunner().invoke(main, ["sensors"])
    assert result.exit_code == 0, result.output
    synthetic = [line for line in result.output.splitlines() if "brainflow://synthetic " in line]
    assert synthetic and "ok" in synthetic[0]
    assert any("brainflow://muse_2" in line for line in result.output.splitlines())


def test_sniff_lists_the_addresses_a_device_sends():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stop = threading.Event()

    def device() -> None:
        client = SimpleUDPClient("127.0.0.1", port)
        while not stop.is_set():
            client.send_message("/1/fader1", [0.25])
            client.send_message("/1/xy", [0.5, 0.75])
            time.sleep(0.02)

    sender = threading.Thread(target=device, daemon=True)
    sender.start()
    try:
        result = CliRunner().invoke(main, ["sensors", "--sniff", str(port), "--seconds", "1"])
    finally:
        stop.set()
        sender.join()
    assert result.exit_code == 0, result.output
    assert "/1/fader1" in result.output and "/1/xy" in result.output and "0.5" in result.output


def test_a_broken_map_is_every_problem_with_its_line(tmp_path):
    bad = tmp_path / "map.toml"
    bad.write_text('[[route]]\naddress = "/a"\nfield = "nope"\nparticipant = "x"\n')
    result = CliRunner().invoke(main, ["validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:3:" in result.output and "field" in result.output
    good = CliRunner().invoke(main, ["validate", str(EXAMPLES / "touchosc_map.toml")])
    assert good.exit_code == 0 and "osc map" in good.output
