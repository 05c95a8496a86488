"""The method's forms the quality plugin ships (English and Norwegian bokmål) and their loader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from medlytt import EvaluationForm
from medlytt.plugins.quality import method_forms as module
from medlytt.plugins.quality.method_forms import MethodFormError, method_forms

SHIPPED = Path(module.__file__).parent / "method_forms"
EXPECTED = {
    "phone-technique": "phone-technique",
    "call-control": "call-control",
    "feedback-on-feedback": "coaching",
}


@pytest.fixture(scope="module")
def forms() -> dict[str, EvaluationForm]:
    return {form.id: form for form in method_forms()}


def test_the_method_forms_are_shipped_in_english_and_bokmal(forms: dict[str, EvaluationForm]):
    assert sorted(forms) == sorted([*EXPECTED, *(f"{name}-nb" for name in EXPECTED)])
    for name, module_name in EXPECTED.items():
        assert (forms[name].language, forms[f"{name}-nb"].language) == ("en", "nb")
        assert forms[name].module == forms[f"{name}-nb"].module == module_name
        assert forms[name].version == 1


def test_the_english_form_comes_before_its_translation() -> None:
    ids = [form.id for form in method_forms()]
    assert all(ids.index(name) + 1 == ids.index(f"{name}-nb") for name in EXPECTED)


def test_call_control_has_the_calls_four_phases(forms: dict[str, EvaluationForm]) -> None:
    for form_id in ("call-control", "call-control-nb"):
        sections = forms[form_id].sections
        assert [s.id for s in sections] == ["opening", "mapping", "solution", "closing"]
        assert all(re.match(rf"(Phase|Fase) {n}: ", s.title) for n, s in enumerate(sections, 1))


def test_every_item_is_scorable_without_opinion(forms: dict[str, EvaluationForm]) -> None:
    """Unique ids, guidance on every item, and one of the method's scales, labelled."""
    for form in forms.values():
        ids = form.item_ids()
        assert len(ids) == len(set(ids)) >= 10, form.id
        for section in form.sections:
            for item in section.items:
                where = f"{form.id}/{item.id}"
                assert item.text.strip() and len(item.guidance) > len("Yes when"), where
                bounds = (item.scale.min, item.scale.max)
                assert bounds in {(0, 1), (1, 5), (0, 10)}, where
                if bounds == (0, 10):  # the ends are labelled; points between are numbers
                    assert set(item.scale.labels) == {"0", "10"}, where
                else:  # yes/no and 1-5: every point says what it means
                    points = range(bounds[0], bounds[1] + 1)
                    assert set(item.scale.labels) == {str(p) for p in points}, where
                assert item.weight > 0, where


def test_each_form_has_a_critical_item_where_the_method_implies_one(
    forms: dict[str, EvaluationForm],
) -> None:
    critical = {
        form_id: [item.id for s in form.sections for item in s.items if item.critical]
        for form_id, form in forms.items()
    }
    assert critical["phone-technique"] == ["identifies-caller"]  # data protection
    assert critical["call-control"] == ["correct-information"]
    assert critical["feedback-on-feedback"] == ["shows-evaluation"]  # full transparency
    for form_id, items in critical.items():
        assert items, form_id


def test_english_and_bokmal_have_the_same_items_and_scales(
    forms: dict[str, EvaluationForm],
) -> None:
    """Checked here on the shipped forms directly, not only through the loader."""
    for name in EXPECTED:
        english, bokmal = forms[name], forms[f"{name}-nb"]
        assert english.item_ids() == bokmal.item_ids()
        for en_section, nb_section in zip(english.sections, bokmal.sections, strict=True):
            assert en_section.id == nb_section.id
            assert en_section.title != nb_section.title or en_section.title.startswith("Fase")
            for en, nb in zip(en_section.items, nb_section.items, strict=True):
                assert (en.scale.min, en.scale.max) == (nb.scale.min, nb.scale.max)
                assert en.scale.labels.keys() == nb.scale.labels.keys()
                assert (en.weight, en.allow_na, en.critical) == (
                    nb.weight,
                    nb.allow_na,
                    nb.critical,
                )
                assert en.text != nb.text and en.guidance != nb.guidance  # translated


# --- The loader refuses a bad file and says where ---------------------------------------


def folder_with(tmp_path: Path, file: str, old: str, new: str) -> Path:
    """A copy of the shipped forms with one edit to ``file``."""
    for source in SHIPPED.glob("*.toml"):
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    target = tmp_path / file
    text = target.read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{old!r} not in {file}"
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


