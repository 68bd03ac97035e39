"""Forms of the pantry pages: correcting a date, reminder settings."""

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from insights.pantry.models import PantrySettings


class CorrectDateForm(forms.Form):
    best_before = forms.DateField(
        label=_("Best before"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: object, bought_on: date, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.bought_on = bought_on

    def clean_best_before(self) -> date:
        value = self.cleaned_data["best_before"]
        if value < self.bought_on:
            raise forms.ValidationError(_("The date cannot be before the day it was bought."))
        return value


class PantrySettingsForm(forms.ModelForm):
    class Meta:
        model = PantrySettings
        fields = ["due_soon_days", "quiet_hours_start", "quiet_hours_end"]
        widgets = {
            "due_soon_days": forms.NumberInput(attrs={"min": 0, "max": 14}),
            "quiet_hours_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_hours_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        help_texts = {
            "quiet_hours_start": _("No reminder e-mail between these times (your time zone)."),
        }

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("quiet_hours_start"), cleaned.get("quiet_hours_end")
        if (start is None) != (end is None):
            raise forms.ValidationError(
                _("Give both ends of the quiet hours, or leave both empty for none.")
            )
        return cleaned

    def clean_due_soon_days(self) -> int:
        value = self.cleaned_data["due_soon_days"]
        if value > 14:
            raise forms.ValidationError(_("At most 14 days."))
        return value
