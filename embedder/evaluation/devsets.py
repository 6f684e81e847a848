"""Dev sets that are not BEIR folders: STS Benchmark pairs and query/positive/negative JSON lines.

``read_sts_pairs`` reads an STS-B TSV (genre, file, year, id, score, sentence1, sentence2) and
``sts_spearman`` scores an encoder on it: Spearman correlation (x100) of the cosine of the two
sentences' vectors with the gold score, each sentence encoded as a query with the STS instruction
(the paper's protocol for symmetric tasks: the instruction on both sides). ``pairs_retrieval_set``
turns a training-style JSONL file (``query``, ``positive``, optional ``negative``, ``task``) into a
small retrieval set: its distinct queries against every distinct sentence in the file, the positives
judged relevant.

    >>> data, instruction = pairs_retrieval_set("shared/data/train/wikiqa/dev.jsonl")
    >>> evaluate_encoder(load_encoder("minilm"), data, instruction)["ndcg_at_10"]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..datasets import BeirDataset
from ..instructions import TASKS

if TYPE_CHECKING:
    from ..protocol import Encoder


@dataclass(frozen=True)
class StsPairs:
    """Sentence pairs with gold similarity scores (STS-B: 0 to 5)."""

    name: str
    first: tuple[str, ...]
    second: tuple[str, ...]
    scores: tuple[float, ...]


def read_sts_pairs(path: str | Path) -> StsPairs:
    """Every row of an STS Benchmark TSV file, with the line number in any format error."""
    path = Path(path)
    first, second, scores = [], [], []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 7:
                raise ValueError(
                    f"{path}:{number}: expected at least 7 tab-separated fields, got {len(fields)}"
                )
            try:
                scores.append(float(fields[4]))
            except ValueError:
                raise ValueError(f"{path}:{number}: score {fields[4]!r} is not a number") from None
            first.append(fields[5].strip())
            second.append(fields[6].strip())
    if len(scores) < 2:
        raise ValueError(f"{path} has {len(scores)} pairs; a correlation needs at least 2")
    return StsPairs(path.stem, tuple(first), tuple(second), tuple(scores))


def sts_spearman(encoder: Encoder, pairs: StsPairs, instruction: str = TASKS["sts"]) -> float:
    """Spearman correlation (x100) of cosine(s1, s2) with the gold scores, both sentences encoded as
    queries with ``instruction`` (as the paper scores symmetric tasks)."""
    from scipy.stats import spearmanr

    a, b = (
        np.asarray(encoder.encode_queries(list(side), instruction), dtype=np.float64)
        for side in (pairs.first, pairs.second)
    )
    cosine = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return 100 * float(spearmanr(cosine, pairs.scores).statistic)


def pairs_retrieval_set(path: str | Path) -> tuple[BeirDataset, str]:
    """A retrieval set and its query instruction from a query/positive/negative JSONL file.

    Queries are the distinct query texts, the corpus every distinct positive and negative sentence, the
    qrels each query's positives; the instruction is the rows' ``task`` (a known task name maps to the
    paper's instruction). Named after the file's folder (``wikiqa``), split after its stem (``dev``)."""
    path = Path(path)
    queries: dict[str, str] = {}  # text -> id
    corpus: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    tasks = set()
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: not valid JSON ({err.msg})") from None
            missing = [key for key in ("query", "positive", "task") if not str(row.get(key) or "").strip()]
            if missing:
                raise ValueError(f"{path}:{number}: row has no {', '.join(map(repr, missing))}")
            tasks.add(row["task"].strip())
            query_id = queries.setdefault(row["query"].strip(), f"q{len(queries)}")
            for key in ("positive", "negative"):
                if str(row.get(key) or "").strip():
                    corpus.setdefault(row[key].strip(), f"d{len(corpus)}")
            qrels.setdefault(query_id, {})[corpus[row["positive"].strip()]] = 1
    if not qrels:
        raise ValueError(f"{path} has no rows")
    if len(tasks) > 1:
        raise ValueError(
            f"{path} mixes {len(tasks)} tasks ({', '.join(sorted(tasks))}); one instruction is needed"
        )
    task = tasks.pop()
    dataset = BeirDataset(
        path.parent.name,
        path.stem,
        {doc_id: ("", text) for text, doc_id in corpus.items()},
        {query_id: text for text, query_id in queries.items()},
        qrels,
    )
    return dataset, TASKS.get(task.lower(), task)
