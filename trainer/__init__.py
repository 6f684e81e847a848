"""Synthetic data generation and LoRA + InfoNCE fine-tuning of decoder LLMs as embedders."""
