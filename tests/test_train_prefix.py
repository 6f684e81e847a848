"""Frozen-prefix training: the cached path gives the full forward's loss and gradients; the cache is
keyed by tokens and reused; only the top layers train; a cached run resumes exactly."""

import json

import pytest
import torch
from test_train_model import NO_AUTOCAST, batch_for, grads, tiny_model, write_pairs

from trainer.config import ModelConfig, OptimConfig, SourceConfig, TrainConfig
from trainer.model import build_model
from trainer.prefix import HiddenStateCache, PrefixModel, layer_index
from trainer.step import backward_grad_cache, backward_plain
from trainer.train import prefix_cache_key, train


def test_cached_path_equals_the_full_forward_in_loss_and_gradients(tmp_path, tiny_llm_dir):
    model, tokenizer = tiny_model(tiny_llm_dir)
    model.eval()  # no dropout anywhere: the two paths must then agree exactly
    batch = batch_for(tokenizer)
    full_loss = backward_plain(model, batch, 0.05, NO_AUTOCAST)
    full = grads(model)
    model.zero_grad(set_to_none=True)
    cache = HiddenStateCache(tmp_path, "tiny", dtype=torch.float32)
    prefix = PrefixModel(model, 1, cache)
    for _ in range(2):  # first pass fills the cache, the second reads it
        cached_loss = backward_plain(prefix, batch, 0.05, NO_AUTOCAST)
        cached = grads(model)
        model.zero_grad(set_to_none=True)
        assert cached_loss == pytest.approx(full_loss, abs=1e-5)
        top = {n for n in full if layer_index(n) != 0}
        assert top and set(cached) == top  # no gradient reaches the frozen layer
        for name in top:
            torch.testing.assert_close(cached[name], full[name], rtol=1e-5, atol=1e-6)
    texts = batch.queries["input_ids"].shape[0] + batch.documents["input_ids"].shape[0]
    assert (cache.misses, cache.hits) == (texts, texts)


def test_grad_cache_through_the_prefix_model(tmp_path, tiny_llm_dir):
    model, tokenizer = tiny_model(tiny_llm_dir)
    model.eval()
    batch = batch_for(tokenizer)
    prefix = PrefixModel(model, 1, HiddenStateCache(tmp_path, "tiny", dtype=torch.float32))
    plain_loss = backward_plain(prefix, batch, 0.05, NO_AUTOCAST)
    plain = grads(model)
    model.zero_grad(set_to_none=True)
    cached_loss = backward_grad_cache(prefix, batch, 0.05, 2, NO_AUTOCAST)
    assert cached_loss == pytest.approx(plain_loss, rel=1e-5)
    for name, grad in grads(model).items():
        torch.testing.assert_close(grad, plain[name], rtol=1e-4, atol=1e-6)


def test_cache_is_keyed_by_tokens_and_bounded(tmp_path):
    cache = HiddenStateCache(tmp_path, "k", max_bytes=1)
    ids, state = torch.tensor([1, 2, 3]), torch.randn(3, 4)
    assert cache.get(ids) is None
    cache.put(ids, state)
    torch.testing.assert_close(cache.get(ids), state.half().float())  # fp16 on disk
    assert cache.get(torch.tensor([1, 2, 4])) is None
    cache.put(torch.tensor([5]), torch.randn(1, 4))  # over the bound: not stored
    assert cache.get(torch.tensor([5])) is None
    assert HiddenStateCache(tmp_path, "k").get(ids) is not None  # reused by a later run


def test_fresh_lora_goes_only_above_the_frozen_layers(tiny_llm_dir):
    model, _ = build_model(
        ModelConfig(model=str(tiny_llm_dir), frozen_layers=1, gradient_checkpointing=False)
    )
    layers = {layer_index(n) for n, p in model.named_parameters() if p.requires_grad}
    assert layers and 0 not in layers


