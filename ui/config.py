"""The app's start-up configuration, read from environment variables (so tests and deployments can
override it without touching code). Session choices made on the Settings page live in ``ui.session``.

``E5_UI_MODEL``          encoder spec for new collections and searches (default ``default``)
``E5_UI_ADAPTER``        LoRA adapter folder for LLM specs
``E5_UI_DEVICE``         ``auto``, ``cpu``, ``cuda[:N]`` or ``mps``
``E5_UI_DATA_ROOT``      folder holding BEIR-format datasets (default ``../shared/data`` beside the
                         checkout when present, else ``$E5_HOME/data``)
``E5_UI_ALLOWED_ROOTS``  folders the Index page may read, separated by ``os.pathsep``
                         (default: the home folder and the working folder)
``E5_EMBED_BASE_URL``    OpenAI-compatible endpoint for ``openai:`` embedding specs (else ``OPENAI_BASE_URL``)
``E5_CHAT_BASE_URL``     OpenAI-compatible endpoint for answers (else ``OPENAI_BASE_URL``)
``E5_CHAT_MODEL``        chat model name for answers
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from embedder.paths import e5_home

REPO_ROOT = Path(__file__).resolve().parents[1]
DEVICES = ("auto", "cpu", "cuda", "mps")


def _env(name: str, *fallbacks: str) -> str | None:
    """The first non-empty value among the variables named."""
    for key in (name, *fallbacks):
        value = os.environ.get(key, "").strip()
        if value:
            return value
    return None


def default_data_root() -> Path:
    shared = REPO_ROOT.parent / "shared" / "data"
    return shared if shared.is_dir() else e5_home() / "data"


def default_allowed_roots() -> tuple[Path, ...]:
    return tuple(dict.fromkeys([Path.home().resolve(), Path.cwd().resolve()]))


@dataclass(frozen=True)
class UIConfig:
    """Start-up defaults for the app; every field has a value that runs."""

    model: str = "default"
    adapter: str | None = None
    device: str = "auto"
    data_root: Path = field(default_factory=default_data_root)
    allowed_roots: tuple[Path, ...] = field(default_factory=default_allowed_roots)
    embed_base_url: str | None = None
    chat_base_url: str | None = None
    chat_model: str | None = None

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ValueError("the model spec must not be empty")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be one of {', '.join(DEVICES)} or cuda:N, got {self.device!r}")
        if not self.allowed_roots:
            raise ValueError("at least one allowed root folder is needed for indexing")


def load_config() -> UIConfig:
    """The configuration the environment asks for (defaults for anything unset)."""
    roots = _env("E5_UI_ALLOWED_ROOTS")
    data_root = _env("E5_UI_DATA_ROOT")
    return UIConfig(
        model=_env("E5_UI_MODEL") or "default",
        adapter=_env("E5_UI_ADAPTER"),
        device=_env("E5_UI_DEVICE") or "auto",
        data_root=Path(data_root).expanduser() if data_root else default_data_root(),
        allowed_roots=tuple(Path(p).expanduser().resolve() for p in roots.split(os.pathsep) if p)
        if roots
        else default_allowed_roots(),
        embed_base_url=_env("E5_EMBED_BASE_URL", "OPENAI_BASE_URL"),
        chat_base_url=_env("E5_CHAT_BASE_URL", "OPENAI_BASE_URL"),
        chat_model=_env("E5_CHAT_MODEL"),
    )
