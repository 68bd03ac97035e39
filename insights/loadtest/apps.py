"""App configuration of the load benchmark (no models; it hosts `manage.py bench_load`)."""

from django.apps import AppConfig


class LoadtestConfig(AppConfig):
    name = "insights.loadtest"
    label = "loadtest"
