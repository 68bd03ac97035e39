"""Forecast refresh and list decisions: history in, stored forecasts and shopping lists out.

The statistics live in `model.py` and `rules.py` (pure pandas, explicit `as_of`). This
module does the I/O around them under consent:

- only shoppers who granted `predictions` get forecasts or a list;
- cross-shopper signal (the fitted coefficients, popular products, bought-together rules)
  comes only from shoppers who granted `model_improvement`;
- a refresh replaces a shopper's forecasts and the model's items on their list in one
  transaction, keeping what the shopper typed and what they decided (ticked, not this time)
  until their next shop.
"""

from __future__ import annotations

import io
import logging
import math
import pickle
import time
import zoneinfo
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.db.models import F, FloatField, Min, Q
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.consent import allowed_user_ids
from accounts.models import ConsentEvent, Customer, User
from accounts.purposes import MODEL_IMPROVEMENT, PREDICTIONS
from insights.catalog.models import Product
from insights.forecasts.models import (
    LIKELY_CONFIDENCE,
    MAYBE_CONFIDENCE,
    Forecast,
    ForecastModel,
    ForecastRun,
    ItemAction,
    ListItem,
    ListSnapshot,
    ShoppingList,
)
from insights.purchases.models import OrderLine

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = [
    "customer_id",
    "order_id",
    "product_id",
    "placed_at",
    "quantity",
    "category_id",
    "department_id",
]
# Up to this many shoppers the history is read by `_history_few`, beyond by one join.
FEW_SHOPPERS = 20
_LINE_FIELDS = ("customer_id", "order_id", "product_id", "placed_at")
# Forecast rows kept per shopper: enough for the list, the API and "more suggestions".
FORECASTS_PER_SHOPPER = 60
# The list holds about one and a quarter typical baskets, within these bounds.
MIN_LIST_ITEMS = 8
MAX_LIST_ITEMS = 40
# Below this many personal suggestions a shopper is "new": fill with labelled popular items.
MIN_PERSONAL_ITEMS = 5
POPULAR_FILL = 8
TOGETHER_ITEMS = 5
# Rule mining thresholds over contributors' baskets.
RULE_MIN_SUPPORT_COUNT = 30
RULE_MIN_CONFIDENCE = 0.2
RULE_MAX_RULES = 5000
SNOOZE_CHOICES = (3, 7, 14, 30)
# A list not recomputed for this long is stale even without new orders (dates move on).
STALE_AFTER = timedelta(days=1)


# --------------------------------------------------------------------------- history


def history_queryset(*, customer_ids: Iterable[int] | None, before: datetime):
    """Order lines before `before`, without never-listed departments and categories."""
    qs = OrderLine.objects.filter(placed_at__lt=before).filter(
        Q(product__category__isnull=True)
        | Q(product__category__never_list=False, product__category__department__never_list=False)
    )
    if customer_ids is not None:
        qs = qs.filter(customer_id__in=list(customer_ids))
    return qs.order_by().values_list(
        "customer_id",
        "order_id",
        "product_id",
        "placed_at",
        Cast("quantity", FloatField()),
        F("product__category_id"),
        F("product__category__department_id"),
    )


def load_history(*, customer_ids: Iterable[int] | None, before: datetime) -> pd.DataFrame:
    """The purchase history frame `model.py` expects, in one query.

    Read without model instances: a full refresh reads millions of lines and per-row ORM
    conversion would dominate its time. On PostgreSQL the rows stream out with COPY.
    """
    if customer_ids is not None:
        customer_ids = list(customer_ids)
        if not customer_ids:
            return _history_frame([])
        if len(customer_ids) <= FEW_SHOPPERS:
            return _history_few(customer_ids=customer_ids, before=before)
    # COPY pays off for a batch.
    if connection.vendor == "postgresql":
        return _history_postgres(customer_ids=customer_ids, before=before)
    query = history_queryset(customer_ids=customer_ids, before=before).query
    sql, params = query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return _history_frame(rows)


def _history_few(*, customer_ids: list[int], before: datetime) -> pd.DataFrame:
    """The same rows as `history_queryset` for a few shoppers: lines, then their products.

    Two index-driven queries instead of one join: joined, PostgreSQL hashed the whole
    catalog (92,000 products) to annotate one shopper's 4,000 lines, 60 of the query's
    65 ms (docs/forecasting.md). The lines come in line order, so the frame does not
    depend on the plan.
    """
    if connection.vendor == "postgresql":
        lines = _history_postgres(customer_ids=customer_ids, before=before, catalog=False)
    else:
        queryset = (
            OrderLine.objects.filter(customer_id__in=customer_ids, placed_at__lt=before)
            .order_by("pk")
            .values_list(*_LINE_FIELDS, Cast("quantity", FloatField()))
        )
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            lines = pd.DataFrame(cursor.fetchall(), columns=HISTORY_COLUMNS[:5])
        lines["placed_at"] = pd.to_datetime(lines["placed_at"], utc=True, format="ISO8601")
    if lines.empty:
        return _history_frame([])
    listed = (
        Product.objects.filter(pk__in=lines["product_id"].unique().tolist())
        .filter(
            Q(category__isnull=True)
            | Q(category__never_list=False, category__department__never_list=False)
        )
        .values_list("pk", "category_id", "category__department_id")
    )
    catalog = pd.DataFrame(list(listed), columns=["product_id", *HISTORY_COLUMNS[5:]])
    catalog["product_id"] = catalog["product_id"].astype("int64")
    # An inner merge keeps the lines' order and drops never-listed products.
    frame = lines.astype({"product_id": "int64"}).merge(catalog, on="product_id", how="inner")
    return _history_types(frame[HISTORY_COLUMNS])


def _history_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    frame["placed_at"] = pd.to_datetime(frame["placed_at"], utc=True, format="ISO8601")
    return _history_types(frame)


