"""What a page shows instead of a feature whose purpose the shopper has not granted."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.purposes import PURPOSES


def render_gate(request: HttpRequest, purpose: str, *, status: int = 200) -> HttpResponse:
    """Explain what `purpose` does and offer to grant it (a plain form; htmx optional).

    Views call this after `accounts.consent.is_allowed` said no, e.g.::

        if not is_allowed(request.user, INSIGHTS):
            return render_gate(request, INSIGHTS)
    """
    context = {"purpose": PURPOSES[purpose], "next": request.get_full_path()}
    return render(request, "includes/feature_gate.html", context, status=status)
