"""Encoder backends, one file each; see ``embedder.registry`` for how specs map onto them."""
