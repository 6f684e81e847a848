"""LoRA placement and gradients, real steps on the tiny model, GradCache equality, resume."""

import contextlib
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from embedder.prompts import get_template
from trainer.collate import Collator
from trainer.config import CosentConfig, ModelConfig, OptimConfig, SourceConfig, TrainConfig
from trainer.data import Example
from trainer.model import build_model, encode, trainable_parameters
from trainer.step import (
    autocast_for,
    backward_cosent,
    backward_grad_cache,
    backward_plain,
    make_optimizer,
    uses_bf16,
)
from trainer.train import pair_rows, train

NO_AUTOCAST = contextlib.nullcontext


def tiny_model(folder, **options):
    torch.manual_seed(0)
    settings = {
        "model": str(folder),
        "lora_dropout": 0.0,
        "gradient_checkpointing": False,
        "template": "prompteol",
        "query_max_length": 40,
        "doc_max_length": 32,
        **options,
    }
    model, tokenizer = build_model(ModelConfig(**settings))
    with torch.no_grad():  # LoRA starts with B = 0, where A gets no gradient; make both matter
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.05)
    return model, tokenizer


EXAMPLES = [
    Example(
        f"question {i} about {topic}",
        f"an answer on {topic} number {i}",
        f"unrelated text {i}" if i % 2 else None,
        "Find answers",
        f"mem:{i}",
    )
    for i, topic in enumerate(["cats", "stocks", "rain", "chess", "bread", "trains"])
]


def write_pairs(path: Path, examples: list[Example] = EXAMPLES * 2) -> Path:
    """A JSONL training file of ``examples`` (query, positive, one task)."""
    rows = (json.dumps({"query": e.query, "positive": e.positive, "task": "Find answers"}) for e in examples)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def batch_for(tokenizer, examples=EXAMPLES):
    return Collator(tokenizer, get_template("prompteol"), 40, 32)(examples)


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_lora_on_intended_modules_only_they_get_gradients(tiny_llm_dir):
    model, tokenizer = tiny_model(tiny_llm_dir, lora_targets=("q_proj", "v_proj"))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n and ("q_proj" in n or "v_proj" in n) for n in trainable)
    assert {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable} == {"q_proj", "v_proj"}
    backward_plain(model, batch_for(tokenizer), 0.05, NO_AUTOCAST)
    assert set(grads(model)) == trainable
    assert all(g.abs().sum() > 0 for g in grads(model).values())


def test_all_linear_default_covers_attention_and_mlp(tiny_llm_dir):
    model, _ = tiny_model(tiny_llm_dir)
    wrapped = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in model.named_parameters() if "lora_A" in n}
    assert wrapped == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def test_real_steps_reduce_loss_on_a_fixed_batch(tiny_llm_dir):
    model, tokenizer = tiny_model(tiny_llm_dir, gradient_checkpointing=True)
    optimizer, scheduler = make_optimizer(
        trainable_parameters(model),
        TrainConfig(
            data=(SourceConfig("jsonl", "unused"),), optim=OptimConfig(lr=5e-3, warmup_steps=0, max_steps=100)
        ),
    )
    batch, losses = batch_for(tokenizer), []
    for _ in range(8):
        losses.append(backward_plain(model, batch, 0.05, NO_AUTOCAST))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    assert losses[-1] < 0.5 * losses[0]


def test_grad_cache_matches_plain_gradients(tiny_llm_dir):
    model, tokenizer = tiny_model(tiny_llm_dir)
    batch = batch_for(tokenizer)
    plain_loss = backward_plain(model, batch, 0.05, NO_AUTOCAST)
    plain = grads(model)
    model.zero_grad(set_to_none=True)
    forwards = []
    hook = model.register_forward_hook(lambda *_: forwards.append(1))
    cached_loss = backward_grad_cache(model, batch, 0.05, 2, NO_AUTOCAST)
    hook.remove()
    cached = grads(model)
    assert len(forwards) == 2 * (3 + 5) - 1  # 3 query and 5 document chunks; the smallest encoded once
    assert cached_loss == pytest.approx(plain_loss, rel=1e-5)
    assert set(cached) == set(plain)
    for name in plain:
        torch.testing.assert_close(cached[name], plain[name], rtol=1e-4, atol=1e-6)


