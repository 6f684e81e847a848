"""A handful of real forwards of the packaged SmolLM2-135M-Instruct (the default weights)."""

import numpy as np
import pytest

from embedder.registry import load_encoder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prompteol():
    return load_encoder("base-prompteol", max_length=64)


def test_real_forward_shape_norm_determinism(prompteol):
    texts = ["The cat sat on the mat.", "Interest rates rose again."]
    first = prompteol.encode_documents(texts)
    assert first.shape == (2, 576)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(first, prompteol.encode_documents(texts))


def test_query_side_differs_from_document_side(prompteol):
    text = "What causes rain?"
    assert (
        prompteol.encode_queries([text], "Retrieve passages")[0] @ prompteol.encode_documents([text])[0]
        < 0.9999
    )


def test_prompteol_ranks_a_related_pair_above_an_unrelated_one(prompteol):
    anchor, related, unrelated = prompteol.encode_documents(
        [
            "A kitten is sleeping on the sofa.",
            "A young cat naps on the couch.",
            "The central bank raised interest rates by half a percent.",
        ]
    )
    assert anchor @ related > anchor @ unrelated + 0.01  # cosines are anisotropic (all near 0.97)


def test_paper_recipe_default_is_the_bare_base_model_named_as_such():
    base = load_encoder("base", max_length=32)
    assert base.name == "llm:SmolLM2-135M-Instruct/paper" and base.dim == 576
