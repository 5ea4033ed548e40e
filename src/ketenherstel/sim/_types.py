"""The message types the simulator emits (they must exist in the chain it is given)."""

from __future__ import annotations

_P = "nl.strafrechtketen."

ARREST = _P + "opsporing.aanhouding-geregistreerd.v1"
CUSTODY = _P + "opsporing.inverzekeringstelling-gemeld.v1"
REPORT = _P + "opsporing.proces-verbaal-ingezonden.v1"
PRESENTATION = _P + "opsporing.voorgeleiding-aangemeld.v1"
DETENTION_REQUESTED = _P + "vervolging.voorlopige-hechtenis-gevorderd.v1"
DETENTION_DECIDED = _P + "vervolging.voorlopige-hechtenis-beslist.v1"
PUNISHMENT_ORDER = _P + "vervolging.strafbeschikking-opgelegd.v1"
SETTLEMENT = _P + "vervolging.transactie-aangeboden.v1"
DISMISSAL = _P + "vervolging.sepot-beslist.v1"
SUMMONS = _P + "vervolging.dagvaarding-uitgebracht.v1"
DISPOSAL_FEEDBACK = _P + "vervolging.afdoening-teruggemeld.v1"
HEARING_PLANNED = _P + "berechting.zitting-gepland.v1"
JUDGMENT = _P + "berechting.vonnis-gewezen.v1"
APPEAL = _P + "berechting.hoger-beroep-ingesteld.v1"
EXECUTION_TRANSFER = _P + "tenuitvoerlegging.uitspraak-overgedragen.v1"
CUSTODIAL_ASSIGNED = _P + "tenuitvoerlegging.vrijheidsbeneming-opgedragen.v1"
COMMUNITY_SERVICE_ASSIGNED = _P + "tenuitvoerlegging.taakstraf-opgedragen.v1"
ARREST_ASSIGNED = _P + "tenuitvoerlegging.aanhouding-opgedragen.v1"
EXECUTION_COMPLETED = _P + "tenuitvoerlegging.tenuitvoerlegging-gereedgemeld.v1"
DECISION_REGISTERED = _P + "registratie.om-afdoening-geregistreerd.v1"
JUDGMENT_REGISTERED = _P + "registratie.uitspraak-geregistreerd.v1"
EXECUTION_REGISTERED = _P + "registratie.tenuitvoerlegging-geregistreerd.v1"
EMERGENCY_REPORT = _P + "registratie.spoedmelding-zwaar-delict.v1"
SCREENING_ANSWER = _P + "registratie.screeningsantwoord-verstrekt.v1"
SCREENING_DECISION = _P + "registratie.screeningsbesluit-genomen.v1"
MUNICIPAL_INFORMATION = _P + "registratie.justitiele-inlichtingen-verstrekt.v1"
ECRIS_NOTIFICATION = _P + "registratie.ecris-veroordeling-genotificeerd.v1"
ECRIS_FOREIGN_CONVICTION = _P + "registratie.ecris-buitenlandse-veroordeling-ontvangen.v1"
ECRIS_REQUEST = _P + "registratie.ecris-verzoek-ingediend.v1"
ECRIS_ANSWER = _P + "registratie.ecris-verzoek-beantwoord.v1"

SENDERS: dict[str, tuple[str, ...]] = {
    ARREST: ("politie", "kmar"),
    CUSTODY: ("politie", "kmar"),
    REPORT: ("politie", "kmar"),
    PRESENTATION: ("om",),
    DETENTION_REQUESTED: ("om",),
    DETENTION_DECIDED: ("rechtspraak",),
    PUNISHMENT_ORDER: ("om",),
    SETTLEMENT: ("om",),
    DISMISSAL: ("om",),
    SUMMONS: ("om",),
    DISPOSAL_FEEDBACK: ("om",),
    HEARING_PLANNED: ("rechtspraak",),
    JUDGMENT: ("rechtspraak",),
    APPEAL: ("rechtspraak",),
    EXECUTION_TRANSFER: ("om",),
    CUSTODIAL_ASSIGNED: ("cjib",),
    COMMUNITY_SERVICE_ASSIGNED: ("cjib",),
    ARREST_ASSIGNED: ("cjib",),
    EXECUTION_COMPLETED: ("dji", "reclassering", "politie"),
    DECISION_REGISTERED: ("om",),
    JUDGMENT_REGISTERED: ("om",),
    EXECUTION_REGISTERED: ("cjib",),
    EMERGENCY_REPORT: ("politie", "kmar"),
    SCREENING_ANSWER: ("justid",),
    SCREENING_DECISION: ("justis",),
    MUNICIPAL_INFORMATION: ("justid",),
    ECRIS_NOTIFICATION: ("justid",),
    ECRIS_FOREIGN_CONVICTION: ("eu-lidstaten",),
    ECRIS_REQUEST: ("eu-lidstaten",),
    ECRIS_ANSWER: ("justid",),
}
"""Every type the simulator emits, with the partners it lets send it."""
