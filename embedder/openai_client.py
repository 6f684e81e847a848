"""One way to build an ``openai`` client from settings, for embeddings, answers and synthetic data alike.

Explicit values win over ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` (an empty value counts as unset); a
local OpenAI-compatible server gets a placeholder key, since the client refuses to start without one.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import openai

LOCAL_KEY = "not-needed"  # local OpenAI-compatible servers usually ignore the key


def endpoint(base_url: str | None = None, api_key: str | None = None) -> tuple[str | None, str | None]:
    """``(base_url, api_key)`` after the environment: ``None`` where neither says anything."""
    return (
        base_url or os.environ.get("OPENAI_BASE_URL") or None,
        api_key or os.environ.get("OPENAI_API_KEY") or None,
    )


def openai_client(
    base_url: str | None = None,
    api_key: str | None = None,
    *,
    timeout: float = 60.0,
    max_retries: int = 5,
    asynchronous: bool = False,
) -> openai.OpenAI | openai.AsyncOpenAI:
    """An ``openai.OpenAI`` (or ``AsyncOpenAI``) on the resolved endpoint; retries with backoff are the
    client's own (``max_retries``)."""
    import openai

    base_url, api_key = endpoint(base_url, api_key)
    client = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    return client(base_url=base_url, api_key=api_key or LOCAL_KEY, timeout=timeout, max_retries=max_retries)
