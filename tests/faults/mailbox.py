"""An e-mail backend for the fault tests' workers: one JSON file per message sent.

The worker processes are separate, so Django's in-memory outbox cannot be read from the
test; the folder comes from KVITTO_FAULTS_MAILBOX in the worker's environment.
"""

import json
import os
import uuid
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend


class FolderBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        folder = Path(os.environ["KVITTO_FAULTS_MAILBOX"])
        folder.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            name = uuid.uuid4().hex
            record = {"to": message.to, "subject": message.subject}
            partial = folder / f"{name}.part"
            partial.write_text(json.dumps(record))
            partial.rename(folder / f"{name}.json")
        return len(email_messages)


def read(folder: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
