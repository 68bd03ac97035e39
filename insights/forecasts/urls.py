"""Pages of the forecasts app."""

app_name = "forecasts"

urlpatterns: list = []
