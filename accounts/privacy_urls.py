"""The consent centre under /privacy/: switches, re-consent, decisions and receipts, staff pages."""

from django.urls import path

from accounts import privacy_views

app_name = "privacy"

urlpatterns = [
    path("", privacy_views.centre, name="centre"),
    path("review/", privacy_views.review, name="review"),
    path("decisions/<uuid:receipt_id>/", privacy_views.decision, name="decision"),
    path("decisions/<uuid:receipt_id>/receipt.json", privacy_views.receipt, name="receipt"),
    path("staff/register/", privacy_views.processing_register, name="register"),
    path("staff/statistics/", privacy_views.consent_statistics, name="statistics"),
]
