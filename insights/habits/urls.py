"""Pages of the habits app."""

from django.urls import path

from insights.habits import views

app_name = "habits"

urlpatterns = [
    path("", views.index, name="index"),
    path("highlights/<int:highlight_id>/dismiss/", views.dismiss, name="dismiss"),
]
