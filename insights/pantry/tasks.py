"""Celery tasks of the pantry: build a shopper's pantry, send the hourly due reminders."""

import logging

from celery import shared_task
from django.db import OperationalError

from accounts.consent import allowed_user_ids, is_allowed
from accounts.models import User
from accounts.purposes import PANTRY
from insights.ops.delivery import IdempotentTask
from insights.pantry import services

log = logging.getLogger(__name__)

# Seconds a queued reminder chunk stays worth running: the next hourly run supersedes it.
REMINDER_CHUNK_EXPIRES = 50 * 60


# A busy SQLite answers "database is locked" after its timeout; PostgreSQL may drop a
# connection. Both pass, and the build is idempotent, so the task retries with backoff.
@shared_task(
    base=IdempotentTask,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
)
def build_pantry_task(user_id: int) -> int:
    """Turn the shopper's new perishable lines into items; idempotent, so at least once is safe."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not is_allowed(user, PANTRY):
        return 0
    created = services.build_pantry(user=user)
    log.info("Pantry of shopper %s: %s new items", user_id, created)
    return created


# The hourly job only lists who may get reminders and queues them in chunks, so a large
# shop spreads over every worker and a lost or crashed chunk costs its shoppers, not all.
# Both tasks are idempotent (unique notification keys, one DigestLog row per shopper and
# day, inserted before the e-mail is sent): a redelivery or a second beat sends nothing twice,
# and whatever a lost message did not send, the next hour's run does.
@shared_task(base=IdempotentTask)
def send_due_reminders_task() -> int:
    """Hourly: queue the reminders of every shopper with `pantry`, in chunks; returns how many."""
    user_ids = sorted(allowed_user_ids(PANTRY))
    size = services.CHUNK_SIZE
    for start in range(0, len(user_ids), size):
        # A chunk still queued when the next hourly run starts is left to that run.
        send_reminders_task.apply_async(
            args=[user_ids[start : start + size]], expires=REMINDER_CHUNK_EXPIRES
        )
    log.info("Queued due reminders of %d shoppers", len(user_ids))
    return len(user_ids)


@shared_task(base=IdempotentTask)
def send_reminders_task(user_ids: list[int]) -> dict[str, int]:
    """In-app reminders for items entering their due-soon window, daily e-mail digests.

    Consent is checked again here (inside the service), and the time is the worker's own,
    so quiet hours hold however late the chunk runs.
    """
    stats = services.send_due_reminders(user_ids=user_ids)
    return {
        "shoppers": stats.shoppers,
        "notifications": stats.notifications,
        "digests": stats.digests,
    }
