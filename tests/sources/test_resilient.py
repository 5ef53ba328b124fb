"""A failing live source is reopened with backoff and never ends the show."""

from __future__ import annotations

import time

from pythonosc.udp_client import SimpleUDPClient

from mural.sources import open_source
from mural.sources.base import SourceStats
from mural.sources.resilient import ResilientSource


def wait_for(source, now, timeout=3.0):
    deadline = time.monotonic() + timeout
    got = []
    while time.monotonic() < deadline and not got:
        got = source.poll(now())
        time.sleep(0.02)
    return got


def test_an_osc_listener_whose_socket_dies_comes_back_on_the_same_port():
    clock_value = [0.0]

    def now():
        return clock_value[0]

    source = open_source("osc://127.0.0.1:0", clock=now, resilient=True)
    try:
        assert isinstance(source, ResilientSource)
        port = source.inner.port
        client = SimpleUDPClient("127.0.0.1", port)
        client.send_message("/mural/emotion", ["p1", "joy", 0.8])
        assert wait_for(source, now)
        source.inner._sock.close()  # the network stack pulls the rug out
        deadline = time.monotonic() + 5
        while source.healthy and time.monotonic() < deadline:
            source.poll(now())
            time.sleep(0.02)
        assert not source.healthy and source.last_error
        assert source.poll(now()) == []  # silence (shadows) while waiting to retry
        clock_value[0] += 1.5  # past the first backoff
        source.poll(now())
        assert source.healthy and source.restarts == 1 and source.inner.port == port
        client.send_message("/mural/emotion", ["p1", "hope", 0.5])
        events = wait_for(source, now)
        assert events and events[0].emotion == "hope"
        assert source.stats.accepted == 2  # counts survive the restart
    finally:
        source.close()


class Flaky:
    live = True
    failed = False

    def __init__(self):
        self.stats = SourceStats()

    def poll(self, now):
        raise OSError("connection reset")

    def close(self):
        pass


def test_backoff_doubles_up_to_a_cap_and_reopen_failures_are_retried():
    t = [0.0]
    opened = []

    def opener():
        opened.append(t[0])
        if len(opened) < 4:
            raise OSError("port busy")
        return Flaky()

    source = ResilientSource(opener, name="flaky", clock=lambda: t[0], first=Flaky(),
                             max_backoff=4.0)
    for step in range(200):
        t[0] = step * 0.1
        assert source.poll(t[0]) == []
    # failed at 0, retried at 1, 3, 7 (1 + 2 + 4), then every 4 s at most
    assert opened[:3] == [1.0, 3.0, 7.0]
    assert not source.finished


class Quiet:
    live = True
    failed = False

    def __init__(self):
        self.stats = SourceStats(accepted=1)

    def poll(self, now):
        return []

    def close(self):
        pass


def test_it_can_start_with_nothing_open_and_opens_on_the_first_successful_retry():
    t = [0.0]
    attempts = []

    def opener():
        attempts.append(t[0])
        if t[0] < 2.5:
            raise OSError("port in use")
        return Quiet()

    # the caller's own attempt failed (a cue's add_source): the first retry waits 1 s
    source = ResilientSource(opener, name="late", clock=lambda: t[0], failure="port in use")
    assert not source.healthy and source.last_error == "port in use" and attempts == []
    assert source.poll(0.0) == []
    for step in range(50):
        t[0] = step * 0.1
        assert source.poll(t[0]) == []
    assert attempts == [1.0, 3.0]  # failed at 1 (still taken), opened at 3 (1 + 2)
    assert source.healthy and source.opened and source.restarts == 0
    assert source.stats.accepted == 1

    lazy = ResilientSource(Quiet, name="lazy", clock=lambda: 0.0)  # no first, no failure
    assert not lazy.healthy
    lazy.poll(0.0)  # opens on the first poll
    assert lazy.healthy and lazy.restarts == 0
    lazy.close()
    assert lazy.poll(5.0) == [] and not lazy.healthy  # closed stays closed
