"""Logins, the retailer's customers and their identifiers, and the consent log."""

import hashlib
import secrets
import uuid
import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.purposes import PURPOSE_CHOICES


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: object) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A login. The shopper's receipts belong to the linked `Customer`."""

    email = models.EmailField(_("e-mail address"), unique=True)
    name = models.CharField(_("name"), max_length=150, blank=True)
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=settings.TIME_ZONE, validators=[validate_time_zone]
    )
    is_staff = models.BooleanField(_("staff"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)
    checked_in_at = models.DateTimeField(_("checked in"), null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("shopper login")
        verbose_name_plural = _("shopper logins")

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else self.email


class Customer(models.Model):
    """The retailer's customer: orders attach here, before or after a login exists."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customer",
        verbose_name=_("login"),
    )
    created_at = models.DateTimeField(default=timezone.now)
    linked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")

    def __str__(self) -> str:
        return f"Customer {self.pk}"


class CustomerIdentifier(models.Model):
    """How one channel knows the customer: a loyalty card, a web shop id, an app id."""

    class Kind(models.TextChoices):
        LOYALTY_CARD = "loyalty_card", _("loyalty card")
        WEB = "web", _("web shop id")
        APP = "app", _("app id")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    value = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="unique_customer_identifier")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


def hash_code(code: str) -> str:
    normalised = code.replace("-", "").replace(" ", "").upper()
    return hashlib.sha256(normalised.encode()).hexdigest()


class LinkCode(models.Model):
    """A one-time code the store hands a shopper to prove a customer record is theirs."""

    ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
    LIFETIME = timedelta(days=14)

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="link_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("link code")
        verbose_name_plural = _("link codes")

    def __str__(self) -> str:
        return f"Link code for customer {self.customer_id}"

    @classmethod
    def new_code(cls) -> str:
        raw = "".join(secrets.choice(cls.ALPHABET) for _ in range(10))
        return f"{raw[:5]}-{raw[5:]}"

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and self.expires_at > timezone.now()


class LinkAttempt(models.Model):
    """A failed attempt to redeem a link code; counted to rate-limit guessing per login.

    A database row rather than a cache key, so the limit holds across web processes and
    survives a restart; rows older than the window are pruned as new attempts arrive.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="link_attempts"
    )
    at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=20)

    class Meta:
        indexes = [models.Index(fields=["user", "at"], name="link_attempt_user_at_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.reason} at {self.at:%Y-%m-%d %H:%M}"


class PurposeText(models.Model):
    """One published version of a purpose's explanation. Old versions are kept.

    `material` says the new wording changes what the shopper agrees to: shoppers who
    granted an older version are asked again, and until they answer the purpose's
    `while_outdated` rule applies (see `accounts.purposes`). A non-material version
    (a typo, clearer words) is shown from now on but asks nobody again.
    """

    purpose = models.CharField(max_length=32, choices=PURPOSE_CHOICES)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    published_at = models.DateTimeField(default=timezone.now)
    material = models.BooleanField(
        _("changes the meaning"),
        default=True,
        help_text=_(
            "Tick when the new wording changes what shoppers agree to: everyone who granted "
            "an older version is asked again. Untick for corrections that keep the meaning."
        ),
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["purpose", "version"], name="unique_purpose_version")
        ]
        ordering = ["purpose", "-version"]

    def __str__(self) -> str:
        return f"{self.purpose} v{self.version}"


class ConsentEventQuerySet(models.QuerySet["ConsentEvent"]):
    def for_user(self, user: User) -> "ConsentEventQuerySet":
        return self.filter(user=user)


class ConsentEvent(models.Model):
    """One grant or withdrawal. Append-only: the current state is derived from the log."""

    class Method(models.TextChoices):
        CHECK_IN = "check_in", _("check-in")
        CONSENT_CENTRE = "consent_centre", _("consent centre")
        API = "api", _("API")
        DEMO = "demo", _("demo data")
        UNSUBSCRIBE = "unsubscribe", _("unsubscribe link")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_events"
    )
    purpose = models.CharField(max_length=32, choices=PURPOSE_CHOICES)
    text = models.ForeignKey(PurposeText, on_delete=models.PROTECT, related_name="events")
    granted = models.BooleanField()
    at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=20, choices=Method.choices)
    # The consentReceiptID of this decision's Kantara receipt: random, so it reveals
    # nothing about the shopper or how many decisions exist.
    receipt_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    objects = ConsentEventQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["user", "purpose", "-at"], name="consent_latest_idx")]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        verb = "granted" if self.granted else "withdrew"
        return f"{self.user_id} {verb} {self.purpose} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("Consent events are append-only; record a new event instead.")
        super().save(*args, **kwargs)


class DataExport(models.Model):
    """A shopper's request for a copy of their data (GDPR art. 15 and 20) and its ZIP file.

    The file lives under `settings.DATA_EXPORT_ROOT`, never in the database or in git; the
    row and the file go when `expires_at` passes (nightly retention) or with the login.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting to start")
        BUILDING = "building", _("being prepared")
        READY = "ready", _("ready to download")
        FAILED = "failed", _("failed")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_exports"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    # Relative to DATA_EXPORT_ROOT; random, so a path never reveals whose file it is.
    file_name = models.CharField(max_length=100, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    # Rows written per file, e.g. {"purchases.order_lines": 1234}; checked against the database.
    row_counts = models.JSONField(default=dict, blank=True)
    # Files done so far and in all, for the progress indicator.
    files_done = models.PositiveIntegerField(default=0)
    files_total = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["user", "-requested_at"], name="data_export_user_idx")]
        verbose_name = _("data export")
        verbose_name_plural = _("data exports")

    def __str__(self) -> str:
        return f"Export {self.pk} of {self.user_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.READY, self.Status.FAILED)

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_downloadable(self) -> bool:
        return self.status == self.Status.READY and not self.is_expired and bool(self.file_name)

    @property
    def percent(self) -> int:
        if self.status == self.Status.READY:
            return 100
        if not self.files_total:
            return 0
        return min(99, int(100 * self.files_done / self.files_total))


class ErasureRecord(models.Model):
    """Proof that an account was erased (GDPR art. 17 and 5(2)), holding no personal data.

    No login, customer, e-mail address or identifier: only when, how it was asked for and
    how many rows of each data class went, so the controller can show that it complied.
    """

    class Method(models.TextChoices):
        WEB = "web", _("Your data page")
        API = "api", _("API")
        ADMIN = "admin", _("staff, on the shopper's request")
        BENCH = "bench", _("benchmark")

    erased_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=10, choices=Method.choices)
    row_counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-erased_at", "-id"]
        verbose_name = _("erasure record")
        verbose_name_plural = _("erasure records")

    def __str__(self) -> str:
        return f"Erasure at {self.erased_at:%Y-%m-%d %H:%M}"

    @property
    def total_rows(self) -> int:
        return sum(self.row_counts.values())
