"""Erasure (GDPR art. 17): all of the shopper goes, nothing of anyone else, a record stays."""

import pytest
from django.apps import apps
from django.urls import reverse

from accounts import data_rights
from accounts.data_rights import _paths_to, remaining_rows
from accounts.models import Customer, DataExport, ErasureRecord, User
from accounts.personal_data import data_classes
from insights.forecasts.tasks import refresh_forecasts_task
from insights.habits.tasks import refresh_habits_batch_task, refresh_habits_task
from insights.pantry.tasks import build_pantry_task
from insights.purchases.models import Order, OrderLine
from insights.purchases.tasks import refresh_shopper_task
from tests.accounts.data_rights_helpers import fill_everything

ERASE_URL = reverse("accounts:data_erase")


def _leftovers(user_id: int, customer_id: int | None, email: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for leftover in remaining_rows(user_id=user_id, customer_id=customer_id, email=email):
        found[leftover.model] = found.get(leftover.model, 0) + leftover.rows
    return found


@pytest.fixture
def filled(alice, charlie):
    fill_everything(alice, tag="a")
    fill_everything(charlie, tag="c")
    return alice, charlie


def test_erasure_leaves_no_row_for_the_shopper_in_any_table(filled):
    alice, charlie = filled
    ids = (alice.pk, alice.customer.pk, alice.email)
    before = _leftovers(*ids)
    # The walk finds the shopper in every kind of table before, so "none after" means something.
    registered = {dc.model for dc in data_classes()}
    assert registered - set(before) == set()
    assert "accounts.User_groups" in before
    charlie_before = _leftovers(charlie.pk, charlie.customer.pk, charlie.email)

    data_rights.erase_account(user=alice, method=ErasureRecord.Method.WEB)

    assert _leftovers(*ids) == {}
    assert not User.objects.filter(email__iexact="alice@example.com").exists()
    assert not Customer.objects.filter(pk=ids[1]).exists()
    assert not OrderLine.objects.filter(customer_id=ids[1]).exists()
    assert _leftovers(charlie.pk, charlie.customer.pk, charlie.email) == charlie_before


def test_the_erasure_record_keeps_counts_and_no_personal_data(filled):
    alice, _charlie = filled
    orders = Order.objects.filter(customer=alice.customer).count()
    lines = OrderLine.objects.filter(customer=alice.customer).count()

    record = data_rights.erase_account(user=alice, method=ErasureRecord.Method.WEB)

    assert record.row_counts["purchases.orders"] == orders
    assert record.row_counts["purchases.order_lines"] == lines
    assert record.row_counts["accounts.profile"] == 1
    relations = [f.name for f in ErasureRecord._meta.get_fields() if f.is_relation]
    assert relations == []
    assert "alice" not in str(record.row_counts)


def test_every_model_that_points_at_a_shopper_is_in_the_registry():
    registered = {dc.model for dc in data_classes()}
    pointing = {
        model._meta.label
        for model in apps.get_models()
        if model not in (User, Customer) and any(_paths_to(model, {User, Customer}))
    }
    assert pointing - registered == set(), "register these in the app's personal_data.py"


def test_tasks_queued_for_an_erased_shopper_do_nothing(filled, django_capture_on_commit_callbacks):
    alice, _charlie = filled
    ids = (alice.pk, alice.customer.pk, alice.email)
    export_id = DataExport.objects.filter(user=alice).values_list("pk", flat=True).get()

    data_rights.erase_account(user=alice, method=ErasureRecord.Method.WEB)

    with django_capture_on_commit_callbacks(execute=False):
        assert refresh_shopper_task(ids[1]) is None
        assert refresh_habits_task(ids[0]) == "gone"
        assert refresh_habits_batch_task([ids[0]]) == 0
        assert refresh_forecasts_task([ids[0]]) == 0
        assert build_pantry_task(ids[0]) == 0
        assert data_rights.build_export(export_id=export_id) is None
    assert _leftovers(*ids) == {}


def test_an_erasure_deletes_the_shoppers_export_files(alice, django_capture_on_commit_callbacks):
    export, _ = data_rights.request_export(user=alice)
    data_rights.build_export(export_id=export.pk)
    path = data_rights.export_path(export)
    assert path.exists()

    with django_capture_on_commit_callbacks(execute=True):
        data_rights.erase_account(user=alice, method=ErasureRecord.Method.WEB)

    assert not path.exists()


def test_a_wrong_password_is_a_clear_error_and_deletes_nothing(alice_client, alice):
    fill_everything(alice)
    lines = OrderLine.objects.filter(customer=alice.customer).count()

    response = alice_client.post(ERASE_URL, {"password": "not my password"})

    assert response.status_code == 400
    assert "That is not your password. Nothing was deleted." in response.content.decode()
    assert User.objects.filter(pk=alice.pk).exists()
    assert OrderLine.objects.filter(customer=alice.customer).count() == lines
    assert not ErasureRecord.objects.exists()


def test_the_right_password_erases_logs_out_and_confirms(alice_client, alice):
    fill_everything(alice)
    customer_id = alice.customer.pk

    response = alice_client.post(ERASE_URL, {"password": "correct horse battery staple"})

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:data_erased")
    assert _leftovers(alice.pk, customer_id, alice.email) == {}
    assert ErasureRecord.objects.count() == 1
    page = alice_client.get(response["Location"])
    assert page.status_code == 200
    assert "Your account is deleted" in page.content.decode()
    assert "_auth_user_id" not in alice_client.session
    assert alice_client.get(reverse("accounts:data")).status_code == 302


def test_the_erase_page_asks_for_the_password(alice_client):
    response = alice_client.get(ERASE_URL)

    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()


def test_the_erase_page_needs_a_login(client):
    response = client.post(ERASE_URL, {"password": "x"})

    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
