"""Fusion of a dense and a lexical ranking into one: reciprocal rank fusion or a weighted sum of
min-max normalised scores. Pure functions, shared by the collections (``rag.search``) and the benchmarks
(``hybrid:<spec>``), so that both measure and serve the same thing.

A side is a sequence of ``(key, score)``, higher scores better, in any order. Only its best
``candidates`` entries take part. Ranks are 1-based, and equal scores share the better rank (competition
ranking), so the arbitrary order of tied documents never changes a fused score.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

FUSIONS = ("rrf", "linear")
DEFAULT_RRF_K = 60  # Cormack, Clarke & Büttcher (2009)

Scored = Sequence[tuple[Hashable, float]]


@dataclass(frozen=True)
class FusionConfig:
    """How two rankings are fused. ``rrf``: score = sum of 1 / (rrf_k + rank) over the sides that found a
    document. ``linear``: score = alpha * dense + (1 - alpha) * lexical, each side's scores min-max
    normalised to [0, 1] over its candidates (0 where a side did not find the document).
    ``candidates`` is how many results each side contributes. The defaults (linear, alpha 0.4) were chosen
    on dev splits by ``bench/hybrid.py``; RRF's k defaults to the customary 60."""

    method: str = "linear"
    rrf_k: int = DEFAULT_RRF_K
    alpha: float = 0.4
    candidates: int = 100

    def __post_init__(self) -> None:
        if self.method not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {self.method!r}")
        if self.rrf_k < 0:
            raise ValueError(f"rrf_k must be >= 0, got {self.rrf_k}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha (the dense weight) must be in [0, 1], got {self.alpha}")
        if self.candidates < 1:
            raise ValueError(f"candidates must be positive, got {self.candidates}")

    def describe(self) -> str:
        how = f"rrf k={self.rrf_k}" if self.method == "rrf" else f"linear alpha={self.alpha:g}"
        return f"{how}, {self.candidates} candidates per side"


def fusion_for(encoder: object, **overrides: object) -> FusionConfig:
    """The fusion settings for hybrid search with ``encoder``: its own dense weight where one was chosen on
    dev (an adapter's ``fusion_alpha``: a weak encoder deserves less weight), else the defaults; explicit
    ``overrides`` (``None`` values ignored) win."""
    own = getattr(encoder, "fusion_alpha", None)
    settings = {"alpha": own} if own is not None else {}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return FusionConfig(**settings)


class Fused(NamedTuple):
    """One fused result; a rank is ``None`` on the side that did not find it."""

    key: Hashable
    score: float
    dense_rank: int | None
    lexical_rank: int | None


def top(scored: Scored, n: int) -> list[tuple[Hashable, float]]:
    """The ``n`` best entries, best first (a stable sort: ties keep their input order)."""
    return sorted(scored, key=lambda entry: -entry[1])[:n]


def ranks(scored: Scored) -> dict[Hashable, int]:
    """1-based competition ranks by descending score: equal scores share the better rank (1, 2, 2, 4)."""
    ordered = top(scored, len(scored))
    result: dict[Hashable, int] = {}
    for position, (key, score) in enumerate(ordered, 1):
        tied = position > 1 and score == ordered[position - 2][1]
        result[key] = result[ordered[position - 2][0]] if tied else position
    return result


def min_max(scored: Scored) -> dict[Hashable, float]:
    """Scores mapped linearly onto [0, 1] (best 1, worst 0); all equal scores map to 1."""
    if not scored:
        return {}
    values = [score for _, score in scored]
    low, high = min(values), max(values)
    return {key: (score - low) / (high - low) if high > low else 1.0 for key, score in scored}


def fuse(dense: Scored, lexical: Scored, config: FusionConfig = FusionConfig()) -> list[Fused]:
    """Both sides' best ``config.candidates`` fused into one ranking, best first.

    Equal fused scores are ordered by the better of the two ranks, then dense before lexical."""
    dense, lexical = top(dense, config.candidates), top(lexical, config.candidates)
    dense_ranks, lexical_ranks = ranks(dense), ranks(lexical)
    keys = list(dict.fromkeys([key for key, _ in dense] + [key for key, _ in lexical]))
    if config.method == "rrf":

        def score(key: Hashable) -> float:
            return sum(1.0 / (config.rrf_k + r[key]) for r in (dense_ranks, lexical_ranks) if key in r)
    else:
        dense_norm, lexical_norm = min_max(dense), min_max(lexical)

        def score(key: Hashable) -> float:
            return config.alpha * dense_norm.get(key, 0.0) + (1.0 - config.alpha) * lexical_norm.get(key, 0.0)

    fused = [Fused(key, score(key), dense_ranks.get(key), lexical_ranks.get(key)) for key in keys]
    unranked = float("inf")
    return sorted(
        fused,
        key=lambda f: (
            -f.score,
            min(f.dense_rank or unranked, f.lexical_rank or unranked),
            f.dense_rank is None,
        ),
    )
