"""Written communication (module 7): LIX against published examples, and passive voice in
each language, with the deponent verbs that must not count."""

from __future__ import annotations

import pytest
from medlytt.plugins.written.passive import passive_constructions, passive_share
from medlytt.plugins.written.readability import lix, readability, sentences_of
from medlytt.plugins.written.scoring import score_text


def text_of(sentences: int, words: int, long_words: int) -> str:
    """A text with exactly these counts: short words of four letters, long ones of nine,
    the first sentences one word longer when the words do not divide evenly."""
    per, extra = divmod(words, sentences)
    pool = ["läsbarhet"] * long_words + ["katt"] * (words - long_words)
    out, at = [], 0
    for n in range(sentences):
        size = per + (1 if n < extra else 0)
        chunk = pool[at : at + size]
        at += size
        out.append(" ".join([chunk[0].capitalize(), *chunk[1:]]) + ".")
    return " ".join(out)


def test_lix_of_the_published_inuse_example():
    """inUse, "Vet DU vad lix är?" (https://inuse.se/read/vet-du-vad-lix-ar-inuseful/),
    lix.se's result for the inuseful.se blog: 580 sentences (M), 3784 words (O), 1018 words
    of more than six letters (L); sentence length 6,52, share of long words 26,9,
    LIX 33."""
    counts = readability(text_of(580, 3784, 1018))
    assert (counts.sentences, counts.words, counts.long_words) == (580, 3784, 1018)
    assert round(counts.mean_sentence_words, 2) == 6.52
    assert round(100 * counts.long_word_share, 1) == 26.9
    assert round(counts.lix) == 33


def test_lix_of_the_published_sprogvaskeriet_example():
    """Sprogvaskeriet, "Tjek din lix" (https://sprogvaskeriet.dk/tjek-din-lix/): "Hvis dine
    sætninger altså i gennemsnit er på 20 ord og 20 procent af ordene er lange, har du en
    lix på 40"."""
    counts = readability(text_of(5, 100, 20))
    assert counts.mean_sentence_words == 20 and counts.long_word_share == 0.2
    assert counts.lix == pytest.approx(40.0)


def test_lix_is_bjornssons_formula():
    # words / sentences + 100 * long words / words
    assert lix(437, 21, 112) == pytest.approx(437 / 21 + 11200 / 437)
    assert lix(0, 0, 0) == 0.0


def test_what_counts_as_a_word_a_sentence_and_a_long_word():
    text = (
        "Hei Kari\n\nTakk for e-posten din. Vi har f.eks. sendt brevet 3.4.2026, "
        "og beløpet er 1.500 kr. Kan du svare: Ja?"
    )
    assert sentences_of(text) == [
        "Hei Kari.",
        "Takk for e-posten din.",
        "Vi har f.eks. sendt brevet 3.4.2026, og beløpet er 1.500 kr.",
        "Kan du svare:",
        "Ja?",
    ]
    counts = readability(text)
    # Numbers are not words; e-posten is one word of seven letters (a long one).
    assert counts.words == 20
    assert counts.long_words == 2  # e-posten, beløpet
    assert counts.sentences == 5


