"""The consent page: every purpose, one click on or off, htmx with a plain-form fallback."""

import pytest
import time_machine
from django.dispatch import receiver
from django.urls import reverse

from accounts.consent import consent_withdrawn, is_allowed, set_consent
from accounts.models import ConsentEvent, PurposeText
from accounts.purposes import INSIGHTS, PANTRY, PURPOSES

pytestmark = pytest.mark.django_db

URL = "/privacy/"
HX = {"HX-Request": "true"}


def test_the_centre_is_at_privacy_and_the_old_url_still_resolves():
    assert reverse("privacy:centre") == URL
    assert reverse("accounts:consents") == "/accounts/consents/"


def test_the_page_lists_every_purpose_with_its_state(alice_client, alice):
    set_consent(user=alice, purpose=PANTRY, granted=True, method="check_in")
    body = alice_client.get(URL).content.decode()
    for key, purpose in PURPOSES.items():
        assert f'id="purpose-{key}"' in body
        assert str(purpose.title) in body
    # The necessary purpose is shown but has no switch to post.
    assert 'name="purpose" value="necessary"' not in body
    assert body.count('role="switch" aria-checked="true"') == 1
    assert body.count('role="switch" aria-checked="false"') == 4


def test_granting_takes_one_post(alice_client, alice):
    response = alice_client.post(URL, {"purpose": INSIGHTS, "granted": "1"})
    assert response.status_code == 302
    assert is_allowed(alice, INSIGHTS)
    event = ConsentEvent.objects.get()
    assert (event.granted, event.method) == (True, "consent_centre")


def test_withdrawing_takes_one_post_and_says_what_was_deleted(alice_client, alice):
    set_consent(user=alice, purpose=INSIGHTS, granted=True, method="check_in")
    response = alice_client.post(URL, {"purpose": INSIGHTS, "granted": "0"}, follow=True)
    assert not is_allowed(alice, INSIGHTS)
    assert "the summaries computed for you were deleted" in response.content.decode()


def test_withdrawing_lets_other_apps_delete_their_data_in_the_same_request(alice_client, alice):
    seen = []

    @receiver(consent_withdrawn)
    def _record(sender, user, purpose, **kwargs):
        seen.append((user.pk, purpose))

    try:
        set_consent(user=alice, purpose=PANTRY, granted=True, method="check_in")
        alice_client.post(URL, {"purpose": PANTRY, "granted": "0"})
    finally:
        consent_withdrawn.disconnect(_record)
    assert seen == [(alice.pk, PANTRY)]


def test_htmx_gets_only_the_purpose_row(alice_client, alice):
    response = alice_client.post(URL, {"purpose": INSIGHTS, "granted": "1"}, headers=HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert body.strip().startswith('<div class="purpose is-on" id="purpose-insights">')
    assert 'aria-checked="true"' in body
    # The row's form now offers the opposite switch, so the next click withdraws.
    assert 'name="granted" value="0"' in body
    assert "switched on" in body
    assert is_allowed(alice, INSIGHTS)


def test_without_htmx_the_whole_page_comes_back(alice_client):
    response = alice_client.post(URL, {"purpose": INSIGHTS, "granted": "1"}, follow=True)
    body = response.content.decode()
    assert "<html" in body
    assert 'id="purpose-pantry"' in body


def test_the_necessary_purpose_cannot_be_switched_off(alice_client, alice):
    response = alice_client.post(URL, {"purpose": "necessary", "granted": "0"}, follow=True)
    assert "could not be saved" in response.content.decode()
    assert ConsentEvent.objects.count() == 0
    assert (
        alice_client.post(URL, {"purpose": "necessary", "granted": "0"}, headers=HX).status_code
        == 400
    )


def test_the_gate_comes_back_to_its_own_page(alice_client):
    response = alice_client.post(URL, {"purpose": INSIGHTS, "granted": "1", "next": "/habits/"})
    assert response["Location"] == "/habits/"


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "\\\\evil"]
)
def test_an_off_site_next_is_refused(alice_client, next_url):
    response = alice_client.post(URL, {"purpose": INSIGHTS, "granted": "1", "next": next_url})
    assert response["Location"] == URL


def test_the_history_is_the_shoppers_own_in_their_time_zone(client, alice, charlie):
    alice.time_zone = "America/New_York"
    alice.save()
    with time_machine.travel("2026-06-01 12:00Z", tick=False):
        set_consent(user=alice, purpose=PANTRY, granted=True, method="check_in")
    with time_machine.travel("2026-06-02 12:00Z", tick=False):
        set_consent(user=charlie, purpose=INSIGHTS, granted=True, method="consent_centre")

    client.force_login(alice)
    body = client.get(URL).content.decode()

    assert "1 Jun 2026, 08:00" in body  # 12:00 UTC is 08:00 in New York in June
    assert "America/New_York" in body
    assert "Pantry and best-before reminders" in body
    assert "2 Jun 2026" not in body  # Charlie's decision never shows on Alice's page


def test_charlie_sees_none_of_alices_decisions(client, alice, charlie):
    set_consent(user=alice, purpose=INSIGHTS, granted=True, method="check_in")
    client.force_login(charlie)
    body = client.get(URL, {"user": alice.pk}).content.decode()
    assert "No decisions yet" in body


def test_the_history_shows_the_latest_twenty(alice_client, alice):
    for i in range(13):
        set_consent(user=alice, purpose=INSIGHTS, granted=i % 2 == 0, method="consent_centre")
        set_consent(user=alice, purpose=PANTRY, granted=i % 2 == 0, method="consent_centre")
    body = alice_client.get(URL).content.decode()
    assert body.count('class="decision"') == 20


@pytest.mark.parametrize("changes", [2, 30])
def test_the_page_runs_a_fixed_number_of_queries(
    alice_client, alice, django_assert_num_queries, changes
):
    set_consent(user=alice, purpose=PANTRY, granted=True, method="check_in")
    for i in range(changes):
        set_consent(user=alice, purpose=INSIGHTS, granted=i % 2 == 0, method="consent_centre")
    # session, login, consent state, purpose texts, history with texts, agreed versions,
    # current versions, the header bell's unread count
    with django_assert_num_queries(8):
        alice_client.get(URL)


def test_a_revised_text_asks_again_and_one_post_records_the_new_version(alice_client, alice):
    set_consent(user=alice, purpose=PANTRY, granted=True, method="check_in")
    PurposeText.objects.create(purpose=PANTRY, version=2, title="Pantry", body="New words.")

    body = alice_client.get(URL).content.decode()
    assert "The wording changed since you said yes (version 1, now version 2)" in body
    assert "New words." in body
    assert is_allowed(alice, PANTRY)  # a revision does not undo the decision

    response = alice_client.post(URL, {"purpose": PANTRY, "granted": "1"}, headers=HX)
    assert "new wording" in response.content.decode()
    assert "The wording changed" not in response.content.decode()
    latest = ConsentEvent.objects.filter(user=alice, purpose=PANTRY).first()
    assert (latest.granted, latest.text.version, latest.method) == (True, 2, "consent_centre")
    assert "The wording changed" not in alice_client.get(URL).content.decode()


def test_the_page_needs_a_login(client):
    assert client.get(URL)["Location"].startswith(reverse("accounts:login"))
