"""Token chunker: windows, overlap, offsets; with whitespace tokens and with the model's own tokenizer."""

import pytest

from rag.chunking import WORD, chunk_text, spans_for, tokenizer_spans, whitespace_spans


def test_windows_overlap_and_offsets():
    text = "a b c d e"
    chunks = chunk_text(text, whitespace_spans, chunk_tokens=2, overlap=1)
    assert [c.text for c in chunks] == ["a b", "b c", "c d", "d e"]
    assert [c.ordinal for c in chunks] == [0, 1, 2, 3]
    assert all(text[c.start : c.end] == c.text and c.tokens == 2 for c in chunks)


def test_no_overlap_last_window_shorter():
    chunks = chunk_text("one two three four five", whitespace_spans, chunk_tokens=2, overlap=0)
    assert [c.text for c in chunks] == ["one two", "three four", "five"]
    assert chunks[-1].tokens == 1


def test_short_and_empty_texts():
    assert [c.text for c in chunk_text("  just three words\n", whitespace_spans, 10, 2)] == [
        "just three words"
    ]
    assert chunk_text("", whitespace_spans, 10, 2) == []
    assert chunk_text(" \n\t ", whitespace_spans, 10, 2) == []


@pytest.mark.parametrize("chunk_tokens, overlap", [(4, 4), (4, -1), (4, 5)])
def test_bad_overlap_is_refused(chunk_tokens, overlap):
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("a b c", whitespace_spans, chunk_tokens, overlap)


def test_every_token_is_covered_once_without_overlap():
    words = [f"w{i}" for i in range(103)]
    chunks = chunk_text(" ".join(words), whitespace_spans, chunk_tokens=10, overlap=0)
    assert " ".join(c.text for c in chunks).split() == words


def test_model_tokenizer_chunks_fit_the_window(default_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(default_model_dir)
    text = "Retrieval-augmented generation grounds answers in documents. " * 40
    chunks = chunk_text(text, tokenizer_spans(tokenizer), chunk_tokens=32, overlap=8)
    assert len(chunks) > 5
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text and not chunk.text[0].isspace()
        assert len(tokenizer(chunk.text, add_special_tokens=False)["input_ids"]) <= 32
    # neighbouring windows share text (the 8-token overlap)
    assert chunks[1].start < chunks[0].end


def test_spans_for_falls_back_to_whitespace(hash_encoder):
    assert spans_for(hash_encoder) is whitespace_spans


def test_windows_of_subword_tokens_start_and_end_on_words():
    text = "the weights are dequantised before the matmul runs here"

    def subwords(piece: str) -> list[tuple[int, int]]:  # words cut into pieces of at most four letters
        return [
            (m.start() + i, min(m.start() + i + 4, m.end()))
            for m in WORD.finditer(piece)
            for i in range(0, m.end() - m.start(), 4)
        ]

    chunks = chunk_text(text, subwords, chunk_tokens=6, overlap=2)
    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.tokens <= 6
        assert chunk.start == 0 or text[chunk.start - 1] == " "
        assert chunk.end == len(text) or text[chunk.end] == " "
    assert "dequantised" in " ".join(c.text for c in chunks).split()
    assert chunks[-1].end == len(text)


def test_a_word_longer_than_a_window_is_still_cut():
    text = "x" * 40 + " tail"
    pieces = [(i, i + 4) for i in range(0, 40, 4)] + [(41, 45)]
    chunks = chunk_text(text, lambda _text: pieces, chunk_tokens=4, overlap=0)
    assert [c.tokens for c in chunks] == [4, 4, 3] and chunks[-1].text == "xxxxxxxx tail"
