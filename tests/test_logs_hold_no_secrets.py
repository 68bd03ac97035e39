"""No personal data or secret reaches a log line: a canary shopper's e-mail address and
passwords, and the keys and tokens of the flow, go through sign-up, logins good and bad, a
pause, a password reset and change, the shopper's and the store's API calls, ingestion with
its refreshes, the calendar feed and erasure, with every logger captured at DEBUG."""

import logging
import re
from collections.abc import Iterator

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from insights.api.models import IntegrationClient
from insights.pantry.models import PantrySettings
from insights.pantry.services import unsubscribe_token
from tests.purchases.ingest_helpers import json_order

pytestmark = pytest.mark.django_db(transaction=True)

CANARY_EMAIL = "canary.q7x3v9@example.com"
CANARY_PASSWORD = "canary passphrase q7x3v9 one"
WRONG_PASSWORD = "canary wrong guess q7x3v9"
NEW_PASSWORD = "canary passphrase q7x3v9 two"
LAST_PASSWORD = "canary passphrase q7x3v9 three"
# Loggers that must be heard even if nothing created them before the test.
NAMED = ["django", "django.request", "django.security", "django.server", "axes", "celery"]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.names: set[str] = set()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.names.add(record.name)


@pytest.fixture
def every_log_line() -> Iterator[_Lines]:
    """A handler on the root logger at DEBUG, with every logger set to DEBUG and propagating,
    with the filters the project's own console handler applies (settings.LOGGING)."""
    capture = _Lines()
    for handler in logging.getLogger().handlers:
        for log_filter in handler.filters:
            capture.addFilter(log_filter)
    root = logging.getLogger()
    loggers = [logging.getLogger(name) for name in [*logging.root.manager.loggerDict, *NAMED]]
    saved = [(lg, lg.level, lg.propagate, lg.disabled) for lg in loggers]
    root_level = root.level
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.propagate = True
        lg.disabled = False
    root.setLevel(logging.DEBUG)
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(root_level)
        for lg, level, propagate, disabled in saved:
            lg.setLevel(level)
            lg.propagate = propagate
            lg.disabled = disabled


def test_the_capture_hears_a_new_logger_at_debug(every_log_line):
    logging.getLogger("kvitto.some.new.module").debug("heard %s", "it")
    assert "DEBUG kvitto.some.new.module heard it" in every_log_line.lines


def _login(client: Client, password: str):
    return client.post(
        reverse("accounts:login"), {"username": CANARY_EMAIL.upper(), "password": password}
    )


