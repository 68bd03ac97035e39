"""Celery tasks that keep a shopper's habit rows in step with their history and consent."""

import logging
from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from accounts.consent import allowed_user_ids, is_allowed
from accounts.models import User
from accounts.purposes import INSIGHTS
from insights.habits import services
from insights.ops.delivery import IdempotentTask

logger = logging.getLogger(__name__)

CHUNK_SIZE = 200
STALE_AFTER = timedelta(days=1)


# Idempotent: a redelivered refresh computes the same rows again (at least once is safe).
@shared_task(
    base=IdempotentTask,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def refresh_habits_task(user_id: int) -> str:
    """Recompute one shopper's habits; without the insights consent, delete them instead."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return "gone"
    if not is_allowed(user, INSIGHTS):
        services.delete_habits(user=user)
        return "no consent"
    services.refresh_habits(user=user, as_of=timezone.now())
    return "refreshed"


@shared_task(
    base=IdempotentTask, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3
)
def refresh_habits_batch_task(user_ids: list[int]) -> int:
    """Recompute a chunk of shoppers in one vectorised pass (consent re-checked here)."""
    allowed = allowed_user_ids(INSIGHTS, user_ids)
    active = list(User.objects.filter(pk__in=allowed, is_active=True).values_list("pk", flat=True))
    return services.refresh_habits_many(user_ids=active, as_of=timezone.now())


# Run again (a redelivery, or a second beat), it queues the shoppers still stale: more work
# for the same rows, never a lost night.
@shared_task(base=IdempotentTask)
def refresh_stale_habits_task() -> int:
    """Nightly: everyone with the insights consent whose habits are over a day old.

    Time moves the windows even when no order arrives, so "last 4 weeks" must be
    recomputed daily. Work goes out in chunks of `CHUNK_SIZE` shoppers.
    """
    allowed = allowed_user_ids(INSIGHTS)
    stale = services.stale_user_ids(allowed=allowed, now=timezone.now(), max_age=STALE_AFTER)
    for start in range(0, len(stale), CHUNK_SIZE):
        refresh_habits_batch_task.apply_async(args=[stale[start : start + CHUNK_SIZE]])
    logger.info("Queued habit refresh of %d shoppers", len(stale))
    return len(stale)
