"""The ingest endpoint mounted where insights/api/urls.py mounts app APIs, for these tests."""

from django.urls import include, path

urlpatterns = [path("api/v1/", include("insights.purchases.api_ingest"))]
