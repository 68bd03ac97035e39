"""PendingRefresh keeps the window of a two-edged debounce: when due, when last started.

The old `requested_at` of a row meant "a task is on its way"; it becomes `due_at`, so a
task queued before the migration still finds its row and runs.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("purchases", "0002_lean_line_indexes"),
    ]

    operations = [
        migrations.RenameField(
            model_name="pendingrefresh",
            old_name="requested_at",
            new_name="due_at",
        ),
        migrations.AlterField(
            model_name="pendingrefresh",
            name="due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="pendingrefresh",
            name="last_started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
