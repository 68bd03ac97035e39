"""Shelf-life rules: best-before estimates, opened/frozen dates, due-soon windows, quiet hours.

Pure functions over plain values: no ORM, no settings, no clock. Every function that
depends on "now" takes it explicitly (`as_of` a local date, or `now` an aware datetime plus
the shopper's time zone name), so the rules are tested without a database and with any time.
"""

import math
import statistics
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

# Where an estimate came from; stored on the item so the page can say how it was estimated.
RULE_PRODUCT = "product"
RULE_CATEGORY = "category"
RULE_OPENED = "opened"
RULE_FROZEN = "frozen"
RULE_CORRECTED = "corrected"

# A line whose estimated date passed more than this many days ago is not worth an item:
# the food is eaten or gone, and a pantry full of stale entries is the drift we avoid.
STALE_AFTER_DAYS = 7


@dataclass(frozen=True)
class ShelfLife:
    """What the catalog knows about one product (product values, then category defaults)."""

    product_days: int | None = None
    category_days: int | None = None
    product_opened_days: int | None = None
    category_opened_days: int | None = None
    product_frozen_days: int | None = None
    category_frozen_days: int | None = None

    @property
    def days(self) -> int | None:
        return self.product_days if self.product_days is not None else self.category_days

    @property
    def opened_days(self) -> int | None:
        if self.product_opened_days is not None:
            return self.product_opened_days
        return self.category_opened_days

    @property
    def frozen_days(self) -> int | None:
        if self.product_frozen_days is not None:
            return self.product_frozen_days
        return self.category_frozen_days


@dataclass(frozen=True)
class Estimate:
    """An estimated best-before date, the rule that produced it and the days it assumed."""

    best_before: date
    rule: str
    days: int


def local_date(moment: datetime, tz_name: str) -> date:
    """The calendar date of the aware `moment` in the shopper's time zone.

    A receipt at 23:30 UTC on 2 November is a 3 November purchase in Stockholm; the
    shopper's calendar, not the server's, decides what "bought on" and "today" mean.
    """
    if moment.tzinfo is None:
        raise ValueError("local_date needs an aware datetime")
    return moment.astimezone(zoneinfo.ZoneInfo(tz_name)).date()


def estimate_best_before(*, bought_on: date, shelf_life: ShelfLife) -> Estimate | None:
    """Purchase date + the product's shelf life, else its category's default, else None.

    None means the product's shelf life is unknown: it is listed for admins, never guessed.
    """
    if shelf_life.product_days is not None:
        days, rule = shelf_life.product_days, RULE_PRODUCT
    elif shelf_life.category_days is not None:
        days, rule = shelf_life.category_days, RULE_CATEGORY
    else:
        return None
    return Estimate(best_before=bought_on + timedelta(days=days), rule=rule, days=days)


def is_worth_tracking(best_before: date, *, as_of: date) -> bool:
    """False for a line whose date passed long ago (see STALE_AFTER_DAYS)."""
    return best_before >= as_of - timedelta(days=STALE_AFTER_DAYS)


def after_opening(*, best_before: date, opened_on: date, opened_days: int | None) -> date:
    """Opening only shortens: the earlier of the current date and opened + opened shelf life."""
    if opened_days is None:
        return best_before
    return min(best_before, opened_on + timedelta(days=opened_days))


def after_freezing(*, best_before: date, frozen_on: date, frozen_days: int | None) -> date:
    """Freezing restarts the clock on the frozen shelf life; it never shortens the date."""
    if frozen_days is None:
        return best_before
    return max(best_before, frozen_on + timedelta(days=frozen_days))


def due_soon_window_days(
    *, shelf_life_days: int | None, due_soon_days: int, category_share: Decimal | None
) -> int:
    """How many days before its date an item counts as due soon.

    A category share (0.25 = the last quarter of the shelf life) overrides the shopper's
    days, because two days' notice is plenty for milk and far too little for a ham that
    keeps a month. At least one day, so every item gets a reminder before its date.
    """
    if category_share is not None and shelf_life_days:
        return max(1, math.ceil(shelf_life_days * float(category_share)))
    return max(0, due_soon_days)


def due_soon_from(*, best_before: date, window_days: int) -> date:
    """The first local date on which the item is due soon."""
    return best_before - timedelta(days=window_days)


def status(*, best_before: date, due_soon_on: date, as_of: date) -> str:
    """'expired', 'due_soon' or 'fresh' on the shopper's local date `as_of`."""
    if as_of > best_before:
        return "expired"
    if as_of >= due_soon_on:
        return "due_soon"
    return "fresh"


def in_quiet_hours(local_time: time, *, start: time | None, end: time | None) -> bool:
    """True when `local_time` falls in [start, end), which may wrap past midnight (21:00–08:00).

    No start or end, or start == end, means no quiet hours.
    """
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= local_time < end
    return local_time >= start or local_time < end


def local_now(now: datetime, tz_name: str) -> datetime:
    """The aware `now` in the shopper's time zone (for quiet hours and "today")."""
    if now.tzinfo is None:
        raise ValueError("local_now needs an aware datetime")
    return now.astimezone(zoneinfo.ZoneInfo(tz_name))


@dataclass(frozen=True)
class UseInTimeHint:
    """The shopper usually takes `usual_days` to go through a pack; this one keeps `keeps_days`."""

    usual_days: int
    keeps_days: int
    expires_in_days: int


MIN_INTERVALS = 2


def usual_interval_days(purchase_dates: list[date]) -> int | None:
    """Median days between the shopper's purchases of one product: how long a pack lasts them.

    Median, so one holiday gap does not make every pack look slow. Needs at least
    MIN_INTERVALS gaps; several purchases on one day count once. None when unknown.
    """
    days = sorted(set(purchase_dates))
    intervals = [(b - a).days for a, b in zip(days, days[1:], strict=False)]
    if len(intervals) < MIN_INTERVALS:
        return None
    return round(statistics.median(intervals))


def use_in_time(
    *, usual_days: int, bought_on: date, best_before: date, as_of: date
) -> UseInTimeHint | None:
    """A hint when the shopper's own rhythm says this pack will outlast its date, else None."""
    keeps = (best_before - bought_on).days
    if usual_days <= keeps:
        return None
    return UseInTimeHint(
        usual_days=usual_days, keeps_days=keeps, expires_in_days=(best_before - as_of).days
    )
