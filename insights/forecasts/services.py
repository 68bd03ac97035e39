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

import logging
import math
import pickle
import time
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from django.db import connection, transaction
from django.db.models import F, FloatField, Q
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.consent import allowed_user_ids
from accounts.models import Customer, User
from accounts.purposes import MODEL_IMPROVEMENT, PREDICTIONS
from insights.catalog.models import Product
from insights.forecasts.models import (
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

    Read with a plain cursor rather than through model instances: a full refresh reads
    millions of lines and per-row ORM conversion would dominate its time.
    """
    if customer_ids is not None:
        customer_ids = list(customer_ids)
    rows: list[tuple] = []
    if customer_ids is None or customer_ids:
        query = history_queryset(customer_ids=customer_ids, before=before).query
        sql, params = query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    frame["placed_at"] = pd.to_datetime(frame["placed_at"], utc=True, format="ISO8601")
    for column in ("customer_id", "order_id", "product_id"):
        frame[column] = frame[column].astype("int64")
    frame["quantity"] = frame["quantity"].astype("float64")
    for column in ("category_id", "department_id"):
        frame[column] = frame[column].astype("Int64")
    return frame


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
    from insights.forecasts import model, rules

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
    baskets = own[["order_id", "product_id"]].drop_duplicates()
    assoc = rules.association_rules(
        baskets,
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
    """The model's summary as plain JSON (numpy numbers and dates become floats and text)."""
    import json

    return json.loads(json.dumps(value, default=str))


def current_payload(*, as_of: datetime) -> dict[str, Any]:
    """The latest fitted model (unpickled once per process), fitting one if none exists."""
    latest_pk = ForecastModel.objects.order_by("-created_at", "-id").values_list("pk", flat=True)
    pk = latest_pk.first()
    if pk is None:
        pk = fit_forecast_model(as_of=as_of).pk
    if pk not in _payload_cache:
        blob = ForecastModel.objects.filter(pk=pk).values_list("payload", flat=True).get()
        _payload_cache.clear()
        _payload_cache[pk] = pickle.loads(bytes(blob))  # noqa: S301  (our own rows)
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


@dataclass
class _Shopper:
    user_id: int
    customer_id: int
    tz: zoneinfo.ZoneInfo
    forecasts: pd.DataFrame = field(default_factory=pd.DataFrame)
    next_trip_at: datetime | None = None
    basket_size: int | None = None


def _active_holds(
    *, user_ids: list[int], as_of: datetime, last_shop: dict[int, datetime]
) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """Per shopper: products never to suggest, and products held off this list.

    Held: snoozed until a later date, or "not this time" / "I still have some" since the
    last shop (those last until the shopper shops again). The model also reads these as
    adjustments to the cadence; holding here keeps a decision binding whatever the model says.
    """
    never: dict[int, set[int]] = defaultdict(set)
    held: dict[int, set[int]] = defaultdict(set)
    rows = ItemAction.objects.filter(user_id__in=user_ids).values_list(
        "user_id", "product_id", "action", "at", "until"
    )
    for user_id, product_id, action, at, until in rows:
        if action == ItemAction.Action.NEVER:
            never[user_id].add(product_id)
        elif action == ItemAction.Action.SNOOZE:
            if until is not None and until > as_of:
                held[user_id].add(product_id)
        elif action in (ItemAction.Action.NOT_THIS_TIME, ItemAction.Action.STILL_HAVE):
            shop = last_shop.get(user_id)
            if shop is None or at > shop:
                held[user_id].add(product_id)
    return never, held


def _list_size(basket_size: int | None) -> int:
    if not basket_size:
        return MIN_LIST_ITEMS * 2
    return max(MIN_LIST_ITEMS, min(MAX_LIST_ITEMS, math.ceil(basket_size * 1.25)))


def _local_date(moment: datetime | pd.Timestamp | None, tz: zoneinfo.ZoneInfo) -> date | None:
    if moment is None or pd.isna(moment):
        return None
    return pd.Timestamp(moment).tz_convert(tz).date()


def _quantity(value: Any) -> Decimal:
    if value is None or pd.isna(value) or value <= 0:
        return Decimal("1")
    return Decimal(str(round(float(value), 1))).normalize() or Decimal("1")


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
    call for the whole batch; writes happen in one transaction, so a page sees either the
    old list or the new one. Returns the ForecastRun recorded for staff. `timings`, when
    given, receives seconds per phase (for `manage.py bench_forecasts`).
    """
    as_of = as_of or timezone.now()
    run = ForecastRun.objects.create(kind=kind, started_at=timezone.now())
    try:
        count, n_forecasts = _refresh(
            user_ids=list(user_ids), as_of=as_of, timings={} if timings is None else timings
        )
    except Exception as exc:
        run.errors = 1
        run.error_detail = f"{type(exc).__name__}: {exc}"
        run.finished_at = timezone.now()
        run.save(update_fields=["errors", "error_detail", "finished_at"])
        ShoppingList.objects.filter(
            user_id__in=list(user_ids), status=ShoppingList.Status.COMPUTING
        ).update(status=ShoppingList.Status.STALE, status_changed_at=timezone.now())
        raise
    run.shoppers = count
    run.forecasts = n_forecasts
    run.finished_at = timezone.now()
    run.save(update_fields=["shoppers", "forecasts", "finished_at"])
    return run


def _refresh(*, user_ids: list[int], as_of: datetime, timings: dict[str, float]) -> tuple[int, int]:
    clock = _Clock(timings)
    allowed = allowed_user_ids(PREDICTIONS, user_ids)
    users = list(
        User.objects.filter(pk__in=allowed, is_active=True, customer__isnull=False).values_list(
            "pk", "customer__pk", "time_zone"
        )
    )
    if not users:
        return 0, 0
    shoppers = {
        uid: _Shopper(user_id=uid, customer_id=cid, tz=zoneinfo.ZoneInfo(tz))
        for uid, cid, tz in users
    }
    by_customer = {s.customer_id: s for s in shoppers.values()}
    user_customer = {s.user_id: s.customer_id for s in shoppers.values()}

    clock.lap("consent")
    payload = current_payload(as_of=as_of)
    clock.lap("model")
    model, rules = _model_api()
    history = load_history(customer_ids=by_customer, before=as_of)
    clock.lap("history")
    adjustments = adjustments_frame(user_customer=user_customer, as_of=as_of)
    stamp = pd.Timestamp(as_of)
    predictions = model.predict(
        history,
        stamp,
        payload["model"],
        customer_ids=sorted(by_customer),
        adjustments=adjustments,
        top_k=FORECASTS_PER_SHOPPER,
    )
    trips = model.predict_next_trip(history, stamp)
    for row in trips.itertuples(index=False):
        shopper = by_customer.get(int(row.customer_id))
        if shopper is not None:
            shopper.next_trip_at = row.next_trip_at
            size = row.typical_basket_size
            shopper.basket_size = None if pd.isna(size) else int(round(float(size)))
    for customer_id, group in predictions.groupby("customer_id", sort=False):
        shopper = by_customer.get(int(customer_id))
        if shopper is not None:
            shopper.forecasts = group.sort_values("rank")

    clock.lap("predict")
    last_shop_by_customer = history.groupby("customer_id")["placed_at"].max().to_dict()
    last_shop = {
        s.user_id: last_shop_by_customer[s.customer_id].to_pydatetime()
        for s in shoppers.values()
        if s.customer_id in last_shop_by_customer
    }
    result = _write(
        shoppers=shoppers,
        as_of=as_of,
        history=history,
        last_shop=last_shop,
        payload=payload,
        rules_api=rules,
        clock=clock,
    )
    clock.lap("write")
    return result


def _write(
    *,
    shoppers: dict[int, _Shopper],
    as_of: datetime,
    history: pd.DataFrame,
    last_shop: dict[int, datetime],
    payload: dict[str, Any],
    rules_api: Any,
    clock: _Clock,
) -> tuple[int, int]:
    with transaction.atomic():
        # Lock the logins: set_consent locks the same row, so a withdrawal either happens
        # before (and we see it below) or waits until this refresh has committed, when
        # its receiver deletes what we wrote. Either way nothing outlives the withdrawal.
        locked = list(
            User.objects.select_for_update()
            .filter(pk__in=list(shoppers))
            .values_list("pk", flat=True)
        )
        still_allowed = allowed_user_ids(PREDICTIONS, locked)
        shoppers = {uid: s for uid, s in shoppers.items() if uid in still_allowed}
        if not shoppers:
            return 0, 0
        uids = list(shoppers)
        never, held = _active_holds(user_ids=uids, as_of=as_of, last_shop=last_shop)

        clock.lap("lock")
        n_forecasts = _write_forecasts(shoppers=shoppers, as_of=as_of, never=never)
        clock.lap("write_forecasts")
        lists = _lists_for(uids)
        items_by_list: dict[int, list[ListItem]] = defaultdict(list)
        for item in ListItem.objects.filter(shopping_list__in=list(lists.values())):
            items_by_list[item.shopping_list_id].append(item)

        first_shop_after = _first_shops_after(history=history, shoppers=shoppers, lists=lists)
        department_of = _departments(shoppers=shoppers, payload=payload)
        rules = payload.get("rules")
        popular = payload.get("popular")

        to_delete: list[int] = []
        to_create: list[ListItem] = []
        snapshots: list[ListSnapshot] = []
        for uid, shopper in shoppers.items():
            shopping_list = lists[uid]
            items = items_by_list[shopping_list.pk]
            shop = first_shop_after.get(uid)
            if shop is not None:
                shop_at, bought = shop
                snapshot = _score_last_list(shopping_list=shopping_list, items=items)
                if snapshot is not None:
                    snapshot.shop_at = shop_at
                    snapshot.n_bought = len(set(snapshot.product_ids) & bought)
                    snapshots.append(snapshot)
            keep, drop, decided = _sort_existing(items=items, new_shop=shop is not None)
            to_delete.extend(item.pk for item in drop)
            kept_products = {item.product_id for item in keep if item.product_id}
            blocked = never[uid] | held[uid] | kept_products
            chosen = _choose_predicted(
                shopper=shopper, blocked=blocked, decided=decided, popular=popular
            )
            for product_id, probability, quantity in chosen:
                to_create.append(
                    ListItem(
                        shopping_list=shopping_list,
                        product_id=product_id,
                        kind=ListItem.Kind.PREDICTED,
                        quantity=quantity,
                        department_id=department_of.get(product_id),
                        state=decided.get(product_id, ListItem.State.OPEN),
                        added_by=ListItem.AddedBy.MODEL,
                        probability=probability,
                    )
                )
            on_list = kept_products | {p for p, _, _ in chosen}
            # Decided (ticked / not this time) model items stay until the next shop even
            # when today's forecast no longer lists them: the shopper already acted on them.
            for product_id, state in decided.items():
                if product_id not in on_list and product_id not in never[uid]:
                    to_create.append(
                        ListItem(
                            shopping_list=shopping_list,
                            product_id=product_id,
                            kind=ListItem.Kind.PREDICTED,
                            quantity=Decimal("1"),
                            department_id=department_of.get(product_id),
                            state=state,
                            added_by=ListItem.AddedBy.MODEL,
                        )
                    )
                    on_list.add(product_id)
            if rules is not None and len(rules) and on_list:
                together = rules_api.complete_list(
                    rules,
                    sorted(on_list),
                    exclude=sorted(on_list | never[uid] | held[uid]),
                    top_n=TOGETHER_ITEMS,
                )
                for row in together.itertuples(index=False):
                    to_create.append(
                        ListItem(
                            shopping_list=shopping_list,
                            product_id=int(row.product_id),
                            kind=ListItem.Kind.TOGETHER,
                            quantity=Decimal("1"),
                            department_id=department_of.get(int(row.product_id)),
                            added_by=ListItem.AddedBy.MODEL,
                            probability=float(row.confidence),
                            because_of_id=int(row.because_of),
                        )
                    )
            shopping_list.for_trip_on = max(
                _local_date(shopper.next_trip_at, shopper.tz)
                or as_of.astimezone(shopper.tz).date(),
                as_of.astimezone(shopper.tz).date(),
            )
            shopping_list.typical_basket_size = shopper.basket_size
            shopping_list.computed_at = as_of
            shopping_list.status = ShoppingList.Status.FRESH
            shopping_list.status_changed_at = timezone.now()

        clock.lap("build_lists")
        ListItem.objects.filter(pk__in=to_delete).delete()
        ListItem.objects.filter(
            shopping_list__in=list(lists.values()),
            kind__in=[ListItem.Kind.PREDICTED, ListItem.Kind.TOGETHER],
        ).delete()
        ListItem.objects.bulk_create(to_create, batch_size=2000)
        ListSnapshot.objects.bulk_create(snapshots)
        ShoppingList.objects.bulk_update(
            list(lists.values()),
            ["for_trip_on", "typical_basket_size", "computed_at", "status", "status_changed_at"],
            batch_size=1000,
        )
    return len(shoppers), n_forecasts


def _write_forecasts(
    *, shoppers: dict[int, _Shopper], as_of: datetime, never: dict[int, set[int]]
) -> int:
    """Upsert on (user, product), then drop the rows this refresh did not produce."""
    rows: list[Forecast] = []
    for uid, shopper in shoppers.items():
        frame = shopper.forecasts
        if frame.empty:
            continue
        blocked = never[uid]
        for r in frame.itertuples(index=False):
            product_id = int(r.product_id)
            if product_id in blocked:
                continue
            rows.append(
                Forecast(
                    user_id=uid,
                    product_id=product_id,
                    probability=float(r.probability),
                    expected_quantity=_quantity(r.expected_quantity),
                    expected_date=_local_date(r.expected_date, shopper.tz),
                    n_purchases=int(r.n_purchases or 0),
                    first_bought=_local_date(r.first_bought, shopper.tz),
                    last_bought=_local_date(r.last_bought, shopper.tz),
                    interval_days=None if pd.isna(r.interval_days) else float(r.interval_days),
                    source=str(r.source),
                    rank=int(r.rank),
                    computed_at=as_of,
                )
            )
    Forecast.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["user", "product"],
        update_fields=[
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
        ],
    )
    Forecast.objects.filter(user_id__in=list(shoppers)).exclude(computed_at=as_of).delete()
    return len(rows)


def _lists_for(user_ids: list[int]) -> dict[int, ShoppingList]:
    ShoppingList.objects.bulk_create(
        [ShoppingList(user_id=uid) for uid in user_ids], ignore_conflicts=True, batch_size=1000
    )
    return {
        sl.user_id: sl
        for sl in ShoppingList.objects.select_for_update().filter(user_id__in=user_ids)
    }


def _first_shops_after(
    *, history: pd.DataFrame, shoppers: dict[int, _Shopper], lists: dict[int, ShoppingList]
) -> dict[int, tuple[datetime, set[int]]]:
    """For each list made before a shop: that first shop's time and products."""
    made = {
        s.customer_id: lists[uid].computed_at
        for uid, s in shoppers.items()
        if lists[uid].computed_at is not None
    }
    if not made or history.empty:
        return {}
    made_at = pd.Series(made, name="made_at")
    made_at = pd.to_datetime(made_at, utc=True)
    frame = history[["customer_id", "order_id", "product_id", "placed_at"]].join(
        made_at, on="customer_id", how="inner"
    )
    after = frame[frame["placed_at"] > frame["made_at"]]
    if after.empty:
        return {}
    first = after.sort_values(["placed_at", "order_id"]).drop_duplicates("customer_id")
    user_of = {s.customer_id: uid for uid, s in shoppers.items()}
    result: dict[int, tuple[datetime, set[int]]] = {}
    for row in first.itertuples(index=False):
        products = set(after.loc[after["order_id"] == row.order_id, "product_id"].astype(int))
        result[user_of[int(row.customer_id)]] = (row.placed_at.to_pydatetime(), products)
    return result


def _score_last_list(*, shopping_list: ShoppingList, items: list[ListItem]) -> ListSnapshot | None:
    """The list as it stood (minus what the shopper said not to buy), ready to be scored."""
    products = sorted(
        {
            item.product_id
            for item in items
            if item.product_id
            and item.state != ListItem.State.SKIPPED
            and item.kind != ListItem.Kind.TOGETHER
        }
    )
    if not products:
        return None
    return ListSnapshot(
        user_id=shopping_list.user_id,
        list_computed_at=shopping_list.computed_at,
        product_ids=products,
        shop_at=shopping_list.computed_at,
        n_items=len(products),
        n_bought=0,
    )


def _sort_existing(
    *, items: list[ListItem], new_shop: bool
) -> tuple[list[ListItem], list[ListItem], dict[int, str]]:
    """Split a list's items into own items kept, own items dropped, and decisions to carry.

    After a shop the trip is over: ticked own items go, open ones stay, and the model's
    items start afresh. Before it, every decision on a model item carries over.
    """
    keep: list[ListItem] = []
    drop: list[ListItem] = []
    decided: dict[int, str] = {}
    for item in items:
        if item.kind == ListItem.Kind.OWN:
            if new_shop and item.state != ListItem.State.OPEN:
                drop.append(item)
            else:
                keep.append(item)
        elif not new_shop and item.product_id and item.state != ListItem.State.OPEN:
            decided[item.product_id] = item.state
    return keep, drop, decided


def _choose_predicted(
    *,
    shopper: _Shopper,
    blocked: set[int],
    decided: dict[int, str],
    popular: pd.DataFrame | None,
) -> list[tuple[int, float | None, Decimal]]:
    """The model's items for this trip: confident personal ones, or labelled popular ones."""
    frame = shopper.forecasts
    chosen: list[tuple[int, float | None, Decimal]] = []
    seen: set[int] = set()
    size = _list_size(shopper.basket_size)
    if not frame.empty:
        personal = frame[
            (frame["source"] == "personal") & (frame["probability"] >= MAYBE_CONFIDENCE)
        ]
        for r in personal.itertuples(index=False):
            pid = int(r.product_id)
            if pid in blocked or pid in seen:
                continue
            if len(chosen) >= size and pid not in decided:
                continue
            chosen.append((pid, float(r.probability), _quantity(r.expected_quantity)))
            seen.add(pid)
    if len(chosen) >= MIN_PERSONAL_ITEMS:
        return chosen
    # The model adds "popular" rows only for shoppers with too few baskets to know.
    # A new shopper: suggest what is popular, flagged as such, never as their own cadence.
    candidates: list[tuple[int, float | None]] = []
    if not frame.empty:
        candidates += [
            (int(r.product_id), float(r.probability))
            for r in frame[frame["source"] == "popular"].itertuples(index=False)
        ]
    if not candidates and frame.empty and popular is not None and len(popular):
        # No history at all (not even a row from the model): the fitted popular list.
        candidates += [(int(p), None) for p in popular["product_id"]]
    n_popular = 0
    for pid, probability in candidates:
        if n_popular >= POPULAR_FILL:
            break
        if pid in blocked or pid in seen:
            continue
        chosen.append((pid, probability, Decimal("1")))
        seen.add(pid)
        n_popular += 1
    return chosen


def _departments(*, shoppers: dict[int, _Shopper], payload: dict[str, Any]) -> dict[int, int]:
    """Product → department for every product a list might hold, in one query."""
    ids: set[int] = set()
    for shopper in shoppers.values():
        if not shopper.forecasts.empty:
            ids.update(int(p) for p in shopper.forecasts["product_id"])
    popular = payload.get("popular")
    if popular is not None and len(popular):
        ids.update(int(p) for p in popular["product_id"])
    rules = payload.get("rules")
    if rules is not None and len(rules):
        ids.update(int(p) for p in rules["consequent"])
    ids.update(
        ItemAction.objects.filter(user_id__in=list(shoppers)).values_list("product_id", flat=True)
    )
    return {
        pid: dept
        for pid, dept in Product.objects.filter(pk__in=ids).values_list(
            "pk", "category__department_id"
        )
        if dept is not None
    }


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
        mark_computing(user_ids=allowed)
        transaction.on_commit(lambda: refresh_forecasts_task.delay(allowed))
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
        raise ActionError(f"Unknown action {action!r}.")
    product_id = item.product_id
    needs_product = action in ("not_this_time", "snooze", "still_have", "never")
    if needs_product and product_id is None:
        raise ActionError("This only works for products, not typed items.")

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
            raise ActionError("Only a suggestion can be added.")
        item.kind = ListItem.Kind.OWN
        item.added_by = ListItem.AddedBy.SHOPPER
        item.save(update_fields=["kind", "added_by"])
        return item
    if action == "snooze":
        if days is None or not 1 <= days <= 365:
            raise ActionError("Snooze for between 1 and 365 days.")
        log(ItemAction.Action.SNOOZE, until=now + timedelta(days=days))
    elif action == "still_have":
        log(ItemAction.Action.STILL_HAVE)
    elif action == "never":
        log(ItemAction.Action.NEVER)
        Forecast.objects.filter(user=user, product_id=product_id).delete()
    elif action == "remove" and item.kind != ListItem.Kind.OWN:
        raise ActionError("Only your own items can be removed; use another action.")
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
        raise ActionError("Choose a product or type what you need.")
    if quantity <= 0:
        raise ActionError("The quantity must be more than zero.")
    shopping_list, _ = ShoppingList.objects.get_or_create(user=user)
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
