"""Site-wide response headers that Django's and django-csp's middleware do not set."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


class NoStoreMiddleware:
    """`Cache-Control: no-store, private` on every response Django itself renders.

    Nearly every answer holds a shopper's data or a per-visitor secret: pages and fragments,
    the API, exports, the calendar feed (no login, a token in its URL), every form (its CSRF
    token). One rule for all of them cannot miss the next personal page; what it also
    covers without need (the front page, the API schema) is cheap to render again. Static
    files never get here: WhiteNoise, above this middleware, serves them with long caching.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_cache_control(response, no_store=True, private=True)
        return response
