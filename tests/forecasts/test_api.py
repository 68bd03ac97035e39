"""/api/v1/me/shopping-list: the owner's list, item actions and own items, under consent."""

import pytest
from rest_framework.test import APIClient

from accounts.purposes import PREDICTIONS
from insights.forecasts.models import ItemAction, ListItem
from tests.factories import ProductFactory
from tests.forecasts.conftest import grant
from tests.forecasts.factories import scored_last_list, stored_list

pytestmark = pytest.mark.django_db
LIST = "/api/v1/me/shopping-list"


@pytest.fixture
def api(alice, frozen):
    client = APIClient()
    client.force_authenticate(alice)
    grant(alice, PREDICTIONS)
    return client


def test_the_owner_gets_the_list_in_aisle_order(alice, api):
    stored_list(alice, n_items=3)
    scored_last_list(alice, n_items=12, n_bought=8)
    response = api.get(LIST)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "fresh"
    assert body["for_trip_on"] == "2026-11-26"
    assert [i["department"] for i in body["items"]] == ["Aisle C", "Aisle B", "Aisle A"]
    first = body["items"][0]
    assert first["confidence"] == "maybe"
    assert first["evidence"].startswith("bought 7 times since May")
    assert first["product"]["sku"].endswith("-002")
    assert body["last_list"]["n_bought"] == 8


def test_without_consent_it_is_403(alice, frozen):
    stored_list(alice)
    client = APIClient()
    client.force_authenticate(alice)
    assert client.get(LIST).status_code == 403
    item = ListItem.objects.first()
    response = client.post(f"{LIST}/items/{item.pk}/actions", {"action": "tick"}, format="json")
    assert response.status_code == 403


def test_anonymous_is_refused(client):
    assert client.get(LIST).status_code in (401, 403)


def test_an_item_action_changes_the_item(alice, api):
    _, items = stored_list(alice)
    response = api.post(f"{LIST}/items/{items[0].pk}/actions", {"action": "tick"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "ticked"


def test_a_snooze_takes_days_and_the_item_leaves(alice, api):
    _, items = stored_list(alice)
    url = f"{LIST}/items/{items[0].pk}/actions"
    assert api.post(url, {"action": "snooze"}, format="json").status_code == 400
    assert api.post(url, {"action": "snooze", "days": 7}, format="json").status_code == 204
    assert ItemAction.objects.get(user=alice).action == "snooze"


def test_an_unknown_action_is_a_400(alice, api):
    _, items = stored_list(alice)
    response = api.post(f"{LIST}/items/{items[0].pk}/actions", {"action": "x"}, format="json")
    assert response.status_code == 400


def test_another_shoppers_item_is_404(alice, charlie, api):
    _, items = stored_list(charlie)
    response = api.post(f"{LIST}/items/{items[0].pk}/actions", {"action": "tick"}, format="json")
    assert response.status_code == 404
    assert ListItem.objects.get(pk=items[0].pk).state == "open"


def test_adding_own_items_by_sku_or_text(alice, api):
    ProductFactory(sku="OATS", name="Rolled oats")
    by_sku = api.post(f"{LIST}/items", {"sku": "OATS", "quantity": "2"}, format="json")
    assert by_sku.status_code == 201
    assert by_sku.json()["product"]["sku"] == "OATS"
    by_text = api.post(f"{LIST}/items", {"free_text": "Candles"}, format="json")
    assert by_text.status_code == 201 and by_text.json()["label"] == "Candles"
    assert api.post(f"{LIST}/items", {}, format="json").status_code == 400
    assert api.post(f"{LIST}/items", {"sku": "NOPE"}, format="json").status_code == 404


def test_the_schema_documents_the_endpoints(client):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "/api/v1/me/shopping-list/items/{id}/actions" in text
