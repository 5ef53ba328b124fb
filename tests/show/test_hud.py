"""The HUD's bookkeeping: notices that pass, the events/s figure, extra line providers."""

from __future__ import annotations

import pytest

from mural.show.hud import MESSAGE_SECONDS, Hud
from mural.sinks.window import HudLine


def status():
    return [HudLine("status")]


def test_off_it_draws_only_a_notice_and_only_for_a_while():
    hud = Hud()
    hud.providers.append(lambda: [HudLine("phones 2")])
    assert hud.lines(0.0, status) is None
    hud.notify("saved x.png", now=1.0)
    assert [line.text for line in hud.lines(1.0 + MESSAGE_SECONDS, status)] == ["saved x.png"]
    assert hud.lines(1.1 + MESSAGE_SECONDS, status) is None


def test_on_it_draws_status_providers_alerts_then_the_notice():
    hud = Hud(on=True)
    hud.providers += [lambda: [HudLine("phones 2")], lambda: None]
    hud.notify("palette ember", now=0.0)
    lines = hud.lines(0.5, status, [HudLine("SAFETY LIMITER OFF", alert=True)])
    assert [line.text for line in lines] == ["status", "phones 2", "SAFETY LIMITER OFF",
                                             "palette ember"]
    hud.toggle()
    assert not hud.on


def test_events_per_second_over_the_last_two_seconds():
    hud = Hud()
    assert hud.events_per_second(0.0) == 0.0
    for k in range(30):
        hud.count(2, now=k * 0.1)
    hud.count(0, now=3.0)  # nothing landed: not counted
    hud.forget_before(3.0)
    assert hud.events_per_second(3.0) == pytest.approx(20.0, rel=0.06)  # 2 every 0.1 s
