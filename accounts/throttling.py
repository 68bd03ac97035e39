"""Login throttling with django-axes: what a failure is counted under, and the page a paused
account's login gets.

Failures are counted per account across every IP address (settings: AXES_*). The account
is named by a keyed hash of its normalised e-mail address, never the address itself, so
axes' table, its log lines and its lockout response hold no e-mail address; an address
that has no login is counted the same way, so the pause tells nobody which ones exist.
"""

from collections.abc import Mapping

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.crypto import salted_hmac

_KEY_SALT = "kvitto.accounts.throttling.login_key"


def key_for_email(email: str) -> str:
    """The name failures for this address are counted under (stable while SECRET_KEY is)."""
    return salted_hmac(_KEY_SALT, email.strip().lower(), algorithm="sha256").hexdigest()


def login_key(request: HttpRequest | None, credentials: Mapping[str, object] | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the key of the address tried, from the credentials given to
    `authenticate` or, failing those, the login form's `username` field (Kvitto's and the
    admin's login forms both call it that)."""
    username = (credentials or {}).get("username")
    if not username and request is not None:
        username = request.POST.get("username")
    if not isinstance(username, str) or not username.strip():
        return None
    return key_for_email(username)


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: Mapping[str, object] | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a page saying the login is paused, for how long and what to do.

    429 with Retry-After: the pause ends at the latest one cool-off after the last counted
    failure, as failures older than the cool-off stop counting.
    """
    cooloff = settings.AXES_COOLOFF_TIME
    minutes = int(cooloff.total_seconds() // 60)
    response = render(
        request,
        "accounts/locked_out.html",
        {"minutes": minutes},
        status=429,
    )
    response["Retry-After"] = str(int(cooloff.total_seconds()))
    return response
