"""The consent centre at /privacy/: what each purpose does, on what basis, for how long;
switches that take as few clicks to withdraw as to grant, with htmx and without."""

import re

import pytest
from django.urls import reverse

from accounts.consent import is_allowed, set_consent
from accounts.models import ConsentEvent
from accounts.purposes import EMAIL, INSIGHTS, NECESSARY, PURPOSES, SWITCHABLE

pytestmark = pytest.mark.django_db

URL = "/privacy/"
HX = {"HX-Request": "true"}


def _switch_form(body: str, purpose: str) -> dict[str, str]:
    """The fields the purpose's switch posts, read from the page like a browser would."""
    row = re.search(rf'<div class="purpose[^"]*" id="purpose-{purpose}">(.*?)</form>', body, re.S)
    assert row, f"no switch form for {purpose}"
    form = row.group(1)[row.group(1).rindex("<form") :]
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
    fields.pop("csrfmiddlewaretoken", None)
    return fields


def test_every_purpose_says_what_it_does_what_it_uses_its_basis_and_how_long(alice_client):
    body = alice_client.get(URL).content.decode()
    for key, purpose in PURPOSES.items():
        assert f'id="purpose-{key}"' in body
        for text in (purpose.title, purpose.summary, purpose.data_used, purpose.retention):
            assert str(text).replace("'", "&#x27;") in body, (key, text)
    assert body.count("GDPR art. 6(1)(a)") == len(SWITCHABLE)
    assert body.count("GDPR art. 6(1)(b)") == 1


def test_the_necessary_purpose_is_explained_but_has_no_switch(alice_client):
    body = alice_client.get(URL).content.decode()
    assert f'id="purpose-{NECESSARY}"' in body
    assert f'name="purpose" value="{NECESSARY}"' not in body
    assert "Always on" in body


def test_withdrawing_takes_exactly_the_requests_and_fields_that_granting_takes(alice_client, alice):
    # Granting: read the page, post the switch's form as it stands.
    grant_form = _switch_form(alice_client.get(URL).content.decode(), INSIGHTS)
    requests_to_grant = [alice_client.post(URL, grant_form)]
    assert is_allowed(alice, INSIGHTS)

    # Withdrawing: the same page, the same button, now offering the opposite.
    withdraw_form = _switch_form(alice_client.get(URL).content.decode(), INSIGHTS)
    requests_to_withdraw = [alice_client.post(URL, withdraw_form)]
    assert not is_allowed(alice, INSIGHTS)

    assert len(requests_to_withdraw) == len(requests_to_grant) == 1
    assert set(withdraw_form) == set(grant_form) == {"purpose", "granted"}
    assert (grant_form["granted"], withdraw_form["granted"]) == ("1", "0")
    assert [r.status_code for r in requests_to_grant + requests_to_withdraw] == [302, 302]


@pytest.mark.parametrize("granted", ["1", "0"])
def test_htmx_swaps_only_the_purposes_row_both_ways(alice_client, alice, granted):
    if granted == "0":
        set_consent(user=alice, purpose=EMAIL, granted=True, method="check_in")
    response = alice_client.post(URL, {"purpose": EMAIL, "granted": granted}, headers=HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert re.match(r'\s*<div class="purpose[^"]*" id="purpose-email">', body)
    assert body.count('id="purpose-') == 1
    assert is_allowed(alice, EMAIL) is (granted == "1")
    # The swapped row offers the opposite switch, so the next click undoes this one.
    assert f'name="granted" value="{"0" if granted == "1" else "1"}"' in body


@pytest.mark.parametrize("granted", ["1", "0"])
def test_without_htmx_the_switch_redirects_to_the_whole_page(alice_client, alice, granted):
    if granted == "0":
        set_consent(user=alice, purpose=EMAIL, granted=True, method="check_in")
    response = alice_client.post(URL, {"purpose": EMAIL, "granted": granted})
    assert response.status_code == 302
    assert response["Location"] == URL
    page = alice_client.get(response["Location"]).content.decode()
    assert "<html" in page
    assert all(f'id="purpose-{key}"' in page for key in PURPOSES)


def test_the_old_consent_url_is_a_permanent_redirect(alice_client):
    response = alice_client.get("/accounts/consents/")
    assert response.status_code == 301
    assert response["Location"] == URL


def test_a_form_opened_before_the_move_still_saves_the_choice(alice_client, alice):
    response = alice_client.post("/accounts/consents/", {"purpose": INSIGHTS, "granted": "1"})
    assert response.status_code == 302
    assert is_allowed(alice, INSIGHTS)


def test_the_headers_privacy_link_points_to_the_centre(alice_client):
    body = alice_client.get(reverse("accounts:profile")).content.decode()
    nav = re.search(r'<nav class="main-nav".*?</nav>', body, re.S).group(0)
    assert re.search(r'<a href="/privacy/"[^>]*>Privacy</a>', nav)
    assert 'href="/accounts/consents/"' not in body


def test_each_decision_links_its_text_and_its_receipt(alice_client, alice):
    event = set_consent(user=alice, purpose=INSIGHTS, granted=True, method="check_in")
    body = alice_client.get(URL).content.decode()
    assert f'href="/privacy/decisions/{event.receipt_id}/"' in body
    assert f'href="/privacy/decisions/{event.receipt_id}/receipt.json"' in body


def test_the_centre_needs_a_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_a_switch_never_touches_another_shoppers_consents(alice_client, alice, charlie):
    alice_client.post(URL, {"purpose": INSIGHTS, "granted": "1"})
    assert ConsentEvent.objects.filter(user=charlie).count() == 0
    assert not is_allowed(charlie, INSIGHTS)


def test_the_centre_leads_to_downloading_or_deleting_your_data(alice_client):
    body = alice_client.get(URL).content.decode()
    assert f'href="{reverse("accounts:data")}"' in body
