"""GET /api/v1/me/orders and /api/v1/me/orders/{id}: the shopper's own orders only."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from insights.api.models import IntegrationClient
from tests.factories import CategoryFactory, OrderFactory, OrderLineFactory, ProductFactory

ORDERS = "/api/v1/me/orders"


def order_url(order):
    return f"/api/v1/me/orders/{order.pk}"


def order_for(user, at, **kwargs):
    return OrderFactory(customer=user.customer, placed_at=at, **kwargs)


def test_the_urls_are_where_the_issue_says():
    assert reverse("api-me-orders") == ORDERS
    assert reverse("api-me-order", args=[7]) == "/api/v1/me/orders/7"


def test_the_list_has_only_the_shoppers_orders_newest_first(alice_client, alice, charlie):
    older = order_for(alice, datetime(2026, 10, 1, 9, 0, tzinfo=UTC))
    newer = order_for(
        alice,
        datetime(2026, 10, 2, 9, 0, tzinfo=UTC),
        total_amount=Decimal("123.40"),
        total_discount=Decimal("5.00"),
        channel="web",
    )
    order_for(charlie, datetime(2026, 10, 3, 9, 0, tzinfo=UTC))

    response = alice_client.get(ORDERS)

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 2
    assert [row["id"] for row in data["results"]] == [newer.pk, older.pk]
    first = data["results"][0]
    assert first["total_amount"] == "123.40"
    assert first["total_discount"] == "5.00"
    assert first["channel"] == "web"
    assert first["placed_at"] == "2026-10-02T11:00:00+02:00"  # the shopper's zone


def test_the_list_is_paginated_by_25(alice_client, alice):
    for n in range(30):
        order_for(alice, datetime(2026, 9, 1, 9, 0, tzinfo=UTC) + timedelta(days=n))

    first = alice_client.get(ORDERS).json()
    second = alice_client.get(first["next"]).json()

    assert first["count"] == 30
    assert len(first["results"]) == 25
    assert len(second["results"]) == 5
    assert second["next"] is None


def test_the_list_takes_the_history_pages_filters(alice_client, alice):
    milk = ProductFactory(name="Oat milk", category=CategoryFactory(name="Milk"))
    with_milk = order_for(alice, datetime(2026, 10, 24, 15, 30, tzinfo=UTC), channel="app")
    OrderLineFactory(order=with_milk, line_no=1, product=milk)
    OrderLineFactory(order=with_milk, line_no=2, product=milk)
    without = order_for(alice, datetime(2026, 10, 26, 9, 0, tzinfo=UTC), channel="store")
    OrderLineFactory(order=without, line_no=1)

    def ids(**params):
        return [row["id"] for row in alice_client.get(ORDERS, params).json()["results"]]

    assert ids(category=milk.category_id) == [with_milk.pk]
    assert ids(department=milk.category.department_id) == [with_milk.pk]
    assert ids(q="oat") == [with_milk.pk]
    assert ids(channel="store") == [without.pk]
    assert ids(**{"from": "2026-10-25"}) == [without.pk]
    assert ids(to="2026-10-24") == [with_milk.pk]
    assert ids(weekday=5, hour=17) == [with_milk.pk]  # Saturday 17:30 in Stockholm


def test_a_bad_filter_is_a_400_naming_the_parameter(alice_client, alice):
    response = alice_client.get(ORDERS, {"from": "soon", "hour": 25})

    assert response.status_code == 400
    assert set(response.json()) == {"from", "hour"}


def test_a_typed_filter_sent_empty_is_a_400_but_an_empty_text_search_is_not(alice_client, alice):
    response = alice_client.get(ORDERS + "?category=&hour=&q=")

    assert response.status_code == 400
    assert response.json() == {
        "category": ["Give a value, or leave the parameter out."],
        "hour": ["Give a value, or leave the parameter out."],
    }
    assert alice_client.get(ORDERS + "?q=").status_code == 200


def test_the_detail_has_the_lines_with_products(alice_client, alice):
    order = order_for(alice, datetime(2026, 10, 2, 9, 0, tzinfo=UTC))
    product = ProductFactory(
        sku="SKU-MILK", name="Oat milk", brand="Oatly", package_size=Decimal("1"), unit="l"
    )
    OrderLineFactory(
        order=order,
        line_no=1,
        product=product,
        quantity=Decimal("2"),
        unit_price=Decimal("19.90"),
        discount=Decimal("3.00"),
        amount_paid=Decimal("36.80"),
    )

    response = alice_client.get(order_url(order))

    assert response.status_code == 200
    line = response.json()["lines"][0]
    assert line["quantity"] == "2.000"
    assert line["unit_price"] == "19.90"
    assert line["amount_paid"] == "36.80"
    assert line["product"]["name"] == "Oat milk"
    assert line["product"]["size"] == "1 l"
    assert line["product"]["category"]["department"]["name"]


def test_charlie_gets_a_404_for_alices_order(client, alice, charlie):
    order = order_for(alice, datetime(2026, 10, 2, 9, 0, tzinfo=UTC))
    client.force_login(charlie)

    assert client.get(order_url(order)).status_code == 404


@pytest.mark.parametrize("orders", [3, 60])
def test_the_list_runs_a_fixed_number_of_queries(
    alice_client, alice, django_assert_num_queries, orders
):
    for n in range(orders):
        order_for(alice, datetime(2026, 1, 1, 9, 0, tzinfo=UTC) + timedelta(days=n))

    # session, user, count, page
    with django_assert_num_queries(4):
        response = alice_client.get(ORDERS, {"channel": "store", "hour": 10})

    assert response.json()["count"] == orders  # 09:00 UTC is 10:00 in Stockholm in winter


@pytest.mark.parametrize("lines", [1, 30])
def test_the_detail_runs_a_fixed_number_of_queries(
    alice_client, alice, django_assert_num_queries, lines
):
    order = order_for(alice, datetime(2026, 10, 2, 9, 0, tzinfo=UTC))
    for n in range(lines):
        OrderLineFactory(order=order, line_no=n + 1)

    # session, user, order, lines with product, category and department
    with django_assert_num_queries(4):
        response = alice_client.get(order_url(order))

    assert len(response.json()["lines"]) == lines


@pytest.mark.django_db
def test_anonymous_callers_are_refused(client):
    assert client.get(ORDERS).status_code in (401, 403)


def test_an_integration_client_is_refused_on_me_endpoints(client, alice):
    order = order_for(alice, datetime(2026, 10, 2, 9, 0, tzinfo=UTC))
    integration = IntegrationClient(name="Till", scopes=["ingest", "link", "consents"])
    key = integration.rotate_key()
    integration.save()
    headers = {"Authorization": f"Api-Key {key}"}

    assert client.get(ORDERS, headers=headers).status_code == 403
    assert client.get(order_url(order), headers=headers).status_code == 403
