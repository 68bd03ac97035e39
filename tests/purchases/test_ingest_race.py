"""Two batches with the same new order at the same moment store it once."""

import threading
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import CustomerIdentifier
from insights.catalog.models import Product
from insights.purchases import services
from insights.purchases.models import Order, OrderLine
from tests.purchases.ingest_helpers import frame, line


@pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="on SQLite IMMEDIATE transactions serialise writers, so the race cannot happen there",
)
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_batches_with_the_same_new_order_store_it_once():
    # Both batches look the order up (and find nothing) before either writes.
    barrier = threading.Barrier(2, timeout=10)
    original = services._stored_hashes
    waited = threading.local()

    def stored_hashes_then_wait(source, external_ids):
        found = original(source, external_ids)
        if not getattr(waited, "done", False):
            # Only the first look-up meets the other thread; the retry goes straight on.
            waited.done = True
            barrier.wait()
        return found

    results, failures = [], []

    def push(extra_id: str) -> None:
        try:
            rows = frame(line(customer_value="NEWCARD"), line(external_id=extra_id, sku="X"))
            results.append(services.ingest_lines(source="till", lines=rows))
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            connection.close()

    with mock.patch.object(services, "_stored_hashes", stored_hashes_then_wait):
        threads = [threading.Thread(target=push, args=(f"EXTRA{n}",)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert failures == []
    assert all(result.ok for result in results)
    assert sorted(r.orders_created for r in results) == [1, 2]
    assert sorted(r.duplicates for r in results) == [0, 1]
    assert Order.objects.filter(external_id="R1").count() == 1
    assert Order.objects.count() == 3
    assert OrderLine.objects.count() == 3
    assert CustomerIdentifier.objects.filter(value="NEWCARD").count() == 1


@pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="SQLite serialises writers, so two batches never insert at the same moment there",
)
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_batches_creating_the_same_products_in_opposite_orders_both_commit():
    # 20,000 new SKUs (enough for the two inserts to overlap) in opposite orders: this
    # deadlocked when each inserted them in the order it met them.
    skus = [f"NEW{n:04d}" for n in range(20_000)]
    barrier = threading.Barrier(2, timeout=10)
    original = services._resolve_products
    waited = threading.local()

    def resolve_then_wait(lines):
        found = original(lines)
        if not getattr(waited, "done", False):
            waited.done = True
            barrier.wait()
        return found

    results, failures = [], []

    def push(order: str, ordered: list[str]) -> None:
        try:
            rows = frame(
                *(line(external_id=order, customer_value=order, sku=sku) for sku in ordered)
            )
            results.append(services.ingest_lines(source="till", lines=rows))
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            connection.close()

    with mock.patch.object(services, "_resolve_products", resolve_then_wait):
        threads = [
            threading.Thread(target=push, args=("A", skus)),
            threading.Thread(target=push, args=("B", skus[::-1])),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert failures == []
    assert all(result.ok for result in results)
    assert Order.objects.count() == 2
    assert OrderLine.objects.count() == 40_000
    assert Product.objects.filter(sku__startswith="NEW").count() == 20_000
