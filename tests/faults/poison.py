"""A task that kills the pool process running it: the poison message of tests/faults.

Only the fault tests' workers load it (`celery worker --include tests.faults.poison`).
"""

import os
import signal

from celery import shared_task

from insights.ops.delivery import IdempotentTask


@shared_task(base=IdempotentTask, name="tests.faults.poison.die_with_worker_task")
def die_with_worker_task(marker: str) -> None:
    """Dies every time, as a task that runs out of memory on its input would."""
    os.kill(os.getpid(), signal.SIGKILL)
