"""The personal data accounts itself holds, registered like every other app's (personal_data)."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import (
    ConsentEvent,
    Customer,
    CustomerIdentifier,
    DataExport,
    ErasureRecord,
    LinkAttempt,
    LinkCode,
    User,
)
from accounts.personal_data import (
    BookkeepingRule,
    DataClass,
    Retention,
    Subject,
    expire_by,
    model_data_class,
    register,
    register_bookkeeping,
)
from accounts.purposes import NECESSARY

STORE = _("The store's systems (web shop, app and till), when your store card was linked.")
YOU = _("You, when you signed up, checked in or changed your profile.")
KVITTO = _("Kvitto itself, while you used it.")


def _user(subject: Subject):
    return User.objects.filter(pk=subject.user_id)


def _customer_filter(model, subject: Subject, field: str = "customer_id"):
    if subject.customer_id is None:
        return model.objects.none()
    return model.objects.filter(**{field: subject.customer_id})


# --- Export files: deleted with their rows, and only after the deleting transaction commits.


def _unlink_later(file_names: Iterable[str]) -> None:
    root = Path(settings.DATA_EXPORT_ROOT)
    names = [name for name in file_names if name]

    def unlink() -> None:
        for name in names:
            (root / name).unlink(missing_ok=True)

    transaction.on_commit(unlink)


def _erase_exports(subject: Subject) -> int:
    qs = DataExport.objects.filter(user_id=subject.user_id)
    _unlink_later(qs.values_list("file_name", flat=True))
    return qs.delete()[1].get(DataExport._meta.label, 0)


def _expire_exports(cutoff: datetime) -> int:
    # An export is kept until its link expires: `expires_at` is set from the same setting
    # when the file is ready, so "requested before the cutoff" and "expired" agree.
    qs = DataExport.objects.filter(Q(expires_at__lte=timezone.now()) | Q(requested_at__lt=cutoff))
    _unlink_later(qs.values_list("file_name", flat=True))
    return qs.delete()[1].get(DataExport._meta.label, 0)


def _expire_link_codes(cutoff: datetime) -> int:
    qs = LinkCode.objects.filter(Q(used_at__lt=cutoff) | Q(expires_at__lt=cutoff))
    return qs.delete()[1].get(LinkCode._meta.label, 0)


# --- Login sessions: the session table keeps a login's id inside an encoded blob.


def _sessions_of(subject: Subject, *, expired_too: bool = False) -> list[Session]:
    """Database sessions of the login: the live ones, or with `expired_too` also those that
    expired and wait for the bookkeeping retention. Decoding is linear in the sessions
    looked at, which is acceptable for a rare export or erasure."""
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        return []
    wanted = str(subject.user_id)
    found = []
    sessions = Session.objects.all()
    if not expired_too:
        sessions = sessions.filter(expire_date__gt=timezone.now())
    for session in sessions.iterator():
        if str(session.get_decoded().get("_auth_user_id")) == wanted:
            found.append(session)
    return found


def _session_rows(subject: Subject) -> Iterable[Sequence[object]]:
    return [(session.expire_date,) for session in _sessions_of(subject)]


def _erase_sessions(subject: Subject) -> int:
    # An expired session still names the login (an idle or 12-hour timeout leaves one
    # behind), so erasure takes those too rather than leaving them to retention.
    keys = [session.session_key for session in _sessions_of(subject, expired_too=True)]
    return Session.objects.filter(session_key__in=keys).delete()[0]


SESSIONS = DataClass(
    key="accounts.sessions",
    title=_("Login sessions"),
    purpose=NECESSARY,
    holds=_("When each browser you are logged in on will be logged out."),
    source=KVITTO,
    fields=("expires_at",),
    rows=_session_rows,
    count=lambda subject: len(_sessions_of(subject)),
    erase=_erase_sessions,
    kept=_("Until you log out or the session expires (two weeks)."),
    model="sessions.Session",
)


# --- The admin's change log names the objects it changed.


def _admin_log(subject: Subject):
    types = ContentType.objects.get_for_models(User, Customer, CustomerIdentifier)
    about = Q(content_type=types[User], object_id=str(subject.user_id)) | Q(user_id=subject.user_id)
    if subject.customer_id is not None:
        identifier_ids = CustomerIdentifier.objects.filter(
            customer_id=subject.customer_id
        ).values_list("pk", flat=True)
        about |= Q(content_type=types[Customer], object_id=str(subject.customer_id))
        about |= Q(
            content_type=types[CustomerIdentifier],
            object_id__in=[str(pk) for pk in identifier_ids],
        )
    return LogEntry.objects.filter(about)


def register_accounts_data() -> None:
    """Called from AccountsConfig.ready. Registration order is erasure's reverse order."""
    register(
        model_data_class(
            key="accounts.profile",
            model=User,
            title=_("Your profile"),
            purpose=NECESSARY,
            holds=_(
                "Your login: e-mail address, name, language, time zone, when you joined, "
                "checked in and last logged in. Your password is stored only as a one-way "
                "hash and is not included."
            ),
            source=YOU,
            queryset=_user,
            columns={
                "email": "email",
                "name": "name",
                "language": "language",
                "time_zone": "time_zone",
                "date_joined": "date_joined",
                "checked_in_at": "checked_in_at",
                "last_login": "last_login",
            },
            kept=_("As long as you keep your account."),
        ),
        model_data_class(
            key="accounts.customer",
            model=Customer,
            title=_("Your customer record"),
            purpose=NECESSARY,
            holds=_("The store's customer record your receipts attach to, and when it was linked."),
            source=STORE,
            queryset=lambda s: _customer_filter(Customer, s, "pk"),
            columns={"customer_id": "pk", "created_at": "created_at", "linked_at": "linked_at"},
            kept=_("As long as you keep your account."),
        ),
        model_data_class(
            key="accounts.customer_identifiers",
            model=CustomerIdentifier,
            title=_("Customer identifiers"),
            purpose=NECESSARY,
            holds=_("How each channel knows you: loyalty card number, web shop id, app id."),
            source=STORE,
            queryset=lambda s: _customer_filter(CustomerIdentifier, s),
            columns={"kind": "kind", "value": "value"},
            kept=_("As long as you keep your account."),
        ),
        model_data_class(
            key="accounts.link_codes",
            model=LinkCode,
            title=_("Link codes"),
            purpose=NECESSARY,
            holds=_(
                "One-time codes the store issued to link your store card: when issued, "
                "until when valid, when used. The codes themselves are stored only as hashes."
            ),
            source=STORE,
            queryset=lambda s: _customer_filter(LinkCode, s),
            columns={"created_at": "created_at", "expires_at": "expires_at", "used_at": "used_at"},
            retention=Retention(
                setting="RETENTION_LINK_CODES_DAYS",
                unit="days",
                expire=_expire_link_codes,
                counted_from=_("after the code was used or expired"),
            ),
        ),
        model_data_class(
            key="accounts.link_attempts",
            model=LinkAttempt,
            title=_("Failed link attempts"),
            purpose=NECESSARY,
            holds=_("When a link code you typed was refused and why (to stop guessing)."),
            source=KVITTO,
            queryset=lambda s: LinkAttempt.objects.filter(user_id=s.user_id),
            columns={"at": "at", "reason": "reason"},
            retention=Retention(
                setting="RETENTION_LINK_ATTEMPTS_DAYS",
                unit="days",
                expire=expire_by(LinkAttempt.objects.all, "at"),
                counted_from=_("after the attempt"),
            ),
        ),
        model_data_class(
            key="accounts.consent_history",
            model=ConsentEvent,
            title=_("Your consent decisions"),
            purpose=NECESSARY,
            holds=_(
                "Every grant and withdrawal: which purpose, which version of its text, "
                "granted or withdrawn, when and how."
            ),
            source=YOU,
            queryset=lambda s: ConsentEvent.objects.filter(user_id=s.user_id),
            columns={
                "purpose": "purpose",
                "text_version": "text__version",
                "text_title": "text__title",
                "granted": "granted",
                "at": "at",
                "method": "method",
            },
            kept=_(
                "As long as you keep your account: it is the proof of what you agreed to "
                "(GDPR art. 7(1))."
            ),
        ),
        model_data_class(
            key="accounts.data_exports",
            model=DataExport,
            title=_("Your data exports"),
            purpose=NECESSARY,
            holds=_("Copies of your data you asked for: when, their state and size."),
            source=YOU,
            queryset=lambda s: DataExport.objects.filter(user_id=s.user_id),
            columns={
                "requested_at": "requested_at",
                "status": "status",
                "finished_at": "finished_at",
                "expires_at": "expires_at",
                "size_bytes": "size_bytes",
            },
            erase=_erase_exports,
            retention=Retention(
                setting="RETENTION_EXPORTS_DAYS",
                unit="days",
                expire=_expire_exports,
                counted_from=_("after the export was asked for; the download link stops then"),
            ),
        ),
        model_data_class(
            key="accounts.admin_changes",
            model=LogEntry,
            title=_("Changes staff made to your records"),
            purpose=NECESSARY,
            holds=_("When staff changed your login or customer record in the admin, and what."),
            source=_("Kvitto's staff, on your request or to fix an error."),
            queryset=_admin_log,
            columns={
                "action_time": "action_time",
                "action_flag": "action_flag",
                "object": "object_repr",
                "change_message": "change_message",
            },
            kept=_("As long as you keep your account."),
        ),
        SESSIONS,
    )
    register_bookkeeping(
        BookkeepingRule(
            key="sessions.expired",
            title=_("Expired login sessions"),
            retention=Retention(
                setting="RETENTION_BOOKKEEPING_DAYS",
                unit="days",
                expire=lambda cutoff: Session.objects.filter(expire_date__lt=cutoff).delete()[0],
                counted_from=_("after the session expired"),
            ),
        ),
        BookkeepingRule(
            key="accounts.erasure_records",
            title=_("Erasure records"),
            retention=Retention(
                setting="RETENTION_ERASURE_RECORDS_DAYS",
                unit="days",
                expire=expire_by(ErasureRecord.objects.all, "erased_at"),
                counted_from=_("after the erasure"),
            ),
        ),
    )
