"""Secrets in URL paths (calendar feed, reset and unsubscribe links) are redacted from log
lines: Django's own (a handler filter) and gunicorn's access log (a logger class)."""

import logging
from datetime import timedelta
from types import SimpleNamespace

from gunicorn.config import Config

from insights.gunicorn_logger import RedactingLogger
from insights.log_redaction import RedactSecretPaths, redact_path, redact_text

FEED = "/pantry/calendar/q7x3v9secretq7x3v9.ics"
RESET = "/accounts/reset/MTI/cz8x1v-0f1e2d3c4b5a69788796a5b4c3d2e1f0/"


def test_paths_lose_their_tokens_and_keep_everything_else():
    assert redact_path(FEED) == "/pantry/calendar/[redacted].ics"
    assert redact_path(RESET) == "/accounts/reset/[redacted]/[redacted]/"
    assert redact_path("/pantry/unsubscribe/eyJ1Ijo3fQ:1tZk:abc/") == (
        "/pantry/unsubscribe/[redacted]/"
    )
    assert redact_path("/history/orders/42/") == "/history/orders/42/"
    assert redact_path("/no/such/page/") == "/no/such/page/"


def test_django_log_lines_through_the_console_filter_hold_no_token():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", (FEED,), None
    )
    assert RedactSecretPaths().filter(record) is True
    assert record.getMessage() == "Not Found: /pantry/calendar/[redacted].ics"
    assert redact_text(f'"GET {RESET} HTTP/1.1" 302 0') == (
        '"GET /accounts/reset/[redacted]/[redacted]/ HTTP/1.1" 302 0'
    )


def test_the_project_console_handler_carries_the_filter(settings):
    assert settings.LOGGING["handlers"]["console"]["filters"] == ["redact_secret_paths"]
    root_filters = [f for h in logging.getLogger().handlers for f in h.filters]
    assert any(isinstance(f, RedactSecretPaths) for f in root_filters)


def test_gunicorns_access_log_holds_no_token():
    logger = RedactingLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": FEED + "?x=1",
        "PATH_INFO": FEED,
        "QUERY_STRING": "x=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.1",
        "HTTP_REFERER": "https://kvitto.example.com" + RESET,
        "HTTP_USER_AGENT": "calendar app",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=5))
    line = logger.cfg.access_log_format % atoms
    assert "q7x3v9secret" not in line and "cz8x1v" not in line
    assert "GET /pantry/calendar/[redacted].ics?x=1 HTTP/1.1" in line
    assert "https://kvitto.example.com/accounts/reset/[redacted]/[redacted]/" in line
    assert atoms["U"] == "/pantry/calendar/[redacted].ics"
