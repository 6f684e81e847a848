"""Index page: a folder becomes a collection (report included), bad paths are refused, refresh and delete."""

from __future__ import annotations

import pytest
from apptest import app_test

from rag.catalog import list_collections


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("E5_UI_MODEL", "hash")
    monkeypatch.setenv("E5_UI_ALLOWED_ROOTS", str(tmp_path))
    notes = tmp_path / "notes"
    notes.mkdir()
    # Texts unique to the test: chunks cached by an earlier test would change what gets encoded.
    (notes / "a.md").write_text(f"# Apples\n\nApples grow on trees in orchards ({tmp_path.name}).\n")
    (notes / "b.txt").write_text(f"Bananas are yellow and grow in bunches ({tmp_path.name}).\n")
    (notes / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    return notes


def index(at, path: str, name: str = ""):
    at.text_input[0].input(path)
    at.text_input[1].input(name)
    at.button[0].click().run()
    return at


def collections() -> dict:
    return {info.name: info for info in list_collections()}


def test_indexing_a_folder_adds_a_collection_and_reports_skipped_files(folder):
    at = index(app_test("index"), str(folder), "ui-notes")
    assert not at.exception and not at.error
    assert "ui-notes: 2 added" in at.success[0].value
    skipped = at.dataframe[0].value
    assert list(skipped["file"]) == ["image.png"]
    info = collections()["ui-notes"]
    assert (info.documents, info.spec, info.root) == (2, "hash", str(folder))
    assert "ui-notes" in list(at.dataframe[1].value["name"])


@pytest.mark.parametrize(
    "path, message",
    [
        ("missing", "does not exist"),
        ("notes/a.md", "is a file, not a folder"),
        ("notes/../../", "outside the folders this app may index"),
        ("/etc", "outside the folders this app may index"),
        ("", "enter the path of a folder"),
    ],
)
def test_bad_folders_are_refused_with_a_readable_error(folder, path, message):
    before = collections()
    target = path if path.startswith("/") or not path else str(folder.parent / path)
    at = index(app_test("index"), target)
    assert not at.exception
    assert message in at.error[0].value
    assert collections().keys() == before.keys()


def test_a_symlink_out_of_the_allowed_roots_is_refused(folder, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (folder / "escape").symlink_to(outside)
    at = index(app_test("index"), str(folder / "escape"))
    assert "outside the folders this app may index" in at.error[0].value


def test_refresh_picks_up_changes_and_delete_removes_the_collection(folder):
    at = index(app_test("index"), str(folder), "ui-refresh")
    (folder / "c.md").write_text("# Cherries\n\nCherries are red.\n")
    at.selectbox(key="manage_name").select("ui-refresh").run()
    at.button[1].click().run()
    assert not at.exception and not at.error
    assert "1 added" in at.success[0].value and collections()["ui-refresh"].documents == 3
    at.checkbox(key="confirm_delete").check().run()
    at.button[2].click().run()
    assert not at.exception and not at.error
    assert "Deleted collection 'ui-refresh' (3 documents)" in at.success[0].value
    assert "ui-refresh" not in collections()


def test_symlinks_inside_an_allowed_folder_cannot_reach_files_outside_it(folder, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("Secret outside the allowed root.\n")
    (outside / "etc").mkdir()
    (outside / "etc" / "passwd.txt").write_text("Passwords outside the allowed root.\n")
    (folder / "etc").symlink_to(outside / "etc")
    (folder / "link.txt").symlink_to(outside / "secret.txt")
    at = index(app_test("index"), str(folder), "ui-escape")
    assert not at.exception and not at.error
    assert "ui-escape: 2 added" in at.success[0].value
    skipped = dict(zip(at.dataframe[0].value["file"], at.dataframe[0].value["reason"], strict=True))
    assert skipped["etc"].endswith("outside the allowed folders")
    assert skipped["link.txt"].endswith("outside the allowed folders")
    assert collections()["ui-escape"].documents == 2


def test_hidden_folders_are_listed_and_the_embedder_is_chosen_here(folder):
    (folder / ".agents").mkdir()
    (folder / ".agents" / "notes.md").write_text(f"# Agent notes ({folder.name})\n")
    at = app_test("index")
    assert at.selectbox[0].value == "hash" and "minilm" in at.selectbox[0].options
    at = index(at, str(folder), "ui-hidden")
    assert not at.exception and not at.error
    assert any("1 hidden folder left out: `.agents/`" in w.value for w in at.warning)
    assert collections()["ui-hidden"].documents == 2
    at.checkbox[0].check()
    at = index(at, str(folder), "ui-hidden")
    assert "1 added" in at.success[0].value and collections()["ui-hidden"].documents == 3
    assert not [w for w in at.warning if "hidden folder" in w.value]


def test_the_report_figures_agree_with_the_collection(folder):
    (folder / "copy.txt").write_text((folder / "b.txt").read_text())  # a repeated chunk, encoded once
    at = index(app_test("index"), str(folder), "ui-figures")
    summary = at.success[0].value
    chunks = collections()["ui-figures"].chunks
    assert f"{chunks} new chunks: {chunks - 1} encoded, 0 from cache, 1 repeats of another chunk" in summary