def test_an_unchanged_copy_loads(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "call-control.toml", "version = 1", "version = 1")
    assert [form.id for form in method_forms(folder)] == [form.id for form in method_forms()]


BAD_FILES = [
    ("phone-technique.toml", 'title = "Listening', 'title = "Listening\n', "not valid TOML"),
    (
        "phone-technique.toml",
        "min = 0, max = 1",
        'min = "0", max = 1',
        r"Expected `int`, got `str` - at `\$.sections\[0\].items\[0\].scale.min`",
    ),
    (
        "call-control.toml",
        "weight = 1.0\n",
        "weight = 1.0\nmandatory = true\n",
        r"unknown field `mandatory` - at `\$.sections\[0\].items\[0\]`",
    ),
    (
        "call-control.toml",
        'id = "announces-plan"',
        'id = "invites-errand"',
        r"sections\[0\].items\[1\].id: 'invites-errand' is also sections\[0\].items\[0\].id",
    ),
    (
        "call-control.toml",
        'id = "mapping"',
        'id = "opening"',
        r"sections\[1\].id: 'opening' is also sections\[0\].id",
    ),
    (
        "feedback-on-feedback.toml",
        'id = "feedback-on-feedback"',
        'id = "feedback"',
        "id: 'feedback' must be the file's name without .toml, 'feedback-on-feedback'",
    ),
    (
        "feedback-on-feedback.toml",
        'labels = { "0" = "No"',
        'labels = { "2" = "No"',
        r"sections\[0\].items\[0\].scale.labels: '2' is not a point of the scale 0..1",
    ),
    (
        "feedback-on-feedback.toml",
        "min = 0, max = 1",
        "min = 1, max = 1",
        r"sections\[0\].items\[0\].scale: min 1 must be below max 1",
    ),
    (
        "phone-technique.toml",
        "guidance = \"Yes only when all three are heard in the agent's first sentence. "
        'One of them missing, or said later in the call: No."',
        'guidance = " "',
        r"sections\[0\].items\[0\].guidance: must not be empty",
    ),
    (
        "phone-technique.toml",
        'language = "en"',
        'language = "sv"',
        "language: 'sv' is not one of en, nb",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "message"), BAD_FILES)
def test_a_bad_file_is_refused_naming_file_and_key(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    folder = folder_with(tmp_path, file, old, new)
    with pytest.raises(MethodFormError, match=rf"^{re.escape(file)}: .*{message}"):
        method_forms(folder)


BAD_TRANSLATIONS = [
    (
        'id = "hold-return"',
        'id = "hold-returns"',
        r"sections\[3\].items: ids \['hold-permission', 'hold-returns', 'transfer-handover'\] "
        r"differ from phone-technique.toml's \['hold-permission', 'hold-return', ",
    ),
    (
        "min = 0, max = 1",
        "min = 0, max = 2",
        r"sections\[0\].items\[0\].scale.max: 2 differs from phone-technique.toml's 1",
    ),
    (
        "weight = 2.0\nallow_na = true\ncritical = true",
        "weight = 2.0\nallow_na = true\ncritical = false",
        r"sections\[0\].items\[1\].critical: False differs from phone-technique.toml's True",
    ),
    (
        '{ "0" = "Nei", "1" = "Ja" }',
        '{ "1" = "Ja" }',
        r"sections\[0\].items\[0\].scale.labels: \['1'\] differs from .* \['0', '1'\]",
    ),
    (
        'id = "listening"',
        'id = "lytting"',
        r"sections: ids \['reception', 'lytting',",
    ),
    (
        'module = "phone-technique"',
        'module = "telefonteknikk"',
        "module: 'telefonteknikk' differs from phone-technique.toml's 'phone-technique'",
    ),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD_TRANSLATIONS)
def test_a_translation_must_keep_the_items_and_scales(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    folder = folder_with(tmp_path, "phone-technique-nb.toml", old, new)
    with pytest.raises(MethodFormError, match=rf"^phone-technique-nb.toml: {message}"):
        method_forms(folder)


def test_a_translation_needs_its_english_form(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "call-control.toml", "version = 1", "version = 1")
    (folder / "call-control.toml").unlink()
    with pytest.raises(MethodFormError, match=r"call-control-nb\.toml: id: no English form"):
        method_forms(folder)
