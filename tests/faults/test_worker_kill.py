"""A Celery worker SIGKILLed in the middle of forecast refreshes: every shopper ends up
computed, nothing twice; a message that kills its worker every time is dropped, not looped."""

import random
import time
from functools import partial

import pytest
from django.db.models import Count
from django.utils import timezone

from accounts.purposes import MODEL_IMPROVEMENT, PREDICTIONS
from insights.forecasts import services
from insights.forecasts.models import Forecast, ForecastRun, ListItem, ShoppingList
from insights.ops.models import TaskDelivery
from tests.faults.conftest import producer, wait_for
from tests.faults.seed import shoppers, weekly_orders

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

SHOPPERS = 100
PER_TASK = 4
KILLS = 10
# Short, so a message whose worker vanished comes back within the test; production keeps
# an hour (docs/faults.md). It must still exceed one task's run, or it would be handed out
# again while it runs.
REDELIVERED = "redelivered (delivery"
VISIBILITY = {"CELERY_VISIBILITY_TIMEOUT": "3", "CELERY_UNACKED_RESTORE_INTERVAL": "1"}


def _running_refresh(after_id: int) -> ForecastRun | None:
    return (
        ForecastRun.objects.filter(pk__gt=after_id, kind=ForecastRun.Kind.REFRESH)
        .filter(finished_at__isnull=True)
        .order_by("pk")
        .first()
    )


def test_ten_kills_mid_refresh_leave_every_shopper_computed_once(redis_servers, workers):
    users = shoppers(SHOPPERS, PREDICTIONS, MODEL_IMPROVEMENT)
    weekly_orders(users, weeks=8, now=timezone.now())
    services.fit_forecast_model()  # the nightly fit, so every refresh reads the same model
    ids = [user.pk for user in users]
    services.mark_computing(user_ids=ids)
    requested_at = timezone.now().isoformat()
    broker = redis_servers()
    sender = producer(broker.url)
    for start in range(0, SHOPPERS, PER_TASK):
        sender.send_task(
            "insights.forecasts.tasks.refresh_forecasts_task",
            args=[ids[start : start + PER_TASK], ForecastRun.Kind.REFRESH, requested_at],
        )

    # Batches of PER_TASK: by default a small batch takes in every list waiting "updating".
    worker = workers(broker.url, FORECAST_REFRESH_CHUNK=str(PER_TASK), **VISIBILITY)
    rng = random.Random(7)  # noqa: S311 - where in the refresh to strike, reproducibly
    kills, last_seen = 0, 0
    while kills < KILLS:
        run = wait_for(partial(_running_refresh, last_seen), timeout=120, what="a refresh")
        last_seen = run.pk
        if TaskDelivery.objects.exists():
            # A batch delivered again (its row is written before its run starts): strike
            # only first deliveries, so the kills fall on ten different batches rather than
            # on one message over and over (five times is the delivery cap's business,
            # tested below).
            continue
        time.sleep(rng.uniform(0, 0.08))
        # Alternately the pool process alone (the OOM killer) and the whole worker (the
        # machine): the first is requeued at once, the second after the visibility timeout.
        whole_worker = kills % 2 == 1
        if whole_worker:
            worker.kill()
        else:
            worker.kill_pool_process()
        run.refresh_from_db()
        if run.finished_at is None:
            kills += 1  # struck while computing or writing: this one counts
        if whole_worker:
            worker.start()

    wait_for(
        lambda: (
            not ShoppingList.objects.filter(user_id__in=ids)
            .exclude(status=ShoppingList.Status.FRESH)
            .exists()
        ),
        timeout=150,
        what="every list to be fresh",
        step=0.2,
    )
    # ...and every message acknowledged: a copy handed out again late has run to its end.
    client = broker.client()
    wait_for(
        lambda: client.llen("refresh") == 0 and client.hlen("unacked") == 0,
        timeout=60,
        what="the queue to drain",
        step=0.2,
    )
    worker.kill()

    assert kills == KILLS
    # Each counted kill left its run unfinished: the kills really hit refreshes in flight.
    assert ForecastRun.objects.filter(kind="refresh", finished_at__isnull=True).count() >= KILLS
    lists = ShoppingList.objects.filter(user_id__in=ids)
    assert lists.count() == SHOPPERS
    assert not lists.filter(computed_at__isnull=True).exists()
    per_shopper = dict(
        Forecast.objects.filter(user_id__in=ids).values_list("user").annotate(n=Count("id"))
    )
    assert sorted(per_shopper) == sorted(ids), "a shopper has no forecasts"
    pairs = Forecast.objects.values("user", "product").annotate(n=Count("id"))
    assert not pairs.filter(n__gt=1).exists()
    items = ListItem.objects.filter(shopping_list__user_id__in=ids, product__isnull=False)
    assert not items.values("shopping_list", "product").annotate(n=Count("id")).filter(n__gt=1)
    assert (
        items.filter(kind=ListItem.Kind.PREDICTED).values("shopping_list").distinct().count()
        == SHOPPERS
    )
    # Every redelivered batch finished (its row is gone) and none was given up on.
    assert list(TaskDelivery.objects.values_list("task_name", "deliveries")) == []
    assert worker.output().count(REDELIVERED) >= KILLS


def test_a_message_that_kills_its_worker_every_time_is_dropped_after_the_cap(
    redis_servers, workers
):
    broker = redis_servers()
    worker = workers(broker.url, include="tests.faults.poison", TASK_MAX_DELIVERIES="3")
    sender = producer(broker.url)
    poison = sender.send_task("tests.faults.poison.die_with_worker_task", args=["poison"])

    dropped = wait_for(
        lambda: TaskDelivery.objects.filter(task_id=poison.id, gave_up_at__isnull=False).first(),
        timeout=120,
        what="the poison message to be dropped",
    )
    # Runs 1-3 died with their pool process; the fourth delivery was refused, not run.
    assert dropped.deliveries == 4
    assert dropped.task_name == "tests.faults.poison.die_with_worker_task"
    assert "Dropping task tests.faults.poison.die_with_worker_task" in worker.output()
    # The worker goes on with other work, and the dropped message is no longer queued.
    client = broker.client()
    wait_for(lambda: client.hlen("unacked") == 0, timeout=30, what="the message to be gone")
    assert client.llen("celery") == 0
    follow_up = sender.send_task("tests.faults.poison.die_with_worker_task", args=["again"])
    wait_for(
        lambda: TaskDelivery.objects.filter(task_id=follow_up.id).exists(),
        timeout=60,
        what="the worker to take the next message",
    )
