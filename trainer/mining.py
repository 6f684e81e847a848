"""Hard negatives mined by the model being trained (ANCE-style re-mining between stages).

BM25 negatives are what a lexical ranker confuses; once the embedder has trained a stage, the negatives
that teach it most are the ones *it* ranks high. :func:`mine_negatives` ranks, for every training query,
the documents of its own source (every distinct positive and negative of the examples that share its
instruction) with the current encoder, and takes the best-ranked one that is not one of the query's
positives. A candidate that the teacher scores above the positive is a likely false negative (an
unjudged relevant document) and is skipped. The result is written as a JSONL source for the next stage.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from .data import Example, indices_by_task

if TYPE_CHECKING:
    from embedder.protocol import Encoder

    from .config import TrainConfig
    from .teacher import TeacherScorer


def mine_negatives(
    encoder: Encoder,
    examples: Sequence[Example],
    depth: int = 30,
    teacher: TeacherScorer | None = None,
    progress: bool = True,
) -> tuple[list[Example], int]:
    """``(examples, mined)``: each example with its negative replaced by the highest-ranked document of
    its pool among the top ``depth`` that is not one of its query's positives and that the teacher (if
    any) does not score above the positive; an example with no such candidate keeps its old negative.
    ``mined`` counts the replaced negatives."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    by_instruction = indices_by_task(examples)
    out, mined = list(examples), 0
    groups = tqdm(by_instruction.items(), desc="mining", unit="source", disable=not progress)
    for instruction, members in groups:
        group = [examples[i] for i in members]
        for i, negative in zip(
            members, pool_negatives(encoder, group, instruction, depth, teacher), strict=True
        ):
            if negative is not None:
                out[i] = replace(examples[i], negative=negative)
                mined += 1
    return out, mined


def pool_negatives(
    encoder: Encoder,
    group: Sequence[Example],
    instruction: str,
    depth: int,
    teacher: TeacherScorer | None,
) -> list[str | None]:
    """The mined negative of each example of one instruction's group, ``None`` where none qualifies."""
    pool = list(dict.fromkeys(text for ex in group for text in (ex.positive, ex.negative) if text))
    queries = list(dict.fromkeys(ex.query for ex in group))
    positives: dict[str, set[str]] = defaultdict(set)
    for ex in group:
        positives[ex.query].add(ex.positive)
    docs = np.asarray(encoder.encode_documents(pool), dtype=np.float32)
    query_vectors = np.asarray(encoder.encode_queries(queries, instruction), dtype=np.float32)
    top = np.argsort(-(query_vectors @ docs.T), axis=1, kind="stable")[:, :depth]
    ranked = {query: [pool[j] for j in row] for query, row in zip(queries, top, strict=True)}
    negatives = []
    for ex in group:
        candidates = [text for text in ranked[ex.query] if text not in positives[ex.query]]
        if teacher is not None:
            negatives.append(teacher.first_true_negative(ex, candidates))
        else:
            negatives.append(candidates[0] if candidates else None)
    return negatives


def write_examples(path: str | Path, examples: Sequence[Example]) -> None:
    """Examples as JSONL rows ``{query, positive, negative?, instruction}`` that ``read_examples`` reads
    back (a ``jsonl`` source of the next stage); written to a temporary file, then renamed."""
    path = Path(path)
    staging = path.with_suffix(path.suffix + ".tmp")
    with staging.open("w", encoding="utf-8") as file:
        for ex in examples:
            row = {"query": ex.query, "positive": ex.positive, "instruction": ex.instruction}
            if ex.negative:
                row["negative"] = ex.negative
            file.write(json.dumps(row, ensure_ascii=False) + "\n")
    staging.replace(path)


def mine_stage(
    config: TrainConfig,
    adapter: str | Path,
    output: str | Path,
    depth: int = 30,
    dtype: str = "auto",
    max_length: int | None = None,
) -> tuple[int, int]:
    """Re-mine the negatives of ``config``'s training data with the adapter a stage produced (on the
    config's base, template and depth) and write them to ``output`` (JSONL); the config's teacher, if any,
    filters false negatives. ``dtype`` and ``max_length`` override the encoder's (``bfloat16`` halves the
    encoding time on an AMX CPU and a ranking needs no more precision). Returns ``(examples written,
    negatives mined)``."""
    from embedder.loading import resolve_model
    from embedder.registry import load_encoder

    from .export import embedder_settings
    from .mixing import build_dataset, dedup
    from .teacher import TeacherScorer

    examples, _ = build_dataset(config.data, config.leak, config.seed)
    examples = dedup(examples)  # a weighted source's copies would be mined alike
    settings = embedder_settings(config) | {"dtype": dtype}
    if max_length:
        settings["max_length"] = max_length
    encoder = load_encoder(resolve_model(config.model.model), adapter=str(adapter), **settings)
    teacher = TeacherScorer(config.distill) if config.distill.teacher else None
    mined, count = mine_negatives(encoder, examples, depth, teacher)
    write_examples(output, mined)
    return len(mined), count
