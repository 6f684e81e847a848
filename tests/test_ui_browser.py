"""End to end in a real browser: ``streamlit run ui/app.py`` on 127.0.0.1, driven in headless Debian Chromium
by Playwright: load, search the demo collection, see results, take a screenshot."""

from __future__ import annotations

import pytest

from ui.testing import browser_missing, build_demo, chromium_page, streamlit_server, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")]


def test_search_in_a_real_browser(tmp_path_factory, e5_home, tmp_path):
    build_demo(tmp_path_factory.mktemp("demo_docs"))
    env = {"E5_UI_MODEL": "hash", "E5_HOME": str(e5_home), "E5_UI_ALLOWED_ROOTS": str(tmp_path)}
    with streamlit_server(env) as url, chromium_page() as page:
        page.goto(url)
        wait_idle(page)
        assert page.get_by_role("heading", name="Search").is_visible()
        page.get_by_label("Query").fill("where do the vectors live")
        page.get_by_role("button", name="Search").click()
        first = page.locator("mark").first
        first.wait_for(timeout=30_000)
        wait_idle(page)
        assert "The vectors live in a FAISS index" in first.inner_text()
        assert page.get_by_text("docs/store.md").first.is_visible()
        shot = tmp_path / "search.png"
        page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
