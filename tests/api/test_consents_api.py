"""GET /api/v1/customers/{kind:value}/consents: the store's systems read a customer's choices
with the "consents" scope only, and every read is logged."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.consent import set_consent
from accounts.models import PurposeText
from accounts.purposes import EMAIL, INSIGHTS, NECESSARY, PURPOSES
from insights.api.models import ConsentRead, IntegrationClient
from tests.accounts.factories import make_api_client, make_customer
from tests.factories import CustomerIdentifierFactory

pytestmark = pytest.mark.django_db


def _url(ref: str) -> str:
    return f"/api/v1/customers/{ref}/consents"


@pytest.fixture
def crm():
    return make_api_client(name="crm", scopes=["consents"])


@pytest.fixture
def alices_card(alice):
    CustomerIdentifierFactory(customer=alice.customer, kind="loyalty_card", value="6001234567")
    return "loyalty_card:6001234567"


def _get(client, ref, key=None):
    headers = {"Authorization": f"Api-Key {key}"} if key else {}
    return client.get(_url(ref), headers=headers)


def test_the_url_is_where_the_store_expects_it():
    assert reverse("api-customer-consents", args=["web:42"]) == _url("web:42")


def test_a_consents_client_reads_every_purpose_and_the_read_is_logged(
    client, alice, alices_card, crm
):
    crm_client, key = crm
    set_consent(user=alice, purpose=INSIGHTS, granted=True, method="check_in")
    set_consent(user=alice, purpose=EMAIL, granted=True, method="check_in")
    set_consent(user=alice, purpose=EMAIL, granted=False, method="consent_centre")

    response = _get(client, alices_card, key)

    assert response.status_code == 200
    body = response.json()
    assert body["customer"] == {"kind": "loyalty_card", "value": "6001234567"}
    assert body["has_login"] is True
    rows = {row["purpose"]: row for row in body["consents"]}
    assert list(rows) == list(PURPOSES)
    assert rows[NECESSARY]["granted"] and rows[NECESSARY]["lawful_basis"] == "contract"
    assert (rows[INSIGHTS]["granted"], rows[INSIGHTS]["allowed"]) == (True, True)
    assert rows[INSIGHTS]["method"] == "check_in" and rows[INSIGHTS]["text_version"] == 1
    assert (rows[EMAIL]["granted"], rows[EMAIL]["allowed"]) == (False, False)
    assert rows["pantry"]["granted"] is False and rows["pantry"]["decided_at"] is None
    assert "alice@example.com" not in response.content.decode()

    (read,) = ConsentRead.objects.all()
    assert (read.client, read.customer) == (crm_client, alice.customer)


def test_a_paused_purpose_is_granted_but_not_allowed(client, alice, alices_card, crm):
    set_consent(user=alice, purpose=EMAIL, granted=True, method="check_in")
    PurposeText.objects.create(purpose=EMAIL, version=2, title="E-mail", body="b", material=True)
    rows = {r["purpose"]: r for r in _get(client, alices_card, crm[1]).json()["consents"]}
    assert rows[EMAIL]["granted"] is True
    assert rows[EMAIL]["outdated"] is True
    assert rows[EMAIL]["allowed"] is False
    assert rows[EMAIL]["current_version"] == 2


def test_a_customer_without_a_login_has_nothing_optional(client, crm):
    make_customer(card="7001")
    body = _get(client, "loyalty_card:7001", crm[1]).json()
    assert body["has_login"] is False
    assert [r["purpose"] for r in body["consents"] if r["allowed"]] == [NECESSARY]
    assert ConsentRead.objects.count() == 1


@pytest.mark.parametrize("scopes", [["ingest"], ["link"], ["ingest", "link"], []])
def test_other_scopes_do_not_grant_reading_consents(client, alice, alices_card, scopes):
    _client, key = make_api_client(name="other", scopes=scopes)
    assert _get(client, alices_card, key).status_code == 403
    assert ConsentRead.objects.count() == 0


def test_without_a_key_the_client_is_asked_for_one(client, alices_card):
    response = _get(client, alices_card)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"


def test_a_revoked_key_is_refused(client, alices_card, crm):
    crm_client, key = crm
    crm_client.revoked_at = crm_client.created_at
    crm_client.save()
    assert _get(client, alices_card, key).status_code == 401


def test_a_logged_in_shopper_cannot_read_consents_through_this_endpoint(alice_client, alices_card):
    assert alice_client.get(_url(alices_card)).status_code in (401, 403)


def test_an_unknown_customer_is_a_404_and_nothing_is_logged(client, crm):
    response = _get(client, "loyalty_card:999", crm[1])
    assert response.status_code == 404
    assert ConsentRead.objects.count() == 0


@pytest.mark.parametrize("ref", ["6001234567", "passport:1", "web:", "%20:1"])
def test_a_malformed_reference_is_a_clear_400(client, crm, ref):
    response = _get(client, ref, crm[1])
    assert response.status_code == 400
    assert "loyalty_card" in response.json()["detail"]


def test_staff_read_the_log_but_cannot_change_it(admin_client, client, alice, alices_card, crm):
    _get(client, alices_card, crm[1])
    read = ConsentRead.objects.get()
    listing = admin_client.get(reverse("admin:api_consentread_changelist"))
    assert listing.status_code == 200
    assert "crm" in listing.content.decode()
    assert admin_client.get(reverse("admin:api_consentread_add")).status_code == 403
    admin_client.post(reverse("admin:api_consentread_delete", args=[read.pk]), {"post": "yes"})
    assert ConsentRead.objects.count() == 1


def test_the_consents_scope_can_be_given_in_the_admin(admin_client):
    response = admin_client.post(
        reverse("admin:api_integrationclient_add"), {"name": "crm", "scopes": ["consents"]}
    )
    assert response.status_code == 302
    assert IntegrationClient.objects.get(name="crm").scopes == ["consents"]


def test_the_openapi_schema_validates_without_warnings():
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = out.getvalue()
    assert "/api/v1/customers/{customer_ref}/consents:" in schema
    assert "ApiKeyAuth:" in schema
