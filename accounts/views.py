"""Sign-up, login, check-in, linking a store card, profile and the language switch.

The consent centre lives in `accounts.privacy_views`.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.messages.views import SuccessMessageMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import set_language as django_set_language

from accounts import services
from accounts.consent import consent_state
from accounts.forms import (
    CheckInForm,
    LinkCodeForm,
    LoginForm,
    ProfileForm,
    SignupForm,
)
from accounts.models import Customer, User
from accounts.purposes import NECESSARY, PURPOSES
from accounts.review import remember_review


def _customer_of(user: User) -> Customer | None:
    return Customer.objects.filter(user=user).first()


def _remember_language(response: HttpResponse, language: str) -> None:
    """The language cookie, with the same name and flags as Django's own language switch."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


# --- Logging in and signing up --------------------------------------------------------


class LoginView(auth_views.LoginView):
    """E-mail login; a shopper who never finished check-in is taken back to it."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        user = self.request.user
        if user.is_authenticated and user.checked_in_at is None:
            return reverse("accounts:check_in")
        return super().get_default_redirect_url()


class LogoutView(auth_views.LogoutView):
    """Ends the session on the server; the browser is told to drop what it cached and stored
    for the site too (ASVS 14.3.1), so the back button shows nothing of the shopper."""

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        response["Clear-Site-Data"] = '"cache", "storage"'
        return response


class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")
    success_message = gettext_lazy("Your password was changed.")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        translation.activate(user.language)
        response = redirect("accounts:check_in")
        _remember_language(response, user.language)
        return response
    return render(request, "accounts/signup.html", {"form": form})


# --- Check-in and linking --------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def check_in(request: HttpRequest) -> HttpResponse:
    """Explain each purpose and ask for each separately; every box starts unticked."""
    if request.user.checked_in_at is not None and request.method == "GET":
        messages.info(request, _("You have checked in already. Change your choices here."))
        return redirect("privacy:centre")
    form = CheckInForm(
        request.POST if request.method == "POST" else None,
        state=consent_state(request.user),
    )
    if request.method == "POST" and form.is_valid():
        granted = form.granted()
        services.check_in(user=request.user, granted=granted)
        remember_review(request, request.user)
        if granted:
            messages.success(
                request, _("Welcome to Kvitto. Your choices are saved; change them any time.")
            )
        else:
            messages.success(
                request,
                _("Welcome to Kvitto. Nothing will be analysed; switch features on any time."),
            )
        if _customer_of(request.user) is None:
            return redirect(f"{reverse('accounts:link')}?welcome=1")
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(
        request,
        "accounts/check_in.html",
        {"form": form, "necessary": PURPOSES[NECESSARY]},
    )


@login_required
@require_http_methods(["GET", "POST"])
def link(request: HttpRequest) -> HttpResponse:
    """The shopper types the one-time code the store gave them; never a card number."""
    customer = _customer_of(request.user)
    form = LinkCodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and customer is None and form.is_valid():
        try:
            services.link_customer(user=request.user, code=form.cleaned_data["code"])
        except services.LinkError as exc:
            form.add_error("code", exc.message)
            status = 429 if exc.reason == services.LinkError.RATE_LIMITED else 400
        else:
            messages.success(
                request,
                _("Your store history is linked. New receipts may take a minute to appear."),
            )
            return redirect(settings.LOGIN_REDIRECT_URL)
    elif request.method == "POST" and not form.is_valid():
        status = 400
    context = {
        "form": form,
        "customer": customer,
        "identifiers": list(customer.identifiers.all()) if customer else [],
        "welcome": request.GET.get("welcome") == "1",
    }
    return render(request, "accounts/link.html", context, status=status)


# --- Profile -------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST if request.method == "POST" else None, instance=request.user)
    if request.method == "POST":
        if form.is_valid():
            user = form.save()
            # Say it in the language just chosen, which the next page will use too.
            translation.activate(user.language)
            messages.success(request, _("Your profile was saved."))
            response = redirect("accounts:profile")
            _remember_language(response, user.language)
            return response
        status = 400
    else:
        status = 200
    context = {"form": form, "customer": _customer_of(request.user)}
    return render(request, "accounts/profile.html", context, status=status)


# --- Language ------------------------------------------------------------------------


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's switch, plus remembering the choice on a logged-in shopper's profile."""
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        request.user.language = language
        request.user.save(update_fields=["language"])
    return django_set_language(request)
