"""Pages of the forecasts app."""

from django.urls import path

from insights.forecasts import views

app_name = "forecasts"

urlpatterns = [
    path("", views.index, name="index"),
]
