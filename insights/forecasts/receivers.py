"""Signal receivers: new orders and a grant queue a refresh; a withdrawal deletes at once."""

from typing import Any

from accounts.purposes import MODEL_IMPROVEMENT, PREDICTIONS
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
    """Sent inside the withdrawing transaction: what was derived for the purpose goes now.

    `predictions`: the shopper's forecasts and suggestions. `model_improvement`: the fitted
    models their history went into (a refit without them is queued).
    """
    if user is None:
        return
    if purpose == PREDICTIONS:
        services.delete_predictions(user=user)
    elif purpose == MODEL_IMPROVEMENT:
        services.forget_contributor(user=user)
