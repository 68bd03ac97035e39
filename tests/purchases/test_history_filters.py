"""Each history filter narrows to the right orders, read in the shopper's time zone."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    CategoryFactory,
    DepartmentFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
)

HISTORY = reverse("purchases:history")


def listed(client, **params):
    """The ids of the orders the history lists for `params` (first page)."""
    response = client.get(HISTORY, params)
    assert response.status_code == 200
    return {order.pk for month in response.context["months"] for order in month.orders}


def order_for(user, at, **kwargs):
    return OrderFactory(customer=user.customer, placed_at=at, **kwargs)


@pytest.fixture
def catalog(db):
    dairy = DepartmentFactory(name="Dairy")
    bakery = DepartmentFactory(name="Bakery")
    return {
        "milk": ProductFactory(
            sku="7310865004703",
            name="Organic whole milk",
            brand="Arla",
            category=CategoryFactory(name="Milk", department=dairy),
        ),
        "cheese": ProductFactory(
            sku="7310865000002",
            name="Hushållsost",
            brand="Arla",
            category=CategoryFactory(name="Cheese", department=dairy),
        ),
        "bread": ProductFactory(
            sku="7311070000001",
            name="Rye bread",
            brand="Pågen",
            category=CategoryFactory(name="Bread", department=bakery),
        ),
    }


@pytest.fixture
def baskets(alice, catalog):
    """Three orders: two milks in one (a duplicate trap), cheese in another, bread alone."""
    milky = order_for(alice, datetime(2026, 10, 1, 9, 0, tzinfo=UTC), channel="store")
    OrderLineFactory(order=milky, line_no=1, product=catalog["milk"])
    OrderLineFactory(order=milky, line_no=2, product=catalog["milk"])
    cheesy = order_for(alice, datetime(2026, 10, 2, 9, 0, tzinfo=UTC), channel="web")
    OrderLineFactory(order=cheesy, line_no=1, product=catalog["cheese"])
    OrderLineFactory(order=cheesy, line_no=2, product=catalog["bread"])
    bready = order_for(alice, datetime(2026, 10, 3, 9, 0, tzinfo=UTC), channel="app")
    OrderLineFactory(order=bready, line_no=1, product=catalog["bread"])
    return {"milky": milky, "cheesy": cheesy, "bready": bready}


def test_a_category_keeps_orders_with_a_line_in_it_once_each(alice_client, catalog, baskets):
    response = alice_client.get(HISTORY, {"category": catalog["milk"].category_id})

    assert response.context["page_obj"].paginator.count == 1
    assert listed(alice_client, category=catalog["milk"].category_id) == {baskets["milky"].pk}
    assert listed(alice_client, category=catalog["bread"].category_id) == {
        baskets["cheesy"].pk,
        baskets["bready"].pk,
    }


def test_a_department_keeps_orders_with_a_line_in_any_of_its_categories(
    alice_client, catalog, baskets
):
    dairy = catalog["milk"].category.department_id

    assert listed(alice_client, department=dairy) == {baskets["milky"].pk, baskets["cheesy"].pk}


def test_the_category_select_offers_only_what_the_shopper_bought(alice_client, catalog, baskets):
    unbought = CategoryFactory(name="Caviar", department=DepartmentFactory(name="Deli"))

    body = alice_client.get(HISTORY).content.decode()

    assert "Dairy · Milk" in body
    assert unbought.name not in body
    assert "Deli" not in body


def test_a_channel_keeps_that_channels_orders(alice_client, baskets):
    assert listed(alice_client, channel="web") == {baskets["cheesy"].pk}
    assert listed(alice_client, channel="app") == {baskets["bready"].pk}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("whole MILK", {"milky"}),  # name, any case
        ("arla", {"milky", "cheesy"}),  # brand
        ("7311070000001", {"cheesy", "bready"}),  # exact SKU
        ("7311070", set()),  # part of a SKU is not a search for it
        ("pågen", {"cheesy", "bready"}),
    ],
)
def test_a_product_search_matches_name_brand_or_sku(alice_client, baskets, query, expected):
    assert listed(alice_client, q=query) == {baskets[name].pk for name in expected}


def test_a_search_and_a_category_combine(alice_client, catalog, baskets):
    bakery = catalog["bread"].category.department_id

    assert listed(alice_client, q="arla", department=bakery) == {baskets["cheesy"].pk}


def test_filters_never_show_another_shoppers_orders(alice_client, charlie, catalog, baskets):
    theirs = order_for(charlie, datetime(2026, 10, 2, 9, 0, tzinfo=UTC))
    OrderLineFactory(order=theirs, line_no=1, product=catalog["milk"])

    assert listed(alice_client, category=catalog["milk"].category_id) == {baskets["milky"].pk}


def test_a_date_range_is_read_in_the_shoppers_time_zone(alice_client, alice):
    # Stockholm leaves summer time at 03:00 on 25 October 2026 (01:00 UTC).
    late_saturday = order_for(alice, datetime(2026, 10, 24, 21, 30, tzinfo=UTC))  # 23:30 CEST 24th
    after_midnight = order_for(alice, datetime(2026, 10, 24, 22, 30, tzinfo=UTC))  # 00:30 CEST 25th
    sunday_night = order_for(alice, datetime(2026, 10, 25, 22, 30, tzinfo=UTC))  # 23:30 CET 25th
    monday = order_for(alice, datetime(2026, 10, 25, 23, 30, tzinfo=UTC))  # 00:30 CET 26th

    assert listed(alice_client, **{"from": "2026-10-25", "to": "2026-10-25"}) == {
        after_midnight.pk,
        sunday_night.pk,
    }
    assert listed(alice_client, to="2026-10-24") == {late_saturday.pk}
    assert listed(alice_client, **{"from": "2026-10-26"}) == {monday.pk}


def test_the_end_date_before_the_start_date_is_refused(alice_client, alice):
    order_for(alice, datetime(2026, 10, 24, 9, 0, tzinfo=UTC))

    response = alice_client.get(HISTORY, {"from": "2026-10-25", "to": "2026-10-01"})

    assert "The end date is before the start date." in response.content.decode()
    assert response.context["filters"].date_to is None


@time_machine.travel(datetime(2026, 10, 25, 22, 45, tzinfo=UTC), tick=False)
def test_todays_late_evening_order_counts_as_today_in_stockholm(alice_client, alice):
    # 23:45 in Stockholm: UTC's date is the same, but an hour later it would not be.
    now = order_for(alice, timezone.now())
    today = timezone.localdate(timezone=timezone.get_default_timezone()).isoformat()

    assert today == "2026-10-25"
    assert listed(alice_client, **{"from": today, "to": today}) == {now.pk}


def test_weekday_and_hour_are_read_in_stockholm_on_both_sides_of_the_dst_change(
    alice_client, alice
):
    # 17:30 local on a summer-time Saturday is 15:30 UTC; on a winter-time Monday 16:30 UTC.
    saturday = order_for(alice, datetime(2026, 10, 24, 15, 30, tzinfo=UTC))
    monday = order_for(alice, datetime(2026, 10, 26, 16, 30, tzinfo=UTC))
    # 00:30 on Monday in Stockholm, still Sunday 23:30 in UTC.
    monday_night = order_for(alice, datetime(2026, 10, 25, 23, 30, tzinfo=UTC))

    assert listed(alice_client, hour=17) == {saturday.pk, monday.pk}
    assert listed(alice_client, weekday=0) == {monday.pk, monday_night.pk}
    assert listed(alice_client, weekday=5) == {saturday.pk}
    assert listed(alice_client, weekday=0, hour=0) == {monday_night.pk}
    assert listed(alice_client, weekday=6) == set()


def test_weekday_and_hour_follow_the_shoppers_own_time_zone(client, alice):
    alice.time_zone = "America/New_York"
    alice.save()
    client.force_login(alice)
    evening = order_for(alice, datetime(2026, 10, 26, 23, 30, tzinfo=UTC))  # 19:30 Monday in NY

    assert listed(client, hour=19, weekday=0) == {evening.pk}
    assert listed(client, hour=23) == set()


def test_the_heat_map_narrowing_is_shown_with_a_way_back(alice_client, alice):
    order_for(alice, datetime(2026, 10, 26, 16, 30, tzinfo=UTC), total_amount=Decimal("5"))

    body = alice_client.get(
        HISTORY, {"weekday": 0, "hour": 17, "channel": "store"}
    ).content.decode()

    assert "<strong>Mondays</strong>" in body
    assert "17:00–17:59" in body
    assert '<a href="?channel=store">all days and hours</a>' in body


@pytest.mark.parametrize(
    "params",
    [
        {"weekday": 7},
        {"hour": 24},
        {"channel": "fax"},
        {"category": "milk"},
        {"from": "2026-13-01"},
    ],
)
def test_an_out_of_range_filter_is_dropped_with_a_note(alice_client, baskets, params):
    response = alice_client.get(HISTORY, params)

    assert "Some filters could not be used" in response.content.decode()
    assert len(listed(alice_client, **params)) == 3
