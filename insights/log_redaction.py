"""Keeps the secrets some URLs carry out of log lines.

The calendar feed, the unsubscribe link and the password-reset link authenticate by a
token in their path (`<token>`, `<uidb64>`). Django logs the path of every 4xx answer and
gunicorn every request, so those values are replaced by "[redacted]" wherever a path is
logged. Which parameters are secret is read from the URLconf by name, so a new route with
a `token` parameter is covered without a change here.
"""

import logging
import re
from urllib.parse import urlsplit, urlunsplit

from django.urls import Resolver404, resolve

SECRET_PARAMETERS = frozenset({"token", "uidb64"})
REDACTED = "[redacted]"
# A path inside a log message: from a slash not preceded by a word character or slash.
_PATH_IN_TEXT = re.compile(r"(?<![\w/])/[^\s\"'?#]*")


def redact_path(path: str) -> str:
    """`path` with the values of its route's secret parameters replaced."""
    try:
        match = resolve(path)
    except (Resolver404, ValueError):
        return path
    for name in SECRET_PARAMETERS & match.kwargs.keys():
        value = str(match.kwargs[name])
        if value:
            path = path.replace(value, REDACTED)
    return path


def redact_url(url: str) -> str:
    """A full URL (a referer) or a path, with its path redacted."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=redact_path(parts.path))) if parts.path else url


def redact_text(text: str) -> str:
    return _PATH_IN_TEXT.sub(lambda m: redact_path(m.group(0)), text) if "/" in text else text


class RedactSecretPaths(logging.Filter):
    """On a handler: rewrites each record's message with its paths redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
