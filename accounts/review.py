"""Which of a shopper's grants await an answer after a material text change, per session."""

import time

from django.conf import settings
from django.http import HttpRequest

from accounts.consent import outdated_grants
from accounts.models import User

SESSION_KEY = "kvitto_consent_review"


def remember_review(request: HttpRequest, user: User) -> list[str]:
    """Compute the purposes `user` must answer again and keep them in the session."""
    purposes = sorted(outdated_grants(user))
    if hasattr(request, "session"):
        request.session[SESSION_KEY] = {"checked": int(time.time()), "purposes": purposes}
    return purposes


def pending_review(request: HttpRequest) -> list[str]:
    """The purposes to re-consent to, from the session unless the answer has gone stale."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return []
    stored = request.session.get(SESSION_KEY)
    max_age = getattr(settings, "CONSENT_REVIEW_RECHECK_SECONDS", 300)
    if isinstance(stored, dict) and time.time() - stored.get("checked", 0) < max_age:
        return list(stored.get("purposes", []))
    return remember_review(request, user)


def on_login(sender: object, request: HttpRequest | None, user: User, **kwargs: object) -> None:
    """At login, ask right away: 'asked again at their next visit'."""
    if request is not None and isinstance(user, User):
        remember_review(request, user)
