"""Nested orders (the API's JSON) flattened into the ingestion frame, with structural errors.

The frame has one row per line, the order's columns repeated, and `row` labelled like
"orders[2].lines[0]". Only the structure and JSON types are checked here (an object where
an object belongs, a non-empty list of lines, a number or numeric string for amounts);
every value rule lives in `insights.purchases.ingest.validate_lines`.
"""

from typing import Any

import pandas as pd

from insights.purchases.ingest import RowError

ORDER_TEXT = ("external_id", "channel", "store_id", "currency")
LINE_TEXT = ("sku", "name")
LINE_NUMBERS = ("quantity", "unit_price", "amount_paid", "discount", "coupon_discount")
FRAME_COLUMNS = [
    "external_id",
    "customer_kind",
    "customer_value",
    "channel",
    "store_id",
    "placed_at",
    "currency",
    "total_amount",
    "sku",
    "product_name",
    "quantity",
    "unit_price",
    "amount_paid",
    "discount",
    "coupon_discount",
    "row",
]


def _is_text(value: Any) -> bool:
    return value is None or (isinstance(value, str | int) and not isinstance(value, bool))


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def orders_to_frame(orders: Any) -> tuple[pd.DataFrame, list[RowError]]:
    """(frame, structural errors); the frame is only meaningful when there are no errors."""
    errors: list[RowError] = []
    rows: list[list[Any]] = []
    if not isinstance(orders, list):
        return pd.DataFrame(columns=FRAME_COLUMNS), [
            RowError("orders", "orders", "must be a list of orders")
        ]
    if not orders:
        return pd.DataFrame(columns=FRAME_COLUMNS), [
            RowError("orders", "orders", "must contain at least one order")
        ]
    for i, order in enumerate(orders):
        path = f"orders[{i}]"
        if not isinstance(order, dict):
            errors.append(RowError(path, "order", "must be an object"))
            continue
        for name in ORDER_TEXT:
            if not _is_text(order.get(name)):
                errors.append(RowError(f"{path}.{name}", name, "must be a string"))
        placed_at = order.get("placed_at")
        if placed_at is not None and not isinstance(placed_at, str):
            errors.append(RowError(f"{path}.placed_at", "placed_at", "must be a string"))
        if not _is_number(order.get("total_amount")):
            errors.append(RowError(f"{path}.total_amount", "total_amount", "must be a number"))
        customer = order.get("customer")
        if not isinstance(customer, dict):
            errors.append(
                RowError(f"{path}.customer", "customer", "must be an object with kind and value")
            )
            customer = {}
        for name in ("kind", "value"):
            if not _is_text(customer.get(name)):
                errors.append(RowError(f"{path}.customer.{name}", name, "must be a string"))
        lines = order.get("lines")
        if not isinstance(lines, list) or not lines:
            errors.append(RowError(f"{path}.lines", "lines", "must be a non-empty list of lines"))
            continue
        head = [
            order.get("external_id"),
            customer.get("kind"),
            customer.get("value"),
            order.get("channel"),
            order.get("store_id") if order.get("store_id") is not None else "",
            placed_at,
            order.get("currency"),
            order.get("total_amount"),
        ]
        for j, line in enumerate(lines):
            line_path = f"{path}.lines[{j}]"
            if not isinstance(line, dict):
                errors.append(RowError(line_path, "line", "must be an object"))
                continue
            for name in LINE_TEXT:
                if not _is_text(line.get(name)):
                    errors.append(RowError(f"{line_path}.{name}", name, "must be a string"))
            for name in LINE_NUMBERS:
                if not _is_number(line.get(name)):
                    errors.append(RowError(f"{line_path}.{name}", name, "must be a number"))
            rows.append(
                [
                    *head,
                    line.get("sku"),
                    line.get("name") or "",
                    line.get("quantity"),
                    line.get("unit_price"),
                    line.get("amount_paid"),
                    line.get("discount"),
                    line.get("coupon_discount"),
                    line_path,
                ]
            )
    # Object columns: keep "0012" as text and 12.5 as a number until validation decides.
    frame = pd.DataFrame(rows, columns=FRAME_COLUMNS, dtype=object)
    return frame, errors
