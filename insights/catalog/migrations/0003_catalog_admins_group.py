"""Create the "Catalog admins" group; its permissions are added by the post_migrate handler.

Permissions (and their content types) only exist after post_migrate, which runs after all
migrations; creating them here would change their ids' order, which serialized-rollback
tests depend on. So this makes the group, and CatalogConfig's post_migrate handler gives it
exactly the catalog's permissions once they exist, on this and every later migrate.
"""

from django.db import migrations

CATALOG_GROUP = "Catalog admins"


def create_group(apps, schema_editor):  # noqa: ANN001, ANN201
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).get_or_create(name=CATALOG_GROUP)


def delete_group(apps, schema_editor):  # noqa: ANN001, ANN201
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=CATALOG_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0002_unreviewed_product"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
