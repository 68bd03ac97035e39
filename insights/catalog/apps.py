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
        # The group is created by migration 0003, empty: permissions exist only once auth's
        # post_migrate handler has run. Then, after every migrate, its permissions are set to
        # exactly the catalog's, so a permission added by hand does not linger.
        # It is also (re)created here, so a database flushed by transactional tests has it.
        post_migrate.connect(_catalog_group, sender=self, dispatch_uid="catalog.group")
