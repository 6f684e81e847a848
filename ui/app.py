"""The e5 app: ``streamlit run ui/app.py`` (``make app`` builds the demo collection first).

Each page calls the same library functions as the ``e5`` CLI; the app itself holds no model,
index or database code.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

# Deprecation notices of transformers / sentence-transformers (and of the calls our backends make into
# them) are for developers; the app's users cannot act on them.
warnings.filterwarnings(
    "ignore", category=FutureWarning, module=r"(transformers|sentence_transformers|embedder\.backends)(\.|$)"
)

# Streamlit puts ui/ itself on sys.path, where its modules would shadow installed packages of the same
# name; the pages import ``ui.*`` from the checkout root instead.
HERE = Path(__file__).resolve()
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE.parent]
if str(HERE.parents[1]) not in sys.path:
    sys.path.insert(0, str(HERE.parents[1]))

import streamlit as st  # noqa: E402 (after the path fix above)

from ui.session import settings  # noqa: E402

st.set_page_config(page_title="e5: search your files", page_icon=":material/manage_search:", layout="wide")

PAGES = [
    st.Page("views/search.py", title="Search", icon=":material/search:", default=True),
    st.Page("views/index.py", title="Index", icon=":material/folder_open:"),
    st.Page("views/ask.py", title="Ask", icon=":material/forum:"),
    st.Page("views/benchmarks.py", title="Benchmarks", icon=":material/leaderboard:"),
    st.Page("views/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("views/settings.py", title="Settings", icon=":material/settings:"),
]

st.navigation(PAGES).run()
st.sidebar.caption(f"Embedder for new collections: `{settings().model}`")  # after the page: it may change it