def _history_types(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("customer_id", "order_id", "product_id"):
        frame[column] = frame[column].astype("int64")
    frame["quantity"] = frame["quantity"].astype("float64")
    for column in ("category_id", "department_id"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _history_postgres(
    *, customer_ids: list[int] | None, before: datetime, catalog: bool = True
) -> pd.DataFrame:
    """The same rows as `history_queryset`, as CSV through COPY (several times faster).

    With `catalog=False`: the lines alone, in line order, without their products'
    category and department (and without leaving out never-listed ones).
    """
    from insights.catalog.models import Category, Department

    line, product = OrderLine._meta.db_table, Product._meta.db_table
    category, department = Category._meta.db_table, Department._meta.db_table
    where = ["l.placed_at < %s"]
    params: list[Any] = [before]
    if customer_ids is not None:
        where.append("l.customer_id = ANY(%s)")
        params.append(customer_ids)
    columns = HISTORY_COLUMNS[:5]
    joins = order = ""
    if catalog:
        columns = HISTORY_COLUMNS
        where.append("(c.id IS NULL OR (NOT c.never_list AND NOT d.never_list))")
        joins = (
            f"JOIN {product} p ON p.id = l.product_id "
            f"LEFT JOIN {category} c ON c.id = p.category_id "
            f"LEFT JOIN {department} d ON d.id = c.department_id "
        )
    else:
        order = " ORDER BY l.id"
    sql = (
        "SELECT l.customer_id, l.order_id, l.product_id, "  # noqa: S608  (table names only)  # nosec B608
        "(EXTRACT(EPOCH FROM l.placed_at) * 1000000)::bigint, l.quantity::float8"
        f"{', p.category_id, c.department_id' if catalog else ''} "
        f"FROM {line} l {joins}WHERE {' AND '.join(where)}{order}"
    )
    buffer = io.BytesIO()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy,
    ):
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    if not buffer.getbuffer().nbytes:
        return _history_frame([])[columns]
    frame = pd.read_csv(buffer, header=None, names=columns, engine="pyarrow")
    frame["placed_at"] = pd.to_datetime(frame["placed_at"], unit="us", utc=True)
    return _history_types(frame) if catalog else frame


def adjustments_frame(*, user_customer: dict[int, int], as_of: datetime) -> pd.DataFrame:
    """The shoppers' decisions as `model.predict` reads them (customer ids, not logins)."""
    rows = ItemAction.objects.filter(user_id__in=list(user_customer), at__lt=as_of).values_list(
        "user_id", "product_id", "action", "at", "until"
    )
    frame = pd.DataFrame(
        [(user_customer[u], p, a, at, until) for u, p, a, at, until in rows],
        columns=["customer_id", "product_id", "action", "at", "until"],
    )
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    frame["until"] = pd.to_datetime(frame["until"], utc=True)
    return frame


# --------------------------------------------------------------------------- model


_payload_cache: dict[int, dict[str, Any]] = {}


def _model_api():
    # Imported late so the ORM side (views, API, admin) never loads statsmodels.
    from insights.forecasts import model

    try:
        from insights.forecasts import rules
    except ImportError:
        # Bought-together rules are an extra: without rules.py the list has none.
        rules = None
    return model, rules


def contributor_customer_ids(customer_ids: Iterable[int] | None = None) -> set[int]:
    """Customers whose login granted `model_improvement`: the only cross-shopper signal."""
    contributing_users = allowed_user_ids(MODEL_IMPROVEMENT)
    qs = Customer.objects.filter(user_id__in=contributing_users)
    if customer_ids is not None:
        qs = qs.filter(pk__in=list(customer_ids))
    return set(qs.values_list("pk", flat=True))


def fit_payload(
    *, history: pd.DataFrame, as_of: datetime, contributor_ids: set[int]
) -> dict[str, Any]:
    """Fit the model, popular products and bought-together rules on contributors only."""
    model, rules = _model_api()
    ids = sorted(contributor_ids)
    as_of = pd.Timestamp(as_of)
    own = history[history["customer_id"].isin(contributor_ids)]
    fitted = model.fit_model(history, as_of, train_customer_ids=ids)
    popular = model.popular_products(history, as_of, contributor_customer_ids=ids, top_n=30)
    assoc = pd.DataFrame(columns=["antecedent", "consequent", "support", "confidence", "lift"])
    if rules is not None:
        assoc = rules.association_rules(
            own[["order_id", "product_id"]].drop_duplicates(),
            min_support_count=RULE_MIN_SUPPORT_COUNT,
            min_confidence=RULE_MIN_CONFIDENCE,
            max_rules=RULE_MAX_RULES,
        )
    return {"model": fitted, "rules": assoc, "popular": popular}


@transaction.atomic
def fit_forecast_model(*, as_of: datetime | None = None) -> ForecastModel:
    """Fit and store a new cross-shopper model from contributors' history before `as_of`."""
    as_of = as_of or timezone.now()
    run = ForecastRun.objects.create(kind=ForecastRun.Kind.FIT, started_at=timezone.now())
    contributors = contributor_customer_ids()
    history = load_history(customer_ids=contributors, before=as_of)
    payload = fit_payload(history=history, as_of=as_of, contributor_ids=contributors)
    summary = getattr(payload["model"], "summary", None)
    summary = summary if isinstance(summary, dict) else {}
    stored = ForecastModel.objects.create(
        as_of=as_of,
        payload=pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL),
        n_contributors=len(contributors),
        n_rules=len(payload["rules"]),
        summary=_json_safe(summary),
    )
    # Keep the last few for comparison; older ones only take space.
    old = ForecastModel.objects.order_by("-created_at", "-id").values_list("pk", flat=True)[5:]
    ForecastModel.objects.filter(pk__in=list(old)).delete()
    run.shoppers = len(contributors)
    run.finished_at = timezone.now()
    run.save(update_fields=["shoppers", "finished_at"])
    _payload_cache.clear()
    _payload_cache[stored.pk] = payload
    return stored


def _json_safe(value: Any) -> Any:
    """The model's summary as plain JSON: numpy numbers to floats, NaN to null, dates to text."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return None if math.isnan(number) or math.isinf(number) else number


def current_payload(*, as_of: datetime) -> dict[str, Any]:
    """The latest fitted model (unpickled once per process), fitting one if none exists."""
    latest_pk = ForecastModel.objects.order_by("-created_at", "-id").values_list("pk", flat=True)
    pk = latest_pk.first()
    if pk is None:
        pk = fit_forecast_model(as_of=as_of).pk
    if pk not in _payload_cache:
        blob = ForecastModel.objects.filter(pk=pk).values_list("payload", flat=True).get()
        _payload_cache.clear()
        _payload_cache[pk] = pickle.loads(bytes(blob))  # noqa: S301  (our own rows)  # nosec B301
    return _payload_cache[pk]


# --------------------------------------------------------------------------- refresh


class _Clock:
    """Adds the seconds since the previous lap to `timings[name]`."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self.last
        self.last = now


