"""Pages of the pantry app."""

from django.urls import path

from insights.pantry import views

app_name = "pantry"

urlpatterns = [
    path("", views.index, name="index"),
]
