"""Login sessions: a new id at login, ended after 30 idle minutes or 12 hours, ended on the
server at logout, and a password change ends the shopper's other sessions (ASVS 5.0 V7)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.accounts.data_rights_helpers import log_in_session

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
HISTORY = reverse("purchases:history")
LOGIN = reverse("accounts:login")


def _session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _logged_in(client: Client) -> bool:
    return client.get(HISTORY).status_code == 200


def _log_in(client: Client) -> None:
    response = client.post(LOGIN, {"username": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 302


def test_logging_in_gives_a_new_session_id_and_ends_the_old_one(client, alice):
    anonymous = client.session
    anonymous["visited"] = True
    anonymous.save()
    before = anonymous.session_key
    client.cookies[settings.SESSION_COOKIE_NAME] = before

    _log_in(client)

    after = _session_key(client)
    assert after != before
    assert not SessionStore().exists(before)
    assert SessionStore(session_key=after).load()["_auth_user_id"] == str(alice.pk)


def test_a_session_id_planted_before_login_does_not_become_logged_in(alice):
    """Session fixation: whoever knows the id from before the login gets nothing after it."""
    victim = Client()
    planted = victim.session
    planted.save()
    victim.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key
    _log_in(victim)

    attacker = Client()
    attacker.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key
    assert not _logged_in(attacker)


def test_thirty_idle_minutes_end_the_login(client, alice):
    with time_machine.travel(START, tick=False) as clock:
        _log_in(client)
        clock.move_to(START + timedelta(minutes=29))
        assert _logged_in(client)
        # Activity keeps it going: 29 more minutes after the last request is still fine.
        clock.move_to(START + timedelta(minutes=58))
        assert _logged_in(client)

        clock.move_to(START + timedelta(minutes=58 + 30))
        response = client.get(HISTORY, follow=True)
        assert response.redirect_chain[0][0].startswith(LOGIN)
        assert "logged out after 30 minutes without activity" in response.content.decode()
        assert "_auth_user_id" not in client.session


def test_the_idle_limit_is_told_in_the_shoppers_language(client, alice):
    alice.language = "sv"
    alice.save()
    with time_machine.travel(START, tick=False) as clock:
        _log_in(client)
        clock.move_to(START + timedelta(minutes=31))
        body = client.get(HISTORY, follow=True).content.decode()
        assert "Du loggades ut efter 30 minuter utan aktivitet" in body


def test_a_login_ends_after_twelve_hours_however_active(client, alice):
    with time_machine.travel(START, tick=False) as clock:
        _log_in(client)
        for minutes in range(20, 12 * 60, 20):
            clock.move_to(START + timedelta(minutes=minutes))
            assert _logged_in(client), minutes

        clock.move_to(START + timedelta(hours=12))
        response = client.get(HISTORY, follow=True)
        assert response.redirect_chain[0][0].startswith(LOGIN)
        assert "a login lasts at most 12 hours" in response.content.decode()

        # Logging in again starts a fresh twelve hours.
        _log_in(client)
        clock.move_to(START + timedelta(hours=12, minutes=20))
        assert _logged_in(client)


def test_a_page_view_within_a_minute_does_not_write_the_session(client, alice):
    def stored_expiry() -> datetime:
        return Session.objects.get(session_key=_session_key(client)).expire_date

    with time_machine.travel(START, tick=False) as clock:
        _log_in(client)
        client.get(HISTORY)
        written = stored_expiry()
        clock.move_to(START + timedelta(seconds=30))
        client.get(HISTORY)
        assert stored_expiry() == written
        clock.move_to(START + timedelta(seconds=90))
        client.get(HISTORY)
        assert stored_expiry() == written + timedelta(seconds=90)


def test_logging_out_ends_the_session_on_the_server(client, alice):
    _log_in(client)
    key = _session_key(client)
    response = client.post(reverse("accounts:logout"))

    assert response["Clear-Site-Data"] == '"cache", "storage"'
    assert not SessionStore().exists(key)
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert not _logged_in(replay)


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(alice):
    laptop, phone = Client(), Client()
    laptop.force_login(alice)
    phone.force_login(alice)
    assert _logged_in(laptop) and _logged_in(phone)

    new = "another fine passphrase"
    response = laptop.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )

    assert response.status_code == 302
    assert _logged_in(laptop)
    assert not _logged_in(phone)


def test_a_password_reset_ends_every_session(client, alice):
    phone = Client()
    phone.force_login(alice)
    client.post(reverse("accounts:password_reset"), {"email": "alice@example.com"})
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    new = "a brand new passphrase here"
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}
    )
    assert done["Location"] == reverse("accounts:password_reset_complete")
    assert not _logged_in(phone)


def test_a_login_session_without_a_login_time_is_refused(alice):
    """Sessions are made by django.contrib.auth.login, which stamps the time; others are not."""
    stray = Client()
    stray.cookies[settings.SESSION_COOKIE_NAME] = log_in_session(alice)
    assert not _logged_in(stray)


def test_the_timeouts_are_the_issues_numbers():
    assert timedelta(minutes=30) == settings.SESSION_IDLE_TIMEOUT
    assert timedelta(hours=12) == settings.SESSION_ABSOLUTE_TIMEOUT
