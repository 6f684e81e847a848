"""ANCE-style re-mining: the model's own best-ranked non-positive becomes the negative, likely false
negatives (ranked above the positive by the teacher) are skipped, and `e5 mine` writes a source that
the next stage reads."""

import json

import pytest
from test_train_model import write_pairs
from typer.testing import CliRunner

from embedder.registry import load_encoder
from trainer.config import DistillConfig, ModelConfig, OptimConfig, SourceConfig, TrainConfig
from trainer.data import Example, read_examples
from trainer.mining import mine_negatives, write_examples
from trainer.teacher import TeacherScorer
from trainer.train import train
from ui.cli import app

GROUP = [
    Example("cats purr happily", "happy cats purr", "the stock market fell", "pets", "a"),
    Example("dogs bark at night", "dogs bark loudly at night", None, "pets", "b"),
    Example("cats purr happily", "a purring cat is a happy cat", None, "pets", "c"),
    Example("markets fell today", "the stock market fell", None, "finance", "d"),
    Example("bonds rallied today", "bond prices rose", None, "finance", "e"),
]


def test_the_best_ranked_non_positive_of_the_same_source_becomes_the_negative():
    mined, count = mine_negatives(load_encoder("hash"), GROUP, depth=5, progress=False)
    assert count == len(GROUP)
    by_origin = {ex.origin: ex for ex in mined}
    # never one of the query's own positives, always a document of the same instruction's pool
    for ex in mined:
        assert ex.negative not in {g.positive for g in GROUP if g.query == ex.query}
        pool = {t for g in GROUP if g.instruction == ex.instruction for t in (g.positive, g.negative) if t}
        assert ex.negative in pool
    assert by_origin["e"].negative == "the stock market fell"  # the finance pool's only other document
    assert [ex.query for ex in mined] == [ex.query for ex in GROUP]  # order and queries kept


def test_a_candidate_the_teacher_ranks_above_the_positive_is_skipped():
    examples = [
        Example("red apples are sweet", "apples taste sweet", None, "t", "a"),
        Example("green pears", "red apples are sweet and crisp", None, "t", "b"),
        Example("blue whales", "whales are large mammals", None, "t", "c"),
    ]
    plain, _ = mine_negatives(load_encoder("hash"), examples, depth=3, progress=False)
    assert plain[0].negative == "red apples are sweet and crisp"  # ranked first by word overlap
    teacher = TeacherScorer(DistillConfig(teacher="hash"), load_encoder("hash"))
    filtered, _ = mine_negatives(load_encoder("hash"), examples, depth=3, teacher=teacher, progress=False)
    # the teacher, too, scores that candidate above the positive: a likely false negative, skipped
    assert filtered[0].negative == "whales are large mammals"


def test_no_candidate_keeps_the_old_negative_and_depth_is_validated():
    examples = [
        Example("cats purr", "felines", "old negative", "t", "a"),
        Example("why cats purr loudly", "cats purr loudly", None, "t", "b"),
    ]
    teacher = TeacherScorer(DistillConfig(teacher="hash"), load_encoder("hash"))
    mined, count = mine_negatives(load_encoder("hash"), examples, depth=1, teacher=teacher, progress=False)
    # the query's top candidate beats its positive in the teacher's eyes: no negative mined, the old one kept
    assert mined[0].negative == "old negative"
    # the other query's top 1 is its own positive: nothing within depth 1
    assert mined[1].negative is None and count == 0
    deeper, count = mine_negatives(load_encoder("hash"), examples, depth=3, progress=False)
    assert deeper[1].negative in {"felines", "old negative"} and count == 2
    with pytest.raises(ValueError, match="depth"):
        mine_negatives(load_encoder("hash"), examples, depth=0)


def test_written_examples_read_back(tmp_path):
    path = tmp_path / "mined.jsonl"
    write_examples(path, GROUP)
    back = read_examples(path)
    assert [(e.query, e.positive, e.negative, e.instruction) for e in back] == [
        (e.query, e.positive, e.negative, e.instruction) for e in GROUP
    ]


def test_e5_mine_writes_a_source_the_next_stage_trains_on(tmp_path, tiny_llm_dir):
    data = write_pairs(tmp_path / "pairs.jsonl")
    stage = TrainConfig(
        output_dir=str(tmp_path / "stage1"),
        data=(SourceConfig("jsonl", str(data)),),
        model=ModelConfig(
            model=str(tiny_llm_dir), query_max_length=40, doc_max_length=32, template="prompteol"
        ),
        optim=OptimConfig(batch_size=3, max_steps=2, warmup_steps=0, lr=1e-3),
    )
    adapter = train(stage, progress=False).adapter_dir
    config = tmp_path / "stage.toml"
    config.write_text(
        f'[[data]]\nkind = "jsonl"\npath = "{data}"\n\n[model]\nmodel = "{tiny_llm_dir}"\ntemplate = "prompteol"\n'
    )
    out = tmp_path / "mined.jsonl"
    result = CliRunner().invoke(app, ["mine", "-c", str(config), "--adapter", str(adapter), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 6 and f"{len(rows)} examples" in result.output
    positives = {row["positive"] for row in rows}
    assert all(row["negative"] in positives and row["negative"] != row["positive"] for row in rows)
    second = TrainConfig(
        **{
            **stage.__dict__,
            "output_dir": str(tmp_path / "stage2"),
            "data": (SourceConfig("jsonl", str(out)),),
        }
    )
    assert train(second, progress=False).steps == 2
    fast = ["mine", "-c", str(config), "--adapter", str(adapter), "-o", str(out), "--dtype", "bfloat16"]
    result = CliRunner().invoke(app, [*fast, "--max-length", "24"])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 6
    bad = CliRunner().invoke(app, [*fast[:-1], "int8"])
    assert bad.exit_code != 0 and "dtype must be" in bad.output
    missing = CliRunner().invoke(
        app, ["mine", "-c", str(config), "--adapter", str(tmp_path / "nope"), "-o", str(out)]
    )
    assert missing.exit_code != 0 and "does not exist" in missing.output
