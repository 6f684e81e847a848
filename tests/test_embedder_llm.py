"""The LLM encoder's mechanics on a tiny random Llama (real tokenizer, real forward passes)."""

import numpy as np
import pytest
import torch

from embedder.batching import tokenize_with_eos
from embedder.pooling import last_token_pool
from embedder.registry import load_encoder

TEXTS = [
    "a short one",
    "a considerably longer text that needs more tokens than the others do",
    "mid length text",
]


@pytest.fixture(scope="module")
def tiny(tiny_llm_dir):
    return load_encoder(str(tiny_llm_dir), template="paper", batch_size=2, batch_tokens=24)


def test_eos_is_appended_and_really_last(tiny):
    ids, truncated = tokenize_with_eos(tiny.tokenizer, TEXTS, max_length=512)
    assert truncated == 0
    eos = tiny.tokenizer.eos_token_id
    for row in ids:
        assert row[-1] == eos and eos not in row[:-1]


def test_overlong_text_is_truncated_keeping_eos_and_reported(tiny):
    ids, truncated = tokenize_with_eos(tiny.tokenizer, ["word " * 100, "short"], max_length=16)
    assert truncated == 1
    assert len(ids[0]) == 16 and ids[0][-1] == tiny.tokenizer.eos_token_id


def test_truncation_cuts_the_text_and_keeps_the_template_suffix(tiny):
    from embedder.batching import fit_in_template
    from embedder.prompts import get_template

    wrap = get_template("prompteol").format_document
    formatted, truncated = fit_in_template(
        tiny.tokenizer, ["word " * 200, "short"], [wrap, wrap], max_length=32
    )
    assert truncated == 1 and formatted[1] == wrap("short")
    assert formatted[0].endswith('" means in one word:"') and formatted[0].count("word") > 5
    ids, cut = tokenize_with_eos(tiny.tokenizer, formatted, max_length=32)
    assert cut == 0 and len(ids[0]) <= 32


def test_max_length_too_small_for_the_template_is_a_clear_error(tiny_llm_dir):
    tight = load_encoder(str(tiny_llm_dir), template="prompteol", max_length=8)
    with pytest.raises(ValueError, match="no room for text"):
        tight.encode_documents(["anything"])


def test_encoder_reports_truncation(tiny_llm_dir):
    short = load_encoder(str(tiny_llm_dir), max_length=8)
    short.encode_documents(["one two three four five six seven eight nine ten", "tiny"])
    assert short.last_truncated == 1


def test_shapes_unit_norm_and_determinism(tiny):
    first = tiny.encode_documents(TEXTS)
    assert first.shape == (3, tiny.dim) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(first, tiny.encode_documents(TEXTS))


def test_sorted_batching_restores_input_order(tiny):
    together = tiny.encode_documents(TEXTS)
    one_by_one = np.vstack([tiny.encode_documents([t]) for t in TEXTS])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_matches_a_plain_transformers_forward_with_left_padding(tiny):
    ids, _ = tokenize_with_eos(tiny.tokenizer, TEXTS, 512)
    width = max(map(len, ids))
    input_ids = torch.tensor([[0] * (width - len(r)) + r for r in ids])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in ids])
    with torch.inference_mode():
        hidden = tiny.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    reference = torch.nn.functional.normalize(last_token_pool(hidden, mask), dim=-1).numpy()
    np.testing.assert_allclose(tiny.encode_documents(TEXTS), reference, atol=1e-4)


def test_queries_carry_the_instruction_and_differ_from_documents(tiny):
    query = tiny.encode_queries(["a short one"], "Find it")
    other = tiny.encode_queries(["a short one"], "Something else entirely")
    doc = tiny.encode_documents(["a short one"])
    assert not np.allclose(query, doc) and not np.allclose(query, other)


def test_empty_list_gives_an_empty_matrix(tiny):
    assert tiny.encode_documents([]).shape == (0, tiny.dim)