def _active_holds(
    *, user_ids: list[int], as_of: datetime, last_shop: dict[int, datetime]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per shopper: (user_id, product_id) never to suggest, and those held off this list.

    Held: snoozed until a later date, or "not this time" / "I still have some" since the
    last shop (those last until the shopper shops again). The model also reads these as
    adjustments to the cadence; holding here keeps a decision binding whatever the model says.
    """
    never: list[tuple[int, int]] = []
    held: list[tuple[int, int]] = []
    rows = ItemAction.objects.filter(user_id__in=user_ids).values_list(
        "user_id", "product_id", "action", "at", "until"
    )
    for user_id, product_id, action, at, until in rows:
        if action == ItemAction.Action.NEVER:
            never.append((user_id, product_id))
        elif action == ItemAction.Action.SNOOZE:
            if until is not None and until > as_of:
                held.append((user_id, product_id))
        elif action in (ItemAction.Action.NOT_THIS_TIME, ItemAction.Action.STILL_HAVE):
            shop = last_shop.get(user_id)
            if shop is None or at > shop:
                held.append((user_id, product_id))
    return _pairs(never), _pairs(held)


def _pairs(rows: list[tuple[int, int]] | pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user_id", "product_id"])
    return frame.astype("int64").drop_duplicates()


def _anti_join(frame: pd.DataFrame, pairs: pd.DataFrame, product: str = "product_id"):
    """Rows of `frame` whose (user_id, `product`) is not in `pairs`."""
    if frame.empty or pairs.empty:
        return frame
    key = pd.MultiIndex.from_arrays([frame["user_id"], frame[product]])
    blocked = pd.MultiIndex.from_arrays([pairs["user_id"], pairs["product_id"]])
    return frame[~key.isin(blocked)]


def _list_size(basket_size: float | None) -> int:
    if basket_size is None or pd.isna(basket_size) or basket_size <= 0:
        return MIN_LIST_ITEMS * 2
    return max(MIN_LIST_ITEMS, min(MAX_LIST_ITEMS, math.ceil(float(basket_size) * 1.25)))


def _local_dates(values: pd.Series, user_ids: pd.Series, tz_of: dict[int, str]) -> pd.Series:
    """UTC timestamps → the shopper's calendar date (objects: date or None)."""
    out = pd.Series([None] * len(values), index=values.index, dtype=object)
    stamps = pd.to_datetime(values, utc=True)
    zones = user_ids.map(tz_of)
    for zone in zones.dropna().unique():
        mask = (zones == zone) & stamps.notna()
        if mask.any():
            out[mask] = stamps[mask].dt.tz_convert(zone).dt.date
    return out


def _quantities(values: pd.Series) -> pd.Series:
    """Expected quantities as a shopper would pick them up: whole packs from 1 up, and
    one decimal below 1 (weighed goods); missing or non-positive reads as 1."""
    q = pd.to_numeric(values, errors="coerce").fillna(1.0)
    q = q.where(q < 1, np.floor(q + 0.5)).round(1)
    return q.where(q > 0, 1.0)


def refresh_forecasts(
    *,
    user_ids: Iterable[int],
    as_of: datetime | None = None,
    kind: str = ForecastRun.Kind.REFRESH,
    timings: dict[str, float] | None = None,
) -> ForecastRun:
    """Recompute forecasts and lists for `user_ids` (logins) as of `as_of`, in one batch.

    Idempotent: the same history, decisions and `as_of` give the same rows. Shoppers
    without the `predictions` grant are skipped. One history query and one `predict`
    call for the whole batch, and set-wise writes in one transaction, so a page sees
    either the old list or the new one. Returns the ForecastRun recorded for staff.
    `timings`, when given, receives seconds per phase (for `manage.py bench_forecasts`).
    """
    as_of = as_of or timezone.now()
    user_ids = list(user_ids)
    run = ForecastRun.objects.create(kind=kind, started_at=timezone.now())
    try:
        count, n_forecasts = _refresh(
            user_ids=user_ids, as_of=as_of, timings={} if timings is None else timings
        )
    except Exception as exc:
        run.errors = 1
        run.error_detail = f"{type(exc).__name__}: {exc}"
        run.finished_at = timezone.now()
        run.save(update_fields=["errors", "error_detail", "finished_at"])
        ShoppingList.objects.filter(
            user_id__in=user_ids, status=ShoppingList.Status.COMPUTING
        ).update(status=ShoppingList.Status.STALE, status_changed_at=timezone.now())
        raise
    # Lists left "updating" belong to shoppers skipped (no consent, no login): not fresh.
    ShoppingList.objects.filter(user_id__in=user_ids, status=ShoppingList.Status.COMPUTING).update(
        status=ShoppingList.Status.STALE, status_changed_at=timezone.now()
    )
    run.shoppers = count
    run.forecasts = n_forecasts
    run.finished_at = timezone.now()
    run.save(update_fields=["shoppers", "forecasts", "finished_at"])
    return run


def _refresh(*, user_ids: list[int], as_of: datetime, timings: dict[str, float]) -> tuple[int, int]:
    clock = _Clock(timings)
    allowed = allowed_user_ids(PREDICTIONS, user_ids)
    users = pd.DataFrame(
        list(
            User.objects.filter(pk__in=allowed, is_active=True, customer__isnull=False).values_list(
                "pk", "customer__pk", "time_zone"
            )
        ),
        columns=["user_id", "customer_id", "time_zone"],
    )
    if users.empty:
        return 0, 0
    clock.lap("consent")
    payload = current_payload(as_of=as_of)
    clock.lap("model")
    model, rules_api = _model_api()
    history = load_history(customer_ids=users["customer_id"].tolist(), before=as_of)
    clock.lap("history")
    user_customer = dict(zip(users["user_id"], users["customer_id"], strict=True))
    adjustments = adjustments_frame(user_customer=user_customer, as_of=as_of)
    stamp = pd.Timestamp(as_of)
    # The history holds exactly these shoppers, so their trips are predict_next_trip's.
    predictions, trips = model.predict_with_trips(
        history,
        stamp,
        payload["model"],
        customer_ids=sorted(user_customer.values()),
        adjustments=adjustments,
        top_k=FORECASTS_PER_SHOPPER,
    )
    clock.lap("predict")
    user_of = pd.Series(users["user_id"].to_numpy(), index=users["customer_id"].to_numpy())
    predictions = predictions.assign(user_id=predictions["customer_id"].map(user_of))
    predictions = predictions[predictions["user_id"].notna()].astype({"user_id": "int64"})
    trips = trips.assign(user_id=trips["customer_id"].map(user_of))
    users = users.merge(
        trips[["user_id", "next_trip_at", "typical_basket_size"]], on="user_id", how="left"
    )
    last = history.groupby("customer_id")["placed_at"].max()
    last_shop = {int(user_of[c]): t.to_pydatetime() for c, t in last.items() if c in user_of.index}
    result = _write(
        users=users,
        predictions=predictions,
        history=history,
        last_shop=last_shop,
        payload=payload,
        rules_api=rules_api,
        as_of=as_of,
        clock=clock,
    )
    clock.lap("write")
    return result


def _write(
    *,
    users: pd.DataFrame,
    predictions: pd.DataFrame,
    history: pd.DataFrame,
    last_shop: dict[int, datetime],
    payload: dict[str, Any],
    rules_api: Any,
    as_of: datetime,
    clock: _Clock,
) -> tuple[int, int]:
    with transaction.atomic():
        # Lock the logins: set_consent locks the same row, so a withdrawal either happens
        # before (and we see it below) or waits until this refresh has committed, when
        # its receiver deletes what we wrote. Either way nothing outlives the withdrawal.
        locked = list(
            User.objects.select_for_update()
            .filter(pk__in=users["user_id"].tolist())
            .values_list("pk", flat=True)
        )
        users = users[users["user_id"].isin(allowed_user_ids(PREDICTIONS, locked))]
        if users.empty:
            return 0, 0
        uids = users["user_id"].astype(int).tolist()
        tz_of = dict(zip(users["user_id"], users["time_zone"], strict=True))
        never, held = _active_holds(user_ids=uids, as_of=as_of, last_shop=last_shop)
        predictions = _anti_join(predictions[predictions["user_id"].isin(uids)], never)
        clock.lap("lock")

        n_forecasts = _write_forecasts(predictions=predictions, tz_of=tz_of, as_of=as_of)
        clock.lap("write_forecasts")

        lists = _lists_for(uids)
        list_of = {uid: sl.pk for uid, sl in lists.items()}
        items = pd.DataFrame(
            list(
                ListItem.objects.filter(shopping_list_id__in=list(list_of.values())).values_list(
                    "pk", "shopping_list_id", "product_id", "kind", "state"
                )
            ),
            columns=["pk", "list_id", "product_id", "kind", "state"],
        )
        user_of_list = {pk: uid for uid, pk in list_of.items()}
        items["user_id"] = items["list_id"].map(user_of_list)

        shops = _first_shops_after(history=history, users=users, lists=lists)
        snapshots = _score_last_lists(items=items, lists=lists, shops=shops)
        new_shop = items["user_id"].isin(list(shops))
        is_own = items["kind"] == ListItem.Kind.OWN
        is_open = items["state"] == ListItem.State.OPEN
        # After a shop the trip is over: ticked own items go, open ones stay, and the
        # model's items start afresh. Before it, every decision on a model item carries.
        drop_own = items[is_own & new_shop & ~is_open]
        kept_own = items[is_own & ~(new_shop & ~is_open)]
        decided = items[~is_own & ~new_shop & ~is_open & items["product_id"].notna()]
        decided = decided[["user_id", "product_id", "state"]].astype({"product_id": "int64"})
        kept_products = _pairs(
            kept_own.loc[kept_own["product_id"].notna(), ["user_id", "product_id"]]
        )
        blocked = pd.concat([never, held, kept_products], ignore_index=True)

        chosen = _choose_predicted(
            predictions=predictions, users=users, blocked=blocked, decided=decided, payload=payload
        )
        # Decided (ticked / not this time) model items stay until the next shop even when
        # today's forecast no longer lists them: the shopper already acted on them.
        carried = _anti_join(_anti_join(decided, chosen), never)
        chosen = chosen.merge(decided, on=["user_id", "product_id"], how="left")
        chosen["state"] = chosen["state"].fillna(ListItem.State.OPEN)
        carried = carried.assign(probability=np.nan, quantity=1.0, because_of=np.nan)
        on_list = pd.concat(
            [chosen[["user_id", "product_id"]], carried[["user_id", "product_id"]], kept_products],
            ignore_index=True,
        )
        together = _together(
            rules=payload.get("rules") if rules_api is not None else None,
            on_list=on_list,
            exclude=pd.concat([on_list, never, held], ignore_index=True),
        )
        new_items = pd.concat(
            [
                chosen.assign(kind=ListItem.Kind.PREDICTED, because_of=np.nan),
                carried.assign(kind=ListItem.Kind.PREDICTED),
                together.assign(
                    kind=ListItem.Kind.TOGETHER, state=ListItem.State.OPEN, quantity=1.0
                ),
            ],
            ignore_index=True,
        )
        clock.lap("build_lists")

        ListItem.objects.filter(pk__in=drop_own["pk"].tolist()).delete()
        ListItem.objects.filter(
            shopping_list_id__in=list(list_of.values()),
            kind__in=[ListItem.Kind.PREDICTED, ListItem.Kind.TOGETHER],
        ).delete()
        _insert_items(new_items=new_items, list_of=list_of)
        ListSnapshot.objects.bulk_create(snapshots)
        _update_lists(users=users, lists=lists, as_of=as_of)
    return len(uids), n_forecasts


FORECAST_COLUMNS = [
    "user_id",
    "product_id",
    "probability",
    "expected_quantity",
    "expected_date",
    "n_purchases",
    "first_bought",
    "last_bought",
    "interval_days",
    "source",
    "rank",
    "computed_at",
]


def _write_forecasts(*, predictions: pd.DataFrame, tz_of: dict[int, str], as_of: datetime) -> int:
    """Upsert on (user, product), then drop the rows this refresh did not produce."""
    p = predictions
    frame = pd.DataFrame(
        {
            "user_id": p["user_id"].astype(int),
            "product_id": p["product_id"].astype(int),
            "probability": p["probability"].astype(float),
            "expected_quantity": _quantities(p["expected_quantity"]),
            "expected_date": _local_dates(p["expected_date"], p["user_id"], tz_of),
            "n_purchases": p["n_purchases"].fillna(0).astype(int),
            "first_bought": _local_dates(p["first_bought"], p["user_id"], tz_of),
            "last_bought": _local_dates(p["last_bought"], p["user_id"], tz_of),
            "interval_days": p["interval_days"].astype(float),
            "source": p["source"].astype(str),
            "rank": p["rank"].astype(int),
        }
    )
    frame["computed_at"] = as_of
    rows = _records(frame[FORECAST_COLUMNS])
    if connection.vendor == "postgresql" and len(rows) > 2000:
        _upsert_forecasts_postgres(rows)
    else:
        Forecast.objects.bulk_create(
            [
                Forecast(
                    **_decimal_quantity(
                        dict(zip(FORECAST_COLUMNS, r, strict=True)), "expected_quantity"
                    )
                )
                for r in rows
            ],
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["user", "product"],
            update_fields=FORECAST_COLUMNS[2:],
        )
    users = sorted(tz_of)
    Forecast.objects.filter(user_id__in=users).exclude(computed_at=as_of).delete()
    return len(rows)


def _records(frame: pd.DataFrame) -> list[tuple]:
    """Plain Python tuples with None for missing values, ready for COPY or the ORM."""
    clean = frame.astype(object).where(frame.notna(), None)
    return list(clean.itertuples(index=False, name=None))


def _decimal_quantity(values: dict[str, Any], key: str) -> dict[str, Any]:
    values[key] = Decimal(str(values[key]))
    return values


def _upsert_forecasts_postgres(rows: list[tuple]) -> None:
    """COPY into a staging table, then one INSERT ... ON CONFLICT on (user, product)."""
    table = Forecast._meta.db_table
    columns = ", ".join(f'"{c}"' for c in FORECAST_COLUMNS)
    updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in FORECAST_COLUMNS[2:])
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE forecast_stage ON COMMIT DROP AS "  # noqa: S608  # nosec B608
            f"SELECT {columns} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY forecast_stage ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM forecast_stage "  # noqa: S608  # nosec B608
            f"ON CONFLICT (user_id, product_id) DO UPDATE SET {updates}"
        )
        cursor.execute("DROP TABLE forecast_stage")


