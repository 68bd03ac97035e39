"""App configuration for the catalog."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "insights.catalog"
    label = "catalog"
    verbose_name = _("Catalog")
