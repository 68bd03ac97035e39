"""Refresh queueing after ingestion: debounced per shopper on both edges, sent on commit, run
by a worker."""

import threading
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker

from accounts.models import Customer
from insights.celery import app as celery_app
from insights.purchases.models import PendingRefresh
from insights.purchases.services import ingest_lines, queue_refreshes
from insights.purchases.signals import history_changed
from insights.purchases.tasks import refresh_shopper_task
from tests.factories import CustomerFactory, CustomerIdentifierFactory, UserFactory
from tests.purchases.ingest_helpers import frame, line

APPLY_ASYNC = "insights.purchases.tasks.refresh_shopper_task.apply_async"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


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


def ingest_for_alice(external_id: str, capture) -> None:
    with capture(execute=True):
        result = ingest_lines(source="till", lines=alice_batch(external_id))
    assert result.ok, result.errors


def countdowns(apply_async: mock.Mock) -> list[tuple[list[int], float]]:
    return [(c.kwargs["args"], c.kwargs["countdown"]) for c in apply_async.call_args_list]


@pytest.mark.django_db
@time_machine.travel(T0, tick=False)
def test_the_first_refresh_after_a_quiet_period_is_queued_on_commit_at_once(
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
    apply_async.assert_called_once_with(args=[customer_id], countdown=0.0)
    row = PendingRefresh.objects.get()
    assert (row.customer_id, row.due_at, row.last_started_at) == (customer_id, T0, None)


@pytest.mark.django_db
def test_orders_before_the_queued_refresh_begins_join_it(
    alice_card, django_capture_on_commit_callbacks
):
    with mock.patch(APPLY_ASYNC) as apply_async:
        for n in range(3):
            ingest_for_alice(f"A{n}", django_capture_on_commit_callbacks)

    apply_async.assert_called_once()
    assert PendingRefresh.objects.count() == 1


@pytest.mark.django_db
def test_a_burst_within_the_window_is_one_trailing_refresh_at_its_end(
    alice_card, settings, django_capture_on_commit_callbacks
):
    settings.REFRESH_DEBOUNCE_SECONDS = 10
    customer_id = alice_card.customer_id
    with mock.patch(APPLY_ASYNC) as apply_async, time_machine.travel(T0, tick=False) as clock:
        ingest_for_alice("A1", django_capture_on_commit_callbacks)
        refresh_shopper_task(customer_id)  # the leading refresh begins at T0
        for n, seconds in enumerate((2, 5, 9), start=2):
            clock.move_to(T0 + timedelta(seconds=seconds))
            ingest_for_alice(f"A{n}", django_capture_on_commit_callbacks)

    # Leading at once; the orders at 2, 5 and 9 s share one refresh when the window ends.
    assert countdowns(apply_async) == [([customer_id], 0.0), ([customer_id], 8.0)]
    assert PendingRefresh.objects.get().due_at == T0 + timedelta(seconds=10)


@pytest.mark.django_db
def test_a_steady_stream_is_refreshed_once_per_window_and_a_quiet_shopper_at_once_again(
    alice_card, settings, django_capture_on_commit_callbacks
):
    settings.REFRESH_DEBOUNCE_SECONDS = 10
    customer_id = alice_card.customer_id
    with mock.patch(APPLY_ASYNC) as apply_async, time_machine.travel(T0, tick=False) as clock:
        ingest_for_alice("A1", django_capture_on_commit_callbacks)
        refresh_shopper_task(customer_id)
        clock.move_to(T0 + timedelta(seconds=4))
        ingest_for_alice("A2", django_capture_on_commit_callbacks)
        clock.move_to(T0 + timedelta(seconds=10))
        refresh_shopper_task(customer_id)  # the trailing refresh opens the next window
        clock.move_to(T0 + timedelta(seconds=13))
        ingest_for_alice("A3", django_capture_on_commit_callbacks)
        clock.move_to(T0 + timedelta(seconds=20))
        refresh_shopper_task(customer_id)
        clock.move_to(T0 + timedelta(seconds=45))
        ingest_for_alice("A4", django_capture_on_commit_callbacks)

    assert countdowns(apply_async) == [
        ([customer_id], 0.0),
        ([customer_id], 6.0),
        ([customer_id], 7.0),
        ([customer_id], 0.0),
    ]


@pytest.mark.django_db
def test_a_claim_taken_by_another_process_meanwhile_is_not_queued_twice(
    alice_card, django_capture_on_commit_callbacks
):
    customer_id = alice_card.customer_id
    PendingRefresh.objects.create(customer_id=customer_id)
    original_first = type(PendingRefresh.objects.all()).first
    raced: list[list[int]] = []
    reads = []

    def read_then_lose_the_race(queryset):
        row = original_first(queryset)
        reads.append(row)
        if queryset.model is PendingRefresh and len(reads) == 1:
            # Another process claims between this read and this process's UPDATE.
            raced.append(queue_refreshes(customer_ids=[customer_id]))
        return row

    with (
        mock.patch(APPLY_ASYNC) as apply_async,
        mock.patch.object(type(PendingRefresh.objects.all()), "first", read_then_lose_the_race),
    ):
        mine = queue_refreshes(customer_ids=[customer_id])

    assert raced == [[customer_id]]
    assert mine == []
    apply_async.assert_called_once()


@pytest.mark.django_db
def test_a_refresh_whose_task_was_lost_is_queued_again_after_an_hour(
    alice_card, django_capture_on_commit_callbacks
):
    customer_id = alice_card.customer_id
    with mock.patch(APPLY_ASYNC) as apply_async, time_machine.travel(T0, tick=False) as clock:
        ingest_for_alice("A1", django_capture_on_commit_callbacks)
        clock.move_to(T0 + timedelta(minutes=30))
        ingest_for_alice("A2", django_capture_on_commit_callbacks)
        clock.move_to(T0 + timedelta(minutes=61))
        ingest_for_alice("A3", django_capture_on_commit_callbacks)

    assert countdowns(apply_async) == [([customer_id], 0.0), ([customer_id], 0.0)]


@pytest.mark.django_db
def test_a_refresh_that_could_not_be_queued_does_not_hold_back_the_next(
    alice_card, django_capture_on_commit_callbacks
):
    customer_id = alice_card.customer_id
    with mock.patch(APPLY_ASYNC, side_effect=[OSError("broker down"), None]) as apply_async:
        ingest_for_alice("A1", django_capture_on_commit_callbacks)
        assert PendingRefresh.objects.get().due_at is None
        ingest_for_alice("A2", django_capture_on_commit_callbacks)

    assert [c.kwargs["args"] for c in apply_async.call_args_list] == [[customer_id]] * 2
    assert PendingRefresh.objects.get().due_at is not None


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
@time_machine.travel(T0, tick=False)
def test_the_task_takes_its_claim_and_sends_the_signal_once(alice, signals_received):
    PendingRefresh.objects.create(customer=alice.customer, due_at=T0)

    refresh_shopper_task(alice.customer.pk)
    refresh_shopper_task(alice.customer.pk)

    assert signals_received == [
        {"signal": history_changed, "user_id": alice.pk, "customer_id": alice.customer.pk}
    ]
    row = PendingRefresh.objects.get()
    assert (row.due_at, row.last_started_at) == (None, T0)


@pytest.mark.django_db
@time_machine.travel(T0, tick=False)
def test_the_claim_and_the_receivers_marks_commit_together(alice):
    # A receiver failing after the claim: the claim rolls back with it, so the refresh
    # still shows as queued (and a later order or the lost-claim rule queues it again),
    # instead of a cleared claim with no "updating" mark anywhere.
    PendingRefresh.objects.create(customer=alice.customer, due_at=T0)

    def failing(sender, **kwargs):
        raise RuntimeError("receiver failed")

    history_changed.connect(failing, weak=False)
    try:
        with pytest.raises(RuntimeError):
            refresh_shopper_task(alice.customer.pk)
    finally:
        history_changed.disconnect(failing)

    row = PendingRefresh.objects.get()
    assert (row.due_at, row.last_started_at) == (T0, None)


@pytest.mark.django_db
@time_machine.travel(T0, tick=False)
def test_a_redelivered_task_whose_first_run_took_the_claim_signals_again(alice, signals_received):
    # The first delivery claimed the refresh and its worker died before the signal.
    PendingRefresh.objects.create(customer=alice.customer, due_at=None, last_started_at=T0)

    refresh_shopper_task.push_request(
        id="t-1", delivery_info={"redelivered": True}, called_directly=False
    )
    try:
        refresh_shopper_task.run(alice.customer.pk)
    finally:
        refresh_shopper_task.pop_request()
    refresh_shopper_task(alice.customer.pk)  # a first delivery with nothing pending: skipped

    assert signals_received == [
        {"signal": history_changed, "user_id": alice.pk, "customer_id": alice.customer.pk}
    ]


@pytest.mark.django_db
def test_the_task_is_a_no_op_for_a_gone_customer(alice, signals_received):
    customer_id = alice.customer.pk
    Customer.objects.filter(pk=customer_id).delete()

    refresh_shopper_task(customer_id)

    assert signals_received == []


@pytest.mark.django_db
def test_the_task_sends_nothing_for_a_customer_without_login(signals_received):
    customer = CustomerFactory(user=None)
    PendingRefresh.objects.create(customer=customer, due_at=T0)

    refresh_shopper_task(customer.pk)

    assert signals_received == []
    assert not PendingRefresh.objects.exists()


@pytest.mark.django_db
@time_machine.travel(T0, tick=False)
def test_orders_arriving_during_a_refresh_queue_another_at_the_end_of_the_window(
    alice_card, settings, django_capture_on_commit_callbacks
):
    settings.REFRESH_DEBOUNCE_SECONDS = 10
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

    customer_id = alice_card.customer_id
    assert countdowns(apply_async) == [([customer_id], 0.0), ([customer_id], 10.0)]
    assert PendingRefresh.objects.get().due_at == T0 + timedelta(seconds=10)


def refresh_queue() -> str:
    """The queue the project's routes send the refresh to (the worker must consume it)."""
    route = celery_app.amqp.router.route({}, refresh_shopper_task.name, (), {})
    return route["queue"].name


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_the_configured_broker_runs_the_first_refresh_at_once(settings):
    # The default window: the first refresh after a quiet period does not wait for it.
    settings.REFRESH_DEBOUNCE_SECONDS = 10
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
    row = PendingRefresh.objects.get()
    assert row.due_at is None and row.last_started_at is not None
