"""Export (GDPR art. 15 and 20): a ZIP of everything, only for its owner, for a limited time."""

import csv
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from accounts import data_rights
from accounts.consent import set_consent
from accounts.models import ConsentEvent, CustomerIdentifier, DataExport
from accounts.personal_data import data_classes
from accounts.tasks import build_export_task
from insights.forecasts.models import Forecast, ListItem
from insights.habits.models import HabitSnapshot
from insights.pantry.models import Notification, PantryItem
from insights.purchases.models import Order, OrderLine
from tests.accounts.data_rights_helpers import fill_everything

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _built(user) -> DataExport:
    export, _ = data_rights.request_export(user=user)
    data_rights.build_export(export_id=export.pk)
    export.refresh_from_db()
    return export


def _read(export: DataExport, name: str) -> str:
    with zipfile.ZipFile(data_rights.export_path(export)) as archive:
        return archive.read(name).decode()


@pytest.fixture
def filled(alice, charlie):
    fill_everything(alice, orders=5, lines=3, tag="a")
    fill_everything(charlie, orders=2, lines=2, tag="c")
    return alice


def test_the_zip_row_counts_equal_the_database_for_the_shopper(filled):
    alice = filled
    subject = data_rights.subject_for(alice)
    export, _ = data_rights.request_export(user=alice)
    before = data_rights.database_row_counts(subject)
    notifications = Notification.objects.filter(user=alice).count()
    data_rights.build_export(export_id=export.pk)
    export.refresh_from_db()
    in_zip = data_rights.zip_row_counts(data_rights.export_path(export))

    customer = alice.customer
    assert in_zip["purchases.orders"] == Order.objects.filter(customer=customer).count() == 5
    assert in_zip["purchases.order_lines"] == OrderLine.objects.filter(customer=customer).count()
    assert in_zip["accounts.customer_identifiers"] == (
        CustomerIdentifier.objects.filter(customer=customer).count()
    )
    assert in_zip["accounts.consent_history"] == ConsentEvent.objects.filter(user=alice).count()
    assert in_zip["habits.snapshots"] == HabitSnapshot.objects.filter(user=alice).count()
    assert in_zip["forecasts.forecasts"] == Forecast.objects.filter(user=alice).count()
    assert in_zip["forecasts.list_items"] == (
        ListItem.objects.filter(shopping_list__user=alice).count()
    )
    assert in_zip["pantry.items"] == PantryItem.objects.filter(user=alice).count()
    assert in_zip["pantry.notifications"] == notifications
    assert in_zip == before
    # Announcing the ready export added one notification, after the ZIP was written.
    assert data_rights.database_row_counts(subject) == {
        **before,
        "pantry.notifications": notifications + 1,
    }
    assert in_zip == export.row_counts
    assert set(in_zip) == {dc.key for dc in data_classes()}


def test_the_zip_holds_only_the_shoppers_own_rows(filled):
    export = _built(filled)

    with zipfile.ZipFile(data_rights.export_path(export)) as archive:
        everything = "".join(archive.read(name).decode() for name in archive.namelist())
    assert "aSKU0" in everything
    assert "cSKU0" not in everything
    assert "charlie@example.com" not in everything
    assert "token-" not in everything  # the calendar feed's secret stays out


def test_each_file_is_there_as_csv_and_json_with_the_same_rows(filled):
    export = _built(filled)

    lines_csv = list(csv.DictReader(io.StringIO(_read(export, "purchases/order_lines.csv"))))
    lines_json = json.loads(_read(export, "purchases/order_lines.json"))
    assert len(lines_csv) == len(lines_json) == 15
    assert lines_json[0]["product_sku"] == lines_csv[0]["product_sku"] == "aSKU0"
    assert lines_json[0]["amount_paid"] == "10.00"
    assert lines_json[0]["placed_at"] == "2026-10-01T10:00:00+00:00"
    profile = json.loads(_read(export, "accounts/profile.json"))
    assert profile == [profile[0]] and profile[0]["email"] == "alice@example.com"
    assert "password" not in profile[0]


def test_the_readme_says_what_each_file_holds_its_purpose_retention_and_source(filled, settings):
    settings.RETENTION_ORDERS_MONTHS = 36
    export = _built(filled)

    readme = _read(export, "README.txt")
    assert "alice@example.com" in readme
    for dc in data_classes():
        assert f"{dc.key.replace('.', '/')}.csv" in readme
        assert str(dc.holds) in readme
    assert "Purpose: Your purchase history" in readme
    assert "Kept: 36 months after the purchase" in readme
    assert "Source: The store's systems" in readme
    manifest = json.loads(_read(export, "manifest.json"))
    assert manifest["files"]["purchases/orders"]["rows"] == 5


def test_a_second_request_while_one_is_building_returns_the_same_export(alice):
    first, created = data_rights.request_export(user=alice)
    again, created_again = data_rights.request_export(user=alice)

    assert created and not created_again
    assert again.pk == first.pk
    assert DataExport.objects.filter(user=alice).count() == 1


