"""How much distillation signal each teacher gives on real training batches: over seeded batches of a
trainer config's mix, each teacher's scores of every query's candidates (in-batch positives and hard
negatives, as the trainer's KL term sees them), softmaxed at the distillation temperature. Prints, per
teacher, the mean entropy and top-1 probability of those targets, the spread of the raw scores, and how
often the labelled positive ranks first. Teachers whose targets are alike give the student the same signal,
whatever their dev scores.

    python bench/teacher_targets.py --config trainer/configs/gemma-cpu-teachers.toml \
        --teachers minilm,mpnet,ensemble:minilm+mpnet [--batches 4] [--seed 0]
"""

from __future__ import annotations

import argparse
import functools
import random

import torch

from trainer.config import DistillConfig, load_config
from trainer.mixing import build_dataset
from trainer.step import teacher_scores
from trainer.teacher import TeacherScorer


def target_stats(scores: torch.Tensor, temperature: float) -> dict[str, float]:
    """Entropy and top-1 probability of the softmax target, score spread, and the positive-first rate of
    one batch's teacher scores (queries x documents, positive of query i in column i)."""
    target = torch.softmax(scores / temperature, dim=-1)
    return {
        "entropy": float(-(target * target.clamp_min(1e-12).log()).sum(-1).mean()),
        "top-1 probability": float(target.max(-1).values.mean()),
        "score std": float(scores.std(-1).mean()),
        "positive first": float((scores.argmax(-1) == torch.arange(scores.shape[0])).float().mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config", required=True, help="trainer config whose mix, batch size and temperature to use"
    )
    parser.add_argument("--teachers", default="minilm,mpnet,ensemble:minilm+mpnet", help="encoder specs")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = load_config(args.config)
    examples, _ = build_dataset(config.data, config.leak, args.seed)
    rng = random.Random(args.seed)
    batches = [rng.sample(examples, config.optim.batch_size) for _ in range(args.batches)]
    bf16 = functools.partial(torch.autocast, "cpu", dtype=torch.bfloat16)  # cosines within 2e-5 of fp32
    print("| teacher | entropy | top-1 probability | score std | positive first |\n|---|---:|---:|---:|---:|")
    for spec in args.teachers.split(","):
        scorer = TeacherScorer(DistillConfig(teacher=spec, drop_false_negatives=False), autocast=bf16)
        rows = [
            target_stats(teacher_scores(scorer.batch_teacher(batch)).float(), config.distill.temperature)
            for batch in batches
        ]
        means = {key: sum(row[key] for row in rows) / len(rows) for key in rows[0]}
        print(f"| {spec} | " + " | ".join(f"{value:.3f}" for value in means.values()) + " |")


if __name__ == "__main__":
    main()
