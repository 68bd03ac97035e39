"""App configuration for pantry."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PantryConfig(AppConfig):
    name = "insights.pantry"
    label = "pantry"
    verbose_name = _("Pantry")
