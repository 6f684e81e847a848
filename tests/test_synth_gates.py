"""Parsing, quality gates, prompts, languages and configuration of synthetic data (no model, no server)."""

from __future__ import annotations

import random

import pytest

from trainer.synth.config import EndpointConfig, SynthConfig
from trainer.synth.gates import (
    GateConfig,
    Rejected,
    check_example,
    check_task,
    duplicate_keys,
    normalise,
    script_fraction,
)
from trainer.synth.languages import DEFAULT_WEIGHTS, PAPER_LANGUAGES, parse_languages
from trainer.synth.parsing import ParseError, extract_json, extract_tasks
from trainer.synth.prompts import (
    brainstorm_messages,
    categories,
    example_messages,
    get_category,
    sample_params,
)

GATES = GateConfig()
DOC = (
    "Rivers shape valleys over thousands of years as water carries sand and stones downstream, "
    "cutting deeper channels through soft rock while floods spread fertile soil across the plains."
)
OTHER = (
    "Glaciers move slowly under their own weight and grind mountains into bowls, leaving long "
    "lakes and scattered boulders behind when the climate warms and the ice finally retreats."
)
PARAMS = {"language": "English"}


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        'Sure! Here it is:\n```json\n{"a": 1}\n```\nLet me know if you need more.',
        '```\n{"a": 1}\n```',
        'The answer is {"a": 1} and that is all. }',
        'noise {not json} then {"a": 1}',
    ],
)
def test_extract_json_tolerates_fences_and_chatter(text):
    assert extract_json(text) == {"a": 1}


@pytest.mark.parametrize("text", ['{"a": 1', "no json here", '```json\n{"a": \n```'])
def test_extract_json_rejects_malformed(text):
    with pytest.raises(ParseError):
        extract_json(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"tasks": ["Find recipes for a dish.", "Match a word to its definition."]}',
        "['Find recipes for a dish.', 'Match a word to its definition.']",
        'Tasks:\n```python\n["Find recipes for a dish.", "Match a word to its definition."]\n```',
        '{"tasks": [{"title": "Find recipes for a dish."}, {"task": "Match a word to its definition."}]}',
    ],
)
def test_extract_tasks_accepts_lists_objects_and_python(text):
    assert extract_tasks(text) == ["Find recipes for a dish.", "Match a word to its definition."]


def test_extract_tasks_needs_strings():
    with pytest.raises(ParseError, match="no task strings"):
        extract_tasks('{"tasks": [1, 2]}')


def short_long(query="how do rivers carve valleys", positive=DOC, negative=OTHER) -> dict:
    return {"user_query": query, "positive_document": positive, "hard_negative_document": negative}


def test_valid_example_maps_keys_to_roles():
    triple = check_example(get_category("short-long"), short_long(), PARAMS, GATES)
    assert triple == {"query": "how do rivers carve valleys", "positive": DOC, "negative": OTHER}


@pytest.mark.parametrize(
    "value, reason",
    [
        (["not", "an", "object"], "schema"),
        ({"user_query": "q", "positive_document": DOC}, "schema"),
        (short_long(positive=42), "schema"),
        (short_long(query="   "), "schema"),
        (short_long(positive="Too short to be a document."), "length"),
        (short_long(query=" ".join(["word"] * 80)), "length"),
        (short_long(query="как реки формируют долины"), "language"),
        (short_long(negative=DOC.upper()), "degenerate"),
        (short_long(query="water carries sand and stones downstream"), "copied_query"),
    ],
)
def test_gates_reject_with_reason(value, reason):
    with pytest.raises(Rejected) as err:
        check_example(get_category("short-long"), value, PARAMS, GATES)
    assert err.value.reason == reason


def test_short_query_inside_document_is_allowed():
    triple = check_example(get_category("short-long"), short_long(query="rivers"), PARAMS, GATES)
    assert triple["query"] == "rivers"


