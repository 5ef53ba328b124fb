"""Participants files: personal colours and patterns, every problem with its line."""

from __future__ import annotations

import numpy as np
import pytest

from mural.engine.colour import wavelength_to_linear_rgb
from mural.session.participants import (
    ParticipantsError,
    check_participants,
    hex_to_linear,
    load_participants,
)
from mural.show.wall import Wall
from tests.helpers import crowd

GOOD = """\
# people
"p 03" = { hue = 474 }

[ana]
name = "Ana"
hue = 509
pattern = "ring"

[p02]
colour = "#84f8ca"
pattern = "pulse"
weight = 0.5
"""


def write(tmp_path, text, name="participants.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_good_file_gives_personal_colours(tmp_path):
    people = load_participants(write(tmp_path, GOOD))
    assert set(people) == {"ana", "p02", "p 03"}
    ana = people["ana"]
    assert ana.name == "Ana" and ana.pattern == "ring" and ana.weight == 0.4
    assert np.allclose(ana.colour, wavelength_to_linear_rgb(509))
    p02 = people["p02"]
    assert p02.pattern == "pulse" and p02.weight == 0.5
    assert max(p02.colour) == pytest.approx(1.0)
    assert p02.colour == hex_to_linear("#84f8ca")
    assert people["p 03"].pattern == "bloom"


def test_hex_colours_are_linear_and_normalised():
    r, g, b = hex_to_linear("#808080")
    assert r == g == b == pytest.approx(1.0)
    r, g, b = hex_to_linear("#ff8000")
    assert r == pytest.approx(1.0) and 0.2 < g < 0.23 and b == 0.0  # 0x80 -> 0.216 linear
    with pytest.raises(ValueError, match="black"):
        hex_to_linear("#000000")


def test_every_problem_is_reported_with_its_line(tmp_path):
    text = """\
dora = 3
[ana]
hue = 900
pattern = "spiral"

[ben]
colour = "#12345"
weight = 0.95
shape = "star"

[cara]
hue = 500
colour = "#ffffff"
"""
    _, problems = check_participants(write(tmp_path, text))
    found = {(p.line, p.message.split(" ")[0]) for p in problems}
    assert (1, "participant") in found  # not a table
    assert (3, "hue") in found
    assert (4, "pattern") in found
    assert (7, "a") in found  # a colour must look like ...
    assert (8, "weight") in found
    assert (9, "unknown") in found
    assert (12, "participant") in found  # hue and colour both given
    assert len(problems) == 7
    assert all(str(p).startswith(f"{tmp_path / 'participants.toml'}:") for p in problems)
    with pytest.raises(ParticipantsError) as caught:
        load_participants(tmp_path / "participants.toml")
    assert len(caught.value.problems) == 7


def test_syntax_errors_and_missing_files(tmp_path):
    _, problems = check_participants(write(tmp_path, "[ana]\nhue = = 3\n"))
    assert len(problems) == 1 and problems[0].line == 2 and "TOML" in problems[0].message
    _, problems = check_participants(tmp_path / "nope.toml")
    assert problems[0].line is None and "no such file" in problems[0].message


def test_personal_colour_changes_the_mural_but_emotion_shows_through(tmp_path):
    path = write(tmp_path, "[p00]\ncolour = \"#ff3000\"\nweight = 0.8\n[p01]\nhue = 620\n"
                 "weight = 0.8\n")
    events = crowd(["calm"], people=2, end=3.0)
    plain = Wall(events, size=(96, 54), seed=1).frame_at(2.5)
    mine = Wall(events, size=(96, 54), seed=1, personal=load_participants(path)).frame_at(2.5)
    assert not np.array_equal(plain, mine)
    red = mine[..., 0].astype(int) - mine[..., 2].astype(int)
    assert red.mean() > (plain[..., 0].astype(int) - plain[..., 2].astype(int)).mean()
