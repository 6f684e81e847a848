"""Text extraction per file type, and the folder walk: ignore rules, size cap, symlink loops."""

import os
from pathlib import Path

import pytest

from rag.config import ScanConfig
from rag.readers import Unreadable, read_document
from rag.walk import walk_folder


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` in Helvetica, with a correct cross-reference table."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>"
        ),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_markdown_title_and_text(tmp_path):
    doc = read_document(write(tmp_path / "a.md", "intro\n\n# Real Title\n\nbody text"))
    assert doc.title == "Real Title" and "body text" in doc.text and doc.note is None


def test_rst_title(tmp_path):
    assert read_document(write(tmp_path / "a.rst", "Guide\n=====\n\ntext")).title == "Guide"


def test_html_drops_scripts_and_keeps_title(tmp_path):
    html = "<html><head><title>T1</title><style>p{}</style></head><body><script>evil()</script><p>Hi there</p></body>"
    doc = read_document(write(tmp_path / "a.html", html))
    assert doc.title == "T1" and "Hi there" in doc.text and "evil" not in doc.text and "p{}" not in doc.text


def test_pdf_text(tmp_path):
    doc = read_document(write(tmp_path / "a.pdf", minimal_pdf("Photosynthesis converts light")))
    assert "Photosynthesis converts light" in doc.text


def test_malformed_pdf(tmp_path):
    with pytest.raises(Unreadable, match="malformed PDF"):
        read_document(write(tmp_path / "bad.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage"))


def test_invalid_utf8_is_replaced_with_a_note(tmp_path):
    doc = read_document(write(tmp_path / "l1.txt", "caf\xe9 au lait".encode("latin-1")))
    assert doc.text == "caf\ufffd au lait" and "invalid UTF-8 at byte 3" in doc.note


def test_binary_under_a_text_name(tmp_path):
    with pytest.raises(Unreadable, match="binary"):
        read_document(write(tmp_path / "x.txt", b"\x00\x01\x02abc"))


def test_whitespace_only_file(tmp_path):
    with pytest.raises(Unreadable, match="no text"):
        read_document(write(tmp_path / "x.txt", "  \n\n "))


def test_walk_ignores_and_reports(tmp_path):
    write(tmp_path / "keep.md", "k")
    write(tmp_path / "src" / "code.py", "print(1)")
    write(tmp_path / ".hidden.txt", "h")
    write(tmp_path / ".git" / "HEAD", "ref")
    write(tmp_path / "node_modules" / "m.js", "x")
    write(tmp_path / "env" / "pyvenv.cfg", "home = /usr")
    write(tmp_path / "env" / "lib.py", "x")
    write(tmp_path / "build" / "out.txt", "x")
    write(tmp_path / "image.png", b"\x89PNG")
    write(tmp_path / "empty.txt", b"")
    write(tmp_path / "big.txt", "x" * 2000)
    result = walk_folder(tmp_path, ScanConfig(max_file_bytes=1000, excludes=("build",)))
    assert [f.rel for f in result.files] == ["keep.md", "src/code.py"]
    reasons = {s.rel: s.reason for s in result.skipped}
    assert reasons.keys() == {"image.png", "empty.txt", "big.txt"}
    assert "unsupported" in reasons["image.png"] and "0 bytes" in reasons["empty.txt"]
    assert "size cap" in reasons["big.txt"]
    with_hidden = walk_folder(tmp_path, ScanConfig(include_hidden=True, excludes=("*.py",)))
    assert ".hidden.txt" in [f.rel for f in with_hidden.files]
    assert not any(f.rel.startswith(".git/") or f.rel.endswith(".py") for f in with_hidden.files)


def test_walk_survives_symlink_loops(tmp_path):
    write(tmp_path / "sub" / "a.txt", "a")
    os.symlink("..", tmp_path / "sub" / "up")  # a folder loop
    os.symlink("self", tmp_path / "self")  # a symlink pointing at itself
    os.symlink("sub", tmp_path / "alias")  # a second way into a walked folder
    result = walk_folder(tmp_path)
    assert [f.rel for f in result.files] == ["sub/a.txt"]
    reasons = {s.rel: s.reason for s in result.skipped}
    assert "symlink loop" in reasons["sub/up"]
    assert reasons["alias"] == "duplicate folder: same folder as sub/"
    assert "broken symlink" in reasons["self"]


def test_hidden_folders_left_out_are_listed(tmp_path):
    write(tmp_path / ".agents" / "notes.md", "n")
    write(tmp_path / "docs" / ".drafts" / "a.md", "d")
    write(tmp_path / ".git" / "HEAD", "ref")
    write(tmp_path / ".venv" / "pyvenv.cfg", "home = /usr")
    write(tmp_path / "keep.md", "k")
    result = walk_folder(tmp_path)
    assert [f.rel for f in result.files] == ["keep.md"]
    assert result.hidden == [".agents/", "docs/.drafts/"]  # never .git/ or .venv/, which are always left out
    with_hidden = walk_folder(tmp_path, ScanConfig(include_hidden=True))
    assert with_hidden.hidden == [] and ".agents/notes.md" in [f.rel for f in with_hidden.files]