ITEM_COLUMNS = [
    "shopping_list_id",
    "product_id",
    "free_text",
    "kind",
    "quantity",
    "department_id",
    "state",
    "added_by",
    "probability",
    "because_of_id",
    "created_at",
]


def _insert_items(*, new_items: pd.DataFrame, list_of: dict[int, int]) -> None:
    if new_items.empty:
        return
    departments = dict(
        Product.objects.filter(pk__in=new_items["product_id"].unique().tolist())
        .exclude(category__isnull=True)
        .values_list("pk", "category__department_id")
    )
    frame = pd.DataFrame(
        {
            "shopping_list_id": new_items["user_id"].map(list_of).astype(int),
            "product_id": new_items["product_id"].astype(int),
            "free_text": "",
            "kind": new_items["kind"],
            "quantity": _quantities(new_items["quantity"]),
            "department_id": new_items["product_id"].map(departments).astype("Int64"),
            "state": new_items["state"],
            "added_by": ListItem.AddedBy.MODEL,
            "probability": new_items["probability"].astype(float),
            "because_of_id": new_items["because_of"].astype("Int64"),
            "created_at": timezone.now(),
        }
    )
    rows = _records(frame[ITEM_COLUMNS])
    if connection.vendor == "postgresql" and len(rows) > 2000:
        columns = ", ".join(f'"{c}"' for c in ITEM_COLUMNS)
        with connection.cursor() as cursor:
            table = ListItem._meta.db_table
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    else:
        ListItem.objects.bulk_create(
            [
                ListItem(**_decimal_quantity(dict(zip(ITEM_COLUMNS, r, strict=True)), "quantity"))
                for r in rows
            ],
            batch_size=2000,
        )


