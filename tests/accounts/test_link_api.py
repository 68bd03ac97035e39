"""The store's systems: issue link codes and link a verified shopper (API key, scope "link")."""

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Customer, CustomerIdentifier, LinkCode, hash_code
from tests.accounts.factories import make_api_client, make_customer
from tests.factories import CustomerIdentifierFactory

pytestmark = pytest.mark.django_db

CODES_URL = "/api/v1/customers/link-codes"
LINK_URL = "/api/v1/customers/link"


@pytest.fixture
def till_key():
    return make_api_client(name="till", scopes=["link"])[1]


@pytest.fixture
def ingest_key():
    return make_api_client(name="ingest", scopes=["ingest"])[1]


def _post(client, url, body, key=None):
    headers = {"Authorization": f"Api-Key {key}"} if key else {}
    return client.post(url, body, content_type="application/json", headers=headers)


def test_the_urls_are_where_the_store_expects_them():
    assert reverse("api-customer-link-codes") == CODES_URL
    assert reverse("api-customer-link") == LINK_URL


def test_issuing_a_code_needs_an_api_key(client):
    response = _post(client, CODES_URL, {"customer": {"kind": "loyalty_card", "value": "1"}})
    assert response.status_code in (401, 403)
    assert LinkCode.objects.count() == 0


def test_a_shopper_session_cannot_issue_codes(alice_client):
    response = _post(alice_client, CODES_URL, {"customer": {"kind": "loyalty_card", "value": "1"}})
    assert response.status_code in (401, 403)


def test_a_key_without_the_link_scope_is_refused(client, ingest_key):
    body = {"customer": {"kind": "loyalty_card", "value": "6001234567"}}
    response = _post(client, CODES_URL, body, ingest_key)
    assert response.status_code == 403
    assert "link" in response.json()["detail"]
    assert _post(client, LINK_URL, {**body, "email": "a@b.se"}, ingest_key).status_code == 403


def test_a_code_for_an_unknown_card_creates_the_customer(client, till_key, bob):
    response = _post(
        client, CODES_URL, {"customer": {"kind": "loyalty_card", "value": "6001234567"}}, till_key
    )
    assert response.status_code == 201
    data = response.json()
    assert data["customer_created"] is True
    assert len(data["code"]) == 11 and data["code"][5] == "-"
    identifier = CustomerIdentifier.objects.get(kind="loyalty_card", value="6001234567")
    link_code = LinkCode.objects.get()
    assert link_code.customer == identifier.customer
    assert link_code.code_hash == hash_code(data["code"])
    # The printed code is what the shopper types on the link page.
    assert services.link_customer(user=bob, code=data["code"]) == identifier.customer


def test_a_code_for_a_known_card_reuses_its_customer(client, till_key):
    customer = make_customer("6001234567")
    response = _post(
        client, CODES_URL, {"customer": {"kind": "loyalty_card", "value": "6001234567"}}, till_key
    )
    assert response.json()["customer_created"] is False
    assert LinkCode.objects.get().customer == customer
    assert Customer.objects.count() == 1


def test_a_bad_body_is_a_400_that_names_the_field(client, till_key):
    response = _post(client, CODES_URL, {"customer": {"kind": "passport", "value": ""}}, till_key)
    assert response.status_code == 400
    assert set(response.json()["customer"]) == {"kind", "value"}


def test_a_verified_shopper_is_linked_directly(client, till_key, bob):
    body = {"customer": {"kind": "web", "value": "W-42"}, "email": "BOB@example.com"}
    response = _post(client, LINK_URL, body, till_key)
    assert response.status_code == 200
    assert response.json()["changed"] is True
    customer = Customer.objects.get(identifiers__value="W-42")
    assert customer.user == bob
    again = _post(client, LINK_URL, body, till_key)
    assert again.json()["changed"] is False


def test_direct_linking_to_an_unknown_login_is_a_404(client, till_key):
    body = {"customer": {"kind": "web", "value": "W-42"}, "email": "nobody@example.com"}
    response = _post(client, LINK_URL, body, till_key)
    assert response.status_code == 404
    assert response.json()["code"] == "no_login"


def test_direct_linking_a_customer_someone_else_owns_is_a_conflict(client, till_key, bob, charlie):
    CustomerIdentifierFactory(customer=charlie.customer, kind="loyalty_card", value="6001234567")
    body = {"customer": {"kind": "loyalty_card", "value": "6001234567"}, "email": bob.email}
    response = _post(client, LINK_URL, body, till_key)
    assert response.status_code == 409
    assert response.json()["code"] == "customer_taken"


def test_the_endpoints_are_in_the_schema(admin_client):
    schema = admin_client.get("/api/v1/schema/").content.decode()
    assert "/api/v1/customers/link-codes" in schema
    assert "customers_link_code_create" in schema
