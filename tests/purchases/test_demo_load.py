"""`load_demo`: demo shoppers with logins and consents, and their baskets ending yesterday."""

from datetime import date

import numpy as np
import pandas as pd
import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.consent import consent_granted, is_allowed
from accounts.models import ConsentEvent, Customer, CustomerIdentifier, User
from accounts.purposes import SWITCHABLE
from insights.catalog.models import Product
from insights.catalog.roles import CATALOG_GROUP, ensure_catalog_group
from insights.purchases import demo
from insights.purchases.models import Order, OrderLine

TODAY = "2026-06-15 10:00Z"


def transactions_frame() -> pd.DataFrame:
    """Household 7: 3 baskets (the last on 2017-12-30), 8: one, 9: two; one line of quantity 0."""
    rows = [
        # household, basket, product, quantity, sales_value, timestamp
        (7, 101, 1, 1, 2.50, "2017-12-01 09:00"),
        (7, 101, 2, 2, 5.00, "2017-12-01 09:00"),
        (7, 102, 1, 1, 2.50, "2017-12-15 18:30"),
        (7, 103, 1, 1, 2.50, "2017-12-30 23:30"),
        (8, 201, 2, 0, 0.00, "2017-11-20 12:00"),
        (8, 201, 1, 3, 7.50, "2017-11-20 12:00"),
        (9, 301, 2, 1, 2.50, "2017-10-02 08:00"),
        (9, 302, 1, 1, 2.50, "2017-12-20 08:00"),
    ]
    frame = pd.DataFrame(
        rows,
        columns=["household_id", "basket_id", "product_id", "quantity", "sales_value", "ts"],
    )
    return pd.DataFrame(
        {
            "household_id": frame["household_id"],
            "store_id": 367,
            "basket_id": frame["basket_id"].astype(str),
            "product_id": frame["product_id"].astype(str),
            "quantity": frame["quantity"],
            "sales_value": frame["sales_value"],
            "retail_disc": np.where(frame["product_id"] == 2, 0.5, 0.0),
            "coupon_disc": 0.0,
            "coupon_match_disc": 0.0,
            "week": 1,
            "transaction_timestamp": pd.to_datetime(frame["ts"]),
        }
    )


def products_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_id": ["1", "2"],
            "manufacturer_id": [1, 1],
            "department": ["GROCERY", "PASTRY"],
            "brand": ["National", "Private"],
            "product_category": ["FLUID MILK PRODUCTS", "BREAD"],
            "product_type": ["FLUID MILK WHITE ONLY", "BREAD:ITALIAN/FRENCH"],
            "package_size": ["1 GA", "22 OZ"],
        }
    )


@pytest.fixture
def small_data(monkeypatch):
    monkeypatch.setattr(demo, "read_products", products_frame)
    monkeypatch.setattr(demo, "read_transactions", lambda limit=None: transactions_frame())


@pytest.fixture
def group(db):
    ensure_catalog_group()


@time_machine.travel(TODAY, tick=False)
def test_households_become_linked_demo_shoppers_with_consents(db, group):
    summary = demo.load_demo(
        households=None, products=products_frame(), transactions=transactions_frame()
    )
    assert (summary.households, summary.logins, summary.orders, summary.lines) == (3, 3, 6, 7)
    for household in ("7", "8", "9"):
        card = CustomerIdentifier.objects.get(kind="loyalty_card", value=household)
        user = card.customer.user
        assert user.email == f"demo-{household}@kvitto.example"
        assert user.name == f"Demo shopper {household}"
        assert user.check_password(demo.DEMO_PASSWORD)
        events = ConsentEvent.objects.filter(user=user)
        assert sorted(events.values_list("purpose", flat=True)) == sorted(SWITCHABLE)
        assert set(events.values_list("method", "granted")) == {("demo", True)}
    assert Customer.objects.count() == 3


@time_machine.travel(TODAY, tick=False)
def test_the_newest_basket_is_yesterday_and_gaps_between_trips_are_kept(db, group):
    demo.load_demo(households=None, products=products_frame(), transactions=transactions_frame())
    newest = Order.objects.order_by("-placed_at").first()
    local = timezone.localtime(newest.placed_at)
    assert newest.external_id == "103"
    assert (local.date(), local.hour, local.minute) == (date(2026, 6, 14), 23, 30)
    first = Order.objects.get(external_id="101").placed_at
    assert (newest.placed_at - first).days == 29


@time_machine.travel(TODAY, tick=False)
def test_lines_the_ingestion_would_reject_are_counted_and_left_out(db, group):
    summary = demo.load_demo(
        households=None, products=products_frame(), transactions=transactions_frame()
    )
    assert sum(summary.skipped.values()) == 1
    assert "quantity 0" in next(iter(summary.skipped))
    assert OrderLine.objects.filter(order__external_id="201").count() == 1
    bread = OrderLine.objects.get(order__external_id="101", product__sku="2")
    assert (bread.unit_price, bread.discount, bread.amount_paid) == (2.75, 0.5, 5)


