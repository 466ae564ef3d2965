"""Files other processes may be reading while this one replaces them (cache_dir)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_aside(target: Path, write: Callable[[Path], None]) -> None:
    """`write` fills a new temporary file beside `target`, which then replaces `target` in
    one rename: a reader sees the old file or the whole new one, never part of one. The
    temporary name is unique, so concurrent writers (threads or processes) never share it;
    it is removed if `write` fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, aside = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(aside))
        os.replace(aside, target)
    finally:
        Path(aside).unlink(missing_ok=True)


def used(path: Path) -> None:
    """Mark a cached file as just used: `prune` removes the least recently used first."""
    with contextlib.suppress(OSError):
        os.utime(path)


def prune(directory: Path, pattern: str, keep: int) -> None:
    """Remove all but the `keep` most recently used files of `directory` matching
    `pattern`. Another process may be pruning the same files at once."""
    files = sorted(directory.glob(pattern), key=_last_used, reverse=True)
    for old in files[keep:]:
        old.unlink(missing_ok=True)


def _last_used(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # pruned meanwhile by another process
        return 0.0


def derived_dir(data_dir: Path, collection_prefix: str) -> Path:
    """Where ingest keeps files derived from a store's generations (token vectors, the
    ONNX export): in the data dir, beside the index, so a server with a fresh cache dir
    loads them instead of making them. One folder per collection prefix, as several
    stores may share a data dir."""
    return data_dir / "derived" / collection_prefix
