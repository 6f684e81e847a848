"""Typed configuration of a synthetic-data run: the chat endpoint, the mix, the gates, prices."""

from __future__ import annotations

from dataclasses import dataclass, field

from .gates import GateConfig
from .languages import DEFAULT_WEIGHTS, Weights, validate_weights
from .prompts import categories

LOCAL_BASE_URL = "http://127.0.0.1:8000/v1"  # `e5 serve`
RESPONSE_FORMATS = ("auto", "json", "off")

# USD per million (input, output) tokens, for the cost estimate; local models cost nothing.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "gpt-4-turbo": (10.00, 30.00),
}


@dataclass(frozen=True)
class EndpointConfig:
    """Any OpenAI-compatible chat endpoint. ``api_key`` None: ``$OPENAI_API_KEY`` (or a dummy for local servers).

    ``response_format``: ``json`` always asks for a JSON object, ``off`` never, ``auto`` asks and stops
    asking when the endpoint rejects the parameter. ``price`` overrides the per-model table (USD / 1M tokens).
    """

    base_url: str = LOCAL_BASE_URL
    model: str = "default"
    api_key: str | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 1024
    concurrency: int = 4
    timeout: float = 120.0
    max_retries: int = 5
    response_format: str = "auto"
    price: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        for name in ("max_tokens", "concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.timeout <= 0 or self.max_retries < 0:
            raise ValueError("timeout must be positive and max_retries non-negative")
        if self.response_format not in RESPONSE_FORMATS:
            raise ValueError(
                f"response_format must be one of {RESPONSE_FORMATS}, got {self.response_format!r}"
            )

    def cost_usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        per_input, per_output = self.price or PRICES.get(self.model, (0.0, 0.0))
        return (prompt_tokens * per_input + completion_tokens * per_output) / 1e6


@dataclass(frozen=True)
class SynthConfig:
    """What to generate. ``n`` example requests are split evenly over ``types``; each asks for one example.

    Two-step types brainstorm ``tasks_per_brainstorm`` tasks per request and use each task for
    ``examples_per_task`` examples. ``seed`` fixes every sampled placeholder, so a request's key
    determines its prompt and a rerun resumes exactly.
    """

    n: int = 60
    types: tuple[str, ...] = ("short-long", "long-short", "short-short", "long-long", "sts", "bitext")
    languages: Weights = DEFAULT_WEIGHTS
    tasks_per_brainstorm: int = 20
    examples_per_task: int = 1
    seed: int = 0
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    gates: GateConfig = field(default_factory=GateConfig)

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be positive, got {self.n}")
        unknown = [t for t in self.types if t not in categories()]
        if unknown or not self.types or len(set(self.types)) != len(self.types):
            raise ValueError(f"types must be distinct names from {', '.join(categories())}, got {self.types}")
        if self.tasks_per_brainstorm < 1 or self.examples_per_task < 1:
            raise ValueError("tasks_per_brainstorm and examples_per_task must be positive")
        validate_weights(self.languages)
        if "bitext" in self.types and sum(1 for _, w in self.languages if w > 0) < 2:
            raise ValueError("bitext needs at least two languages with positive weight (see --languages)")

    def per_type(self) -> dict[str, int]:
        """Example requests of each type: ``n`` split evenly, the remainder to the first types."""
        base, extra = divmod(self.n, len(self.types))
        return {name: base + (i < extra) for i, name in enumerate(self.types)}
