"""Screenshots of every page for the docs: ``python tests/screenshots.py [docs/screenshots]``.

Runs the real app (``streamlit run``) with the MiniLM baseline (small and quick on a CPU; ``E5_SHOT_MODEL``
picks another spec) in a throw-away E5_HOME, does one typical action per page in headless Debian Chromium,
and saves one PNG per page.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from apptest import DEMO_DOCS, build_demo, choose, chromium_page, streamlit_server, wait_idle

from ui.config import default_data_root

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
SAMPLE_FILES = {
    **DEMO_DOCS,
    "notes/todo.txt": "Write the README section about the app.\n",
    "images/logo.png": "\x89PNG not really an image",
    ".drafts/idea.md": "# An idea\n",
    "src/__init__.py": 'def add(left, right):\n    """The sum."""\n    return left + right\n',
}


def act(page, fills: dict[str, str], button: str | None, wait_for: str | None = None) -> None:
    """Fill labelled inputs, press a button, wait for the run (and an element) to finish."""
    for label, text in fills.items():
        page.get_by_label(label, exact=True).fill(text)
    if button:
        page.get_by_role("button", name=button, exact=True).click()
    if wait_for:
        page.locator(wait_for).first.wait_for(timeout=300_000)
    page.wait_for_timeout(500)  # let the run start before waiting for it to end
    wait_idle(page, 300_000)


def shrink(path: Path) -> None:
    """Screenshots of a flat UI lose nothing visible in a 128-colour palette, at about a third of the size."""
    from PIL import Image

    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=128).save(path, optimize=True)


def content_height(page, limit: int = 2400) -> int:
    """The height of the app's scrolling main area (a full-page screenshot would stop at the viewport)."""
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    return max(600, min(int(height) + 40, limit))


def capture(url: str, out: Path, workdir: Path) -> list[Path]:
    shots = []
    with chromium_page(width=1280, height=1000) as page:

        def shoot(
            path: str,
            fills: dict[str, str],
            button: str | None,
            wait_for: str | None = None,
            reload: bool = True,
        ) -> None:
            if reload:
                page.goto(f"{url}/{path}")
                wait_idle(page)
            act(page, fills, button, wait_for)
            shots.append(out / f"{path or 'search'}.png")
            page.set_viewport_size({"width": 1280, "height": content_height(page)})
            page.screenshot(path=str(shots[-1]))
            shrink(shots[-1])
            page.set_viewport_size({"width": 1280, "height": 1000})

        shoot("", {"Query": "where do the vectors live"}, "Search", "text=/cosine similarity/")
        shoot(
            "index",
            {"Folder": str(workdir / "samples"), "Collection name": "samples"},
            "Index",
            "[data-testid='stAlertContentSuccess']",
        )
        shoot(
            "ask", {"Question": "How are documents split before encoding?"}, "Ask", "text=/cosine similarity/"
        )
        shoot("benchmarks", {}, "Run benchmark", "[data-testid='stVegaLiteChart']")
        page.goto(f"{url}/compare")
        wait_idle(page)
        choose(page, "Corpus", "scifact")
        shoot("compare", {}, "Compare", "[data-testid='stDataFrame']", reload=False)
        shoot("settings", {}, None)
    return shots


def main(out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="e5-shots-") as tmp:
        workdir = Path(tmp)
        home, docs, samples = workdir / "home", workdir / "docs", workdir / "samples"
        model = os.environ.get("E5_SHOT_MODEL", "minilm")
        env = {
            "E5_HOME": str(home),
            "E5_UI_MODEL": model,
            "E5_UI_ALLOWED_ROOTS": str(workdir),
            "E5_UI_DATA_ROOT": str(default_data_root()),
        }
        os.environ["E5_HOME"] = str(home)
        docs.mkdir()
        build_demo(docs, model)
        for rel, text in SAMPLE_FILES.items():
            (samples / rel).parent.mkdir(parents=True, exist_ok=True)
            (samples / rel).write_text(text, encoding="utf-8")
        with streamlit_server(env) as server:
            for shot in capture(server.url, out, workdir):
                print(f"{shot} ({shot.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
