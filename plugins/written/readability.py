"""Readability figures of a text: LIX, sentence and word length, the share of long words.

LIX (läsbarhetsindex, Carl-Hugo Björnsson, *Läsbarhet*, 1968) is the number of words per
sentence plus the percentage of long words (more than six letters)::

    LIX = words / sentences + 100 * long_words / words

It is the readability index used in Sweden, Norway and Denmark, and it needs no syllable
counting, so one definition serves all five languages Medlytt scores (nb, nn, sv, da, en).

How a text is counted (the heuristics, so a reader can redo a figure by hand):

* **A word** is a run of letters, with inner hyphens or apostrophes (``e-post``,
  ``don't``).  Numbers, e-mail addresses' punctuation and symbols are not words.
* **A long word** has more than six letters (hyphens and apostrophes are not letters).
* **A sentence** ends at ``.``, ``!``, ``?`` or ``:`` when what follows is the end of the
  text, or white space and then a capital letter, a digit or a quotation mark: so
  ``f.eks. at`` or ``t.ex. när`` (an abbreviation followed by a lower-case word) does not
  end one.  A line break after a line without such a mark also ends a sentence when the
  next line starts with a capital letter (a greeting such as ``Hei Kari`` is a sentence of
  its own, as a reader takes it).  A text with words but no mark is one sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: More letters than this make a long word (Björnsson).
LONG_WORD_LETTERS = 6
WORD = re.compile("[^\\W\\d_]+(?:['\u2019-][^\\W\\d_]+)*")
_MARKS = re.compile(r"[.!?:]+")
#: What may open a sentence after a mark and white space (besides a capital letter).
_OPENERS = "\"'«»“”„(0123456789"
_LINE_BREAK = re.compile(r"(?<![.!?:,;])[ \t]*\n\s*(?=[\"'«“(]?[^\W\d_])")


@dataclass(frozen=True)
class Readability:
    """The counts of one text and the figures from them."""

    words: int
    sentences: int
    long_words: int
    letters: int

    @property
    def lix(self) -> float:
        """Björnsson's LIX; 0 for a text without words."""
        return lix(self.words, self.sentences, self.long_words)

    @property
    def mean_sentence_words(self) -> float:
        return self.words / self.sentences if self.sentences else 0.0

    @property
    def mean_word_letters(self) -> float:
        return self.letters / self.words if self.words else 0.0

    @property
    def long_word_share(self) -> float:
        return self.long_words / self.words if self.words else 0.0


def lix(words: int, sentences: int, long_words: int) -> float:
    """``words / sentences + 100 * long_words / words`` (0 without words)."""
    if words <= 0:
        return 0.0
    return words / max(sentences, 1) + 100.0 * long_words / words


def letters_of(word: str) -> int:
    return sum(1 for ch in word if ch.isalpha())


def words_of(text: str) -> list[str]:
    """The words of ``text`` in order (module docstring)."""
    return WORD.findall(text)


def sentences_of(text: str) -> list[str]:
    """``text`` cut into sentences (module docstring); only pieces with a word count."""
    marked = _LINE_BREAK.sub(".\n", text)
    pieces, start = [], 0
    for match in _MARKS.finditer(marked):
        if _ends_sentence(marked, match.end()):
            pieces.append(marked[start : match.end()])
            start = match.end()
    pieces.append(marked[start:])
    return [piece.strip() for piece in pieces if WORD.search(piece)]


def _ends_sentence(text: str, after: int) -> bool:
    """Whether a mark ending at ``after`` ends a sentence: the text ends, or white space
    follows and then a capital letter, a digit or a quotation mark."""
    rest = text[after:]
    stripped = rest.lstrip()
    if not stripped:
        return True
    if len(stripped) == len(rest):
        return False  # no space after the mark: 1.500, 3.4.2026, www.example.no
    return stripped[0].isupper() or stripped[0] in _OPENERS


def readability(text: str) -> Readability:
    """Count ``text``: words, sentences, long words and letters."""
    words = words_of(text)
    lengths = [letters_of(word) for word in words]
    return Readability(
        words=len(words),
        sentences=len(sentences_of(text)) if words else 0,
        long_words=sum(1 for n in lengths if n > LONG_WORD_LETTERS),
        letters=sum(lengths),
    )
