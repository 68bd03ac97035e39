"""App configuration for habits."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HabitsConfig(AppConfig):
    name = "insights.habits"
    label = "habits"
    verbose_name = _("Habits")
