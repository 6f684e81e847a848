"""Evaluation of encoders: BEIR, MTEB, personalized passkey retrieval, side-by-side comparison."""