def _update_lists(*, users: pd.DataFrame, lists: dict[int, ShoppingList], as_of: datetime) -> None:
    """Trip date, basket size, computed_at = as_of and status fresh, for every list at once."""
    tz_of = dict(zip(users["user_id"], users["time_zone"], strict=True))
    trip_dates = _local_dates(users["next_trip_at"], users["user_id"], tz_of)
    now = timezone.now()
    rows = []
    for uid, trip, size in zip(
        users["user_id"], trip_dates, users["typical_basket_size"], strict=True
    ):
        today = as_of.astimezone(zoneinfo.ZoneInfo(tz_of[uid])).date()
        basket = None if size is None or pd.isna(size) else int(round(float(size)))
        rows.append((lists[uid].pk, max(trip or today, today), basket))
    if connection.vendor == "postgresql":
        table = ShoppingList._meta.db_table
        with connection.cursor() as cursor:
            for start in range(0, len(rows), 2000):
                chunk = rows[start : start + 2000]
                values = ", ".join(["(%s, %s::date, %s::integer)"] * len(chunk))
                cursor.execute(
                    f"UPDATE {table} AS l SET for_trip_on = v.trip, "  # noqa: S608  # nosec B608
                    f"typical_basket_size = v.size, computed_at = %s, status = %s, "
                    f"status_changed_at = %s FROM (VALUES {values}) AS v(id, trip, size) "
                    f"WHERE l.id = v.id",
                    [as_of, ShoppingList.Status.FRESH, now, *[x for r in chunk for x in r]],
                )
        return
    by_pk = {sl.pk: sl for sl in lists.values()}
    for pk, trip, basket in rows:
        sl = by_pk[pk]
        sl.for_trip_on, sl.typical_basket_size = trip, basket
        sl.computed_at, sl.status, sl.status_changed_at = as_of, ShoppingList.Status.FRESH, now
    ShoppingList.objects.bulk_update(
        list(by_pk.values()),
        ["for_trip_on", "typical_basket_size", "computed_at", "status", "status_changed_at"],
        batch_size=500,
    )


def _lists_for(user_ids: list[int]) -> dict[int, ShoppingList]:
    ShoppingList.objects.bulk_create(
        [ShoppingList(user_id=uid) for uid in user_ids], ignore_conflicts=True, batch_size=1000
    )
    return {
        sl.user_id: sl
        for sl in ShoppingList.objects.select_for_update()
        .filter(user_id__in=user_ids)
        .only("pk", "user_id", "computed_at")
    }


def _first_shops_after(
    *, history: pd.DataFrame, users: pd.DataFrame, lists: dict[int, ShoppingList]
) -> dict[int, tuple[datetime, set[int]]]:
    """For each list made before a shop: that first shop's time and products."""
    customer_of = dict(zip(users["user_id"], users["customer_id"], strict=True))
    made = {
        customer_of[uid]: sl.computed_at
        for uid, sl in lists.items()
        if sl.computed_at is not None and uid in customer_of
    }
    if not made or history.empty:
        return {}
    made_at = pd.to_datetime(pd.Series(made, name="made_at"), utc=True)
    frame = history[["customer_id", "order_id", "product_id", "placed_at"]].join(
        made_at, on="customer_id", how="inner"
    )
    after = frame[frame["placed_at"] > frame["made_at"]]
    if after.empty:
        return {}
    first = after.sort_values(["placed_at", "order_id"]).drop_duplicates("customer_id")
    bought = after[after["order_id"].isin(first["order_id"])].groupby("customer_id")["product_id"]
    products = bought.agg(lambda ids: {int(i) for i in ids})
    user_of = {c: u for u, c in customer_of.items()}
    return {
        user_of[int(row.customer_id)]: (
            row.placed_at.to_pydatetime(),
            products[int(row.customer_id)],
        )
        for row in first.itertuples(index=False)
    }


def _score_last_lists(
    *,
    items: pd.DataFrame,
    lists: dict[int, ShoppingList],
    shops: dict[int, tuple[datetime, set[int]]],
) -> list[ListSnapshot]:
    """The lists as they stood before a shop (minus "not this time"), scored against it."""
    snapshots = []
    for uid, (shop_at, bought) in shops.items():
        mine = items[
            (items["user_id"] == uid)
            & items["product_id"].notna()
            & (items["state"] != ListItem.State.SKIPPED)
            & (items["kind"] != ListItem.Kind.TOGETHER)
        ]
        products = sorted({int(p) for p in mine["product_id"]})
        if not products:
            continue
        snapshots.append(
            ListSnapshot(
                user_id=uid,
                list_computed_at=lists[uid].computed_at,
                product_ids=products,
                shop_at=shop_at,
                n_items=len(products),
                n_bought=len(set(products) & bought),
            )
        )
    return snapshots


def _choose_predicted(
    *,
    predictions: pd.DataFrame,
    users: pd.DataFrame,
    blocked: pd.DataFrame,
    decided: pd.DataFrame,
    payload: dict[str, Any],
) -> pd.DataFrame:
    """The model's items for this trip, for every shopper at once.

    Personal forecasts, best first: every "likely" one (up to MAX_LIST_ITEMS), and "maybe"
    ones (at or above MAYBE_CONFIDENCE) while the list is under about one and a quarter
    typical baskets; items the shopper already decided on always stay. A shopper with fewer than
    MIN_PERSONAL_ITEMS gets the model's "popular" rows for new shoppers, labelled as such;
    one with no rows at all gets the fitted popular list.
    """
    columns = ["user_id", "product_id", "probability", "quantity"]
    size = pd.Series(
        [_list_size(s) for s in users["typical_basket_size"]], index=users["user_id"].to_numpy()
    )
    p = _anti_join(predictions, blocked)
    personal = p[(p["source"] == "personal") & (p["probability"] >= MAYBE_CONFIDENCE)]
    personal = personal.sort_values(["user_id", "rank"], kind="mergesort")
    position = personal.groupby("user_id").cumcount()
    is_decided = pd.MultiIndex.from_arrays([personal["user_id"], personal["product_id"]]).isin(
        pd.MultiIndex.from_arrays([decided["user_id"], decided["product_id"]])
    )
    # Everything at least "likely" is listed (up to MAX_LIST_ITEMS); "maybe" items only
    # fill the list up to about one and a quarter typical baskets.
    likely = personal["probability"] >= LIKELY_CONFIDENCE
    within = (position < personal["user_id"].map(size)) | (likely & (position < MAX_LIST_ITEMS))
    personal = personal[within | is_decided]
    personal = personal.assign(quantity=personal["expected_quantity"])[columns]

    counts = personal.groupby("user_id").size().reindex(size.index, fill_value=0)
    needy = counts[counts < MIN_PERSONAL_ITEMS].index
    popular = p[(p["source"] == "popular") & p["user_id"].isin(needy)]
    popular = _anti_join(popular, personal).sort_values(["user_id", "rank"], kind="mergesort")
    popular = popular[popular.groupby("user_id").cumcount() < POPULAR_FILL]
    popular = popular.assign(quantity=1.0)[columns]

    fitted = payload.get("popular")
    with_rows = set(predictions["user_id"].unique().tolist())
    no_rows = [u for u in needy if u not in with_rows]
    fallback = pd.DataFrame(columns=columns)
    if no_rows and fitted is not None and len(fitted):
        # No history at all (not even a row from the model): the fitted popular list.
        top = fitted["product_id"].astype("int64").to_numpy()
        fallback = pd.DataFrame(
            {
                "user_id": np.repeat(np.array(no_rows, dtype="int64"), len(top)),
                "product_id": np.tile(top, len(no_rows)),
                "probability": np.nan,
                "quantity": 1.0,
            }
        )
        fallback = _anti_join(fallback, blocked)
        fallback = fallback[fallback.groupby("user_id").cumcount() < POPULAR_FILL]
    frames = [f for f in (personal, popular, fallback) if not f.empty]
    if not frames:
        return pd.DataFrame(columns=columns).astype({"user_id": "int64", "product_id": "int64"})
    return pd.concat(frames, ignore_index=True).astype({"user_id": "int64", "product_id": "int64"})


