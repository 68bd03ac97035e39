"""Validation of an order-line frame: pure pandas, vectorised, no ORM; the core of ingestion.

`validate_lines(frame)` checks a whole batch (one row per order line, the order's columns
repeated on each of its lines) and returns either a `ValidatedBatch` ready to be written or
the list of every bad row. Checks that concern an order's columns run on the distinct
values (factorised), so a batch of 1.5 million lines does not loop over its rows in Python.
Money becomes integer cents and quantities integer thousandths here, so later steps can
format and compare them exactly without a Decimal per row.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

CUSTOMER_KINDS = ("loyalty_card", "web", "app")
CHANNELS = ("store", "web", "app")

# Column → max length, for the text columns that end up in a bounded database column.
ORDER_TEXT_COLUMNS = {
    "external_id": 64,
    "customer_kind": 20,
    "customer_value": 64,
    "channel": 8,
    "store_id": 32,
    "currency": 3,
}
REQUIRED_COLUMNS = (
    *ORDER_TEXT_COLUMNS,
    "placed_at",
    "sku",
    "quantity",
    "unit_price",
    "amount_paid",
)
OPTIONAL_COLUMNS = ("product_name", "discount", "coupon_discount", "total_amount", "row")
# The order's columns: every line of one order must carry the same values.
ORDER_COLUMNS = (*ORDER_TEXT_COLUMNS, "placed_at", "total_amount")
MONEY_COLUMNS = ("unit_price", "amount_paid", "discount", "coupon_discount")

SKU_MAX = 64
PRODUCT_NAME_MAX = 200
# DecimalField(max_digits=12, decimal_places=2) and (10, 3): keep the database from refusing.
MAX_CENTS = 10**12 - 1
MAX_MILLI = 10**10 - 1

_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class RowError:
    """One problem with one row: `row` is the caller's label (CSV row, or a JSON path)."""

    row: str
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"row": self.row, "field": self.field, "reason": self.reason}


@dataclass
class ValidatedBatch:
    """A valid batch: `orders` one row per order; `lines` one row per line, `order` its index.

    orders: external_id, customer_kind, customer_value, channel, store_id, currency,
        placed_us (int64 microseconds since the epoch, UTC), total_cents, discount_cents,
        line_count, content_hash.
    lines: order (position in `orders`), line_no (1..n per order), sku, product_name,
        quantity_milli, unit_cents, paid_cents, discount_cents, coupon_cents, row.
    """

    orders: pd.DataFrame
    lines: pd.DataFrame


class _Errors:
    """Collects (row position, field, reason) triples so errors come out in row order."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, str, object]] = []
        self.header: list[RowError] = []

    def add(self, mask: np.ndarray, field: str, reason: "str | np.ndarray") -> None:
        positions = np.flatnonzero(mask)
        if len(positions):
            reasons = reason[positions] if isinstance(reason, np.ndarray) else reason
            self._parts.append((positions, field, reasons))

    def __bool__(self) -> bool:
        return bool(self._parts or self.header)

    def to_list(self, labels: np.ndarray) -> list[RowError]:
        if not self._parts:
            return list(self.header)
        field_order = {name: i for i, name in enumerate((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS))}
        collected: list[tuple[int, int, RowError]] = []
        for positions, field, reasons in self._parts:
            rank = field_order.get(field, len(field_order))
            if isinstance(reasons, str):
                collected.extend(
                    (int(p), rank, RowError(str(labels[p]), field, reasons)) for p in positions
                )
            else:
                collected.extend(
                    (int(p), rank, RowError(str(labels[p]), field, str(r)))
                    for p, r in zip(positions, reasons, strict=True)
                )
        collected.sort(key=lambda item: (item[0], item[1]))
        return [*self.header, *(error for _, _, error in collected)]


UNSTORABLE = "contains a character that cannot be stored (NUL or an unpaired surrogate)"


def storable(value: str) -> bool:
    """Whether text can be stored: PostgreSQL takes neither NUL nor unpaired surrogates
    (which JSON can carry), and would fail the whole batch with a server error."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_storable(errors: _Errors, codes: np.ndarray, values: object, column: str) -> None:
    bad = np.array([not storable(v) for v in values], dtype=bool)
    if bad.any():
        errors.add((codes >= 0) & bad[np.maximum(codes, 0)], column, UNSTORABLE)


