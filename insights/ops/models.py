"""Redelivered task messages, counted so that one that keeps killing its worker stops."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TaskDelivery(models.Model):
    """One attempt of a task whose message the broker delivered again (docs/faults.md).

    A first delivery is not recorded; a redelivered one is counted here while it runs and
    deleted when it ends. A row that stays means the task died again with its worker; a
    row with `gave_up_at` is a message that was dropped after too many deliveries. No
    arguments are stored: a task's id and name say which message it was, not whose.
    """

    task_id = models.CharField(max_length=255)
    # Celery's retry count: a retry is a new message with the same task id.
    attempt = models.PositiveIntegerField(default=0)
    task_name = models.CharField(_("task"), max_length=200)
    deliveries = models.PositiveIntegerField(_("deliveries"), default=2)
    first_redelivered_at = models.DateTimeField(default=timezone.now)
    last_delivered_at = models.DateTimeField(default=timezone.now)
    gave_up_at = models.DateTimeField(_("dropped at"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task_id", "attempt"], name="unique_task_attempt")
        ]
        ordering = ["-last_delivered_at", "-id"]
        verbose_name = _("redelivered task")
        verbose_name_plural = _("redelivered tasks")

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id} ({self.deliveries} deliveries)"
