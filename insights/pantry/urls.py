"""Pages of the pantry app."""

from django.urls import path

from insights.pantry import views

app_name = "pantry"

urlpatterns = [
    path("", views.index, name="index"),
    path("items/<int:pk>/<slug:action>/", views.item_action, name="item_action"),
    path("settings/", views.update_settings, name="settings"),
    path("calendar/", views.manage_calendar, name="calendar"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read-all/", views.notifications_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
