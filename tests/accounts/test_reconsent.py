"""Material text changes ask again; until the shopper answers, each purpose follows its rule."""

import pytest
import time_machine
from django.urls import reverse

from accounts.consent import allowed_user_ids, is_allowed, outdated_grants, set_consent
from accounts.models import ConsentEvent, PurposeText
from accounts.purposes import (
    EMAIL,
    INSIGHTS,
    MODEL_IMPROVEMENT,
    PANTRY,
    PREDICTIONS,
    PURPOSES,
    SWITCHABLE,
    WhileOutdated,
)

pytestmark = pytest.mark.django_db

REVIEW = "/privacy/review/"


def _publish(purpose: str, *, material: bool, body: str = "New words.") -> PurposeText:
    version = PurposeText.objects.filter(purpose=purpose).count() + 1
    return PurposeText.objects.create(
        purpose=purpose, version=version, title="t", body=body, material=material
    )


def _grant_all(user) -> None:
    for purpose in SWITCHABLE:
        set_consent(user=user, purpose=purpose, granted=True, method="check_in")


def test_the_rule_is_declared_for_every_switchable_purpose():
    rules = {key: PURPOSES[key].while_outdated for key in SWITCHABLE}
    assert rules == {
        INSIGHTS: WhileOutdated.CONTINUE,
        PREDICTIONS: WhileOutdated.CONTINUE,
        PANTRY: WhileOutdated.CONTINUE,
        EMAIL: WhileOutdated.PAUSE,
        MODEL_IMPROVEMENT: WhileOutdated.PAUSE,
    }


def test_a_non_material_version_asks_nobody_and_pauses_nothing(alice):
    _grant_all(alice)
    for purpose in SWITCHABLE:
        _publish(purpose, material=False)
    assert outdated_grants(alice) == {}
    assert all(is_allowed(alice, purpose) for purpose in SWITCHABLE)
    assert all(allowed_user_ids(purpose) == {alice.pk} for purpose in SWITCHABLE)


@pytest.mark.parametrize("purpose", SWITCHABLE)
def test_a_material_version_applies_the_purposes_rule_until_the_shopper_answers(
    alice, charlie, purpose
):
    _grant_all(alice)
    _publish(purpose, material=True)
    _grant_all(charlie)  # Charlie agreed to the new version already

    continues = PURPOSES[purpose].while_outdated == WhileOutdated.CONTINUE
    assert outdated_grants(alice) == {purpose: (1, 2)}
    assert is_allowed(alice, purpose) is continues
    assert allowed_user_ids(purpose) == ({alice.pk, charlie.pk} if continues else {charlie.pk})
    assert allowed_user_ids(purpose, [alice.pk]) == ({alice.pk} if continues else set())
    assert is_allowed(charlie, purpose)

    set_consent(user=alice, purpose=purpose, granted=True, method="consent_centre")
    assert is_allowed(alice, purpose)
    assert allowed_user_ids(purpose) == {alice.pk, charlie.pk}
    assert outdated_grants(alice) == {}


def test_a_later_non_material_version_keeps_the_earlier_material_change_pending(alice):
    set_consent(user=alice, purpose=EMAIL, granted=True, method="check_in")
    _publish(EMAIL, material=True)
    _publish(EMAIL, material=False)
    assert outdated_grants(alice) == {EMAIL: (1, 3)}
    assert not is_allowed(alice, EMAIL)
    set_consent(user=alice, purpose=EMAIL, granted=True, method="consent_centre")
    assert is_allowed(alice, EMAIL)
    assert ConsentEvent.objects.filter(user=alice, purpose=EMAIL).first().text.version == 3


def test_withdrawing_also_answers_and_nothing_stays_pending(alice):
    set_consent(user=alice, purpose=EMAIL, granted=True, method="check_in")
    _publish(EMAIL, material=True)
    set_consent(user=alice, purpose=EMAIL, granted=False, method="consent_centre")
    assert outdated_grants(alice) == {}
    assert not is_allowed(alice, EMAIL)


def test_after_login_every_page_prompts_for_the_changed_text(client, alice):
    set_consent(user=alice, purpose=PANTRY, granted=True, method="check_in")
    _publish(PANTRY, material=True)
    client.force_login(alice)
    for url in ("/history/", "/habits/", reverse("accounts:profile"), "/privacy/"):
        body = client.get(url).content.decode()
        assert 'class="consent-review-prompt"' in body, url
        assert f'href="{REVIEW}"' in body, url


