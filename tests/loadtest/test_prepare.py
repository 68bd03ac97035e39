"""Getting a database ready for the load test: the demo check, deriving, choosing shoppers."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.purposes import INSIGHTS
from insights.forecasts.models import ShoppingList
from insights.habits.models import HabitSnapshot
from insights.loadtest import prepare
from insights.pantry.models import PantryItem, PantrySettings
from insights.purchases import demo
from tests.factories import OrderFactory
from tests.loadtest.factories import demo_shopper


def test_only_postgresql_with_every_household_is_accepted():
    complete = prepare.DemoState(households_in_data=10, households_loaded=10, orders=99)
    partial = prepare.DemoState(households_in_data=10, households_loaded=4, orders=40)

    assert prepare.refusal("postgresql", complete) is None
    assert "4 of the 10 demo households" in prepare.refusal("postgresql", partial)
    assert prepare.FILL_COMMAND in prepare.refusal("postgresql", partial)
    assert "PostgreSQL" in prepare.refusal("sqlite", complete)
    assert prepare.FILL_COMMAND in prepare.refusal("sqlite", complete)


def test_an_empty_database_is_refused_naming_the_command_that_fills_it(db):
    with pytest.raises(prepare.NotReady, match="load_demo --households all"):
        prepare.check_full_demo()


def test_a_migrated_database_has_no_pending_migrations(db):
    assert prepare.pending_migrations() == []


def test_a_database_behind_the_codes_migrations_is_refused_naming_migrate(db, monkeypatch):
    monkeypatch.setattr(prepare, "pending_migrations", lambda: ["axes.0010_accessattempt"])

    with pytest.raises(prepare.NotReady, match=r"axes.0010_accessattempt.*manage.py migrate"):
        prepare.check_full_demo()


def test_the_bench_command_stops_with_that_message_before_starting_anything(db):
    with pytest.raises(CommandError, match="load_demo --households all"):
        call_command("bench_load", "--no-capacity")


def test_the_bench_command_refuses_to_measure_with_debug_on(db, settings):
    settings.DEBUG = True

    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("bench_load")


def test_demo_households_are_counted_from_the_data_and_from_orders_with_a_login(db):
    demo_shopper(1, orders=2)
    demo_shopper(2, orders=1)
    demo_shopper(3, orders=1, source="web")  # not loaded by the demo
    OrderFactory(source=demo.SOURCE)  # a demo order of a customer without a login

    state = prepare.demo_state()

    assert state.households_loaded == 2
    assert state.orders == 5
    assert state.households_in_data > state.households_loaded
    assert not state.complete


def test_deriving_fills_habits_lists_and_pantries_of_consenting_shoppers_only(db):
    alice = demo_shopper(1, orders=8)
    bob = demo_shopper(2, orders=5)
    charlie = demo_shopper(3, orders=6, granted=())
    assert prepare.derived_state().habits_missing == 2

    timings = prepare.derive_for_everyone()

    assert prepare.derived_state().complete
    for user in (alice, bob):
        assert HabitSnapshot.objects.filter(user=user).count() == 3
        assert ShoppingList.objects.get(user=user).computed_at is not None
        assert PantrySettings.objects.filter(user=user).exists()
    assert PantryItem.objects.filter(user=alice).exists()
    assert not HabitSnapshot.objects.filter(user=charlie).exists()
    assert not ShoppingList.objects.filter(user=charlie, computed_at__isnull=False).exists()
    assert not PantryItem.objects.filter(user=charlie).exists()
    assert [name for name, *_ in timings.steps] == [
        "habits (3 periods each)",
        "forecast model fit",
        "forecasts and lists",
        "pantry build (receipts since each last build)",
        "reminder job (first run)",
    ]
    per_step = [shoppers for name, shoppers, *_ in timings.steps if "fit" not in name]
    assert per_step == [2, 2, 2, 2]
    database = [db for *_, db in timings.steps]
    if connection.vendor == "postgresql":  # the backend's CPU, read from /proc
        assert all(db is not None and db >= 0 for db in database)
    else:
        assert database == [None] * 5


def test_shoppers_are_spread_from_light_to_heavy_with_the_heaviest_included(db):
    for household in range(1, 7):
        demo_shopper(household, orders=household)
    demo_shopper(7, orders=9, granted=(INSIGHTS,))  # heavier, but not every purpose

    chosen = prepare.choose_shoppers(3, seed=1)

    assert len({email for email, _ in chosen}) == 3
    assert [lines for _, lines in chosen] == sorted(lines for _, lines in chosen)
    assert chosen[-1] == (demo.demo_email(6), 12)
    assert chosen[0][1] <= 4  # from the lightest third


def test_asking_for_more_shoppers_than_the_demo_has_says_so(db):
    demo_shopper(1, orders=1)

    with pytest.raises(prepare.NotReady, match="Only 1 demo shoppers"):
        prepare.choose_shoppers(2)
