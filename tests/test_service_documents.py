"""Upload safety and the admin write lock."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from peerqa.config import Settings
from peerqa.service.documents import MAX_NAME_CHARS, safe_filename
from peerqa.store import admin_lock


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("notes.md", "notes.md"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\boot.ini.txt", "boot.ini.txt"),
        ("/var/data/", "upload"),
        ("..", "upload"),
        (".bashrc.txt", "bashrc.txt"),
        ("report. ", "report"),
        ("Ünïcödé notes.md", "Unicode notes.md"),
        ("日本語.txt", "upload.txt"),
        ("report.md   ", "report.md"),
        ("a\x00b\nc.txt", "a_b_c.txt"),
        ("x" * 300 + ".pdf", "x" * (MAX_NAME_CHARS - 4) + ".pdf"),
        ("y" * 300, "y" * MAX_NAME_CHARS),
        (None, "upload"),
    ],
)
def test_safe_filename(name, safe):
    assert safe_filename(name) == safe
    assert "/" not in safe and "\\" not in safe and not safe.startswith(".")


def test_admin_lock_serializes_writers(tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "data")
    inside, overlaps = [], []

    def write(i: int) -> None:
        with admin_lock(settings):
            if inside:
                overlaps.append(i)
            inside.append(i)
            time.sleep(0.02)
            inside.remove(i)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []
