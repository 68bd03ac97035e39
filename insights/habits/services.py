"""Computing, replacing and deleting a shopper's derived habit rows.

The page and the API only read `HabitSnapshot`/`HabitHighlight`; the pandas work runs
here, from a Celery task (`tasks.py`) or the benchmark, never on the request path.
"""

import io
import json
import logging
import time
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, transaction
from django.db.models import FloatField, Model, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.consent import allowed_user_ids
from accounts.models import Customer, User
from accounts.purposes import INSIGHTS
from insights.habits import analysis
from insights.habits.models import STANDARD_PERIODS, HabitHighlight, HabitSnapshot
from insights.purchases.models import Order, OrderLine

logger = logging.getLogger(__name__)

# Custom ranges a shopper asked for are kept (and refreshed) up to this many.
MAX_CUSTOM_PERIODS = 3
CUSTOM_MAX_DAYS = 3 * 366

_FIELDS = {
    "shopper": "customer_id",
    "order_id": "order_id",
    "placed_at": "placed_at",
    "product_id": "product_id",
    "product_name": "product__name",
    "category_id": "product__category_id",
    "category_name": "product__category__name",
    "department_id": "product__category__department_id",
    "department_name": "product__category__department__name",
    "quantity": "f_quantity",
    "amount_paid": "f_amount_paid",
    "discount": "f_discount",
    "coupon_discount": "f_coupon_discount",
    "line_id": "id",
}


def custom_period_key(start: date, end: date) -> str:
    return analysis.Window(start, end).key


def window_for(period: str, as_of: date) -> analysis.Window:
    """The window of a standard period ending `as_of`, or of a custom "start_end" key."""
    if period in STANDARD_PERIODS:
        return analysis.period_window(period, as_of)
    start, _, end = period.partition("_")
    try:
        window = analysis.Window(date.fromisoformat(start), date.fromisoformat(end))
    except ValueError as exc:
        raise ValueError(f"{period!r} is not a period key.") from exc
    if window.end < window.start or window.days > CUSTOM_MAX_DAYS:
        raise ValueError(f"{period!r} is not a usable range.")
    return window


def load_lines(customer_ids: Iterable[int]) -> pd.DataFrame:
    """The analysable order lines of these customers as a lines frame, in two queries.

    Fuel, coupons and other never-listed departments/categories are left out. Amounts are
    cast to floating point in SQL: the analysis layer works in floats, and converting a
    million Decimals in Python would cost more than the query. `shopper` is the customer id.

    The lines carry their customer and time (line_customer_placed_idx), so the orders are
    not joined: their channels come from a second query on the orders' own customer index.
    Joined, PostgreSQL hashed the whole order table for one shopper's refresh (155,000
    orders for 160; measured in docs/habits.md).

    The rows are put in line order: the analysis sums floats and breaks ties in row order,
    and the database's order depends on its plan (a parallel plan's on its workers), so
    two refreshes of the same history could differ by a cent or a tie otherwise.
    """
    customer_ids = list(customer_ids)
    if not customer_ids:
        # A shopper who granted insights before linking a store card has no customer yet;
        # an empty IN () is refused by the ORM, and there is nothing to read anyway.
        columns = [name for name in _FIELDS if name != "line_id"]
        return pd.DataFrame(columns=[*columns[:3], "channel", *columns[3:]])
    analysable = Q(product__category__isnull=True) | Q(
        product__category__never_list=False,
        product__category__department__never_list=False,
    )
    queryset = (
        OrderLine.objects.filter(customer_id__in=customer_ids)
        .filter(analysable)
        .annotate(
            f_quantity=Cast("quantity", FloatField()),
            f_amount_paid=Cast("amount_paid", FloatField()),
            f_discount=Cast("discount", FloatField()),
            f_coupon_discount=Cast("coupon_discount", FloatField()),
        )
        .order_by()
        .values_list(*_FIELDS.values())
    )
    frame = _read(queryset)
    line_ids = frame.pop("line_id").to_numpy(dtype="int64")
    frame = frame.take(np.argsort(line_ids, kind="stable")).reset_index(drop=True)
    frame.insert(3, "channel", frame["order_id"].map(_channels(customer_ids)) if len(frame) else "")
    if frame.empty:
        return frame
    # ISO 8601, not one format guessed from the first row: PostgreSQL writes the
    # fraction of a second only when there is one, so whole-second till receipts and
    # the API's microsecond stamps arrive mixed in one column.
    frame["placed_at"] = pd.to_datetime(frame["placed_at"], utc=True, format="ISO8601")
    frame["category_name"] = frame["category_name"].fillna("")
    frame["department_name"] = frame["department_name"].fillna("")
    return frame