def test_bitext_checks_each_side_in_its_own_script():
    bitext = get_category("bitext")
    params = {"src_language": "Russian", "tgt_language": "English"}
    good = {
        "S1": "Кошка спит на тёплом окне.",
        "S2": "The cat sleeps on the warm window.",
        "S3": "The dog sleeps on the cold window.",
    }
    assert check_example(bitext, good, params, GATES)["query"] == good["S1"]
    with pytest.raises(Rejected, match="language"):
        check_example(bitext, {**good, "S1": "The cat sleeps."}, params, GATES)


def test_script_fraction_counts_letters_only():
    assert script_fraction("Привет, мир! 123", "Cyrillic") == 1.0
    assert script_fraction("日本語のテキスト", "Han|Hiragana|Katakana") == 1.0
    assert script_fraction("12345 !!", "Latin") == 1.0
    assert script_fraction("hello мир", "Latin") == pytest.approx(5 / 8)


def test_near_duplicates_share_the_near_key_only():
    a = {"query": "What is a river?", "positive": "A river is flowing water."}
    b = {"query": "what is a RIVER", "positive": "A river is flowing water!"}
    assert normalise(a["query"]) == normalise(b["query"]) == "what is a river"
    (exact_a, near_a), (exact_b, near_b) = duplicate_keys(a), duplicate_keys(b)
    assert exact_a != exact_b and near_a == near_b
    assert duplicate_keys(dict(a)) == (exact_a, near_a)


def test_check_task_bounds_length():
    assert check_task("  Retrieve   recipes for a dish  ", GATES) == "Retrieve recipes for a dish"
    with pytest.raises(Rejected, match="task_length"):
        check_task("Retrieve", GATES)


@pytest.mark.parametrize("name", list(categories()))
def test_prompts_fill_every_placeholder_deterministically(name):
    category = get_category(name)
    params = sample_params(category, random.Random("seed/key"), DEFAULT_WEIGHTS)
    assert params == sample_params(category, random.Random("seed/key"), DEFAULT_WEIGHTS)
    for placeholder, values in category.placeholders.items():
        assert params[placeholder] in values
    text = example_messages(category, params, "Retrieve recipes for a dish.")[0]["content"]
    assert "{" not in text and "}" not in text
    for key in category.keys:
        assert f'"{key}"' in text
    if category.two_step:
        assert "Retrieve recipes for a dish." in text
        assert "about 20 strings" in brainstorm_messages(category, 20)[0]["content"]


def test_bitext_samples_two_different_languages():
    bitext = get_category("bitext")
    for seed in range(30):
        params = sample_params(bitext, random.Random(seed), (("English", 5.0), ("German", 1.0)))
        assert {params["src_language"], params["tgt_language"]} == {"English", "German"}


def test_languages_presets_and_specs():
    assert len(PAPER_LANGUAGES) == 93
    assert dict(parse_languages("paper"))["English"] > dict(parse_languages("paper"))["Swahili"]
    assert parse_languages("english:0.7, German:0.3,French") == (
        ("English", 0.7),
        ("German", 0.3),
        ("French", 1.0),
    )
    with pytest.raises(ValueError, match="unknown language 'Klingon'"):
        parse_languages("English,Klingon")
    with pytest.raises(ValueError, match="not a number"):
        parse_languages("English:lots")
    weights = dict(DEFAULT_WEIGHTS)
    assert weights["English"] / sum(weights.values()) == pytest.approx(0.5)


def test_config_validation_and_split():
    assert SynthConfig(n=7, types=("sts", "bitext", "short-long")).per_type() == {
        "sts": 3,
        "bitext": 2,
        "short-long": 2,
    }
    with pytest.raises(ValueError, match="types"):
        SynthConfig(types=("short-long", "poems"))
    with pytest.raises(ValueError, match="bitext needs at least two languages"):
        SynthConfig(types=("bitext",), languages=(("English", 1.0),))
    with pytest.raises(ValueError, match="top_p"):
        EndpointConfig(top_p=0.0)
    with pytest.raises(ValueError, match="response_format"):
        EndpointConfig(response_format="yaml")
    assert EndpointConfig(model="gpt-4o-mini").cost_usd(1_000_000, 1_000_000) == pytest.approx(0.75)
    assert EndpointConfig(model="local", price=(1.0, 2.0)).cost_usd(500_000, 250_000) == pytest.approx(1.0)
