"""Signal receivers: new receipts and consent changes, answered for the pantry."""

from django.db import transaction

from accounts.consent import is_allowed
from accounts.models import User
from accounts.purposes import PANTRY
from insights.pantry.services import create_export_notification, delete_pantry_data
from insights.pantry.tasks import build_pantry_task


def _enqueue_build(user_id: int) -> None:
    transaction.on_commit(lambda: build_pantry_task.delay(user_id))


def on_history_changed(sender: object, user_id: int | None = None, **kwargs: object) -> None:
    """Orders arrived: build the new items, if the shopper lets us track their pantry."""
    if user_id is None:
        return
    user = User.objects.filter(pk=user_id).first()
    if user is not None and is_allowed(user, PANTRY):
        _enqueue_build(user_id)


def on_consent_granted(sender: object, user: User, purpose: str, **kwargs: object) -> None:
    if purpose == PANTRY:
        _enqueue_build(user.pk)


def on_consent_withdrawn(sender: object, user: User, purpose: str, **kwargs: object) -> None:
    """PANTRY withdrawn: delete in the withdrawing transaction. EMAIL withdrawn: nothing is
    stored for it; `send_digest` checks consent before every e-mail."""
    if purpose == PANTRY:
        delete_pantry_data(user=user)


def on_data_export_ready(sender: object, user: User, export: object, **kwargs: object) -> None:
    """An export the shopper asked for is ready: say so in the app's notifications.

    Only with the pantry purpose, whose page shows notifications and whose withdrawal
    deletes them; the Your data page shows the export either way.
    """
    if is_allowed(user, PANTRY):
        create_export_notification(user=user, export_id=export.pk, expires_at=export.expires_at)
