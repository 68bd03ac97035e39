"""How a valid batch reaches the tables: exact values, the stored digest, checked references."""

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.db import IntegrityError, connection

from insights.purchases.models import Order, OrderLine
from insights.purchases.services import ingest_lines
from tests.purchases.ingest_helpers import frame, line


@pytest.mark.django_db
def test_extreme_amounts_quantities_and_times_are_stored_exactly():
    result = ingest_lines(
        source="till",
        lines=frame(
            line(
                placed_at="1999-12-31T23:59:59.999999Z",
                quantity="9999999.999",
                unit_price="9999999999.99",
                amount_paid="0",
                discount="0.01",
                coupon_discount="12.5",
            ),
            line(
                placed_at="2000-01-01T00:59:59.999999+01:00",
                sku="TINY",
                quantity="0.001",
                unit_price="0",
                amount_paid="0.10",
            ),
        ),
    )

    assert result.ok, result.errors
    order = Order.objects.get()
    assert order.placed_at == datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert (order.total_amount, order.total_discount) == (Decimal("0.10"), Decimal("12.51"))
    big, tiny = OrderLine.objects.order_by("line_no")
    assert (big.quantity, big.unit_price, big.amount_paid) == (
        Decimal("9999999.999"),
        Decimal("9999999999.99"),
        Decimal("0.00"),
    )
    assert (big.discount, big.coupon_discount) == (Decimal("0.01"), Decimal("12.50"))
    assert (tiny.quantity, tiny.unit_price, tiny.amount_paid) == (
        Decimal("0.001"),
        Decimal("0.00"),
        Decimal("0.10"),
    )
    assert {big.placed_at, tiny.placed_at} == {order.placed_at}


@pytest.mark.django_db
def test_the_stored_digest_follows_its_documented_recipe():
    # Orders already stored keep their digest: a new recipe would turn re-sent orders into
    # conflicts. Lines enter sorted by their text, whatever order they came in.
    ingest_lines(
        source="till",
        lines=frame(
            line(sku="b-sku", quantity="1", unit_price="2.5", amount_paid="2.50"),
            line(sku="A-SKU", quantity="0.5", unit_price="10", amount_paid="4", discount="1"),
        ),
    )

    placed_us = int(datetime(2026, 10, 1, 8, 0, tzinfo=UTC).timestamp()) * 1_000_000
    text = (
        f"loyalty_card|CARD1|store|12|{placed_us}|SEK\n"
        "A-SKU|500|1000|400|100|0\n"
        "b-sku|1000|250|250|0|0"
    )
    assert Order.objects.get().content_hash == hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_a_line_whose_product_is_gone_is_refused_and_nothing_is_written():
    # As if the product had been deleted between its look-up and the write.
    def resolve_to_a_missing_product(lines):
        return dict.fromkeys(lines["sku"].unique(), 987654321), []

    with (
        mock.patch("insights.purchases.services._resolve_products", resolve_to_a_missing_product),
        pytest.raises(IntegrityError),
    ):
        ingest_lines(source="till", lines=frame(line()))

    assert not Order.objects.exists()
    assert not OrderLine.objects.exists()


@pytest.mark.django_db
def test_without_the_right_to_skip_triggers_the_rows_are_checked_per_row_and_stored_alike():
    with mock.patch("insights.purchases.services._may_skip_triggers", return_value=False):
        result = ingest_lines(source="till", lines=frame(line(), line(sku="BREAD1")))

    assert result.ok, result.errors
    assert list(OrderLine.objects.order_by("line_no").values_list("product__sku", flat=True)) == [
        "MILK1",
        "BREAD1",
    ]


@pytest.mark.django_db
def test_a_write_that_fails_midway_leaves_nothing_and_the_connection_as_it_was():
    boom = IntegrityError("the write failed")
    with (
        mock.patch("insights.purchases.services._copy_binary", side_effect=boom),
        mock.patch("insights.purchases.services._insert_many", side_effect=boom),
        pytest.raises(IntegrityError),
    ):
        ingest_lines(source="till", lines=frame(line()))

    assert not Order.objects.exists()
    if connection.vendor == "postgresql":
        # Skipping triggers was local to the rolled-back attempt.
        with connection.cursor() as cursor:
            cursor.execute("SHOW session_replication_role")
            assert cursor.fetchone()[0] == "origin"
    assert ingest_lines(source="till", lines=frame(line())).ok
    assert OrderLine.objects.count() == 1