@pytest.mark.parametrize("bad", [[""], [None], "not a list"])
def test_bad_input_is_refused(tiny, bad):
    with pytest.raises((TypeError, ValueError)):
        tiny.encode_documents(bad)


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_encoder(str(tmp_path / "no-model-here"))


def test_truncating_layers_changes_depth_and_name(tiny_llm_dir):
    shallow = load_encoder(str(tiny_llm_dir), num_layers=1)
    assert len(shallow.model.layers) == 1 and "L1" in shallow.name


def test_adapter_round_trip_changes_outputs_as_the_unmerged_peft_model_does(tiny, tiny_llm_dir, tmp_path):
    from peft import LoraConfig, get_peft_model

    from embedder.loading import load_backbone

    torch.manual_seed(1)
    lora = get_peft_model(
        load_backbone(str(tiny_llm_dir)),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    lora.save_pretrained(tmp_path / "adapter")
    adapted = load_encoder(str(tiny_llm_dir), template="paper", adapter=str(tmp_path / "adapter"))
    assert adapted.name != tiny.name and "lora-" in adapted.name

    ids, _ = tokenize_with_eos(tiny.tokenizer, TEXTS, 512)
    width = max(map(len, ids))
    batch = {
        "input_ids": torch.tensor([r + [0] * (width - len(r)) for r in ids]),
        "attention_mask": torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in ids]),
    }
    with torch.inference_mode():
        hidden = lora.eval()(**batch).last_hidden_state
    expected = torch.nn.functional.normalize(last_token_pool(hidden, batch["attention_mask"]), dim=-1).numpy()
    got = adapted.encode_documents(TEXTS)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert not np.allclose(got, tiny.encode_documents(TEXTS), atol=1e-3)


def test_compiled_encoder_matches_eager(tiny, tiny_llm_dir):
    compiled = load_encoder(str(tiny_llm_dir), template="paper", batch_size=2, batch_tokens=24, compile=True)
    for texts in (TEXTS, TEXTS[:1] + ["another length again, to change the shapes"]):  # dynamic shapes
        np.testing.assert_allclose(compiled.encode_documents(texts), tiny.encode_documents(texts), atol=1e-5)


def test_mean_pooling_averages_the_hidden_states_packed_or_padded(tiny, tiny_llm_dir):
    mean = load_encoder(str(tiny_llm_dir), template="paper", batch_tokens=30, pooling="mean")
    padded = load_encoder(str(tiny_llm_dir), template="paper", batch_size=3, packing=False, pooling="mean")
    ids, _ = tokenize_with_eos(tiny.tokenizer, TEXTS, 512)
    with torch.inference_mode():
        reference = [tiny.model(input_ids=torch.tensor([row])).last_hidden_state[0].mean(0) for row in ids]
    expected = torch.nn.functional.normalize(torch.stack(reference), dim=-1).numpy()
    np.testing.assert_allclose(mean.encode_documents(TEXTS), expected, atol=1e-5)
    np.testing.assert_allclose(padded.encode_documents(TEXTS), expected, atol=1e-5)
    assert "mean-pooled" in mean.name and "pooled" not in tiny.name
    assert not np.allclose(mean.encode_documents(TEXTS), tiny.encode_documents(TEXTS), atol=1e-3)


def test_packed_batches_equal_padded_batches(tiny, tiny_llm_dir):
    """Packing only removes padding: each text's vector is the one a padded batch gives it."""
    padded = load_encoder(str(tiny_llm_dir), template="paper", batch_size=3, packing=False)
    packed = load_encoder(str(tiny_llm_dir), template="paper", batch_tokens=30)
    texts = TEXTS + ["x", "yet another text of a middling sort of length"]
    np.testing.assert_allclose(packed.encode_documents(texts), padded.encode_documents(texts), atol=1e-5)
    np.testing.assert_allclose(
        packed.encode_queries(texts, "Find it"), padded.encode_queries(texts, "Find it"), atol=1e-5
    )
