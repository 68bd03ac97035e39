"""The consent centre at /privacy/: purposes and switches, re-consent, the shopper's decisions
with their receipts, and the privacy admin's register and statistics."""

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from accounts import register, statistics
from accounts.consent import consent_state, outdated_grants, set_consent
from accounts.forms import ConsentSwitchForm
from accounts.models import ConsentEvent, PurposeText, User
from accounts.purposes import NECESSARY, PURPOSES, SWITCHABLE
from accounts.receipts import consent_receipt
from accounts.review import remember_review

CONSENT_HISTORY_LENGTH = 20
# The privacy admin's pages need this permission (a superuser has it).
PRIVACY_ADMIN_PERMISSION = "accounts.view_consentevent"

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
        # (version agreed to, current version) when the meaning changed since the grant.
        "review": review,
        # An outdated grant of a PAUSE purpose is on, but not processed until answered.
        "paused": bool(review) and granted and purpose.paused_while_outdated,
    }


def _current_texts() -> dict[str, PurposeText]:
    texts: dict[str, PurposeText] = {}
    # Ordered newest version first per purpose (the model's ordering), so the first wins.
    for text in PurposeText.objects.order_by("purpose", "-version"):
        texts.setdefault(text.purpose, text)
    return texts


def _centre_context(user: User) -> dict[str, object]:
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
def centre(request: HttpRequest) -> HttpResponse:
    """Every purpose explained, with a one-click switch; the shopper's own decisions.

    Granting and withdrawing are the same single POST (purpose, granted), from the same
    button: withdrawing never takes more clicks than granting.
    """
    if request.method == "GET":
        return render(request, "accounts/consents.html", _centre_context(request.user))

    form = ConsentSwitchForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            return HttpResponse(_("That choice could not be saved."), status=400)
        messages.error(request, _("That choice could not be saved. Please try again."))
        return redirect("privacy:centre")

    key = form.cleaned_data["purpose"]
    granted = form.cleaned_data["granted"]
    was_granted = consent_state(request.user)[key]
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
    pending = remember_review(request, request.user)
    request.consent_review = pending

    if request.htmx:
        review = outdated_grants(request.user).get(key)
        row = _purpose_row(key, granted, _current_texts(), notice=message, review=review)
        return render(request, "accounts/consents.html#purpose-row", {"row": row})

    messages.success(request, message)
    target = _safe_next(request, form.cleaned_data["next"])
    if target == reverse("privacy:review") and not pending:
        target = None
    return HttpResponseRedirect(target or reverse("privacy:centre"))


@login_required
@require_http_methods(["GET", "POST"])
def old_consents_url(request: HttpRequest) -> HttpResponse:
    """/accounts/consents/ moved to /privacy/: a permanent redirect for GET.

    A POST is still saved here, so a page opened before the move (or a bookmarked form)
    does not lose the shopper's choice.
    """
    if request.method == "POST":
        return centre(request)
    return redirect("privacy:centre", permanent=True)


@login_required
@require_GET
def review(request: HttpRequest) -> HttpResponse:
    """Ask again about each grant whose text changed in meaning: agree, or switch off."""
    outdated = outdated_grants(request.user)
    remember_review(request, request.user)
    request.consent_review = sorted(outdated)
    if not outdated:
        return render(request, "accounts/review.html", {"items": []})
    wanted = {(key, version) for key, pair in outdated.items() for version in pair}
    texts = {
        (text.purpose, text.version): text
        for text in PurposeText.objects.filter(purpose__in=list(outdated))
        if (text.purpose, text.version) in wanted
    }
    items = [
        {
            "key": key,
            "purpose": PURPOSES[key],
            "agreed": texts.get((key, agreed)),
            "current": texts.get((key, now)),
        }
        for key in SWITCHABLE
        if key in outdated
        for agreed, now in [outdated[key]]
    ]
    return render(request, "accounts/review.html", {"items": items})


def _own_event(request: HttpRequest, receipt_id: str) -> ConsentEvent:
    # Filtering by the owner makes another shopper's receipt id a plain 404.
    return get_object_or_404(
        ConsentEvent.objects.select_related("text", "user"),
        receipt_id=receipt_id,
        user=request.user,
    )


@login_required
@require_GET
def decision(request: HttpRequest, receipt_id: str) -> HttpResponse:
    """One decision with the exact text version it referred to."""
    event = _own_event(request, receipt_id)
    return render(
        request,
        "accounts/decision.html",
        {"event": event, "purpose": PURPOSES[event.purpose]},
    )


@login_required
@require_GET
def receipt(request: HttpRequest, receipt_id: str) -> HttpResponse:
    """The decision's Kantara consent receipt, as a JSON download."""
    event = _own_event(request, receipt_id)
    body = json.dumps(consent_receipt(event), indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="kvitto-consent-receipt-{event.receipt_id}.json"'
    )
    return response


# --- For the privacy admin -------------------------------------------------------------


def _require_privacy_admin(request: HttpRequest) -> None:
    if not request.user.has_perm(PRIVACY_ADMIN_PERMISSION):
        raise PermissionDenied


@staff_member_required
@require_GET
def processing_register(request: HttpRequest) -> HttpResponse:
    """The register of processing (art. 30), generated from the purpose registry."""
    _require_privacy_admin(request)
    data = register.build_register()
    fmt = request.GET.get("format")
    if fmt == "json":
        response = HttpResponse(
            json.dumps(data, indent=2, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="processing-register.json"'
        return response
    if fmt == "md":
        response = HttpResponse(
            register.render_markdown(data), content_type="text/markdown; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="processing-register.md"'
        return response
    return render(request, "accounts/staff/register.html", {"register": data})


@staff_member_required
@require_GET
def consent_statistics(request: HttpRequest) -> HttpResponse:
    """Aggregated counts per purpose and text version; never a shopper."""
    _require_privacy_admin(request)
    return render(
        request,
        "accounts/staff/statistics.html",
        {"table": statistics.consent_statistics(), "site_url": settings.SITE_URL},
    )
