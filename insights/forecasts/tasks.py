"""Celery tasks that recompute forecasts: after new orders, after a grant, and nightly."""

import logging
from collections.abc import Iterable
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from insights.forecasts import services
from insights.forecasts.models import ForecastRun, ShoppingList
from insights.ops.delivery import IdempotentTask

logger = logging.getLogger(__name__)


def _chunk_size() -> int:
    return int(getattr(settings, "FORECAST_REFRESH_CHUNK", 500))


def _chunks(ids: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# Idempotent (same history and decisions give the same rows), so a redelivery after a
# worker crash only repeats work: at least once is safe here.
@shared_task(base=IdempotentTask)
def refresh_forecasts_task(
    user_ids: list[int],
    kind: str = ForecastRun.Kind.REFRESH,
    requested_at: str | None = None,
) -> int:
    """Recompute forecasts and lists for these logins, in fixed-size batches.

    Lists already refreshed since `requested_at` (by another batch) are done and skipped.
    Other lists waiting in "updating" join the first batch, so a burst of single-shopper
    requests (a demo load granting consent to thousands) becomes a few batch refreshes.
    Shoppers without the `predictions` grant (or gone since queuing) are skipped inside
    the service. Returns how many shoppers were refreshed.
    """
    ids = {int(i) for i in user_ids}
    if requested_at:
        since = datetime.fromisoformat(requested_at)
        ids -= set(
            ShoppingList.objects.filter(
                user_id__in=ids,
                status=ShoppingList.Status.FRESH,
                status_changed_at__gte=since,
            ).values_list("user_id", flat=True)
        )
        if not ids:
            logger.info("Forecast refresh skipped: done by another batch")
            return 0
    size = _chunk_size()
    if len(ids) < size:
        waiting = (
            ShoppingList.objects.filter(status=ShoppingList.Status.COMPUTING)
            .exclude(user_id__in=ids)
            .order_by("status_changed_at")
            .values_list("user_id", flat=True)[: size - len(ids)]
        )
        ids |= set(waiting)
    ordered = sorted(ids)
    done = 0
    for chunk in _chunks(ordered, size):
        run = services.refresh_forecasts(user_ids=chunk, kind=kind)
        done += run.shoppers
    logger.info("Refreshed forecasts for %d of %d shoppers", done, len(ordered))
    return done


# Run twice (a redelivery, or a second beat by mistake), the second run's batches find the
# lists refreshed since it was requested and skip them.
@shared_task(base=IdempotentTask)
def refresh_stale_forecasts_task() -> int:
    """Nightly: queue a refresh for every consenting shopper whose list went stale."""
    ids = services.stale_user_ids()
    size = _chunk_size()
    requested_at = timezone.now().isoformat()
    for chunk in _chunks(ids, size):
        services.mark_computing(user_ids=chunk)
        refresh_forecasts_task.delay(chunk, ForecastRun.Kind.NIGHTLY, requested_at)
    logger.info("Queued %d stale shoppers for a forecast refresh", len(ids))
    return len(ids)


# At most once: every run stores a new model, and the fit is the heaviest job there is, the
# one most likely to be killed for memory. A lost fit keeps yesterday's model for a day.
@shared_task
def fit_forecast_model_task() -> int:
    """Nightly: refit the cross-shopper model on contributors who granted model improvement."""
    stored = services.fit_forecast_model()
    logger.info("Fitted forecast model %s on %d contributors", stored.pk, stored.n_contributors)
    return stored.pk
