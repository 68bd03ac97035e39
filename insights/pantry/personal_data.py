"""The pantry's personal data, registered with accounts for export, erasure and retention."""

from datetime import datetime

from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils.translation import gettext_lazy as _

from accounts.personal_data import Retention, expire_by, model_data_class, register
from accounts.purposes import PANTRY
from insights.pantry.models import DigestLog, Notification, PantryItem, PantrySettings

SOURCE = _("Computed by Kvitto from your orders and what you marked in the pantry.")


def _expire_finished_items(cutoff: datetime) -> int:
    qs = PantryItem.objects.exclude(state=PantryItem.State.IN_PANTRY).filter(
        finished_on__lt=cutoff.date()
    )
    return qs.delete()[1].get(PantryItem._meta.label, 0)


def _notifications_kept(model, field: str) -> Retention:
    return Retention(
        setting="RETENTION_NOTIFICATIONS_DAYS",
        unit="days",
        expire=expire_by(model.objects.all, field),
        counted_from=_("after it was sent"),
    )


def _settings_of(subject):
    return PantrySettings.objects.filter(user_id=subject.user_id).annotate(
        calendar_feed=ExpressionWrapper(
            Q(calendar_token__isnull=False), output_field=BooleanField()
        )
    )


def register_pantry_data() -> None:
    register(
        model_data_class(
            key="pantry.items",
            model=PantryItem,
            title=_("Pantry items"),
            purpose=PANTRY,
            holds=_(
                "Each perishable item from your receipts: when bought, its estimated and "
                "current best-before date and why, and whether you used, froze or threw it."
            ),
            source=SOURCE,
            queryset=lambda s: PantryItem.objects.filter(user_id=s.user_id),
            columns={
                "product_sku": "product__sku",
                "product_name": "product__name",
                "order_line_id": "order_line_id",
                "quantity": "quantity",
                "bought_on": "bought_on",
                "best_before": "best_before",
                "estimated_best_before": "estimated_best_before",
                "estimate_rule": "estimate_rule",
                "rule_days": "rule_days",
                "state": "state",
                "opened_on": "opened_on",
                "frozen_on": "frozen_on",
                "finished_on": "finished_on",
                "thrown_share": "thrown_share",
                "value": "value",
                "created_at": "created_at",
            },
            retention=Retention(
                setting="RETENTION_PANTRY_HISTORY_DAYS",
                unit="days",
                expire=_expire_finished_items,
                counted_from=_("after you used, threw or removed it; items in the pantry stay"),
            ),
        ),
        model_data_class(
            key="pantry.settings",
            model=PantrySettings,
            title=_("Pantry settings"),
            purpose=PANTRY,
            holds=_(
                "Your reminder preferences and whether a calendar feed is on (the feed's "
                "secret address is not included)."
            ),
            source=_("You, on the pantry page."),
            queryset=_settings_of,
            columns={
                "due_soon_days": "due_soon_days",
                "quiet_hours_start": "quiet_hours_start",
                "quiet_hours_end": "quiet_hours_end",
                "calendar_feed": "calendar_feed",
            },
            kept=_("While Pantry and best-before reminders is on."),
        ),
        model_data_class(
            key="pantry.notifications",
            model=Notification,
            title=_("Notifications"),
            purpose=PANTRY,
            holds=_("In-app messages: what each said, when, when you read it or it was mailed."),
            source=_("Kvitto itself."),
            queryset=lambda s: Notification.objects.filter(user_id=s.user_id),
            columns={
                "kind": "kind",
                "payload": "payload",
                "created_at": "created_at",
                "read_at": "read_at",
                "emailed_at": "emailed_at",
            },
            retention=_notifications_kept(Notification, "created_at"),
        ),
        model_data_class(
            key="pantry.digest_emails",
            model=DigestLog,
            title=_("Reminder e-mails"),
            purpose=PANTRY,
            holds=_("The days a reminder e-mail was sent to you and how many items it named."),
            source=_("Kvitto itself."),
            queryset=lambda s: DigestLog.objects.filter(user_id=s.user_id),
            columns={"day": "day", "sent_at": "sent_at", "item_count": "item_count"},
            retention=_notifications_kept(DigestLog, "sent_at"),
        ),
    )
