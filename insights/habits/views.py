"""The habits page: reads the stored snapshot of the chosen period; never runs pandas."""

from datetime import date

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.consent import is_allowed
from accounts.gates import render_gate
from accounts.purposes import INSIGHTS
from insights.habits import services
from insights.habits.analysis import Window
from insights.habits.models import STANDARD_PERIODS, HabitHighlight, HabitSnapshot
from insights.habits.presentation import page_context

DEFAULT_PERIOD = "3m"
PERIOD_LABELS = {
    "4w": gettext_lazy("Last 4 weeks"),
    "3m": gettext_lazy("3 months"),
    "12m": gettext_lazy("12 months"),
}


def parse_period(query: QueryDict) -> tuple[str, Window | None, str]:
    """(period key, custom window or None, error message) from ?period=&from=&to=."""
    period = query.get("period", DEFAULT_PERIOD)
    if period in STANDARD_PERIODS:
        return period, None, ""
    if period != "custom":
        return DEFAULT_PERIOD, None, _("Unknown period; showing the last 3 months.")
    try:
        start = date.fromisoformat(query.get("from", ""))
        end = date.fromisoformat(query.get("to", ""))
    except ValueError:
        return DEFAULT_PERIOD, None, _("Give a custom range as two dates, from and to.")
    if end < start:
        return DEFAULT_PERIOD, None, _("The range ends before it starts.")
    if (end - start).days > services.CUSTOM_MAX_DAYS:
        return DEFAULT_PERIOD, None, _("A custom range can span at most three years.")
    window = Window(start, end)
    return window.key, window, ""


@login_required
def index(request: HttpRequest) -> HttpResponse:
    if not is_allowed(request.user, INSIGHTS):
        return render_gate(request, INSIGHTS)
    period, window, error = parse_period(request.GET)
    snapshot = HabitSnapshot.objects.filter(user=request.user, period=period).first()
    if snapshot is None:
        # First visit to this period (a new custom range, or the refresh has not run yet).
        snapshot = services.request_period(user=request.user, period=period, window=window)
    highlights = list(snapshot.highlights.visible()) if snapshot.data else []
    currency = getattr(settings, "CURRENCY", "SEK")
    context = {
        "snapshot": snapshot,
        "period": "custom" if window else period,
        "custom_from": (window.start if window else snapshot.start),
        "custom_to": (window.end if window else snapshot.end or timezone.localdate()),
        "periods": list(PERIOD_LABELS.items()),
        "error": error,
        "self_url": request.get_full_path(),
        **page_context(snapshot, highlights, currency),
    }
    template = "habits/index.html#habits-body" if request.htmx else "habits/index.html"
    return render(request, template, context)


@login_required
@require_POST
def dismiss(request: HttpRequest, highlight_id: int) -> HttpResponse:
    """Hide a highlight for good (its key survives refreshes); another shopper's is a 404."""
    if not is_allowed(request.user, INSIGHTS):
        return render_gate(request, INSIGHTS, status=403)
    highlight = get_object_or_404(HabitHighlight, pk=highlight_id, user=request.user)
    if highlight.dismissed_at is None:
        highlight.dismissed_at = timezone.now()
        highlight.save(update_fields=["dismissed_at"])
    if request.htmx:
        return HttpResponse("")  # the card's outerHTML is swapped for nothing
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("habits:index")
    return redirect(next_url)
