"""Order ingestion: validate a whole batch, store it in one transaction, queue refreshes.

Every entrance (the API, `manage.py import_orders`, the demo loader, the benchmark) calls
`ingest_lines` with one frame, or `ingest_orders` with nested JSON-like orders. A batch is
all or nothing: any bad row, or any order whose id is already stored with other content,
and nothing is written. Orders are idempotent on (source, external_id).
"""

import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, Q
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter

from accounts.models import Customer, CustomerIdentifier
from insights.catalog.models import Product
from insights.purchases import pgcopy
from insights.purchases.ingest import (
    PRODUCT_NAME_MAX,
    UNSTORABLE,
    RowError,
    ValidatedBatch,
    storable,
    validate_lines,
)
from insights.purchases.models import Order, OrderLine, PendingRefresh
from insights.purchases.orders_frame import orders_to_frame

logger = logging.getLogger(__name__)

__all__ = [
    "IngestResult",
    "RowError",
    "ingest_lines",
    "ingest_orders",
    "queue_refreshes",
]

SOURCE_MAX = Order._meta.get_field("source").max_length
# A concurrent batch that stores one of our new orders or customers first makes ours fail
# on a unique constraint; the retry then sees them as stored (duplicate or conflict).
ATTEMPTS = 3
STALE_PENDING = timedelta(hours=1)


@dataclass
class IngestResult:
    """What a batch did (or, with dry_run, would do). `ok` when it had no error."""

    orders_created: int = 0
    lines_created: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)
    customer_ids_touched: set[int] = field(default_factory=set)
    customers_created: int = 0
    products_created: int = 0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def ingest_orders(*, source: str, orders: list[dict], dry_run: bool = False) -> IngestResult:
    """Ingest nested orders (the API's JSON); structural errors are reported per JSON path.

    Each order: {external_id, customer: {kind, value}, channel, store_id, placed_at,
    currency, total_amount?, lines: [{sku, name?, quantity, unit_price, amount_paid,
    discount?, coupon_discount?}]}. Row labels look like "orders[2].lines[0]".
    """
    frame, structural = orders_to_frame(orders)
    if structural:
        return IngestResult(errors=structural, dry_run=dry_run)
    result = ingest_lines(source=source, lines=frame, dry_run=dry_run)
    # Line rows are labelled "orders[i].lines[j]"; say which field: "orders[i].lines[j].sku".
    # An order's column is reported once per order, not once per line.
    result.errors = list(dict.fromkeys(_json_path(error) for error in result.errors))
    return result


def _json_path(error: RowError) -> RowError:
    if not error.row.startswith("orders["):
        return error
    json_field = {
        "product_name": "name",
        "customer_kind": "customer.kind",
        "customer_value": "customer.value",
    }.get(error.field, error.field)
    line_fields = {
        "sku",
        "name",
        "quantity",
        "unit_price",
        "amount_paid",
        "discount",
        "coupon_discount",
    }
    row = error.row
    if json_field not in line_fields:
        row = row.split(".lines[", 1)[0]
    return RowError(f"{row}.{json_field}", error.field, error.reason)


def ingest_lines(
    *, source: str, lines: pd.DataFrame, dry_run: bool = False, queue_refresh: bool = True
) -> IngestResult:
    """Validate and store one batch of order lines (one row per line, order columns repeated).

    Columns: external_id, customer_kind, customer_value, channel, store_id, placed_at
    (aware datetime or ISO-8601 with offset), currency, sku, product_name?, quantity,
    unit_price, amount_paid, discount?, coupon_discount?, total_amount?, row (the label used
    in errors). Amounts are stored at 2 decimals, quantities at 3. Unknown customers and
    SKUs are created (products unreviewed). Writes happen in one transaction; refreshes of
    the touched shoppers are queued when it commits, unless `queue_refresh` is False (a bulk
    load that queues them once at its end, through `queue_refreshes`).
    """
    source = (source or "").strip()
    if not source or len(source) > SOURCE_MAX:
        reason = f"is required and at most {SOURCE_MAX} characters"
        return IngestResult(errors=[RowError("source", "source", reason)], dry_run=dry_run)
    if not storable(source):
        return IngestResult(errors=[RowError("source", "source", UNSTORABLE)], dry_run=dry_run)
    batch, errors = validate_lines(lines)
    if batch is None:
        return IngestResult(errors=errors, dry_run=dry_run)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _store(source=source, batch=batch, dry_run=dry_run, queue_refresh=queue_refresh)
        except IntegrityError:
            if attempt == ATTEMPTS:
                raise
            logger.info("ingest of %s raced another batch; retrying (%d)", source, attempt)
    raise AssertionError("unreachable")


