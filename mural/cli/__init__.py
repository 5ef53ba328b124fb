"""The `mural` command: one click group; each command lives in its own module here."""

from __future__ import annotations

import importlib

import click

from mural._version import __version__

# Each module defines a click command named `command`; add a module here to register it.
COMMAND_MODULES: tuple[str, ...] = (
    "bench",
    "still",
    "record",
    "send",
    "simulate",
    "inspect",
    "check_flashes",
    "video",
    "checkpoint",
    "play",
    "demo",
    "run",
    "validate",
    "sensors",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mural")
def main() -> None:
    """Lumina Mural: a bioluminescent mural painted by emotion streams.

    SOURCE, wherever a command takes one: a recording (`.jsonl`/`.csv`), `sim:NAME` for a
    simulated scenario, and the live sources listed in the README.
    """


for _name in COMMAND_MODULES:
    _module = importlib.import_module(f"mural.cli.{_name}")
    main.add_command(_module.command)
