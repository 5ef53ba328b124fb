"""Palettes: shipped ones load; bad files get clear errors."""

from __future__ import annotations

import pytest

from mural.show.palettes import Palette, PaletteError, load_palette, palette_names


def test_at_least_two_shipped_palettes_load():
    names = palette_names()
    assert {"abyss", "ember"} <= set(names)
    for name in names:
        palette = load_palette(name)
        assert isinstance(palette, Palette) and palette.name == name
        assert palette.grade_vector().shape == (7,)


def test_a_palette_file_by_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('shadow_tint = "#336699"\nexposure = 0.8\n')
    palette = load_palette(str(path))
    assert palette.name == "mine" and palette.exposure == 0.8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('colour = "#fff"', "unknown key"),
        ('tint = "blue"', "must be a colour"),
        ("exposure = -1", "outside"),
        ('exposure = "high"', "must be a number"),
        ("exposure = ", "not valid TOML"),
    ],
)
def test_bad_palette_files_say_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PaletteError, match=message):
        load_palette(str(path))


def test_unknown_palette_name_lists_the_shipped_ones():
    with pytest.raises(PaletteError, match="abyss"):
        load_palette("nope")


# -- the grade over time ----------------------------------------------------------------------


ABYSS, EMBER = load_palette("abyss"), load_palette("ember")


def _schedule(*changes):
    from mural.render.palette import PaletteSchedule

    named = {"abyss": ABYSS, "ember": EMBER}
    return PaletteSchedule(ABYSS, [(t, named[name], fade) for t, name, fade in changes])


def test_a_schedule_crossfades_from_the_palette_shown_when_a_change_starts():
    abyss, ember = ABYSS, EMBER
    at = _schedule((2.0, "ember", 2.0)).palette_at
    assert at(0.0) is at(2.0) is abyss  # the base until the change (which starts from it)
    assert at(3.0) == abyss.mix(ember, 0.5) and at(4.0) is ember and at(60.0) is ember
    # a change during a crossfade starts from the mix shown at that moment
    at = _schedule((2.0, "ember", 2.0), (3.0, "abyss", 1.0)).palette_at
    halfway = abyss.mix(ember, 0.5)
    assert at(3.0) == halfway and at(3.5) == halfway.mix(abyss, 0.5) and at(4.0) is abyss


def test_a_change_without_fade_is_immediate_and_equal_times_apply_in_order():
    abyss, ember = ABYSS, EMBER
    at = _schedule((1.0, "ember", 0.0)).palette_at
    assert at(0.999) is abyss and at(1.0) is ember
    schedule = _schedule((1.0, "ember", 0.0), (1.0, "abyss", 2.0))
    assert schedule.palette_at(1.0) is ember  # the second starts from the first
    assert schedule.palette_at(2.0) == ember.mix(abyss, 0.5)
    assert [t for t, _, _ in schedule.changes] == [1.0, 1.0]


def test_changes_given_out_of_order_are_sorted():
    assert _schedule((3.0, "abyss", 1.0), (1.0, "ember", 0.0)).changes == \
        _schedule((1.0, "ember", 0.0), (3.0, "abyss", 1.0)).changes


def test_a_change_drops_the_changes_held_for_later():
    ember = load_palette("ember")
    schedule = _schedule((5.0, "ember", 1.0))
    schedule.change(2.0, ember, 0.0)
    assert [t for t, _, _ in schedule.changes] == [2.0]
    assert schedule.palette_at(6.0) is ember


def test_forgetting_the_past_keeps_the_present_and_what_follows():
    abyss, ember = ABYSS, EMBER
    schedule = _schedule((1.0, "ember", 0.0), (2.0, "abyss", 2.0), (9.0, "ember", 0.0))
    before = [schedule.palette_at(t) for t in (3.0, 4.0, 9.0)]
    schedule.forget_before(3.0)
    assert [t for t, _, _ in schedule.changes] == [2.0, 9.0]
    assert [schedule.palette_at(t) for t in (3.0, 4.0, 9.0)] == before
    assert schedule.base is ember and schedule.palette_at(0.0) is ember
    assert before[1] is abyss
