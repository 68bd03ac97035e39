"""The API under /api/v1/: each app's endpoints (its api.py), the schema and its Swagger UI."""

from importlib import import_module

from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

# Each app that has endpoints keeps them in <app>/api.py as `urlpatterns`.
_APPS_WITH_API = [
    "accounts.api",
    "accounts.api_data",
    "insights.purchases.api",
    "insights.purchases.api_ingest",
    "insights.habits.api",
    "insights.forecasts.api",
    "insights.pantry.api",
]


def _app_patterns() -> list:
    patterns = []
    for module_name in _APPS_WITH_API:
        try:
            module = import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        patterns.append(path("", include(module.urlpatterns)))
    return patterns


urlpatterns = [
    *_app_patterns(),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI sets style attributes from its script; only this developer page allows them.
    path(
        "docs/",
        csp_update({"style-src": ["'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
]