def _chunk_size() -> int:
    limit = connection.features.max_query_params or 5000
    return max(100, min(5000, limit - 10))


def _chunks(values: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _store(
    *, source: str, batch: ValidatedBatch, dry_run: bool, queue_refresh: bool = True
) -> IngestResult:
    orders, lines = batch.orders, batch.lines
    result = IngestResult(dry_run=dry_run)
    with transaction.atomic():
        stored = _stored_hashes(source, orders["external_id"].tolist())
        is_stored = orders["external_id"].map(stored).notna() if stored else None
        if is_stored is not None and is_stored.any():
            stored_hash = orders["external_id"].map(stored)
            conflict = (is_stored & (stored_hash != orders["content_hash"])).to_numpy()
            if conflict.any():
                conflicted = np.flatnonzero(conflict)
                rows = lines[np.isin(lines["order"].to_numpy(), conflicted)]
                ids = orders["external_id"].to_numpy()
                result.errors = [
                    RowError(
                        str(row),
                        "external_id",
                        f"order {ids[order]} from {source} is already stored with "
                        "different content",
                    )
                    for row, order in zip(rows["row"], rows["order"], strict=True)
                ]
                return result
            result.duplicates = int(is_stored.sum())
            keep = np.flatnonzero(~is_stored.to_numpy())
            orders, lines = _subset(orders, lines, keep)
        if orders.empty:
            return result

        result.orders_created = len(orders)
        result.lines_created = len(lines)
        customer_ids, new_customers = _resolve_customers(orders)
        product_ids, new_products = _resolve_products(lines)
        result.customers_created = len(new_customers)
        result.products_created = len(new_products)
        if dry_run:
            return result

        if new_customers:
            customer_ids.update(_create_customers(new_customers))
        if new_products:
            product_ids.update(_create_products(new_products, lines))

        order_customer = _map_keys(
            orders["customer_kind"] + "\x00" + orders["customer_value"], customer_ids
        )
        line_product = _map_keys(lines["sku"], product_ids)
        _write(source, orders, lines, order_customer, line_product)
        result.customer_ids_touched = set(np.unique(order_customer).tolist())
        if queue_refresh:
            transaction.on_commit(
                partial(queue_refreshes, customer_ids=sorted(result.customer_ids_touched))
            )
    return result


def _subset(
    orders: pd.DataFrame, lines: pd.DataFrame, keep: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep these order positions and their lines, renumbering `lines.order` to match."""
    renumber = np.full(len(orders), -1, dtype="int64")
    renumber[keep] = np.arange(len(keep))
    kept_lines = lines[renumber[lines["order"].to_numpy()] >= 0].copy()
    kept_lines["order"] = renumber[kept_lines["order"].to_numpy()]
    return orders.iloc[keep].reset_index(drop=True), kept_lines.reset_index(drop=True)


def _map_keys(keys: pd.Series, mapping: dict[str, int]) -> np.ndarray:
    codes, uniques = pd.factorize(keys)
    ids = np.fromiter((mapping[key] for key in uniques), dtype="int64", count=len(uniques))
    return ids[codes]


def _lookup(
    model: type,
    key: str,
    value: str,
    keys: list[str],
    where: str = "",
    params: Sequence = (),
    *,
    lock: bool = False,
) -> dict:
    """{key: value} for the rows whose `key` column is in `keys`, in as few queries as can be.

    Raw SQL because building a Django IN lookup of thousands of values costs more than the
    query itself; PostgreSQL takes the keys as one array parameter. With `lock` the rows
    are locked FOR KEY SHARE on PostgreSQL (no one can delete them until commit), as a
    foreign-key check would lock them.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    key_column = connection.ops.quote_name(model._meta.get_field(key).column)
    value_column = connection.ops.quote_name(model._meta.get_field(value).column)
    select = f"SELECT {key_column}, {value_column} FROM {table} WHERE {where}"  # noqa: S608  # nosec B608
    found: dict = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            suffix = " FOR KEY SHARE" if lock else ""
            cursor.execute(f"{select} {key_column} = ANY(%s){suffix}", [*params, list(keys)])
            return dict(cursor.fetchall())
        for chunk in _chunks(keys, _chunk_size()):
            placeholders = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"{select} {key_column} IN ({placeholders})", [*params, *chunk])
            found.update(cursor.fetchall())
    return found


def _stored_hashes(source: str, external_ids: list[str]) -> dict[str, str]:
    return _lookup(Order, "external_id", "content_hash", external_ids, "source = %s AND", [source])


def _resolve_customers(orders: pd.DataFrame) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Existing customers by "kind\\0value", and the (kind, value) pairs that are new."""
    pairs = orders[["customer_kind", "customer_value"]].drop_duplicates()
    known: dict[str, int] = {}
    for kind, group in pairs.groupby("customer_kind"):
        rows = _lookup(
            CustomerIdentifier,
            "value",
            "customer",
            group["customer_value"].tolist(),
            "kind = %s AND",
            [kind],
        )
        known.update((f"{kind}\x00{value}", customer) for value, customer in rows.items())
    # Sorted, so that concurrent batches creating the same identifiers take their locks in
    # one order: one waits for the other (then retries on the unique key) instead of both
    # deadlocking.
    new = sorted(
        (kind, value)
        for kind, value in zip(pairs["customer_kind"], pairs["customer_value"], strict=True)
        if f"{kind}\x00{value}" not in known
    )
    return known, new


def _create_customers(pairs: list[tuple[str, str]]) -> dict[str, int]:
    # Orders arrive before sign-up: the customer exists with its identifier, no login yet.
    customers = Customer.objects.bulk_create([Customer() for _ in pairs], batch_size=2000)
    CustomerIdentifier.objects.bulk_create(
        [
            CustomerIdentifier(customer_id=customer.pk, kind=kind, value=value)
            for customer, (kind, value) in zip(customers, pairs, strict=True)
        ],
        batch_size=2000,
    )
    return {f"{kind}\x00{value}": c.pk for c, (kind, value) in zip(customers, pairs, strict=True)}


def _resolve_products(lines: pd.DataFrame) -> tuple[dict[str, int], list[str]]:
    skus = pd.unique(lines["sku"]).tolist()
    known = _product_ids(skus)
    # Sorted for the same reason as new customers: one lock order across concurrent batches.
    return known, sorted(sku for sku in skus if sku not in known)


def _product_ids(skus: list[str]) -> dict[str, int]:
    # Locked: these ids go into order lines whose per-row foreign-key check may be skipped.
    return _lookup(Product, "sku", "id", skus, lock=True)


def _create_products(skus: list[str], lines: pd.DataFrame) -> dict[str, int]:
    """Unknown SKUs become unreviewed products, listed for the catalog admins; never dropped."""
    named = lines.loc[lines["product_name"] != "", ["sku", "product_name"]]
    names = dict(named.drop_duplicates("sku").itertuples(index=False, name=None))
    now = timezone.now()
    template = Product(sku="", name="", reviewed=False, category=None, created_at=now)
    rows = [(sku, (names.get(sku) or f"Unknown product {sku}")[:PRODUCT_NAME_MAX]) for sku in skus]
    if connection.vendor == "postgresql" and len(rows) > 200:
        _copy_products(template, rows)
    elif connection.vendor == "sqlite" and len(rows) > 200:
        _insert_products(template, rows)
    else:
        Product.objects.bulk_create(
            [
                Product(**{**_field_values(template), "sku": sku, "name": name})
                for sku, name in rows
            ],
            batch_size=2000,
            # Another batch may create the same SKU at the same moment; both then read its id.
            ignore_conflicts=True,
        )
    return _product_ids(skus)


def _field_values(template: Product) -> dict[str, object]:
    return {
        f.attname: getattr(template, f.attname)
        for f in Product._meta.concrete_fields
        if not f.primary_key
    }


def _product_columns(template: Product) -> tuple[list[str], list[object], int, int]:
    """Columns of Product, the template's database values, and where sku and name go."""
    fields = [f for f in Product._meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(template, add=True), connection) for f in fields]
    names = [f.name for f in fields]
    columns = [connection.ops.quote_name(f.column) for f in fields]
    return columns, values, names.index("sku"), names.index("name")


