"""Pages of the forecasts app: the shopping list and its actions."""

from django.urls import path

from insights.forecasts import views

app_name = "forecasts"

urlpatterns = [
    path("", views.index, name="index"),
    path("items/", views.add_item, name="add_item"),
    path("items/<int:pk>/", views.item_action, name="item_action"),
    path("search/", views.search, name="search"),
    path("refresh/", views.refresh, name="refresh"),
    path("share.txt", views.share_text, name="share"),
    path("export.csv", views.export_csv, name="export"),
    path("print/", views.print_view, name="print"),
]