def _together(
    *, rules: pd.DataFrame | None, on_list: pd.DataFrame, exclude: pd.DataFrame
) -> pd.DataFrame:
    """ "Often bought together" for every list at once: the batch form of rules.complete_list.

    For each list, the rules whose antecedent is on it and whose consequent is not (nor
    never, nor held); each consequent once, by its most confident rule; the best few.
    """
    columns = ["user_id", "product_id", "probability", "because_of"]
    if rules is None or not len(rules) or on_list.empty:
        return pd.DataFrame(columns=columns)
    r = rules[["antecedent", "consequent", "confidence", "lift"]].astype(
        {"antecedent": "int64", "consequent": "int64"}
    )
    cand = on_list.merge(r, left_on="product_id", right_on="antecedent")
    cand = _anti_join(cand, exclude, product="consequent")
    # The same order as rules.complete_list: confidence, then lift, then the antecedent.
    cand = cand.sort_values(
        ["user_id", "confidence", "lift", "antecedent"],
        ascending=[True, False, False, True],
        kind="mergesort",
    )
    cand = cand.drop_duplicates(["user_id", "consequent"])
    cand = cand[cand.groupby("user_id").cumcount() < TOGETHER_ITEMS]
    return pd.DataFrame(
        {
            "user_id": cand["user_id"].astype("int64"),
            "product_id": cand["consequent"].astype("int64"),
            "probability": cand["confidence"].astype(float),
            "because_of": cand["antecedent"].astype("int64"),
        }
    )


# --------------------------------------------------------------------------- status


def mark_computing(*, user_ids: Iterable[int]) -> None:
    """Show "updating" on these shoppers' lists until the refresh finishes."""
    ids = list(user_ids)
    if not ids:
        return
    ShoppingList.objects.bulk_create(
        [ShoppingList(user_id=uid) for uid in ids], ignore_conflicts=True
    )
    ShoppingList.objects.filter(user_id__in=ids).update(
        status=ShoppingList.Status.COMPUTING, status_changed_at=timezone.now()
    )


def request_refresh(*, user_ids: Iterable[int]) -> list[int]:
    """Mark consenting shoppers' lists as updating and queue their refresh after commit."""
    from insights.forecasts.tasks import refresh_forecasts_task

    allowed = sorted(allowed_user_ids(PREDICTIONS, list(user_ids)))
    if allowed:
        requested_at = timezone.now()
        mark_computing(user_ids=allowed)
        transaction.on_commit(
            lambda: refresh_forecasts_task.delay(
                allowed, ForecastRun.Kind.REFRESH, requested_at.isoformat()
            )
        )
    return allowed


def stale_user_ids(*, now: datetime | None = None) -> list[int]:
    """Consenting shoppers whose forecasts predate their latest order or are over a day old."""
    from django.db.models import Max, OuterRef, Subquery

    from insights.purchases.models import Order

    now = now or timezone.now()
    allowed = allowed_user_ids(PREDICTIONS)
    latest_order = (
        Order.objects.filter(customer__user=OuterRef("user"))
        .order_by()
        .values("customer")
        .annotate(m=Max("placed_at"))
        .values("m")
    )
    fresh = ShoppingList.objects.filter(
        user_id__in=allowed, computed_at__gte=now - STALE_AFTER
    ).annotate(latest=Subquery(latest_order))
    fresh_ids = {
        uid
        for uid, computed, latest in fresh.values_list("user_id", "computed_at", "latest")
        if latest is None or latest <= computed
    }
    with_customer = set(
        Customer.objects.filter(user_id__in=allowed).values_list("user_id", flat=True)
    )
    return sorted(with_customer - fresh_ids)


# --------------------------------------------------------------------------- decisions


class ActionError(ValueError):
    """An action that does not apply to this item (a clear message for the shopper)."""


LIST_ACTIONS = ("tick", "untick", "not_this_time", "snooze", "still_have", "never", "add", "remove")


@transaction.atomic
def apply_item_action(
    *, user: User, item: ListItem, action: str, days: int | None = None, now: datetime | None = None
) -> ListItem | None:
    """Apply one shopper decision to a list item and log it for the next forecast.

    `item` must already be known to belong to `user` (views fetch it with
    `get_object_or_404(ListItem, pk=..., shopping_list__user=user)`). Returns the item,
    or None when it left the list. Actions that only make sense for a product (snooze,
    still have, never) raise ActionError on a free-text item.
    """
    now = now or timezone.now()
    if action not in LIST_ACTIONS:
        raise ActionError(_("Unknown action %(action)s.") % {"action": action})
    product_id = item.product_id
    needs_product = action in ("not_this_time", "snooze", "still_have", "never")
    if needs_product and product_id is None:
        raise ActionError(_("This only works for products, not typed items."))

    def log(kind: str, until: datetime | None = None) -> None:
        if product_id is not None:
            ItemAction.objects.create(
                user=user, product_id=product_id, action=kind, at=now, until=until
            )

    if action == "tick":
        item.state = ListItem.State.TICKED
        item.save(update_fields=["state"])
        log(ItemAction.Action.TICKED)
        return item
    if action == "untick":
        item.state = ListItem.State.OPEN
        item.save(update_fields=["state"])
        return item
    if action == "not_this_time":
        item.state = ListItem.State.SKIPPED
        item.save(update_fields=["state"])
        log(ItemAction.Action.NOT_THIS_TIME)
        return item
    if action == "add":
        if item.kind != ListItem.Kind.TOGETHER:
            raise ActionError(_("Only a suggestion can be added."))
        item.kind = ListItem.Kind.OWN
        item.added_by = ListItem.AddedBy.SHOPPER
        item.save(update_fields=["kind", "added_by"])
        return item
    if action == "snooze":
        if days is None or not 1 <= days <= 365:
            raise ActionError(_("Snooze for between 1 and 365 days."))
        log(ItemAction.Action.SNOOZE, until=now + timedelta(days=days))
    elif action == "still_have":
        log(ItemAction.Action.STILL_HAVE)
    elif action == "never":
        log(ItemAction.Action.NEVER)
        Forecast.objects.filter(user=user, product_id=product_id).delete()
    elif action == "remove" and item.kind != ListItem.Kind.OWN:
        raise ActionError(_("Only your own items can be removed; use another action."))
    item.delete()
    return None