def _insert_products(template: Product, rows: list[tuple[str, str]]) -> None:
    """Many new SKUs at once on SQLite: one executemany, skipping SKUs created meanwhile."""
    columns, values, sku_at, name_at = _product_columns(template)
    table = connection.ops.quote_name(Product._meta.db_table)
    placeholders = ", ".join(["%s"] * len(columns))
    params = []
    for sku, name in rows:
        values[sku_at], values[name_at] = sku, name
        params.append(tuple(values))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "  # noqa: S608  # nosec B608
            "ON CONFLICT (sku) DO NOTHING",
            params,
        )


def _copy_products(template: Product, rows: list[tuple[str, str]]) -> None:
    """Many new SKUs at once on PostgreSQL: COPY into a temporary table, then one INSERT.

    Every column but sku and name takes the template's value as Django would save it, so
    fields the catalog adds later need no change here. ON CONFLICT DO NOTHING lets a
    concurrent batch create the same SKU first.
    """
    column_list, values, sku_at, name_at = _product_columns(template)
    table = connection.ops.quote_name(Product._meta.db_table)
    columns = ", ".join(column_list)
    # COPY goes through psycopg's own cursor; wrap_database_errors turns its errors (a lost
    # connection above all) into Django's, as every other query here raises them.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.execute(
            f"CREATE TEMPORARY TABLE kvitto_new_products ON COMMIT DROP AS "  # noqa: S608  # nosec B608
            f"SELECT {columns} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY kvitto_new_products ({columns}) FROM STDIN") as copy:
            for sku, name in rows:
                values[sku_at], values[name_at] = sku, name
                copy.write_row(values)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM kvitto_new_products "  # noqa: S608  # nosec B608
            "ORDER BY sku ON CONFLICT (sku) DO NOTHING"
        )
        cursor.execute("DROP TABLE kvitto_new_products")


