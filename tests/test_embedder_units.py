"""Pure pieces of the embedder: pooling, instruction formatting, templates, batching, input checks."""

import numpy as np
import pytest
import torch

from embedder.backends.openai_api import request_batches
from embedder.batching import length_sorted_batches, pad_batch
from embedder.instructions import BEIR, instruction_for
from embedder.pooling import last_token_pool
from embedder.prompts import format_query, get_template
from embedder.protocol import check_texts, l2_normalize

HIDDEN = torch.arange(2 * 4 * 3, dtype=torch.float32).view(2, 4, 3)


def test_last_token_pool_right_padding():
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    assert torch.equal(last_token_pool(HIDDEN, mask), torch.stack([HIDDEN[0, 2], HIDDEN[1, 1]]))


def test_last_token_pool_left_padding():
    mask = torch.tensor([[0, 1, 1, 1], [0, 0, 1, 1]])
    assert torch.equal(last_token_pool(HIDDEN, mask), torch.stack([HIDDEN[0, 3], HIDDEN[1, 3]]))


def test_last_token_pool_all_padding_row_is_zero():
    mask = torch.tensor([[1, 1, 1, 1], [0, 0, 0, 0]])
    pooled = last_token_pool(HIDDEN, mask)
    assert torch.equal(pooled[0], HIDDEN[0, 3])
    assert torch.equal(pooled[1], torch.zeros(3))


def test_format_query_exact_string():
    assert format_query("Retrieve parallel sentences.", "Guten Tag") == (
        "Instruct: Retrieve parallel sentences.\nQuery: Guten Tag"
    )


def test_paper_template_matches_format_query_and_leaves_documents_bare():
    paper = get_template("paper")
    assert paper.format_query("Find it", "q") == format_query("Find it", "q")
    assert paper.format_document("a document") == "a document"


def test_prompteol_template_wraps_documents():
    assert get_template("prompteol").format_document("x") == 'This sentence : "x" means in one word:"'


def test_unknown_template_names_the_valid_ones():
    with pytest.raises(ValueError, match="paper"):
        get_template("nope")


def test_instruction_for_paper_tasks():
    assert instruction_for("SciFact") == BEIR["scifact"]
    assert instruction_for("cqadupstack-android") == BEIR["cqadupstack"]
    assert instruction_for("sts") == "Retrieve semantically similar text."
    assert instruction_for("bitext") == "Retrieve parallel sentences."
    with pytest.raises(ValueError, match="known tasks"):
        instruction_for("no-such-task")


def test_pad_batch_both_sides():
    right = pad_batch([[5, 6, 7], [8]], pad_id=0)
    assert right["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert right["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    left = pad_batch([[5, 6, 7], [8]], pad_id=0, side="left")
    assert left["input_ids"].tolist() == [[5, 6, 7], [0, 0, 8]]
    assert left["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]


def test_length_sorted_batches_cover_every_index_once_longest_first():
    batches = list(length_sorted_batches([3, 9, 1, 7, 5], batch_size=2))
    assert batches == [[1, 3], [4, 0], [2]]


@pytest.mark.parametrize(
    ("texts", "error", "message"),
    [
        ("a string", TypeError, "single string"),
        (["ok", 3], TypeError, "index 1 is int"),
        (["ok", "  "], ValueError, "index 1 is empty"),
        (None, TypeError, "NoneType"),
    ],
)
def test_check_texts_names_the_problem(texts, error, message):
    with pytest.raises(error, match=message):
        check_texts(texts)


def test_l2_normalize_unit_rows_and_zero_rows():
    out = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_request_batches_respect_count_and_token_limits():
    texts = ["x" * 30, "y" * 30, "z" * 30, "w"]
    assert request_batches(texts, max_inputs=2) == [texts[:2], texts[2:]]
    assert request_batches(texts, max_inputs=10, max_tokens=15) == [[texts[0]], [texts[1]], texts[2:]]


def test_pack_batch_lays_texts_end_to_end_with_restarting_positions():
    from embedder.packing import pack_batch

    packed = pack_batch([[5, 6, 7], [8], [9, 10]])
    assert packed["input_ids"].tolist() == [[5, 6, 7, 8, 9, 10]]
    assert packed["position_ids"].tolist() == [[0, 1, 2, 0, 0, 1]]
    assert packed["cu_seq_lens_q"].tolist() == [0, 3, 4, 6]
    with pytest.raises(ValueError, match="non-empty"):
        pack_batch([[1], []])


def test_last_token_pool_packed_takes_each_span_end():
    from embedder.pooling import last_token_pool_packed

    hidden = HIDDEN[:1]  # (1, 4 tokens, 3): spans [0, 1) and [1, 4)
    pooled = last_token_pool_packed(hidden, torch.tensor([0, 1, 4]))
    assert torch.equal(pooled, torch.stack([HIDDEN[0, 0], HIDDEN[0, 3]]))


def test_mean_pool_averages_real_tokens_only_on_either_side_of_the_padding():
    from embedder.pooling import mean_pool

    right = mean_pool(HIDDEN, torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]]))
    left = mean_pool(HIDDEN, torch.tensor([[0, 1, 1, 1], [0, 0, 0, 0]]))
    assert torch.equal(right, torch.stack([HIDDEN[0, :3].mean(0), HIDDEN[1, :2].mean(0)]))
    assert torch.equal(left[0], HIDDEN[0, 1:].mean(0))
    assert torch.equal(left[1], torch.zeros(3))  # an all-padding row: zeros, not NaN


