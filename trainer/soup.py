"""Model soups of LoRA adapters: the weighted mean of several fine-tunes of one base (Wortsman et al., 2022).

Adapters of one base and shape that start from a shared state (stages of one recipe, checkpoints along a run,
runs that differ in seed or data order) combine by averaging their weight updates. The mean of the updates
``sum_i w_i B_i A_i`` is itself a LoRA of rank ``sum_i r_i`` (peft's ``cat`` combination), so the soup is exact,
not an approximation, and merges into the base at load time like any adapter.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from embedder.loading import (
    EMBEDDER_CONFIG_FILE,
    adapter_config,
    adapter_folder,
    load_backbone,
    resolve_model,
)

SOUP = "default"  # peft saves its default adapter at the folder's top level
SHAPE_FIELDS = ("model", "template", "num_layers")  # what adapters must share to be averaged


def soup_weights(count: int, weights: Sequence[float] | None) -> list[float]:
    """Uniform weights, or the given ones normalised to sum to 1 (checked: one per adapter, non-negative)."""
    if count < 2:
        raise ValueError(f"a soup needs at least two adapters, got {count}")
    if weights is None:
        return [1.0 / count] * count
    if len(weights) != count:
        raise ValueError(f"{len(weights)} weights for {count} adapters")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"weights must be non-negative with a positive sum, got {list(weights)}")
    total = sum(weights)
    return [w / total for w in weights]


def shared_settings(adapters: Sequence[Path]) -> dict:
    """The embedder settings the adapters share (their base, template and depth), or a ValueError naming the
    first one that differs; read lengths are kept from the first adapter."""
    settings = [adapter_config(a) for a in adapters]
    first = settings[0]
    for adapter, other in zip(adapters[1:], settings[1:], strict=True):
        for field in SHAPE_FIELDS:
            if other.get(field) != first.get(field):
                raise ValueError(
                    f"{adapter} has {field}={other.get(field)!r} but {adapters[0]} has {first.get(field)!r}: "
                    "only adapters of one base and shape can be averaged"
                )
    return {k: v for k, v in first.items() if k != "fusion_alpha"}  # a fusion weight is chosen per adapter


def average_adapters(
    adapters: Sequence[str | Path], output: str | Path, weights: Sequence[float] | None = None
) -> Path:
    """Write to ``output`` the adapter whose weight update is the weighted mean of the given adapters'
    (uniform by default), with their shared ``embedder.json`` and a card naming the parts."""
    from peft import PeftModel

    folders = [adapter_folder(str(a)) for a in adapters]
    mix = soup_weights(len(folders), weights)
    settings = shared_settings(folders)
    output = Path(output)
    if output.exists() and any(output.iterdir()):
        raise ValueError(f"output folder {output} exists and is not empty; name a new folder")
    base = load_backbone(resolve_model(settings.get("model")), num_layers=settings.get("num_layers"))
    names = [f"part{i}" for i in range(len(folders))]
    model = PeftModel.from_pretrained(base, str(folders[0]), adapter_name=names[0])
    for name, folder in zip(names[1:], folders[1:], strict=True):
        model.load_adapter(str(folder), adapter_name=name)
    model.add_weighted_adapter(names, mix, adapter_name=SOUP, combination_type="cat")
    model.save_pretrained(output, selected_adapters=[SOUP], safe_serialization=True)
    (output / EMBEDDER_CONFIG_FILE).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    parts = "\n".join(f"| {folder} | {w:.4f} |" for folder, w in zip(folders, mix, strict=True))
    (output / "README.md").write_text(
        "# LoRA adapter soup\n\nThe weighted mean of these adapters' weight updates (`e5 soup`; exact: "
        f"rank {model.peft_config[SOUP].r}):\n\n| adapter | weight |\n|---|---:|\n{parts}\n",
        encoding="utf-8",
    )
    return output
