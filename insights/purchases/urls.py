"""Purchase history pages: the history at /history/ and one order's page."""

from django.urls import path

from insights.purchases import views

app_name = "purchases"

urlpatterns = [
    path("", views.history, name="history"),
    path("orders/<int:order_id>/", views.order_detail, name="order"),
]
