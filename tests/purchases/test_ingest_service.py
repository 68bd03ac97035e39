"""The ingestion service: whole batches stored once, bad batches stored not at all."""

from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest

from accounts.models import Customer, CustomerIdentifier
from insights.catalog.models import Product
from insights.purchases.ingest import RowError
from insights.purchases.models import Order, OrderLine
from insights.purchases.services import ingest_lines, ingest_orders
from tests.factories import CustomerIdentifierFactory, ProductFactory
from tests.purchases.ingest_helpers import frame, json_order, line, two_orders

pytestmark = pytest.mark.django_db


def test_it_stores_a_valid_batch_with_totals_and_copied_columns():
    result = ingest_lines(source="till", lines=two_orders())

    assert result.ok
    assert (result.orders_created, result.lines_created, result.duplicates) == (2, 3, 0)
    order = Order.objects.get(source="till", external_id="R1")
    assert order.channel == "store"
    assert order.store_id == "12"
    assert order.currency == "SEK"
    assert order.placed_at == datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    assert order.total_amount == Decimal("50.00")
    assert order.total_discount == Decimal("5.00")
    assert order.line_count == 2
    assert len(order.content_hash) == 64
    lines = list(order.lines.order_by("line_no"))
    assert [li.line_no for li in lines] == [1, 2]
    assert [li.product.sku for li in lines] == ["MILK1", "BREAD1"]
    assert lines[0].quantity == Decimal("2.000")
    assert lines[0].unit_price == Decimal("12.50")
    assert lines[1].discount == Decimal("5.00")
    assert {li.customer_id for li in lines} == {order.customer_id}
    assert {li.placed_at for li in lines} == {order.placed_at}
    web = Order.objects.get(external_id="R2")
    assert web.store_id == ""
    assert result.customer_ids_touched == {order.customer_id, web.customer_id}


def test_it_stores_the_same_batch_sent_twice_once():
    ingest_lines(source="till", lines=two_orders())

    again = ingest_lines(source="till", lines=two_orders())

    assert again.ok
    assert (again.orders_created, again.lines_created, again.duplicates) == (0, 0, 2)
    assert again.customer_ids_touched == set()
    assert Order.objects.count() == 2
    assert OrderLine.objects.count() == 3


def test_the_same_content_in_another_notation_or_line_order_is_a_duplicate():
    ingest_lines(source="till", lines=two_orders())
    rows = two_orders().iloc[[1, 0, 2]].copy()
    rows["unit_price"] = rows["unit_price"].map(lambda v: f"{Decimal(v):.4f}")
    rows.loc[rows["external_id"] == "R1", "placed_at"] = "2026-10-01T08:00:00Z"

    again = ingest_lines(source="till", lines=rows)

    assert again.ok
    assert again.duplicates == 2


def test_the_same_id_from_another_source_is_another_order():
    ingest_lines(source="till", lines=two_orders())

    other = ingest_lines(source="webshop", lines=two_orders())

    assert other.orders_created == 2
    assert Order.objects.count() == 4


def test_a_stored_id_with_other_content_is_a_conflict_and_nothing_is_written():
    ingest_lines(source="till", lines=frame(line()))
    changed = frame(
        line(external_id="NEW1", customer_value="CARD-NEW", sku="NEWSKU"),
        line(amount_paid="24.00"),
        line(sku="EGGS", quantity="1", unit_price="30", amount_paid="30"),
    )

    result = ingest_lines(source="till", lines=changed)

    assert not result.ok
    assert result.errors == [
        RowError("3", "external_id", "order R1 from till is already stored with different content"),
        RowError("4", "external_id", "order R1 from till is already stored with different content"),
    ]
    assert Order.objects.count() == 1
    assert OrderLine.objects.count() == 1
    assert not Order.objects.filter(external_id="NEW1").exists()
    assert not Product.objects.filter(sku__in=["NEWSKU", "EGGS"]).exists()
    assert not CustomerIdentifier.objects.filter(value="CARD-NEW").exists()


def test_a_batch_with_bad_rows_writes_nothing_and_reports_each_row():
    bad = frame(
        line(external_id="OK1"),
        line(external_id="B1", quantity="0"),
        line(external_id="B2", unit_price="-1", amount_paid="abc"),
        line(external_id="B3", placed_at="2026-10-01T10:00:00"),
        line(external_id="B4", currency="sek", channel="fax", customer_kind="email"),
        line(external_id="B5", sku="", customer_value=""),
        line(external_id=""),
    )

    result = ingest_lines(source="till", lines=bad)

    assert not result.ok
    assert result.errors == [
        RowError("3", "quantity", "must be greater than 0"),
        RowError("4", "unit_price", "must not be negative"),
        RowError("4", "amount_paid", "is not a number"),
        RowError("5", "placed_at", "has no time zone offset (add Z or +01:00)"),
        RowError("6", "customer_kind", "must be one of loyalty_card, web, app"),
        RowError("6", "channel", "must be one of store, web, app"),
        RowError("6", "currency", "must be a 3-letter upper-case currency code"),
        RowError("7", "customer_value", "is required"),
        RowError("7", "sku", "is required"),
        RowError("8", "external_id", "is required"),
    ]
    assert Order.objects.count() == 0
    assert Product.objects.count() == 0
    assert Customer.objects.count() == 0


