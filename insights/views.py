"""The public front page, and the answer to a URL that matches nothing."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import defaults

API_PREFIX = "/api/"


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("purchases:history")
    return render(request, "home.html")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """JSON under /api/, as every other API answer is; the site's page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)