def test_no_prompt_without_a_material_change(client, alice):
    set_consent(user=alice, purpose=PANTRY, granted=True, method="check_in")
    _publish(PANTRY, material=False)
    client.force_login(alice)
    assert "consent-review-prompt" not in client.get(reverse("accounts:profile")).content.decode()


def test_an_open_session_is_asked_once_its_check_is_due(client, alice, settings):
    settings.CONSENT_REVIEW_RECHECK_SECONDS = 300
    set_consent(user=alice, purpose=PANTRY, granted=True, method="check_in")
    with time_machine.travel("2026-06-01 12:00Z", tick=False) as traveller:
        client.force_login(alice)
        _publish(PANTRY, material=True)
        profile = reverse("accounts:profile")
        assert "consent-review-prompt" not in client.get(profile).content.decode()
        traveller.shift(301)
        assert "consent-review-prompt" in client.get(profile).content.decode()


def test_the_review_page_shows_both_texts_and_agreeing_takes_one_post(client, alice):
    set_consent(user=alice, purpose=EMAIL, granted=True, method="check_in")
    _publish(EMAIL, material=True, body="We will also send a weekly list.")
    client.force_login(alice)

    body = client.get(REVIEW).content.decode()
    assert "We will also send a weekly list." in body
    assert PurposeText.objects.get(purpose=EMAIL, version=1).body in body
    assert "consent-review-prompt" not in body  # the page itself is the question

    response = client.post("/privacy/", {"purpose": EMAIL, "granted": "1", "next": REVIEW})
    assert response["Location"] == "/privacy/"  # nothing left to review
    assert is_allowed(alice, EMAIL)
    assert "consent-review-prompt" not in client.get("/privacy/").content.decode()


def test_switching_off_from_the_review_page_takes_one_post(client, alice):
    set_consent(user=alice, purpose=EMAIL, granted=True, method="check_in")
    set_consent(user=alice, purpose=PANTRY, granted=True, method="check_in")
    _publish(EMAIL, material=True)
    _publish(PANTRY, material=True)
    client.force_login(alice)
    response = client.post("/privacy/", {"purpose": EMAIL, "granted": "0", "next": REVIEW})
    assert response["Location"] == REVIEW  # pantry still waits for an answer
    assert ConsentEvent.objects.filter(user=alice, purpose=EMAIL).first().granted is False
    body = client.get(REVIEW).content.decode()
    assert 'value="pantry"' in body and 'value="email"' not in body


def test_the_centre_marks_a_paused_purpose(client, alice):
    set_consent(user=alice, purpose=EMAIL, granted=True, method="check_in")
    _publish(EMAIL, material=True)
    client.force_login(alice)
    body = client.get("/privacy/").content.decode()
    assert 'class="purpose is-on is-paused" id="purpose-email"' in body
    assert "Paused until you answer." in body


def test_the_exact_text_of_an_old_decision_can_always_be_shown(client, alice, charlie):
    event = set_consent(user=alice, purpose=INSIGHTS, granted=True, method="check_in")
    old_body = event.text.body
    _publish(INSIGHTS, material=True, body="Entirely different words.")
    client.force_login(alice)
    body = client.get(f"/privacy/decisions/{event.receipt_id}/").content.decode()
    assert old_body in body
    assert "Entirely different words." not in body

    client.force_login(charlie)
    assert client.get(f"/privacy/decisions/{event.receipt_id}/").status_code == 404


def test_the_admin_publishes_a_material_flag_and_never_edits_old_versions(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_purposetext_add"),
        {"purpose": EMAIL, "title": "E-mail", "body": "Typo fixed.", "material": ""},
    )
    assert response.status_code == 302
    text = PurposeText.objects.get(purpose=EMAIL, version=2)
    assert text.material is False
    page = admin_client.get(reverse("admin:accounts_purposetext_change", args=[text.pk]))
    assert 'name="material"' not in page.content.decode()
    assert 'name="body"' not in page.content.decode()
    admin_client.post(reverse("admin:accounts_purposetext_delete", args=[text.pk]), {"post": "yes"})
    assert PurposeText.objects.filter(pk=text.pk).exists()
