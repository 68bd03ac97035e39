"""Per-request handling of a logged-in shopper: session timeouts, their language and time
zone, and pending consent reviews."""

import time
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.translation import ngettext

# Unix times kept in the session: when the login happened and when it was last used.
LOGIN_AT = "kvitto_login_at"
SEEN_AT = "kvitto_seen_at"
# The last-use time is written at most this often, so a page view is not a session write.
SEEN_RESOLUTION_SECONDS = 60


def stamp_login(sender: object, request: HttpRequest | None, **kwargs: object) -> None:
    """At every login (user_logged_in), start both session clocks."""
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[LOGIN_AT] = now
        request.session[SEEN_AT] = now


class SessionTimeoutMiddleware:
    """Ends a login after SESSION_IDLE_TIMEOUT without a request, or SESSION_ABSOLUTE_TIMEOUT
    after it began (ASVS 7.3.1, 7.3.2); the request then goes on as a visitor's.

    Idleness is measured from the last stored use, which lags the real last request by less
    than SEEN_RESOLUTION_SECONDS: a session ends at most that much early, never late. The
    session row and cookie live SESSION_COOKIE_AGE (the absolute limit) from the last
    write, so this middleware, not the store, is what ends an idle session, and it can
    say why. A login session without a login time was not made by
    `django.contrib.auth.login` and is ended as well.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
        now = int(time.time())
        session = request.session
        login_at = session.get(LOGIN_AT)
        seen_at = session.get(SEEN_AT, login_at)
        if not isinstance(login_at, int) or not isinstance(seen_at, int):
            logout(request)
            return
        idle = settings.SESSION_IDLE_TIMEOUT.total_seconds()
        lifetime = settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds()
        if now - seen_at < idle and now - login_at < lifetime:
            if now - seen_at >= SEEN_RESOLUTION_SECONDS:
                session[SEEN_AT] = now
            return
        # Said in the shopper's own language, which this request will no longer know.
        with translation.override(request.user.language or None):
            if now - seen_at >= idle:
                minutes = int(idle // 60)
                text = ngettext(
                    "You were logged out after %(minutes)d minute without activity. "
                    "Log in to go on.",
                    "You were logged out after %(minutes)d minutes without activity. "
                    "Log in to go on.",
                    minutes,
                ) % {"minutes": minutes}
            else:
                hours = int(lifetime // 3600)
                text = ngettext(
                    "For your safety a login lasts at most %(hours)d hour. Log in again to go on.",
                    "For your safety a login lasts at most %(hours)d hours. Log in again to go on.",
                    hours,
                ) % {"hours": hours}
        logout(request)
        messages.info(request, text)


class ShopperPreferencesMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
            if user.language:
                translation.activate(user.language)
                request.LANGUAGE_CODE = user.language
        else:
            timezone.deactivate()
        return self.get_response(request)


class ConsentReviewMiddleware:
    """Marks `request.consent_review`: purposes whose text changed since the shopper said yes.

    The answer is kept in the session and re-checked at most every
    CONSENT_REVIEW_RECHECK_SECONDS (and at login, and after every consent change), so a
    page costs no query for it: a newly published material text reaches every shopper
    at their next visit, or within that interval for a session already open.
    base.html shows a prompt linking to the re-consent page while the list is not empty.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from accounts.review import pending_review

        request.consent_review = pending_review(request)
        return self.get_response(request)
