"""The hotkeys: one table says which key does what and how it is explained.

Windows report keys by neutral names ("f", "space", "left", "plus", "1" ...; see
mural.sinks.window). Each row of the table is what the operator reads (a label and its help,
for the README and --help) and which key names trigger which *action*; the player dispatches by
looking the key up here and calling its handler for that action. New keys are added with
`Keymap.add` (and a handler registered with the player).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

KEY_EMOTIONS: dict[str, str] = {
    "1": "joy", "2": "calm", "3": "love", "4": "hope", "5": "awe",
    "6": "trust", "7": "surprise", "8": "sadness", "9": "anger",
}  # fmt: skip


@dataclass(frozen=True)
class Hotkey:
    """One row of the hotkey table.

    `label` is the key as the operator reads it ("" continues the row above), `help` what it
    does, `keys` the (neutral key name, action name) pairs it stands for.
    """

    label: str
    help: str
    keys: tuple[tuple[str, str], ...] = ()


HOTKEYS: tuple[Hotkey, ...] = (
    Hotkey("F", "toggle fullscreen", (("f", "fullscreen"),)),
    Hotkey("H", "toggle the HUD (fps, participants, signal, events/s, render scale, safety state)",
           (("h", "hud"),)),
    Hotkey("S", "save a still of the current frame (PNG in the current folder)",
           (("s", "still"),)),
    Hotkey("Space", "pause / resume", (("space", "pause"),)),
    Hotkey("← / →", "seek 10 s back / forward in a recording",
           (("left", "seek_back"), ("right", "seek_forward"))),
    Hotkey("+ / -", "double / halve the playback speed", (("plus", "faster"), ("minus", "slower"))),
    Hotkey("P", "next palette", (("p", "palette"),)),
    Hotkey("1 … 9", "the manual feedback loop: an emotion from participant \"manual\" at the "
                    "mouse (else the centre):",
           tuple((key, "emotion") for key in KEY_EMOTIONS)),
    Hotkey("", ", ".join(f"{key} {name}" for key, name in KEY_EMOTIONS.items())
           + " — it shows even in a network blackout"),
    Hotkey("click / drag", "the last emotion at the pointer / move it"),
    Hotkey("B", "block the phone whose light arrived last (web://): it fades out, cannot rejoin",
           (("b", "block_phone"),)),
    Hotkey("Esc / Q", "quit", (("escape", "quit"), ("q", "quit"))),
)


class Keymap:
    """The table in use: key name -> action name, and the rows to explain it."""

    def __init__(self, rows: Iterable[Hotkey] = HOTKEYS) -> None:
        self.rows: list[Hotkey] = []
        self._actions: dict[str, str] = {}
        for row in rows:
            self.add(row)

    def add(self, row: Hotkey) -> None:
        """Another row; a key already taken is a ValueError (one key, one action)."""
        for key, _ in row.keys:
            if key in self._actions:
                raise ValueError(f"key {key!r} is taken (by {self._actions[key]!r})")
        self.rows.append(row)
        self._actions.update(row.keys)

    def action(self, key: str) -> str | None:
        """The action a key name stands for, None for keys that do nothing."""
        return self._actions.get(key)

    @property
    def actions(self) -> set[str]:
        return set(self._actions.values())

    def markdown(self) -> str:
        return hotkeys_markdown(self.rows)

    def text(self) -> str:
        return hotkeys_text(self.rows)


def hotkeys_markdown(rows: Iterable[Hotkey] = HOTKEYS) -> str:
    """The hotkey table as Markdown (for the README)."""
    lines = ["| Key | Action |", "| --- | --- |"]
    for row in rows:
        if row.label:
            lines.append(f"| {row.label} | {row.help} |")
        else:  # a continuation line
            lines[-1] = lines[-1][: -len(" |")] + f" {row.help} |"
    return "\n".join(lines)


def hotkeys_text(rows: Iterable[Hotkey] = HOTKEYS) -> str:
    """The hotkey table as plain text (for --help)."""
    rows = list(rows)
    width = max(len(row.label) for row in rows)
    return "\n".join(f"{row.label.ljust(width)}  {row.help}" for row in rows)


__all__ = ["HOTKEYS", "KEY_EMOTIONS", "Hotkey", "Keymap", "hotkeys_markdown", "hotkeys_text"]
