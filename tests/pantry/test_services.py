"""Building pantries from receipts, item actions, waste and the consent receivers."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import OperationalError

from accounts.consent import set_consent
from accounts.purposes import EMAIL, PANTRY
from insights.pantry import services
from insights.pantry.models import DigestLog, Notification, PantryItem, PantrySettings
from insights.pantry.tasks import build_pantry_task
from insights.purchases.signals import history_changed
from tests.factories import CategoryFactory, OrderFactory, OrderLineFactory, ProductFactory
from tests.pantry.factories import PantryItemFactory, dairy, grant, yoghurt

NOW = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)


def _line(user, product, placed_at, **kwargs):
    order = OrderFactory(customer=user.customer, placed_at=placed_at)
    return OrderLineFactory(order=order, product=product, **kwargs)


@pytest.fixture
def alice_pantry(alice):
    grant(alice, PANTRY)
    return alice


def test_a_perishable_line_becomes_an_item_dated_from_the_products_shelf_life(alice_pantry):
    line = _line(
        alice_pantry,
        yoghurt(),
        datetime(2026, 11, 2, 23, 30, tzinfo=UTC),
        amount_paid=Decimal("18.50"),
    )
    assert services.build_pantry(user=alice_pantry, now=NOW) == 1
    item = PantryItem.objects.get(user=alice_pantry)
    # 23:30 UTC on 2 Nov is 3 Nov in Stockholm (the shopper's default time zone).
    assert (item.bought_on, item.best_before, item.estimate_rule) == (
        date(2026, 11, 3),
        date(2026, 11, 17),
        "product",
    )
    assert item.order_line == line
    assert item.value == Decimal("18.50")
    assert item.due_soon_on == date(2026, 11, 15)
    assert item.estimate_text() == "Bought 3 Nov; Yoghurt keeps about 14 days."


def test_without_a_product_shelf_life_the_category_default_is_used(alice_pantry):
    milk = ProductFactory(sku="MILK", name="Milk", perishable=True, category=dairy())
    _line(alice_pantry, milk, datetime(2026, 11, 3, 10, 0, tzinfo=UTC))
    services.build_pantry(user=alice_pantry, now=NOW)
    item = PantryItem.objects.get(user=alice_pantry)
    assert (item.best_before, item.estimate_rule, item.rule_days) == (
        date(2026, 11, 13),
        "category",
        10,
    )
    assert item.estimate_text() == "Bought 3 Nov; Dairy usually keeps about 10 days."


def test_unknown_shelf_life_non_perishables_and_stale_lines_make_no_item(alice_pantry):
    unknown = ProductFactory(sku="X", perishable=True, category=CategoryFactory(name="Odd"))
    soap = ProductFactory(sku="SOAP", perishable=False, shelf_life_days=999)
    _line(alice_pantry, unknown, datetime(2026, 11, 3, 10, 0, tzinfo=UTC))
    _line(alice_pantry, soap, datetime(2026, 11, 3, 10, 0, tzinfo=UTC))
    # Yoghurt from 1 Oct was due 15 Oct: more than a week before NOW, not worth an item.
    _line(alice_pantry, yoghurt(), datetime(2026, 10, 1, 10, 0, tzinfo=UTC))
    assert services.build_pantry(user=alice_pantry, now=NOW) == 0
    assert not PantryItem.objects.exists()


def test_building_again_adds_only_new_lines(alice_pantry):
    _line(alice_pantry, yoghurt(), datetime(2026, 11, 3, 10, 0, tzinfo=UTC))
    assert services.build_pantry(user=alice_pantry, now=NOW) == 1
    assert services.build_pantry(user=alice_pantry, now=NOW) == 0
    _line(alice_pantry, yoghurt(), datetime(2026, 11, 4, 10, 0, tzinfo=UTC))
    assert services.build_pantry(user=alice_pantry, now=NOW) == 1
    assert PantryItem.objects.filter(user=alice_pantry).count() == 2


def test_a_rebuild_after_the_cursor_was_lost_creates_no_duplicates(alice_pantry):
    _line(alice_pantry, yoghurt(), datetime(2026, 11, 3, 10, 0, tzinfo=UTC))
    services.build_pantry(user=alice_pantry, now=NOW)
    PantrySettings.objects.filter(user=alice_pantry).update(processed_line_id=0)
    services.build_pantry(user=alice_pantry, now=NOW)
    assert PantryItem.objects.filter(user=alice_pantry).count() == 1


def test_the_shoppers_rhythm_is_stored_for_the_use_in_time_hint(alice_pantry):
    product = yoghurt(shelf_life_days=10)
    for day in (date(2026, 9, 20), date(2026, 10, 12), date(2026, 11, 3)):
        _line(alice_pantry, product, datetime(day.year, day.month, day.day, 10, tzinfo=UTC))
    services.build_pantry(user=alice_pantry, now=NOW)
    item = PantryItem.objects.get(user=alice_pantry, bought_on=date(2026, 11, 3))
    assert item.usual_days == 22
    hint = item.use_in_time_hint(date(2026, 11, 4))
    assert (hint.usual_days, hint.keeps_days, hint.expires_in_days) == (22, 10, 9)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


def test_buying_a_product_again_takes_the_earlier_pack_as_used_up(alice_pantry):
    milk = yoghurt(sku="MILK", name="Milk")
    _line(alice_pantry, milk, _at(date(2026, 10, 28)))
    _line(alice_pantry, yoghurt(), _at(date(2026, 10, 28)))  # another product: stays
    services.build_pantry(user=alice_pantry, now=NOW)
    _line(alice_pantry, milk, _at(date(2026, 11, 3)))
    _line(alice_pantry, milk, _at(date(2026, 11, 3)))  # two packs that day: both stay
    services.build_pantry(user=alice_pantry, now=NOW)
    items = PantryItem.objects.filter(user=alice_pantry).order_by("bought_on", "id")
    assert [(i.product.name, i.bought_on.day, i.state, i.finished_on) for i in items] == [
        ("Milk", 28, "replaced", date(2026, 11, 3)),
        ("Yoghurt", 28, "in_pantry", None),
        ("Milk", 3, "in_pantry", None),
        ("Milk", 3, "in_pantry", None),
    ]


def test_a_first_build_keeps_only_the_latest_packs_of_a_product_bought_often(alice_pantry):
    milk = yoghurt(sku="MILK", name="Milk", shelf_life_days=60)
    for day in (date(2026, 10, 6), date(2026, 10, 20), date(2026, 11, 3)):
        _line(alice_pantry, milk, _at(day))
    services.build_pantry(user=alice_pantry, now=NOW)
    items = PantryItem.objects.filter(user=alice_pantry).order_by("bought_on")
    assert [(i.bought_on, i.state, i.finished_on) for i in items] == [
        (date(2026, 10, 6), "replaced", date(2026, 10, 20)),
        (date(2026, 10, 20), "replaced", date(2026, 11, 3)),
        (date(2026, 11, 3), "in_pantry", None),
    ]
    # Taken as used up, not thrown away: no waste.
    assert services.waste_summary(user=alice_pantry, today=date(2026, 11, 5))[-1].total == 0


def test_an_old_receipt_arriving_late_is_replaced_by_the_packs_bought_after_it(alice_pantry):
    milk = yoghurt(sku="MILK", name="Milk", shelf_life_days=60)
    _line(alice_pantry, milk, _at(date(2026, 11, 3)))
    services.build_pantry(user=alice_pantry, now=NOW)
    # A CSV import of the shopper's history, after the newer receipt was built.
    _line(alice_pantry, milk, _at(date(2026, 10, 20)))
    services.build_pantry(user=alice_pantry, now=NOW)
    items = PantryItem.objects.filter(user=alice_pantry).order_by("bought_on")
    assert [(i.bought_on, i.state, i.finished_on) for i in items] == [
        (date(2026, 10, 20), "replaced", date(2026, 11, 3)),
        (date(2026, 11, 3), "in_pantry", None),
    ]


def test_a_frozen_pack_and_a_pack_put_back_stay_until_the_next_purchase(alice_pantry):
    milk = yoghurt(sku="MILK", name="Milk", shelf_life_days=60)
    soup = yoghurt(sku="SOUP", name="Soup", shelf_life_days=60)
    _line(alice_pantry, milk, _at(date(2026, 10, 20)))
    _line(alice_pantry, soup, _at(date(2026, 10, 20)))
    services.build_pantry(user=alice_pantry, now=NOW)
    frozen = PantryItem.objects.get(product=soup)
    services.mark_frozen(
        item=frozen, on=date(2026, 10, 21), pantry_settings=services.get_settings(alice_pantry)
    )
    _line(alice_pantry, milk, _at(date(2026, 11, 1)))
    _line(alice_pantry, soup, _at(date(2026, 11, 1)))
    services.build_pantry(user=alice_pantry, now=NOW)
    frozen.refresh_from_db()
    assert frozen.state == "in_pantry"  # freezing is keeping on purpose
    earlier = PantryItem.objects.get(product=milk, bought_on=date(2026, 10, 20))
    assert earlier.state == "replaced"
    services.restore_item(item=earlier)  # "I still have it"
    _line(alice_pantry, yoghurt(), _at(date(2026, 11, 2)))  # a build about something else
    services.build_pantry(user=alice_pantry, now=NOW)
    earlier.refresh_from_db()
    assert earlier.state == "in_pantry"
    _line(alice_pantry, milk, _at(date(2026, 11, 4)))  # bought again after that
    services.build_pantry(user=alice_pantry, now=NOW)
    earlier.refresh_from_db()
    assert (earlier.state, earlier.finished_on) == ("replaced", date(2026, 11, 4))


def test_a_pack_taken_as_used_up_gets_no_reminder(alice_pantry):
    milk = yoghurt(sku="MILK", name="Milk", shelf_life_days=10)
    cream = yoghurt(sku="CREAM", name="Cream", shelf_life_days=10)
    _line(alice_pantry, milk, _at(date(2026, 10, 27)))  # best before 6 Nov: due on NOW
    _line(alice_pantry, cream, _at(date(2026, 10, 27)))  # the same dates, not bought again
    _line(alice_pantry, milk, _at(date(2026, 11, 4)))
    services.build_pantry(user=alice_pantry, now=NOW)
    services.send_due_reminders(now=NOW)
    reminded = Notification.objects.filter(user=alice_pantry).values_list(
        "item__product__name", "item__bought_on"
    )
    assert list(reminded) == [("Cream", date(2026, 10, 27))]


def test_the_build_task_does_nothing_without_consent(alice):
    _line(alice, yoghurt(), datetime(2026, 11, 3, 10, 0, tzinfo=UTC))
    assert build_pantry_task(alice.pk) == 0
    assert build_pantry_task(999_999) == 0
    assert not PantryItem.objects.exists()


def test_new_orders_queue_a_build_for_a_consenting_shopper(
    alice_pantry, charlie, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(build_pantry_task, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        history_changed.send(
            sender=None, user_id=alice_pantry.pk, customer_id=alice_pantry.customer.pk
        )
        history_changed.send(sender=None, user_id=charlie.pk, customer_id=charlie.customer.pk)
    assert queued == [alice_pantry.pk]


def test_granting_pantry_queues_a_build(alice, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(build_pantry_task, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        set_consent(user=alice, purpose=PANTRY, granted=True, method="consent_centre")
    assert queued == [alice.pk]


def test_withdrawing_pantry_deletes_items_notifications_and_the_calendar_link(
    alice_pantry, charlie
):
    item = PantryItemFactory(user=alice_pantry)
    other = PantryItemFactory(user=charlie)
    Notification.objects.create(user=alice_pantry, kind="due_soon", item=item, dedupe_key="a")
    Notification.objects.create(user=charlie, kind="due_soon", item=other, dedupe_key="c")
    DigestLog.objects.create(user=alice_pantry, day=date(2026, 11, 5))
    services.regenerate_calendar_token(user=alice_pantry)
    PantrySettings.objects.filter(user=alice_pantry).update(processed_line_id=42)
    set_consent(user=alice_pantry, purpose=PANTRY, granted=False, method="consent_centre")
    assert not PantryItem.objects.filter(user=alice_pantry).exists()
    assert not Notification.objects.filter(user=alice_pantry).exists()
    assert not DigestLog.objects.filter(user=alice_pantry).exists()
    pantry_settings = PantrySettings.objects.get(user=alice_pantry)
    assert (pantry_settings.calendar_token, pantry_settings.processed_line_id) == (None, 0)
    assert PantryItem.objects.filter(user=charlie).count() == 1
    assert Notification.objects.filter(user=charlie).count() == 1


def test_withdrawing_email_keeps_the_pantry(alice_pantry):
    grant(alice_pantry, EMAIL)
    PantryItemFactory(user=alice_pantry)
    set_consent(user=alice_pantry, purpose=EMAIL, granted=False, method="consent_centre")
    assert PantryItem.objects.filter(user=alice_pantry).count() == 1


def test_opening_shortens_and_freezing_lengthens_the_date(alice_pantry):
    pantry_settings = services.get_settings(alice_pantry)
    item = PantryItemFactory(user=alice_pantry)  # bought 3 Nov, best before 17 Nov
    services.mark_opened(item=item, on=date(2026, 11, 5), pantry_settings=pantry_settings)
    item.refresh_from_db()
    assert (item.best_before, item.estimate_rule, item.due_soon_on) == (
        date(2026, 11, 9),
        "opened",
        date(2026, 11, 7),
    )
    services.mark_frozen(item=item, on=date(2026, 11, 6), pantry_settings=pantry_settings)
    item.refresh_from_db()
    assert (item.best_before, item.estimate_rule) == (date(2027, 2, 4), "frozen")


def test_a_corrected_date_wins_and_cannot_precede_the_purchase(alice_pantry):
    pantry_settings = services.get_settings(alice_pantry)
    item = PantryItemFactory(user=alice_pantry)
    services.correct_date(
        item=item, best_before=date(2026, 11, 30), pantry_settings=pantry_settings
    )
    item.refresh_from_db()
    assert (item.best_before, item.estimate_rule, item.rule_days) == (
        date(2026, 11, 30),
        "corrected",
        27,
    )
    with pytest.raises(ValueError):
        services.correct_date(
            item=item, best_before=date(2026, 11, 1), pantry_settings=pantry_settings
        )


def test_a_category_share_sets_the_due_soon_window(alice_pantry):
    ham = ProductFactory(
        sku="HAM",
        name="Ham",
        perishable=True,
        shelf_life_days=30,
        category=CategoryFactory(name="Cured", due_soon_share=Decimal("0.25")),
    )
    _line(alice_pantry, ham, datetime(2026, 11, 3, 10, 0, tzinfo=UTC))
    services.build_pantry(user=alice_pantry, now=NOW)
    item = PantryItem.objects.get(user=alice_pantry)
    assert item.due_soon_on == item.best_before - timedelta(days=8)


def test_changing_the_reminder_days_moves_every_due_soon_date(alice_pantry):
    item = PantryItemFactory(user=alice_pantry)
    services.update_settings(
        user=alice_pantry, due_soon_days=5, quiet_hours_start=None, quiet_hours_end=None
    )
    item.refresh_from_db()
    assert item.due_soon_on == date(2026, 11, 12)


@time_machine.travel(datetime(2026, 11, 20, 12, 0, tzinfo=UTC), tick=False)
def test_waste_is_summed_in_money_per_month_and_category(alice_pantry, charlie):
    veg = ProductFactory(
        sku="VEG",
        name="Salad",
        perishable=True,
        shelf_life_days=5,
        category=CategoryFactory(name="Produce"),
    )
    services.mark_thrown(
        item=PantryItemFactory(user=alice_pantry, value=Decimal("30.00")),
        share=Decimal("0.5"),
        on=date(2026, 11, 10),
    )
    services.mark_thrown(
        item=PantryItemFactory(user=alice_pantry, product=veg, value=Decimal("12.00")),
        share=Decimal("1"),
        on=date(2026, 10, 2),
    )
    services.mark_used(
        item=PantryItemFactory(user=alice_pantry, value=Decimal("99.00")), on=date(2026, 11, 10)
    )
    services.mark_thrown(
        item=PantryItemFactory(user=charlie, value=Decimal("50.00")),
        share=Decimal("1"),
        on=date(2026, 11, 10),
    )
    months = services.waste_summary(user=alice_pantry, today=date(2026, 11, 20), months=3)
    assert [m.month for m in months] == [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)]
    assert [m.total for m in months] == [Decimal("0"), Decimal("12.00"), Decimal("15.00")]
    assert months[2].by_category == {"Dairy": Decimal("15.00")}
    assert months[1].by_category == {"Produce": Decimal("12.00")}


def test_a_thrown_share_must_be_a_real_share(alice_pantry):
    with pytest.raises(ValueError):
        services.mark_thrown(
            item=PantryItemFactory(user=alice_pantry), share=Decimal("0"), on=date(2026, 11, 10)
        )


def test_a_first_build_reads_back_only_as_far_as_the_longest_shelf_life(alice_pantry):
    yoghurt(shelf_life_days=30)
    ProductFactory(sku="DRY", perishable=False, shelf_life_days=2000)
    # Dairy's default is 10 days; the yoghurt's 30 is the longest perishable shelf life.
    assert services.lookback_days() == 30 + 7 + 1


def test_the_build_task_retries_a_locked_database_and_then_builds(alice, monkeypatch):
    grant(alice, PANTRY)
    calls = []

    def locked_once(*, user):
        calls.append(user.pk)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return 3

    monkeypatch.setattr("insights.pantry.services.build_pantry", locked_once)
    result = build_pantry_task.apply(args=[alice.pk])
    assert result.successful()
    assert result.get() == 3
    assert calls == [alice.pk, alice.pk]
