"""Search: a collection, a task instruction (applied to the query only), top-k hits shown in context."""

from __future__ import annotations

import streamlit as st

from rag.search import search
from ui.catalog import collection_infos, open_for_search, show_hit
from ui.widgets import instruction_picker, mode_picker, readable_errors

st.title("Search")
infos = collection_infos()
if not infos:
    st.info("No collections yet: build the demo with `e5 demo` (`make app` does) or index a folder on the Index page.")
    st.stop()
names = list(infos)
name = st.selectbox("Collection", names, index=names.index("demo") if "demo" in names else 0,
                    format_func=lambda n: f"{n} ({infos[n].documents} docs, {infos[n].chunks} chunks, {infos[n].model})")
instruction = instruction_picker("search")
with st.form("search"):
    query = st.text_input("Query", placeholder="What are you looking for?")
    k_col, glob_col = st.columns([1, 2])
    k = k_col.slider("Results", min_value=1, max_value=50, value=10)
    path_glob = glob_col.text_input("Only paths matching (glob)", placeholder="docs/*.md")
    mode = mode_picker("search")
    submitted = st.form_submit_button("Search", type="primary")

if submitted:
    with readable_errors("Search"):
        if not instruction:
            raise ValueError("write an instruction, or pick a preset task")
        hits = search(open_for_search(infos[name]), query, k=k, instruction=instruction,
                      path_glob=path_glob.strip() or None, mode=mode)
        if not hits:
            st.info("No results." + (" Try another path filter." if path_glob.strip() else ""))
        for rank, hit in enumerate(hits, 1):
            show_hit(f"{rank}.", hit, infos[name].root)
