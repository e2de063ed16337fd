"""write_atomic: whole files with plain-open permissions, nothing left behind on failure."""

import os

import pytest

from deepkit.atomic_file import write_atomic


def test_writes_whole_file_with_umask_permissions(tmp_path):
    target = tmp_path / "sub" / "model.pb"
    write_atomic(target, b"first")
    write_atomic(target, "second")
    assert target.read_text() == "second"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["model.pb"]


def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    write_atomic(target, "old")

    def no_space(*args):
        raise OSError("No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
