"""Tasks and signal receivers: queued after new orders and grants, skipped without consent."""

from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import Customer
from accounts.purposes import INSIGHTS, PREDICTIONS
from insights.forecasts import tasks
from insights.forecasts.models import Forecast, ForecastModel, ForecastRun, ShoppingList
from insights.purchases.signals import history_changed
from tests.factories import CustomerFactory, UserFactory
from tests.forecasts.conftest import NOW, grant, weekly_history, withdraw

pytestmark = pytest.mark.django_db


@pytest.fixture
def delay():
    with mock.patch.object(tasks.refresh_forecasts_task, "delay") as patched:
        yield patched


def test_new_orders_queue_a_refresh_for_a_consenting_shopper(
    consenting_alice, delay, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        history_changed.send(
            sender=Customer, user_id=consenting_alice.pk, customer_id=consenting_alice.customer.pk
        )
    assert delay.call_args.args[0] == [consenting_alice.pk]
    assert ShoppingList.objects.get(user=consenting_alice).status == "computing"


def test_new_orders_of_a_shopper_without_consent_queue_nothing(alice, alice_history, delay):
    history_changed.send(sender=Customer, user_id=alice.pk, customer_id=alice.customer.pk)
    delay.assert_not_called()
    assert not ShoppingList.objects.filter(user=alice).exists()


def test_granting_predictions_queues_the_first_list(
    alice, delay, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        grant(alice, PREDICTIONS)
    delay.assert_called_once()
    assert delay.call_args.args[0] == [alice.pk]


def test_granting_another_purpose_queues_nothing(alice, delay, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        grant(alice, INSIGHTS)
    delay.assert_not_called()


def test_the_refresh_task_skips_shoppers_without_consent(
    consenting_alice, charlie, catalog, frozen
):
    weekly_history(charlie.customer, catalog)
    assert tasks.refresh_forecasts_task([consenting_alice.pk, charlie.pk]) == 1
    assert Forecast.objects.filter(user=consenting_alice).exists()
    assert not Forecast.objects.filter(user=charlie).exists()


def test_the_refresh_task_works_in_chunks(consenting_alice, charlie, catalog, frozen):
    weekly_history(charlie.customer, catalog)
    grant(charlie, PREDICTIONS)
    with override_settings(FORECAST_REFRESH_CHUNK=1):
        assert tasks.refresh_forecasts_task([charlie.pk, consenting_alice.pk]) == 2
    assert ForecastRun.objects.filter(kind="refresh").count() == 2


def test_the_refresh_task_returns_early_for_a_deleted_login(consenting_alice, frozen):
    user_id = consenting_alice.pk
    consenting_alice.delete()
    assert tasks.refresh_forecasts_task([user_id]) == 0


def test_running_the_refresh_twice_gives_the_same_rows(consenting_alice, frozen):
    tasks.refresh_forecasts_task([consenting_alice.pk])
    first = sorted(Forecast.objects.values_list("product_id", "probability", "rank"))
    tasks.refresh_forecasts_task([consenting_alice.pk])
    assert sorted(Forecast.objects.values_list("product_id", "probability", "rank")) == first


def test_nightly_refresh_queues_only_stale_consenting_shoppers(
    consenting_alice, charlie, catalog, frozen, delay
):
    bob = UserFactory(email="bob@example.com")
    CustomerFactory(user=bob)
    grant(bob, PREDICTIONS)
    tasks.refresh_forecasts_task([consenting_alice.pk])
    assert tasks.refresh_stale_forecasts_task() == 1
    delay.assert_called_once_with([bob.pk], ForecastRun.Kind.NIGHTLY, NOW.isoformat())


def test_fitting_stores_a_model_from_contributors(consenting_alice, frozen):
    pk = tasks.fit_forecast_model_task()
    stored = ForecastModel.objects.get(pk=pk)
    assert stored.n_contributors == 1
    assert ForecastRun.objects.get(kind="fit").shoppers == 1


def test_withdrawing_predictions_deletes_at_once_but_keeps_own_items(frozen, consenting_alice):
    from insights.forecasts.services import add_own_item

    tasks.refresh_forecasts_task([consenting_alice.pk])
    add_own_item(user=consenting_alice, free_text="Candles")
    withdraw(consenting_alice, PREDICTIONS)
    assert not Forecast.objects.filter(user=consenting_alice).exists()
    assert list(
        ShoppingList.objects.get(user=consenting_alice).items.values_list("kind", "free_text")
    ) == [("own", "Candles")]
    # A refresh queued before the withdrawal finds nothing to do.
    assert tasks.refresh_forecasts_task([consenting_alice.pk]) == 0
    assert not Forecast.objects.filter(user=consenting_alice).exists()


def test_waiting_lists_join_one_batch_and_later_tasks_find_them_done(
    consenting_alice, charlie, catalog, frozen
):
    from datetime import timedelta

    from insights.forecasts.services import mark_computing

    weekly_history(charlie.customer, catalog)
    grant(charlie, PREDICTIONS)
    requested = timezone.now()
    mark_computing(user_ids=[consenting_alice.pk, charlie.pk])
    frozen.shift(timedelta(seconds=5))
    assert (
        tasks.refresh_forecasts_task([consenting_alice.pk], "refresh", requested.isoformat()) == 2
    )
    assert ForecastRun.objects.get(kind="refresh").shoppers == 2
    assert set(ShoppingList.objects.values_list("status", flat=True)) == {"fresh"}
    # Charlie's own task, queued before that batch ran, has nothing left to do.
    assert tasks.refresh_forecasts_task([charlie.pk], "refresh", requested.isoformat()) == 0
    assert ForecastRun.objects.filter(kind="refresh").count() == 1


def test_a_list_waiting_for_a_shopper_without_consent_does_not_stay_updating(
    consenting_alice, charlie, frozen
):
    from insights.forecasts.services import mark_computing

    mark_computing(user_ids=[charlie.pk])
    tasks.refresh_forecasts_task([consenting_alice.pk])
    assert ShoppingList.objects.get(user=charlie).status == "stale"
