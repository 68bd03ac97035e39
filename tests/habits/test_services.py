"""The refresh service and tasks on a real database: rows, idempotence, consent, signals."""

from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock

import pytest
import time_machine

from accounts.consent import set_consent
from accounts.models import ConsentEvent
from accounts.purposes import INSIGHTS
from insights.habits import services, tasks
from insights.habits.models import HabitHighlight, HabitSnapshot
from insights.purchases.models import OrderLine
from insights.purchases.signals import history_changed
from tests.factories import (
    CategoryFactory,
    DepartmentFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    UserFactory,
)
from tests.habits.factories import grant_insights, shop

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def rows_of(user):
    snapshots = sorted(
        HabitSnapshot.objects.filter(user=user).values_list("period", "state", "data")
    )
    highlights = sorted(HabitHighlight.objects.filter(user=user).values_list("key", "params"))
    return snapshots, highlights


@pytest.fixture
def alice_shopping(alice):
    shop(alice, start=datetime(2026, 8, 3, 9, tzinfo=UTC), trips=30)
    return alice


@time_machine.travel(NOW, tick=False)
def test_the_refresh_stores_every_standard_period_with_its_aggregates(alice_shopping):
    grant_insights(alice_shopping)
    tasks.refresh_habits_task(alice_shopping.pk)
    snapshots = {s.period: s for s in HabitSnapshot.objects.filter(user=alice_shopping)}
    assert set(snapshots) == {"4w", "3m", "12m"}
    three = snapshots["3m"]
    assert three.status == HabitSnapshot.Status.FRESH
    assert three.data["totals"]["trips"] == 30
    assert three.data["totals"]["spend"] == "1500.00"
    assert three.data["totals"]["discount"] == "75.00"
    assert {c["category"] for c in three.data["categories"]} == {"Dairy", "Snacks"}
    assert three.source_last_order_at == datetime(2026, 10, 29, 9, tzinfo=UTC)


@time_machine.travel(NOW, tick=False)
def test_a_shopper_without_a_store_card_gets_empty_summaries_not_an_error(db):
    # Check-in asks for consent before the card is linked: the grant's refresh runs then.
    user = UserFactory(email="newcomer@example.com")
    grant_insights(user)
    assert tasks.refresh_habits_task(user.pk) == "refreshed"
    snapshots = HabitSnapshot.objects.filter(user=user)
    assert {s.period for s in snapshots} == {"4w", "3m", "12m"}
    assert {s.status for s in snapshots} == {HabitSnapshot.Status.FRESH}
    assert {s.data["totals"]["trips"] for s in snapshots} == {0}


@time_machine.travel(NOW, tick=False)
def test_running_the_refresh_twice_gives_the_same_rows(alice_shopping):
    grant_insights(alice_shopping)
    tasks.refresh_habits_task(alice_shopping.pk)
    first = rows_of(alice_shopping)
    tasks.refresh_habits_task(alice_shopping.pk)
    assert rows_of(alice_shopping) == first
    assert HabitSnapshot.objects.filter(user=alice_shopping).count() == 3


@time_machine.travel(NOW, tick=False)
def test_the_refresh_leaves_out_never_listed_departments(alice):
    fuel = CategoryFactory(
        name="Petrol", department=DepartmentFactory(name="Fuel", never_list=True)
    )
    shop(alice, start=datetime(2026, 10, 1, 9, tzinfo=UTC), trips=2)
    order = alice.customer.orders.first()
    OrderLineFactory(order=order, line_no=9, product=ProductFactory(category=fuel), amount_paid=500)
    grant_insights(alice)
    tasks.refresh_habits_task(alice.pk)
    data = HabitSnapshot.objects.get(user=alice, period="3m").data
    assert data["totals"]["spend"] == "100.00"
    assert "Petrol" not in {c["category"] for c in data["categories"]}


@time_machine.travel(NOW, tick=False)
def test_without_consent_the_task_computes_nothing_and_deletes_what_was_left(alice_shopping):
    HabitSnapshot.objects.create(user=alice_shopping, period="4w", data={"x": 1})
    assert tasks.refresh_habits_task(alice_shopping.pk) == "no consent"
    assert not HabitSnapshot.objects.filter(user=alice_shopping).exists()


@time_machine.travel(NOW, tick=False)
def test_withdrawing_insights_deletes_every_habit_row_at_once(alice_shopping, charlie):
    grant_insights(alice_shopping)
    grant_insights(charlie)
    tasks.refresh_habits_task(alice_shopping.pk)
    tasks.refresh_habits_task(charlie.pk)
    set_consent(
        user=alice_shopping,
        purpose=INSIGHTS,
        granted=False,
        method=ConsentEvent.Method.CONSENT_CENTRE,
    )
    assert not HabitSnapshot.objects.filter(user=alice_shopping).exists()
    assert not HabitHighlight.objects.filter(user=alice_shopping).exists()
    assert HabitSnapshot.objects.filter(user=charlie).count() == 3


