"""Palette files: the shipped palettes by name, or any palette TOML file by path."""

from __future__ import annotations

import tomllib
from pathlib import Path

from mural.render.palette import DEFAULT_PALETTE, Palette, PaletteError, palette_from_dict


def assets_dir() -> Path:
    """The shipped assets: inside the installed package, or the repository's assets/ folder."""
    here = Path(__file__).resolve().parents[1]
    for candidate in (here / "_assets", here.parent / "assets"):
        if candidate.is_dir():
            return candidate
    raise PaletteError("the mural's assets folder is missing from this installation")


def palette_names() -> list[str]:
    """Names of the shipped palettes."""
    return sorted(p.stem for p in (assets_dir() / "palettes").glob("*.toml"))


def load_palette(name_or_path: Palette | str | Path | None = None) -> Palette:
    """A shipped palette by name, or any palette TOML file by path."""
    if isinstance(name_or_path, Palette):
        return name_or_path
    target = str(name_or_path or DEFAULT_PALETTE)
    path = Path(target)
    if path.suffix != ".toml":
        path = assets_dir() / "palettes" / f"{target}.toml"
        if not path.is_file():
            raise PaletteError(
                f"unknown palette {target!r} (shipped: {', '.join(palette_names())}; "
                "or give a path to a .toml file)"
            )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PaletteError(f"palette file not found: {path}") from None
    except IsADirectoryError:
        raise PaletteError(f"palette {path} is a folder, not a .toml file") from None
    except UnicodeDecodeError:
        raise PaletteError(f"palette {path} is not UTF-8 text") from None
    except OSError as exc:
        raise PaletteError(f"cannot read palette {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PaletteError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:
        raise PaletteError(f"{path}: nested too deeply to be a palette") from None
    if not isinstance(data, dict):
        raise PaletteError(f"{path}: not a palette table")
    data.setdefault("name", path.stem)
    return palette_from_dict(data, str(path))


__all__ = ["DEFAULT_PALETTE", "Palette", "PaletteError", "assets_dir", "load_palette",
           "palette_names"]
