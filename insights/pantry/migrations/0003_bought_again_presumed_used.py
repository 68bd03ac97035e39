"""State "replaced": a pack presumed used up because the shopper bought the product again.

Items already in the pantry get the same treatment once, so an existing pantry does not
keep listing packs its shopper has long replaced (the rule: services.presume_replaced,
restated here with the historical model, as migrations must not import app code).
"""

from django.db import migrations, models
from django.db.models import Exists, OuterRef, Subquery


def presume_replaced(apps, schema_editor):
    PantryItem = apps.get_model("pantry", "PantryItem")
    newer = PantryItem.objects.filter(
        user_id=OuterRef("user_id"),
        product_id=OuterRef("product_id"),
        bought_on__gt=OuterRef("bought_on"),
    )
    PantryItem.objects.filter(state="in_pantry", frozen_on__isnull=True).filter(
        Exists(newer)
    ).update(
        state="replaced",
        finished_on=Subquery(newer.order_by("bought_on").values("bought_on")[:1]),
        thrown_share=None,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("pantry", "0002_notification_export_ready"),
    ]

    operations = [
        migrations.AlterField(
            model_name="pantryitem",
            name="state",
            field=models.CharField(
                choices=[
                    ("in_pantry", "in the pantry"),
                    ("used", "used up"),
                    ("thrown", "thrown away"),
                    ("removed", "removed"),
                    ("replaced", "bought again"),
                ],
                default="in_pantry",
                max_length=12,
            ),
        ),
        migrations.RunPython(presume_replaced, migrations.RunPython.noop),
    ]
