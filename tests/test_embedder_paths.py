"""staged_folder: a folder appears at its target whole or not at all."""

import pytest

from embedder.paths import staged_folder


def test_a_built_folder_moves_into_place_and_the_scratch_goes(tmp_path):
    target = tmp_path / "models" / "m"
    with staged_folder(target) as (scratch, out):
        (scratch / "joined.bin").write_bytes(b"scratch")
        out.mkdir()
        (out / "weights").write_text("w")
    assert (target / "weights").read_text() == "w"
    assert [p.name for p in target.parent.iterdir()] == ["m"]


def test_a_failed_build_leaves_nothing_at_the_target(tmp_path):
    target = tmp_path / "m"
    with pytest.raises(RuntimeError, match="interrupted"), staged_folder(target) as (_, out):
        out.mkdir()
        (out / "half").write_text("h")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_a_target_another_process_published_first_is_kept(tmp_path):
    target = tmp_path / "m"
    with staged_folder(target) as (_, out):
        out.mkdir()
        (out / "mine").write_text("late")
        target.mkdir()
        (target / "theirs").write_text("first")
    assert [p.name for p in target.iterdir()] == ["theirs"]
    assert list(tmp_path.iterdir()) == [target]
