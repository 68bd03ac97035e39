"""Refresh queueing after ingestion: debounced per shopper, sent on commit, run by a worker."""

import threading
from unittest import mock

import pytest
from celery.contrib.testing.worker import start_worker

from accounts.models import Customer
from insights.celery import app as celery_app
from insights.purchases.models import PendingRefresh
from insights.purchases.services import ingest_lines
from insights.purchases.signals import history_changed
from insights.purchases.tasks import refresh_shopper_task
from tests.factories import CustomerFactory, CustomerIdentifierFactory, UserFactory
from tests.purchases.ingest_helpers import frame, line

APPLY_ASYNC = "insights.purchases.tasks.refresh_shopper_task.apply_async"


@pytest.fixture
def alice_card(alice):
    return CustomerIdentifierFactory(customer=alice.customer, kind="loyalty_card", value="ALICE1")


@pytest.fixture
def signals_received():
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    history_changed.connect(receiver, weak=False)
    yield received
    history_changed.disconnect(receiver)


def alice_batch(external_id: str = "A1"):
    return frame(
        line(external_id=external_id, customer_value="ALICE1"),
        line(external_id=f"{external_id}-stranger", customer_value="NOT-LINKED-9"),
    )


@pytest.mark.django_db
def test_the_refresh_of_a_linked_shopper_is_queued_on_commit_with_the_debounce(
    alice_card, settings, django_capture_on_commit_callbacks
):
    settings.REFRESH_DEBOUNCE_SECONDS = 7
    with mock.patch(APPLY_ASYNC) as apply_async:
        with django_capture_on_commit_callbacks() as callbacks:
            result = ingest_lines(source="till", lines=alice_batch())
        apply_async.assert_not_called()
        for callback in callbacks:
            callback()

    customer_id = alice_card.customer_id
    assert customer_id in result.customer_ids_touched
    assert len(result.customer_ids_touched) == 2
    apply_async.assert_called_once_with(args=[customer_id], countdown=7)
    assert list(PendingRefresh.objects.values_list("customer_id", flat=True)) == [customer_id]


@pytest.mark.django_db
def test_a_burst_of_batches_for_one_shopper_queues_one_refresh(
    alice_card, django_capture_on_commit_callbacks
):
    with mock.patch(APPLY_ASYNC) as apply_async:
        for n in range(3):
            with django_capture_on_commit_callbacks(execute=True):
                ingest_lines(source="till", lines=alice_batch(f"A{n}"))

    apply_async.assert_called_once()
    assert PendingRefresh.objects.count() == 1


@pytest.mark.django_db
def test_a_batch_of_duplicates_or_errors_queues_nothing(
    alice_card, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ingest_lines(source="till", lines=alice_batch())
    PendingRefresh.objects.all().delete()

    with (
        mock.patch(APPLY_ASYNC) as apply_async,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        ingest_lines(source="till", lines=alice_batch())
        ingest_lines(source="till", lines=frame(line(customer_value="ALICE1", quantity="0")))

    assert callbacks == []
    apply_async.assert_not_called()


@pytest.mark.django_db
def test_the_task_clears_the_pending_row_and_sends_the_signal_once(alice, signals_received):
    PendingRefresh.objects.create(customer=alice.customer)

    refresh_shopper_task(alice.customer.pk)
    refresh_shopper_task(alice.customer.pk)

    assert signals_received == [
        {"signal": history_changed, "user_id": alice.pk, "customer_id": alice.customer.pk}
    ]
    assert not PendingRefresh.objects.exists()


@pytest.mark.django_db
def test_the_task_is_a_no_op_for_a_gone_customer(alice, signals_received):
    customer_id = alice.customer.pk
    Customer.objects.filter(pk=customer_id).delete()

    refresh_shopper_task(customer_id)

    assert signals_received == []


@pytest.mark.django_db
def test_the_task_sends_nothing_for_a_customer_without_login(signals_received):
    customer = CustomerFactory(user=None)
    PendingRefresh.objects.create(customer=customer)

    refresh_shopper_task(customer.pk)

    assert signals_received == []
    assert not PendingRefresh.objects.exists()


@pytest.mark.django_db
def test_orders_arriving_during_a_refresh_queue_another(
    alice_card, django_capture_on_commit_callbacks
):
    with mock.patch(APPLY_ASYNC) as apply_async:
        with django_capture_on_commit_callbacks(execute=True):
            ingest_lines(source="till", lines=alice_batch("A1"))

        def receiver(sender, **kwargs):
            with django_capture_on_commit_callbacks(execute=True):
                ingest_lines(source="till", lines=alice_batch("A2"))

        history_changed.connect(receiver, weak=False)
        try:
            refresh_shopper_task(alice_card.customer_id)
        finally:
            history_changed.disconnect(receiver)

    assert apply_async.call_count == 2
    assert PendingRefresh.objects.filter(customer_id=alice_card.customer_id).exists()


def refresh_queue() -> str:
    """The queue the project's routes send the refresh to (the worker must consume it)."""
    route = celery_app.amqp.router.route({}, refresh_shopper_task.name, (), {})
    return route["queue"].name


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_the_configured_broker_runs_the_queued_refresh(settings):
    settings.REFRESH_DEBOUNCE_SECONDS = 0
    user = UserFactory(email="worker@example.com")
    CustomerIdentifierFactory(customer=CustomerFactory(user=user), value="WORKER1")
    done = threading.Event()
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs["customer_id"])
        done.set()

    history_changed.connect(receiver, weak=False)
    try:
        with start_worker(
            celery_app,
            pool="solo",
            perform_ping_check=False,
            shutdown_timeout=20,
            queues=[refresh_queue()],
        ):
            result = ingest_lines(source="till", lines=frame(line(customer_value="WORKER1")))
            assert done.wait(timeout=30), "the worker did not run the refresh"
    finally:
        history_changed.disconnect(receiver)

    assert seen == [user.customer.pk]
    assert result.customer_ids_touched == {user.customer.pk}
    assert not PendingRefresh.objects.exists()
