"""Writes about shoppers: check-in, one-time link codes and linking a login to a customer.

Linking needs proof that the customer record is the shopper's own: either a one-time
code the store handed them (`link_customer`), or the store's systems vouching for a
shopper they verified in person (`link_customer_directly`). A typed card number alone is
never enough, because card numbers are printed on receipts and easy to come by.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.consent import set_consent
from accounts.models import (
    ConsentEvent,
    Customer,
    CustomerIdentifier,
    LinkAttempt,
    LinkCode,
    User,
    hash_code,
)
from accounts.purposes import SWITCHABLE

logger = logging.getLogger(__name__)

# Failed code attempts allowed per login per window. With 30**10 possible codes this
# makes guessing hopeless while leaving room for a shopper's typos.
LINK_ATTEMPT_LIMIT = getattr(settings, "LINK_ATTEMPT_LIMIT", 10)
LINK_ATTEMPT_WINDOW = timedelta(hours=1)


class LinkError(Exception):
    """Linking refused; `reason` is stable for code, `message` is for the shopper."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    RATE_LIMITED = "rate_limited"
    CUSTOMER_TAKEN = "customer_taken"
    LOGIN_TAKEN = "login_taken"
    NO_LOGIN = "no_login"

    MESSAGES = {
        # Unknown and already-used codes share one message: a guesser must not learn
        # that a guess hit a real, spent code. An expired code gets its own message
        # because only its holder can reach it (the code space is far too large to
        # guess) and the remedy differs: ask the store for a fresh one.
        UNKNOWN: _(
            "That code is not valid. Check it and try again, or ask the store for a new one."
        ),
        EXPIRED: _(
            "That code has expired: codes are valid for 14 days. Ask the store for a new one."
        ),
        RATE_LIMITED: _(
            "Too many attempts. For your safety, try again in an hour or ask the store for help."
        ),
        CUSTOMER_TAKEN: _(
            "This store card is already linked to another Kvitto login. "
            "Ask the store for help if it is yours."
        ),
        LOGIN_TAKEN: _(
            "Your login is already linked to another store card. "
            "Ask the store to add this card to your customer record."
        ),
        NO_LOGIN: _("There is no Kvitto login with that e-mail address."),
    }

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.message = self.MESSAGES[reason]
        super().__init__(str(self.message))


@dataclass(frozen=True)
class IssuedCode:
    """A freshly created link code: `code` is the only time the clear text exists."""

    code: str
    expires_at: datetime
    link_code: LinkCode


@transaction.atomic
def check_in(*, user: User, granted: Iterable[str]) -> list[ConsentEvent]:
    """Record the shopper's check-in answers: `granted` on, every other purpose off.

    Only changes are written (`set_consent` skips a no-op), so a new shopper's unticked
    purposes get no record at all: no record already means off. A shopper who had
    grants before (demo data, an earlier gate) and unticks one withdraws it here.
    Returns the events written.
    """
    chosen = set(granted)
    unknown = chosen - set(SWITCHABLE)
    if unknown:
        raise ValueError(f"Not switchable purposes: {sorted(unknown)}")
    events = []
    # SWITCHABLE's order keeps the log in the order the page asked.
    for purpose in SWITCHABLE:
        event = set_consent(
            user=user,
            purpose=purpose,
            granted=purpose in chosen,
            method=ConsentEvent.Method.CHECK_IN,
        )
        if event is not None:
            events.append(event)
    if user.checked_in_at is None:
        user.checked_in_at = timezone.now()
        user.save(update_fields=["checked_in_at"])
    return events


def find_customer(*, kind: str, value: str) -> Customer | None:
    identifier = (
        CustomerIdentifier.objects.select_related("customer")
        .filter(kind=kind, value=value.strip())
        .first()
    )
    return identifier.customer if identifier else None


@transaction.atomic
def get_or_create_customer(*, kind: str, value: str) -> tuple[Customer, bool]:
    """The customer a channel knows by (`kind`, `value`); created when unknown."""
    value = value.strip()
    customer = find_customer(kind=kind, value=value)
    if customer is not None:
        return customer, False
    customer = Customer.objects.create()
    try:
        # A savepoint, so a concurrent creator's win leaves this transaction usable.
        with transaction.atomic():
            CustomerIdentifier.objects.create(customer=customer, kind=kind, value=value)
    except IntegrityError:
        customer.delete()
        return CustomerIdentifier.objects.get(kind=kind, value=value).customer, False
    return customer, True