def _read(queryset: QuerySet) -> pd.DataFrame:
    """The values_list query's rows as a frame with the `_FIELDS` columns, in any order.

    The ORM builds the query; the rows are read past it, because Django's per-row
    converters (and, on PostgreSQL, psycopg's per-value ones) cost more than the query
    itself for a batch of 500 shoppers.
    """
    connection = connections[queryset.db]
    sql, params = queryset.query.sql_with_params()
    if connection.vendor == "postgresql":
        return _copy_frame(connection, sql, params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return pd.DataFrame.from_records(cursor.fetchall(), columns=list(_FIELDS))


def _channels(customer_ids: list[int]) -> pd.Series:
    """Each order's channel by order id, for these customers' orders."""
    orders = Order.objects.filter(customer_id__in=customer_ids).order_by()
    rows = list(orders.values_list("pk", "channel"))
    return pd.Series(
        [channel for _, channel in rows],
        index=pd.Index([pk for pk, _ in rows], dtype="int64"),
        dtype=object,
    )


def _copy_frame(connection: Any, sql: str, params: tuple) -> pd.DataFrame:
    """The query's rows through COPY ... TO STDOUT as CSV, parsed by pandas' C reader.

    COPY takes no bind parameters, so psycopg's client-side binding quotes them (the
    parameters are the customer ids and booleans the ORM produced, never shopper text).
    """
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    literal = psycopg.ClientCursor(raw).mogrify(sql, params)
    buffer = io.BytesIO()
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY ({literal}) TO STDOUT WITH (FORMAT csv)") as copy,
    ):
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    if not buffer.getbuffer().nbytes:
        return pd.DataFrame(columns=list(_FIELDS))
    return pd.read_csv(
        buffer,
        names=list(_FIELDS),
        header=None,
        dtype={"product_name": object, "category_name": object, "department_name": object},
        keep_default_na=False,
        na_values={"category_id": [""], "department_id": [""]},
    )


def _periods_for(user_ids: list[int], extra: dict[int, list[str]] | None) -> dict[int, list[str]]:
    """Standard periods, plus the custom ranges each shopper asked for most recently."""
    wanted: dict[int, list[str]] = {uid: list(STANDARD_PERIODS) for uid in user_ids}
    custom = (
        HabitSnapshot.objects.filter(user_id__in=user_ids)
        .exclude(period__in=STANDARD_PERIODS)
        .order_by("user_id", "-requested_at")
        .values_list("user_id", "period")
    )
    for user_id, period in custom:
        if len(wanted[user_id]) < len(STANDARD_PERIODS) + MAX_CUSTOM_PERIODS:
            wanted[user_id].append(period)
    for user_id, periods in (extra or {}).items():
        for period in periods:
            if user_id in wanted and period not in wanted[user_id]:
                wanted[user_id].append(period)
    return wanted


def refresh_habits(*, user: User, as_of: datetime | None = None) -> int:
    """Recompute every period of one shopper and replace their rows; 1 if stored, else 0.

    The new rows are not read back: the task has no use for them, and their JSON is most
    of what the refresh wrote.
    """
    return refresh_habits_many(user_ids=[user.pk], as_of=as_of)


def refresh_habits_many(
    *, user_ids: Iterable[int], as_of: datetime | None = None, lines: pd.DataFrame | None = None
) -> int:
    """Recompute the habits of many shoppers at once; returns how many were refreshed.

    Their lines come in one query (or `lines`, a frame with `shopper` = customer id, for
    the benchmark); every period of everyone who shares a time zone is one vectorised
    `analysis.compute_periods` pass. Callers check consent (`allowed_user_ids`) first.
    """
    as_of = as_of or timezone.now()
    started = time.perf_counter()
    users = list(
        User.objects.filter(pk__in=list(user_ids)).values_list("pk", "time_zone", "customer__pk")
    )
    if not users:
        return 0
    user_of_customer = {customer: pk for pk, _, customer in users if customer is not None}
    if lines is None:
        lines = load_lines(user_of_customer)
    if not lines.empty:
        lines = lines[lines["shopper"].isin(user_of_customer)].copy()
        lines["shopper"] = lines["shopper"].map(user_of_customer)
    loaded = time.perf_counter()
    last_order = _last_orders(lines)
    periods = _periods_for([pk for pk, _, _ in users], None)
    by_zone: dict[str, list[int]] = defaultdict(list)
    for pk, tz, _ in users:
        by_zone[tz].append(pk)

    results: dict[int, list[tuple[str, analysis.Window, dict, list[analysis.Highlight]]]] = (
        defaultdict(list)
    )
    for tz, zone_users in by_zone.items():
        local_as_of = timezone.localtime(as_of, zoneinfo.ZoneInfo(tz)).date()
        zone_lines = lines[lines["shopper"].isin(zone_users)] if not lines.empty else lines
        prepared = analysis.prepare_lines(
            zone_lines if not zone_lines.empty else _empty_lines(), tz=tz
        )
        by_period: dict[str, list[int]] = defaultdict(list)
        for pk in zone_users:
            for period in periods[pk]:
                by_period[period].append(pk)
        # Every period of everyone in this zone in one pass: the lines are grouped once.
        all_frames = analysis.compute_periods(
            prepared,
            as_of=local_as_of,
            windows={period: window_for(period, local_as_of) for period in by_period},
            shoppers={period: sorted(members) for period, members in by_period.items()},
        )
        for period, frames in all_frames.items():
            payloads = analysis.payloads_many(frames)
            for pk in by_period[period]:
                results[pk].append(
                    (period, frames.window, payloads[pk], frames.highlights.get(pk, []))
                )
    analysed = time.perf_counter()
    # computed_at is when the rows were made (staleness), not the as_of they describe.
    written = _replace(results, last_order, timezone.now())
    logger.info(
        "Refreshed habits of %d shoppers (%d lines): load %.2f s, analysis %.2f s, write %.2f s",
        written,
        len(lines),
        loaded - started,
        analysed - loaded,
        time.perf_counter() - analysed,
    )
    return written


def _empty_lines() -> pd.DataFrame:
    frame = pd.DataFrame({column: [] for column in analysis.LINE_COLUMNS})
    frame["shopper"] = pd.Series(dtype="int64")
    frame["placed_at"] = pd.to_datetime(frame["placed_at"], utc=True)
    return frame


def _last_orders(lines: pd.DataFrame) -> dict[int, datetime]:
    if lines.empty:
        return {}
    last = lines.groupby("shopper")["placed_at"].max()
    return {int(k): v.to_pydatetime() for k, v in last.items()}


@transaction.atomic
def _replace(
    results: dict[int, list[tuple[str, analysis.Window, dict, list[analysis.Highlight]]]],
    last_order: dict[int, datetime],
    computed_at: datetime,
) -> int:
    """Swap in the new rows of these shoppers in one transaction; returns how many.

    Delete-and-insert under one transaction: a reader sees the old rows or the new ones,
    never half. Dismissals survive because they are carried over by highlight key.
    The logins are locked and consent is checked again here, after the analysis: set_consent
    locks the same rows, so a withdrawal made while the analysis ran is seen and its
    shopper skipped, and one that comes now waits and then deletes what this wrote.
    """
    locked = list(
        User.objects.select_for_update()
        .filter(pk__in=list(results))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    allowed = allowed_user_ids(INSIGHTS, locked)
    results = {user_id: computed for user_id, computed in results.items() if user_id in allowed}
    user_ids = list(results)
    dismissed = _dismissals(user_ids)
    custom_requested = {
        (uid, period): at
        for uid, period, at in HabitSnapshot.objects.filter(user_id__in=user_ids)
        .exclude(period__in=STANDARD_PERIODS)
        .values_list("user_id", "period", "requested_at")
    }
    # Highlights first in one DELETE, then the snapshots by primary key only: a plain
    # delete() would load every old snapshot's JSON just to find what cascades.
    HabitHighlight.objects.filter(user_id__in=user_ids).delete()
    HabitSnapshot.objects.filter(user_id__in=user_ids).only("pk").delete()
    rows = [
        (
            user_id,
            period,
            window.start,
            window.end,
            HabitSnapshot.Status.FRESH,
            payload["state"],
            payload,
            custom_requested.get((user_id, period), computed_at),
            computed_at,
            last_order.get(user_id),
        )
        for user_id, computed in results.items()
        for period, window, payload, _ in computed
    ]
    snapshot_ids = _insert_snapshots(rows, user_ids)
    highlights = [
        (
            snapshot_ids[(user_id, period)],
            user_id,
            highlight.key,
            highlight.kind,
            highlight.params,
            position,
            dismissed.get((user_id, highlight.key)),
        )
        for user_id, computed in results.items()
        for period, _, _, found in computed
        for position, highlight in enumerate(found)
    ]
    _insert(HabitHighlight, _HIGHLIGHT_FIELDS, highlights, json_field="params")
    return len(user_ids)


_SNAPSHOT_FIELDS = (
    "user_id",
    "period",
    "start",
    "end",
    "status",
    "state",
    "data",
    "requested_at",
    "computed_at",
    "source_last_order_at",
)
_HIGHLIGHT_FIELDS = ("snapshot_id", "user_id", "key", "kind", "params", "position", "dismissed_at")


def _insert_snapshots(rows: list[tuple], user_ids: list[int]) -> dict[tuple[int, str], int]:
    """Insert snapshot rows; returns their ids by (user id, period)."""
    if connections[HabitSnapshot.objects.db].vendor == "postgresql":
        _insert(HabitSnapshot, _SNAPSHOT_FIELDS, rows, json_field="data")
        stored = HabitSnapshot.objects.filter(user_id__in=user_ids).values_list(
            "user_id", "period", "pk"
        )
        return {(user_id, period): pk for user_id, period, pk in stored}
    snapshots = HabitSnapshot.objects.bulk_create(
        [HabitSnapshot(**dict(zip(_SNAPSHOT_FIELDS, row, strict=True))) for row in rows],
        batch_size=500,
    )
    return {(s.user_id, s.period): s.pk for s in snapshots}


def _insert(
    model: type[Model], fields: tuple[str, ...], rows: list[tuple], json_field: str
) -> None:
    """Insert plain rows: COPY on PostgreSQL, `bulk_create` elsewhere.

    Django's bulk insert on PostgreSQL sends each column as one array literal, and psycopg's
    client-side quoting of the JSON in those arrays escapes every double quote through a
    Python regex callback: that cost more than all the analysis (measured in
    docs/habits.md). COPY streams the rows with the JSON serialised once, as the field
    itself would (`DjangoJSONEncoder`).
    """
    if not rows:
        return
    connection = connections[model.objects.db]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in rows], batch_size=1000
        )
        return
    position = fields.index(json_field)
    columns = ", ".join(connection.ops.quote_name(model._meta.get_field(f).column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            values = list(row)
            values[position] = json.dumps(values[position], cls=DjangoJSONEncoder)
            copy.write_row(values)


def _dismissals(user_ids: list[int]) -> dict[tuple[int, str], datetime]:
    dismissed: dict[tuple[int, str], datetime] = {}
    rows = HabitHighlight.objects.filter(user_id__in=user_ids, dismissed_at__isnull=False)
    for user_id, key, at in rows.values_list("user_id", "key", "dismissed_at"):
        dismissed[(user_id, key)] = at
    return dismissed


def delete_habits(*, user: User | int) -> int:
    """Delete every derived habit row of a shopper (withdrawal, erasure). Returns rows deleted."""
    user_id = user if isinstance(user, int) else user.pk
    highlights, _ = HabitHighlight.objects.filter(user_id=user_id).delete()
    snapshots, _ = HabitSnapshot.objects.filter(user_id=user_id).only("pk").delete()
    return highlights + snapshots


def enqueue_refresh(*, user_id: int) -> None:
    """Queue a refresh once the current transaction commits (at once outside one)."""
    from insights.habits.tasks import refresh_habits_task  # tasks import this module

    transaction.on_commit(lambda: refresh_habits_task.apply_async(args=[user_id]))


@transaction.atomic
def mark_stale(*, user_id: int) -> None:
    """New purchases arrived: say so on the page until the queued refresh lands."""
    HabitSnapshot.objects.filter(user_id=user_id, status=HabitSnapshot.Status.FRESH).update(
        status=HabitSnapshot.Status.STALE
    )
    enqueue_refresh(user_id=user_id)


@transaction.atomic
def request_period(*, user: User, period: str, window: analysis.Window | None) -> HabitSnapshot:
    """The snapshot of `period`, creating a "computing" placeholder and queueing it if new.

    Used by the page for a custom range nobody has computed yet, and for a shopper whose
    standard periods were never computed (consent granted before the worker caught up).
    """
    snapshot, created = HabitSnapshot.objects.get_or_create(
        user=user,
        period=period,
        defaults={
            "status": HabitSnapshot.Status.COMPUTING,
            "start": window.start if window else None,
            "end": window.end if window else None,
        },
    )
    if created:
        enqueue_refresh(user_id=user.pk)
    return snapshot


def stale_user_ids(*, allowed: set[int], now: datetime, max_age: timedelta) -> list[int]:
    """Of `allowed`, those without a standard snapshot computed within `max_age`."""
    fresh = set(
        HabitSnapshot.objects.filter(
            user_id__in=allowed, period=STANDARD_PERIODS[0], computed_at__gte=now - max_age
        ).values_list("user_id", flat=True)
    )
    linked = set(Customer.objects.filter(user_id__in=allowed).values_list("user_id", flat=True))
    return sorted(linked - fresh)


def payload_summary(snapshot: HabitSnapshot) -> dict[str, Any]:
    """What the API returns for a snapshot: the stored aggregates and their status."""
    return {
        "period": snapshot.period,
        "status": snapshot.status,
        "computed_at": snapshot.computed_at,
        "source_last_order_at": snapshot.source_last_order_at,
        **(snapshot.data or {}),
    }
