"""Two beat schedulers by mistake: every job of the day sent twice, the reminders even at
the same moment. No reminder, e-mail or list is made twice.

The real-worker version (the hourly job sent twice through Redis, after a restart) is in
test_redis_restart.py; these run the jobs in this process, on both databases.
"""

import threading
from collections import Counter

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.purposes import EMAIL, MODEL_IMPROVEMENT, PANTRY, PREDICTIONS
from insights.forecasts import services as forecast_services
from insights.forecasts import tasks as forecast_tasks
from insights.forecasts.models import Forecast, ForecastRun, ShoppingList
from insights.pantry import services as pantry_services
from insights.pantry.models import DigestLog, Notification
from tests.faults.seed import due_pantries, grant, shoppers, weekly_orders

pytestmark = pytest.mark.django_db(transaction=True)


def _run_twice_at_once(job) -> list[BaseException]:
    """Run `job` in two threads (two connections) released together, as two beats would."""
    start = threading.Barrier(2, timeout=30)
    failures: list[BaseException] = []

    def beat() -> None:
        from django.db import connection as own_connection

        try:
            start.wait()
            job()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)
        finally:
            own_connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return failures


def test_the_hourly_reminders_run_by_two_beats_at_once_remind_and_mail_each_shopper_once():
    everyone = shoppers(40, PANTRY, prefix="beat")
    mailed = everyone[::2]
    grant(mailed, EMAIL)
    due_pantries(everyone, today=timezone.localdate())

    failures = _run_twice_at_once(pantry_services.send_due_reminders)
    # ...and the same hour once more, as the second beat's late copy would arrive.
    pantry_services.send_due_reminders()

    assert failures == []
    per_shopper = Counter(Notification.objects.values_list("user_id", flat=True))
    assert per_shopper == Counter({user.pk: 1 for user in everyone})
    sent = Counter(address for message in mail.outbox for address in message.to)
    assert sent == Counter({user.email: 1 for user in mailed})
    assert DigestLog.objects.count() == len(mailed)
    # The database itself refuses a second digest for the day, whatever code path tries.
    log = DigestLog.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        DigestLog.objects.create(user_id=log.user_id, day=log.day)


def test_the_nightly_forecast_refresh_sent_twice_refreshes_each_shopper_once(monkeypatch):
    users = shoppers(12, PREDICTIONS, MODEL_IMPROVEMENT, prefix="night")
    weekly_orders(users, weeks=6, now=timezone.now(), prefix="night")
    forecast_services.fit_forecast_model()
    queued: list[tuple] = []
    monkeypatch.setattr(
        forecast_tasks.refresh_forecasts_task, "delay", lambda *args: queued.append(args)
    )

    first = forecast_tasks.refresh_stale_forecasts_task()
    second = forecast_tasks.refresh_stale_forecasts_task()  # the second beat, moments later
    refreshed = [forecast_tasks.refresh_forecasts_task(*args) for args in queued]

    assert first == second == len(users)
    assert len(queued) == 2
    # The first batch refreshed everyone; the second found its lists fresh since it was asked.
    assert refreshed == [len(users), 0]
    assert ForecastRun.objects.filter(kind=ForecastRun.Kind.NIGHTLY).count() == 1
    lists = ShoppingList.objects.filter(user__in=users)
    assert set(lists.values_list("status", flat=True)) == {ShoppingList.Status.FRESH}
    assert Forecast.objects.filter(user__in=users).values("user").distinct().count() == len(users)
