"""Small frames and JSON orders for the ingestion tests, every value explicit."""

import pandas as pd


def line(**overrides: object) -> dict:
    row = {
        "external_id": "R1",
        "customer_kind": "loyalty_card",
        "customer_value": "CARD1",
        "channel": "store",
        "store_id": "12",
        "placed_at": "2026-10-01T10:00:00+02:00",
        "currency": "SEK",
        "sku": "MILK1",
        "product_name": "Milk 1 l",
        "quantity": "2",
        "unit_price": "12.50",
        "amount_paid": "25.00",
        "discount": "0",
        "coupon_discount": "0",
    }
    row.update(overrides)
    return row


def frame(*rows: dict) -> pd.DataFrame:
    """Rows labelled like a CSV file: the header is row 1, so data starts at 2."""
    data = pd.DataFrame(list(rows), dtype=object)
    data["row"] = [str(i + 2) for i in range(len(rows))]
    return data


def two_orders() -> pd.DataFrame:
    return frame(
        line(),
        line(
            sku="BREAD1",
            product_name="Rye bread",
            quantity="1",
            unit_price="30.00",
            amount_paid="25.00",
            discount="5.00",
        ),
        line(
            external_id="R2",
            customer_kind="web",
            customer_value="WEB9",
            channel="web",
            store_id="",
            placed_at="2026-10-03T08:30:00Z",
            sku="MILK1",
            quantity="1",
            unit_price="12.50",
            amount_paid="12.50",
        ),
    )


def json_order(**overrides: object) -> dict:
    order = {
        "external_id": "W100",
        "customer": {"kind": "web", "value": "WEB1"},
        "channel": "web",
        "store_id": "",
        "placed_at": "2026-10-01T10:00:00+02:00",
        "currency": "SEK",
        "total_amount": "37.50",
        "lines": [
            {
                "sku": "MILK1",
                "name": "Milk 1 l",
                "quantity": 1,
                "unit_price": "12.50",
                "amount_paid": "12.50",
            },
            {"sku": "CHEESE", "quantity": "0.5", "unit_price": "50.00", "amount_paid": "25.00"},
        ],
    }
    order.update(overrides)
    return order
