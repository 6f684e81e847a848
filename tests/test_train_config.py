"""Training configs: a ``base`` chain merges table by table, and every shipped config loads."""

from pathlib import Path

import pytest

from trainer.config import load_config, merge_tables

CONFIGS = Path(__file__).parents[1] / "trainer" / "configs"


def test_merge_tables_merges_tables_key_by_key_and_replaces_everything_else():
    base = {"seed": 0, "optim": {"lr": 1e-4, "batch_size": 32}, "data": [{"path": "a"}, {"path": "b"}]}
    override = {"seed": 3, "optim": {"lr": 7e-5}, "data": [{"path": "c"}]}
    merged = merge_tables(base, override)
    assert merged == {"seed": 3, "optim": {"lr": 7e-5, "batch_size": 32}, "data": [{"path": "c"}]}
    assert base["optim"] == {"lr": 1e-4, "batch_size": 32}  # the base is left as it was


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


MIX = """
[[data]]
kind = "jsonl"
path = "train.jsonl"
weight = 0.5
"""


def test_a_config_starts_from_its_base_chain_relative_to_its_own_folder(tmp_path):
    _write(tmp_path / "shared" / "mix.toml", MIX + "\n[optim]\nlr = 1e-4\nbatch_size = 16\n")
    _write(tmp_path / "shared" / "stage.toml", 'base = "mix.toml"\nseed = 3\n[optim]\nlr = 5e-5\n')
    leaf = _write(
        tmp_path / "runs" / "anneal.toml", 'base = "../shared/stage.toml"\n[optim]\nmax_steps = 9\n'
    )
    config = load_config(leaf, {"optim.warmup_steps": 1})
    assert config.seed == 3
    assert (config.optim.lr, config.optim.batch_size, config.optim.max_steps) == (5e-5, 16, 9)
    assert config.optim.warmup_steps == 1
    assert [(s.path, s.weight) for s in config.data] == [("train.jsonl", 0.5)]


def test_a_missing_base_names_the_file_and_the_config_that_asked(tmp_path):
    leaf = _write(tmp_path / "leaf.toml", 'base = "nowhere.toml"\n')
    with pytest.raises(FileNotFoundError, match=r"nowhere\.toml.*the base of .*leaf\.toml"):
        load_config(leaf)


def test_a_cycle_of_bases_is_refused(tmp_path):
    _write(tmp_path / "a.toml", 'base = "b.toml"\n')
    _write(tmp_path / "b.toml", 'base = "a.toml"\n')
    with pytest.raises(ValueError, match="cycle"):
        load_config(tmp_path / "a.toml")


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    config = load_config(path)
    assert config.data, f"{path.name} trains on no data"