def _decimal(cents: np.ndarray, scale: int) -> pa.Array:
    """An exact Arrow decimal column from integer minor units (no float, no Decimal per row)."""
    words = np.zeros((len(cents), 2), dtype="int64")
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)
    return pa.Array.from_buffers(
        pa.decimal128(18, scale), len(cents), [None, pa.py_buffer(words.tobytes())]
    )


def _columns(model: type, names: list[str]) -> str:
    return ", ".join(connection.ops.quote_name(model._meta.get_field(n).column) for n in names)


ORDER_FIELDS = [
    "id",
    "customer",
    "source",
    "external_id",
    "channel",
    "store_id",
    "placed_at",
    "currency",
    "total_amount",
    "total_discount",
    "line_count",
    "content_hash",
    "received_at",
]
LINE_FIELDS = [
    "order",
    "customer",
    "placed_at",
    "line_no",
    "product",
    "quantity",
    "unit_price",
    "amount_paid",
    "discount",
    "coupon_discount",
]


def _write(
    source: str,
    orders: pd.DataFrame,
    lines: pd.DataFrame,
    order_customer: np.ndarray,
    line_product: np.ndarray,
) -> None:
    # Rows go in (customer, placed_at) order with ids ascending along it: every index of
    # the line table then grows at its right edge instead of at random leaves, and a
    # shopper's lines sit together on disk, which is how history is read.
    line_order = lines["order"].to_numpy()
    order_sort = np.lexsort((orders["placed_us"].to_numpy(), order_customer))
    rank = np.empty(len(orders), dtype="int64")
    rank[order_sort] = np.arange(len(orders))
    order_ids = np.sort(_reserve_order_ids(len(orders)))[rank]
    line_sort = np.lexsort((lines["line_no"].to_numpy(), rank[line_order]))
    placed_us = orders["placed_us"].to_numpy()
    placed = pa.array(placed_us, type=pa.timestamp("us", tz="UTC"))
    received_us = int(timezone.now().timestamp() * 1_000_000)
    order_table = pa.table(
        {
            "id": order_ids,
            "customer": order_customer,
            "source": pa.array(np.full(len(orders), source, dtype=object), pa.string()),
            "external_id": pa.array(orders["external_id"].to_numpy(), pa.string()),
            "channel": pa.array(orders["channel"].to_numpy(), pa.string()),
            "store_id": pa.array(orders["store_id"].to_numpy(), pa.string()),
            "placed_at": placed,
            "currency": pa.array(orders["currency"].to_numpy(), pa.string()),
            "total_amount": _decimal(orders["total_cents"].to_numpy(), 2),
            "total_discount": _decimal(orders["discount_cents"].to_numpy(), 2),
            "line_count": orders["line_count"].to_numpy(),
            "content_hash": pa.array(orders["content_hash"].to_numpy(), pa.string()),
            "received_at": pa.array(
                np.full(len(orders), received_us), type=pa.timestamp("us", tz="UTC")
            ),
        }
    ).take(order_sort)
    # Lines as int64 units in the written order: ids, microseconds, cents, thousandths.
    sorted_order = line_order[line_sort]
    line_units = {
        "order": order_ids[sorted_order],
        "customer": order_customer[sorted_order],
        "placed_at": placed_us[sorted_order],
        "line_no": lines["line_no"].to_numpy()[line_sort],
        "product": line_product[line_sort],
        "quantity": lines["quantity_milli"].to_numpy()[line_sort],
        "unit_price": lines["unit_cents"].to_numpy()[line_sort],
        "amount_paid": lines["paid_cents"].to_numpy()[line_sort],
        "discount": lines["discount_cents"].to_numpy()[line_sort],
        "coupon_discount": lines["coupon_cents"].to_numpy()[line_sort],
    }
    if connection.vendor == "postgresql":
        _copy_checked(
            order_table,
            line_units,
            customer_ids=np.unique(order_customer),
            product_ids=np.unique(line_product),
            order_ids=order_ids,
        )
    else:
        _insert_many(Order, ORDER_FIELDS, order_table)
        _insert_many(OrderLine, LINE_FIELDS, _arrow_table(OrderLine, line_units))


