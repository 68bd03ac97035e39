"""Staff see forecast runs and fitted models in the admin; shoppers' lists are not there."""

import pytest
from django.urls import reverse

from insights.forecasts.models import ForecastRun
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_staff_see_the_run_records(client):
    ForecastRun.objects.create(kind="nightly", shoppers=2469, errors=1, error_detail="boom")
    client.force_login(UserFactory(email="admin@example.com", is_staff=True, is_superuser=True))
    response = client.get(reverse("admin:forecasts_forecastrun_changelist"))
    assert response.status_code == 200
    assert b"2469" in response.content
    assert client.get(reverse("admin:forecasts_forecastmodel_changelist")).status_code == 200


def test_runs_cannot_be_added_or_edited(client):
    client.force_login(UserFactory(email="admin@example.com", is_staff=True, is_superuser=True))
    assert client.get(reverse("admin:forecasts_forecastrun_add")).status_code == 403


def test_shoppers_lists_are_not_in_the_admin():
    from django.contrib import admin

    from insights.forecasts.models import Forecast, ListItem, ShoppingList

    for model in (Forecast, ListItem, ShoppingList):
        assert not admin.site.is_registered(model)
