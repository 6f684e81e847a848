"""Learning curve of a training run: dev nDCG@10 (logged by ``eval_every``) against training examples seen.

Reads the run's ``log.jsonl``, prints the points as a Markdown table with a log-linear fit
(nDCG@10 = a + b * ln(examples)) and the examples that fit says a target needs, and draws a PNG.

    python bench/learning_curve.py runs/default-cpu-distill --start 2048 --start-score 50.2 \
        --target 90.4 --out docs/learning-curve.png
    python bench/learning_curve.py runs/gemma-cpu-continue --start 3200 --earlier 1600:63.1,3200:63.7 \
        --target 90.4 --out docs/learning-curve-gemma.png    # a warm start, after the run it continues
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def dev_points(log: Path, batch_size: int, offset: int) -> list[tuple[int, float]]:
    """``(examples seen, dev nDCG@10 x100)`` for every logged dev evaluation."""
    points = []
    for line in log.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for key, value in row.items():
            if key.startswith("dev "):
                points.append((offset + row["step"] * batch_size, 100 * value))
    return points


def log_fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares ``(a, b)`` of score = a + b ln(examples)."""
    xs, ys = [math.log(x) for x, _ in points], [y for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--start", type=int, default=0, help="examples seen before this run (warm start)")
    parser.add_argument("--start-score", type=float, help="dev score of the warm start (the first point)")
    parser.add_argument(
        "--earlier", default="", help="points of the runs before a warm start: EXAMPLES:SCORE,EXAMPLES:SCORE"
    )
    parser.add_argument("--target", type=float, help="dev score to reach (e.g. MiniLM's)")
    parser.add_argument("--examples-per-hour", type=float, default=0, help="to turn examples into CPU hours")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    points = dev_points(args.run / "log.jsonl", args.batch_size, args.start)
    if args.start_score is not None:
        points.insert(0, (args.start, args.start_score))
    earlier = [tuple(map(float, pair.split(":"))) for pair in filter(None, args.earlier.split(","))]
    points = sorted([(int(x), y) for x, y in earlier] + points)
    print("| examples seen | dev nDCG@10 |\n|---:|---:|")
    print("\n".join(f"| {x:,} | {y:.1f} |" for x, y in points))
    a, b = log_fit(points)
    print(f"\nfit: nDCG@10 = {a:.1f} + {b:.2f} ln(examples)")
    needed = None
    if args.target is not None and b > 0:
        needed = math.exp((args.target - a) / b)
        hours = f", {needed / args.examples_per_hour:,.0f} CPU hours" if args.examples_per_hour else ""
        print(f"the fit reaches {args.target:.1f} at about {needed:,.0f} examples{hours}")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot([x for x, _ in points], [y for _, y in points], "o-", label="dev (SciFact hold-out)")
        end = 1.5 * max(points[-1][0], needed or 0)  # the fit drawn past the target, not to 100+
        xs = [points[0][0] * 1.05**i for i in range(int(math.log(end / points[0][0]) / math.log(1.05)) + 1)]
        ax.plot(xs, [a + b * math.log(x) for x in xs], "--", label="log-linear fit")
        if args.target is not None:
            ax.axhline(args.target, color="gray", linestyle=":", label="target")
        ax.set_xscale("log")
        ax.set_xlabel("training examples seen")
        ax.set_ylabel("nDCG@10 x100")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out, dpi=110)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
