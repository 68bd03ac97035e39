"""Check-in: each purpose explained and asked for separately, all off until ticked."""

import re

import pytest
from django.urls import reverse

from accounts.consent import consent_state, set_consent
from accounts.models import ConsentEvent
from accounts.purposes import PURPOSES, SWITCHABLE
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def newcomer(db):
    return UserFactory(email="dana@example.com", name="Dana Dahl")


@pytest.fixture
def newcomer_client(client, newcomer):
    client.force_login(newcomer)
    return client


def test_check_in_explains_every_purpose_with_every_box_unticked(newcomer_client):
    body = newcomer_client.get(reverse("accounts:check_in")).content.decode()
    for purpose in PURPOSES.values():
        assert str(purpose.title) in body
        assert str(purpose.summary) in body
    checkboxes = re.findall(r'<input type="checkbox"[^>]*>', body)
    assert len(checkboxes) == len(SWITCHABLE)
    assert not any("checked" in box for box in checkboxes)
    # The necessary purpose is explained, never offered as a switch.
    assert 'name="necessary"' not in body


def test_sign_up_then_check_in_with_two_purposes_records_exactly_two_grants(client):
    client.post(
        reverse("accounts:signup"),
        {
            "email": "dana@example.com",
            "name": "Dana",
            "password1": "a long and unusual passphrase",
            "password2": "a long and unusual passphrase",
            "language": "en",
        },
    )
    response = client.post(reverse("accounts:check_in"), {"insights": "on", "pantry": "on"})

    events = ConsentEvent.objects.order_by("id")
    assert [(e.purpose, e.granted, e.method) for e in events] == [
        ("insights", True, "check_in"),
        ("pantry", True, "check_in"),
    ]
    user = events[0].user
    assert consent_state(user) == {
        "insights": True,
        "predictions": False,
        "pantry": True,
        "email": False,
        "model_improvement": False,
    }
    assert user.checked_in_at is not None
    # No store card yet: the next step offers to link one.
    assert response["Location"] == reverse("accounts:link") + "?welcome=1"


def test_checking_in_with_nothing_ticked_records_nothing_and_everything_stays_off(
    newcomer_client, newcomer
):
    newcomer_client.post(reverse("accounts:check_in"), {})
    assert ConsentEvent.objects.count() == 0
    assert not any(consent_state(newcomer).values())
    newcomer.refresh_from_db()
    assert newcomer.checked_in_at is not None


def test_the_necessary_purpose_cannot_be_smuggled_into_check_in(newcomer_client):
    newcomer_client.post(reverse("accounts:check_in"), {"necessary": "on", "email": "on"})
    assert list(ConsentEvent.objects.values_list("purpose", flat=True)) == ["email"]


def test_a_shopper_with_a_store_card_goes_straight_to_history(client):
    user = UserFactory(email="erik@example.com")
    CustomerFactory(user=user)
    client.force_login(user)
    response = client.post(reverse("accounts:check_in"), {"predictions": "on"})
    assert response["Location"] == reverse("purchases:history")


def test_after_check_in_the_page_sends_the_shopper_to_their_consents(bob_client):
    response = bob_client.get(reverse("accounts:check_in"))
    assert response["Location"] == reverse("privacy:centre")


def test_check_in_needs_a_login(client, db):
    response = client.get(reverse("accounts:check_in"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_a_shopper_with_earlier_grants_sees_them_ticked_and_can_untick_them(
    newcomer_client, newcomer
):
    set_consent(user=newcomer, purpose="pantry", granted=True, method="demo")
    body = newcomer_client.get(reverse("accounts:check_in")).content.decode()
    assert re.search(r'<input type="checkbox" name="pantry"[^>]*checked', body)
    assert not re.search(r'<input type="checkbox" name="insights"[^>]*checked', body)

    newcomer_client.post(reverse("accounts:check_in"), {"email": "on"})

    assert consent_state(newcomer) == {
        "insights": False,
        "predictions": False,
        "pantry": False,
        "email": True,
        "model_improvement": False,
    }
    latest = ConsentEvent.objects.filter(method="check_in").order_by("id")
    assert [(e.purpose, e.granted) for e in latest] == [("pantry", False), ("email", True)]