@transaction.atomic
def create_link_code(*, customer: Customer) -> IssuedCode:
    """Issue a one-time code for `customer`, valid for `LinkCode.LIFETIME`.

    Only the code's hash is stored; the clear text is returned once, for the till to
    print or the admin to read out.
    """
    now = timezone.now()
    expires_at = now + LinkCode.LIFETIME
    for _attempt in range(5):
        code = LinkCode.new_code()
        try:
            with transaction.atomic():
                link_code = LinkCode.objects.create(
                    customer=customer,
                    code_hash=hash_code(code),
                    created_at=now,
                    expires_at=expires_at,
                )
        except IntegrityError:
            # Two equal codes out of 30**10 is next to impossible; draw again if it happens.
            continue
        return IssuedCode(code=code, expires_at=expires_at, link_code=link_code)
    raise RuntimeError("Could not draw a unique link code")


def failed_link_attempts(*, user: User, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return LinkAttempt.objects.filter(user=user, at__gt=now - LINK_ATTEMPT_WINDOW).count()


def link_customer(*, user: User, code: str) -> Customer:
    """Redeem a one-time `code` so `user`'s login owns the code's customer.

    Raises `LinkError` when the code is unknown, used or expired, when the customer or
    the login is linked elsewhere, or when the login has failed too often this hour.

    Not one atomic block on purpose: the failed attempt must be recorded even though
    the linking itself is rolled back, or the rate limit would count nothing.
    """
    now = timezone.now()
    if failed_link_attempts(user=user, now=now) >= LINK_ATTEMPT_LIMIT:
        raise LinkError(LinkError.RATE_LIMITED)
    try:
        customer = _redeem(user=user, code=code, now=now)
    except LinkError as exc:
        LinkAttempt.objects.filter(user=user, at__lte=now - LINK_ATTEMPT_WINDOW).delete()
        LinkAttempt.objects.create(user=user, at=now, reason=exc.reason)
        raise
    return customer


@transaction.atomic
def _redeem(*, user: User, code: str, now: datetime) -> Customer:
    # Locking the code row serialises two redemptions of the same code: the second
    # waits, then sees used_at set and fails as a used code.
    link_code = LinkCode.objects.select_for_update().filter(code_hash=hash_code(code)).first()
    if link_code is None or link_code.used_at is not None:
        raise LinkError(LinkError.UNKNOWN)
    if link_code.expires_at <= now:
        raise LinkError(LinkError.EXPIRED)
    customer = _attach(user=user, customer_id=link_code.customer_id, now=now)
    return customer


@transaction.atomic
def link_customer_directly(*, kind: str, value: str, email: str) -> tuple[Customer, bool]:
    """Link the login with `email` to the customer known by (`kind`, `value`).

    For the store's systems after they verified the shopper in person (API scope
    "link"). The customer is created when unknown. Returns (customer, changed):
    `changed` is False when the two were already linked.
    """
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise LinkError(LinkError.NO_LOGIN)
    customer, _created = get_or_create_customer(kind=kind, value=value)
    if customer.user_id == user.pk:
        return customer, False
    return _attach(user=user, customer_id=customer.pk, now=timezone.now()), True


def _attach(*, user: User, customer_id: int, now: datetime) -> Customer:
    """Set the customer's login inside the caller's transaction, refusing any conflict."""
    # Lock the customer so two logins racing for it cannot both win.
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    if customer.user_id is not None and customer.user_id != user.pk:
        raise LinkError(LinkError.CUSTOMER_TAKEN)
    other = Customer.objects.filter(user=user).exclude(pk=customer.pk).exists()
    if other:
        raise LinkError(LinkError.LOGIN_TAKEN)
    if customer.user_id is None:
        customer.user = user
        customer.linked_at = now
        customer.save(update_fields=["user", "linked_at"])
    # Any code still outstanding for this customer has done its job; spend them all so a
    # leftover slip of paper cannot be used later.
    LinkCode.objects.filter(customer=customer, used_at__isnull=True).update(used_at=now)
    _queue_refresh(customer.pk)
    logger.info("Linked customer %s to login %s", customer.pk, user.pk)
    return customer


def _queue_refresh(customer_id: int) -> None:
    """After commit, ask purchases to refresh the newly linked history.

    On commit, because the refresh task must see the customer's login; looked up by name
    so accounts keeps working (and importable) while purchases does not offer the queue.
    """
    try:
        purchases_services = import_module("insights.purchases.services")
    except ModuleNotFoundError as exc:
        if exc.name != "insights.purchases.services":
            raise
        return
    queue = getattr(purchases_services, "queue_refreshes", None) or getattr(
        purchases_services, "queue_refresh", None
    )
    if queue is not None:
        transaction.on_commit(lambda: queue(customer_ids=[customer_id]))
