"""Celery tasks of the pantry: build a shopper's pantry, send the hourly due reminders."""

import logging

from celery import shared_task
from django.db import OperationalError

from accounts.consent import is_allowed
from accounts.models import User
from accounts.purposes import PANTRY
from insights.pantry import services

log = logging.getLogger(__name__)


# A busy SQLite answers "database is locked" after its timeout; PostgreSQL may drop a
# connection. Both pass, and the build is idempotent, so the task retries with backoff.
@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
)
def build_pantry_task(user_id: int) -> int:
    """Turn the shopper's new perishable lines into items; idempotent, so acks_late is safe."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not is_allowed(user, PANTRY):
        return 0
    created = services.build_pantry(user=user)
    log.info("Pantry of shopper %s: %s new items", user_id, created)
    return created


@shared_task
def send_due_reminders_task() -> dict[str, int]:
    """Hourly: in-app reminders for items entering their due-soon window, daily e-mail digests."""
    stats = services.send_due_reminders()
    return {
        "shoppers": stats.shoppers,
        "notifications": stats.notifications,
        "digests": stats.digests,
    }
