"""OpenAI embeddings and any OpenAI-compatible endpoint (``e5 serve``, vLLM, ...) via the ``openai`` client."""

from __future__ import annotations

import numpy as np

from ..openai_client import endpoint, openai_client
from ..prompts import format_query
from ..protocol import check_texts, l2_normalize

INSTRUCTION_MODES = ("none", "field", "prefix")
MAX_REQUEST_TOKENS = 250_000  # OpenAI caps one embeddings request at 300k tokens; keep a margin


def request_batches(
    texts: list[str], max_inputs: int, max_tokens: int = MAX_REQUEST_TOKENS
) -> list[list[str]]:
    """Split inputs so each request stays within the API's input-count and token limits
    (tokens estimated at 3 characters each, a conservative figure for English)."""
    batches: list[list[str]] = [[]]
    budget = 0
    for text in texts:
        cost = len(text) // 3 + 1
        if batches[-1] and (len(batches[-1]) >= max_inputs or budget + cost > max_tokens):
            batches.append([])
            budget = 0
        batches[-1].append(text)
        budget += cost
    return batches


class OpenAIEncoder:
    """Remote embeddings. Retries with exponential backoff on 429/5xx/timeouts are the
    ``openai`` client's own (``max_retries``).

    ``instruction_mode`` says how a query instruction reaches the server: ``none`` (OpenAI's
    models take none), ``field`` (an ``instruction`` field, understood by ``e5 serve``) or
    ``prefix`` (the paper's ``Instruct: ...\\nQuery: ...`` text, for servers that embed raw text).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        dimensions: int | None = None,
        batch_size: int = 256,
        timeout: float = 60.0,
        max_retries: int = 5,
        instruction_mode: str | None = None,
    ):
        base_url, api_key = endpoint(base_url, api_key)
        if not api_key and base_url is None:
            raise ValueError(
                f"openai:{model} needs an API key: set OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)"
            )
        mode = instruction_mode or ("field" if base_url else "none")
        if mode not in INSTRUCTION_MODES:
            raise ValueError(f"instruction_mode must be one of {INSTRUCTION_MODES}, got {mode!r}")
        self.client = openai_client(base_url, api_key, timeout=timeout, max_retries=max_retries)
        self.model, self.dimensions, self.batch_size, self.instruction_mode = (
            model,
            dimensions,
            batch_size,
            mode,
        )
        self.name = f"openai:{model}" + (f"@{dimensions}" if dimensions else "")
        self.usage_tokens = 0
        self._dim: int | None = dimensions

    @property
    def dim(self) -> int:
        if self._dim is None:  # ask once: the only way to learn an endpoint's width
            self._dim = int(self.encode_documents(["dimension probe"]).shape[1])
        return self._dim

    def encode_queries(self, texts: list[str], instruction: str) -> np.ndarray:
        texts = check_texts(texts)
        if self.instruction_mode == "prefix":
            return self._encode([format_query(instruction, t) for t in texts])
        extra = {"instruction": instruction} if self.instruction_mode == "field" else None
        return self._encode(texts, extra)

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        return self._encode(check_texts(texts))

    def _encode(self, texts: list[str], extra_body: dict | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        chunks = []
        kwargs = {"dimensions": self.dimensions} if self.dimensions else {}
        for batch in request_batches(texts, self.batch_size):
            response = self.client.embeddings.create(
                model=self.model, input=batch, extra_body=extra_body, **kwargs
            )
            self.usage_tokens += response.usage.prompt_tokens if response.usage else 0
            chunks.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        vectors = l2_normalize(np.asarray(chunks, dtype=np.float32))
        self._dim = vectors.shape[1]
        return vectors