@time_machine.travel(TODAY, tick=False)
def test_staff_logins_are_created_with_the_catalog_admin_in_its_group(db, group):
    demo.load_demo(households=1, products=products_frame(), transactions=transactions_frame())
    assert User.objects.get(email=demo.ADMIN_EMAIL).is_superuser
    catalog = User.objects.get(email=demo.CATALOG_EMAIL)
    assert catalog.is_staff and not catalog.is_superuser
    assert catalog.groups.filter(name=CATALOG_GROUP).exists()
    assert Group.objects.get(name=CATALOG_GROUP).permissions.exists()


def test_households_are_chosen_across_light_and_heavy_shoppers_the_same_per_seed():
    rng = np.random.default_rng(0)
    counts = {household: household for household in range(1, 101)}  # household n has n baskets
    frame = pd.DataFrame(
        [(h, f"{h}-{b}") for h, n in counts.items() for b in range(n)],
        columns=["household_id", "basket_id"],
    ).sample(frac=1, random_state=rng.integers(1000))
    chosen = demo.choose_households(frame, 5, seed=1)
    assert chosen == demo.choose_households(frame, 5, seed=1)
    assert chosen != demo.choose_households(frame, 5, seed=2)
    assert len(chosen) == 5
    assert min(chosen) <= 20 and max(chosen) > 80
    assert demo.choose_households(frame, None, seed=1) == list(range(1, 101))


@time_machine.travel(TODAY, tick=False)
def test_command_loads_then_if_empty_does_nothing_the_second_time(db, group, small_data, capsys):
    call_command("load_demo", "--households", "2")
    out = capsys.readouterr().out
    assert "2 demo logins (2 households)" in out
    assert "Timings:" in out
    orders, users = Order.objects.count(), User.objects.count()
    assert User.objects.filter(email__startswith="demo-").count() == 2

    call_command("load_demo", "--if-empty", "--households", "all")
    assert "already stored" in capsys.readouterr().out
    assert (Order.objects.count(), User.objects.count()) == (orders, users)


@time_machine.travel(TODAY, tick=False)
def test_loading_again_without_if_empty_stores_nothing_twice(db, group, small_data):
    call_command("load_demo", "--households", "all")
    counts = (Order.objects.count(), OrderLine.objects.count(), ConsentEvent.objects.count())
    call_command("load_demo", "--households", "all")
    assert (
        Order.objects.count(),
        OrderLine.objects.count(),
        ConsentEvent.objects.count(),
    ) == counts


@pytest.mark.parametrize("value", ["0", "many"])
def test_a_bad_households_value_is_a_clear_error(db, value):
    with pytest.raises(CommandError, match="--households"):
        call_command("load_demo", "--households", value)


@time_machine.travel(TODAY, tick=False)
def test_demo_logins_lists_the_heaviest_shopper_first(db, group, small_data, capsys):
    call_command("load_demo", "--households", "all")
    capsys.readouterr()
    call_command("demo_logins")
    out = capsys.readouterr().out
    assert demo.DEMO_PASSWORD in out and demo.ADMIN_EMAIL in out
    listed = [line.split()[0] for line in out.splitlines() if line.strip().startswith("demo-")]
    assert listed == ["demo-7@kvitto.example", "demo-9@kvitto.example", "demo-8@kvitto.example"]


@time_machine.travel(TODAY, tick=False)
def test_the_real_parquet_files_load_end_to_end(db, group):
    transactions = demo.read_transactions(limit=3000)
    assert len(transactions) == 3000
    products = demo.read_products()
    products = products[products["product_id"].isin(transactions["product_id"])]
    summary = demo.load_demo(households=2, products=products, transactions=transactions)
    assert summary.households == 2 and not summary.errors
    assert summary.orders == Order.objects.count() > 0
    assert not Product.objects.filter(reviewed=False).exists()
    newest = timezone.localtime(Order.objects.order_by("-placed_at").first().placed_at)
    assert newest.date() <= date(2026, 6, 14)


@time_machine.travel(TODAY, tick=False)
def test_each_shopper_is_refreshed_once_after_the_load_heaviest_first(
    db, group, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(demo, "ORDERS_PER_BATCH", 1)  # every order its own batch
    queued = []
    monkeypatch.setattr(
        "insights.purchases.tasks.refresh_shopper_task.apply_async",
        lambda args, countdown: queued.append(args[0]),
    )
    granted = []

    def receiver(sender, **kwargs):
        granted.append(kwargs["purpose"])

    consent_granted.connect(receiver, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            demo.load_demo(
                households=None, products=products_frame(), transactions=transactions_frame()
            )
    finally:
        consent_granted.disconnect(receiver)

    households = [
        CustomerIdentifier.objects.get(kind="loyalty_card", value=h).customer_id
        for h in ("7", "9", "8")  # 3, 2 and 1 orders
    ]
    assert queued == households
    assert granted == []  # no per-purpose work queued before the orders were there
    assert all(is_allowed(c.user, p) for c in Customer.objects.all() for p in SWITCHABLE)
