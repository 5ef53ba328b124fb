"""Finite sources as whole streams, for offline rendering (stills, videos, sessions)."""

from __future__ import annotations

from collections.abc import Callable

from mural.events import Problem, Stream, read_stream
from mural.sources.base import SourceError, scheme_for, scheme_of


def load_offline(
    uri: str, *, strict: bool = False, on_problem: Callable[[Problem], None] | None = None
) -> Stream:
    """A recording (`.jsonl`/`.csv`) or `sim:NAME[?...]` as a complete, time-sorted Stream.

    Live sources have no end to render to; they raise SourceError with a hint, as does a
    `NAME://` whose scheme is unknown (naming the known ones: it is not a missing file).
    """
    if scheme_for(uri).live:
        raise SourceError(
            f"{uri} is a live source; record it first (`mural record {uri} -o session.jsonl`) "
            "or play it live (`mural play`)"
        )
    if scheme_of(uri) == "sim":
        from mural.sources.simulate import parse_sim_uri, simulate

        name, kwargs = parse_sim_uri(uri)
        return simulate(name, **kwargs)
    path = uri[len("file://") :] if uri.startswith("file://") else uri
    return read_stream(path, strict=strict, on_problem=on_problem)