def _arrow_table(model: type, units: dict[str, np.ndarray]) -> pa.Table:
    """An Arrow table of the model's types from int64 units (cents, microseconds, ids)."""
    columns = {}
    for name, values in units.items():
        field = model._meta.get_field(name)
        if field.get_internal_type() == "DecimalField":
            columns[name] = _decimal(values, field.decimal_places)
        elif field.get_internal_type() == "DateTimeField":
            columns[name] = pa.array(values, type=pa.timestamp("us", tz="UTC"))
        else:
            columns[name] = pa.array(values)
    return pa.table(columns)


def _copy_checked(
    order_table: pa.Table,
    line_units: dict[str, np.ndarray],
    *,
    customer_ids: np.ndarray,
    product_ids: np.ndarray,
    order_ids: np.ndarray,
) -> None:
    """COPY the orders and lines, checking their foreign keys set-wise rather than per row.

    The foreign keys of orders (customer) and lines (order, product) stay in the database
    for every writer. PostgreSQL checks them with a trigger per row at commit, which was
    half of the whole load (2.9 million look-ups for a full history). This path checks the
    same thing once per distinct key instead, in the same transaction:

    * every line's order is one of the orders copied just before, invisible to others;
    * every customer exists and is locked FOR KEY SHARE until commit, as the per-row check
      would have locked it, so no other transaction can delete it in between;
    * every product exists; it was locked the same way where its id was read
      (`_product_ids`, the only source of line product ids).

    Only then are the rows copied with `session_replication_role = replica`, which skips
    triggers (and with them the per-row checks) for the two COPYs alone; unique indexes
    and CHECK constraints still apply. Setting it needs a superuser or, on PostgreSQL 15+,
    `GRANT SET ON PARAMETER session_replication_role`; without that right the per-row
    checks run as before.
    """
    if not np.isin(line_units["order"], order_ids).all():
        raise IntegrityError("a line points at an order outside its batch")
    _lock_existing(Customer, customer_ids)
    _lock_existing(Product, product_ids, lock=False)
    skip_triggers = _may_skip_triggers()
    with connection.cursor() as cursor:
        if skip_triggers:
            cursor.execute("SET LOCAL session_replication_role = replica")
        _copy(Order, ORDER_FIELDS, order_table)
        _copy_binary(OrderLine, line_units)
        if skip_triggers:
            # Not in a finally: after an error the transaction is aborted and rolls it back.
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def _lock_existing(model: type, ids: np.ndarray, *, lock: bool = True) -> None:
    """IntegrityError unless every id exists; with `lock`, lock them FOR KEY SHARE until commit.

    Without `lock` only for rows this transaction has locked already (products, read by
    `_product_ids`): the count is a cheap last check that every line's product exists.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    suffix = " FOR KEY SHARE" if lock else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE id = ANY(%s){suffix}) found",  # noqa: S608  # nosec B608
            [ids.tolist()],
        )
        found = cursor.fetchone()[0]
    if found != len(ids):
        raise IntegrityError(
            f"{len(ids) - found} referenced {model._meta.db_table} rows do not exist"
        )


def _may_skip_triggers() -> bool:
    with connection.cursor() as cursor:
        if connection.pg_version >= 150000:
            cursor.execute(
                "SELECT current_setting('is_superuser') = 'on' "
                "OR has_parameter_privilege('session_replication_role', 'SET')"
            )
        else:
            cursor.execute("SELECT current_setting('is_superuser') = 'on'")
        return bool(cursor.fetchone()[0])


def _reserve_order_ids(count: int) -> np.ndarray:
    """Ids for the new orders, taken before writing so lines can point at them."""
    table = connection.ops.quote_name(Order._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [Order._meta.db_table, count],
            )
            return np.array([row[0] for row in cursor.fetchall()], dtype="int64")
        # SQLite: the transaction already holds the write lock (transaction_mode IMMEDIATE),
        # so no other writer can take these ids; a clash would still fail on the primary
        # key and be retried.
        # Past AUTOINCREMENT's high-water mark too, so a deleted order's id is never reused.
        cursor.execute(
            f"SELECT MAX(n) FROM (SELECT COALESCE(MAX(id), 0) AS n FROM {table} "  # noqa: S608  # nosec B608
            "UNION ALL SELECT seq FROM sqlite_sequence WHERE name = %s)",
            [Order._meta.db_table],
        )
        start = cursor.fetchone()[0] + 1
    return np.arange(start, start + count, dtype="int64")


def _copy(model: type, names: list[str], table: pa.Table) -> None:
    """PostgreSQL COPY FROM STDIN in CSV, rendered by Arrow: the fastest bulk write there is."""
    sql = (
        f"COPY {connection.ops.quote_name(model._meta.db_table)} ({_columns(model, names)}) "  # noqa: S608
        "FROM STDIN WITH (FORMAT csv)"
    )
    options = pa_csv.WriteOptions(include_header=False, batch_size=65536)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor
        # A writer thread sends each block while Arrow renders the next one.
        with raw.copy(sql, writer=QueuedLibpqWriter(raw)) as copy:
            step = 100_000
            for start in range(0, table.num_rows, step):
                buffer = io.BytesIO()
                pa_csv.write_csv(table.slice(start, step), buffer, options)
                copy.write(buffer.getvalue())


def _copy_binary(model: type, units: dict[str, np.ndarray], step: int = 200_000) -> None:
    """COPY FROM STDIN in binary from int64 units (see pgcopy): no text on either side.

    Falls back to CSV when a column has a type the binary encoder does not write.
    """
    fields = [model._meta.get_field(name) for name in units]
    try:
        layout = pgcopy.row_layout([(f.name, f.db_type(connection)) for f in fields])
    except pgcopy.UnsupportedColumn:
        logger.warning("binary COPY of %s not possible; using CSV", model._meta.db_table)
        _copy(model, list(units), _arrow_table(model, units))
        return
    sql = (
        f"COPY {connection.ops.quote_name(model._meta.db_table)} "  # noqa: S608
        f"({_columns(model, list(units))}) FROM STDIN WITH (FORMAT binary)"
    )
    total = len(next(iter(units.values())))
    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor
        with raw.copy(sql, writer=QueuedLibpqWriter(raw)) as copy:
            copy.write(pgcopy.SIGNATURE)
            for start in range(0, total, step):
                chunk = {name: values[start : start + step] for name, values in units.items()}
                copy.write(pgcopy.encode(layout, chunk))
            copy.write(pgcopy.TRAILER)


def _insert_many(model: type, names: list[str], table: pa.Table) -> None:
    """SQLite: executemany over plain tuples (decimals as exact strings, times as UTC text)."""
    columns = []
    for name in names:
        column = table.column(name)
        if pa.types.is_decimal(column.type):
            column = pc.cast(column, pa.string())
        elif pa.types.is_timestamp(column.type):
            # Django's SQLite format for an aware datetime: naive UTC "YYYY-MM-DD HH:MM:SS.ffffff".
            column = pc.strftime(column, format="%Y-%m-%d %H:%M:%S.%f")  # type: ignore[attr-defined]
            column = pc.utf8_slice_codeunits(column, 0, 26)
        columns.append(column.to_pylist())
    placeholders = ", ".join(["%s"] * len(names))
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} "  # noqa: S608  # nosec B608
        f"({_columns(model, names)}) VALUES ({placeholders})"
    )
    rows = list(zip(*columns, strict=True))
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, 50_000):
            cursor.executemany(sql, chunk)


def queue_refreshes(*, customer_ids: Iterable[int]) -> list[int]:
    """Queue a refresh for each customer that has a login; returns those queued now.

    Debounced on both edges, per shopper, with W = `REFRESH_DEBOUNCE_SECONDS`:

    * leading: when the shopper's last refresh began W seconds ago or more (or never),
      the refresh is queued at once (countdown 0), so one new order reaches the lists
      within the worker's own time;
    * trailing: within W seconds of a refresh's start, one more refresh is queued for the
      end of the window, and every later order in the window joins it. A burst of orders
      is therefore about two refreshes, and a steady stream one every W seconds.

    A shopper with a refresh queued and not yet begun needs nothing more: the task begins
    after this commit, so it sees these orders. Every decision is a conditional UPDATE on
    the shopper's PendingRefresh row, so processes racing on one shopper queue one task.
    """
    from insights.purchases.tasks import refresh_shopper_task

    ids = list(customer_ids)
    if not ids:
        return []
    linked: list[int] = []
    for chunk in _chunks(ids, _chunk_size()):
        linked.extend(
            Customer.objects.filter(pk__in=chunk, user__isnull=False).values_list("pk", flat=True)
        )
    if not linked:
        return []
    window = timedelta(seconds=getattr(settings, "REFRESH_DEBOUNCE_SECONDS", 10))
    queued = []
    # In the caller's order: a bulk load puts the shoppers it wants ready first at the front.
    position = {customer_id: index for index, customer_id in enumerate(ids)}
    for customer_id in sorted(set(linked), key=position.__getitem__):
        due_at = _claim_refresh(customer_id, window)
        if due_at is None:
            continue
        countdown = max(0.0, (due_at - timezone.now()).total_seconds())
        try:
            refresh_shopper_task.apply_async(args=[customer_id], countdown=countdown)
        except Exception:
            # Without its task the claim would hold back every later refresh of this shopper.
            PendingRefresh.objects.filter(customer_id=customer_id, due_at=due_at).update(
                due_at=None
            )
            logger.exception("could not queue the refresh of customer %s", customer_id)
            continue
        queued.append(customer_id)
    return queued


def refresh_queued(user_id: Any) -> Exists:
    """True while a refresh of this login's orders is queued and has not begun.

    `user_id` is a value or an `OuterRef`. It covers the debounce window: an order that
    arrives within `REFRESH_DEBOUNCE_SECONDS` of the last refresh waits for the window's
    end, and the pages that derive from history say they are updating meanwhile. A claim
    older than `STALE_PENDING` is a lost task, not a refresh on its way.
    """
    return Exists(
        PendingRefresh.objects.filter(
            customer__user_id=user_id, due_at__gte=timezone.now() - STALE_PENDING
        )
    )


def _claim_refresh(customer_id: int, window: timedelta) -> datetime | None:
    """Mark a refresh of this customer as queued and return when it is due; None if one is.

    The UPDATE succeeds only if no refresh is queued (or the queued one is long overdue:
    its task was lost to a worker crash or a purged queue) and the last start is still the
    one read, so of two racing processes exactly one claims; the other re-reads.
    """
    PendingRefresh.objects.get_or_create(customer_id=customer_id)
    # A failed UPDATE means another process claimed (seen on the next read) or a task began
    # (the next read has its start): each round ends or follows someone's progress.
    while True:
        row = PendingRefresh.objects.filter(customer_id=customer_id).first()
        if row is None:
            return None  # the customer was deleted meanwhile
        now = timezone.now()
        lost = now - STALE_PENDING
        if row.due_at is not None and row.due_at >= lost:
            return None
        due_at = now
        if row.last_started_at is not None:
            due_at = max(now, row.last_started_at + window)
        claimed = PendingRefresh.objects.filter(
            Q(due_at__isnull=True) | Q(due_at__lt=lost),
            customer_id=customer_id,
            last_started_at=row.last_started_at,
        ).update(due_at=due_at)
        if claimed:
            return due_at
