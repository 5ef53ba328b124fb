"""Writing files without losing any: refuse what exists, write beside, rename into place.

A full disk or a read-only folder fails the write with the operating system's error and leaves
nothing behind: no truncated file under the real name, no temporary file beside it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from mural.events import Header, Stream, StreamError, write_stream
from mural.events.errors import MuralError


class OutputError(MuralError):
    """An output that cannot be written where it was asked for (no such folder ...)."""


def refuse_existing(path: str | Path, force: bool) -> None:
    """FileExistsError unless `force`; a folder where a file should go is never replaced."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a folder, not a file")
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists (use --force to overwrite)")


@contextlib.contextmanager
def atomic_path(path: str | Path, *, force: bool = False) -> Iterator[Path]:
    """A temporary path beside `path` (same suffix) to write into; on success it replaces
    `path`, on any failure it is removed and the error goes on."""
    target = Path(path)
    refuse_existing(target, force)
    if not target.parent.is_dir():
        raise OutputError(f"cannot write {target}: the folder {target.parent} does not exist")
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.partial{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:  # named after the file asked for, not its temporary twin
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from exc
    except StreamError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OutputError(str(exc).replace(str(tmp), str(target))) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def save_stream(path: str | Path, stream: Stream, *, force: bool = False) -> Path:
    """Write a stream file (.jsonl/.csv by suffix) atomically; refuse an existing one unless
    `force`."""
    header: Header | None = stream.header
    with atomic_path(path, force=force) as tmp:
        write_stream(tmp, stream.events, header)
    return Path(path)


__all__ = ["OutputError", "atomic_path", "refuse_existing", "save_stream"]
