"""Data rights: a copy of everything (GDPR art. 15 and 20), erasure (art. 17), retention (5(1)(e)).

All three walk the registry in `accounts.personal_data`, which every app fills from its
AppConfig.ready; nothing here imports the apps that derive data.
"""

import csv
import io
import json
import logging
import secrets
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.dispatch import Signal
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.consent import is_allowed
from accounts.models import Customer, DataExport, ErasureRecord, User
from accounts.personal_data import DataClass, Subject, data_classes, retention_rules
from accounts.purposes import EMAIL, PURPOSES

logger = logging.getLogger(__name__)

# Sent on commit when an export is ready, with `user` and `export`: an app that shows
# in-app notifications (the pantry) answers it, so accounts needs no import of theirs.
data_export_ready = Signal()

# An export left "building" this long is taken to have lost its worker and is rebuilt.
STALE_BUILD = timedelta(minutes=30)


def subject_for(user: User) -> Subject:
    customer_id = Customer.objects.filter(user=user).values_list("pk", flat=True).first()
    return Subject(user_id=user.pk, customer_id=customer_id)


def export_lifetime() -> timedelta:
    return timedelta(days=settings.RETENTION_EXPORTS_DAYS)


def export_path(export: DataExport) -> Path:
    return Path(settings.DATA_EXPORT_ROOT) / export.file_name


# --- Export ---------------------------------------------------------------------------------


@transaction.atomic
def request_export(*, user: User, enqueue: bool = True) -> tuple[DataExport, bool]:
    """Ask for a copy of the shopper's data; returns (export, created).

    A second request while one is still waiting or building returns that one, so a
    double click builds one ZIP. The build runs on a worker after commit (`enqueue`
    False leaves it to the caller, as the benchmark does).
    """
    from accounts.tasks import build_export_task

    # Lock the login so two concurrent requests cannot both create an export.
    User.objects.select_for_update().filter(pk=user.pk).first()
    running = DataExport.objects.filter(
        user=user, status__in=[DataExport.Status.PENDING, DataExport.Status.BUILDING]
    ).first()
    if running is not None:
        return running, False
    now = timezone.now()
    export = DataExport.objects.create(
        user=user,
        requested_at=now,
        expires_at=now + export_lifetime(),
        file_name=new_file_name(),
    )
    if enqueue:
        transaction.on_commit(lambda: build_export_task.delay(export.pk))
    return export, True


def new_file_name() -> str:
    return f"kvitto-export-{secrets.token_hex(16)}.zip"


