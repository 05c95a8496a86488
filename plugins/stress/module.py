"""Module 6 as the core's catalogue knows it, and its listening form.

The form asks what a listener can hear of stress in a call (pace, one task at a time,
what comes first, a calm close) rather than what only the agent feels; the plan and the
alerts cover the rest.
"""

from __future__ import annotations

from medlytt import CompetenceModule, EvaluationForm, FormItem, FormSection, Scale

MODULE_ID = "stress"
FORM_ID = "stress-management"
YES_NO = {"en": {"0": "No", "1": "Yes"}, "nb": {"0": "Nei", "1": "Ja"}}

MODULE = CompetenceModule(
    id=MODULE_ID,
    number=6,
    title="Stress management",
    titles={"en": "Stress management", "nb": "Stressmestring"},
    summary=(
        "Awareness of one's stress pattern, counter-techniques, multitasking vs task "
        "switching, prioritising; a personal development plan per agent, and alerts to the "
        "leader on heavy occupancy, calls back to back and hard calls followed at once by "
        "the next."
    ),
    forms=(FORM_ID, f"{FORM_ID}-nb"),
    measures=("medlytt_stress_alerts_total", "medlytt_stress_agents_over_occupancy"),
    activities=("development_plan.updated",),
)

#: (id, English, Norwegian bokmål, guidance)
ITEMS = (
    (
        "even-pace",
        "The agent keeps an even pace and tone through the call, also when the caller presses.",
        "Agenten holder jevnt tempo og tonefall gjennom samtalen, også når innringeren presser.",
        "No when the agent speeds up, cuts sentences short or raises the voice after pressure.",
    ),
    (
        "one-task",
        "The agent does one thing at a time: says so before looking something up instead of "
        "typing while the caller talks.",
        "Agenten gjør én ting om gangen: sier fra før noe slås opp i stedet for å taste mens "
        "innringeren snakker.",
        "No when keys are heard while the caller explains, or a question is asked twice.",
    ),
    (
        "first-things-first",
        "The agent deals with the caller's most urgent matter first.",
        "Agenten tar det mest presserende for innringeren først.",
        "Yes when the first solution offered answers what the caller called about.",
    ),
    (
        "calm-close",
        "The agent closes the call calmly, without hurrying the caller off the line.",
        "Agenten avslutter samtalen rolig, uten å skynde innringeren av linjen.",
        "No when the close is cut short or the caller has to ask to be let finish.",
    ),
)


def forms() -> list[EvaluationForm]:
    made = []
    for language, suffix, title in (
        ("en", "", "Stress management: what a listener hears"),
        ("nb", "-nb", "Stressmestring: det en medlytter hører"),
    ):
        items = tuple(
            FormItem(
                id=item_id,
                text=english if language == "en" else norwegian,
                scale=Scale(min=0, max=1, labels=YES_NO[language]),
                guidance=guidance,
            )
            for item_id, english, norwegian, guidance in ITEMS
        )
        made.append(
            EvaluationForm(
                id=f"{FORM_ID}{suffix}",
                version=1,
                title=title,
                sections=(FormSection(id="call", title=title, items=items),),
                module=MODULE_ID,
                language=language,
            )
        )
    return made
