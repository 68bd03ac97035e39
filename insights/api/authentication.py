"""API-key authentication for the store's systems: `Authorization: Api-Key <key>`."""

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

from insights.api.models import IntegrationClient, hash_key

KEYWORD = "Api-Key"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates an `IntegrationClient`; `request.user` is the client, `request.auth` too."""

    def authenticate(self, request: Request) -> tuple[IntegrationClient, IntegrationClient] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header.startswith(f"{KEYWORD} "):
            return None
        key = header[len(KEYWORD) + 1 :].strip()
        if not key:
            raise exceptions.AuthenticationFailed("The API key is empty.")
        client = IntegrationClient.objects.filter(key_hash=hash_key(key)).first()
        if client is None or not client.is_active:
            raise exceptions.AuthenticationFailed("The API key is unknown or revoked.")
        # One cheap UPDATE, not a read-modify-write of the whole row.
        IntegrationClient.objects.filter(pk=client.pk).update(last_used_at=timezone.now())
        return client, client

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class SessionRefusedAuthentication(SessionAuthentication):
    """Recognises a logged-in shopper on the store's endpoints only so that they are refused.

    Those endpoints act for API keys alone (`HasScope` admits nothing else), so a shopper's
    session gets a 403 there rather than a request for a key (401). Since a session can do
    nothing on them, there is nothing for a CSRF check to protect; it is skipped because it
    would read the body first and answer a malformed one with a 400 instead of the refusal.
    """

    def enforce_csrf(self, request: Request) -> None:
        return None