def test_bf16_autocast_only_where_it_is_fast_and_the_loss_stays_close_to_fp32(tiny_llm_dir):
    cpu = torch.device("cpu")
    assert uses_bf16(torch.device("cuda"), enabled=True)
    assert not uses_bf16(cpu, enabled=True, fast_bf16=False)
    assert not uses_bf16(cpu, enabled=False, fast_bf16=True)
    assert autocast_for(cpu, enabled=True, fast_bf16=False) is contextlib.nullcontext
    bf16 = autocast_for(cpu, enabled=True, fast_bf16=True)
    with bf16():
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    model, tokenizer = tiny_model(tiny_llm_dir)
    batch = batch_for(tokenizer)
    full = backward_plain(model, batch, 0.05, NO_AUTOCAST)
    full_grads = grads(model)
    model.zero_grad(set_to_none=True)
    mixed = backward_plain(model, batch, 0.05, bf16)
    assert mixed != full  # the encoders really ran in bf16
    assert mixed == pytest.approx(full, rel=0.05)
    for name, grad in grads(model).items():
        assert grad.dtype == torch.float32
        assert F.cosine_similarity(grad.flatten(), full_grads[name].flatten(), dim=0) > 0.9


def test_resume_continues_the_same_schedule(tmp_path, tiny_llm_dir):
    data = write_pairs(tmp_path / "pairs.jsonl")

    def config(out):
        return TrainConfig(
            output_dir=str(out),
            data=(SourceConfig("jsonl", str(data)),),
            save_every=2,
            model=ModelConfig(
                model=str(tiny_llm_dir), query_max_length=40, doc_max_length=32, template="prompteol"
            ),
            optim=OptimConfig(batch_size=3, max_steps=4, warmup_steps=1, lr=1e-3),
        )

    straight = train(config(tmp_path / "a"), progress=False)
    stopped = train(config(tmp_path / "b"), progress=False, stop_after=2)
    assert stopped.steps == 2 and "steps: 2 of 4" in (stopped.adapter_dir / "README.md").read_text()
    assert train(config(tmp_path / "b"), progress=False, stop_after=1).steps == 2  # a rerun earlier chunk
    resumed = train(config(tmp_path / "b"), progress=False)
    logs = [
        [json.loads(line) for line in (tmp_path / run / "log.jsonl").read_text().splitlines()]
        for run in ("a", "b")
    ]
    assert [(r["step"], r["lr"], round(r["loss"], 5)) for r in logs[0]] == [
        (r["step"], r["lr"], round(r["loss"], 5)) for r in logs[1]
    ]
    from safetensors.torch import load_file

    weights = [load_file(r.adapter_dir / "adapter_model.safetensors") for r in (straight, resumed)]
    for name, tensor in weights[0].items():
        torch.testing.assert_close(weights[1][name], tensor)
    settings = json.loads((resumed.adapter_dir / "embedder.json").read_text())
    assert settings == {
        "model": str(tiny_llm_dir),
        "template": "prompteol",
        "num_layers": None,
        "max_length": 512,
        "pooling": "last",
    }


def test_a_mean_pooled_run_trains_and_its_adapter_encodes_mean_pooled(tmp_path, tiny_llm_dir):
    from embedder.registry import load_encoder

    model, tokenizer = tiny_model(tiny_llm_dir)
    batch = batch_for(tokenizer)
    inputs = batch.documents
    with torch.no_grad():
        hidden = model(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]
        ).last_hidden_state
        mask = inputs["attention_mask"].unsqueeze(-1).float()
        torch.testing.assert_close(encode(model, inputs, "mean"), (hidden * mask).sum(1) / mask.sum(1))
    assert backward_plain(model, batch, 0.05, NO_AUTOCAST, pooling="mean") != pytest.approx(
        backward_plain(model, batch, 0.05, NO_AUTOCAST)
    )
    with pytest.raises(ValueError, match="unknown pooling 'cls'"):
        ModelConfig(pooling="cls")

    config = TrainConfig(
        output_dir=str(tmp_path / "run"),
        data=(SourceConfig("jsonl", str(write_pairs(tmp_path / "pairs.jsonl"))),),
        model=ModelConfig(model=str(tiny_llm_dir), query_max_length=40, doc_max_length=32, pooling="mean"),
        optim=OptimConfig(batch_size=3, max_steps=1, warmup_steps=0),
    )
    adapter = train(config, progress=False).adapter_dir
    assert json.loads((adapter / "embedder.json").read_text())["pooling"] == "mean"
    encoder = load_encoder(str(tiny_llm_dir), adapter=str(adapter))
    assert encoder.config.pooling == "mean" and "mean-pooled" in encoder.name


