"""Celery tasks of purchases: the debounced refresh of a shopper after new orders."""

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from accounts.models import Customer
from insights.ops.delivery import IdempotentTask
from insights.purchases.models import PendingRefresh
from insights.purchases.signals import history_changed

logger = logging.getLogger(__name__)


@shared_task(base=IdempotentTask, bind=True, ignore_result=True)
def refresh_shopper_task(self: IdempotentTask, customer_id: int) -> None:
    """Tell the apps that derive from history that this shopper's orders changed.

    Queued by `services.queue_refreshes` (at once after a quiet period, else at the end of
    the debounce window). It begins by taking its PendingRefresh claim (clearing `due_at`,
    setting `last_started_at`) in one conditional UPDATE, before the signal is sent: orders
    that commit while the receivers recompute then queue the next refresh rather than being
    missed, and two messages for one refresh send the signal once.

    At least once: a message whose worker died is delivered again. Its first delivery may
    have taken the claim and died before sending the signal, so a redelivered message sends
    it even without a claim; every receiver's work is idempotent, so the worst case is a
    refresh done twice.
    """
    customer = Customer.objects.filter(pk=customer_id).only("pk", "user_id").first()
    if customer is None:
        logger.info("refresh of customer %s skipped: gone", customer_id)
        return
    if customer.user_id is None:
        # No login to derive anything for; drop the row so a later link starts clean.
        PendingRefresh.objects.filter(customer_id=customer_id).delete()
        return
    # The claim and the receivers' marks ("updating") commit together: a page read in
    # between would otherwise see neither a queued refresh nor one running, and stop
    # polling for the new list. The receivers only mark and queue; their tasks go on commit.
    with transaction.atomic():
        began = PendingRefresh.objects.filter(customer_id=customer_id, due_at__isnull=False).update(
            due_at=None, last_started_at=timezone.now()
        )
        if not began:
            if not (self.request.delivery_info or {}).get("redelivered"):
                logger.info("refresh of customer %s skipped: nothing pending", customer_id)
                return
            logger.info("refresh of customer %s redelivered: signalling again", customer_id)
        history_changed.send(sender=Customer, user_id=customer.user_id, customer_id=customer_id)