def test_init_adapter_keeps_its_lower_lora_fixed(tmp_path, tiny_llm_dir):
    first, _ = tiny_model(tiny_llm_dir)
    first.save_pretrained(tmp_path / "stage1")
    warm, _ = build_model(
        ModelConfig(
            model=str(tiny_llm_dir),
            frozen_layers=1,
            gradient_checkpointing=False,
            init_adapter=str(tmp_path / "stage1"),
        )
    )
    trainable = {layer_index(n) for n, p in warm.named_parameters() if p.requires_grad}
    frozen_lora = [n for n, p in warm.named_parameters() if "lora_" in n and layer_index(n) == 0]
    assert frozen_lora and 0 not in trainable and trainable


def test_a_warm_start_without_lower_lora_shares_the_base_cache_and_bf16_states_are_keyed_apart(
    tmp_path, tiny_llm_dir
):
    upper_only, _ = build_model(
        ModelConfig(model=str(tiny_llm_dir), frozen_layers=1, gradient_checkpointing=False)
    )
    upper_only.save_pretrained(tmp_path / "upper")
    everywhere, _ = tiny_model(tiny_llm_dir)
    everywhere.save_pretrained(tmp_path / "all")

    def key(adapter, bf16=False):
        model = ModelConfig(model=str(tiny_llm_dir), frozen_layers=1, init_adapter=adapter)
        config = TrainConfig(model=model, prefix_cache="cache", data=(SourceConfig("jsonl", "x"),))
        return prefix_cache_key(config, bf16=bf16)

    assert key(str(tmp_path / "upper")) == key(None)
    assert key(str(tmp_path / "all")) not in (key(None), key(str(tmp_path / "upper")))
    assert key(None, bf16=True) == key(None) + "-bf16"


def test_frozen_layers_out_of_range_is_a_clear_error(tiny_llm_dir):
    model, _ = tiny_model(tiny_llm_dir)
    with pytest.raises(ValueError, match="frozen_layers must be between 1 and"):
        PrefixModel(model, 99)


def test_states_beyond_the_cache_dtype_are_refused_not_stored_as_inf(tmp_path, tiny_llm_dir):
    model, tokenizer = tiny_model(tiny_llm_dir)
    with torch.no_grad():  # a residual stream like Gemma's, past fp16's 65,504
        inner = model.get_base_model()
        inner.embed_tokens.weight.mul_(1e8)
    batch = batch_for(tokenizer).queries
    with pytest.raises(ValueError, match="overflow torch.float16 .* float32"):
        PrefixModel(model, 1, HiddenStateCache(tmp_path, "half"))(**batch)
    wide = PrefixModel(model, 1, HiddenStateCache(tmp_path, "wide", dtype=torch.float32))(**batch)
    assert torch.isfinite(wide.last_hidden_state).all()
    with pytest.raises(ValueError, match="prefix_cache_dtype must be one of"):
        TrainConfig(data=(SourceConfig("jsonl", "x"),), prefix_cache_dtype="int8")


def test_prefix_cache_needs_frozen_layers():
    with pytest.raises(ValueError, match="prefix_cache needs model.frozen_layers"):
        TrainConfig(data=(SourceConfig("jsonl", "x"),), prefix_cache="cache")


def test_cached_run_resumes_exactly(tmp_path, tiny_llm_dir):
    data = write_pairs(tmp_path / "pairs.jsonl")

    def config(out):
        return TrainConfig(
            output_dir=str(out),
            data=(SourceConfig("jsonl", str(data)),),
            save_every=2,
            prefix_cache=str(tmp_path / "cache"),
            model=ModelConfig(
                model=str(tiny_llm_dir),
                query_max_length=40,
                doc_max_length=32,
                template="prompteol",
                frozen_layers=1,
            ),
            optim=OptimConfig(batch_size=3, max_steps=4, warmup_steps=1, lr=1e-3),
        )

    train(config(tmp_path / "a"), progress=False)
    train(config(tmp_path / "b"), progress=False, stop_after=2)
    train(config(tmp_path / "b"), progress=False)
    logs = [
        [json.loads(line) for line in (tmp_path / run / "log.jsonl").read_text().splitlines()]
        for run in ("a", "b")
    ]
    assert [(r["step"], round(r["loss"], 5)) for r in logs[0]] == [
        (r["step"], round(r["loss"], 5)) for r in logs[1]
    ]
    assert list((tmp_path / "cache").glob("*/*/*.safetensors"))