def _as_text(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Factorise a column as stripped text: (codes, distinct values, missing mask per row)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    distinct = list(uniques)
    if all(type(v) is str for v in distinct):
        # The usual case (CSV text, JSON strings): no per-value type checks.
        values = np.array([v.strip() for v in distinct], dtype=object)
    else:
        values = np.array([_clean_text(v) for v in distinct], dtype=object)
    missing_unique = np.array([v == "" for v in values], dtype=bool)
    missing = (codes < 0) | (missing_unique[codes] if len(values) else False)
    return codes, values, missing


def _clean_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        # A numeric id read as float ("store 42.0") means 42.
        return str(int(value))
    return str(value).strip()


def _as_number(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(float values, missing mask, not-a-number mask) for a numeric column of any dtype."""
    if pd.api.types.is_bool_dtype(series.dtype):
        values = np.full(len(series), np.nan)
        return values, np.zeros(len(series), bool), np.ones(len(series), bool)
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(values)
        return values, missing, np.zeros(len(series), bool)
    text = series.astype(object)
    blank = text.isna().to_numpy() | text.map(
        lambda v: isinstance(v, str) and not v.strip()
    ).to_numpy(dtype=bool)
    # Booleans are numbers to pandas; here they are a type error.
    is_bool = text.map(lambda v: isinstance(v, bool)).to_numpy(dtype=bool)
    values = pd.to_numeric(text.where(~(blank | is_bool), None), errors="coerce")
    values = values.to_numpy(dtype="float64", na_value=np.nan)
    bad = np.isnan(values) & ~blank
    return values, blank, bad


def _parse_timestamp(value: object) -> datetime | str:
    """A UTC datetime, or the reason the value is not an aware ISO-8601 timestamp."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return "is not an ISO-8601 timestamp"
    else:
        return "is not a timestamp"
    if moment.tzinfo is None or moment.utcoffset() is None:
        return "has no time zone offset (add Z or +01:00)"
    return moment.astimezone(UTC)


def _placed_at(
    series: pd.Series, errors: _Errors, missing: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(int64 microseconds since the epoch in UTC, bad mask) per row; records errors."""
    n = len(series)
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        stamps = series.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
        return stamps.to_numpy().view("int64"), np.zeros(n, dtype=bool)
    if pd.api.types.is_datetime64_dtype(dtype):
        errors.add(~missing, "placed_at", "has no time zone offset (add Z or +01:00)")
        return np.zeros(n, dtype="int64"), ~missing
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    micros = np.zeros(len(uniques), dtype="int64")
    reasons = np.empty(len(uniques), dtype=object)
    for i, value in enumerate(uniques):
        parsed = _parse_timestamp(value)
        if isinstance(parsed, str):
            reasons[i] = parsed
        else:
            reasons[i] = None
            micros[i] = int(parsed.timestamp()) * 1_000_000 + parsed.microsecond
    row_reason = np.where(codes >= 0, reasons[np.maximum(codes, 0)], None) if n else reasons[:0]
    bad = np.array([r is not None for r in row_reason], dtype=bool) & ~missing
    errors.add(bad, "placed_at", row_reason)
    return np.where(codes >= 0, micros[np.maximum(codes, 0)], 0), bad


def _group_first(order_codes: np.ndarray, n_orders: int) -> np.ndarray:
    """Row position of each order's first line."""
    first = np.full(n_orders, -1, dtype="int64")
    positions = np.arange(len(order_codes))
    # Assign in reverse so the earliest row wins.
    first[order_codes[::-1]] = positions[::-1]
    return first


def validate_lines(frame: pd.DataFrame) -> tuple[ValidatedBatch | None, list[RowError]]:
    """Check every rule on the whole frame; a batch with any bad row has no ValidatedBatch.

    Rules: required columns and values, types, aware timestamps, 3-letter currency, known
    customer kinds and channels, text lengths, quantity > 0, amounts >= 0, the lines of
    one order agree on the order's columns, and total_amount (when given) is the sum of
    the lines' amount_paid.
    """
    n = len(frame)
    errors = _Errors()
    frame = frame.reset_index(drop=True)
    # Labels become text only for the rows that have an error.
    labels = frame["row"].to_numpy() if "row" in frame.columns else np.arange(1, n + 1)

    missing_columns = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing_columns:
        errors.header = [RowError("header", c, "column is missing") for c in missing_columns]
        return None, errors.to_list(labels)
    if n == 0:
        return None, [RowError("header", "rows", "the batch has no lines")]

    # Text columns that belong to the order, checked on their distinct values.
    text: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for column, max_length in ORDER_TEXT_COLUMNS.items():
        codes, values, missing = _as_text(frame[column])
        if column != "store_id":
            errors.add(missing, column, "is required")
        # The currency's own rule (three capitals) says more than a length would.
        limit = max_length if column != "currency" else 10**6
        too_long = np.array([len(v) > limit for v in values], dtype=bool)
        if too_long.any():
            errors.add(
                (codes >= 0) & too_long[np.maximum(codes, 0)],
                column,
                f"is longer than {max_length} characters",
            )
        _check_storable(errors, codes, values, column)
        text[column] = (codes, values)

    def check_choice(column: str, allowed: tuple[str, ...] | None, reason: str) -> None:
        codes, values = text[column]
        if allowed is not None:
            bad_unique = np.array([v != "" and v not in allowed for v in values], dtype=bool)
        else:
            bad_unique = np.array([v != "" and not _CURRENCY.fullmatch(v) for v in values], bool)
        if bad_unique.any():
            errors.add((codes >= 0) & bad_unique[np.maximum(codes, 0)], column, reason)

    check_choice("customer_kind", CUSTOMER_KINDS, f"must be one of {', '.join(CUSTOMER_KINDS)}")
    check_choice("channel", CHANNELS, f"must be one of {', '.join(CHANNELS)}")
    check_choice("currency", None, "must be a 3-letter upper-case currency code")

    placed_missing = frame["placed_at"].isna().to_numpy()
    if frame["placed_at"].dtype == object or pd.api.types.is_string_dtype(frame["placed_at"]):
        placed_missing = placed_missing | (
            frame["placed_at"].map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(bool)
        )
    errors.add(placed_missing, "placed_at", "is required")
    placed_us, placed_bad = _placed_at(frame["placed_at"], errors, placed_missing)

    sku_codes, sku_values, sku_missing = _as_text(frame["sku"])
    errors.add(sku_missing, "sku", "is required")
    sku_long = np.array([len(v) > SKU_MAX for v in sku_values], dtype=bool)
    if sku_long.any():
        errors.add(sku_long[np.maximum(sku_codes, 0)], "sku", f"is longer than {SKU_MAX}")
    _check_storable(errors, sku_codes, sku_values, "sku")

    if "product_name" in frame.columns:
        name_codes, name_values, _ = _as_text(frame["product_name"])
        name_long = np.array([len(v) > PRODUCT_NAME_MAX for v in name_values], dtype=bool)
        if name_long.any():
            errors.add(
                (name_codes >= 0) & name_long[np.maximum(name_codes, 0)],
                "product_name",
                f"is longer than {PRODUCT_NAME_MAX} characters",
            )
        _check_storable(errors, name_codes, name_values, "product_name")
    else:
        name_codes, name_values = np.full(n, -1), np.array([], dtype=object)

    # Numbers: quantity in thousandths, money in cents, as int64.
    quantity, q_missing, q_bad = _as_number(frame["quantity"])
    errors.add(q_missing, "quantity", "is required")
    errors.add(q_bad, "quantity", "is not a number")
    q_ok = ~(q_missing | q_bad)
    errors.add(q_ok & ~(quantity > 0), "quantity", "must be greater than 0")
    errors.add(q_ok & (quantity * 1000 > MAX_MILLI), "quantity", "is too large")
    quantity_milli = np.round(np.nan_to_num(quantity) * 1000).astype("int64")

    cents: dict[str, np.ndarray] = {}
    for column in MONEY_COLUMNS:
        if column not in frame.columns:
            cents[column] = np.zeros(n, dtype="int64")
            continue
        values, missing, bad = _as_number(frame[column])
        if column in ("unit_price", "amount_paid"):
            errors.add(missing, column, "is required")
        errors.add(bad, column, "is not a number")
        ok = ~(missing | bad)
        errors.add(ok & (values < 0), column, "must not be negative")
        errors.add(ok & (np.abs(values) * 100 > MAX_CENTS), column, "is too large")
        cents[column] = np.round(np.nan_to_num(values) * 100).astype("int64")

    order_codes, _ = text["external_id"]
    n_orders = int(order_codes.max()) + 1 if n else 0
    valid_order = order_codes >= 0
    safe_codes = np.maximum(order_codes, 0)
    first = _group_first(order_codes[valid_order], n_orders) if n_orders else np.array([], int)
    # Map back from the filtered positions to frame positions.
    first = np.flatnonzero(valid_order)[first] if n_orders else first
    first_of_row = first[safe_codes] if n_orders else np.zeros(n, int)

    def check_agreement(
        column: str, values: np.ndarray, unusable: np.ndarray | None = None
    ) -> None:
        differs = valid_order & (values != values[first_of_row])
        if unusable is not None:
            # A value already reported as bad is not also reported as disagreeing.
            differs &= ~unusable & ~unusable[first_of_row]
        if differs.any():
            reason = (
                np.array(
                    [f"differs from this order's first line ({labels[f]})" for f in first_of_row],
                    dtype=object,
                )
                if differs.sum() > 0
                else None
            )
            errors.add(differs, column, reason)

    for column in ORDER_TEXT_COLUMNS:
        if column != "external_id":
            check_agreement(column, text[column][0])
    check_agreement("placed_at", placed_us, placed_bad | placed_missing)

    paid_by_order = (
        np.bincount(safe_codes[valid_order], cents["amount_paid"][valid_order], minlength=n_orders)
        if n_orders
        else np.array([])
    )
    # The order's totals are stored in the same columns as one line's amounts: each line
    # can be within the limit and the order's sum not.
    if n_orders:
        saved = cents["discount"] + cents["coupon_discount"]
        saved_by_order = np.bincount(safe_codes[valid_order], saved[valid_order], n_orders)
        limit = f"{MAX_CENTS / 100:.2f}"
        errors.add(
            valid_order & (paid_by_order[safe_codes] > MAX_CENTS),
            "total_amount",
            f"the lines' amount_paid add up to more than {limit}",
        )
        errors.add(
            valid_order & (saved_by_order[safe_codes] > MAX_CENTS),
            "discount",
            f"the order's discounts add up to more than {limit}",
        )
    if "total_amount" in frame.columns:
        total, t_missing, t_bad = _as_number(frame["total_amount"])
        errors.add(t_bad, "total_amount", "is not a number")
        total_cents = np.where(t_missing | t_bad, -1, np.round(np.nan_to_num(total) * 100))
        total_cents = total_cents.astype("int64")
        check_agreement("total_amount", total_cents)
        given = valid_order & (total_cents >= 0)
        paid_sum = np.round(paid_by_order).astype("int64")[safe_codes] if n_orders else 0
        mismatch = given & (total_cents != paid_sum)
        if mismatch.any():
            reasons = np.array(
                [f"is not the sum of the lines' amount_paid ({c / 100:.2f})" for c in paid_sum],
                dtype=object,
            )
            errors.add(mismatch, "total_amount", reasons)

    if errors:
        return None, errors.to_list(labels)
    return _build_batch(
        labels=labels,
        order_codes=order_codes,
        n_orders=n_orders,
        first=first,
        text=text,
        placed_us=placed_us,
        sku_codes=sku_codes,
        sku_values=sku_values,
        name_codes=name_codes,
        name_values=name_values,
        quantity_milli=quantity_milli,
        cents=cents,
    ), []


def _build_batch(
    *,
    labels: np.ndarray,
    order_codes: np.ndarray,
    n_orders: int,
    first: np.ndarray,
    text: dict[str, tuple[np.ndarray, np.ndarray]],
    placed_us: np.ndarray,
    sku_codes: np.ndarray,
    sku_values: np.ndarray,
    name_codes: np.ndarray,
    name_values: np.ndarray,
    quantity_milli: np.ndarray,
    cents: dict[str, np.ndarray],
) -> ValidatedBatch:
    # Lines grouped by order, keeping each order's lines in their frame order.
    if np.all(order_codes[1:] >= order_codes[:-1]):
        sort = np.arange(len(order_codes))
    else:
        sort = np.argsort(order_codes, kind="stable")
    codes_sorted = order_codes[sort]
    line_count = np.bincount(codes_sorted, minlength=n_orders)
    starts = np.concatenate(([0], np.cumsum(line_count)[:-1]))
    line_no = np.arange(len(sort)) - starts[codes_sorted] + 1

    names = np.where(name_codes >= 0, name_codes, -1)[sort]
    lines = pd.DataFrame(
        {
            "order": codes_sorted,
            "line_no": line_no,
            "sku": sku_values[sku_codes[sort]],
            "product_name": (
                name_values[np.maximum(names, 0)]
                if len(name_values)
                else np.full(len(sort), "", dtype=object)
            ),
            "quantity_milli": quantity_milli[sort],
            "unit_cents": cents["unit_price"][sort],
            "paid_cents": cents["amount_paid"][sort],
            "discount_cents": cents["discount"][sort],
            "coupon_cents": cents["coupon_discount"][sort],
            "row": labels[sort],
        }
    )
    if len(name_values):
        lines.loc[names < 0, "product_name"] = ""

    orders = pd.DataFrame(
        {column: values[codes[first]] for column, (codes, values) in text.items()}
    )
    orders["placed_us"] = placed_us[first]
    orders["total_cents"] = np.bincount(codes_sorted, lines["paid_cents"], minlength=n_orders)
    orders["total_cents"] = orders["total_cents"].round().astype("int64")
    discount = lines["discount_cents"].to_numpy() + lines["coupon_cents"].to_numpy()
    orders["discount_cents"] = np.bincount(codes_sorted, discount, minlength=n_orders)
    orders["discount_cents"] = orders["discount_cents"].round().astype("int64")
    orders["line_count"] = line_count
    orders["content_hash"] = _content_hashes(orders, lines, starts, line_count)
    return ValidatedBatch(orders=orders, lines=lines)


def _content_hashes(
    orders: pd.DataFrame, lines: pd.DataFrame, starts: np.ndarray, counts: np.ndarray
) -> list[str]:
    """SHA-256 over the order's normalised columns and its lines (sorted, so order-free).

    The digest of one order is sha256("kind|value|channel|store|placed_us|currency" "\n"
    + the lines' "sku|quantity_milli|unit_cents|paid_cents|discount_cents|coupon_cents"
    sorted by code point and joined by "\n"), UTF-8. Stored orders keep their digest, so
    this recipe must never change. Amounts enter as integer cents and quantities as
    thousandths, so "12.5" and "12.50" hash alike; product names do not enter: they are
    hints for the catalog, not the order. The texts are built and sorted by Arrow (byte
    order of UTF-8 is code point order); only the join and the digest run per order.
    """
    header = pc.binary_join_element_wise(
        *(_arrow_text(orders[c]) for c in HASHED_ORDER_COLUMNS), "|"
    ).to_pylist()
    line_text = pc.binary_join_element_wise(
        *(_arrow_text(lines[c]) for c in HASHED_LINE_COLUMNS), "|"
    )
    # Lines are grouped by order already; sort by text within each order.
    order_of_line = np.repeat(np.arange(len(counts)), counts)
    by_text = pc.sort_indices(
        pa.table({"order": order_of_line, "text": line_text}),
        sort_keys=[("order", "ascending"), ("text", "ascending")],
    )
    texts = line_text.take(by_text).to_pylist()
    return [
        hashlib.sha256(f"{head}\n{chr(10).join(texts[start : start + count])}".encode()).hexdigest()
        for head, start, count in zip(header, starts.tolist(), counts.tolist(), strict=True)
    ]


HASHED_ORDER_COLUMNS = (
    "customer_kind",
    "customer_value",
    "channel",
    "store_id",
    "placed_us",
    "currency",
)
HASHED_LINE_COLUMNS = (
    "sku",
    "quantity_milli",
    "unit_cents",
    "paid_cents",
    "discount_cents",
    "coupon_cents",
)


def _arrow_text(column: pd.Series) -> pa.Array:
    values = column.to_numpy()
    if values.dtype.kind in "iu":
        return pc.cast(pa.array(values), pa.string())
    return pa.array(values.astype(object), pa.string())
