"""Pages of the habits app."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from accounts.consent import is_allowed
from accounts.gates import render_gate
from accounts.purposes import INSIGHTS


@login_required
def index(request: HttpRequest) -> HttpResponse:
    if not is_allowed(request.user, INSIGHTS):
        return render_gate(request, INSIGHTS)
    return render_gate(request, INSIGHTS)
