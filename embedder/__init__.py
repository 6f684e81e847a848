"""Decoder LLMs as text embedders (Wang et al., 2024), behind one ``Encoder`` protocol.

Light at import (no torch) so that ``e5 --help`` is instant; backends load their libraries on use.
"""

from .config import EmbedderConfig
from .instructions import instruction_for
from .paths import e5_home
from .prompts import format_query
from .protocol import Encoder
from .registry import MODELS, load_encoder

__all__ = [
    "MODELS",
    "EmbedderConfig",
    "Encoder",
    "e5_home",
    "format_query",
    "instruction_for",
    "load_encoder",
]
