"""The integration-client admin: the key is shown once, scopes are boxes, keys are revoked."""

import pytest

from insights.api.models import IntegrationClient, hash_key

pytestmark = pytest.mark.django_db
ADD = "/admin/api/integrationclient/add/"
LIST = "/admin/api/integrationclient/"


def test_creating_a_client_shows_its_key_once_and_stores_only_the_hash(admin_client):
    response = admin_client.post(
        ADD, {"name": "till-gateway", "scopes": ["ingest", "link"]}, follow=True
    )

    client = IntegrationClient.objects.get(name="till-gateway")
    assert client.scopes == ["ingest", "link"]
    shown = [str(m) for m in response.context["messages"]]
    key = next(m for m in shown if "API key" in m).split(" is ", 1)[1].split(" ")[0]
    assert key.startswith(client.key_prefix)
    assert client.key_hash == hash_key(key)
    assert key in response.content.decode()
    again = admin_client.get(f"{LIST}{client.pk}/change/").content.decode()
    assert key not in again
    assert client.key_prefix in again


def test_scopes_are_checkboxes_of_the_known_scopes(admin_client):
    page = admin_client.get(ADD).content.decode()

    assert 'type="checkbox" name="scopes" value="ingest"' in page
    assert 'type="checkbox" name="scopes" value="consents"' in page
    response = admin_client.post(ADD, {"name": "x", "scopes": ["everything"]})
    assert response.status_code == 200
    assert not IntegrationClient.objects.exists()


def test_the_list_shows_prefix_scopes_and_use(admin_client):
    client = IntegrationClient(name="webshop", scopes=["ingest"])
    client.rotate_key()
    client.save()

    page = admin_client.get(LIST).content.decode()

    assert "webshop" in page
    assert client.key_prefix in page
    assert "push orders" in page


def test_the_revoke_action_revokes_the_selected_keys(admin_client):
    clients = []
    for name in ("a", "b"):
        client = IntegrationClient(name=name, scopes=["ingest"])
        client.rotate_key()
        client.save()
        clients.append(client)

    admin_client.post(LIST, {"action": "revoke", "_selected_action": [clients[0].pk]}, follow=True)

    clients[0].refresh_from_db()
    clients[1].refresh_from_db()
    assert clients[0].revoked_at is not None
    assert not clients[0].is_active
    assert clients[1].is_active
