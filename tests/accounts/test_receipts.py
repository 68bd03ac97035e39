"""Every consent decision has a Kantara v1.1 receipt that only its owner can download."""

import json

import pytest
import time_machine

from accounts.consent import set_consent
from accounts.models import PurposeText
from accounts.purposes import EMAIL, INSIGHTS

pytestmark = pytest.mark.django_db

TOP_LEVEL = {
    "version",
    "jurisdiction",
    "consentTimestamp",
    "collectionMethod",
    "consentReceiptID",
    "publicKey",
    "language",
    "piiPrincipalId",
    "piiControllers",
    "policyUrl",
    "services",
    "sensitive",
    "spiCat",
}
PURPOSE_FIELDS = {
    "purpose",
    "purposeCategory",
    "consentType",
    "piiCategory",
    "primaryPurpose",
    "termination",
    "thirdPartyDisclosure",
    "thirdPartyName",
}


@pytest.fixture
def controller(settings):
    settings.PRIVACY_CONTROLLER = {
        "name": "Example Grocery AB",
        "contact": "Dana DPO",
        "email": "dpo@grocery.example",
        "phone": "+46 8 123 456 00",
        "street": "Storgatan 1",
        "postal_code": "111 22",
        "locality": "Stockholm",
        "country": "SE",
    }
    settings.PRIVACY_JURISDICTION = "SE"
    settings.PRIVACY_POLICY_URL = "https://grocery.example/privacy"
    settings.SITE_URL = "https://kvitto.grocery.example"


def _url(event) -> str:
    return f"/privacy/decisions/{event.receipt_id}/receipt.json"


def test_a_grant_has_a_receipt_with_every_kantara_field(alice_client, alice, controller):
    with time_machine.travel("2026-06-01 12:00Z", tick=False):
        event = set_consent(user=alice, purpose=INSIGHTS, granted=True, method="consent_centre")
    response = alice_client.get(_url(event))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith("attachment;")
    receipt = json.loads(response.content)
    assert set(receipt) >= TOP_LEVEL
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["jurisdiction"] == "SE"
    assert receipt["consentTimestamp"] == 1780315200  # 2026-06-01T12:00:00Z
    assert receipt["collectionMethod"] == "web form: consent centre"
    assert receipt["consentReceiptID"] == str(event.receipt_id)
    assert receipt["piiPrincipalId"] == "alice@example.com"
    assert receipt["policyUrl"] == "https://grocery.example/privacy"
    assert receipt["sensitive"] is False and receipt["spiCat"] == []
    (ctrl,) = receipt["piiControllers"]
    assert ctrl["piiController"] == "Example Grocery AB"
    assert ctrl["contact"] == "Dana DPO"
    assert ctrl["email"] == "dpo@grocery.example"
    assert ctrl["phone"] == "+46 8 123 456 00"
    assert ctrl["address"]["streetAddress"] == "Storgatan 1"
    assert ctrl["address"]["addressCountry"] == "SE"
    (service,) = receipt["services"]
    (purpose,) = service["purposes"]
    assert set(purpose) == PURPOSE_FIELDS
    assert purpose["purpose"] == event.text.body
    assert purpose["consentType"] == "EXPLICIT"
    assert purpose["purposeCategory"] == ["5 - Personalized Experience"]
    assert "7 - Financial" in purpose["piiCategory"]
    assert purpose["primaryPurpose"] is False
    assert purpose["thirdPartyDisclosure"] is False
    assert "https://kvitto.grocery.example/privacy/" in purpose["termination"]
    assert receipt["kvitto"]["decision"] == "granted"
    assert receipt["kvitto"]["textVersion"] == 1


def test_the_receipt_keeps_the_text_as_it_was_after_a_new_version(alice_client, alice):
    event = set_consent(user=alice, purpose=EMAIL, granted=True, method="check_in")
    PurposeText.objects.create(purpose=EMAIL, version=2, title="E-mail", body="Different.")
    receipt = json.loads(alice_client.get(_url(event)).content)
    purpose = receipt["services"][0]["purposes"][0]
    assert purpose["purpose"] == PurposeText.objects.get(purpose=EMAIL, version=1).body
    assert receipt["kvitto"]["textVersion"] == 1
    assert receipt["collectionMethod"] == "web form: check-in"


def test_a_withdrawal_has_its_own_receipt(alice_client, alice):
    grant = set_consent(user=alice, purpose=EMAIL, granted=True, method="check_in")
    withdrawal = set_consent(user=alice, purpose=EMAIL, granted=False, method="consent_centre")
    assert grant.receipt_id != withdrawal.receipt_id
    receipt = json.loads(alice_client.get(_url(withdrawal)).content)
    assert receipt["kvitto"]["decision"] == "withdrawn"
    assert receipt["consentReceiptID"] == str(withdrawal.receipt_id)


def test_another_shoppers_receipt_is_a_404(client, alice, charlie):
    event = set_consent(user=alice, purpose=INSIGHTS, granted=True, method="check_in")
    client.force_login(charlie)
    assert client.get(_url(event)).status_code == 404


def test_a_receipt_needs_a_login(client, alice):
    event = set_consent(user=alice, purpose=INSIGHTS, granted=True, method="check_in")
    response = client.get(_url(event))
    assert response.status_code == 302
    assert "alice@example.com" not in response.content.decode()


def test_an_unknown_receipt_id_is_a_404(alice_client):
    assert (
        alice_client.get(
            "/privacy/decisions/00000000-0000-4000-8000-000000000000/receipt.json"
        ).status_code
        == 404
    )
