"""Pages for logging in, checking in, linking a store card, the profile and your data; the old
consent URL."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from accounts import data_views, privacy_views, views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("check-in/", views.check_in, name="check_in"),
    path("link/", views.link, name="link"),
    path("profile/", views.profile, name="profile"),
    # Moved to /privacy/ (privacy:centre); kept as a permanent redirect.
    path("consents/", privacy_views.old_consents_url, name="consents"),
    path("data/", data_views.data, name="data"),
    path("data/export/", data_views.export_request, name="data_export"),
    path("data/export/<int:pk>/", data_views.export_status, name="data_export_status"),
    path(
        "data/export/<int:pk>/download/",
        data_views.export_download,
        name="data_export_download",
    ),
    path("data/delete/", data_views.erase, name="data_erase"),
    path("data/deleted/", data_views.erased, name="data_erased"),
    path("language/", views.set_language, name="set_language"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset.html",
            email_template_name="accounts/email/password_reset.txt",
            subject_template_name="accounts/email/password_reset_subject.txt",
            success_url=reverse_lazy("accounts:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html",
            success_url=reverse_lazy("accounts:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
]
