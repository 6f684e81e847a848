"""The categories of synthetic data and their prompt templates (data in ``prompts.toml``)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import tomllib

from .languages import Weights

ROLES = ("query", "positive", "negative")


@dataclass(frozen=True)
class Category:
    """One kind of example: its prompts, JSON keys and the checks its outputs get."""

    name: str
    example: str
    roles: dict[str, str]
    placeholders: dict[str, list[str]] = field(default_factory=dict)
    brainstorm: str | None = None  # None: a single-step category
    instruction: str | None = None  # fixed instruction of single-step categories
    short: tuple[str, ...] = ()
    long: tuple[str, ...] = ()
    copy_check: bool = False
    languages: dict[str, str] = field(default_factory=dict)  # key -> placeholder naming its language

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.roles[role] for role in ROLES if role in self.roles)

    @property
    def two_step(self) -> bool:
        return self.brainstorm is not None

    def language_of(self, key: str, params: dict[str, str]) -> str:
        return params[self.languages.get(key, "language")]


@cache
def categories() -> dict[str, Category]:
    """All categories, by name, in the order of the paper."""
    text = resources.files(__package__).joinpath("prompts.toml").read_text(encoding="utf-8")
    table = tomllib.loads(text)
    return {
        name: Category(
            name=name,
            example=spec["example"],
            roles=spec["roles"],
            placeholders=spec.get("placeholders", {}),
            brainstorm=spec.get("brainstorm"),
            instruction=spec.get("instruction"),
            short=tuple(spec["short"]),
            long=tuple(spec["long"]),
            copy_check=spec["copy_check"],
            languages=spec.get("languages", {}),
        )
        for name, spec in table.items()
    }


def get_category(name: str) -> Category:
    try:
        return categories()[name]
    except KeyError:
        raise ValueError(
            f"unknown synthetic data type {name!r}; choose from {', '.join(categories())}"
        ) from None


def sample_params(category: Category, rng: random.Random, weights: Weights) -> dict[str, str]:
    """Draw every placeholder of one example: uniform choices, languages by weight."""
    params = {name: rng.choice(values) for name, values in category.placeholders.items()}
    names, probs = zip(*weights, strict=True)
    if category.name == "bitext":
        if sum(1 for p in probs if p > 0) < 2:
            raise ValueError("bitext needs at least two languages with positive weight")
        params["src_language"] = rng.choices(names, probs)[0]
        others = [(n, p) for n, p in weights if n != params["src_language"] and p > 0]
        params["tgt_language"] = rng.choices(*zip(*others, strict=True))[0]
    else:
        params["language"] = rng.choices(names, probs)[0]
    return params


def brainstorm_messages(category: Category, count: int) -> list[dict]:
    return [{"role": "user", "content": category.brainstorm.format(count=count)}]


def example_messages(category: Category, params: dict[str, str], task: str | None) -> list[dict]:
    return [{"role": "user", "content": category.example.format(task=task, **params)}]
