"""The order page: its header and lines, and nobody else's order."""

from datetime import UTC, datetime
from decimal import Decimal

from django.urls import reverse

from tests.factories import (
    CategoryFactory,
    DepartmentFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
)


def test_the_owner_sees_the_header_and_every_line_with_a_sum(alice_client, alice):
    dairy = CategoryFactory(name="Milk", department=DepartmentFactory(name="Dairy"))
    milk = ProductFactory(
        name="Oat milk", brand="Oatly", package_size=Decimal("1.000"), unit="l", category=dairy
    )
    order = OrderFactory(
        customer=alice.customer,
        placed_at=datetime(2026, 10, 24, 15, 30, tzinfo=UTC),  # 17:30 CEST
        channel="app",
        store_id="Alvik",
        total_amount=Decimal("45.80"),
        total_discount=Decimal("4.00"),
        line_count=2,
    )
    OrderLineFactory(
        order=order,
        line_no=1,
        product=milk,
        quantity=Decimal("2.000"),
        unit_price=Decimal("19.90"),
        discount=Decimal("3.00"),
        coupon_discount=Decimal("1.00"),
        amount_paid=Decimal("35.80"),
    )
    OrderLineFactory(order=order, line_no=2, amount_paid=Decimal("10.00"))

    response = alice_client.get(reverse("purchases:order", args=[order.pk]))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Saturday 24 October 2026, 17:30" in body
    assert 'class="badge app"' in body
    assert "Store Alvik" in body
    assert "Oat milk" in body
    assert 'Oatly · <span class="nowrap">1 l</span>' in body
    assert "Milk" in body
    assert "SEK\xa019.90" in body
    assert "SEK\xa04.00" in body  # discount plus coupon, and the order's saved
    assert "SEK\xa035.80" in body
    assert "SEK\xa045.80" in body  # the sum row and the header
    assert response.context["totals"] == {"paid": Decimal("45.80"), "discount": Decimal("4.00")}
    assert f"?q={milk.sku}" in body


def test_charlie_gets_a_404_for_alices_order(client, alice, charlie):
    order = OrderFactory(customer=alice.customer)
    client.force_login(charlie)

    response = client.get(reverse("purchases:order", args=[order.pk]))

    assert response.status_code == 404


def test_an_unknown_order_is_a_404(alice_client):
    assert alice_client.get(reverse("purchases:order", args=[999999])).status_code == 404
