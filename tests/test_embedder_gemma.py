"""Gemma 3 as a base: packed attention honours its sliding-window layers; the packaged 270M encodes."""

import importlib.util

import numpy as np
import pytest
import torch

from embedder.loading import PACKAGED_BASES
from embedder.packing import PACKED_ATTENTION, pack_batch
from embedder.pooling import last_token_pool_packed

GEMMA = PACKAGED_BASES["gemma3-270m"]


@pytest.fixture(scope="module")
def tiny_gemma():
    """A random 2-layer Gemma 3 (one sliding-window layer of 4 tokens, one global layer)."""
    from transformers import AutoModel, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        query_pre_attn_scalar=16,
        sliding_window=4,
        layer_types=["sliding_attention", "full_attention"],
    )
    return AutoModel.from_config(config).eval()


def last_states(model, rows: list[list[int]]) -> torch.Tensor:
    """Each row's last hidden state: packed with ``e5_packed`` attention, or one row at a time (SDPA)."""
    with torch.no_grad():
        if model.config._attn_implementation == PACKED_ATTENTION:
            batch = pack_batch(rows)
            return last_token_pool_packed(model(**batch).last_hidden_state, batch["cu_seq_lens_q"])
        return torch.cat([model(input_ids=torch.tensor([row])).last_hidden_state[:, -1] for row in rows])


def test_packed_attention_keeps_gemma_sliding_window(tiny_gemma):
    rows = [[5, 9, 2], [7, 3, 11, 4, 8, 6, 1, 12, 10], [13, 2, 2, 14, 9, 15, 3]]  # two longer than the window
    tiny_gemma.set_attn_implementation("sdpa")
    alone = last_states(tiny_gemma, rows)
    tiny_gemma.set_attn_implementation(PACKED_ATTENTION)
    packed = last_states(tiny_gemma, rows)
    torch.testing.assert_close(packed, alone, atol=1e-5, rtol=1e-5)

    sliding = tiny_gemma.layers[0].self_attn
    window, sliding.sliding_window = sliding.sliding_window, None
    try:  # the window matters for these rows: without it the long ones change, the short one does not
        unwindowed = last_states(tiny_gemma, rows)
    finally:
        sliding.sliding_window = window
    torch.testing.assert_close(unwindowed[0], packed[0])
    assert (unwindowed[1:] - packed[1:]).abs().amax(dim=1).min() > 1e-3


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec(GEMMA.package) is None, reason=f"Gemma-3-270M not installed: {GEMMA.install}"
)
def test_packaged_gemma_encodes_two_texts_into_unit_vectors():
    from embedder.registry import load_encoder

    encoder = load_encoder("gemma", max_length=64)
    assert encoder.tokenizer.convert_ids_to_tokens(encoder.tokenizer.eos_token_id) == "<eos>"
    vectors = encoder.encode_documents(["A kitten is sleeping on the sofa.", "Interest rates rose again."])
    assert vectors.shape == (2, 640) and encoder.dim == 640 and encoder.name == "llm:gemma3-270m/prompteol"
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] < 0.99


def test_an_adapter_is_tied_to_the_base_it_was_trained_on(tmp_path):
    from embedder.registry import llm_config

    (tmp_path / "embedder.json").write_text('{"model": "gemma3-270m", "template": "paper", "num_layers": 12}')
    config = llm_config("gemma", str(tmp_path))
    assert (config.model, config.template, config.num_layers) == ("gemma3-270m", "paper", 12)
    with pytest.raises(ValueError, match="trained on base 'gemma3-270m', not on 'base-prompteol'"):
        llm_config("base-prompteol", str(tmp_path))
    (tmp_path / "embedder.json").write_text(
        '{"template": "prompteol", "num_layers": 12}'
    )  # saved before the tie
    assert llm_config("base", str(tmp_path)).num_layers == 12
