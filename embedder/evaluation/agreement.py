"""Where the top results of several retrievers agree: pure functions over ranked doc-id lists."""

from __future__ import annotations

from itertools import combinations


def top_ids(run: dict[str, float], k: int) -> list[str]:
    """The ``k`` best doc ids of one query's run, best first."""
    return sorted(run, key=run.get, reverse=True)[:k]


def overlap_table(rankings: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """Pairwise share of top-k results two models have in common (1.0: the same set), ``table[a][b]``."""
    table = {a: {b: 1.0 for b in rankings} for a in rankings}
    for a, b in combinations(rankings, 2):
        shared = len(set(rankings[a]) & set(rankings[b])) / max(len(rankings[a]), len(rankings[b]), 1)
        table[a][b] = table[b][a] = shared
    return table


def found_by(rankings: dict[str, list[str]]) -> dict[str, list[str]]:
    """For each doc id in any top-k list, the models that returned it."""
    owners: dict[str, list[str]] = {}
    for name, ids in rankings.items():
        for doc_id in ids:
            owners.setdefault(doc_id, []).append(name)
    return owners
