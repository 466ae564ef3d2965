"""Cache files: replaced whole or not at all, and the least recently used pruned."""

from __future__ import annotations

import os

import pytest

from peerqa.files import prune, used, write_aside


def test_the_target_is_replaced_whole_and_nothing_is_left_beside_it(tmp_path):
    target = tmp_path / "cache" / "vectors.npz"
    write_aside(target, lambda aside: aside.write_bytes(b"first"))
    write_aside(target, lambda aside: aside.write_bytes(b"second"))
    assert target.read_bytes() == b"second"
    assert list(target.parent.iterdir()) == [target]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")

    def failing(aside):
        aside.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_aside(target, failing)
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_prune_keeps_the_most_recently_used(tmp_path):
    for age, name in enumerate(["a.npz", "b.npz", "c.npz", "d.npz"]):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (1_000 + age, 1_000 + age))
    (tmp_path / "other.onnx").write_bytes(b"not matched: never pruned here")
    used(tmp_path / "a.npz")  # the oldest, used again now
    prune(tmp_path, "*.npz", 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "d.npz", "other.onnx"]
    used(tmp_path / "gone.npz")  # a file pruned by another process meanwhile: no error
