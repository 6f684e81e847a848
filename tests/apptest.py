"""Driving the app in tests and for screenshots: ``AppTest`` pages, a real ``streamlit run`` server on
127.0.0.1, and Debian's Chromium through Playwright (its own browser download does not work offline)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

APP = Path(__file__).resolve().parents[1] / "ui" / "app.py"
CHROMIUM = os.environ.get("E5_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling hosts this sandbox cannot reach.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def app_test(page: str | None = None, timeout: float = 60):
    """An ``AppTest`` of the app, run once and switched to ``views/<page>.py`` when given."""
    from streamlit.testing.v1 import AppTest

    test = AppTest.from_file(str(APP), default_timeout=timeout).run()
    if page:
        test.switch_page(f"views/{page}.py").run()
    return test


TINY_DOCS = {
    "d1": "Aspirin lowers the risk of heart attacks",
    "d2": "Vitamin C does not cure the common cold",
    "d3": "Regular exercise improves sleep quality",
    "d4": "Coffee consumption and liver health",
    "d5": "Smoking causes lung cancer",
    "d6": "Sunlight exposure raises vitamin D levels",
}
TINY_QUERIES = {
    "q1": "does aspirin prevent heart attacks",
    "q2": "smoking and lung cancer",
    "q3": "vitamin D from sunlight",
}
TINY_QRELS = {"q1": "d1", "q2": "d5", "q3": "d6"}


def write_tiny_beir(folder: Path) -> Path:
    """A six-document BEIR folder whose three test queries each share words with one relevant document."""
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in TINY_DOCS.items())
    )
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in TINY_QUERIES.items())
    )
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in TINY_QRELS.items())
    )
    return folder


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or ``None`` when it can."""
    if not Path(CHROMIUM).is_file():
        return f"Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Server:
    """A running ``streamlit run``: its URL, its process and what it has printed so far."""

    url: str
    process: subprocess.Popen
    log: IO[bytes]

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used (Linux ``/proc``)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def streamlit_server(env: dict[str, str], timeout: float = 60) -> Iterator[Server]:
    """``streamlit run ui/app.py`` on a free loopback port (from the checkout root, so that
    ``.streamlit/config.toml`` applies); yields the running server, stops it afterwards."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a full pipe would block the server
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=APP.parents[1]
        )
        try:
            wait_healthy(url, process, log, timeout)
            yield Server(url, process, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_healthy(url: str, process: subprocess.Popen, log, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"streamlit exited early: {log.read().decode(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout:.0f}s")


@contextmanager
def chromium_page(width: int = 1280, height: int = 900) -> Iterator[object]:
    """A Playwright page in headless Debian Chromium with a throw-away profile."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="e5-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": width, "height": height},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def wait_idle(page, timeout_ms: float = 60_000) -> None:
    """Wait until the app's script run has finished (Streamlit marks it on the root element) and the
    widget code the page needed has loaded (it is fetched lazily)."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    page.wait_for_load_state("networkidle", timeout=timeout_ms)


def wait_started(page, timeout_ms: float = 5_000) -> None:
    """After a click, wait for the rerun it starts: on a loaded machine it may begin well after the click, and
    an idle check made before it would pass at once."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):  # a run over before the page was polled
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="running"]', timeout=timeout_ms)


def choose(page, label: str, option) -> None:
    """Pick an option (its exact name, or a compiled pattern) of the selectbox whose label is ``label``."""
    page.locator(f'[data-testid="stSelectbox"]:has-text("{label}")').first.click()
    page.get_by_role("option", name=option, exact=isinstance(option, str)).click()
    page.wait_for_timeout(500)
    wait_idle(page)


DEMO_DOCS = {
    "README.md": "# Demo project\n\nThis project indexes folders of documents and searches them with task "
    "instructions. Vectors are explained in the docs.\n",
    "docs/store.md": "# Vector store\n\nThe vectors live in a FAISS index; their metadata lives in SQLite "
    "through SQLAlchemy. The exact inner-product index is the default.\n",
    "docs/chunks.md": "# Chunking\n\nDocuments are cut into overlapping chunks of tokens before encoding.\n",
}


def build_demo(root: Path, model: str = "hash"):
    """The ``demo`` collection, built through the rag library from a small documentation folder."""
    from rag.demo import build_demo_collection

    for rel, text in DEMO_DOCS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return build_demo_collection(model, root=root, progress=False)
