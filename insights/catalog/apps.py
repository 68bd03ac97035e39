"""App configuration for the catalog."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _catalog_group(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    from insights.catalog.roles import ensure_catalog_group

    ensure_catalog_group(using=using)


class CatalogConfig(AppConfig):
    name = "insights.catalog"
    label = "catalog"
    verbose_name = _("Catalog")

    def ready(self) -> None:
        # Permissions exist only after auth's own post_migrate handler has run, so the
        # group is (re)built after every migrate rather than in a data migration.
        post_migrate.connect(_catalog_group, sender=self, dispatch_uid="catalog.group")
