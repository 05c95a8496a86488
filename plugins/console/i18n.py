"""The console's words in English and Norwegian (bokmål), chosen per user.

A user's language is their profile's choice; before login (and when they chose none) the
browser's ``Accept-Language`` decides.  Numbers, durations and times are formatted by the
browser in the user's locale (``Intl``), so only words live here.
"""

from __future__ import annotations

LANGUAGES = ("en", "nb")

#: key -> (English, bokmål)
WORDS: dict[str, tuple[str, str]] = {
    "medlytt_console": ("Medlytt console", "Medlytt-konsoll"),
    "log_in": ("Log in", "Logg inn"),
    "log_out": ("Log out", "Logg ut"),
    "user_name": ("User name", "Brukernavn"),
    "password": ("Password", "Passord"),
    "wrong_login": ("Wrong user name or password.", "Feil brukernavn eller passord."),
    "too_many": (
        "Too many wrong passwords. Wait a minute and try again.",
        "For mange feil passord. Vent ett minutt og prøv igjen.",
    ),
    "fill_both": ("Give a user name and a password.", "Oppgi brukernavn og passord."),
    "form_expired": (
        "The form expired; please try again.",
        "Skjemaet er utløpt; prøv igjen.",
    ),
    "wallboard": ("Wallboard", "Tavle"),
    "agents_calls": ("Agents and live calls", "Agenter og samtaler"),
    "my_page": ("My page", "Min side"),
    "mystery_calls": ("Mystery calls", "Testsamtaler"),
    "profile": ("Profile", "Profil"),
    "evaluate": ("Evaluate", "Evaluer"),
    "calibration": ("Calibration", "Kalibrering"),
    "menu": ("Menu", "Meny"),
    "queue": ("Queue", "Kø"),
    "waiting": ("Waiting", "Venter"),
    "longest_wait": ("Longest wait", "Lengste ventetid"),
    "service_level": ("Service level", "Servicegrad"),
    "answered_today": ("Answered today", "Besvart i dag"),
    "abandoned_today": ("Abandoned today", "Avbrutt i dag"),
    "agents_required": ("Agents required", "Agenter som trengs"),
    "agent": ("Agent", "Agent"),
    "agents": ("Agents", "Agenter"),
    "state": ("State", "Status"),
    "time_in_state": ("Time in state", "Tid i status"),
    "current_call": ("Current call", "Pågående samtale"),
    "caller": ("Caller", "Innringer"),
    "duration": ("Duration", "Varighet"),
    "actions": ("Actions", "Handlinger"),
    "listen": ("Listen", "Lytt"),
    "whisper": ("Whisper", "Hvisk"),
    "barge": ("Barge", "Bryt inn"),
    "stop": ("Stop", "Stopp"),
    "your_phone": ("Your phone", "Din telefon"),
    "active_session": ("Your monitoring session", "Din medlytt-økt"),
    "no_session": ("No monitoring session.", "Ingen medlytt-økt."),
    "mode": ("Mode", "Modus"),
    "connected": ("Live", "Direkte"),
    "reconnecting": ("Reconnecting…", "Kobler til igjen…"),
    "hidden": ("hidden", "skjult"),
    "no_call": ("—", "—"),
    "save": ("Save", "Lagre"),
    "saved": ("Saved.", "Lagret."),
    "language": ("Language", "Språk"),
    "phone_help": (
        "The phone Medlytt rings when you listen, e.g. PJSIP/2001.",
        "Telefonen Medlytt ringer når du lytter, f.eks. PJSIP/2001.",
    ),
    "audit_rows": ("Who listened to my calls", "Hvem har lyttet på mine samtaler"),
    "survey_scores": ("My survey scores", "Mine kundeundersøkelser"),
    "evaluations": ("My evaluations", "Mine evalueringer"),
    "acknowledge": ("Acknowledge", "Bekreft"),
    "dispute": ("Dispute", "Bestrid"),
    "acknowledged": ("Acknowledged", "Bekreftet"),
    "disputed": ("Disputed", "Bestridt"),
    "comment": ("Comment", "Kommentar"),
    "overall_comment": ("Overall comment", "Samlet kommentar"),
    "when": ("When", "Når"),
    "supervisor": ("Supervisor", "Leder"),
    "action": ("Action", "Handling"),
    "nothing_yet": ("Nothing yet.", "Ingenting ennå."),
    "forbidden": ("You may not open this page.", "Du har ikke tilgang til denne siden."),
    "not_an_agent": (
        "Your user has no agent id, so there is no page of your own calls.",
        "Brukeren din har ingen agent-id, så du har ingen egne samtaler å se.",
    ),
    "page_of": ("Page of agent", "Side for agent"),
    "place_call": ("Place a mystery call", "Ring en testsamtale"),
    "target": ("Target", "Mål"),
    "scenario": ("Scenario", "Scenario"),
    "campaigns": ("Campaigns", "Kampanjer"),
    "kill_switch": ("Kill switch", "Nødstopp"),
    "kill_on": ("Stop all mystery calls", "Stopp alle testsamtaler"),
    "kill_off": ("Allow mystery calls again", "Tillat testsamtaler igjen"),
    "results": ("Results", "Resultater"),
    "outcome": ("Outcome", "Utfall"),
    "name": ("Name", "Navn"),
    "schedule": ("Schedule", "Tidsplan"),
    "create_campaign": ("Create campaign", "Opprett kampanje"),
    "campaign_json": (
        "Campaign (JSON, as in docs/mystery-calls.md)",
        "Kampanje (JSON, som i docs/mystery-calls.md)",
    ),
    "score": ("Score", "Poeng"),
    "form": ("Form", "Skjema"),
    "status": ("Status", "Status"),
    "err_403": ("Not allowed: ", "Ikke tillatt: "),
    "err_409": ("Not possible now: ", "Ikke mulig nå: "),
    "err_502": ("The phone system did not answer: ", "Telefonsystemet svarte ikke: "),
    "err_other": ("Failed: ", "Feilet: "),
    "ringing_you": ("Ringing your phone…", "Ringer telefonen din…"),
    "state_available": ("available", "ledig"),
    "state_ringing": ("ringing", "ringer"),
    "state_on_call": ("on call", "i samtale"),
    "state_wrap_up": ("wrap-up", "etterarbeid"),
    "state_paused": ("paused", "pause"),
    "state_logged_out": ("logged out", "logget ut"),
    "state_unavailable": ("unavailable", "utilgjengelig"),
    "skip_to_content": ("Skip to content", "Hopp til innholdet"),
    "english": ("English", "English"),
    "norwegian": ("Norsk (bokmål)", "Norsk (bokmål)"),
    "items": ("Items", "Punkter"),
    "not_applicable": ("n/a", "i.a."),
    "submit_evaluation": ("Save evaluation", "Lagre evaluering"),
    "subject_call": ("Call id", "Samtale-id"),
    "answers": ("Answers", "Svar"),
    "subject": ("What is evaluated", "Hva som evalueres"),
    "subject_kind": ("Kind", "Type"),
    "subject_id": ("Id", "Id"),
    "kind_call": ("Call", "Samtale"),
    "kind_monitoring": ("Monitoring session", "Medlytt-økt"),
    "kind_recording": ("Recording", "Opptak"),
    "kind_mystery_call": ("Mystery call", "Testsamtale"),
    "recording": ("Recording", "Opptak"),
    "speed": ("Speed", "Hastighet"),
    "rounds": ("Calibration rounds", "Kalibreringsrunder"),
    "round": ("Round", "Runde"),
    "team": ("Team", "Team"),
    "progress": ("Progress", "Fremdrift"),
    "open": ("Open", "Åpne"),
    "closed": ("closed", "lukket"),
    "round_json": (
        "New round (JSON, as the API takes it)",
        "Ny runde (JSON, slik API-et tar den)",
    ),
    "create_round": ("Create round", "Opprett runde"),
    "agreement_report": ("Agreement per item", "Enighet per punkt"),
    "item": ("Item", "Punkt"),
    "alpha": ("Krippendorff's alpha", "Krippendorffs alfa"),
    "agreement": ("Agreement", "Enighet"),
    "flagged": ("Needs talk", "Bør drøftes"),
    "evaluator": ("Evaluator", "Evaluator"),
    "mean_deviation": ("Mean deviation", "Gjennomsnittlig avvik"),
    "blind_note": (
        "Scores are blind: you see only your own until the round closes.",
        "Poengene er skjulte: du ser bare dine egne til runden lukkes.",
    ),
    "evaluate_call": ("Evaluate", "Evaluer"),
    "monitoring_plan": ("The team's monitoring plan", "Teamets medlyttingsplan"),
    "per_month": ("Listenings per month", "Medlyttinger per måned"),
    "live_at_least": ("Of them live, at least", "Av dem direkte, minst"),
    "done_this_month": ("Done this month", "Gjort denne måneden"),
    "overdue": ("Overdue", "På etterskudd"),
    "question": ("Question", "Spørsmål"),
    "mean": ("Mean", "Snitt"),
}


def choose(accept_language: str) -> str:
    """The first of our languages the browser asks for (``nb``, ``no``, ``nn`` -> nb)."""
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith(("nb", "no", "nn")):
            return "nb"
        if tag.startswith("en"):
            return "en"
    return "en"


def words(language: str) -> dict[str, str]:
    """Every word in ``language`` (English for an unknown one)."""
    index = 1 if language == "nb" else 0
    return {key: pair[index] for key, pair in WORDS.items()}
