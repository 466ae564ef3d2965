"""write_aside: a file is replaced whole or not at all."""

from __future__ import annotations

import pytest

from peerqa.files import write_aside


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