def test_lines_of_one_order_must_agree_on_the_order_columns():
    rows = frame(line(), line(sku="B", store_id="13", placed_at="2026-10-01T11:00:00+02:00"))

    result = ingest_lines(source="till", lines=rows)

    assert result.errors == [
        RowError("3", "store_id", "differs from this order's first line (2)"),
        RowError("3", "placed_at", "differs from this order's first line (2)"),
    ]


def test_one_order_has_one_currency():
    result = ingest_lines(source="till", lines=frame(line(), line(sku="B", currency="EUR")))

    assert result.errors == [RowError("3", "currency", "differs from this order's first line (2)")]


def test_a_total_amount_must_be_the_sum_of_the_lines():
    rows = frame(line(total_amount="40.00"), line(sku="B", total_amount="40.00"))

    result = ingest_lines(source="till", lines=rows)

    assert result.errors == [
        RowError("2", "total_amount", "is not the sum of the lines' amount_paid (50.00)"),
        RowError("3", "total_amount", "is not the sum of the lines' amount_paid (50.00)"),
    ]
    ok = ingest_lines(source="till", lines=frame(line(total_amount="25")))
    assert ok.ok


def test_a_missing_column_is_reported_as_a_header_error():
    rows = frame(line()).drop(columns=["currency", "sku"])

    result = ingest_lines(source="till", lines=rows)

    assert result.errors == [
        RowError("header", "currency", "column is missing"),
        RowError("header", "sku", "column is missing"),
    ]


def test_discounts_default_to_zero_when_their_columns_are_absent():
    rows = frame(line()).drop(columns=["discount", "coupon_discount", "product_name"])

    result = ingest_lines(source="till", lines=rows)

    assert result.ok
    assert OrderLine.objects.get().discount == Decimal("0.00")


def test_a_frame_of_typed_columns_is_accepted():
    rows = pd.DataFrame(
        {
            "external_id": ["T1", "T1"],
            "customer_kind": "app",
            "customer_value": "APP7",
            "channel": "app",
            "store_id": "",
            "placed_at": pd.to_datetime(["2026-10-01 10:00", "2026-10-01 10:00"]).tz_localize(
                "Europe/Stockholm"
            ),
            "currency": "SEK",
            "sku": ["A", "B"],
            "quantity": [1.0, 0.25],
            "unit_price": [9.99, 120.0],
            "amount_paid": [9.99, 30.0],
            "row": [1, 2],
        }
    )

    result = ingest_lines(source="app", lines=rows)

    assert result.ok
    order = Order.objects.get()
    assert order.placed_at == datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    assert order.total_amount == Decimal("39.99")


def test_naive_datetime_columns_are_refused():
    rows = frame(line())
    rows["placed_at"] = pd.to_datetime(["2026-10-01 10:00"])

    result = ingest_lines(source="till", lines=rows)

    assert result.errors == [
        RowError("2", "placed_at", "has no time zone offset (add Z or +01:00)")
    ]


def test_an_unknown_product_is_created_unreviewed_never_dropped():
    ProductFactory(sku="MILK1", name="Milk", reviewed=True)
    rows = frame(
        line(), line(sku="NEW-A", product_name="Oat drink"), line(sku="NEW-B", product_name="")
    )

    result = ingest_lines(source="till", lines=rows)

    assert result.ok
    assert result.products_created == 2
    known = Product.objects.get(sku="MILK1")
    assert (known.name, known.reviewed) == ("Milk", True)
    named = Product.objects.get(sku="NEW-A")
    assert (named.name, named.reviewed, named.category) == ("Oat drink", False, None)
    assert Product.objects.get(sku="NEW-B").name == "Unknown product NEW-B"
    assert OrderLine.objects.count() == 3


def test_an_unknown_customer_is_created_with_its_identifier_and_a_known_one_reused():
    known = CustomerIdentifierFactory(kind="loyalty_card", value="CARD1")

    result = ingest_lines(source="till", lines=two_orders())

    assert result.customers_created == 1
    assert Order.objects.get(external_id="R1").customer_id == known.customer_id
    web = CustomerIdentifier.objects.get(kind="web", value="WEB9")
    assert Order.objects.get(external_id="R2").customer_id == web.customer_id
    assert web.customer.user is None


def test_a_dry_run_counts_but_writes_nothing():
    result = ingest_lines(source="till", lines=two_orders(), dry_run=True)

    assert result.ok
    assert result.dry_run
    assert (result.orders_created, result.lines_created) == (2, 3)
    assert (result.customers_created, result.products_created) == (2, 2)
    assert Order.objects.count() == 0
    assert Product.objects.count() == 0
    assert Customer.objects.count() == 0


