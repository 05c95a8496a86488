"""Passive voice in Norwegian (bokmål and nynorsk), Swedish, Danish and English, by rule.

Module 7 of the method asks for active rather than passive language in letters and
e-mails ("aktivt/passivt språk").  Medlytt marks a sentence as passive when it holds one of
the constructions below, and reports the share of such sentences.  These are heuristics
on word forms, without a dictionary or a parser; their limits are listed so that a coach
reads the figure as a pointer, not a verdict.

**Scandinavian s-passive** (``Saken behandles``, ``Brevet må sendast``, ``Ärendet skickades``,
``Pakken sendes``): a verb form with the passive ending of the language.

* Norwegian: a word of at least five letters ending in ``-es``; in nynorsk a word ending in
  ``-ast`` right after a modal (``kan``, ``må``, ``skal``, ``vil``, ``bør``, ``kunne``...).
* Swedish: ending in ``-as``, ``-es``, ``-ds``, ``-gs``, ``-ps`` (present: ``skickas``,
  ``läses``, ``sänds``, ``byggs``, ``köps``), ``-ades``, ``-des``, ``-tes`` (past) or
  ``-ats``, ``-its`` (supine, ``har skickats``).
* Danish: ending in ``-es`` (present) or ``-edes``, ``-tes``, ``-des`` (past).

**Periphrastic passive**: a form of the auxiliary followed, at most two words later, by a
past participle (a word with a participle ending, or one of the common irregular ones):

* Norwegian ``bli, blir, ble, blei, blitt`` and nynorsk ``verte, vert, vart, vorte``
  (``Saken blir behandlet``, ``Brevet vart sendt``, ``Det er blitt gjort``);
* Swedish ``bli, bliva, blir, bliver, blev, blivit`` (``Paketet blev skickat``);
* Danish ``blive, bliver, blev, blevet`` (``Sagen bliver behandlet``);
* English a form of *be* (``am, is, are, was, were, be, been, being``) followed by a word
  ending in ``-ed`` or an irregular participle (``was sent``, ``has been done``), with one
  adverb allowed between (``is not needed``, ``was quickly sent``).

**What must not count**: deponent verbs, which end like a passive but are active in meaning
(Norwegian ``synes, trives, lykkes, finnes, minnes``; Swedish ``finns, hoppas, lyckas,
trivs, andas, låtsas``; Danish ``synes, lykkes, findes, trives, mindes``), reciprocal forms
(``vi ses``, ``møtes``), and common words that merely end alike (``hennes``, ``deres``,
``ananas``, ``atlas``): each language has an exception list (:data:`NOT_PASSIVE`).

**Limits**: a genitive that ends like a passive (Norwegian ``bedriftes``, Swedish
``firmas``, ``Sveriges``, ``lands``, Danish ``kundes``) reads as an s-passive; Swedish present
passives in ``-rs``, ``-ns``, ``-ks`` (``görs``, ``känns``, ``tänks``) are not found, since
genitives end alike far more often; Norwegian and Danish passives of verbs that end in a
vowel (``oppgis``, ``fås``) are not found either; ``bli``/``blive`` with an adjective
that ends like a participle (``blir trøtt``) reads as passive; English *be* with an
adjective in ``-ed`` (``is interested``) counts, and the *get*-passive (``got fired``) does
not.  Exceptions can be added to the lists; the tests hold the cases above.
"""

from __future__ import annotations

from collections.abc import Iterable

from .readability import WORD, sentences_of

LANGUAGES = ("nb", "nn", "sv", "da", "en")


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


_NORWEGIAN_DEPONENTS = _words(
    # bokmål deponents and reciprocals (present, past)
    "synes syntes trives trivdes lykkes lyktes mislykkes mislyktes finnes fantes minnes "
    "mintes kjennes føles skyldes eldes møtes sees høres omgås slåss brytes fortes "
    # nynorsk
    "synest trivst lukkast finst finnast minnast møtast kjennest synast trivast lykkast"
)
_NORWEGIAN_WORDS = _words(
    "hennes deres dennes dets ens alles noens ingens enkeltes hverandres ellers tidvis "
    "apropos kanskje pres adresses prosesses"
)
NOT_PASSIVE: dict[str, frozenset[str]] = {
    "nb": _NORWEGIAN_DEPONENTS | _NORWEGIAN_WORDS,
    "nn": _NORWEGIAN_DEPONENTS | _NORWEGIAN_WORDS | _words("fast kast last rast"),
    "sv": _words(
        "finns fanns funnits hoppas hoppades hoppats lyckas lyckades lyckats misslyckas "
        "misslyckades trivs trivdes trivts andas andades låtsas låtsades minnas mindes "
        "kännas kändes synas syntes umgås umgicks slåss brås fattas fattades vistas "
        "vistades svettas svettades åldras åldrades ses träffas träffades kräkas nås möts "
        "mötas tycks tycktes ananas atlas alias kanvas glas gas oas class pass tidvis "
        "emellertid tvärtemot senast minst bäst först ungefär sådanas deras hennes dess "
        "ens andras varandras alltjämt ibland bortsett "
    ),
    "da": _words(
        "synes syntes lykkes lykkedes mislykkes mislykkedes findes fandtes trives "
        "trivedes mindes mindedes længes længtes færdes færdedes enes ses sås mødes "
        "mødtes skændes slås kedes kedede omgås undres undredes væmmes hendes deres dets "
        "ens alles hinandens andres nogles ingens ellers des fandeme tværtimod ifølge "
        "kandes "
    ),
    "en": _words(
        "bed red shed seed speed need feed indeed hundred naked wicked sacred kindred wed "
        "fled bred breed greed deed weed proceed exceed succeed steed hatred embed bled "
        "sled led "
    ),
}

