"""GET and POST /api/v1/me/export: the logged-in shopper's own export, nobody else's."""

from django.urls import reverse

from accounts import data_rights
from accounts.models import DataExport

URL = "/api/v1/me/export"


def test_without_an_export_get_is_404(alice_client):
    assert alice_client.get(URL).status_code == 404


def test_post_starts_an_export_and_a_second_post_returns_it(alice_client, alice):
    first = alice_client.post(URL)
    second = alice_client.post(URL)

    assert first.status_code == 202
    assert second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["status"] == "pending"
    assert first.json()["download_url"] is None
    assert DataExport.objects.filter(user=alice).count() == 1


def test_get_shows_the_ready_export_with_its_link(alice_client, alice):
    export, _ = data_rights.request_export(user=alice)
    data_rights.build_export(export_id=export.pk)

    body = alice_client.get(URL).json()

    assert body["status"] == "ready"
    assert body["percent"] == 100
    assert body["size_bytes"] > 0
    assert body["row_counts"]["accounts.profile"] == 1
    assert body["download_url"].endswith(reverse("accounts:data_export_download", args=[export.pk]))


def test_another_shopper_sees_none_of_it(client, alice, charlie):
    data_rights.request_export(user=alice)
    client.force_login(charlie)

    assert client.get(URL).status_code == 404


def test_it_needs_a_login(client):
    assert client.get(URL).status_code == 403
    assert client.post(URL).status_code == 403


def test_the_schema_documents_it(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").content.decode()

    assert "/api/v1/me/export" in schema
    assert "me_export_create" in schema
