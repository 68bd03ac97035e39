"""Consent statistics for the privacy admin: counts per purpose and text version, nothing else.

Only aggregates leave this module (integers keyed by purpose and version); no query here
selects a user id, e-mail or name into Python.
"""

from dataclasses import dataclass

from django.db.models import Count, Max, Q

from accounts.consent import _latest_events
from accounts.models import ConsentEvent, PurposeText
from accounts.purposes import PURPOSES, SWITCHABLE


@dataclass(frozen=True)
class VersionRow:
    purpose: str
    title: str
    version: int
    material: bool
    # Shoppers whose current decision was made under this version.
    granted_now: int
    withdrawn_now: int
    # Of granted_now, those asked again because a later material version exists.
    outdated: int
    # Every grant and withdrawal ever recorded under this version (decisions, not people).
    grants_recorded: int
    withdrawals_recorded: int


def consent_statistics() -> list[VersionRow]:
    """One row per (switchable purpose, published version), purposes in registry order."""
    texts = list(
        PurposeText.objects.order_by("purpose", "version").values("purpose", "version", "material")
    )
    newest_material = {
        row["purpose"]: row["v"]
        for row in PurposeText.objects.filter(material=True)
        .values("purpose")
        .annotate(v=Max("version"))
    }
    recorded = {
        (row["purpose"], row["text__version"]): row
        for row in ConsentEvent.objects.order_by()
        .values("purpose", "text__version")
        .annotate(
            grants=Count("id", filter=Q(granted=True)),
            withdrawals=Count("id", filter=Q(granted=False)),
        )
    }
    current: dict[tuple[str, int], dict[str, int]] = {}
    for purpose in SWITCHABLE:
        latest_ids = _latest_events(None, purpose).order_by().values("pk")
        for row in (
            ConsentEvent.objects.filter(pk__in=latest_ids)
            .order_by()
            .values("text__version")
            .annotate(
                n_granted=Count("id", filter=Q(granted=True)),
                n_withdrawn=Count("id", filter=Q(granted=False)),
            )
        ):
            current[(purpose, row["text__version"])] = row
    rows = []
    order = {key: i for i, key in enumerate(SWITCHABLE)}
    for text in sorted(texts, key=lambda t: (order.get(t["purpose"], 99), t["version"])):
        key = (text["purpose"], text["version"])
        if text["purpose"] not in order:
            continue
        now = current.get(key, {})
        granted_now = now.get("n_granted", 0)
        is_outdated = text["version"] < newest_material.get(text["purpose"], 0)
        rows.append(
            VersionRow(
                purpose=text["purpose"],
                title=str(PURPOSES[text["purpose"]].title),
                version=text["version"],
                material=text["material"],
                granted_now=granted_now,
                withdrawn_now=now.get("n_withdrawn", 0),
                outdated=granted_now if is_outdated else 0,
                grants_recorded=recorded.get(key, {}).get("grants", 0),
                withdrawals_recorded=recorded.get(key, {}).get("withdrawals", 0),
            )
        )
    return rows
