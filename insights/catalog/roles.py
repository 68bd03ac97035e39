"""The "Catalog admins" group: add, change and view the catalog, and nothing else."""

from django.apps import apps as global_apps

CATALOG_GROUP = "Catalog admins"
# Products are deactivated, not deleted (their order lines protect them anyway).
GRANTS = {
    "department": ("add", "change", "delete", "view"),
    "category": ("add", "change", "delete", "view"),
    "product": ("add", "change", "view"),
    "unreviewedproduct": ("change", "view"),
}


def ensure_catalog_group(apps=global_apps, using: str = "default") -> None:  # noqa: ANN001
    """Create or repair the group; its permissions are exactly GRANTS (run after migrate)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    codenames = [f"{action}_{model}" for model, actions in GRANTS.items() for action in actions]
    permissions = list(
        Permission.objects.using(using).filter(
            content_type__app_label="catalog", codename__in=codenames
        )
    )
    if len(permissions) < len(codenames):
        return  # permissions not created yet; post_migrate calls again once they are
    group, _created = Group.objects.using(using).get_or_create(name=CATALOG_GROUP)
    group.permissions.set(permissions)
