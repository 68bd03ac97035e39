"""Fixtures for forecasts: a regular shopper's history, consent helpers, a rules stand-in."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pandas as pd
import pytest
import time_machine

from accounts.consent import set_consent
from accounts.purposes import MODEL_IMPROVEMENT, PREDICTIONS
from insights.forecasts import services
from tests.factories import (
    CategoryFactory,
    DepartmentFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
)

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _fake_association_rules(baskets, *, min_support_count, min_confidence, max_rules):
    """Stand-in until rules.py lands: pairs seen together in at least 2 baskets."""
    pairs = baskets.merge(baskets, on="order_id")
    pairs = pairs[pairs["product_id_x"] != pairs["product_id_y"]]
    counts = pairs.groupby(["product_id_x", "product_id_y"]).size().rename("n").reset_index()
    support = baskets.groupby("product_id").size()
    counts["confidence"] = counts["n"] / counts["product_id_x"].map(support)
    counts = counts[counts["n"] >= 2]
    return pd.DataFrame(
        {
            "antecedent": counts["product_id_x"],
            "consequent": counts["product_id_y"],
            "support": counts["n"],
            "confidence": counts["confidence"],
            "lift": 1.0,
        }
    )


def _fake_complete_list(rules, list_product_ids, *, exclude, top_n=5):
    hits = rules[rules["antecedent"].isin(list_product_ids) & ~rules["consequent"].isin(exclude)]
    hits = hits.sort_values("confidence", ascending=False).drop_duplicates("consequent")
    return pd.DataFrame(
        {
            "product_id": hits["consequent"].head(top_n),
            "because_of": hits["antecedent"].head(top_n),
            "confidence": hits["confidence"].head(top_n),
        }
    )


FAKE_RULES = SimpleNamespace(
    association_rules=_fake_association_rules, complete_list=_fake_complete_list
)


@pytest.fixture(autouse=True)
def _model_modules(monkeypatch):
    """Stand-ins for model.py and rules.py: these tests check the plumbing around them.

    tests/forecasts/test_real_model.py runs the same refresh with the real modules.
    """
    from tests.forecasts import fake_model

    monkeypatch.setattr(services, "_model_api", lambda: (fake_model, FAKE_RULES))
    services._payload_cache.clear()
    yield
    services._payload_cache.clear()


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def grant(user, *purposes):
    for purpose in purposes:
        set_consent(user=user, purpose=purpose, granted=True, method="consent_centre")


def withdraw(user, purpose):
    set_consent(user=user, purpose=purpose, granted=False, method="consent_centre")


@pytest.fixture
def catalog(db):
    dairy = DepartmentFactory(name="Dairy", aisle_order=20)
    bakery = DepartmentFactory(name="Bakery", aisle_order=10)
    drinks = DepartmentFactory(name="Drinks", aisle_order=30)
    fuel = DepartmentFactory(name="FUEL", aisle_order=90, never_list=True)
    milk_cat = CategoryFactory(department=dairy, name="Milk")
    bread_cat = CategoryFactory(department=bakery, name="Bread")
    coffee_cat = CategoryFactory(department=drinks, name="Coffee")
    gas_cat = CategoryFactory(department=fuel, name="Gasoline")
    coupon_cat = CategoryFactory(department=drinks, name="Coupons", never_list=True)
    return SimpleNamespace(
        dairy=dairy,
        bakery=bakery,
        drinks=drinks,
        milk=ProductFactory(sku="MILK", name="Milk 1 l", category=milk_cat),
        bread=ProductFactory(sku="BREAD", name="Rye bread", category=bread_cat),
        coffee=ProductFactory(sku="COFFEE", name="Coffee 500 g", category=coffee_cat),
        butter=ProductFactory(sku="BUTTER", name="Butter", category=milk_cat),
        gas=ProductFactory(sku="GAS", name="Gasoline", category=gas_cat),
        coupon=ProductFactory(sku="COUPON", name="Store coupon", category=coupon_cat),
    )


def shop(customer, when, products, quantity=Decimal("1")):
    """One order at `when` with one line per product."""
    order = OrderFactory(customer=customer, placed_at=when)
    for n, product in enumerate(products, start=1):
        OrderLineFactory(order=order, product=product, line_no=n, quantity=quantity)
    return order


def weekly_history(customer, catalog, *, weeks=10, last=NOW - timedelta(days=7)):
    """Milk and bread every week, coffee every third week, fuel and a coupon each time."""
    for k in range(weeks):
        when = last - timedelta(days=7 * (weeks - 1 - k))
        products = [catalog.milk, catalog.bread, catalog.gas, catalog.coupon]
        if k % 3 == 0:
            products.append(catalog.coffee)
        shop(customer, when, products)


@pytest.fixture
def alice_history(alice, catalog):
    weekly_history(alice.customer, catalog)
    return catalog


@pytest.fixture
def consenting_alice(alice, alice_history):
    # Alice also lends her history to the shared model, so there is one to fit.
    grant(alice, PREDICTIONS, MODEL_IMPROVEMENT)
    return alice


__all__ = ["NOW", "grant", "withdraw", "shop", "weekly_history", "MODEL_IMPROVEMENT"]
