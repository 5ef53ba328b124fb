"""TOML files with line numbers: where a table or key is, and what a syntax error says."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FileProblem:
    """One problem in a TOML file, with the line to look at (None: the whole file)."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else (
            f"{self.path}: {self.message}")


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_\-]+)\s*=""")
_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


@dataclass
class TomlLines:
    """Line numbers of table headers and keys in a TOML text, for messages that point there.

    A small scanner, not a parser: `[[cue]]` tables are counted per name, so the third cue's
    `marker` key is `key("cue", 2, "marker")`. Top-level keys are in table "".
    """

    tables: dict[tuple[str, int], int] = field(default_factory=dict)
    keys: dict[tuple[str, int, str], int] = field(default_factory=dict)

    @classmethod
    def scan(cls, text: str) -> TomlLines:
        found = cls()
        counts: dict[str, int] = {}
        current = ("", 0)
        in_string: str | None = None
        for number, raw in enumerate(text.splitlines(), 1):
            if in_string is not None:
                if raw.count(in_string) % 2 == 1:
                    in_string = None
                continue
            header = _HEADER.match(raw)
            if header and not raw.lstrip().startswith("#"):
                name = _unquote(header[2])
                if header[1] == "[[":
                    index = counts.get(name, 0)
                    counts[name] = index + 1
                else:
                    index = 0
                current = (name, index)
                found.tables.setdefault(current, number)
                continue
            key = _KEY.match(raw)
            if key:
                found.keys.setdefault((*current, _unquote(key[1])), number)
                rest = raw[key.end():]
                for quote in ('"""', "'''"):
                    if rest.count(quote) % 2 == 1:
                        in_string = quote
        return found

    def table(self, name: str, index: int = 0) -> int | None:
        return self.tables.get((name, index))

    def key(self, table: str, index: int, key: str) -> int | None:
        """The key's line, else its table's line."""
        return self.keys.get((table, index, key)) or self.tables.get((table, index))


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def toml_error(exc: tomllib.TOMLDecodeError) -> tuple[int | None, str]:
    """(line, message) of a TOML syntax error."""
    text = str(exc)
    match = _TOML_AT.search(text)
    line = getattr(exc, "lineno", None) or (int(match[1]) if match else None)
    message = _TOML_AT.sub("", text)
    if match:
        message += f" (column {match[2]})"
    return line, f"not valid TOML: {message}"




def read_toml(path: str | Path) -> tuple[dict[str, Any] | None, TomlLines, list[FileProblem]]:
    """(data, lines, problems) of a TOML file; never raises for a bad file: a missing or
    unreadable file, bad UTF-8, a syntax error or absurd nesting is one problem with its line."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, TomlLines(), [FileProblem(name, None, "no such file")]
    except IsADirectoryError:
        return None, TomlLines(), [FileProblem(name, None, "is a folder, not a file")]
    except UnicodeDecodeError as exc:
        return None, TomlLines(), [FileProblem(name, None, f"not UTF-8 text ({exc.reason} at "
                                                           f"byte {exc.start})")]
    except OSError as exc:
        return None, TomlLines(), [FileProblem(name, None,
                                               f"cannot read ({exc.strerror or exc})")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, message = toml_error(exc)
        return None, TomlLines(), [FileProblem(name, line, message)]
    except RecursionError:
        return None, TomlLines(), [FileProblem(name, None, "nested too deeply to be read")]
    return data, TomlLines.scan(text), []
