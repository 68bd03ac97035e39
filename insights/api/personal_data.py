"""Reads of a shopper's consents by the store's systems, registered as personal data."""

from django.utils.translation import gettext_lazy as _

from accounts.personal_data import model_data_class, register
from accounts.purposes import NECESSARY
from insights.api.models import ConsentRead


def register_api_data() -> None:
    register(
        model_data_class(
            key="api.consent_reads",
            model=ConsentRead,
            title=_("Reads of your consents"),
            purpose=NECESSARY,
            holds=_("Which of the store's systems read your consent choices, and when."),
            source=_("Kvitto's API, each time a store system asked."),
            queryset=lambda s: (
                ConsentRead.objects.none()
                if s.customer_id is None
                else ConsentRead.objects.filter(customer_id=s.customer_id)
            ),
            columns={"system": "client__name", "at": "at"},
            kept=_("As long as you keep your account."),
        )
    )
