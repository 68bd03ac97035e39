"""Sign-up, login, check-in, linking a store card, profile, consent page and the language switch."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.messages.views import SuccessMessageMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import set_language as django_set_language

from accounts import services
from accounts.consent import consent_state, is_allowed, outdated_grants, set_consent
from accounts.forms import (
    CheckInForm,
    ConsentSwitchForm,
    LinkCodeForm,
    LoginForm,
    ProfileForm,
    SignupForm,
)
from accounts.models import ConsentEvent, Customer, PurposeText, User
from accounts.purposes import NECESSARY, PURPOSES, SWITCHABLE

CONSENT_HISTORY_LENGTH = 20

# What switching a purpose off means for the shopper, said plainly. The deletion itself
# happens in each app's consent_withdrawn receiver, inside the withdrawing transaction.
WITHDRAWN_MESSAGES = {
    "insights": gettext_lazy(
        "Habit summaries switched off; the summaries computed for you were deleted."
    ),
    "predictions": gettext_lazy(
        "Predicted shopping list switched off; your forecasts and suggestions were deleted."
    ),
    "pantry": gettext_lazy(
        "Pantry and reminders switched off; your pantry items and reminders were deleted."
    ),
    "email": gettext_lazy("E-mail switched off; we will not e-mail you reminders or lists."),
    "model_improvement": gettext_lazy(
        "Your history no longer helps improve predictions for other shoppers."
    ),
}


def _safe_next(request: HttpRequest, candidate: str | None) -> str | None:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


def _customer_of(user: User) -> Customer | None:
    return Customer.objects.filter(user=user).first()


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
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language, samesite="Lax")
        return response
    return render(request, "accounts/signup.html", {"form": form})


# --- Check-in and linking --------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def check_in(request: HttpRequest) -> HttpResponse:
    """Explain each purpose and ask for each separately; every box starts unticked."""
    if request.user.checked_in_at is not None and request.method == "GET":
        messages.info(request, _("You have checked in already. Change your choices here."))
        return redirect("accounts:consents")
    form = CheckInForm(
        request.POST if request.method == "POST" else None,
        state=consent_state(request.user),
    )
    if request.method == "POST" and form.is_valid():
        granted = form.granted()
        services.check_in(user=request.user, granted=granted)
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
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language, samesite="Lax")
            return response
        status = 400
    else:
        status = 200
    context = {"form": form, "customer": _customer_of(request.user)}
    return render(request, "accounts/profile.html", context, status=status)


# --- Consent page --------------------------------------------------------------------


def _purpose_row(
    key: str,
    granted: bool,
    texts: dict[str, PurposeText],
    notice: str = "",
    review: tuple[int, int] | None = None,
) -> dict[str, object]:
    purpose = PURPOSES[key]
    return {
        "key": key,
        "purpose": purpose,
        "granted": granted,
        "switchable": purpose.switchable,
        "text": texts.get(key),
        "notice": notice,
        # (version agreed to, current version) when the wording changed since the grant.
        "review": review,
    }


def _current_texts() -> dict[str, PurposeText]:
    texts: dict[str, PurposeText] = {}
    # Ordered newest version first per purpose (the model's ordering), so the first wins.
    for text in PurposeText.objects.order_by("purpose", "-version"):
        texts.setdefault(text.purpose, text)
    return texts


def _consents_context(user: User) -> dict[str, object]:
    state = consent_state(user)
    texts = _current_texts()
    outdated = outdated_grants(user)
    rows = [_purpose_row(NECESSARY, True, texts)]
    rows += [_purpose_row(key, state[key], texts, review=outdated.get(key)) for key in SWITCHABLE]
    # Only ever request.user's own log: the page takes no user id from the request.
    history = list(
        ConsentEvent.objects.for_user(user).select_related("text")[:CONSENT_HISTORY_LENGTH]
    )
    for event in history:
        event.purpose_title = PURPOSES[event.purpose].title
    return {"rows": rows, "history": history}


def _consent_message(key: str, granted: bool, changed: bool) -> str:
    title = PURPOSES[key].title
    if not changed:
        if granted:
            return _("%(title)s was already on.") % {"title": title}
        return _("%(title)s was already off.") % {"title": title}
    if granted:
        return _(
            "%(title)s switched on. You can switch it off under Privacy whenever you like."
        ) % {"title": title}
    return str(WITHDRAWN_MESSAGES[key])


@login_required
@require_http_methods(["GET", "POST"])
def consents(request: HttpRequest) -> HttpResponse:
    """Every purpose with its state and a one-click switch; the shopper's own decisions."""
    if request.method == "GET":
        return render(request, "accounts/consents.html", _consents_context(request.user))

    form = ConsentSwitchForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            return HttpResponse(_("That choice could not be saved."), status=400)
        messages.error(request, _("That choice could not be saved. Please try again."))
        return redirect("accounts:consents")

    key = form.cleaned_data["purpose"]
    granted = form.cleaned_data["granted"]
    was_granted = is_allowed(request.user, key)
    event = set_consent(
        user=request.user,
        purpose=key,
        granted=granted,
        method=ConsentEvent.Method.CONSENT_CENTRE,
    )
    if event is not None and granted and was_granted:
        message = _("Thank you: you agreed to the new wording of %(title)s.") % {
            "title": PURPOSES[key].title
        }
    else:
        message = _consent_message(key, granted, changed=event is not None)

    if request.htmx:
        row = _purpose_row(key, granted, _current_texts(), notice=message)
        return render(request, "accounts/consents.html#purpose-row", {"row": row})

    messages.success(request, message)
    return HttpResponseRedirect(
        _safe_next(request, form.cleaned_data["next"]) or reverse("accounts:consents")
    )


# --- Language ------------------------------------------------------------------------


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's switch, plus remembering the choice on a logged-in shopper's profile."""
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        request.user.language = language
        request.user.save(update_fields=["language"])
    return django_set_language(request)
