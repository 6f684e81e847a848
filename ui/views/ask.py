"""Ask: an answer with numbered citations from an OpenAI-compatible chat model (``rag.answer.ask``, as
``e5 ask``), with the passages it was given. Without a configured LLM the passages are still shown."""

from __future__ import annotations

import streamlit as st

from rag.answer import DEFAULT_CHAT_MODEL, ChatConfig, ask
from ui.catalog import collection_infos, open_for_search
from ui.hits import show_hit
from ui.session import settings
from ui.widgets import instruction_picker, mode_picker, readable_errors


def chat_config() -> ChatConfig:
    """This session's chat endpoint; the key comes from the session or the environment, never from disk."""
    current = settings()
    return ChatConfig(
        base_url=current.chat_base_url,
        model=current.chat_model or DEFAULT_CHAT_MODEL,
        api_key=current.chat_api_key(),
    )


st.title("Ask")
chat = chat_config()
if chat.configured:
    st.caption(f"Answers by `{chat.model}` at {chat.base_url or 'api.openai.com'}.")
else:
    st.warning(
        "No LLM is configured, so there will be no written answer: set a chat base URL and/or API key on "
        "the Settings page (or E5_CHAT_BASE_URL, E5_CHAT_MODEL, OPENAI_API_KEY). The passages an LLM "
        "would be given are still shown.",
        icon=":material/info:",
    )
infos = collection_infos()
if not infos:
    st.info("No collections yet: build the demo with `e5 demo` or index a folder on the Index page.")
    st.stop()
names = list(infos)
name = st.selectbox("Collection", names, index=names.index("demo") if "demo" in names else 0)
instruction = instruction_picker("ask", default_task="qa")
with st.form("ask"):
    question = st.text_area("Question", placeholder="How are documents split before encoding?")
    k = st.slider("Passages", min_value=1, max_value=20, value=5)
    mode = mode_picker("ask")
    submitted = st.form_submit_button("Ask", type="primary")

if submitted:
    with readable_errors("Asking"):
        if not instruction:
            raise ValueError("write an instruction, or pick a preset task")
        with st.spinner("Retrieving passages and waiting for the answer…"):
            answer = ask(
                open_for_search(infos[name]), question, k=k, chat=chat, instruction=instruction, mode=mode
            )
        if answer.text:
            st.subheader("Answer")
            st.markdown(answer.text)
        if answer.note and (chat.configured or not answer.hits):  # "no LLM" is already said above
            st.warning(answer.note)
        st.subheader("Passages")
        for number, hit in enumerate(answer.hits, 1):
            show_hit(f"[{number}]", hit, question)
