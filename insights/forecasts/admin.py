"""Staff views of forecast runs and fitted models; shoppers' lists stay out of the admin."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from insights.forecasts.models import ForecastModel, ForecastRun


@admin.register(ForecastRun)
class ForecastRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "kind", "shoppers", "forecasts", "errors", "duration"]
    list_filter = ["kind"]
    date_hierarchy = "started_at"
    readonly_fields = [
        "kind",
        "started_at",
        "finished_at",
        "shoppers",
        "forecasts",
        "errors",
        "error_detail",
    ]

    @admin.display(description=_("seconds"))
    def duration(self, obj: ForecastRun) -> str:
        seconds = obj.duration_seconds
        return "—" if seconds is None else f"{seconds:.2f}"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ForecastModel)
class ForecastModelAdmin(admin.ModelAdmin):
    list_display = ["created_at", "as_of", "n_contributors", "n_rules"]
    exclude = ["payload"]
    readonly_fields = ["created_at", "as_of", "n_contributors", "n_rules", "summary"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
