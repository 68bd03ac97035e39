"""Receipt ids are unique; a migration of its own so PostgreSQL alters the table after the
previous migration's updates are committed."""

import uuid

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_consent_receipts_material_texts")]

    operations = [
        migrations.AlterField(
            model_name="consentevent",
            name="receipt_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
