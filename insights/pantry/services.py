"""Writes for the pantry: building items from receipts, item actions, reminders and digests.

Every function here is keyword-only. Dates passed in (`today`, `on`) are the shopper's
local dates; `now` is an aware datetime (stored timestamps are UTC).
"""

import logging
import smtplib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import (
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.consent import allowed_user_ids, is_allowed, set_consent
from accounts.models import User
from accounts.purposes import EMAIL, PANTRY
from insights.catalog.models import Category, Product
from insights.pantry import shelf_life
from insights.pantry.models import (
    DigestLog,
    Notification,
    PantryItem,
    PantrySettings,
    new_calendar_token,
)
from insights.purchases.models import OrderLine

log = logging.getLogger(__name__)

# A cap on how far back a first build reads, whatever shelf life an admin sets.
MAX_LOOKBACK_DAYS = 800
# How far back purchases count towards "how long a pack lasts you".
RHYTHM_LOOKBACK_DAYS = 365
UNSUBSCRIBE_SALT = "pantry.unsubscribe"
CHUNK_SIZE = 500

THROWN_SHARES = {"all": Decimal("1"), "half": Decimal("0.5"), "some": Decimal("0.25")}


def today_for(user: User, now: datetime | None = None) -> date:
    return shelf_life.local_date(now or timezone.now(), user.time_zone)


def shelf_life_of(product: Product) -> shelf_life.ShelfLife:
    category = product.category
    return shelf_life.ShelfLife(
        product_days=product.shelf_life_days,
        category_days=category.default_shelf_life_days if category else None,
        product_opened_days=product.shelf_life_opened_days,
        category_opened_days=category.default_shelf_life_opened_days if category else None,
        product_frozen_days=product.shelf_life_frozen_days,
        category_frozen_days=category.default_shelf_life_frozen_days if category else None,
    )


def get_settings(user: User) -> PantrySettings:
    pantry_settings, _ = PantrySettings.objects.get_or_create(user=user)
    return pantry_settings


def _window(item: PantryItem, pantry_settings: PantrySettings) -> int:
    category = item.product.category
    return shelf_life.due_soon_window_days(
        shelf_life_days=item.rule_days,
        due_soon_days=pantry_settings.due_soon_days,
        category_share=category.due_soon_share if category else None,
    )


def _refresh_due_soon(item: PantryItem, pantry_settings: PantrySettings) -> None:
    item.due_soon_on = shelf_life.due_soon_from(
        best_before=item.best_before, window_days=_window(item, pantry_settings)
    )


# --- Building the pantry from receipts -------------------------------------------------------


def lookback_days() -> int:
    """How far back a line can still yield a trackable item: the longest shelf life in the
    catalog plus STALE_AFTER_DAYS (capped at MAX_LOOKBACK_DAYS). Two aggregate queries."""
    longest_product = Product.objects.filter(perishable=True).aggregate(top=Max("shelf_life_days"))[
        "top"
    ]
    longest_category = Category.objects.aggregate(top=Max("default_shelf_life_days"))["top"]
    longest = max(longest_product or 0, longest_category or 0)
    return min(MAX_LOOKBACK_DAYS, longest + shelf_life.STALE_AFTER_DAYS + 1)


@transaction.atomic
def build_pantry(*, user: User, now: datetime | None = None, lookback: int | None = None) -> int:
    """Turn the shopper's perishable order lines newer than the cursor into items.

    Incremental (only lines with an id above `processed_line_id`) and idempotent (unique
    per order line, conflicts ignored), so a repeated or concurrent build adds nothing.
    Lines whose estimate passed more than STALE_AFTER_DAYS ago are skipped, and products
    without a known shelf life are skipped (they are listed for admins instead).
    `lookback` (days, default `lookback_days()`) lets a batch compute it once.
    Returns the number of items created; none without the PANTRY consent.
    """
    now = now or timezone.now()
    if lookback is None:
        lookback = lookback_days()
    # Lock the login and check consent again: set_consent locks the same row, so a
    # withdrawal either came first (and nothing is built) or waits for this transaction
    # and then deletes what it built.
    User.objects.select_for_update().filter(pk=user.pk).first()
    if not is_allowed(user, PANTRY):
        return 0
    # Locking the settings row serialises two builds for one shopper, so the cursor only
    # moves forward over lines both have seen.
    get_settings(user)
    pantry_settings = PantrySettings.objects.select_for_update().get(user=user)
    today = today_for(user, now)
    # Plain tuples, not model instances: a first build reads months of receipts.
    lines = list(
        OrderLine.objects.filter(
            customer__user=user,
            pk__gt=pantry_settings.processed_line_id,
            placed_at__gte=now - timedelta(days=lookback),
            product__perishable=True,
        )
        .order_by("pk")
        .values_list("pk", "product_id", "placed_at", "quantity", "amount_paid")
    )
    if not lines:
        return 0
    products = Product.objects.select_related("category").in_bulk(
        {product_id for _, product_id, *_ in lines}
    )
    lives = {pk: shelf_life_of(product) for pk, product in products.items()}
    drafts = []
    for pk, product_id, placed_at, quantity, amount_paid in lines:
        bought_on = shelf_life.local_date(placed_at, user.time_zone)
        estimate = shelf_life.estimate_best_before(
            bought_on=bought_on, shelf_life=lives[product_id]
        )
        if estimate is None or not shelf_life.is_worth_tracking(estimate.best_before, as_of=today):
            continue
        drafts.append(
            PantryItem(
                user=user,
                product=products[product_id],
                order_line_id=pk,
                quantity=quantity,
                bought_on=bought_on,
                best_before=estimate.best_before,
                estimated_best_before=estimate.best_before,
                shelf_life_days=estimate.days,
                estimate_rule=estimate.rule,
                rule_days=estimate.days,
                value=amount_paid,
            )
        )
    if drafts:
        rhythm = _purchase_rhythm(user=user, product_ids={d.product_id for d in drafts}, now=now)
        for item in drafts:
            item.usual_days = rhythm.get(item.product_id)
            _refresh_due_soon(item, pantry_settings)
        PantryItem.objects.bulk_create(drafts, ignore_conflicts=True, batch_size=1000)
        presume_replaced(
            PantryItem.objects.filter(user=user),
            newer_lines_after=pantry_settings.processed_line_id,
        )
    pantry_settings.processed_line_id = lines[-1][0]
    pantry_settings.save(update_fields=["processed_line_id"])
    return len(drafts)


def presume_replaced(items: QuerySet[PantryItem], *, newer_lines_after: int = 0) -> int:
    """Take earlier packs of a product bought again as used up (state REPLACED).

    Shoppers buy a product again mostly because the last pack ran out, so a pantry that
    kept every pack until its date would list a weekly shopper's yoghurt a dozen times
    and remind them of packs long eaten. An item still in the pantry becomes REPLACED,
    finished on the day of the next purchase, when a later-bought item of the same product
    exists and one of the two comes from an order line above `newer_lines_after` (this
    build's lines; 0: any). So a new purchase replaces older packs, and an old receipt that
    arrives late (a CSV import of history) is replaced at once by the packs bought after
    it, while a pack the shopper put back stays until a newer purchase arrives.
    A frozen item stays: freezing is keeping on purpose. Only purchases on a later local
    day count, so two packs bought the same day both stay. Returns the items changed.
    """
    newer = PantryItem.objects.filter(
        user_id=OuterRef("user_id"),
        product_id=OuterRef("product_id"),
        bought_on__gt=OuterRef("bought_on"),
    )
    newer_now = newer.filter(order_line_id__gt=newer_lines_after)

    def first_day(packs: QuerySet[PantryItem]) -> Subquery:
        return Subquery(packs.order_by("bought_on").values("bought_on")[:1])

    return (
        items.filter(state=PantryItem.State.IN_PANTRY, frozen_on__isnull=True)
        .filter(Exists(newer_now) | (Q(order_line_id__gt=newer_lines_after) & Exists(newer)))
        .update(
            state=PantryItem.State.REPLACED,
            # The purchase that replaced it: this build's, else (a late receipt) the next.
            finished_on=Coalesce(first_day(newer_now), first_day(newer)),
            thrown_share=None,
        )
    )


def _purchase_rhythm(*, user: User, product_ids: set[int], now: datetime) -> dict[int, int]:
    """product id → the shopper's median days between purchases, where known."""
    dates: dict[int, list[date]] = defaultdict(list)
    rows = OrderLine.objects.filter(
        customer__user=user,
        product_id__in=product_ids,
        placed_at__gte=now - timedelta(days=RHYTHM_LOOKBACK_DAYS),
    ).values_list("product_id", "placed_at")
    for product_id, placed_at in rows:
        dates[product_id].append(shelf_life.local_date(placed_at, user.time_zone))
    rhythm = {}
    for product_id, product_dates in dates.items():
        usual = shelf_life.usual_interval_days(product_dates)
        if usual is not None:
            rhythm[product_id] = usual
    return rhythm


def build_pantries(*, user_ids: Iterable[int], now: datetime | None = None) -> int:
    """Build the pantry of every consenting shopper in `user_ids`; returns items created."""
    created = 0
    lookback = lookback_days()
    for chunk in _chunks(sorted(set(user_ids)), CHUNK_SIZE):
        allowed = allowed_user_ids(PANTRY, chunk)
        for user in User.objects.filter(pk__in=allowed, is_active=True):
            created += build_pantry(user=user, now=now, lookback=lookback)
    return created


@transaction.atomic
def delete_pantry_data(*, user: User) -> None:
    """PANTRY withdrawn: items and notifications go, the calendar URL stops working, and
    the cursor restarts so a later grant rebuilds the pantry from the receipts."""
    Notification.objects.filter(user=user).delete()
    PantryItem.objects.filter(user=user).delete()
    DigestLog.objects.filter(user=user).delete()
    PantrySettings.objects.filter(user=user).update(processed_line_id=0, calendar_token=None)


def create_export_notification(*, user: User, export_id: int, expires_at: datetime) -> None:
    """Tell the shopper in the app that the data export they asked for is ready.

    Keyed by the export, so a rebuilt export does not notify twice. The caller has
    checked PANTRY consent (notifications are shown on the pantry's page).
    """
    Notification.objects.get_or_create(
        dedupe_key=f"{Notification.Kind.EXPORT_READY}:{user.pk}:{export_id}",
        defaults={
            "user": user,
            "kind": Notification.Kind.EXPORT_READY,
            "payload": {"export_id": export_id, "expires_at": expires_at.isoformat()},
        },
    )


# --- Item actions ----------------------------------------------------------------------------


def _changed(item: PantryItem, *fields: str) -> PantryItem:
    item.save(update_fields=list(fields))
    return item


@transaction.atomic
def mark_used(*, item: PantryItem, on: date) -> PantryItem:
    item.state = PantryItem.State.USED
    item.finished_on = on
    item.thrown_share = None
    return _changed(item, "state", "finished_on", "thrown_share")


@transaction.atomic
def mark_thrown(*, item: PantryItem, share: Decimal, on: date) -> PantryItem:
    """Thrown away; `share` (0 < share ≤ 1) of its price counts as waste."""
    if not Decimal("0") < share <= Decimal("1"):
        raise ValueError("The thrown share must be above 0 and at most 1.")
    item.state = PantryItem.State.THROWN
    item.finished_on = on
    item.thrown_share = share
    return _changed(item, "state", "finished_on", "thrown_share")


@transaction.atomic
def remove_item(*, item: PantryItem, on: date) -> PantryItem:
    """Not food the shopper keeps (a gift, a mistake): out of the pantry, not waste."""
    item.state = PantryItem.State.REMOVED
    item.finished_on = on
    item.thrown_share = None
    return _changed(item, "state", "finished_on", "thrown_share")


@transaction.atomic
def restore_item(*, item: PantryItem) -> PantryItem:
    """Undo used/thrown/removed."""
    item.state = PantryItem.State.IN_PANTRY
    item.finished_on = None
    item.thrown_share = None
    return _changed(item, "state", "finished_on", "thrown_share")


@transaction.atomic
def mark_opened(*, item: PantryItem, on: date, pantry_settings: PantrySettings) -> PantryItem:
    """Opened on `on`: the date can only get earlier (min of remaining and opened shelf life)."""
    opened_days = shelf_life_of(item.product).opened_days
    item.opened_on = on
    new_date = shelf_life.after_opening(
        best_before=item.best_before, opened_on=on, opened_days=opened_days
    )
    if new_date != item.best_before:
        item.best_before = new_date
        item.estimate_rule = PantryItem.Rule.OPENED
        item.rule_days = opened_days
    _refresh_due_soon(item, pantry_settings)
    return _changed(item, "opened_on", "best_before", "estimate_rule", "rule_days", "due_soon_on")


@transaction.atomic
def mark_frozen(*, item: PantryItem, on: date, pantry_settings: PantrySettings) -> PantryItem:
    """Frozen on `on`: the date moves to `on` + the frozen shelf life (never earlier)."""
    frozen_days = shelf_life_of(item.product).frozen_days
    item.frozen_on = on
    new_date = shelf_life.after_freezing(
        best_before=item.best_before, frozen_on=on, frozen_days=frozen_days
    )
    if new_date != item.best_before:
        item.best_before = new_date
        item.estimate_rule = PantryItem.Rule.FROZEN
        item.rule_days = frozen_days
    _refresh_due_soon(item, pantry_settings)
    return _changed(item, "frozen_on", "best_before", "estimate_rule", "rule_days", "due_soon_on")


@transaction.atomic
def correct_date(
    *, item: PantryItem, best_before: date, pantry_settings: PantrySettings
) -> PantryItem:
    """The shopper read the label: their date wins over any estimate."""
    if best_before < item.bought_on:
        raise ValueError("The best-before date cannot be before the day it was bought.")
    item.best_before = best_before
    item.estimate_rule = PantryItem.Rule.CORRECTED
    item.rule_days = (best_before - item.bought_on).days
    _refresh_due_soon(item, pantry_settings)
    return _changed(item, "best_before", "estimate_rule", "rule_days", "due_soon_on")


# --- Settings, calendar, notifications -------------------------------------------------------


@transaction.atomic
def update_settings(
    *,
    user: User,
    due_soon_days: int,
    quiet_hours_start: time | None,
    quiet_hours_end: time | None,
) -> PantrySettings:
    """Save reminder preferences and move every item's due-soon date to the new window."""
    pantry_settings = get_settings(user)
    pantry_settings.due_soon_days = due_soon_days
    pantry_settings.quiet_hours_start = quiet_hours_start
    pantry_settings.quiet_hours_end = quiet_hours_end
    pantry_settings.save(update_fields=["due_soon_days", "quiet_hours_start", "quiet_hours_end"])
    items = list(
        PantryItem.objects.for_shopper(user).in_pantry().select_related("product__category")
    )
    for item in items:
        _refresh_due_soon(item, pantry_settings)
    PantryItem.objects.bulk_update(items, ["due_soon_on"], batch_size=500)
    return pantry_settings


@transaction.atomic
def regenerate_calendar_token(*, user: User) -> PantrySettings:
    """A new secret feed URL; the old one stops working at once."""
    pantry_settings = get_settings(user)
    pantry_settings.calendar_token = new_calendar_token()
    pantry_settings.save(update_fields=["calendar_token"])
    return pantry_settings


@transaction.atomic
def revoke_calendar_token(*, user: User) -> PantrySettings:
    pantry_settings = get_settings(user)
    pantry_settings.calendar_token = None
    pantry_settings.save(update_fields=["calendar_token"])
    return pantry_settings


def mark_notifications_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the shopper's notifications (`ids`, or all unread) as read; returns how many."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())


# --- Waste -----------------------------------------------------------------------------------


@dataclass
class WasteMonth:
    month: date
    total: Decimal = Decimal("0")
    by_category: dict[str, Decimal] = field(default_factory=dict)


def waste_summary(*, user: User, today: date, months: int = 6) -> list[WasteMonth]:
    """Money thrown away per month (oldest first, `months` months up to `today`'s month),
    split by category. One aggregate query."""
    first = _add_months(today.replace(day=1), -(months - 1))
    summary = {
        _add_months(first, i): WasteMonth(month=_add_months(first, i)) for i in range(months)
    }
    waste = ExpressionWrapper(
        F("value") * F("thrown_share"), output_field=DecimalField(max_digits=14, decimal_places=4)
    )
    rows = (
        PantryItem.objects.filter(
            user=user, state=PantryItem.State.THROWN, finished_on__gte=first, finished_on__lte=today
        )
        .values("finished_on", "product__category__name")
        .annotate(waste=Sum(waste))
    )
    for row in rows:
        month = summary[row["finished_on"].replace(day=1)]
        amount = Decimal(row["waste"] or 0).quantize(Decimal("0.01"))
        name = row["product__category__name"] or ""
        month.by_category[name] = month.by_category.get(name, Decimal("0")) + amount
        month.total += amount
    return list(summary.values())


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


# --- Reminders and the daily digest ----------------------------------------------------------


@dataclass
class ReminderStats:
    shoppers: int = 0
    notifications: int = 0
    digests: int = 0
    skipped_quiet: int = 0
    failed: int = 0
    chunks: int = 0


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def send_due_reminders(
    *,
    now: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
    user_ids: Iterable[int] | None = None,
) -> ReminderStats:
    """Notify every consenting shopper of items entering their due-soon window; e-mail digests.

    Runs hourly (see the beat schedule) and is idempotent: a notification's dedupe key is
    (kind, shopper, item, date), so a re-run creates nothing twice, and a digest needs a
    DigestLog row unique per (shopper, local day), inserted before the e-mail is sent.
    Queries are per chunk of shoppers, not per item; only a shopper who actually gets an
    e-mail costs a few queries of their own. `user_ids` limits the run to those shoppers.
    """
    now = now or timezone.now()
    stats = ReminderStats()
    for chunk in _chunks(sorted(allowed_user_ids(PANTRY, user_ids)), chunk_size):
        _remind_chunk(user_ids=chunk, now=now, stats=stats)
        stats.chunks += 1
    log.info(
        "Pantry reminders: %s shoppers, %s notifications, %s digests, %s held for quiet hours",
        stats.shoppers,
        stats.notifications,
        stats.digests,
        stats.skipped_quiet,
    )
    return stats


def _remind_chunk(*, user_ids: list[int], now: datetime, stats: ReminderStats) -> None:
    users = {
        u.pk: u
        for u in User.objects.filter(pk__in=user_ids, is_active=True).only(
            "id", "email", "name", "language", "time_zone", "is_active"
        )
    }
    if not users:
        return
    stats.shoppers += len(users)
    today = {pk: shelf_life.local_date(now, u.time_zone) for pk, u in users.items()}
    # Every local date lies within a day of the UTC date, so this range holds all candidates.
    utc_today = now.astimezone(UTC).date()
    candidates = PantryItem.objects.filter(
        user_id__in=users,
        state=PantryItem.State.IN_PANTRY,
        due_soon_on__lte=utc_today + timedelta(days=1),
        best_before__gte=utc_today - timedelta(days=1),
    ).values_list("pk", "user_id", "best_before", "due_soon_on", "product__name")
    new = []
    for pk, user_id, best_before, due_soon_on, product_name in candidates:
        if due_soon_on <= today[user_id] <= best_before:
            new.append(
                Notification(
                    user_id=user_id,
                    kind=Notification.Kind.DUE_SOON,
                    item_id=pk,
                    payload={"product": product_name, "best_before": best_before.isoformat()},
                    dedupe_key=f"{Notification.key_for('due_soon', user_id, pk)}:{best_before}",
                    created_at=now,
                )
            )
    if new:
        existing = set(
            Notification.objects.filter(dedupe_key__in=[n.dedupe_key for n in new]).values_list(
                "dedupe_key", flat=True
            )
        )
        new = [n for n in new if n.dedupe_key not in existing]
        # ignore_conflicts covers a run racing this one between the read and the insert.
        Notification.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
        stats.notifications += len(new)

    email_ids = allowed_user_ids(EMAIL, users)
    if not email_ids:
        return
    prefs = {s.user_id: s for s in PantrySettings.objects.filter(user_id__in=email_ids)}
    awake = []
    for user_id in email_ids:
        pantry_settings = prefs.get(user_id) or PantrySettings(user_id=user_id)
        local = shelf_life.local_now(now, users[user_id].time_zone)
        if shelf_life.in_quiet_hours(
            local.time(),
            start=pantry_settings.quiet_hours_start,
            end=pantry_settings.quiet_hours_end,
        ):
            stats.skipped_quiet += 1
        else:
            awake.append(user_id)
    if not awake:
        return
    already = set(
        DigestLog.objects.filter(user_id__in=awake, day__gte=utc_today - timedelta(days=1))
        .filter(day__lte=utc_today + timedelta(days=1))
        .values_list("user_id", "day")
    )
    pending: dict[int, list[Notification]] = defaultdict(list)
    for notification in (
        Notification.objects.filter(
            user_id__in=[u for u in awake if (u, today[u]) not in already],
            emailed_at__isnull=True,
            item__state=PantryItem.State.IN_PANTRY,
            item__best_before__gte=utc_today - timedelta(days=1),
        )
        .select_related("item__product__category")
        .order_by("item__best_before", "pk")
    ):
        if notification.item.best_before >= today[notification.user_id]:
            pending[notification.user_id].append(notification)
    for user_id, notifications in pending.items():
        try:
            sent = send_digest(
                user=users[user_id], day=today[user_id], notifications=notifications, now=now
            )
        except (smtplib.SMTPException, OSError):
            # One bad address or a mail server hiccup must not cost every other shopper
            # their digest; the log row rolled back, so the next hourly run retries.
            log.exception("Pantry digest for shopper %s failed", user_id)
            stats.failed += 1
            continue
        stats.digests += int(sent)


def unsubscribe_token(user: User) -> str:
    return signing.dumps({"u": user.pk}, salt=UNSUBSCRIBE_SALT)


def user_from_unsubscribe_token(token: str) -> User | None:
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return User.objects.filter(pk=data.get("u")).first()


def unsubscribe(*, user: User) -> None:
    """The one-click link: record an EMAIL withdrawal (no login needed; the token is signed)."""
    set_consent(user=user, purpose=EMAIL, granted=False, method="unsubscribe")


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def send_digest(
    *, user: User, day: date, notifications: list[Notification], now: datetime | None = None
) -> bool:
    """E-mail the shopper's new reminders for local `day`, at most once per day.

    The DigestLog row for (user, day) is inserted first, inside the transaction that sends:
    of two beats racing, one inserts and sends; the other's insert fails on the unique key
    (on PostgreSQL it waits for the first to commit) and it sends nothing. If sending fails
    the row rolls back, so the next hourly run tries again. Returns True when sent.
    """
    now = now or timezone.now()
    if not notifications or not is_allowed(user, EMAIL):
        return False
    try:
        with transaction.atomic():
            DigestLog.objects.create(user=user, day=day, sent_at=now, item_count=len(notifications))
            message = _digest_message(user=user, day=day, notifications=notifications)
            message.send()
            Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(emailed_at=now)
    except IntegrityError:
        log.info("Digest for shopper %s on %s already sent by another run", user.pk, day)
        return False
    return True


def _digest_message(
    *, user: User, day: date, notifications: list[Notification]
) -> EmailMultiAlternatives:
    unsubscribe_url = _absolute(
        reverse("pantry:unsubscribe", kwargs={"token": unsubscribe_token(user)})
    )
    with translation.override(user.language), timezone.override(user.time_zone):
        context = {
            "user": user,
            "day": day,
            "items": [n.item for n in notifications],
            "pantry_url": _absolute(reverse("pantry:index")),
            "settings_url": _absolute(reverse("pantry:index") + "#pantry-settings"),
            "unsubscribe_url": unsubscribe_url,
        }
        subject = render_to_string("pantry/email/digest_subject.txt", context).strip()
        text = render_to_string("pantry/email/digest.txt", context)
        html = render_to_string("pantry/email/digest.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=[user.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            # RFC 8058: mail clients may POST to the URL to unsubscribe in one click.
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(html, "text/html")
    return message
