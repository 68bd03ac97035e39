"""Derived habit rows: one snapshot per shopper and period, and its "what changed" highlights.

Everything here is computed from the purchase history by `services.refresh_habits` and
replaced atomically; nothing is entered by hand, and withdrawing the insights consent
deletes all of it.
"""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

STANDARD_PERIODS = ("4w", "3m", "12m")


class HabitSnapshot(models.Model):
    """A shopper's aggregates for one period: "4w", "3m", "12m" or "YYYY-MM-DD_YYYY-MM-DD"."""

    class Status(models.TextChoices):
        FRESH = "fresh", _("up to date")
        STALE = "stale", _("new purchases are being added")
        COMPUTING = "computing", _("being computed")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="habit_snapshots"
    )
    period = models.CharField(max_length=32)
    start = models.DateField(null=True, blank=True)
    end = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COMPUTING)
    # "empty", "thin" or "ok" (see insights.habits.analysis); blank until computed.
    state = models.CharField(max_length=8, blank=True)
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    requested_at = models.DateTimeField(default=timezone.now)
    computed_at = models.DateTimeField(null=True, blank=True)
    source_last_order_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "period"], name="unique_habit_snapshot_period")
        ]
        indexes = [models.Index(fields=["computed_at"], name="habit_snapshot_computed_idx")]
        verbose_name = _("habit snapshot")
        verbose_name_plural = _("habit snapshots")

    def __str__(self) -> str:
        return f"{self.user_id} {self.period} ({self.status})"

    @property
    def is_custom(self) -> bool:
        return self.period not in STANDARD_PERIODS

    @property
    def is_pending(self) -> bool:
        return self.status != self.Status.FRESH


class HabitHighlightQuerySet(models.QuerySet["HabitHighlight"]):
    def visible(self) -> "HabitHighlightQuerySet":
        return self.filter(dismissed_at__isnull=True)


class HabitHighlight(models.Model):
    """One "what changed" card. `key` is stable across refreshes so a dismissal sticks."""

    snapshot = models.ForeignKey(HabitSnapshot, on_delete=models.CASCADE, related_name="highlights")
    # Copied from the snapshot so ownership is one indexed filter.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="habit_highlights"
    )
    key = models.CharField(max_length=120)
    kind = models.CharField(max_length=32)
    params = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    position = models.PositiveSmallIntegerField(default=0)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    objects = HabitHighlightQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "key"], name="unique_habit_highlight_key")
        ]
        indexes = [models.Index(fields=["user", "key"], name="habit_highlight_user_key_idx")]
        ordering = ["position", "id"]
        verbose_name = _("habit highlight")
        verbose_name_plural = _("habit highlights")

    def __str__(self) -> str:
        return f"{self.user_id} {self.key}"
