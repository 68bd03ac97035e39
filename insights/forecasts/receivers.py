"""Signal receivers: new orders and a grant queue a refresh; a withdrawal deletes at once."""

from typing import Any

from accounts.purposes import PREDICTIONS
from insights.forecasts import services


def on_history_changed(sender: Any, user_id: int | None = None, **kwargs: Any) -> None:
    """A shopper's orders changed (sent by the ingestion refresh task): queue their refresh."""
    if user_id is not None:
        services.request_refresh(user_ids=[user_id])


def on_consent_granted(sender: Any, user: Any = None, purpose: str = "", **kwargs: Any) -> None:
    """`predictions` granted (sent on commit): compute the first list right away."""
    if purpose == PREDICTIONS and user is not None:
        services.request_refresh(user_ids=[user.pk])


def on_consent_withdrawn(sender: Any, user: Any = None, purpose: str = "", **kwargs: Any) -> None:
    """`predictions` withdrawn (sent inside the withdrawing transaction): delete now."""
    if purpose == PREDICTIONS and user is not None:
        services.delete_predictions(user=user)
