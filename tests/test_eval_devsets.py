"""Dev sets from STS-B TSV and query/positive/negative JSONL files, scored with the hashing encoder."""

from __future__ import annotations

import json

import pytest

from embedder.backends.hashing import HashingEncoder
from embedder.evaluation.devsets import pairs_retrieval_set, read_sts_pairs, sts_spearman
from embedder.evaluation.retrieval import evaluate_encoder
from embedder.instructions import instruction_for

TASK = "Given a question, retrieve Wikipedia sentences that answer the question"
ROWS = [
    {
        "query": "why do penguins not fly",
        "positive": "penguins have flippers instead of wings for flight",
        "negative": "volcanoes release lava and ash",
        "task": TASK,
    },
    {
        "query": "why do penguins not fly",
        "positive": "penguins do not fly because they swim",
        "negative": "tides follow the moon",
        "task": TASK,
    },
    {"query": "what causes ocean tides", "positive": "tides follow the moon", "task": TASK},
]


def write_jsonl(path, rows) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) + "\n", encoding="utf-8")
    return str(path)


def test_pairs_file_becomes_a_retrieval_set(tmp_path):
    data, instruction = pairs_retrieval_set(write_jsonl(tmp_path / "wikiqa" / "dev.jsonl", ROWS))
    assert (data.name, data.split, instruction) == ("wikiqa", "dev", TASK)
    assert data.queries == {"q0": "why do penguins not fly", "q1": "what causes ocean tides"}
    texts = {doc_id: text for doc_id, (_, text) in data.corpus.items()}
    assert len(texts) == 4  # "tides follow the moon" is a negative of q0 and the positive of q1: one document
    assert {texts[d] for d in data.qrels["q0"]} == {ROWS[0]["positive"], ROWS[1]["positive"]}
    assert [texts[d] for d in data.qrels["q1"]] == ["tides follow the moon"]
    metrics = evaluate_encoder(HashingEncoder(), data, instruction, cache=False)
    assert metrics["ndcg_at_10"] > 0.9  # every positive shares words with its query, no negative does


def test_known_task_name_maps_to_the_paper_instruction(tmp_path):
    rows = [{**row, "task": "sts"} for row in ROWS]
    _, instruction = pairs_retrieval_set(write_jsonl(tmp_path / "x" / "dev.jsonl", rows))
    assert instruction == instruction_for("sts")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"query": "q", "positive": "p"}], "dev.jsonl:1: row has no 'task'"),
        ([ROWS[0], {**ROWS[1], "task": "other"}], "mixes 2 tasks"),
        ([], "has no rows"),
    ],
)
def test_bad_pairs_files_are_named(tmp_path, rows, message):
    with pytest.raises(ValueError, match=message):
        pairs_retrieval_set(write_jsonl(tmp_path / "x" / "dev.jsonl", rows))


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "dev.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"dev.jsonl:2: not valid JSON"):
        pairs_retrieval_set(path)


def write_sts(path, rows) -> str:
    path.write_text(
        "".join(f"main\tfile\t2012\t{i:04d}\t{score}\t{a}\t{b}\n" for i, (score, a, b) in enumerate(rows)),
        encoding="utf-8",
    )
    return str(path)


STS_ROWS = [
    (5.0, "a man is playing a guitar", "a man is playing a guitar"),
    (3.0, "a man is playing a guitar", "a man is playing the piano"),
    (0.5, "a man is playing a guitar", "the stock market fell sharply today"),
]


def test_sts_spearman_follows_the_gold_order(tmp_path):
    pairs = read_sts_pairs(write_sts(tmp_path / "sts-dev.csv", STS_ROWS))
    assert (pairs.name, pairs.scores) == ("sts-dev", (5.0, 3.0, 0.5))
    assert pairs.first[2] == "a man is playing a guitar" and pairs.second[2].startswith("the stock")
    assert sts_spearman(HashingEncoder(), pairs) == pytest.approx(100)
    reversed_gold = [(5.0 - score, a, b) for score, a, b in STS_ROWS]
    assert sts_spearman(
        HashingEncoder(), read_sts_pairs(write_sts(tmp_path / "r.csv", reversed_gold))
    ) == pytest.approx(-100)


def test_bad_sts_rows_are_named(tmp_path):
    path = tmp_path / "sts.csv"
    path.write_text("main\tfile\t2012\t0001\tfive\ta\tb\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"sts.csv:1: score 'five' is not a number"):
        read_sts_pairs(path)
    path.write_text("main\tfile\t2012\t0001\t5.0\ta\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"sts.csv:1: expected at least 7"):
        read_sts_pairs(path)