@transaction.atomic
def add_own_item(
    *,
    user: User,
    product: Product | None = None,
    free_text: str = "",
    quantity: Decimal = Decimal("1"),
) -> ListItem:
    """Put something on the shopper's list; a product already there becomes theirs."""
    free_text = free_text.strip()
    if product is None and not free_text:
        raise ActionError(_("Choose a product or type what you need."))
    if quantity <= 0:
        raise ActionError(_("The quantity must be more than zero."))
    shopping_list, _created = ShoppingList.objects.get_or_create(user=user)
    department_id = None
    if product is not None:
        department_id = (
            Product.objects.filter(pk=product.pk)
            .values_list("category__department_id", flat=True)
            .first()
        )
        existing = ListItem.objects.filter(shopping_list=shopping_list, product=product).first()
        if existing is not None:
            existing.kind = ListItem.Kind.OWN
            existing.added_by = ListItem.AddedBy.SHOPPER
            existing.state = ListItem.State.OPEN
            existing.quantity = quantity
            existing.save(update_fields=["kind", "added_by", "state", "quantity"])
            return existing
    return ListItem.objects.create(
        shopping_list=shopping_list,
        product=product,
        free_text="" if product is not None else free_text[:200],
        kind=ListItem.Kind.OWN,
        quantity=quantity,
        department_id=department_id,
        added_by=ListItem.AddedBy.SHOPPER,
    )


@transaction.atomic
def delete_predictions(*, user: User) -> None:
    """Withdrawal of `predictions`: forecasts and the model's suggestions go; own items stay."""
    Forecast.objects.filter(user=user).delete()
    ListItem.objects.filter(shopping_list__user=user).exclude(kind=ListItem.Kind.OWN).delete()
    ListSnapshot.objects.filter(user=user).delete()
    ItemAction.objects.filter(user=user).delete()
    ShoppingList.objects.filter(user=user).update(
        for_trip_on=None,
        typical_basket_size=None,
        computed_at=None,
        status=ShoppingList.Status.STALE,
        status_changed_at=timezone.now(),
    )


@transaction.atomic
def forget_contributor(*, user: User) -> int:
    """Withdrawal of `model_improvement`: the fitted models that learnt from `user` go.

    A fitted model holds aggregates of its contributors' histories (coefficients, priors,
    the popular list, the bought-together rules): data derived for the purpose, used for
    other shoppers' lists. Any model fitted since the shopper first granted the purpose may
    hold theirs, so those are deleted in the withdrawing transaction and a refit without
    them is queued on commit; until it lands a refresh uses an older model (fitted before
    the grant) or fits one itself. Returns the number of models deleted.
    """
    from insights.forecasts.tasks import fit_forecast_model_task

    first_grant = ConsentEvent.objects.filter(
        user=user, purpose=MODEL_IMPROVEMENT, granted=True
    ).aggregate(first=Min("at"))["first"]
    if first_grant is None:
        return 0
    deleted, _ = ForecastModel.objects.filter(created_at__gte=first_grant).delete()
    _payload_cache.clear()
    if deleted:
        transaction.on_commit(fit_forecast_model_task.delay)
    return deleted


# --------------------------------------------------------------------------- export

EXPORT_COLUMNS = [
    "source",
    "external_id",
    "rank",
    "sku",
    "probability",
    "expected_date",
    "prediction_source",
]


def export_customer_ids(*, include_unlinked: bool) -> tuple[set[int], set[int]]:
    """(customers to predict for, customers whose history may train the shared model).

    Predicted: customers whose login granted `predictions`; with `include_unlinked`, also
    the store's customers who never created a Kvitto login (the store's own data, which
    our consent switches do not cover; the store decides). Training: `model_improvement`
    contributors, plus the unlinked ones under the same flag.
    """
    from accounts.models import Customer as _Customer

    predicted = set(
        _Customer.objects.filter(user_id__in=allowed_user_ids(PREDICTIONS)).values_list(
            "pk", flat=True
        )
    )
    contributors = contributor_customer_ids()
    if include_unlinked:
        unlinked = set(_Customer.objects.filter(user__isnull=True).values_list("pk", flat=True))
        predicted |= unlinked
        contributors |= unlinked
    return predicted, contributors


def export_predictions(
    *, as_of: datetime, top_k: int = 20, include_unlinked: bool = False
) -> pd.DataFrame:
    """Predictions as the store's systems read them, from orders placed before `as_of` only.

    A model is fitted for this `as_of` (the stored nightly one may have seen later orders),
    so an evaluation replaying an old cutoff never leaks the future. One row per
    (customer, rank); columns EXPORT_COLUMNS (documented in docs/forecasting-export.md).
    """
    from accounts.models import CustomerIdentifier

    model, _rules = _model_api()
    predicted, contributors = export_customer_ids(include_unlinked=include_unlinked)
    stamp = pd.Timestamp(as_of)
    history = load_history(customer_ids=predicted | contributors, before=as_of)
    fitted = model.fit_model(history, stamp, train_customer_ids=sorted(contributors))
    users = dict(
        Customer.objects.filter(pk__in=predicted, user__isnull=False).values_list("pk", "user_id")
    )
    adjustments = adjustments_frame(user_customer={u: c for c, u in users.items()}, as_of=as_of)
    predictions = model.predict(
        history,
        stamp,
        fitted,
        customer_ids=sorted(predicted),
        adjustments=adjustments,
        top_k=top_k,
    )
    if predictions.empty:
        return pd.DataFrame(columns=EXPORT_COLUMNS)
    # The identifier the store created the customer with: the first one stored.
    identifiers: dict[int, tuple[str, str]] = {}
    for customer_id, kind, value in (
        CustomerIdentifier.objects.filter(customer_id__in=predicted)
        .order_by("customer_id", "pk")
        .values_list("customer_id", "kind", "value")
    ):
        identifiers.setdefault(customer_id, (kind, value))
    skus = dict(
        Product.objects.filter(pk__in=predictions["product_id"].unique().tolist()).values_list(
            "pk", "sku"
        )
    )
    ids = predictions["customer_id"].astype(int)
    out = pd.DataFrame(
        {
            "source": [identifiers.get(c, ("kvitto", str(c)))[0] for c in ids],
            "external_id": [identifiers.get(c, ("kvitto", str(c)))[1] for c in ids],
            "rank": predictions["rank"].astype(int).to_numpy(),
            "sku": predictions["product_id"].map(skus).to_numpy(),
            "probability": predictions["probability"].round(6).to_numpy(),
            "expected_date": pd.to_datetime(predictions["expected_date"], utc=True)
            .dt.strftime("%Y-%m-%d")
            .fillna("")
            .to_numpy(),
            "prediction_source": predictions["source"].to_numpy(),
        }
    )
    return out.sort_values(["source", "external_id", "rank"], kind="mergesort").reset_index(
        drop=True
    )
