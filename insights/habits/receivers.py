"""Signal receivers: new history or a grant queues a refresh; a withdrawal deletes at once."""

from typing import Any

from accounts.consent import is_allowed
from accounts.models import User
from accounts.purposes import INSIGHTS
from insights.habits import services


def history_changed(sender: Any, user_id: int | None = None, **kwargs: Any) -> None:
    """A shopper's orders changed: mark their habits stale and queue a refresh on commit."""
    if user_id is None:
        return
    user = User.objects.filter(pk=user_id).first()
    if user is None or not is_allowed(user, INSIGHTS):
        return
    services.mark_stale(user_id=user_id)


def consent_granted(sender: Any, *, user: User, purpose: str, **kwargs: Any) -> None:
    if purpose == INSIGHTS:
        services.enqueue_refresh(user_id=user.pk)


def consent_withdrawn(sender: Any, *, user: User, purpose: str, **kwargs: Any) -> None:
    """Sent inside the withdrawing transaction: the rows go in the same transaction."""
    if purpose == INSIGHTS:
        services.delete_habits(user=user)
