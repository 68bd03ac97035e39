"""Activates a logged-in shopper's own language and time zone for each request."""

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation


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
