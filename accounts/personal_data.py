"""The registry of personal data: each class of shopper data and how to export, erase, expire it.

accounts must not import the apps that derive data (ARCHITECTURE.md), yet export (GDPR
art. 15 and 20), erasure (art. 17) and retention (art. 5(1)(e)) must cover all of it. So
each app registers its data classes from its AppConfig.ready with `register`, and the
data-rights services walk this registry. A test walks every model and fails when one that
points at a shopper is not covered by a registered class.
"""

import calendar
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils.functional import Promise

if TYPE_CHECKING:
    from django.db.models import Model, QuerySet


@dataclass(frozen=True)
class Subject:
    """Whose data: the login and, when linked, the retailer's customer record."""

    user_id: int
    customer_id: int | None


@dataclass(frozen=True)
class Retention:
    """How long rows of a data class are kept, read from `settings.<setting>` at run time.

    `expire(cutoff)` deletes or anonymises rows older than `cutoff` (an aware UTC
    datetime) and returns how many rows it changed; running it twice changes nothing more.
    """

    setting: str
    unit: str  # "days" or "months"
    expire: Callable[[datetime], int]
    # When the clock starts, for the README and the docs: "after the purchase".
    counted_from: Promise | str = ""

    @property
    def amount(self) -> int:
        return int(getattr(settings, self.setting))

    def cutoff(self, now: datetime) -> datetime:
        if self.unit == "months":
            return subtract_months(now, self.amount)
        return now - timedelta(days=self.amount)


@dataclass(frozen=True)
class DataClass:
    """One kind of a shopper's data; exported as `<key>.json` and `<key>.csv`.

    `rows(subject)` yields one sequence of values per row, in the order of `fields`
    (JSON and CSV friendly: str, int, float, bool, None, or Decimal/date/datetime which
    the writer turns into strings). `count(subject)` counts the same rows in the database,
    `erase(subject)` deletes them and returns how many went.
    """

    key: str
    title: Promise | str
    purpose: str
    holds: Promise | str
    source: Promise | str
    fields: Sequence[str]
    rows: Callable[[Subject], Iterable[Sequence[object]]]
    count: Callable[[Subject], int]
    erase: Callable[[Subject], int]
    retention: Retention | None = None
    # Said instead of a period when `retention` is None.
    kept: Promise | str = ""
    # The model ("app_label.Model") whose rows these are, for the coverage test.
    model: str = ""


@dataclass(frozen=True)
class BookkeepingRule:
    """Rows that are not any one shopper's but still must not be kept for ever."""

    key: str
    title: Promise | str
    retention: Retention


_registry: dict[str, DataClass] = {}
_bookkeeping: dict[str, BookkeepingRule] = {}


def register(*data_classes: DataClass) -> None:
    """Add data classes; registering the same key again replaces it (ready() may rerun)."""
    for data_class in data_classes:
        _registry[data_class.key] = data_class


def register_bookkeeping(*rules: BookkeepingRule) -> None:
    for rule in rules:
        _bookkeeping[rule.key] = rule


def data_classes() -> list[DataClass]:
    """In registration order: accounts first, then the apps in INSTALLED_APPS order."""
    return list(_registry.values())


def bookkeeping_rules() -> list[BookkeepingRule]:
    return list(_bookkeeping.values())


def retention_rules() -> list[tuple[str, Retention]]:
    """Every (key, retention) the nightly job applies: derived data first, then sources."""
    rules = [(dc.key, dc.retention) for dc in reversed(data_classes()) if dc.retention]
    rules += [(rule.key, rule.retention) for rule in bookkeeping_rules()]
    return rules


def subtract_months(moment: datetime, months: int) -> datetime:
    """`moment` minus whole calendar months, clamping the day (31 March - 1 = 28/29 Feb)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def values(row: Mapping[str, object], fields: Sequence[str]) -> tuple[object, ...]:
    """A dict row (from `.values()`) as a tuple in `fields` order."""
    return tuple(row[name] for name in fields)


def model_data_class(
    *,
    key: str,
    title: Promise | str,
    purpose: str,
    holds: Promise | str,
    source: Promise | str,
    model: "type[Model]",
    queryset: Callable[[Subject], "QuerySet"],
    columns: Mapping[str, str],
    retention: Retention | None = None,
    kept: Promise | str = "",
    erase: Callable[[Subject], int] | None = None,
    order_by: Sequence[str] = ("pk",),
) -> DataClass:
    """A data class over one model: `columns` maps a file column to an ORM lookup.

    Rows are read with `values_list` in `order_by` order and streamed in chunks, so a
    shopper with years of receipts is exported without loading every row at once. On a
    large table give an order the shopper's index serves: PostgreSQL plans a streamed
    (cursor) query for the first rows, and "ORDER BY id" then walks the whole primary key.
    """
    lookups = list(columns.values())

    def rows(subject: Subject) -> Iterable[Sequence[object]]:
        qs = queryset(subject).order_by(*order_by)
        return qs.values_list(*lookups).iterator(chunk_size=2000)

    def count(subject: Subject) -> int:
        return queryset(subject).count()

    def delete(subject: Subject) -> int:
        qs = queryset(subject)
        _total, per_model = qs.delete()
        return per_model.get(qs.model._meta.label, 0)

    return DataClass(
        key=key,
        title=title,
        purpose=purpose,
        holds=holds,
        source=source,
        fields=tuple(columns),
        rows=rows,
        count=count,
        erase=erase or delete,
        retention=retention,
        kept=kept,
        model=model._meta.label,
    )


def expire_by(
    queryset: Callable[[], "QuerySet"], field: str, chunk: int = 5000
) -> Callable[[datetime], int]:
    """An `expire` that deletes rows of `queryset()` whose `field` is older than the cutoff.

    In chunks of `chunk` rows, each its own transaction: the first run after a period is
    shortened may delete millions of order lines, and one statement would hold their locks
    (and the ORM's cascade bookkeeping) for all of them at once.
    """

    def expire(cutoff: datetime) -> int:
        total = 0
        while True:
            qs = queryset().filter(**{f"{field}__lt": cutoff})
            model = qs.model
            pks = list(qs.values_list("pk", flat=True)[:chunk])
            if not pks:
                return total
            with transaction.atomic():
                _all, per_model = model._base_manager.filter(pk__in=pks).delete()
            total += per_model.get(model._meta.label, 0)

    return expire