def test_packed_pooling_matches_padded_pooling_over_the_same_texts():
    from embedder.pooling import POOLING

    lengths = [1, 3, 2]
    padded = torch.zeros(3, 3, 5)
    packed = torch.randn(1, sum(lengths), 5)
    mask = torch.zeros(3, 3, dtype=torch.long)
    start = 0
    for row, length in enumerate(lengths):
        padded[row, :length], mask[row, :length] = packed[0, start : start + length], 1
        start += length
    offsets = torch.tensor([0, 1, 4, 6])
    for name, (pool_padded, pool_packed) in POOLING.items():
        torch.testing.assert_close(pool_packed(packed, offsets), pool_padded(padded, mask), msg=name)


def test_unknown_pooling_is_a_clear_error():
    from embedder.config import EmbedderConfig
    from embedder.pooling import get_pooling

    with pytest.raises(ValueError, match="unknown pooling 'max'.*last.*mean"):
        get_pooling("max")
    assert EmbedderConfig(pooling="mean").pooling == "mean"


def test_token_budget_batches_fill_to_the_budget_longest_first():
    from embedder.batching import token_budget_batches

    batches = list(token_budget_batches([3, 9, 4, 2, 12], max_tokens=10))
    assert batches == [[4], [1], [2, 0, 3]]  # 12 alone (over budget), 9 alone (9 + 4 > 10), 4 + 3 + 2


def test_resolve_instruction_is_the_one_rule():
    from embedder.instructions import WEB_SEARCH, resolve_instruction

    assert resolve_instruction() == WEB_SEARCH
    assert resolve_instruction("Find it") == "Find it"
    assert resolve_instruction(task="NFCorpus") == BEIR["nfcorpus"]
    assert resolve_instruction(task="my own words", fallback="my own words") == "my own words"
    assert resolve_instruction(task="scifact", fallback="unused") == BEIR["scifact"]
    with pytest.raises(ValueError, match="unknown task"):
        resolve_instruction(task="no-such-task")
    with pytest.raises(ValueError, match="not both"):
        resolve_instruction("Find it", task="scifact")


def test_one_registry_table_for_encoders_and_benchmark_retrievers():
    from embedder.evaluation.bm25 import BM25Retriever
    from embedder.evaluation.hybrid import HybridRetriever
    from embedder.registry import ANY_LLM, MODELS, REGISTRY, is_llm_spec, load_encoder, load_model, lookup

    assert list(MODELS) == list(REGISTRY) and "bm25" in MODELS and "hybrid:<spec>" in MODELS
    assert lookup("openai:text-embedding-3-small") is REGISTRY["openai:<model>"]
    assert lookup("hybrid:minilm") is REGISTRY["hybrid:<spec>"]
    assert lookup("intfloat/e5-mistral-7b-instruct") is REGISTRY[ANY_LLM]
    assert is_llm_spec("default") and is_llm_spec("./my-model") and not is_llm_spec("minilm")
    assert not is_llm_spec("bm25") and not is_llm_spec("openai:x")
    with pytest.raises(ValueError, match="names nothing"):
        lookup("hybrid:")
    with pytest.raises(ValueError, match="does not embed text"):
        load_encoder("bm25")
    assert isinstance(load_model("bm25"), BM25Retriever)
    hybrid = load_model("hybrid:hash")
    assert isinstance(hybrid, HybridRetriever) and hybrid.name == f"hybrid:{load_encoder('hash').name}"


@pytest.mark.parametrize(
    ("flags", "fast"),
    [
        ("flags\t\t: fpu sse avx2 avx512f amx_bf16 amx_tile", True),  # Intel Sapphire Rapids
        ("flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni", True),  # AMD Zen 4
        ("flags\t\t: fpu sse avx2 avx512f avx512_vnni", False),  # AVX-512 without bf16
        ("flags\t\t: fpu sse avx2 xavx512_bf16x", False),  # a flag is a whole word
    ],
)
def test_cpu_has_fast_bf16_reads_the_cpuinfo_flags(flags, fast):
    from embedder.loading import cpu_has_fast_bf16

    assert cpu_has_fast_bf16(flags) is fast
