"""A simulated wearable sensor: sends emotions, heart rates and signal levels over OSC.

Start a mural listening, then point this at it:

    mural play osc://127.0.0.1:9000 --hud        # or a session with uri = "osc://127.0.0.1:9000"
    python examples/osc_sensor.py --target osc://127.0.0.1:9000 --duration 60 --rate 4

It speaks the mural's OSC address space (see the README's "Live input"): /mural/emotion,
/mural/va, /mural/health, /mural/signal and /mural/marker.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from urllib.parse import urlparse

from pythonosc.udp_client import SimpleUDPClient

FEELINGS = ("joy", "calm", "awe", "love", "hope", "surprise")


def parse_target(uri: str) -> tuple[str, int]:
    """osc://HOST:PORT → (host, port)."""
    parts = urlparse(uri)
    if parts.scheme != "osc" or parts.port is None:
        raise SystemExit(f"--target must look like osc://127.0.0.1:9000, got {uri!r}")
    return parts.hostname or "127.0.0.1", parts.port


def send(target: str, duration: float, rate: float, participants: int = 3,
         seed: int = 1) -> int:
    """Send about `rate` messages a second for `duration` seconds; returns how many."""
    host, port = parse_target(target)
    client = SimpleUDPClient(host, port)
    rng = random.Random(seed)
    people = [f"sensor{i + 1}" for i in range(participants)]
    client.send_message("/mural/marker", ["sensor-start"])
    client.send_message("/mural/signal", [1.0])
    sent = 2
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < duration:
        who = people[n % len(people)]
        phase = (time.monotonic() - start) / 10.0
        client.send_message("/mural/health", [who, 62.0 + 10.0 * math.sin(phase + n)])
        if n % 3 == 2:  # now and then a raw circumplex point instead of a label
            client.send_message("/mural/va", [who, math.sin(phase), 0.4 + 0.3 * rng.random(),
                                              0.8, rng.random(), rng.random()])
        else:
            client.send_message("/mural/emotion", [who, rng.choice(FEELINGS),
                                                   0.5 + 0.5 * rng.random(), rng.random(),
                                                   rng.random()])
        sent += 2
        n += 1
        time.sleep(1.0 / rate)
    return sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="osc://127.0.0.1:9000")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds to send for")
    parser.add_argument("--rate", type=float, default=4.0, help="expressions per second")
    parser.add_argument("--participants", type=int, default=3)
    args = parser.parse_args(argv)
    sent = send(args.target, args.duration, args.rate, args.participants)
    print(f"sent {sent} OSC messages to {args.target}")
    return sent


if __name__ == "__main__":
    main()