def _plain(value: object) -> object:
    """A value as JSON and CSV both understand: dates ISO 8601, money as exact strings."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _csv_cell(value: object) -> object:
    if isinstance(value, dict | list):
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
    return "" if value is None else value


def _write_data_class(archive: zipfile.ZipFile, data_class: DataClass, subject: Subject) -> int:
    """Write `<app>/<name>.csv` and `.json` from one pass over the rows; returns the rows."""
    stem = data_class.key.replace(".", "/")
    fields = list(data_class.fields)
    # One encoder for all rows; json.dump per row writes in many small pieces.
    encoder = DjangoJSONEncoder(ensure_ascii=False)
    count = 0
    # The JSON goes to a spooled temporary file while the CSV streams into the archive,
    # so both files come from the same rows read once.
    with tempfile.SpooledTemporaryFile(max_size=8 * 2**20, mode="w+b") as spool:
        json_out = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        json_out.write("[")
        with archive.open(f"{stem}.csv", "w", force_zip64=True) as raw_csv:
            csv_out = io.TextIOWrapper(raw_csv, encoding="utf-8", newline="")
            writer = csv.writer(csv_out)
            writer.writerow(fields)
            for row in data_class.rows(subject):
                plain = [_plain(value) for value in row]
                writer.writerow([_csv_cell(value) for value in plain])
                json_out.write(",\n " if count else "\n ")
                json_out.write(encoder.encode(dict(zip(fields, plain, strict=True))))
                count += 1
            csv_out.flush()
            csv_out.detach()
        json_out.write("\n]\n" if count else "]\n")
        json_out.flush()
        json_out.detach()
        spool.seek(0)
        with archive.open(f"{stem}.json", "w", force_zip64=True) as raw_json:
            while chunk := spool.read(2**20):
                raw_json.write(chunk)
    return count


def _retention_text(data_class: DataClass) -> str:
    retention = data_class.retention
    if retention is None:
        return str(data_class.kept) or _("While the purpose it serves is on.")
    n = retention.amount
    if retention.unit == "months":
        period = ngettext("%(n)s month", "%(n)s months", n) % {"n": n}
    else:
        period = ngettext("%(n)s day", "%(n)s days", n) % {"n": n}
    return f"{period} {retention.counted_from}".strip()


def readme_text(*, user: User, generated_at: datetime, counts: dict[str, int]) -> str:
    """README.txt: what each file holds, its purpose, retention and source."""
    title = _("Your data from Kvitto")
    purposes_heading = _("Purposes")
    lines = [
        title,
        "=" * len(title),
        "",
        _("Prepared for %(email)s on %(when)s (UTC).")
        % {"email": user.email, "when": generated_at.strftime("%Y-%m-%d %H:%M")},
        "",
        _(
            "This is a copy of all personal data Kvitto holds about you (GDPR articles 15 "
            "and 20). Each kind of data is here twice: as CSV (one row per line, for a "
            "spreadsheet) and as JSON (for another program). Dates and times are ISO 8601 "
            "in UTC; amounts are exact decimals in the currency of each order."
        ),
        "",
        _(
            "Data derived for a purpose you have switched off is not here because it no "
            "longer exists: switching a purpose off deletes what was computed for it."
        ),
        "",
    ]
    for data_class in data_classes():
        stem = data_class.key.replace(".", "/")
        purpose = PURPOSES[data_class.purpose]
        lines += [
            f"{stem}.csv, {stem}.json — {data_class.title}",
            "  " + _("What it holds: %(holds)s") % {"holds": data_class.holds},
            "  " + _("Purpose: %(purpose)s") % {"purpose": purpose.title},
            "  " + _("Source: %(source)s") % {"source": data_class.source},
            "  " + _("Kept: %(kept)s") % {"kept": _retention_text(data_class)},
            "  " + _("Rows: %(n)s") % {"n": counts.get(data_class.key, 0)},
            "",
        ]
    lines += [purposes_heading, "-" * len(purposes_heading)]
    for purpose in PURPOSES.values():
        lines.append(f"- {purpose.title}: {purpose.summary}")
    lines += [
        "",
        _(
            "You can download a new copy or erase your account at any time on the "
            "Your data page: %(url)s"
        )
        % {"url": settings.SITE_URL.rstrip("/") + reverse("accounts:data")},
        "",
    ]
    return "\n".join(str(line) for line in lines)


def _claim(export_id: int) -> DataExport | None:
    """Mark the export building, unless it is gone, done, or being built by a live worker."""
    now = timezone.now()
    with transaction.atomic():
        export = (
            DataExport.objects.select_for_update().select_related("user").filter(pk=export_id)
        ).first()
        if export is None or export.status in (DataExport.Status.READY, DataExport.Status.FAILED):
            return None
        if not export.user.is_active:
            return None
        if (
            export.status == DataExport.Status.BUILDING
            and export.started_at is not None
            and export.started_at > now - STALE_BUILD
        ):
            return None
        export.status = DataExport.Status.BUILDING
        export.started_at = now
        export.files_done = 0
        export.files_total = len(data_classes())
        export.file_name = export.file_name or new_file_name()
        export.save(
            update_fields=["status", "started_at", "files_done", "files_total", "file_name"]
        )
    return export


def build_export(*, export_id: int, announce: bool = True) -> DataExport | None:
    """Write the export's ZIP: one CSV and one JSON per data class, a manifest and a README.

    Idempotent: a finished export is left alone, a gone one (erased meanwhile) is skipped,
    and a rebuild after a lost worker writes the same file again. The archive is written
    under a temporary name and renamed, so a download never sees half a file. Not one
    transaction: progress is committed file by file so the page can show it.
    `announce` False skips the notification and e-mail (the benchmark).
    Returns the export when this call built it, else None.
    """
    export = _claim(export_id)
    if export is None:
        return None
    user = export.user
    subject = subject_for(user)
    root = Path(settings.DATA_EXPORT_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    final = root / export.file_name
    partial = root / f"{export.file_name}.{secrets.token_hex(4)}.part"
    counts: dict[str, int] = {}
    generated_at = timezone.now()
    try:
        with (
            translation.override(user.language),
            zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        ):
            for done, data_class in enumerate(data_classes(), start=1):
                counts[data_class.key] = _write_data_class(archive, data_class, subject)
                DataExport.objects.filter(pk=export.pk).update(files_done=done)
            archive.writestr(
                "manifest.json",
                json.dumps(
                    {
                        "generated_at": generated_at.isoformat(),
                        "format": 1,
                        "files": {
                            key.replace(".", "/"): {"rows": n, "formats": ["csv", "json"]}
                            for key, n in counts.items()
                        },
                    },
                    indent=2,
                ),
            )
            archive.writestr(
                "README.txt", readme_text(user=user, generated_at=generated_at, counts=counts)
            )
        partial.replace(final)
    except Exception:
        partial.unlink(missing_ok=True)
        DataExport.objects.filter(pk=export.pk).update(
            status=DataExport.Status.FAILED, finished_at=timezone.now()
        )
        logger.exception("Export %s failed", export.pk)
        raise
    finished = timezone.now()
    updated = DataExport.objects.filter(pk=export.pk).update(
        status=DataExport.Status.READY,
        finished_at=finished,
        expires_at=finished + export_lifetime(),
        size_bytes=final.stat().st_size,
        row_counts=counts,
        files_done=len(counts),
    )
    if not updated:
        # Erased while the ZIP was written: the file must not outlive its owner.
        final.unlink(missing_ok=True)
        return None
    export.refresh_from_db()
    if announce:
        _announce(export)
    return export


def _announce(export: DataExport) -> None:
    """In-app notification through the signal; an e-mail only with the `email` purpose."""
    user = export.user
    data_export_ready.send(sender=DataExport, user=user, export=export)
    if not is_allowed(user, EMAIL):
        return
    with translation.override(user.language):
        context = {
            "user": user,
            "export": export,
            "url": settings.SITE_URL.rstrip("/") + reverse("accounts:data"),
        }
        subject = render_to_string("accounts/email/export_ready_subject.txt", context).strip()
        body = render_to_string("accounts/email/export_ready.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


def zip_row_counts(path: Path) -> dict[str, int]:
    """Data rows of every CSV in an export ZIP, keyed like the registry ("app.name")."""
    counts = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if not name.endswith(".csv"):
                continue
            with archive.open(name) as raw:
                reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
                rows = sum(1 for _ in reader) - 1
            counts[name.removesuffix(".csv").replace("/", ".")] = rows
    return counts


def database_row_counts(subject: Subject) -> dict[str, int]:
    return {data_class.key: data_class.count(subject) for data_class in data_classes()}


# --- Erasure --------------------------------------------------------------------------------


@transaction.atomic
def erase_account(*, user: User, method: str) -> ErasureRecord:
    """Delete the login, its customer and every row derived from them, in one transaction.

    Data classes are erased in reverse registration order, so what is derived goes before
    what it came from. Tasks already queued for the shopper re-fetch their login or
    customer and return early. What is kept is an ErasureRecord with no personal data:
    when, how it was asked for, and rows per data class (proof of compliance, art. 5(2)).
    """
    # Lock the login: a concurrent export request or consent change waits, then finds nothing.
    locked = User.objects.select_for_update().filter(pk=user.pk).first()
    if locked is None:
        raise User.DoesNotExist("Already erased")
    subject = subject_for(locked)
    counts: dict[str, int] = {}
    for data_class in reversed(data_classes()):
        erased = data_class.erase(subject)
        if erased:
            counts[data_class.key] = erased
    # Anything the registry missed but cascades from the login or customer still goes.
    if subject.customer_id is not None:
        Customer.objects.filter(pk=subject.customer_id).delete()
    User.objects.filter(pk=subject.user_id).delete()
    record = ErasureRecord.objects.create(method=method, row_counts=counts)
    logger.info("Erased an account: %d rows", record.total_rows)
    return record


@dataclass(frozen=True)
class Leftover:
    model: str
    how: str
    rows: int


def _paths_to(
    model: type[models.Model], targets: set[type[models.Model]], depth: int = 3
) -> Iterable[tuple[str, type[models.Model]]]:
    """ORM lookups from `model` to a target model over foreign keys, up to `depth` hops."""
    for field in model._meta.get_fields():
        if not (field.concrete and (field.many_to_one or field.one_to_one)):
            continue
        related = field.related_model
        if related in targets:
            yield field.name, related
        elif depth > 1 and related is not model:
            for sub, target in _paths_to(related, targets, depth - 1):
                yield f"{field.name}__{sub}", target


def remaining_rows(*, user_id: int, customer_id: int | None, email: str) -> list[Leftover]:
    """Every row in every table that still points at the login or customer, or names the
    e-mail address: foreign-key paths, generic (content type, object id) references, login
    sessions, and any text or JSON field containing the address. Empty after an erasure.
    """
    ids = {User: user_id, Customer: customer_id}
    targets = {model for model, pk in ids.items() if pk is not None}
    leftovers: list[Leftover] = []
    content_types = ContentType.objects.get_for_models(*targets)
    for model in apps.get_models(include_auto_created=True):
        manager = model._base_manager
        if model in targets:
            n = manager.filter(pk=ids[model]).count()
            if n:
                leftovers.append(Leftover(model._meta.label, "pk", n))
        for path, target in _paths_to(model, targets):
            n = manager.filter(**{path: ids[target]}).count()
            if n:
                leftovers.append(Leftover(model._meta.label, path, n))
        names = {f.name for f in model._meta.concrete_fields}
        if {"content_type", "object_id"} <= names:
            for target, content_type in content_types.items():
                n = manager.filter(content_type=content_type, object_id=str(ids[target])).count()
                if n:
                    leftovers.append(Leftover(model._meta.label, "object_id", n))
        text_fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        for name in text_fields:
            n = manager.filter(**{f"{name}__icontains": email}).count()
            if n:
                leftovers.append(Leftover(model._meta.label, f"{name} contains the address", n))
        if model is Session:
            live = [
                s
                for s in manager.all().iterator()
                if str(s.get_decoded().get("_auth_user_id")) == str(user_id)
            ]
            if live:
                leftovers.append(Leftover(model._meta.label, "session", len(live)))
    return leftovers


# --- Retention ------------------------------------------------------------------------------


def apply_retention(*, now: datetime | None = None) -> dict[str, int]:
    """Delete what is older than each data class's retention period, as of `now`.

    Idempotent: a second run at the same `now` finds nothing more. Derived classes go
    before their sources. Returns rows changed per rule key (zeros left out).
    """
    now = now or timezone.now()
    changed: dict[str, int] = {}
    for key, retention in retention_rules():
        # Each expire commits as it goes (expire_by in chunks), so no transaction here.
        n = retention.expire(retention.cutoff(now))
        if n:
            changed[key] = n
    return changed
