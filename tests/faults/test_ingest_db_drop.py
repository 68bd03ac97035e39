"""The database connection lost in the middle of an ingest batch: nothing of the batch is
stored, the client is told to retry (503, Retry-After), and the retry stores each order once.

PostgreSQL: the ingesting connection is terminated by the server (`pg_terminate_backend`,
as a restart, a failover or an administrator would) after the orders were copied and before
the lines are. SQLite has no server to drop the connection; the nearest real fault is the
engine aborting the statement that writes the lines (`sqlite3_interrupt`, here through a
progress handler), mid-transaction. Both run in CI, each on its own leg.
"""

from collections import Counter

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Customer
from insights.api.models import IntegrationClient
from insights.purchases import services
from insights.purchases.models import Order, OrderLine
from tests.purchases.ingest_helpers import json_order

URL = "/api/v1/ingest/orders"
ORDERS = 40
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.api.urls_ingest")]


def _batch() -> dict:
    orders = [
        json_order(external_id=f"T-{n}", customer={"kind": "loyalty_card", "value": f"C{n % 7}"})
        for n in range(ORDERS)
    ]
    return {"source": "till", "orders": orders}


def _terminate_own_backend() -> None:
    """Have the server end this process's connection, from a second connection."""
    pid = connection.connection.info.backend_pid
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"],
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        autocommit=True,
    ) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]


@pytest.fixture
def drop_connection_before_lines(monkeypatch):
    """Break the connection once, after the batch's orders were written, before its lines."""
    fired = []
    if connection.vendor == "postgresql":
        original = services._copy_binary

        def copy_lines_after_a_drop(model, *args, **kwargs):
            if model is OrderLine and not fired:
                fired.append(model)
                _terminate_own_backend()
            return original(model, *args, **kwargs)

        monkeypatch.setattr(services, "_copy_binary", copy_lines_after_a_drop)
    else:
        original = services._insert_many

        def insert_lines_interrupted(model, *args, **kwargs):
            if model is not OrderLine or fired:
                return original(model, *args, **kwargs)
            fired.append(model)
            raw = connection.connection
            raw.set_progress_handler(lambda: 1, 1)  # non-zero: abort the running statement
            try:
                return original(model, *args, **kwargs)
            finally:
                raw.set_progress_handler(None, 1)

        monkeypatch.setattr(services, "_insert_many", insert_lines_interrupted)
    return fired


def test_a_dropped_connection_mid_batch_stores_nothing_and_the_retry_stores_it_once(
    drop_connection_before_lines,
):
    client = IntegrationClient(name="till-gateway", scopes=["ingest"])
    key = client.rotate_key()
    client.save()
    api = APIClient(HTTP_AUTHORIZATION=f"Api-Key {key}")
    body = _batch()

    failed = api.post(URL, body, format="json")

    assert drop_connection_before_lines == [OrderLine], "the fault did not happen mid-batch"
    assert failed.status_code == 503
    assert failed["Retry-After"] == "5"
    assert failed.json()["retry"] is True
    assert "nothing of it was stored" in failed.json()["detail"]
    # No partial batch: not the orders written before the drop, nor the customers created.
    assert (Order.objects.count(), OrderLine.objects.count(), Customer.objects.count()) == (0, 0, 0)

    retried = api.post(URL, body, format="json")
    again = api.post(URL, body, format="json")

    assert retried.status_code == 201
    assert retried.json()["created"] == ORDERS
    assert retried.json()["lines_created"] == 2 * ORDERS
    assert again.status_code == 200
    assert again.json()["duplicates"] == ORDERS
    stored = Counter(Order.objects.values_list("external_id", flat=True))
    assert stored == Counter({f"T-{n}": 1 for n in range(ORDERS)})
    assert OrderLine.objects.count() == 2 * ORDERS
    assert Customer.objects.count() == 7
