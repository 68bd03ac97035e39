"""The at-least-once base task: first deliveries run untouched, redeliveries are counted
while they run, and a message delivered too often is rejected without running."""

import pytest
from celery.exceptions import Reject

from insights.celery import app
from insights.ops.delivery import IdempotentTask, count_redelivery
from insights.ops.models import TaskDelivery

pytestmark = pytest.mark.django_db


class Probe(IdempotentTask):
    """Not registered with the app (no decorator): the task registry stays Kvitto's own."""

    name = "tests.ops.probe"

    def run(self, fail: bool = False) -> list:
        self.seen.append(list(TaskDelivery.objects.values_list("task_id", "deliveries")))
        if fail:
            raise ValueError("the task itself failed")
        return self.seen[-1]


@pytest.fixture
def probe():
    Probe.bind(app)
    task = Probe()
    task.seen = []
    return task


def deliver(task: Probe, *, redelivered: bool, task_id: str = "t-1", retries: int = 0, **kwargs):
    task.push_request(
        id=task_id,
        retries=retries,
        delivery_info={"redelivered": redelivered},
        called_directly=False,
    )
    try:
        return task(**kwargs)
    finally:
        task.pop_request()


def test_it_acknowledges_late_and_requeues_when_its_pool_process_dies():
    assert (IdempotentTask.acks_late, IdempotentTask.reject_on_worker_lost) == (True, True)


def test_a_first_delivery_runs_without_counting(probe):
    assert deliver(probe, redelivered=False) == []
    assert not TaskDelivery.objects.exists()


def test_a_redelivery_is_counted_while_it_runs_and_forgotten_when_it_ends(probe):
    assert deliver(probe, redelivered=True) == [("t-1", 2)]
    assert not TaskDelivery.objects.exists()


def test_a_redelivery_that_fails_is_forgotten_too(probe):
    with pytest.raises(ValueError, match="the task itself failed"):
        deliver(probe, redelivered=True, fail=True)
    assert not TaskDelivery.objects.exists()


def test_each_delivery_of_a_killed_run_adds_one(settings):
    settings.TASK_MAX_DELIVERIES = 5
    counts = [count_redelivery(task_id="t-1", attempt=0, task_name="x")[1:] for _ in range(3)]
    assert counts == [(2, False), (3, False), (4, False)]
    # A retry is a new message with the same id: counted on its own.
    assert count_redelivery(task_id="t-1", attempt=1, task_name="x")[1:] == (2, False)


def test_past_the_cap_the_message_is_rejected_without_running_and_kept_for_staff(probe, settings):
    settings.TASK_MAX_DELIVERIES = 3
    TaskDelivery.objects.create(task_id="t-1", task_name=Probe.name, deliveries=3)

    with pytest.raises(Reject) as rejected:
        deliver(probe, redelivered=True)

    assert rejected.value.requeue is False
    assert probe.seen == []
    row = TaskDelivery.objects.get()
    assert (row.deliveries, row.gave_up_at is not None) == (4, True)


def test_a_task_called_in_process_is_never_counted(probe):
    assert probe() == []
    assert not TaskDelivery.objects.exists()
