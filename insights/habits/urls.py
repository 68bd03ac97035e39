"""Pages of the habits app."""

app_name = "habits"

urlpatterns: list = []
