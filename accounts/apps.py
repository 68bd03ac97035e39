"""App configuration for shoppers and consent."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _publish_first_texts(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    from accounts.models import PurposeText
    from accounts.purpose_texts import publish_missing_first_texts

    publish_missing_first_texts(PurposeText, using=using)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Shoppers and consent")

    def ready(self) -> None:
        # Consent always needs a published text: after every migrate (and every flush by a
        # transactional test, which runs post_migrate too) each purpose has at least v1.
        post_migrate.connect(_publish_first_texts, sender=self, dispatch_uid="accounts.texts")

        from django.contrib.auth.signals import user_logged_in

        from accounts.middleware import stamp_login
        from accounts.review import on_login

        user_logged_in.connect(on_login, dispatch_uid="accounts.consent_review")
        user_logged_in.connect(stamp_login, dispatch_uid="accounts.session_clock")

        from accounts.data_classes import register_accounts_data

        register_accounts_data()
