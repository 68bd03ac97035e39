"""Publishes version 1 of every switchable purpose's text, so consent can refer to it."""

from django.db import migrations

from accounts.purpose_texts import publish_missing_first_texts


def publish(apps, schema_editor):
    PurposeText = apps.get_model("accounts", "PurposeText")
    publish_missing_first_texts(PurposeText, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(publish, migrations.RunPython.noop)]