def test_a_canary_shoppers_secrets_never_reach_a_log_line(every_log_line, eager_celery, settings):
    settings.AXES_FAILURE_LIMIT = 3
    secrets = [CANARY_EMAIL, CANARY_PASSWORD, WRONG_PASSWORD, NEW_PASSWORD, LAST_PASSWORD]
    client = Client()

    # Sign-up and check-in.
    response = client.post(
        reverse("accounts:signup"),
        {
            "email": CANARY_EMAIL,
            "name": "Canary Q7x3v9",
            "password1": CANARY_PASSWORD,
            "password2": CANARY_PASSWORD,
            "language": "en",
        },
    )
    assert response.status_code == 302
    secrets.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    client.post(reverse("accounts:check_in"), {"insights": "on", "pantry": "on"})
    client.post(reverse("accounts:logout"))

    # Logins: wrong, then right.
    assert _login(client, WRONG_PASSWORD).status_code == 200
    assert _login(client, CANARY_PASSWORD).status_code == 302
    secrets.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    user = User.objects.get(email=CANARY_EMAIL)

    # The shopper's API, found and not found.
    api = APIClient()
    api.force_login(user)
    assert api.get("/api/v1/me/orders").status_code == 200
    assert api.get("/api/v1/me/orders/999999").status_code == 404

    # The store's systems: link the canary's card by e-mail, then push orders for it.
    store = IntegrationClient(name="Till", scopes=["link", "ingest", "consents"])
    key = store.rotate_key()
    store.save()
    secrets.append(key)
    store_api = APIClient(HTTP_AUTHORIZATION=f"Api-Key {key}")
    card = {"kind": "web", "value": "WEB1"}
    assert store_api.post(
        "/api/v1/customers/link", {"customer": card, "email": CANARY_EMAIL}, format="json"
    ).status_code in (200, 201)
    missing = store_api.post(
        "/api/v1/customers/link",
        {"customer": card, "email": CANARY_EMAIL.replace("canary", "nobody")},
        format="json",
    )
    assert missing.status_code in (404, 409)
    assert (
        store_api.post(
            "/api/v1/customers/link",
            {"customer": card, "email": f"not-an-address {CANARY_EMAIL}"},
            format="json",
        ).status_code
        == 400
    )
    assert store_api.post(
        "/api/v1/ingest/orders", {"orders": [json_order()]}, format="json"
    ).status_code in (200, 201)
    bad = json_order(external_id="W101", customer={"kind": "web", "value": CANARY_EMAIL})
    bad["lines"][0]["name"] = f"Milk for {CANARY_EMAIL}"
    bad["total_amount"] = "not money"
    assert (
        store_api.post("/api/v1/ingest/orders", {"orders": [bad]}, format="json").status_code == 400
    )
    wrong_key = f"kv_{CANARY_PASSWORD.replace(' ', '')}"
    secrets.append(wrong_key)
    assert (
        APIClient(HTTP_AUTHORIZATION=f"Api-Key {wrong_key}")
        .get("/api/v1/customers/web:WEB1/consents")
        .status_code
        == 401
    )
    assert store_api.get("/api/v1/customers/web:WEB1/consents").status_code == 200

    # The calendar feed and the unsubscribe link, by their tokens.
    pantry, _ = PantrySettings.objects.get_or_create(user=user)
    pantry.calendar_token = "q7x3v9calendartokenq7x3v9calendartoken"
    pantry.save()
    secrets.append(pantry.calendar_token)
    assert client.get(f"/pantry/calendar/{pantry.calendar_token}.ics").status_code == 200
    unsubscribe = unsubscribe_token(user)
    secrets.append(unsubscribe)
    assert client.get(reverse("pantry:unsubscribe", args=[unsubscribe])).status_code == 200

    # A password reset by e-mail, then a change, then a pause after wrong passwords.
    client.post(reverse("accounts:logout"))
    client.post(reverse("accounts:password_reset"), {"email": CANARY_EMAIL})
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", mail.outbox[-1].body).group(1)
    secrets.append(link.rstrip("/").rsplit("/", 1)[-1])
    form_page = client.get(link, follow=True)
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert client.get(link, follow=True).status_code == 200  # a used link explains itself
    assert _login(client, NEW_PASSWORD).status_code == 302
    client.post(
        reverse("accounts:password_change"),
        {
            "old_password": NEW_PASSWORD,
            "new_password1": LAST_PASSWORD,
            "new_password2": LAST_PASSWORD,
        },
    )
    client.post(reverse("accounts:logout"))
    assert _login(client, WRONG_PASSWORD).status_code == 200
    assert _login(client, WRONG_PASSWORD).status_code == 429
    assert _login(client, LAST_PASSWORD).status_code == 429
    client.post(reverse("admin:login"), {"username": CANARY_EMAIL, "password": WRONG_PASSWORD})

    # Erasure, after a wrong password first.
    settings.AXES_FAILURE_LIMIT = 100
    user.refresh_from_db()
    client.force_login(user)
    assert (
        client.post(reverse("accounts:data_erase"), {"password": WRONG_PASSWORD}).status_code == 400
    )
    assert (
        client.post(reverse("accounts:data_erase"), {"password": LAST_PASSWORD}).status_code == 302
    )
    assert not User.objects.filter(email=CANARY_EMAIL).exists()
    # Its links now answer 404, which Django logs with the path: the token must not show.
    assert client.get(reverse("pantry:unsubscribe", args=[unsubscribe])).status_code == 404
    assert client.get(f"/pantry/calendar/{pantry.calendar_token}.ics").status_code == 404

    # The capture heard the flow: requests, axes and the refresh work.
    heard = every_log_line.names
    assert {"django.request", "axes.handlers.database"} <= heard, heard
    assert any(name.startswith("insights.") or name.startswith("accounts.") for name in heard)
    assert len(every_log_line.lines) > 20

    leaks = [
        (secret, line)
        for line in every_log_line.lines
        for secret in secrets
        if secret.lower() in line.lower()
    ]
    assert leaks == []
    # Nothing that looks like an e-mail address at all, canary or not.
    addresses = [line for line in every_log_line.lines if re.search(r"[\w.+-]+@[\w-]+\.\w", line)]
    assert addresses == []
