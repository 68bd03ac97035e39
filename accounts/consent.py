"""The one place that answers "may we process purpose P for this shopper now", and records changes.

Every view, task and endpoint that processes for a purpose calls `is_allowed` (or
`allowed_user_ids` for a batch). Withdrawal sends `consent_withdrawn`, which each app
that derives data for the purpose answers by deleting that data in the same transaction.

A grant made under a text that a later *material* version superseded is "outdated":
it still stands, but the purpose's `while_outdated` rule (`accounts.purposes`) decides
whether processing continues under the agreed wording or pauses until the shopper
answers. `is_allowed` and `allowed_user_ids` both apply that rule.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import F, IntegerField, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
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


def _required_version(purpose: str) -> Coalesce:
    """The newest material version of `purpose`'s text, as an expression (0 when none)."""
    newest_material = (
        PurposeText.objects.filter(purpose=purpose, material=True)
        .order_by("-version")
        .values("version")[:1]
    )
    return Coalesce(Subquery(newest_material), Value(0), output_field=IntegerField())


def _latest_events(user_ids: Iterable[int] | None, purpose: str):
    latest = ConsentEvent.objects.filter(user=OuterRef("user"), purpose=purpose).order_by(
        "-at", "-id"
    )
    qs = ConsentEvent.objects.filter(purpose=purpose, pk=Subquery(latest.values("pk")[:1]))
    if user_ids is not None:
        qs = qs.filter(user_id__in=list(user_ids))
    return qs


def is_allowed(user: User | AnonymousUser | None, purpose: str) -> bool:
    """True when `user` has a live grant for `purpose` (the necessary purpose always is).

    A grant outdated by a material text change counts only for purposes whose rule is
    `WhileOutdated.CONTINUE`; for `PAUSE` purposes it counts again once the shopper
    agrees to the new wording. One query either way.
    """
    purpose_def = PURPOSES.get(purpose)
    if purpose_def is None:
        raise ValueError(f"Unknown purpose {purpose!r}")
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if purpose == NECESSARY:
        return True
    events = ConsentEvent.objects.filter(user=user, purpose=purpose).order_by("-at", "-id")
    if not purpose_def.paused_while_outdated:
        return bool(events.values_list("granted", flat=True).first())
    latest = (
        events.annotate(required=_required_version(purpose))
        .values_list("granted", "text__version", "required")
        .first()
    )
    if latest is None:
        return False
    granted, agreed, required = latest
    return granted and agreed >= required


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
    """Purposes granted under a text that a later material version has superseded.

    Maps purpose → (version agreed to, current version). The grant still stands (a
    changed text does not undo a decision), but the shopper is asked again, and until
    they answer the purpose's `while_outdated` rule applies. Versions published as not
    material never make a grant outdated.
    """
    latest: dict[str, tuple[bool, int]] = {}
    events = ConsentEvent.objects.filter(user=user).order_by("purpose", "-at", "-id")
    for purpose, granted, version in events.values_list("purpose", "granted", "text__version"):
        latest.setdefault(purpose, (granted, version))
    granted_versions = {p: v for p, (granted, v) in latest.items() if granted}
    if not granted_versions:
        return {}
    current = {
        purpose: (newest, material)
        for purpose, newest, material in PurposeText.objects.filter(purpose__in=granted_versions)
        .values("purpose")
        .annotate(newest=Max("version"), material=Max("version", filter=Q(material=True)))
        .values_list("purpose", "newest", "material")
    }
    outdated = {}
    for purpose, agreed in granted_versions.items():
        newest, material = current.get(purpose, (agreed, None))
        if material is not None and material > agreed:
            outdated[purpose] = (agreed, newest)
    return outdated


def allowed_user_ids(purpose: str, user_ids: Iterable[int] | None = None) -> set[int]:
    """The ids (of `user_ids`, or of everyone) with a live grant for `purpose`.

    Applies the same outdated-grant rule as `is_allowed`, in the same single query.
    """
    purpose_def = PURPOSES.get(purpose)
    if purpose_def is None:
        raise ValueError(f"Unknown purpose {purpose!r}")
    live = _latest_events(user_ids, purpose).filter(granted=True, user__is_active=True)
    if purpose_def.paused_while_outdated:
        live = live.annotate(required=_required_version(purpose)).filter(
            text__version__gte=F("required")
        )
    return set(live.values_list("user_id", flat=True))


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
