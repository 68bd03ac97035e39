"""Login throttling: at most 100 wrong passwords per account per hour from any addresses, then
a pause that ends by itself, shown as a clear page; nothing about the address is stored."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.core.management import call_command
from django.urls import reverse

from accounts.throttling import key_for_email

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
START = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _login(client, password, *, email="alice@example.com", address="203.0.113.1", **extra):
    return client.post(
        reverse("accounts:login"),
        {"username": email, "password": password},
        REMOTE_ADDR=address,
        **extra,
    )


def _fail(client, times, *, start=0, email="alice@example.com"):
    """`times` wrong passwords, each from its own address (an attacker spreading out)."""
    statuses = []
    for n in range(start, start + times):
        response = _login(client, f"guess number {n}", email=email, address=f"198.51.100.{n % 250}")
        statuses.append(response.status_code)
    return statuses


def test_the_101st_attempt_from_anywhere_is_refused_until_the_hour_is_over(client, alice):
    with time_machine.travel(START, tick=False) as clock:
        statuses = _fail(client, 99)
        assert set(statuses) == {200}  # the form, saying the password does not match

        # The 100th wrong password is still checked, and pauses the account.
        assert _fail(client, 1, start=99) == [429]

        # The 101st try is refused without looking at the password: the right one fails too.
        response = _login(client, PASSWORD, address="192.0.2.77")
        assert response.status_code == 429
        assert "_auth_user_id" not in client.session

        clock.move_to(START + timedelta(minutes=59))
        assert _login(client, PASSWORD, address="192.0.2.78").status_code == 429

        clock.move_to(START + timedelta(minutes=60, seconds=1))
        response = _login(client, PASSWORD, address="192.0.2.79")
        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str(alice.pk)


def test_tries_during_the_pause_do_not_make_it_longer(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    with time_machine.travel(START, tick=False) as clock:
        assert _fail(client, 3) == [200, 200, 429]
        for minute in (10, 30, 50, 59):
            clock.move_to(START + timedelta(minutes=minute))
            assert _fail(client, 1, start=minute) == [429]
        clock.move_to(START + timedelta(minutes=61))
        assert _login(client, PASSWORD).status_code == 302


def test_failures_older_than_the_hour_stop_counting(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    with time_machine.travel(START, tick=False) as clock:
        _fail(client, 2)
        clock.move_to(START + timedelta(minutes=61))
        assert _fail(client, 2, start=2) == [200, 200]
        assert _login(client, PASSWORD).status_code == 302


def test_one_account_paused_leaves_the_others_alone(client, alice, charlie, settings):
    settings.AXES_FAILURE_LIMIT = 3
    _fail(client, 3)
    assert _login(client, PASSWORD, email="charlie@example.com").status_code == 302


def test_an_address_in_another_case_counts_as_the_same_account(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    _fail(client, 2, email="Alice@Example.com")
    assert _fail(client, 1, email=" ALICE@example.COM ") == [429]
    assert _login(client, PASSWORD).status_code == 429


def test_an_address_without_a_login_is_paused_the_same_way(client, settings):
    """So the pause does not tell an attacker which addresses have a login."""
    settings.AXES_FAILURE_LIMIT = 3
    assert _fail(client, 3, email="nobody@example.com") == [200, 200, 429]


def test_the_admin_login_counts_towards_the_same_pause(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        client.post(
            reverse("admin:login"), {"username": "alice@example.com", "password": f"admin {n}"}
        )
    assert _login(client, PASSWORD).status_code == 429


def test_the_pause_page_says_what_happened_and_what_to_do(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 1
    response = _login(client, "a wrong password")
    assert response.status_code == 429
    assert response["Retry-After"] == "3600"
    body = response.content.decode()
    assert "Logging in is paused" in body
    assert "up to 60 minutes" in body
    assert reverse("accounts:password_reset") in body
    assert "alice@example.com" not in body
    assert response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]


def test_the_pause_page_speaks_swedish(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 1
    response = _login(client, "a wrong password", HTTP_ACCEPT_LANGUAGE="sv")
    body = response.content.decode()
    assert response.status_code == 429
    assert "Inloggningen är pausad" in body
    assert "upp till 60 minuter" in body


def test_failures_are_stored_without_the_address_or_the_password(client, alice):
    _login(client, "a secret wrong password")
    attempt = AccessAttempt.objects.get()
    assert attempt.username == key_for_email("alice@example.com")
    stored = " ".join(str(value) for value in attempt.__dict__.values())
    assert "alice@example.com" not in stored.lower()
    assert "a secret wrong password" not in stored


def test_support_can_lift_a_pause_by_address(client, alice, settings, capsys):
    settings.AXES_FAILURE_LIMIT = 2
    _fail(client, 2, email="Alice@example.com")
    assert _login(client, PASSWORD).status_code == 429

    call_command("unlock_login", "alice@EXAMPLE.com")

    assert "Removed 2 failed-login records" in capsys.readouterr().out
    assert AccessAttempt.objects.count() == 0
    assert _login(client, PASSWORD).status_code == 302


def test_the_limits_are_the_issues_numbers(settings):
    assert settings.AXES_FAILURE_LIMIT == 100
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 3600
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username"]
    assert settings.AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT is False
