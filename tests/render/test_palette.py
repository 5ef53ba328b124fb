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
