"""Retention: the nightly job deletes what is past each data class's period, and only that."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session

from accounts import data_rights
from accounts.models import DataExport, ErasureRecord, LinkAttempt
from accounts.personal_data import subtract_months
from accounts.tasks import apply_retention_task
from insights.forecasts.models import ItemAction
from insights.pantry.models import Notification
from insights.purchases.models import Order, OrderLine
from tests.factories import OrderFactory, OrderLineFactory, ProductFactory

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


@pytest.fixture
def periods(settings):
    settings.RETENTION_ORDERS_MONTHS = 36
    settings.RETENTION_NOTIFICATIONS_DAYS = 90
    settings.RETENTION_EXPORTS_DAYS = 7
    settings.RETENTION_LINK_ATTEMPTS_DAYS = 30
    settings.RETENTION_LIST_HISTORY_DAYS = 365
    settings.RETENTION_ERASURE_RECORDS_DAYS = 1095


def _order(customer, placed_at: datetime, sku: str) -> Order:
    order = OrderFactory(customer=customer, placed_at=placed_at)
    OrderLineFactory(order=order, line_no=1, product=ProductFactory(sku=sku))
    return order


@pytest.fixture
def aged(alice, periods):
    """Rows on both sides of each period, written at their own time."""
    customer = alice.customer
    old_order = _order(customer, datetime(2023, 11, 1, tzinfo=UTC), "OLD")
    new_order = _order(customer, datetime(2023, 12, 1, tzinfo=UTC), "NEW")
    product = ProductFactory(sku="DEC")
    for days, key in ((91, "old"), (89, "new")):
        Notification.objects.create(
            user=alice, kind="due_soon", dedupe_key=key, created_at=NOW - timedelta(days=days)
        )
    for days in (31, 29):
        LinkAttempt.objects.create(user=alice, reason="unknown", at=NOW - timedelta(days=days))
    for action in ("ticked", "never"):
        ItemAction.objects.create(
            user=alice, product=product, action=action, at=NOW - timedelta(days=400)
        )
    ErasureRecord.objects.create(method="web", erased_at=NOW - timedelta(days=1100))
    ErasureRecord.objects.create(method="web", erased_at=NOW - timedelta(days=10))
    with time_machine.travel(NOW - timedelta(days=8), tick=False):
        old_export, _ = data_rights.request_export(user=alice)
        data_rights.build_export(export_id=old_export.pk)
    return old_order, new_order, old_export


def test_retention_deletes_what_is_past_its_period_and_keeps_the_rest(
    aged, alice, django_capture_on_commit_callbacks
):
    old_order, new_order, old_export = aged
    path = data_rights.export_path(old_export)
    assert path.exists()

    with (
        time_machine.travel(NOW, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        changed = data_rights.apply_retention()

    assert changed["purchases.orders"] == 1
    assert changed["purchases.order_lines"] == 1
    assert list(Order.objects.filter(customer=alice.customer)) == [new_order]
    assert list(OrderLine.objects.values_list("product__sku", flat=True)) == ["NEW"]
    assert list(Notification.objects.values_list("dedupe_key", flat=True)) == ["new"]
    assert LinkAttempt.objects.count() == 1
    assert list(ItemAction.objects.values_list("action", flat=True)) == ["never"]
    assert ErasureRecord.objects.count() == 1
    assert not DataExport.objects.filter(pk=old_export.pk).exists()
    assert not path.exists()


def test_running_retention_twice_gives_the_same_result(aged, django_capture_on_commit_callbacks):
    with (
        time_machine.travel(NOW, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        first = apply_retention_task()
        counts = (Order.objects.count(), Notification.objects.count(), LinkAttempt.objects.count())
        second = apply_retention_task()

    assert first
    assert second == {}
    assert (Order.objects.count(), Notification.objects.count(), LinkAttempt.objects.count()) == (
        counts
    )


def test_a_shorter_period_in_settings_deletes_more(aged, settings):
    settings.RETENTION_ORDERS_MONTHS = 1

    with time_machine.travel(NOW, tick=False):
        data_rights.apply_retention()

    assert not Order.objects.exists()


def test_expired_sessions_go_with_the_bookkeeping(alice, client, periods, settings):
    settings.RETENTION_BOOKKEEPING_DAYS = 30
    client.force_login(alice)
    Session.objects.update(expire_date=NOW - timedelta(days=31))

    with time_machine.travel(NOW, tick=False):
        data_rights.apply_retention()

    assert not Session.objects.exists()


def test_the_job_runs_nightly():
    jobs = {job["task"] for job in django_settings.CELERY_BEAT_SCHEDULE.values()}

    assert "accounts.tasks.apply_retention_task" in jobs


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2026, 11, 20, tzinfo=UTC), 36, datetime(2023, 11, 20, tzinfo=UTC)),
        (datetime(2026, 3, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), 1, datetime(2025, 12, 15, tzinfo=UTC)),
    ],
)
def test_months_are_calendar_months(moment, months, expected):
    assert subtract_months(moment, months) == expected