def test_periodic_dev_evaluation_on_held_out_queries(tmp_path, tiny_llm_dir):
    from test_train_data import make_tiny_beir

    folder = make_tiny_beir(tmp_path)
    with (folder / "queries.jsonl").open("a") as queries:
        queries.write(json.dumps({"_id": "q3", "text": "stock market news"}) + "\n")
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td4\t1\nq3\td3\t1\n")
    config = TrainConfig(
        output_dir=str(tmp_path / "run"),
        eval_every=2,
        seed=1,
        data=(SourceConfig("beir", str(folder), split="dev", holdout_queries=1, holdout_seed=2),),
        model=ModelConfig(model=str(tiny_llm_dir), query_max_length=40, doc_max_length=32),
        optim=OptimConfig(batch_size=2, max_steps=2, warmup_steps=0),
    )
    train(config, progress=False)
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    (dev,) = [r for r in logged if any(k.startswith("dev ") for k in r)]
    ((name, score),) = [(k, v) for k, v in dev.items() if k.startswith("dev ")]
    # the hold-out follows holdout_seed, not the training seed (1): a warm start never sees dev queries
    assert name == "dev mini held-out 1q/4d seed 2" and 0.0 <= score <= 1.0
    # the evaluated state is kept as the best so far, loadable as an adapter
    best = tmp_path / "run" / "best"
    assert json.loads((best / "dev.json").read_text())["step"] == 2
    assert (best / "adapter_model.safetensors").is_file() and (best / "embedder.json").is_file()


def test_init_adapter_continues_from_an_exported_adapter(tmp_path, tiny_llm_dir):
    from peft.utils import get_peft_model_state_dict

    first, _ = tiny_model(tiny_llm_dir, lora_r=4)
    first.save_pretrained(tmp_path / "stage1")
    torch.manual_seed(1)  # a different random state: the weights must come from the folder
    warm, tokenizer = build_model(
        ModelConfig(
            model=str(tiny_llm_dir), gradient_checkpointing=False, init_adapter=str(tmp_path / "stage1")
        )
    )
    saved, loaded = get_peft_model_state_dict(first), get_peft_model_state_dict(warm)
    assert set(saved) == set(loaded) and all(t.shape[0] == 4 or t.shape[1] == 4 for t in loaded.values())
    for name, tensor in saved.items():
        torch.testing.assert_close(loaded[name], tensor)
    backward_plain(warm, batch_for(tokenizer), 0.05, NO_AUTOCAST)
    assert set(grads(warm)) == {n for n, p in warm.named_parameters() if p.requires_grad} != set()


def test_a_warm_start_takes_its_lora_dropout_from_the_config_not_the_adapter(tmp_path, tiny_llm_dir):
    first, _ = tiny_model(tiny_llm_dir, lora_r=4)  # saved with lora_dropout 0
    first.save_pretrained(tmp_path / "stage1")
    for dropout in (0.3, 0.0):
        warm, _ = build_model(
            ModelConfig(
                model=str(tiny_llm_dir),
                gradient_checkpointing=False,
                init_adapter=str(tmp_path / "stage1"),
                lora_dropout=dropout,
            )
        )
        rates = {
            getattr(layer, "p", 0.0)
            for name, module in warm.named_modules()
            if name.endswith("lora_dropout")
            for layer in module.values()
        }
        assert rates == {dropout}, rates
        assert warm.peft_config["default"].r == 4  # the shape still comes from the folder


def test_a_warm_start_below_its_adapters_layers_widens_it_without_changing_what_it_computes(
    tmp_path, tiny_llm_dir
):
    from peft.utils import get_peft_model_state_dict

    top, tokenizer = tiny_model(tiny_llm_dir, lora_r=4, frozen_layers=1)  # LoRA on layer 1 of 2
    top.save_pretrained(tmp_path / "top")
    settings = {
        "model": str(tiny_llm_dir),
        "gradient_checkpointing": False,
        "init_adapter": str(tmp_path / "top"),
    }
    torch.manual_seed(1)
    wide, _ = build_model(ModelConfig(**settings, frozen_layers=0))
    assert wide.peft_config["default"].layers_to_transform == [0, 1]
    saved, loaded = get_peft_model_state_dict(top), get_peft_model_state_dict(wide)
    assert set(saved) < set(loaded) and all(".layers.0." in name for name in set(loaded) - set(saved))
    for name, tensor in saved.items():
        torch.testing.assert_close(loaded[name], tensor)
    inputs = batch_for(tokenizer).queries
    top.eval(), wide.eval()
    with torch.no_grad():
        torch.testing.assert_close(encode(wide, inputs), encode(top, inputs))  # new B = 0
    backward_plain(wide, batch_for(tokenizer), 0.05, NO_AUTOCAST)
    assert any(".layers.0." in name and "lora_A" in name for name in grads(wide))  # the new layer trains
    # an adapter that already reaches the frozen boundary loads as it was saved
    same, _ = build_model(ModelConfig(**settings, frozen_layers=1))
    assert same.peft_config["default"].layers_to_transform == [1]


