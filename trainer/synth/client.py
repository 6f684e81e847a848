"""Chat completions from any OpenAI-compatible endpoint through the ``openai`` client.

Retries with exponential backoff on 429, 5xx, 408 and timeouts (honouring ``Retry-After``) are the
client's own ``max_retries``; the tests check the delays. The caller caps concurrency.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import openai

from embedder.openai_client import openai_client

from .config import EndpointConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    content: str
    model: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_s: float


class ChatClient:
    """One endpoint with its sampling settings; ``json_mode`` turns off if the endpoint refuses it."""

    def __init__(self, config: EndpointConfig):
        self.config = config
        self.client = openai_client(
            config.base_url,
            config.api_key,
            timeout=config.timeout,
            max_retries=config.max_retries,
            asynchronous=True,
        )
        self.json_mode = config.response_format != "off"

    async def complete(self, messages: list[dict]) -> Reply:
        """One completion; raises ``openai.APIError`` subclasses once retries are exhausted."""
        started = time.perf_counter()
        try:
            response = await self._create(messages)
        except openai.BadRequestError as err:
            if not self._json_unsupported(err):
                raise
            log.warning("endpoint rejects response_format; continuing without it")
            self.json_mode = False
            response = await self._create(messages)
        latency = time.perf_counter() - started
        choice, usage = response.choices[0], response.usage
        return Reply(
            content=choice.message.content or "",
            model=response.model or self.config.model,
            finish_reason=choice.finish_reason,
            latency_s=latency,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        )

    async def _create(self, messages: list[dict]):
        extra = {"response_format": {"type": "json_object"}} if self.json_mode else {}
        c = self.config
        return await self.client.chat.completions.create(
            model=c.model,
            messages=messages,
            temperature=c.temperature,
            top_p=c.top_p,
            max_tokens=c.max_tokens,
            **extra,
        )

    def _json_unsupported(self, err: openai.BadRequestError) -> bool:
        return self.config.response_format == "auto" and self.json_mode and "response_format" in str(err)

    async def close(self) -> None:
        await self.client.close()
