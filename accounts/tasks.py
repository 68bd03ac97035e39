"""Celery tasks of accounts: building a data export, and the nightly retention job."""

import logging

from celery import shared_task
from django.db import OperationalError

from accounts import data_rights
from insights.ops.delivery import IdempotentTask

logger = logging.getLogger(__name__)


# Idempotent (a finished or vanished export is skipped; a rebuild writes the same file
# under a temporary name and renames it), so redelivery after a worker crash is safe.
@shared_task(
    base=IdempotentTask,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def build_export_task(export_id: int) -> str:
    """Build one export's ZIP; returns "built", or "skipped" when gone, done or in progress."""
    export = data_rights.build_export(export_id=export_id)
    if export is None:
        logger.info("export %s skipped: gone, finished or being built", export_id)
        return "skipped"
    logger.info("export %s built: %d bytes", export.pk, export.size_bytes)
    return "built"


@shared_task(base=IdempotentTask)
def apply_retention_task() -> dict[str, int]:
    """Nightly: delete what is past its retention period; running twice changes nothing more."""
    changed = data_rights.apply_retention()
    logger.info("Retention applied: %s", changed or "nothing to do")
    return changed
