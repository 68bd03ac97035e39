"""Consent receipts in the Kantara Initiative Consent Receipt Specification v1.1 format.

One receipt per `ConsentEvent` (a grant or a withdrawal). The purpose text in the
receipt is the exact `PurposeText` version the decision referred to, so a receipt
downloaded years later still shows what the shopper agreed to.
"""

from typing import Any

from django.conf import settings
from django.urls import reverse

from accounts.models import ConsentEvent
from accounts.purposes import PURPOSES

KANTARA_VERSION = "KI-CR-v1.1.0"
SERVICE_NAME = "Kvitto"

# How each collection method is described in `collectionMethod`.
COLLECTION_METHODS = {
    ConsentEvent.Method.CHECK_IN: "web form: check-in",
    ConsentEvent.Method.CONSENT_CENTRE: "web form: consent centre",
    ConsentEvent.Method.API: "store system on the shopper's instruction (API)",
    ConsentEvent.Method.DEMO: "demo data",
    ConsentEvent.Method.UNSUBSCRIBE: "unsubscribe link in an e-mail",
}


def controller() -> dict[str, Any]:
    """The PII controller block, from the PRIVACY_CONTROLLER_* settings."""
    c = settings.PRIVACY_CONTROLLER
    return {
        "piiController": c["name"],
        "onBehalf": False,
        "contact": c["contact"],
        "address": {
            "streetAddress": c["street"],
            "postalCode": c["postal_code"],
            "addressLocality": c["locality"],
            "addressCountry": c["country"],
        },
        "email": c["email"],
        "phone": c["phone"],
        "piiControllerUrl": settings.SITE_URL,
    }


def _termination() -> str:
    centre = f"{settings.SITE_URL.rstrip('/')}{reverse('privacy:centre')}"
    return (
        f"Until withdrawn: switch it off at any time at {centre}. Processing stops at once "
        "and the data derived for this purpose is deleted in the same step."
    )


def consent_receipt(event: ConsentEvent) -> dict[str, Any]:
    """The Kantara CR v1.1 receipt of one decision.

    `consentTimestamp` is seconds since the epoch (UTC), as the specification says. The
    `kvitto` block is an extension: whether this decision granted or withdrew, and the
    text version with its title and publication time.
    """
    purpose = PURPOSES[event.purpose]
    text = event.text
    return {
        "version": KANTARA_VERSION,
        "jurisdiction": settings.PRIVACY_JURISDICTION,
        "consentTimestamp": int(event.at.timestamp()),
        "collectionMethod": COLLECTION_METHODS.get(event.method, event.method),
        "consentReceiptID": str(event.receipt_id),
        # Receipts are not signed yet, so no key is published.
        "publicKey": "",
        # Purpose texts are published in the site's default language.
        "language": settings.LANGUAGE_CODE,
        "piiPrincipalId": event.user.email,
        "piiControllers": [controller()],
        "policyUrl": settings.PRIVACY_POLICY_URL,
        "services": [
            {
                "service": SERVICE_NAME,
                "purposes": [
                    {
                        "purpose": text.body,
                        "purposeCategory": list(purpose.kantara_purpose_category),
                        "consentType": "EXPLICIT",
                        "piiCategory": list(purpose.kantara_pii_category),
                        "primaryPurpose": purpose.primary,
                        "termination": _termination(),
                        "thirdPartyDisclosure": False,
                        "thirdPartyName": "",
                    }
                ],
            }
        ],
        "sensitive": False,
        "spiCat": [],
        "kvitto": {
            "purposeKey": event.purpose,
            "decision": "granted" if event.granted else "withdrawn",
            "lawfulBasis": purpose.lawful_basis_article,
            "textVersion": text.version,
            "textTitle": text.title,
            "textPublishedAt": text.published_at.isoformat(),
        },
    }