def test_a_source_is_required():
    result = ingest_lines(source=" ", lines=two_orders())

    assert result.errors == [RowError("source", "source", "is required and at most 40 characters")]


def test_json_orders_are_stored_with_paths_in_errors():
    good = ingest_orders(source="api", orders=[json_order()])
    assert good.ok
    assert Order.objects.get().total_amount == Decimal("37.50")

    bad = ingest_orders(
        source="api",
        orders=[
            json_order(external_id="W2", placed_at="yesterday"),
            json_order(
                external_id="W3",
                lines=[{"sku": "X", "quantity": -1, "unit_price": "1", "amount_paid": "1"}],
                total_amount=None,
            ),
        ],
    )

    assert bad.errors == [
        RowError("orders[0].placed_at", "placed_at", "is not an ISO-8601 timestamp"),
        RowError("orders[1].lines[0].quantity", "quantity", "must be greater than 0"),
    ]


def test_json_structure_errors_name_their_path():
    result = ingest_orders(
        source="api",
        orders=[
            json_order(lines=[]),
            "not an order",
            json_order(customer="CARD1", lines=[{"sku": ["x"], "quantity": True}]),
        ],
    )

    assert result.errors == [
        RowError("orders[0].lines", "lines", "must be a non-empty list of lines"),
        RowError("orders[1]", "order", "must be an object"),
        RowError("orders[2].customer", "customer", "must be an object with kind and value"),
        RowError("orders[2].lines[0].sku", "sku", "must be a string"),
        RowError("orders[2].lines[0].quantity", "quantity", "must be a number"),
    ]
    assert Order.objects.count() == 0


def test_many_unknown_products_at_once_take_the_bulk_path_and_skip_existing_skus():
    ProductFactory(sku="SKU0007", name="Known", reviewed=True)
    rows = frame(
        *[line(sku=f"SKU{n:04d}", product_name=f"Thing {n}" if n % 2 else "") for n in range(300)]
    )

    result = ingest_lines(source="till", lines=rows)

    assert result.ok
    assert result.products_created == 299
    assert Product.objects.count() == 300
    assert Product.objects.get(sku="SKU0007").name == "Known"
    odd = Product.objects.get(sku="SKU0001")
    assert (odd.name, odd.reviewed, odd.category_id, odd.active) == ("Thing 1", False, None, True)
    assert Product.objects.get(sku="SKU0002").name == "Unknown product SKU0002"
    assert OrderLine.objects.count() == 300


def test_an_id_of_a_deleted_order_is_never_given_again():
    ingest_lines(source="till", lines=two_orders())
    highest = Order.objects.order_by("-id").first()
    old_id = highest.pk
    highest.delete()

    ingest_lines(source="till", lines=frame(line(external_id="R9")))

    assert Order.objects.get(external_id="R9").pk > old_id


def test_an_order_whose_lines_add_up_past_what_a_total_holds_is_refused_whole():
    """Each line is within the limit; the order's sum is not (found by API fuzzing: a
    numeric overflow on PostgreSQL, a value past the column's precision on SQLite)."""
    big = {"sku": "GOLD", "quantity": "1", "unit_price": "9000000000.00"}
    order = json_order(
        total_amount=None,
        lines=[
            {**big, "amount_paid": "9000000000.00", "discount": "6000000000.00"},
            {**big, "amount_paid": "9000000000.00", "discount": "6000000000.00"},
        ],
    )
    del order["total_amount"]

    result = ingest_orders(source="web", orders=[order])

    assert not result.ok
    reasons = {(e.row, e.reason) for e in result.errors}
    assert (
        "orders[0].total_amount",
        "the lines' amount_paid add up to more than 9999999999.99",
    ) in reasons
    assert (
        "orders[0].lines[0].discount",
        "the order's discounts add up to more than 9999999999.99",
    ) in reasons
    assert Order.objects.count() == 0


@pytest.mark.parametrize("bad", ["A\x00B", "A\udc00B"], ids=["NUL", "unpaired surrogate"])
def test_text_that_cannot_be_stored_is_refused_row_by_row_not_with_a_server_error(bad):
    """PostgreSQL refuses NUL and unpaired surrogates (JSON carries both), so they were a
    500 there (found by API fuzzing); now they are row errors on every backend."""
    order = json_order(external_id=bad, store_id=bad)
    order["lines"][0]["sku"] = bad
    order["lines"][0]["name"] = bad

    result = ingest_orders(source="web", orders=[order])

    reason = "contains a character that cannot be stored (NUL or an unpaired surrogate)"
    assert {(e.row, e.reason) for e in result.errors} == {
        ("orders[0].external_id", reason),
        ("orders[0].store_id", reason),
        ("orders[0].lines[0].sku", reason),
        ("orders[0].lines[0].name", reason),
    }
    assert ingest_orders(source=f"till{bad}", orders=[json_order()]).errors == [
        RowError("source", "source", reason)
    ]
    assert Order.objects.count() == 0
