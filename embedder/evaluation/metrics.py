"""Retrieval metrics through ``pytrec_eval``, with BEIR's conventions.

BEIR (``EvaluateRetrieval.evaluate``) drops a retrieved document whose id equals the query id
(ArguAna's queries are themselves corpus documents), scores the top 1000, and reports
nDCG@k, Recall@k, MAP@k (trec_eval's ``map_cut``) and MRR@k (reciprocal rank within the top k).
Scores are averaged over every judged query; a query that retrieved nothing counts as 0.

    >>> evaluate_run({"q1": {"d1": 1}}, {"q1": {"d2": 0.9, "d1": 0.5}})["mrr_at_10"]
    0.5
"""

from __future__ import annotations

import pytrec_eval

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]  # query id -> {doc id: score}

# pytrec_eval measure -> (its result key, our name)
MEASURES = {
    "ndcg_cut.10": ("ndcg_cut_10", "ndcg_at_10"),
    "ndcg_cut.100": ("ndcg_cut_100", "ndcg_at_100"),
    "recall.10": ("recall_10", "recall_at_10"),
    "recall.100": ("recall_100", "recall_at_100"),
    "map_cut.100": ("map_cut_100", "map"),
}
MRR_DEPTH = 10
METRIC_NAMES = ("ndcg_at_10", "recall_at_100", "mrr_at_10", "map", "ndcg_at_100", "recall_at_10")


def drop_identical_ids(run: Run) -> Run:
    """BEIR's ``ignore_identical_ids``: a query never retrieves itself."""
    return {qid: {did: s for did, s in docs.items() if did != qid} for qid, docs in run.items()}


def top_k(run: Run, k: int) -> Run:
    """The k best-scored documents per query."""
    return {qid: dict(sorted(docs.items(), key=lambda item: -item[1])[:k]) for qid, docs in run.items()}


def per_query(qrels: Qrels, run: Run, measures: set[str]) -> dict[str, dict[str, float]]:
    run = {qid: docs for qid, docs in run.items() if docs}  # trec_eval rejects empty rankings
    return pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)


def mean(scores: dict[str, dict[str, float]], key: str, queries: list[str]) -> float:
    return sum(scores.get(qid, {}).get(key, 0.0) for qid in queries) / len(queries)


def evaluate_run(qrels: Qrels, run: Run, ignore_identical_ids: bool = True) -> dict[str, float]:
    """Mean metrics over the judged queries of ``qrels`` (names as in ``METRIC_NAMES``)."""
    if not qrels:
        raise ValueError("qrels are empty: nothing to evaluate")
    if ignore_identical_ids:
        run = drop_identical_ids(run)
    queries = sorted(qrels)
    scores = per_query(qrels, run, set(MEASURES))
    metrics = {name: mean(scores, key, queries) for key, name in MEASURES.values()}
    reciprocal = per_query(qrels, top_k(run, MRR_DEPTH), {"recip_rank"})
    metrics["mrr_at_10"] = mean(reciprocal, "recip_rank", queries)
    return {name: round(metrics[name], 5) for name in METRIC_NAMES}
