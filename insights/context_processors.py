"""Values every page's header and footer need."""

from django.conf import settings
from django.http import HttpRequest


def kvitto(request: HttpRequest) -> dict[str, object]:
    return {"CURRENCY": settings.CURRENCY}