#: (language, sentence, the passive construction found) - each must be found.
PASSIVE = [
    ("nb", "Saken behandles i morgen.", ["behandles"]),
    ("nb", "Fakturaen må betales innen fredag.", ["betales"]),
    ("nb", "Brevet ble sendt i går.", ["ble sendt"]),
    ("nb", "Søknaden blir ikke behandlet før i august.", ["blir ikke behandlet"]),
    ("nb", "Det er blitt gjort en feil.", ["blitt gjort"]),
    ("nn", "Brevet må sendast i dag.", ["sendast"]),
    ("nn", "Saka vart behandla i går.", ["vart behandla"]),
    ("nn", "Søknaden blei send i førre veke.", ["blei send"]),
    ("nn", "Det har vorte gjort ein feil.", ["vorte gjort"]),
    ("nn", "Saka handsamast ikkje før i august.", []),  # no modal before -ast: not counted
    ("sv", "Ärendet skickades igår.", ["skickades"]),
    ("sv", "Fakturan ska betalas senast fredag.", ["betalas"]),
    ("sv", "Beslutet har fattats av styrelsen.", ["fattats"]),
    ("sv", "Brevet sänds i dag och huset byggs i vår.", ["sänds", "byggs"]),
    ("sv", "Paketet blev skickat i förrgår.", ["blev skickat"]),
    ("sv", "Ansökan blir godkänd i morgon.", ["blir godkänd"]),
    ("sv", "Avtalet har blivit underskrivet.", ["blivit underskrivet"]),
    ("da", "Pakken sendes i morgen.", ["sendes"]),
    ("da", "Brevet sendtes i går.", ["sendtes"]),
    ("da", "Sagen bliver behandlet i næste uge.", ["bliver behandlet"]),
    ("da", "Brevet blev sendt i går.", ["blev sendt"]),
    ("da", "Aftalen er blevet underskrevet.", ["blevet underskrevet"]),
    ("en", "The letter was sent yesterday.", ["was sent"]),
    ("en", "Your case has been reviewed by our team.", ["been reviewed"]),
    ("en", "The invoice is not needed any more.", ["is not needed"]),
    ("en", "The parcel was quickly delivered.", ["was quickly delivered"]),
]

#: Sentences that must not count: active voice, deponents, reciprocals, look-alikes.
ACTIVE = [
    ("nb", "Vi sender brevet i dag."),
    ("nb", "Jeg synes dette er en god løsning."),
    ("nb", "Vi trives godt her."),
    ("nb", "Det lykkes oss nok til slutt."),
    ("nb", "Det finnes en bedre løsning."),
    ("nb", "Vi sees i morgen."),
    ("nb", "Hennes sak er ferdig, og deres også."),
    ("nb", "Det blir bra."),
    ("nn", "Eg synest det er fint."),
    ("nn", "Det finst ei betre løysing."),
    ("nn", "Vi trivst godt her."),
    ("sv", "Vi skickar paketet i dag."),
    ("sv", "Det finns en lösning."),
    ("sv", "Vi hoppas att det går bra."),
    ("sv", "Det lyckades till slut."),
    ("sv", "Jag trivs på jobbet."),
    ("sv", "Barnet låtsas sova."),
    ("da", "Vi sender pakken i morgen."),
    ("da", "Jeg synes det er godt."),
    ("da", "Det lykkes os nok."),
    ("da", "Der findes en løsning."),
    ("da", "Vi ses i morgen."),
    ("en", "We sent the letter yesterday."),
    ("en", "This is a red car."),
    ("en", "We need the invoice."),
]


@pytest.mark.parametrize(("language", "sentence", "found"), PASSIVE)
def test_passive_constructions_are_found(language, sentence, found):
    assert passive_constructions(sentence, language) == found


@pytest.mark.parametrize(("language", "sentence"), ACTIVE)
def test_deponents_and_active_sentences_do_not_count(language, sentence):
    assert passive_constructions(sentence, language) == []


def test_the_deponent_list_is_what_keeps_them_out():
    """Without the exception list the same words would read as s-passives: the list, not
    luck, keeps ``synes``, ``hoppas`` and ``lykkes`` active."""
    from medlytt.plugins.written import passive

    for language, word in (("nb", "synes"), ("sv", "hoppas"), ("da", "lykkes")):
        assert word in passive.NOT_PASSIVE[language]
        saved = passive.NOT_PASSIVE[language]
        passive.NOT_PASSIVE[language] = frozenset()
        try:
            assert passive.passive_constructions(f"Det {word} bra.", language) == [word]
        finally:
            passive.NOT_PASSIVE[language] = saved


def test_the_passive_share_counts_sentences():
    text = "Saken behandles i dag. Vi ringer deg. Brevet ble sendt i går. Takk for sist."
    assert passive_share(text, "nb") == (2, 4)
    scores = score_text(text, "nb")
    assert scores["passive_sentences"] == 2 and scores["passive_share"] == 0.5


def test_an_unknown_language_is_named():
    with pytest.raises(ValueError, match="language must be one of nb, nn, sv, da, en"):
        passive_constructions("Hej.", "de")
