"""Publishes version 1 of every switchable purpose's text, so consent can refer to it."""

from django.db import migrations

TEXTS = {
    "insights": (
        "Habit summaries",
        "We analyse your purchases into summaries: where the money goes, when you shop "
        "and what changed. Derived summaries are deleted when you withdraw.",
    ),
    "predictions": (
        "Predicted shopping list",
        "We predict what you will need on your next trip, and when, from what you buy. "
        "Forecasts and suggestions are deleted when you withdraw.",
    ),
    "pantry": (
        "Pantry and best-before reminders",
        "We track the best-before dates of what you bought and remind you in the app "
        "before food goes to waste. Pantry items and reminders are deleted when you withdraw.",
    ),
    "email": (
        "E-mail",
        "We send reminders and your shopping list to your e-mail address.",
    ),
    "model_improvement": (
        "Help improve predictions",
        "Your anonymised history may help the predictions for other shoppers. "
        "Nothing that identifies you leaves your account.",
    ),
}


def publish(apps, schema_editor):
    PurposeText = apps.get_model("accounts", "PurposeText")
    for purpose, (title, body) in TEXTS.items():
        PurposeText.objects.get_or_create(
            purpose=purpose, version=1, defaults={"title": title, "body": body}
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(publish, migrations.RunPython.noop)]
