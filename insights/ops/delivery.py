"""At-least-once Celery tasks: late acks, requeue on a lost worker, and a delivery cap.

A task whose every run leaves the same rows (a refresh, a build keyed on unique rows) may
be delivered again after its worker died: `IdempotentTask` acknowledges its message only
when it has finished (`acks_late`) and puts it back when the pool process running it is
killed (`reject_on_worker_lost`). The broker redelivers a message whose worker vanished
once its visibility timeout passes (Redis) or at once (RabbitMQ), with the `redelivered`
flag set.

That alone loops forever on a message that itself kills the worker (out of memory on a
huge batch, a crash in native code). So each redelivered run is counted in the database
(`TaskDelivery`, keyed on the task id and retry number); past `TASK_MAX_DELIVERIES` the
message is dropped with an error in the log and the row kept for staff. First deliveries,
the overwhelming majority, cost no query.
"""

import logging
from typing import Any

from celery import Task
from celery.exceptions import Reject
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

logger = logging.getLogger(__name__)

DEFAULT_MAX_DELIVERIES = 5


def max_deliveries() -> int:
    return int(getattr(settings, "TASK_MAX_DELIVERIES", DEFAULT_MAX_DELIVERIES))


def count_redelivery(*, task_id: str, attempt: int, task_name: str) -> tuple[int, int, bool]:
    """Count one more delivery of this task attempt; returns (row id, deliveries, give up).

    The first delivery was not recorded, so a first redelivery counts 2. Give up is True
    when the count passes `TASK_MAX_DELIVERIES`; the row then records when.
    """
    from insights.ops.models import TaskDelivery

    now = timezone.now()
    key = {"task_id": task_id, "attempt": attempt}
    updated = TaskDelivery.objects.filter(**key).update(
        deliveries=F("deliveries") + 1, last_delivered_at=now
    )
    if not updated:
        try:
            with transaction.atomic():
                TaskDelivery.objects.create(
                    **key, task_name=task_name, first_redelivered_at=now, last_delivered_at=now
                )
        except IntegrityError:
            # The same message ran twice at once (its visibility timeout passed while it
            # ran): the other delivery created the row first, so count on it.
            TaskDelivery.objects.filter(**key).update(
                deliveries=F("deliveries") + 1, last_delivered_at=now
            )
    pk, deliveries = TaskDelivery.objects.filter(**key).values_list("pk", "deliveries").get()
    give_up = deliveries > max_deliveries()
    if give_up:
        TaskDelivery.objects.filter(pk=pk, gave_up_at__isnull=True).update(gave_up_at=now)
    return pk, deliveries, give_up


def finish_delivery(pk: int) -> None:
    """The redelivered run ended (done, failed or retrying): stop counting it."""
    from insights.ops.models import TaskDelivery

    TaskDelivery.objects.filter(pk=pk, gave_up_at__isnull=True).delete()


class IdempotentTask(Task):
    """Base of tasks that are safe to run more than once (see the module docstring).

    Use only where a second run of the same message changes nothing the shopper can see:
    docs/faults.md lists every task and why it is or is not one of these.
    """

    acks_late = True
    reject_on_worker_lost = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = self.request
        redelivered = bool((request.delivery_info or {}).get("redelivered"))
        if request.called_directly or request.is_eager or not redelivered:
            return super().__call__(*args, **kwargs)
        pk, deliveries, give_up = count_redelivery(
            task_id=request.id, attempt=request.retries or 0, task_name=self.name
        )
        if give_up:
            logger.error(
                "Dropping task %s[%s]: delivered %d times, more than %d; it keeps dying with "
                "its worker (see the redelivered tasks in the admin)",
                self.name,
                request.id,
                deliveries,
                max_deliveries(),
            )
            raise Reject(f"delivered {deliveries} times", requeue=False)
        logger.warning("Task %s[%s] redelivered (delivery %d)", self.name, request.id, deliveries)
        try:
            return super().__call__(*args, **kwargs)
        finally:
            finish_delivery(pk)
