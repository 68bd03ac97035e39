"""OpenAPI (drf-spectacular): the API-key scheme, and the error answers every operation can give."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from insights.api.authentication import KEYWORD


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "insights.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                f'An integration client\'s key, sent as "Authorization: {KEYWORD} <key>". '
                "Keys are created in the admin (shown once) and carry scopes: ingest, link, "
                "consents."
            ),
        }


class SessionRefusedScheme(OpenApiAuthenticationExtension):
    """A session is recognised on the store's endpoints only to be refused: no scheme."""

    target_class = "insights.api.authentication.SessionRefusedAuthentication"
    name: list[str] = []

    def get_security_requirement(self, auto_schema: object) -> list:
        return []

    def get_security_definition(self, auto_schema: object) -> list:
        return []


ERROR_SCHEMA = {
    "type": "object",
    "description": (
        'What went wrong, for a person: {"detail": "..."}, or a list of messages per invalid '
        "field or parameter."
    ),
    "properties": {"detail": {"type": "string"}},
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def add_error_responses(
    result: dict[str, Any], generator: object, request: object, public: bool
) -> dict[str, Any]:
    """Document the refusals DRF and the views give, where an operation does not itself.

    Every operation checks permission (403: not a logged-in shopper, no CSRF token, an API
    key without the scope, a purpose not consented to); an API key is asked for with 401;
    a body or query can be invalid (400) or of a type the operation does not read (415); an
    id in the path can name nothing of yours, and a page number no page (404).
    """
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            security = operation.get("security", [])
            schemes = {name for requirement in security for name in requirement}
            parameters = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            errors = {"403": "Not allowed for this caller, or the purpose is not consented to."}
            if "ApiKeyAuth" in schemes:
                errors["401"] = "No API key, or an unknown or revoked one."
            if "requestBody" in operation or parameters:
                errors["400"] = "A value is missing or invalid; the body says which."
            if "requestBody" in operation:
                errors["415"] = "The body is not of a content type this operation reads."
            if "{" in path:
                errors["404"] = "No such object of yours: another's id answers as a missing one."
            elif "page" in parameters:
                errors["404"] = "No such page."
            for code, description in errors.items():
                responses.setdefault(code, _error(description))
    return result
