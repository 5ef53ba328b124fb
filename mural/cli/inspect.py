"""`mural inspect`: what is in a recording (counts, mix over time, drops, markers, bad lines)."""

from __future__ import annotations

import json
from typing import Any

import click

from mural.events import Problem, Stream, StreamError, read_stream
from mural.events.summary import printable, summarise
from mural.sources import SourceError

MAX_LISTED = 12


def _load(target: str, strict: bool) -> Stream:
    def warn(problem: Problem) -> None:
        click.echo(f"warning: {printable(problem, None)}", err=True)

    try:
        if target.startswith("sim:"):
            from mural.sources.simulate import parse_sim_uri, simulate

            name, kwargs = parse_sim_uri(target)
            return simulate(name, **kwargs)
        return read_stream(target, strict=strict, on_problem=warn)
    except (StreamError, SourceError) as exc:
        raise click.ClickException(printable(exc, None)) from None


def _spans(spans: list[dict[str, Any]], who: bool = False) -> str:
    if not spans:
        return "none"
    parts = [
        (f"{printable(s['participant'])} " if who else "")
        + f"{s['start']:.1f}-{s['end']:.1f} s (min {s['min_level']:.2f}"
        + ("" if s["recovered"] else ", not recovered") + ")"
        for s in spans[:MAX_LISTED]
    ]
    more = len(spans) - MAX_LISTED
    return ", ".join(parts) + (f", ... {more} more" if more > 0 else "")


def _table(info: dict[str, Any]) -> str:
    ev, people = info["events"], info["participants"]
    listed = ", ".join(f"{printable(p)} ({n})"
                       for p, n in list(people["events"].items())[:MAX_LISTED])
    if people["count"] > MAX_LISTED:
        listed += f", ... {people['count'] - MAX_LISTED} more"
    header = info["header"]
    bad = info["bad_lines"]
    rows = [
        ("header", " ".join(f"{printable(k)}={printable(v)}" for k, v in header.items())
         if header else "none"),
        ("duration", f"{info['duration']:.1f} s"),
        ("events", f"{ev['total']} (emotion {ev['emotion']}, signal {ev['signal']}, "
                   f"marker {ev['marker']})"),
        ("participants", f"{people['count']}" + (f": {listed}" if listed else "")),
        ("markers", ", ".join(f"{m['t']:.1f} {printable(m['name'])}" for m in info["markers"])
         or "none"),
        ("network drops", _spans(info["signal"]["network_drops"])),
        ("dropouts", _spans(info["signal"]["participant_dropouts"], who=True)),
        ("bad lines", str(bad["count"])),
        ("truncated tail", "yes (last line cut off, ignored)" if info["truncated_tail"] else "no"),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [printable(info["source"], None)] + [f"  {k:<{width}}  {v}" for k, v in rows]
    mix = info["emotion_mix"]
    lines.append(f"emotion mix over time ({mix['bin_seconds']:g} s bins):")
    for b in mix["bins"]:
        shares = "  ".join(f"{label} {100 * n / b['events']:.0f}%"
                           for label, n in list(b["counts"].items())[:5]) or "-"
        lines.append(f"  {b['start']:7.1f}-{b['end']:<7.1f} n={b['events']:<5} {shares}")
    shares = info.get("light_share")
    if shares:
        lines.append("share of the light (fairness):")
        for who, share in list(shares.items())[:MAX_LISTED]:
            lines.append(f"  {printable(who):<16} {100 * share:5.1f}%  "
                         f"{'#' * round(40 * share)}")
    return "\n".join(lines)


@click.command("inspect")
@click.argument("file", metavar="FILE")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--strict", is_flag=True, help="Fail on the first bad line instead of skipping.")
@click.option("--bins", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Time bins for the emotion mix.")
@click.option("--light-share", is_flag=True,
              help="Also simulate the stream and report each participant's share of the light.")
def command(file: str, as_json: bool, strict: bool, bins: int, light_share: bool) -> None:
    """Summarise the recording FILE (.jsonl/.csv, or sim:NAME).

    Bad lines are skipped with one warning each on stderr; --strict stops at the first.
    --light-share runs the simulation (no rendering) to measure fairness: each participant's
    share of all the light emitted.
    """
    stream = _load(file, strict)
    info = summarise(stream, bins=bins)
    if light_share:
        from mural.show.fairness import light_shares

        shares = light_shares(stream.events)
        info["light_share"] = dict(sorted(shares.items(), key=lambda kv: -kv[1]))
    if as_json:
        click.echo(json.dumps(info))
    else:
        click.echo(_table(info))
