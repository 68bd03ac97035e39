"""The one place that answers "may we process purpose P for this shopper now", and records changes.

Every view, task and endpoint that processes for a purpose calls `is_allowed` (or
`allowed_user_ids` for a batch). Withdrawal sends `consent_withdrawn`, which each app
that derives data for the purpose answers by deleting that data in the same transaction.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.dispatch import Signal
from django.utils import timezone

from accounts.models import ConsentEvent, PurposeText, User
from accounts.purposes import NECESSARY, PURPOSES, SWITCHABLE

# Sent inside the withdrawing transaction with `user` and `purpose`.
consent_withdrawn = Signal()
# Sent on commit of a grant with `user` and `purpose`, so derived data can be computed.
consent_granted = Signal()


def current_text(purpose: str) -> PurposeText:
    return PurposeText.objects.filter(purpose=purpose).order_by("-version").first()


def _latest_events(user_ids: Iterable[int] | None, purpose: str):
    latest = ConsentEvent.objects.filter(user=OuterRef("user"), purpose=purpose).order_by(
        "-at", "-id"
    )
    qs = ConsentEvent.objects.filter(purpose=purpose, pk=Subquery(latest.values("pk")[:1]))
    if user_ids is not None:
        qs = qs.filter(user_id__in=list(user_ids))
    return qs


def is_allowed(user: User | AnonymousUser | None, purpose: str) -> bool:
    """True when `user` has a live grant for `purpose` (the necessary purpose always is)."""
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown purpose {purpose!r}")
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if purpose == NECESSARY:
        return True
    latest = (
        ConsentEvent.objects.filter(user=user, purpose=purpose)
        .order_by("-at", "-id")
        .values_list("granted", flat=True)
        .first()
    )
    return bool(latest)


def consent_state(user: User) -> dict[str, bool]:
    """Every switchable purpose mapped to whether it is granted now, in one query."""
    state = dict.fromkeys(SWITCHABLE, False)
    events = ConsentEvent.objects.filter(user=user).order_by("purpose", "-at", "-id")
    seen: set[str] = set()
    for purpose, granted in events.values_list("purpose", "granted"):
        if purpose not in seen:
            seen.add(purpose)
            state[purpose] = granted
    return state


def outdated_grants(user: User) -> dict[str, tuple[int, int]]:
    """Purposes granted under an older text than the one published now.

    Maps purpose → (version agreed to, current version). The grant still stands (a
    changed text does not undo a decision), but the consent page asks the shopper again.
    """
    latest: dict[str, tuple[bool, int]] = {}
    events = ConsentEvent.objects.filter(user=user).order_by("purpose", "-at", "-id")
    for purpose, granted, version in events.values_list("purpose", "granted", "text__version"):
        latest.setdefault(purpose, (granted, version))
    granted_versions = {p: v for p, (granted, v) in latest.items() if granted}
    if not granted_versions:
        return {}
    current = dict(
        PurposeText.objects.filter(purpose__in=granted_versions)
        .values("purpose")
        .annotate(version=Max("version"))
        .values_list("purpose", "version")
    )
    return {
        purpose: (agreed, current[purpose])
        for purpose, agreed in granted_versions.items()
        if current.get(purpose, agreed) > agreed
    }


def allowed_user_ids(purpose: str, user_ids: Iterable[int] | None = None) -> set[int]:
    """The ids (of `user_ids`, or of everyone) with a live grant for `purpose`."""
    return set(
        _latest_events(user_ids, purpose).filter(granted=True).values_list("user_id", flat=True)
    )


@transaction.atomic
def set_consent(*, user: User, purpose: str, granted: bool, method: str) -> ConsentEvent | None:
    """Record a grant or withdrawal; returns the new event, or None when nothing changed."""
    purpose_def = PURPOSES.get(purpose)
    if purpose_def is None or not purpose_def.switchable:
        raise ValueError(f"{purpose!r} is not a switchable purpose")
    # Lock the login row so two concurrent switches cannot interleave their reads.
    User.objects.select_for_update().filter(pk=user.pk).first()
    text = current_text(purpose)
    if text is None:
        raise RuntimeError(f"No published text for purpose {purpose!r}")
    latest = (
        ConsentEvent.objects.filter(user=user, purpose=purpose)
        .order_by("-at", "-id")
        .values_list("granted", "text_id")
        .first()
    )
    # Nothing changed, unless a grant re-confirms a purpose whose text was revised since:
    # that is recorded, so the log shows which wording the shopper agreed to.
    if latest is not None and latest[0] == granted and (not granted or latest[1] == text.pk):
        return None
    if latest is None and not granted:
        return None
    event = ConsentEvent.objects.create(
        user=user, purpose=purpose, text=text, granted=granted, at=timezone.now(), method=method
    )
    if granted:
        transaction.on_commit(
            lambda: consent_granted.send(sender=ConsentEvent, user=user, purpose=purpose)
        )
    else:
        consent_withdrawn.send(sender=ConsentEvent, user=user, purpose=purpose)
    return event
