"""Celery tasks of purchases: the debounced refresh of a shopper after new orders."""

import logging

from celery import shared_task

from accounts.models import Customer
from insights.purchases.models import PendingRefresh
from insights.purchases.signals import history_changed

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def refresh_shopper_task(customer_id: int) -> None:
    """Tell the apps that derive from history that this shopper's orders changed.

    Queued by `services.queue_refreshes` with a countdown; its PendingRefresh row is the
    debounce. The row is deleted before the signal is sent, so orders that arrive while
    receivers recompute queue a fresh refresh rather than being missed.
    """
    customer = Customer.objects.filter(pk=customer_id).only("pk", "user_id").first()
    if customer is None:
        logger.info("refresh of customer %s skipped: gone", customer_id)
        return
    if customer.user_id is None:
        # No login to derive anything for; drop the row so a later link starts clean.
        PendingRefresh.objects.filter(customer_id=customer_id).delete()
        return
    deleted, _ = PendingRefresh.objects.filter(customer_id=customer_id).delete()
    if not deleted:
        logger.info("refresh of customer %s skipped: nothing pending", customer_id)
        return
    history_changed.send(sender=Customer, user_id=customer.user_id, customer_id=customer_id)
