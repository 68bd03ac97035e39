"""Permissions: integration clients by scope, shoppers for their own data."""

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from insights.api.models import IntegrationClient


def HasScope(scope: str) -> type[BasePermission]:  # noqa: N802  (reads like a class in views)
    """A permission class that admits only an active integration client with `scope`."""

    class _HasScope(BasePermission):
        message = f"This API key does not have the '{scope}' scope."

        def has_permission(self, request: Request, view: APIView) -> bool:
            client = request.auth
            return isinstance(client, IntegrationClient) and client.has_scope(scope)

    _HasScope.__name__ = f"HasScope_{scope}"
    return _HasScope


class IsShopper(BasePermission):
    """A logged-in shopper (a session login), never an integration client."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return (
            not isinstance(request.auth, IntegrationClient)
            and user is not None
            and user.is_authenticated
            and getattr(user, "is_active", False)
        )
