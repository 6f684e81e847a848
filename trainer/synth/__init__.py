"""Synthetic training data, the paper's way: an LLM brainstorms tasks, then writes examples for each."""
