"""POST /api/v1/ingest/orders: API keys with the ingest scope push all-or-nothing batches."""

import json
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from insights.api.models import IntegrationClient
from insights.purchases.models import Order
from tests.purchases.ingest_helpers import json_order

URL = "/api/v1/ingest/orders"
pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls_ingest")]


def make_client(name: str = "till-gateway", scopes: tuple[str, ...] = ("ingest",)) -> tuple:
    client = IntegrationClient(name=name, scopes=list(scopes))
    key = client.rotate_key()
    client.save()
    return client, key


@pytest.fixture
def api():
    return APIClient()


def post(api: APIClient, body: object, key: str | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {key}"} if key else {}
    return api.post(URL, body, format="json", **headers)


def test_a_request_without_a_key_is_401_and_asks_for_one(api):
    response = post(api, {"orders": [json_order()]})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert Order.objects.count() == 0


def test_an_unknown_key_is_401(api):
    response = post(api, {"orders": [json_order()]}, key="kv_not-a-key")

    assert response.status_code == 401


def test_a_key_without_the_ingest_scope_is_403(api):
    _, key = make_client(scopes=("consents",))

    response = post(api, {"orders": [json_order()]}, key=key)

    assert response.status_code == 403
    assert Order.objects.count() == 0


def test_a_revoked_key_is_401(api):
    client, key = make_client()
    client.revoked_at = timezone.now()
    client.save()

    response = post(api, {"orders": [json_order()]}, key=key)

    assert response.status_code == 401


def test_a_shoppers_session_login_is_403(alice_client):
    response = alice_client.post(URL, {"orders": [json_order()]}, content_type="application/json")

    assert response.status_code == 403
    assert Order.objects.count() == 0


def test_a_good_batch_is_201_with_counts_and_the_client_name_as_source(api):
    client, key = make_client(name="till-gateway")

    response = post(api, {"orders": [json_order(), json_order(external_id="W101")]}, key=key)

    assert response.status_code == 201
    assert response.json() == {
        "source": "till-gateway",
        "orders_received": 2,
        "created": 2,
        "lines_created": 4,
        "duplicates": 0,
    }
    order = Order.objects.get(external_id="W100")
    assert order.source == "till-gateway"
    assert order.total_amount == Decimal("37.50")
    client.refresh_from_db()
    assert client.last_used_at is not None


def test_the_same_batch_again_is_200_with_duplicates(api):
    _, key = make_client()
    body = {"source": "webshop", "orders": [json_order()]}
    post(api, body, key=key)

    response = post(api, body, key=key)

    assert response.status_code == 200
    assert response.json()["duplicates"] == 1
    assert response.json()["created"] == 0
    assert Order.objects.filter(source="webshop").count() == 1


def test_a_bad_batch_is_400_listing_each_bad_row_and_writes_nothing(api):
    _, key = make_client()
    bad_line = {"sku": "X", "quantity": "0", "unit_price": "1", "amount_paid": "-2"}
    body = {
        "orders": [
            json_order(),
            json_order(external_id="W2", currency="kronor", total_amount=None, lines=[bad_line]),
        ]
    }

    response = post(api, body, key=key)

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "row": "orders[1].currency",
                "field": "currency",
                "reason": "must be a 3-letter upper-case currency code",
            },
            {
                "row": "orders[1].lines[0].quantity",
                "field": "quantity",
                "reason": "must be greater than 0",
            },
            {
                "row": "orders[1].lines[0].amount_paid",
                "field": "amount_paid",
                "reason": "must not be negative",
            },
        ]
    }
    assert Order.objects.count() == 0


def test_a_body_that_is_not_an_object_with_orders_is_400(api):
    _, key = make_client()

    assert post(api, [json_order()], key=key).status_code == 400
    response = post(api, {"orders": "none"}, key=key)
    assert response.status_code == 400
    assert response.json()["errors"][0]["row"] == "orders"


def test_a_conflicting_order_is_400_and_nothing_is_written(api):
    _, key = make_client()
    post(api, {"orders": [json_order()]}, key=key)
    changed = json_order(channel="app")

    response = post(api, {"orders": [json_order(external_id="NEW"), changed]}, key=key)

    assert response.status_code == 400
    rows = {e["row"] for e in response.json()["errors"]}
    assert rows == {"orders[1].external_id"}
    assert not Order.objects.filter(external_id="NEW").exists()


def test_more_orders_than_the_limit_is_413(api, settings):
    settings.MAX_INGEST_BATCH_ORDERS = 2
    _, key = make_client()

    orders = [json_order(external_id=f"W{n}") for n in range(3)]
    response = post(api, {"orders": orders}, key=key)

    assert response.status_code == 413
    assert Order.objects.count() == 0


def test_the_schema_documents_the_endpoint(api, admin_client):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(urlconf="tests.api.urls_ingest").get_schema(request=None, public=True)

    operation = schema["paths"]["/api/v1/ingest/orders"]["post"]
    assert set(operation["responses"]) >= {"200", "201", "400", "413"}
    assert "IngestRequest" in schema["components"]["schemas"]


def test_a_batch_larger_than_djangos_form_body_limit_is_accepted(api, settings):
    # DATA_UPLOAD_MAX_MEMORY_SIZE guards form bodies; a JSON batch of the allowed size must
    # not trip over it (5000 orders are several MB, above its 2.5 MB default).
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200_000
    _, key = make_client()
    body = {"orders": [json_order(external_id=f"BIG{n}", total_amount=None) for n in range(600)]}
    assert len(json.dumps(body)) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    response = post(api, body, key=key)

    assert response.status_code == 201
    assert response.json()["created"] == 600


def test_a_body_above_the_endpoints_own_limit_is_413_and_bad_json_400(api, settings):
    settings.MAX_INGEST_BODY_BYTES = 1000
    _, key = make_client()
    body = {"orders": [json_order(external_id=f"W{n}") for n in range(5)]}

    assert post(api, body, key=key).status_code == 413
    response = api.post(
        URL, "{not json", content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {key}"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["row"] == "body"
