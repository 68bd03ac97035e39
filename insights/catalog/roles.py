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


def ensure_catalog_group(
    apps=global_apps,  # noqa: ANN001
    using: str = "default",
    *,
    create: bool = True,
) -> None:
    """Create (or only repair, with create=False) the group: its permissions are exactly GRANTS."""
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
    if create:
        group, _created = Group.objects.using(using).get_or_create(name=CATALOG_GROUP)
    else:
        group = Group.objects.using(using).filter(name=CATALOG_GROUP).first()
        if group is None:
            return
    group.permissions.set(permissions)
