"""A shopper's world for the consent enforcement tests: receipts in, tasks run eagerly, rows out.

Shared by the enforcement matrix (`tests/test_consent_enforcement.py`) and the state
machine (`tests/test_consent_state_machine.py`). Everything flows through the product's
own entrances: orders through `ingest_orders`, consent through `set_consent`, work through
the Celery tasks (run eagerly, with `on_commit` callbacks executed as a commit would), so
a place that forgets to check consent shows up as derived rows or e-mail.

The forecasting model is the fake of `tests/forecasts/fake_model.py`, which keeps the
customer ids it was trained on: that is how these tests see whose history reached the
shared model. `tests/forecasts/test_real_model.py` and `test_model_improvement_*` in the
matrix check the real model on the same rule.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from types import SimpleNamespace

from django.core import mail
from django.test import TestCase

from accounts.consent import consent_state, set_consent
from accounts.models import ConsentEvent, Customer, CustomerIdentifier, User
from accounts.purposes import EMAIL, INSIGHTS, MODEL_IMPROVEMENT, PANTRY, PREDICTIONS
from insights.celery import app as celery_app
from insights.forecasts import services as forecast_services
from insights.forecasts.models import (
    Forecast,
    ForecastModel,
    ItemAction,
    ListItem,
    ListSnapshot,
    ShoppingList,
)
from insights.habits import analysis as real_analysis
from insights.habits.models import HabitHighlight, HabitSnapshot
from insights.pantry.models import DigestLog, Notification, PantryItem, PantrySettings
from insights.purchases.services import ingest_orders
from tests.factories import CategoryFactory, DepartmentFactory, ProductFactory

# A Friday, 11:00 in Stockholm: outside the default quiet hours (21:00-08:00) for e-mail.
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SOURCE = "enforcement"


@contextmanager
def eager_celery() -> Iterator[None]:
    """Run every task in-process as it is queued, raising its errors (restored after)."""
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    try:
        yield
    finally:
        conf.task_always_eager, conf.task_eager_propagates = saved


@contextmanager
def committed() -> Iterator[None]:
    """Run the block, then its on_commit callbacks (and theirs) as a real commit would."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        yield


def use_fake_model(monkeypatch) -> list[list[int]]:  # noqa: ANN001  (pytest's MonkeyPatch)
    """Swap in the fake model and rules; returns the list every fit appends its training ids to."""
    from tests.forecasts import fake_model
    from tests.forecasts.conftest import FAKE_RULES

    fits: list[list[int]] = []

    class Spy:
        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(fake_model, name)

        @staticmethod
        def fit_model(history, as_of, *, train_customer_ids=None):  # noqa: ANN001, ANN205
            fits.append(sorted(int(i) for i in train_customer_ids or []))
            return fake_model.fit_model(history, as_of, train_customer_ids=train_customer_ids)

    monkeypatch.setattr(forecast_services, "_model_api", lambda: (Spy(), FAKE_RULES))
    forecast_services._payload_cache.clear()
    return fits


class QuickHabits:
    """habits/analysis.py with its pandas group-bys replaced by a trip count.

    For places whose rows matter, not their content: the real analysis takes about a
    second a shopper here. Pages that render the summary need the real one.
    """

    def __getattr__(self, name: str) -> object:
        return getattr(real_analysis, name)

    @staticmethod
    def prepare_lines(lines, tz=None):  # noqa: ANN001, ANN205
        return lines

    @staticmethod
    def compute_frames(lines, *, as_of, window, shoppers, **kwargs):  # noqa: ANN001, ANN003, ANN205
        trips = lines.groupby("shopper")["order_id"].nunique().to_dict() if len(lines) else {}
        return SimpleNamespace(window=window, shoppers=list(shoppers), trips=trips, highlights={})

    @staticmethod
    def compute_periods(lines, *, as_of, windows, shoppers, **kwargs):  # noqa: ANN001, ANN003, ANN205
        trips = lines.groupby("shopper")["order_id"].nunique().to_dict() if len(lines) else {}
        return {
            key: SimpleNamespace(
                window=window,
                shoppers=list(shoppers[key] if isinstance(shoppers, dict) else shoppers),
                trips=trips,
                highlights={},
            )
            for key, window in windows.items()
        }

    @staticmethod
    def payloads_many(frames):  # noqa: ANN001, ANN205
        return {
            s: {"state": "ok" if frames.trips.get(s) else "empty", "trips": frames.trips.get(s, 0)}
            for s in frames.shoppers
        }


@dataclass
class Catalog:
    milk: object
    bread: object
    coffee: object
    cheese: object

    @classmethod
    def create(cls) -> Catalog:
        dairy = DepartmentFactory(name="Dairy", aisle_order=20)
        bakery = DepartmentFactory(name="Bakery", aisle_order=10)
        drinks = DepartmentFactory(name="Drinks", aisle_order=30)
        milk_cat = CategoryFactory(
            department=dairy, name="Milk", default_shelf_life_days=9, due_soon_share=None
        )
        bread_cat = CategoryFactory(department=bakery, name="Bread", default_shelf_life_days=5)
        coffee_cat = CategoryFactory(department=drinks, name="Coffee")
        return cls(
            milk=ProductFactory(sku="E-MILK", name="Milk 1 l", category=milk_cat, perishable=True),
            bread=ProductFactory(
                sku="E-BREAD", name="Rye bread", category=bread_cat, perishable=True
            ),
            coffee=ProductFactory(sku="E-COFFEE", name="Coffee 500 g", category=coffee_cat),
            cheese=ProductFactory(
                sku="E-CHEESE", name="Cheese", category=milk_cat, perishable=True
            ),
        )


