"""Answer a question from a collection: retrieve passages, then ask an OpenAI-compatible chat endpoint
for an answer that cites them by number. Without an endpoint the passages are still returned.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from embedder.fusion import FusionConfig
from embedder.openai_client import endpoint, openai_client

from .collection import Collection
from .search import Hit, search

DEFAULT_CHAT_MODEL = "gpt-4o-mini"
SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages provided. Cite every claim with the "
    "number of its passage in square brackets, e.g. [1] or [2][3]. If the passages do not contain "
    "the answer, say so."
)


@dataclass(frozen=True)
class ChatConfig:
    """Where the LLM lives: any OpenAI-compatible endpoint. ``from_env`` reads the usual variables."""

    base_url: str | None = None
    model: str = DEFAULT_CHAT_MODEL
    api_key: str | None = None
    timeout: float = 120.0
    max_tokens: int = 512

    @classmethod
    def from_env(
        cls, base_url: str | None = None, model: str | None = None, api_key: str | None = None
    ) -> ChatConfig:
        """Explicit values win over ``OPENAI_BASE_URL``, ``E5_CHAT_MODEL``, ``OPENAI_API_KEY``."""
        base_url, api_key = endpoint(base_url, api_key)
        return cls(
            base_url=base_url,
            model=model or os.environ.get("E5_CHAT_MODEL") or DEFAULT_CHAT_MODEL,
            api_key=api_key,
        )

    @property
    def configured(self) -> bool:
        return bool(self.base_url or self.api_key)


@dataclass(frozen=True)
class Answer:
    """The LLM's answer (``None`` when there is none; ``note`` says why) and the passages it was given."""

    question: str
    hits: list[Hit] = field(default_factory=list)
    text: str | None = None
    note: str | None = None


def build_messages(question: str, hits: list[Hit]) -> list[dict[str, str]]:
    """Chat messages with the passages numbered from 1, in retrieval order."""
    passages = "\n\n".join(f"[{n}] {hit.title} ({hit.path})\n{hit.text}" for n, hit in enumerate(hits, 1))
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Passages:\n\n{passages}\n\nQuestion: {question}"},
    ]


def ask(
    collection: Collection,
    question: str,
    *,
    k: int = 5,
    chat: ChatConfig | None = None,
    instruction: str | None = None,
    task: str | None = None,
    path_glob: str | None = None,
    mode: str | None = None,
    fusion: FusionConfig | None = None,
) -> Answer:
    """Retrieve ``k`` passages (``search``, same modes) and ask the configured LLM to answer with numbered
    citations."""
    chat = chat or ChatConfig.from_env()
    hits = search(
        collection,
        question,
        k=k,
        instruction=instruction,
        task=task,
        path_glob=path_glob,
        mode=mode,
        fusion=fusion,
    )
    if not hits:
        return Answer(question, hits, note="no passages found in the collection, so no answer was requested")
    if not chat.configured:
        return Answer(
            question,
            hits,
            note="no LLM endpoint configured (set OPENAI_BASE_URL and/or OPENAI_API_KEY, "
            "or pass --base-url); showing the retrieved passages only",
        )
    return Answer(question, hits, *complete(chat, build_messages(question, hits)))


def complete(chat: ChatConfig, messages: list[dict[str, str]]) -> tuple[str | None, str | None]:
    """(answer, None) or (None, reason) when the endpoint fails or answers with something that is not a chat
    completion: the passages are still worth showing."""
    import openai

    client = openai_client(chat.base_url, chat.api_key, timeout=chat.timeout, max_retries=1)
    try:
        response = client.chat.completions.create(
            model=chat.model, messages=messages, max_tokens=chat.max_tokens, temperature=0.0
        )
        return reply_text(response), None
    except (openai.OpenAIError, MalformedReply, ValueError) as err:  # ValueError: a body that is not JSON
        where = chat.base_url or "api.openai.com"
        return (
            None,
            f"the LLM endpoint at {where} failed ({type(err).__name__}: {err}); showing the passages only",
        )


class MalformedReply(Exception):
    """A 200 reply of the endpoint that is not a chat completion."""


def reply_text(response: object) -> str:
    """The answer in a chat completion; ``MalformedReply`` naming what a malformed reply lacks."""
    if isinstance(response, (str, bytes)):
        raise MalformedReply("the reply is text, not a JSON chat completion")
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise MalformedReply("the reply has no choices")
    message = getattr(choices[0], "message", None)
    if message is None:
        raise MalformedReply("the reply's first choice has no message")
    content = getattr(message, "content", None)
    if content is not None and not isinstance(content, str):
        raise MalformedReply(f"the reply's message content is {type(content).__name__}, not text")
    return (content or "").strip()