def test_history_changed_marks_stale_and_queues_a_refresh_on_commit(
    alice_shopping, django_capture_on_commit_callbacks
):
    grant_insights(alice_shopping)
    HabitSnapshot.objects.create(
        user=alice_shopping, period="4w", status=HabitSnapshot.Status.FRESH
    )
    with (
        mock.patch.object(tasks.refresh_habits_task, "apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        history_changed.send(
            sender=None, user_id=alice_shopping.pk, customer_id=alice_shopping.customer.pk
        )
    assert len(callbacks) == 1
    apply_async.assert_called_once_with(args=[alice_shopping.pk])
    assert HabitSnapshot.objects.get(user=alice_shopping).status == HabitSnapshot.Status.STALE


def test_history_changed_without_consent_queues_nothing(
    alice_shopping, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(tasks.refresh_habits_task, "apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        history_changed.send(sender=None, user_id=alice_shopping.pk, customer_id=1)
    apply_async.assert_not_called()


def test_granting_insights_queues_a_refresh(alice, django_capture_on_commit_callbacks):
    with (
        mock.patch.object(tasks.refresh_habits_task, "apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        grant_insights(alice)
    apply_async.assert_called_once_with(args=[alice.pk])


@time_machine.travel(NOW, tick=False)
def test_the_nightly_task_queues_only_consenting_shoppers_with_old_snapshots(
    alice_shopping, charlie
):
    grant_insights(alice_shopping)
    with mock.patch.object(tasks.refresh_habits_batch_task, "apply_async") as apply_async:
        assert tasks.refresh_stale_habits_task() == 1
    apply_async.assert_called_once_with(args=[[alice_shopping.pk]])
    tasks.refresh_habits_batch_task([alice_shopping.pk, charlie.pk])
    assert HabitSnapshot.objects.filter(user=alice_shopping).count() == 3
    assert not HabitSnapshot.objects.filter(user=charlie).exists()
    with mock.patch.object(tasks.refresh_habits_batch_task, "apply_async") as apply_async:
        assert tasks.refresh_stale_habits_task() == 0


@time_machine.travel(NOW, tick=False)
def test_a_dismissal_survives_the_next_refresh(alice):
    shop(alice, start=datetime(2026, 9, 6, 9, tzinfo=UTC), trips=20)
    grant_insights(alice)
    tasks.refresh_habits_task(alice.pk)
    HabitHighlight.objects.create(
        snapshot=HabitSnapshot.objects.get(user=alice, period="4w"),
        user=alice,
        key="new_favourite:1",
        kind="new_favourite",
        dismissed_at=NOW,
    )
    dismissed = services._dismissals([alice.pk])
    assert dismissed == {(alice.pk, "new_favourite:1"): NOW}


@time_machine.travel(NOW, tick=False)
def test_names_with_quotes_backslashes_tabs_and_accents_are_stored_as_they_are(alice):
    odd = 'Smör "extra" \\ salt\tpack\nof 2'
    orders = shop(alice, start=datetime(2026, 8, 3, 9, tzinfo=UTC), trips=12)
    butter = ProductFactory(name=odd)
    for order in orders:
        OrderLineFactory(order=order, line_no=9, product=butter, amount_paid=90)
    grant_insights(alice)
    tasks.refresh_habits_task(alice.pk)
    first = rows_of(alice)
    data = HabitSnapshot.objects.get(user=alice, period="3m").data
    assert data["top_by_spend"][0]["product"] == odd
    assert data["totals"]["trips"] == 12
    tasks.refresh_habits_task(alice.pk)
    assert rows_of(alice) == first


@time_machine.travel(NOW, tick=False)
def test_orders_stamped_with_and_without_fractions_of_a_second_are_all_counted(alice):
    """Till receipts carry whole seconds, the API's orders often microseconds: both count."""
    shop(alice, start=datetime(2026, 10, 1, 9, tzinfo=UTC), trips=3)
    OrderLineFactory(
        order=OrderFactory(
            customer=alice.customer, placed_at=datetime(2026, 10, 20, 9, 30, 5, 654645, tzinfo=UTC)
        ),
        line_no=1,
        amount_paid=40,
    )
    grant_insights(alice)
    assert tasks.refresh_habits_task(alice.pk) == "refreshed"
    data = HabitSnapshot.objects.get(user=alice, period="3m").data
    assert data["totals"]["trips"] == 4
    assert data["totals"]["spend"] == "190.00"


@time_machine.travel(NOW, tick=False)
def test_the_rows_do_not_depend_on_the_order_the_database_returns_lines_in(alice):
    """A parallel plan returns rows in any order; sums and ties must not follow it."""
    orders = shop(alice, start=datetime(2026, 8, 3, 9, tzinfo=UTC), trips=12)
    for n, order in enumerate(orders):
        OrderLineFactory(order=order, line_no=7, amount_paid=Decimal("0.10") * (n + 1))
        OrderLineFactory(order=order, line_no=8, amount_paid=Decimal("0.20"))
    grant_insights(alice)
    tasks.refresh_habits_task(alice.pk)
    as_stored = rows_of(alice)
    lines = services.load_lines([alice.customer.pk])
    read = services._read

    def backwards(queryset):
        return read(queryset).iloc[::-1].reset_index(drop=True)

    with mock.patch.object(services, "_read", backwards):
        assert services.load_lines([alice.customer.pk]).equals(lines)
        tasks.refresh_habits_task(alice.pk)
    assert rows_of(alice) == as_stored
    in_line_order = OrderLine.objects.filter(customer=alice.customer).order_by("pk")
    assert list(lines["order_id"]) == list(in_line_order.values_list("order_id", flat=True))


@time_machine.travel(NOW, tick=False)
def test_the_channel_mix_comes_from_each_order(alice, charlie):
    for day, channel in ((5, "web"), (6, "app"), (7, "app"), (8, "store")):
        order = OrderFactory(
            customer=alice.customer,
            channel=channel,
            placed_at=datetime(2026, 10, day, 9, tzinfo=UTC),
        )
        OrderLineFactory(order=order, line_no=1, amount_paid=10)
    # Another shopper's web orders are not alice's.
    OrderLineFactory(order=OrderFactory(customer=charlie.customer, channel="web"), line_no=1)
    grant_insights(alice)
    tasks.refresh_habits_task(alice.pk)
    channels = HabitSnapshot.objects.get(user=alice, period="4w").data["channels"]
    assert {c["channel"]: c["trips"] for c in channels} == {"app": 2, "store": 1, "web": 1}