_order_numbers = count(1)


def order(card: str, when: datetime, products: list) -> dict:  # noqa: ANN001
    """One order as the ingestion API takes it: one line per product, 20.00 each."""
    return {
        "external_id": f"E{next(_order_numbers):07d}",
        "customer": {"kind": "loyalty_card", "value": card},
        "channel": "store",
        "store_id": "7",
        "placed_at": when.isoformat(),
        "currency": "SEK",
        "lines": [
            {
                "sku": p.sku,
                "name": p.name,
                "quantity": "1",
                "unit_price": "20.00",
                "amount_paid": "20.00",
            }
            for p in products
        ],
    }


def derived(purpose: str, user: User) -> dict[str, int]:
    """Rows derived for `purpose` from `user`'s data that exist now (zero counts left out).

    EMAIL stores nothing of its own (an e-mail is observed in the outbox, not in a table).
    MODEL_IMPROVEMENT: stored fitted models whose training shoppers include this one.
    """
    counts: dict[str, int] = {}
    if purpose == INSIGHTS:
        counts = {
            "HabitSnapshot": HabitSnapshot.objects.filter(user=user).count(),
            "HabitHighlight": HabitHighlight.objects.filter(user=user).count(),
        }
    elif purpose == PREDICTIONS:
        counts = {
            "Forecast": Forecast.objects.filter(user=user).count(),
            "ListItem(model)": ListItem.objects.filter(shopping_list__user=user)
            .exclude(kind=ListItem.Kind.OWN)
            .count(),
            "ListSnapshot": ListSnapshot.objects.filter(user=user).count(),
            "ItemAction": ItemAction.objects.filter(user=user).count(),
            "ShoppingList(computed)": ShoppingList.objects.filter(
                user=user, computed_at__isnull=False
            ).count(),
        }
    elif purpose == PANTRY:
        counts = {
            "PantryItem": PantryItem.objects.filter(user=user).count(),
            "Notification": Notification.objects.filter(user=user).count(),
            "DigestLog": DigestLog.objects.filter(user=user).count(),
            "PantrySettings(token or cursor)": PantrySettings.objects.filter(user=user)
            .exclude(calendar_token=None, processed_line_id=0)
            .count(),
        }
    elif purpose == MODEL_IMPROVEMENT:
        counts = {"ForecastModel(trained on them)": len(models_trained_on(user))}
    elif purpose != EMAIL:
        raise ValueError(purpose)
    return {name: n for name, n in counts.items() if n}


def models_trained_on(user: User) -> list[int]:
    """Stored fitted models whose training shoppers include `user`'s customer."""
    customer_id = Customer.objects.filter(user=user).values_list("pk", flat=True).first()
    found = []
    for pk, blob in ForecastModel.objects.values_list("pk", "payload"):
        fitted = pickle.loads(bytes(blob))["model"]  # noqa: S301  (rows this test wrote)
        if customer_id in getattr(fitted, "train_customer_ids", []):
            found.append(pk)
    return found


def mails_to(user: User) -> int:
    return sum(user.email in message.to for message in mail.outbox)


@dataclass
class Shopper:
    user: User
    card: str


class World:
    """Alice (the shopper under test) and Charlie (another, always consenting) with history.

    Call inside `eager_celery()` and frozen time at or after NOW.
    """

    def __init__(self, catalog: Catalog, alice: User, charlie: User) -> None:
        self.catalog = catalog
        self.alice = Shopper(alice, "ALICE-CARD")
        self.charlie = Shopper(charlie, "CHARLIE-CARD")
        for shopper in (self.alice, self.charlie):
            CustomerIdentifier.objects.create(
                customer=shopper.user.customer, kind="loyalty_card", value=shopper.card
            )

    def weekly_history(self, shopper: Shopper, *, weeks: int = 10) -> None:
        """Milk and bread every week up to a week ago, coffee every third week."""
        c = self.catalog
        orders = []
        for k in range(weeks):
            when = NOW - timedelta(days=7 * (weeks - k))
            products = [c.milk, c.bread] + ([c.coffee] if k % 3 == 0 else [])
            orders.append(order(shopper.card, when, products))
        self.ingest(orders)

    def ingest(self, orders: list[dict]) -> None:
        with committed():
            result = ingest_orders(source=SOURCE, orders=orders)
        assert result.ok, result.errors

    def shop_today(self, shopper: Shopper, hours_ago: int = 1) -> None:
        """A new order (milk, cheese) placed a little before the current (frozen) time."""
        from django.utils import timezone

        when = timezone.now() - timedelta(hours=hours_ago)
        self.ingest([order(shopper.card, when, [self.catalog.milk, self.catalog.cheese])])

    @staticmethod
    def set(user: User, purpose: str, granted: bool) -> None:
        with committed():
            set_consent(user=user, purpose=purpose, granted=granted, method=ConsentEvent.Method.API)

    def grant(self, user: User, *purposes: str) -> None:
        for purpose in purposes:
            self.set(user, purpose, True)

    def withdraw(self, user: User, *purposes: str) -> None:
        for purpose in purposes:
            self.set(user, purpose, False)

    @staticmethod
    def granted(user: User) -> set[str]:
        return {p for p, on in consent_state(user).items() if on}
