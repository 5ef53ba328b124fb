"""What sensors can drive the mural here: BrainFlow's boards, and what an OSC device sends.

Pure functions for `mural sensors` (the CLI formats their results):

- `brainflow_boards()` lists every board BrainFlow knows with a one-line status: the synthetic
  board is opened and released for real (it needs no hardware, so "ok" proves the BrainFlow
  install works); for the others it says which SOURCE parameters they need and what the mural
  reads from them. No real hardware port is opened: a Bluetooth scan can take a minute and a
  serial port may belong to another program.
- `sniff_osc(host, port, seconds, clock)` listens on a UDP port and reports each OSC address
  seen, how often, and one example of its arguments — the raw material of a map file.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from typing import Any

from mural.sources.base import Clock, SourceError

# What each common board needs in the SOURCE string (from BrainFlow's supported-boards docs).
NEEDS: dict[str, str] = {
    "synthetic": "nothing (generated data)",
    "playback_file": "file=RECORDING.csv [master_board=BOARD] [loop=1]",
    "streaming": "ip_address=MULTICAST ip_port=PORT master_board=BOARD",
    "cyton": "serial_port= (the dongle, e.g. /dev/ttyUSB0 or COM3)",
    "cyton_daisy": "serial_port= (the dongle)",
    "ganglion": "serial_port= (the BLED112 dongle) [mac_address=]",
    "ganglion_native": "[mac_address=] [serial_number=] (Bluetooth LE, autodiscovered)",
    "cyton_wifi": "ip_address= (the WiFi shield, 192.168.4.1 in direct mode) ip_port=",
    "cyton_daisy_wifi": "ip_address= (the WiFi shield) ip_port=",
    "ganglion_wifi": "ip_address= (the WiFi shield) ip_port=",
    "muse_2": "[mac_address=] [serial_number=] (Bluetooth LE); other_info=p51 adds PPG",
    "muse_s": "[mac_address=] [serial_number=] (Bluetooth LE); other_info=p51 adds PPG",
    "muse_2016": "[mac_address=] [serial_number=] (Bluetooth LE)",
    "muse_s_athena": "[mac_address=] [serial_number=] (Bluetooth LE)",
    "muse_2_bled": "serial_port= (the BLED112 dongle) [serial_number=]",
    "muse_s_bled": "serial_port= (the BLED112 dongle) [serial_number=]",
    "muse_2016_bled": "serial_port= (the BLED112 dongle) [serial_number=]",
    "emotibit": "[ip_address= (the network's broadcast address)] [serial_number=]",
    "brainbit": "[serial_number=] (Bluetooth LE)",
    "unicorn": "[serial_number=]",
    "crown": "[serial_number=] [ip_address=] (the Neurosity OSC stream)",
    "notion_1": "[serial_number=]",
    "notion_2": "[serial_number=]",
}


def brainflow_boards(*, try_synthetic: bool = True) -> list[tuple[str, str]]:
    """(name, one-line status) for every BrainFlow board; one line saying how to install
    BrainFlow when it is missing. Never opens real hardware."""
    from mural.sources.brainflow_source import (
        INSTALL_HINT,
        _brainflow,
        board_channels,
        board_names,
    )

    try:
        shim = _brainflow()
    except SourceError:
        return [("brainflow", f"not installed: {INSTALL_HINT}")]
    out: list[tuple[str, str]] = []
    for name, board_id in board_names().items():
        if name == "playback":
            continue  # an alias of playback_file
        reads = _reads(board_channels, board_id, name)
        if name == "synthetic" and try_synthetic:
            status = _try_synthetic(shim, board_id)
        elif name in NEEDS:
            status = f"needs {NEEDS[name]}"
        else:
            status = "parameters: see BrainFlow's supported-boards page"
        out.append((name, f"{status}; {reads}"))
    return out


def _reads(board_channels: Callable[[int], Any], board_id: int, name: str) -> str:
    """What the mural would read from a board, from BrainFlow's description of it."""
    if name in ("playback_file", "streaming"):
        return "reads whatever its master board recorded"
    try:
        layout = board_channels(board_id)
    except Exception as exc:  # an odd board description: say so, do not stop the listing
        return f"no description ({exc})"
    parts: list[str] = []
    if layout.eeg_rows:
        from mural.sources.biosignals import pick_frontal_pair

        try:
            left, right, note = pick_frontal_pair(layout.eeg_names)
        except ValueError:
            parts.append(f"{len(layout.eeg_rows)} EEG channel: signal level only")
        else:
            pair = f"{layout.eeg_names[right]}/{layout.eeg_names[left]}"
            parts.append(f"valence+arousal from EEG {pair}" + (" (no frontal pair)" if note
                                                               else ""))
    elif layout.eda is not None:
        parts.append("arousal from EDA")
    else:
        parts.append("no EEG or EDA: cannot drive the mural")
    if layout.ppg is not None:
        parts.append("heart rate from PPG")
    return ", ".join(parts)


def _try_synthetic(shim: Any, board_id: int) -> str:
    board = shim.BoardShim(board_id, shim.BrainFlowInputParams())
    try:
        board.prepare_session()
    except shim.BrainFlowError as exc:
        return f"BrainFlow installed but the synthetic board failed: {exc}"
    finally:
        with contextlib.suppress(shim.BrainFlowError):
            board.release_session()
    return "ok (BrainFlow works; no hardware needed)"


NOT_OSC = "(not OSC)"


def sniff_osc(
    host: str, port: int, seconds: float, clock: Clock, *,
    ready: Callable[[int], None] | None = None,
) -> list[tuple[str, int, list[Any]]]:
    """Listen on UDP `host:port` until `clock()` has advanced by `seconds`, and return
    `(address, count, example_args)` for each OSC address seen, most frequent first
    (datagrams that are not OSC are counted under "(not OSC)"). `ready(port)` is called once
    the port is bound (useful with port 0). SourceError if the port cannot be bound."""
    from mural.sources.osc import _bind_udp, _messages

    sock = _bind_udp(host, port)
    counts: Counter[str] = Counter()
    examples: dict[str, list[Any]] = {}
    try:
        sock.settimeout(0.05)
        if ready is not None:
            ready(sock.getsockname()[1])
        start = clock()
        while clock() - start < seconds:
            try:
                dgram = sock.recv(65_535)
            except TimeoutError:
                continue
            try:
                messages = _messages(dgram)
            except Exception:
                counts[NOT_OSC] += 1
                examples.setdefault(NOT_OSC, [])
                continue
            for message in messages:
                address = message.address
                if address not in counts and len(counts) >= 4_096:
                    continue  # a flood of distinct addresses must not grow without bound
                counts[address] += 1
                examples.setdefault(address, list(message.params))
    finally:
        sock.close()
    return [(a, n, examples[a]) for a, n in counts.most_common()]


__all__ = ["NEEDS", "NOT_OSC", "brainflow_boards", "sniff_osc"]
