"""OpenAPI (drf-spectacular) description of the API-key scheme, so the schema names it."""

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