def test_the_build_task_is_idempotent(filled, django_capture_on_commit_callbacks):
    alice = filled
    set_consent(user=alice, purpose="pantry", granted=True, method="consent_centre")
    export, _ = data_rights.request_export(user=alice)

    assert build_export_task(export.pk) == "built"
    export.refresh_from_db()
    first = (export.status, export.size_bytes, export.row_counts, export.finished_at)
    assert build_export_task(export.pk) == "skipped"
    export.refresh_from_db()

    assert (export.status, export.size_bytes, export.row_counts, export.finished_at) == first
    assert Notification.objects.filter(user=alice, kind="export_ready").count() == 1
    assert build_export_task(export.pk + 1000) == "skipped"


def test_a_build_lost_with_its_worker_is_rebuilt(alice):
    export, _ = data_rights.request_export(user=alice)
    DataExport.objects.filter(pk=export.pk).update(
        status=DataExport.Status.BUILDING, started_at=NOW - timedelta(hours=2)
    )

    with time_machine.travel(NOW, tick=False):
        assert build_export_task(export.pk) == "built"


def test_ready_sends_an_in_app_notification_and_an_email_only_with_email_consent(filled):
    alice = filled  # granted every purpose, e-mail included
    _built(alice)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert reverse("accounts:data") in mail.outbox[0].body
    assert Notification.objects.filter(user=alice, kind="export_ready").count() == 1

    set_consent(user=alice, purpose="email", granted=False, method="consent_centre")
    set_consent(user=alice, purpose="pantry", granted=False, method="consent_centre")
    mail.outbox.clear()
    _built(alice)
    assert mail.outbox == []
    assert not Notification.objects.filter(user=alice, kind="export_ready").exists()


def test_only_the_owner_can_download(filled, client, charlie):
    export = _built(filled)
    url = reverse("accounts:data_export_download", args=[export.pk])

    client.force_login(filled)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(body)).read("README.txt")

    client.force_login(charlie)
    assert client.get(url).status_code == 404
    assert client.get(reverse("accounts:data_export_status", args=[export.pk])).status_code == 404


def test_the_download_link_expires(alice, client, settings):
    settings.RETENTION_EXPORTS_DAYS = 7
    with time_machine.travel(NOW, tick=False):
        export = _built(alice)
    url = reverse("accounts:data_export_download", args=[export.pk])
    client.force_login(alice)

    with time_machine.travel(NOW + timedelta(days=6, hours=23), tick=False):
        assert client.get(url).status_code == 200
    with time_machine.travel(NOW + timedelta(days=7, minutes=1), tick=False):
        response = client.get(url)
    assert response.status_code == 410
    assert "no longer available" in response.content.decode()


def test_asking_with_htmx_returns_the_polling_fragment(alice_client, alice):
    response = alice_client.post(reverse("accounts:data_export"), HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="export-status"' in html
    export = DataExport.objects.get(user=alice)
    assert f'hx-get="{reverse("accounts:data_export_status", args=[export.pk])}"' in html
    assert 'hx-trigger="every 2s"' in html
    assert "<progress" in html


def test_polling_stops_once_the_export_is_ready(alice_client, alice):
    export = _built(alice)

    response = alice_client.get(
        reverse("accounts:data_export_status", args=[export.pk]), HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert "<html" not in html
    assert "hx-trigger" not in html
    assert reverse("accounts:data_export_download", args=[export.pk]) in html


def test_asking_without_htmx_redirects_to_the_page_which_refreshes_itself(alice_client, alice):
    response = alice_client.post(reverse("accounts:data_export"))

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:data")
    page = alice_client.get(reverse("accounts:data"))
    html = page.content.decode()
    assert "<html" in html
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in html
    assert "<progress" in html
    export = DataExport.objects.get(user=alice)
    status = alice_client.get(reverse("accounts:data_export_status", args=[export.pk]))
    assert status.status_code == 302


def test_the_whole_flow_runs_on_a_worker_after_commit(
    alice_client, alice, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(reverse("accounts:data_export"))

    export = DataExport.objects.get(user=alice)
    assert export.status == DataExport.Status.READY
    page = alice_client.get(reverse("accounts:data")).content.decode()
    assert "noscript" not in page
    assert reverse("accounts:data_export_download", args=[export.pk]) in page


def test_the_data_page_needs_a_login(client):
    response = client.get(reverse("accounts:data"))

    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_the_ready_notification_links_to_the_data_page(alice_client, alice):
    set_consent(user=alice, purpose="pantry", granted=True, method="consent_centre")
    _built(alice)

    html = alice_client.get(reverse("pantry:notifications")).content.decode()

    assert "Your data export is ready." in html
    assert f'href="{reverse("accounts:data")}"' in html


def test_a_shopper_without_a_store_card_gets_a_copy_without_purchases(bob):
    export = _built(bob)

    counts = data_rights.zip_row_counts(data_rights.export_path(export))
    assert counts["accounts.profile"] == 1
    assert counts["purchases.orders"] == counts["accounts.customer"] == 0


def test_the_page_says_what_kvitto_holds(alice_client):
    html = alice_client.get(reverse("accounts:data")).content.decode()

    for dc in data_classes():
        assert str(dc.title) in html
    assert reverse("accounts:data_erase") in html
    assert f'action="{reverse("accounts:data_export")}"' in html
