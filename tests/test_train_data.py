"""Training data: readers, clear errors naming file and line, weights, dedup, leak check, BM25 negatives."""

import json

import pytest

from trainer.collate import task_batches, without_repeats
from trainer.config import LeakConfig, OptimConfig, SourceConfig, TrainConfig
from trainer.data import DataError, Example, read_examples, read_sts
from trainer.mixing import apply_weight, beir_examples, build_dataset, check_leaks, cosent_pairs, dedup
from trainer.train import batch_schedule


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(**fields):
    return json.dumps(fields)


def test_jsonl_reads_instruction_task_and_negative(tmp_path):
    path = write_lines(
        tmp_path / "a.jsonl",
        [
            row(query="q1", positive="p1", negative="n1", task="Retrieve answers"),
            row(query="q2", positive="p2", instruction="scifact"),
        ],
    )
    first, second = read_examples(path)
    assert (first.query, first.positive, first.negative, first.instruction) == (
        "q1",
        "p1",
        "n1",
        "Retrieve answers",
    )
    assert second.negative is None and second.instruction.startswith("Given a scientific claim")
    assert second.origin == f"{path}:2"


@pytest.mark.parametrize(
    "bad, problem",
    [
        ("{not json", "not valid JSON"),
        (row(positive="p", task="t"), "'query' is missing"),
        (row(query="   ", positive="p", task="t"), "'query' is empty"),
        (row(query="q", positive=3, task="t"), "'positive' is not a string"),
        (row(query="q", positive="p"), "no 'instruction' or 'task'"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_jsonl_names_file_and_line(tmp_path, bad, problem):
    path = write_lines(tmp_path / "bad.jsonl", [row(query="q", positive="p", task="t"), bad])
    with pytest.raises(DataError, match=problem) as err:
        read_examples(path)
    assert f"{path}:2" in str(err.value)


def test_sts_keeps_high_scores_and_rejects_bad_rows(tmp_path):
    good = write_lines(
        tmp_path / "sts.csv", ["g\tf\t2012\t1\t4.5\tA cat.\tA kitten.", "g\tf\t2012\t2\t1.0\tA dog.\tA car."]
    )
    (example,) = read_sts(good)
    assert (example.query, example.positive) == ("A cat.", "A kitten.")
    bad = write_lines(tmp_path / "bad.csv", ["g\tf\t2012\t1\tfive\tA.\tB."])
    with pytest.raises(DataError, match=f"{bad}:1: score 'five'"):
        read_sts(bad)


def test_weights_and_dedup(tmp_path):
    path = write_lines(
        tmp_path / "a.jsonl", [row(query=f"q{i}", positive=f"p{i}", task="t") for i in range(10)]
    )
    examples = read_examples(path)
    import random

    assert len(apply_weight(examples, 2.5, random.Random(0))) == 25
    assert len(apply_weight(examples, 0.3, random.Random(0))) == 3
    assert len(dedup(examples + examples)) == 10


def test_a_weight_above_one_repeats_its_source_and_sources_dedup_against_each_other(tmp_path):
    first = write_lines(
        tmp_path / "a.jsonl", [row(query=f"q{i}", positive=f"p{i}", task="t") for i in range(10)]
    )
    second = write_lines(
        tmp_path / "b.jsonl", [row(query=f"Q{i}", positive=f"P{i}", task="t") for i in range(5, 15)]
    )
    sources = [SourceConfig("jsonl", str(first), weight=2.0), SourceConfig("jsonl", str(second))]
    examples, counts = build_dataset(sources, LeakConfig())
    assert counts[str(first)] == {"read": 10, "weighted": 20}
    # q5..q9 of the second file repeat the first's (case-insensitive): only its five new rows remain
    assert counts[str(second)] == {"read": 10, "weighted": 5}
    assert len(examples) == counts["total"] == 25
    assert sum(ex.query == "q3" for ex in examples) == 2


def make_tiny_beir(root):
    """A four-document BEIR folder with one train and one test query."""
    folder = root / "mini"
    (folder / "qrels").mkdir(parents=True)
    docs = {
        "d1": "cats purr when happy",
        "d2": "cats and dogs fight",
        "d3": "the stock market fell",
        "d4": "dogs bark at night",
    }
    write_lines(
        folder / "corpus.jsonl", [json.dumps({"_id": k, "title": "", "text": v}) for k, v in docs.items()]
    )
    write_lines(
        folder / "queries.jsonl",
        [
            json.dumps({"_id": "q1", "text": "why do cats purr"}),
            json.dumps({"_id": "q2", "text": "do dogs bark"}),
        ],
    )
    write_lines(folder / "qrels" / "train.tsv", ["query-id\tcorpus-id\tscore", "q1\td1\t1"])
    write_lines(folder / "qrels" / "test.tsv", ["query-id\tcorpus-id\tscore", "q2\td4\t1"])
    return folder


@pytest.fixture
def tiny_beir(tmp_path):
    return make_tiny_beir(tmp_path)


def test_beir_train_split_with_bm25_hard_negative(tiny_beir):
    (example,) = beir_examples(SourceConfig("beir", str(tiny_beir), task="Find documents"))
    assert example.query == "why do cats purr" and example.positive == "cats purr when happy"
    assert example.negative == "cats and dogs fight"  # BM25's best document that is not judged relevant
    assert example.instruction == "Find documents"


def test_leak_of_an_evaluation_query_names_the_line(tmp_path, tiny_beir):
    path = write_lines(
        tmp_path / "a.jsonl",
        [row(query="fine", positive="p", task="t"), row(query="Do  dogs BARK", positive="p", task="t")],
    )
    leak = LeakConfig(beir=(str(tiny_beir),), split="test")
    with pytest.raises(DataError, match=f"{path}:2: evaluation-split text enters training"):
        check_leaks(read_examples(path), leak)
    kept = check_leaks(read_examples(path), LeakConfig(beir=(str(tiny_beir),), policy="drop"))
    assert [ex.query for ex in kept] == ["fine"]


def test_build_dataset_counts_sources(tmp_path, tiny_beir):
    path = write_lines(
        tmp_path / "a.jsonl", [row(query=f"q{i}", positive=f"p{i}", task="t") for i in range(4)]
    )
    sources = [SourceConfig("jsonl", str(path), weight=0.5), SourceConfig("beir", str(tiny_beir), task="t")]
    examples, counts = build_dataset(sources, LeakConfig(beir=(str(tiny_beir),), documents=False))
    assert counts[str(path)] == {"read": 4, "weighted": 2} and counts["total"] == len(examples) == 3


def test_cli_reports_bad_data_with_file_and_line(tmp_path):
    from typer.testing import CliRunner

    from ui.cli import app

    bad = write_lines(
        tmp_path / "bad.jsonl", [row(query="q", positive="p", task="t"), row(query="q2", task="t")]
    )
    config = tmp_path / "run.toml"
    config.write_text(f'output_dir = "{tmp_path / "out"}"\n[[data]]\nkind = "jsonl"\npath = "{bad}"\n')
    result = CliRunner().invoke(app, ["train", "--config", str(config)])
    assert result.exit_code == 2
    assert f"{bad}:2: field 'positive' is missing" in result.output


def test_cosent_pairs_keep_every_grade_and_drop_evaluation_sentences(tmp_path):
    rows = [
        "g\tf\t2012\t1\t4.5\tA cat.\tA kitten.",
        "g\tf\t2012\t2\t1.0\tA dog.\tA car.",
        "g\tf\t2012\t3\t2.0\tX.\tY.",
    ]
    train_file = write_lines(tmp_path / "sts-train.csv", rows)
    dev_file = write_lines(tmp_path / "sts-dev.csv", ["g\tf\t2012\t9\t3.0\tA  DOG.\tSomething else."])
    pairs = cosent_pairs(str(train_file), LeakConfig())
    assert pairs.scores == (4.5, 1.0, 2.0) and pairs.second == ("A kitten.", "A car.", "Y.")
    kept = cosent_pairs(str(train_file), LeakConfig(sts=(str(dev_file),), policy="drop"))
    assert kept.first == ("A cat.", "X.") and kept.scores == (4.5, 2.0)
    with pytest.raises(DataError, match=f"{train_file}:2: evaluation-split text enters training"):
        cosent_pairs(str(train_file), LeakConfig(sts=(str(dev_file),)))


def example(query: str, positive: str, task: str) -> Example:
    return Example(query, positive, None, task, f"mem:{query}:{positive}")


def test_task_batches_hold_one_task_each_full_and_seeded():
    rows = [example(f"{task} q{i}", f"{task} d{i}", task) for task in "abc" for i in range(10)]
    lengths = [len(r.positive) for r in rows]
    batches = task_batches(rows, lengths, batch_size=4, bucket_batches=2, seed=1)
    assert len(batches) == 3 * 2  # two full batches of four per task of ten; the rest waits for an epoch
    assert all(len(b) == 4 and len({rows[i].instruction for i in b}) == 1 for b in batches)
    assert len({i for b in batches for i in b}) == 24
    assert batches == task_batches(rows, lengths, 4, 2, seed=1) != task_batches(rows, lengths, 4, 2, seed=2)


def test_a_batch_keeps_one_example_per_query_and_per_positive():
    rows = [example("q", "a", "t"), example("q", "b", "t"), example("r", "a", "t"), example("s", "c", "t")]
    assert without_repeats([0, 1, 2, 3], rows) == [0, 3]
    assert without_repeats([1, 2], rows) == [1, 2]


def test_the_schedule_uses_task_batches_when_asked():
    rows = [example(f"{task} q{i}", f"{task} d{i}", task) for i in range(8) for task in "ab"]  # interleaved
    data = (SourceConfig(kind="jsonl", path="unused.jsonl"),)
    mixed = batch_schedule(rows, TrainConfig(data=data, optim=OptimConfig(batch_size=4, max_steps=12)))
    by_task = batch_schedule(
        rows, TrainConfig(data=data, optim=OptimConfig(batch_size=4, max_steps=12, task_batches=True))
    )
    assert len(mixed) == len(by_task) == 12
    assert all(len({rows[i].instruction for i in b}) == 1 for b in by_task)
    assert any(len({rows[i].instruction for i in b}) == 2 for b in mixed)
