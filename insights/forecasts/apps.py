"""App configuration for forecasts."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ForecastsConfig(AppConfig):
    name = "insights.forecasts"
    label = "forecasts"
    verbose_name = _("Forecasts")
