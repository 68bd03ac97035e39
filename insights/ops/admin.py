"""Admin: redelivered tasks, and the messages dropped after too many deliveries."""

from django.contrib import admin
from django.http import HttpRequest

from insights.ops.models import TaskDelivery


@admin.register(TaskDelivery)
class TaskDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "task_name",
        "task_id",
        "attempt",
        "deliveries",
        "last_delivered_at",
        "gave_up_at",
    ]
    list_filter = ["task_name", ("gave_up_at", admin.EmptyFieldListFilter)]
    search_fields = ["task_id", "task_name"]
    readonly_fields = [f.name for f in TaskDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TaskDelivery | None = None) -> bool:
        return False
