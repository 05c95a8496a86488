"""One text's scores, from :mod:`.readability` and :mod:`.passive`."""

from __future__ import annotations

import hashlib
from typing import Any

from .passive import passive_sentences
from .readability import readability, sentences_of


def text_hash(text: str) -> str:
    """SHA-256 of the text (UTF-8): tells two submissions of the same text apart from
    different ones without keeping the text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def score_text(text: str, language: str) -> dict[str, Any]:
    """The scores stored for a text, rounded for reading (two decimals, shares 0-1)."""
    counts = readability(text)
    passive = passive_sentences(sentences_of(text), language)
    return {
        "words": counts.words,
        "sentences": counts.sentences,
        "long_words": counts.long_words,
        "lix": round(counts.lix, 2),
        "mean_sentence_words": round(counts.mean_sentence_words, 2),
        "mean_word_letters": round(counts.mean_word_letters, 2),
        "long_word_share": round(counts.long_word_share, 4),
        "passive_sentences": passive,
        "passive_share": round(passive / counts.sentences, 4) if counts.sentences else 0.0,
    }
