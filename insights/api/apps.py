"""App configuration for the API wiring."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "insights.api"
    label = "api"
    verbose_name = _("API clients")

    def ready(self) -> None:
        # Registers the OpenAPI extension that describes ApiKeyAuthentication.
        from insights.api import schema  # noqa: F401
        from insights.api.personal_data import register_api_data

        register_api_data()