def test_init_adapter_missing_folder_is_a_clear_error(tmp_path, tiny_llm_dir):
    with pytest.raises(FileNotFoundError, match="init_adapter folder .* has no adapter_config.json"):
        build_model(ModelConfig(model=str(tiny_llm_dir), init_adapter=str(tmp_path / "nowhere")))


def test_the_best_dev_checkpoint_is_kept_and_a_worse_one_does_not_replace_it(tmp_path):
    from trainer.checkpoint import keep_if_best

    checkpoint, best = tmp_path / "checkpoint", tmp_path / "best"
    checkpoint.mkdir()

    def save(weights: bytes) -> None:
        (checkpoint / "adapter_config.json").write_text("{}")
        (checkpoint / "adapter_model.safetensors").write_bytes(weights)

    settings = {"model": "m", "template": "prompteol"}
    save(b"step 50")
    assert keep_if_best(checkpoint, best, 50, {"scifact": 0.75}, settings)
    save(b"step 100")
    assert keep_if_best(checkpoint, best, 100, {"scifact": 0.81}, settings)
    save(b"step 150")
    assert not keep_if_best(checkpoint, best, 150, {"scifact": 0.79}, settings)
    assert (best / "adapter_model.safetensors").read_bytes() == b"step 100"
    assert json.loads((best / "dev.json").read_text())["step"] == 100
    assert json.loads((best / "embedder.json").read_text()) == settings
    assert not (tmp_path / "best.tmp").exists()


def test_cosent_steps_order_the_pairs_cosines_as_the_gold_scores(tiny_llm_dir):
    model, tokenizer = tiny_model(tiny_llm_dir)
    optimizer = torch.optim.AdamW(trainable_parameters(model), lr=5e-3)
    collator = Collator(tokenizer, get_template("prompteol"), 40, 32)
    pairs = collator.scored_pairs(
        ["a cat sleeps", "a cat sleeps", "stocks fell", "rain today"],
        ["a kitten naps", "a dog barks", "shares dropped", "chess opening"],
        [5.0, 2.0, 4.5, 0.0],
        "Retrieve semantically similar text.",
    )
    assert pairs.first["input_ids"].shape[0] == 4 and pairs.gold.tolist() == [5.0, 2.0, 4.5, 0.0]
    losses = []
    for _ in range(6):
        losses.append(backward_cosent(model, pairs, CosentConfig(path="unused"), NO_AUTOCAST))
        optimizer.step()
        optimizer.zero_grad()
    assert losses[-1] < 0.5 * losses[0]


def test_a_run_with_the_cosent_term_draws_pairs_by_step_and_resumes_identically(tmp_path, tiny_llm_dir):
    data = write_pairs(tmp_path / "pairs.jsonl")
    sts = tmp_path / "sts-train.csv"
    sts.write_text(
        "".join(f"g\tf\t2012\t{i}\t{i % 6}.0\tsentence {i} about cats\tline {i} on rain\n" for i in range(12))
    )

    def config(out, weight=1.0):
        return TrainConfig(
            output_dir=str(out),
            data=(SourceConfig("jsonl", str(data)),),
            cosent=CosentConfig(path=str(sts), batch_size=4, weight=weight),
            save_every=2,
            model=ModelConfig(model=str(tiny_llm_dir), query_max_length=40, doc_max_length=32),
            optim=OptimConfig(batch_size=3, max_steps=4, warmup_steps=1, lr=1e-3),
        )

    assert pair_rows(12, 4, seed=0, step=3) == pair_rows(12, 4, seed=0, step=3) != pair_rows(12, 4, 0, 4)
    straight = train(config(tmp_path / "a"), progress=False)
    train(config(tmp_path / "b"), progress=False, stop_after=2)
    train(config(tmp_path / "b"), progress=False)
    without = train(config(tmp_path / "c", weight=0.0), progress=False)
    losses = {
        run: [json.loads(line)["loss"] for line in (tmp_path / run / "log.jsonl").read_text().splitlines()]
        for run in "abc"
    }
    assert losses["a"] == pytest.approx(losses["b"], rel=1e-5)
    assert all(a > c for a, c in zip(losses["a"], losses["c"], strict=True))  # the CoSENT term is in the loss
    assert "sts-train.csv (CoSENT pairs) | 12 |" in (straight.adapter_dir / "README.md").read_text()
    assert without.steps == 4
