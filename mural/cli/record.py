"""`mural record`: live sources to a JSONL stream file, until a duration, Ctrl-C or SIGTERM."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import click

from mural._version import __version__
from mural.events.formats import JSONL_SUFFIXES
from mural.sinks.recorder import RecorderError, StreamRecorder
from mural.sources import EventSource, SourceError, monotonic_clock, open_source
from mural.sources.replay import MergedSource

POLL_INTERVAL = 0.01  # seconds between polls: small enough that queues never fill


def _open_all(uris: tuple[str, ...], clock: Any) -> list[EventSource]:
    opened: list[EventSource] = []
    try:
        for uri in uris:
            opened.append(open_source(uri, clock=clock))
    except SourceError as exc:
        for source in opened:
            source.close()
        raise click.ClickException(str(exc)) from None
    return opened


def _describe(source: EventSource) -> str:
    address = getattr(source, "address", None)
    if address == "stdin":
        return "reading JSON lines from stdin"
    if address:
        return f"listening on {address}"
    return f"replaying {source.name}"


class _StopFlag:
    """Turns SIGINT/SIGTERM into a flag the loop checks, so the file is always closed cleanly."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _handle(self, number: int, frame: FrameType | None) -> None:
        self.signal = number


@click.command("record")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The JSONL file to write (refused if it exists, unless --force).")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Stop after this long (default: until Ctrl-C or SIGTERM).")
@click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")
def command(sources: tuple[str, ...], output: str, duration: float | None, force: bool) -> None:
    """Record live SOURCEs, merged in time order, to a stream file that replays identically.

    Live events keep the time they arrived (seconds since recording started). Lines are
    written whole and fsynced every second, so even a killed recorder leaves a readable file.
    """
    path = Path(output)
    if path.suffix.lower() not in JSONL_SUFFIXES:
        raise click.ClickException(f"{output}: recordings are JSON lines; name it .jsonl")
    if path.exists() and not force:
        raise click.ClickException(f"{output} already exists (use --force to overwrite)")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")

    clock = monotonic_clock()
    opened = _open_all(sources, clock)
    merged = MergedSource(opened)
    for source in opened:
        click.echo(_describe(source), err=True)
    header = {
        "recorder": f"mural record {__version__}",
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "sources": [source.name for source in opened],
        "clock": "seconds since the recording started",
    }
    try:
        recorder = StreamRecorder(path, header=header, force=force)
    except RecorderError as exc:
        merged.close()
        raise click.ClickException(str(exc)) from None

    click.echo(f"recording to {output}" + (f" for {duration:g} s" if duration else "")
               + " (Ctrl-C to stop)", err=True)
    reason = "stopped"
    try:
        with _StopFlag() as stop, recorder:
            while True:
                now = clock()
                if duration is not None and now >= duration:
                    recorder.write_many(merged.poll(duration))
                    reason = f"{duration:g} s elapsed"
                    break
                recorder.write_many(merged.poll(now))
                if stop.signal is not None:
                    recorder.write_many(merged.poll(clock()))
                    reason = signal.Signals(stop.signal).name
                    break
                if merged.finished:
                    reason = "input ended"
                    break
                time.sleep(POLL_INTERVAL)
    except RecorderError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        merged.close()
    stats = merged.stats
    click.echo(
        f"recorded {recorder.count} events to {output} in {clock():.1f} s ({reason}): "
        f"accepted {stats.accepted}, rejected {stats.rejected} (invalid), "
        f"malformed {stats.malformed} (unparseable), dropped {stats.dropped}",
        err=True,
    )
