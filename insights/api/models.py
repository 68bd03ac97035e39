"""Integration clients: the store's systems, each with a hashed API key and scopes."""

import hashlib
import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    INGEST = "ingest", _("push orders")
    LINK = "link", _("link customers to logins")
    CONSENTS = "consents", _("read customers' consents")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class IntegrationClient(models.Model):
    """A system of the store's that calls the API. Only the key's hash is stored."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    key_prefix = models.CharField(_("key prefix"), max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("integration client")
        verbose_name_plural = _("integration clients")

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def is_authenticated(self) -> bool:
        return True

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def rotate_key(self) -> str:
        """Set a new key and return it; it is shown once and never stored in clear."""
        key = f"kv_{secrets.token_urlsafe(32)}"
        self.key_prefix = key[:10]
        self.key_hash = hash_key(key)
        return key


class ConsentRead(models.Model):
    """One read of a customer's consents by an integration client (who, whose, when).

    Kept so the privacy admin can answer "which system looked at my choices, and when".
    Rows go with the customer (erasure) but not with the client: a revoked client's
    reads stay on record.
    """

    client = models.ForeignKey(
        IntegrationClient,
        on_delete=models.PROTECT,
        related_name="consent_reads",
        verbose_name=_("integration client"),
    )
    customer = models.ForeignKey(
        "accounts.Customer",
        on_delete=models.CASCADE,
        related_name="consent_reads",
        verbose_name=_("customer"),
    )
    at = models.DateTimeField(_("read at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("consent read")
        verbose_name_plural = _("consent reads")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.client} read customer {self.customer_id} at {self.at:%Y-%m-%d %H:%M}"
