"""Files other processes may be reading while this one replaces them (cache_dir)."""

from __future__ import annotations

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
