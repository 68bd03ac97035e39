"""Top-level URL map: pages per app, the API under /api/v1/, the admin."""

from django.contrib import admin
from django.urls import include, path

from insights import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("privacy/", include("accounts.privacy_urls")),
    path("history/", include("insights.purchases.urls")),
    path("habits/", include("insights.habits.urls")),
    path("list/", include("insights.forecasts.urls")),
    path("pantry/", include("insights.pantry.urls")),
    path("api/v1/", include("insights.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]

# A URL under /api/ that matches no route answers JSON, like the API's own 404s.
handler404 = "insights.views.not_found"
