"""Pages of the pantry app."""

app_name = "pantry"

urlpatterns: list = []
