"""Profile (name, language, time zone) and the language switch in the header."""

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

URL = "/accounts/profile/"


def test_the_profile_saves_name_language_and_time_zone(alice_client, alice):
    response = alice_client.post(
        URL, {"name": "Alice A.", "language": "sv", "time_zone": "Europe/Helsinki"}
    )
    assert response["Location"] == URL
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "sv"
    alice.refresh_from_db()
    assert (alice.name, alice.language, alice.time_zone) == ("Alice A.", "sv", "Europe/Helsinki")
    assert '<html lang="sv">' in alice_client.get(URL).content.decode()


def test_the_profile_rejects_an_unknown_time_zone(alice_client, alice):
    response = alice_client.post(
        URL, {"name": "Alice", "language": "en", "time_zone": "Mars/Olympus_Mons"}
    )
    assert response.status_code == 400
    assert "Mars/Olympus_Mons is not a known time zone" in response.content.decode()
    alice.refresh_from_db()
    assert alice.time_zone == "Europe/Stockholm"


def test_the_time_zone_select_offers_stockholm_first_and_keeps_an_uncommon_current_zone(
    alice_client, alice
):
    body = alice_client.get(URL).content.decode()
    assert '<option value="Europe/Stockholm" selected>' in body
    alice.time_zone = "Pacific/Chatham"
    alice.save()
    body = alice_client.get(URL).content.decode()
    assert '<option value="Pacific/Chatham" selected>' in body


def test_the_profile_links_to_password_change(alice_client):
    assert reverse("accounts:password_change") in alice_client.get(URL).content.decode()


def test_the_profile_needs_a_login(client):
    assert client.get(URL)["Location"].startswith(reverse("accounts:login"))


def test_switching_language_when_logged_in_remembers_it_on_the_login(alice_client, alice):
    response = alice_client.post(
        reverse("accounts:set_language"), {"language": "sv", "next": "/accounts/profile/"}
    )
    assert response["Location"] == "/accounts/profile/"
    alice.refresh_from_db()
    assert alice.language == "sv"
    page = alice_client.get(URL).content.decode()
    assert '<html lang="sv">' in page


def test_switching_language_anonymously_sets_the_cookie(client, db):
    response = client.post(reverse("accounts:set_language"), {"language": "sv", "next": "/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "sv"


def test_an_unknown_language_changes_nothing(alice_client, alice):
    alice_client.post(reverse("accounts:set_language"), {"language": "xx", "next": "/"})
    alice.refresh_from_db()
    assert alice.language == "en"


def test_the_language_switch_refuses_an_off_site_next(client, db):
    response = client.post(
        reverse("accounts:set_language"), {"language": "sv", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"
