"""Sign-up, check-in, profile, consent page and the language switch."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language


def signup(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signup.html")


@login_required
def check_in(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/check_in.html")


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/profile.html")


@login_required
def consents(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/consents.html")


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's switch, plus remembering the choice on a logged-in shopper's profile."""
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in {code for code, _ in settings_languages()}:
        request.user.language = language
        request.user.save(update_fields=["language"])
    return django_set_language(request)


def settings_languages() -> list[tuple[str, str]]:
    from django.conf import settings

    return settings.LANGUAGES