_MODALS_NN = _words("kan kunne må måtte skal skulle vil ville bør burde lyt ")
AUXILIARIES: dict[str, frozenset[str]] = {
    "nb": _words("bli blir ble blei blitt vart "),
    "nn": _words("bli blir blei vart vorte verte vert blitt "),
    "sv": _words("bli bliva blir bliver blev blivit blivits "),
    "da": _words("blive bliver blev blevet bli "),
    "en": _words("am is are was were be been being "),
}
#: Participle endings after the auxiliary, longest first.
PARTICIPLE_ENDINGS: dict[str, tuple[str, ...]] = {
    "nb": ("et", "t", "d", "dd", "tt", "ne", "te", "de"),
    "nn": ("a", "et", "t", "d", "dd", "tt", "e", "ne", "te", "de"),
    "sv": ("ad", "at", "ade", "ed", "d", "t", "da", "ta", "en", "et", "na", "ne"),
    "da": ("et", "t", "d", "ede", "te", "ne"),
    "en": ("ed",),
}
#: Common participles that have none of those endings.
IRREGULAR_PARTICIPLES: dict[str, frozenset[str]] = {
    "nb": _words("gjort gitt tatt sett skrevet funnet brukt gått "),
    "nn": _words("gjort gjeve gitt teke teken sett skrive funne send "),
    "sv": _words("gjort givit gett tagit sett skrivit funnit "),
    "da": _words("gjort givet taget set skrevet fundet sendt "),
    "en": _words(
        "done made given taken sent written seen known shown told paid found brought "
        "bought held kept left lost built sold chosen spoken broken forgotten put set cut "
        "read hit shut drawn driven eaten grown hidden stolen thrown worn begun "
        "understood meant heard spent lent caught taught thought sought won hung led fed "
        "met said laid got gotten dealt felt forgiven frozen overlooked withdrawn "
        "undertaken rewritten resent rung sung "
    ),
}
#: Words that may stand between the English auxiliary and the participle.
_EN_BETWEEN = _words("not never also already just always often being ")
#: Words that may stand between a Scandinavian auxiliary and the participle.
_SCANDI_BETWEEN = _words(
    "ikke ikkje inte ej aldri aldrig også också allerede alltid altid ofte ofta snart "
    "nå nu no da då så "
)


def _s_passive(word: str, previous: str | None, language: str) -> bool:
    if word in NOT_PASSIVE[language] or len(word) < 5:
        return False
    if language == "nb":
        return word.endswith("es")
    if language == "nn":
        return word.endswith("es") or (word.endswith("ast") and previous in _MODALS_NN)
    if language == "sv":
        return word.endswith(("as", "es", "ds", "gs", "ps", "ades", "des", "tes", "ats", "its"))
    if language == "da":
        return word.endswith(("es", "edes", "tes", "des"))
    return False


def _participle(word: str, language: str) -> bool:
    if word in NOT_PASSIVE[language]:
        return False
    if word in IRREGULAR_PARTICIPLES[language]:
        return True
    return len(word) >= 4 and word.endswith(PARTICIPLE_ENDINGS[language])


def _periphrastic(words: list[str], at: int, language: str) -> int:
    """How many words after the auxiliary at ``at`` its participle stands (1 or 2); 0
    when none follows."""
    between = _EN_BETWEEN if language == "en" else _SCANDI_BETWEEN
    for offset in (1, 2):
        if at + offset >= len(words):
            return 0
        word = words[at + offset]
        if _participle(word, language):
            return offset
        allowed = word in between or (language == "en" and word.endswith("ly"))
        if not allowed:
            return 0
    return 0


def passive_constructions(sentence: str, language: str) -> list[str]:
    """The passive constructions found in one sentence, as the words that make them."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    words = [word.lower() for word in WORD.findall(sentence)]
    found: list[str] = []
    for at, word in enumerate(words):
        offset = _periphrastic(words, at, language) if word in AUXILIARIES[language] else 0
        if offset:
            found.append(" ".join(words[at : at + offset + 1]))
        elif language != "en" and _s_passive(word, words[at - 1] if at else None, language):
            found.append(word)
    return found


def passive_sentences(sentences: Iterable[str], language: str) -> int:
    """How many of ``sentences`` hold at least one passive construction."""
    return sum(1 for sentence in sentences if passive_constructions(sentence, language))


def passive_share(text: str, language: str) -> tuple[int, int]:
    """(passive sentences, sentences) of ``text``."""
    sentences = sentences_of(text)
    return passive_sentences(sentences, language), len(sentences)
