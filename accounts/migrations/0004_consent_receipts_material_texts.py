"""Purpose texts say whether they change the meaning; each consent decision gets a receipt id."""

import uuid

from django.db import migrations, models


def _give_receipt_ids(apps, schema_editor):  # noqa: ANN001
    ConsentEvent = apps.get_model("accounts", "ConsentEvent")  # noqa: N806
    pending = list(ConsentEvent.objects.filter(receipt_id__isnull=True).only("pk"))
    for event in pending:
        event.receipt_id = uuid.uuid4()
    ConsentEvent.objects.bulk_update(pending, ["receipt_id"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_link_attempts")]

    operations = [
        migrations.AddField(
            model_name="purposetext",
            name="material",
            field=models.BooleanField(
                default=True,
                help_text=(
                    "Tick when the new wording changes what shoppers agree to: everyone who "
                    "granted an older version is asked again. Untick for corrections that "
                    "keep the meaning."
                ),
                verbose_name="changes the meaning",
            ),
        ),
        migrations.AddField(
            model_name="consentevent",
            name="receipt_id",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(_give_receipt_ids, migrations.RunPython.noop),
    ]
