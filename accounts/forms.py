"""Forms for logging in, signing up, checking in, linking a store card, the profile and consent."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import (
    AdminUserCreationForm,
    AuthenticationForm,
    BaseUserCreationForm,
    UserChangeForm,
)
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.models import LinkCode, User, validate_time_zone
from accounts.purposes import PURPOSES, SWITCHABLE

# The zones offered first; any other valid IANA zone a shopper already has stays selectable.
COMMON_TIME_ZONES = [
    "Europe/Stockholm",
    "Europe/Oslo",
    "Europe/Copenhagen",
    "Europe/Helsinki",
    "Europe/Berlin",
    "Europe/Amsterdam",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Warsaw",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Athens",
    "Europe/Istanbul",
    "Atlantic/Reykjavik",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Bangkok",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
]


def _normalise_email(value: str) -> str:
    return value.strip().lower()


class EmailUniqueMixin:
    """Lower-case the e-mail and refuse one that differs from an existing login only in case."""

    def clean_email(self) -> str:
        email = _normalise_email(self.cleaned_data.get("email", ""))
        taken = User.objects.filter(email__iexact=email)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if email and taken.exists():
            raise forms.ValidationError(
                _(
                    "A login with this e-mail address already exists. "
                    "Log in, or reset your password."
                )
            )
        return email


class LoginForm(AuthenticationForm):
    """Django's login form, asking for an e-mail address."""

    error_messages = {
        **AuthenticationForm.error_messages,
        # E-mail addresses are matched without regard to case, so Django's hint would mislead.
        "invalid_login": _(
            "That e-mail address and password do not match. Check the password, or reset it."
        ),
    }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("E-mail address")
        self.fields["username"].widget = forms.EmailInput(
            attrs={"autofocus": True, "autocomplete": "email", "inputmode": "email"}
        )
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"

    def clean_username(self) -> str:
        return _normalise_email(self.cleaned_data.get("username", ""))


class SignupForm(EmailUniqueMixin, BaseUserCreationForm):
    """E-mail, name, password twice and language (preselected from the page's language)."""

    class Meta:
        model = User
        fields = ("email", "name", "language")
        labels = {"email": _("E-mail address"), "name": _("Your name")}
        help_texts = {"name": _("What Kvitto should call you.")}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update(autocomplete="email", inputmode="email")
        self.fields["name"].widget.attrs.update(autocomplete="name")
        self.fields["language"].initial = (get_language() or "en")[:2]
        # One short sentence instead of the validators' four-item list.
        self.fields["password1"].help_text = _(
            "At least %(count)d characters: a few words of your own work well. Not a common "
            "password, and not like your name or e-mail."
        ) % {"count": settings.PASSWORD_MIN_LENGTH}
        self.fields["password2"].help_text = ""
        self.fields["password1"].widget.attrs["autocomplete"] = "new-password"
        self.fields["password2"].widget.attrs["autocomplete"] = "new-password"


class CheckInForm(forms.Form):
    """One box per switchable purpose, ticked only where a grant already exists.

    A new shopper has no grants, so every box starts unticked: nothing is granted by default.
    """

    def __init__(
        self, *args: object, state: dict[str, bool] | None = None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)
        state = state or {}
        for key in SWITCHABLE:
            self.fields[key] = forms.BooleanField(
                label=PURPOSES[key].title, required=False, initial=state.get(key, False)
            )

    def granted(self) -> list[str]:
        return [key for key in SWITCHABLE if self.cleaned_data.get(key)]

    def purpose_fields(self) -> list[tuple[object, forms.BoundField]]:
        return [(PURPOSES[key], self[key]) for key in SWITCHABLE]


class LinkCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Your one-time code"),
        max_length=20,
        help_text=_("Ten letters and digits, like ABCDE-FGH23. Dashes and spaces do not matter."),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "placeholder": "ABCDE-FGH23",
                "class": "code-input",
            }
        ),
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].replace("-", "").replace(" ", "").upper()
        # The alphabet leaves out look-alikes (0/O, 1/I/L), so a card number never fits.
        if len(code) != 10 or not set(code) <= set(LinkCode.ALPHABET):
            raise forms.ValidationError(
                _("A code has ten letters and digits, like ABCDE-FGH23. Check it and try again.")
            )
        return code


def time_zone_choices(current: str | None = None) -> list[tuple[str, str]]:
    zones = list(COMMON_TIME_ZONES)
    if current and current not in zones:
        zones.insert(0, current)
    return [(zone, zone.replace("_", " ")) for zone in zones]


class ProfileForm(forms.ModelForm):
    # A free field behind a select: the list offers the common zones, and the model's
    # validator (not the list) decides what is a real zone.
    time_zone = forms.CharField(
        label=_("Time zone"),
        validators=[validate_time_zone],
        help_text=_("Dates and times are shown in this zone."),
    )

    class Meta:
        model = User
        fields = ("name", "language", "time_zone")
        labels = {"name": _("Your name")}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs["autocomplete"] = "name"
        self.fields["time_zone"].widget = forms.Select(
            choices=time_zone_choices(self.instance.time_zone)
        )


class ConsentSwitchForm(forms.Form):
    """One switch: a purpose and whether it should be granted."""

    purpose = forms.ChoiceField(choices=[(key, key) for key in SWITCHABLE])
    granted = forms.TypedChoiceField(
        choices=[("1", "1"), ("0", "0"), ("true", "true"), ("false", "false")],
        coerce=lambda value: value in {"1", "true"},
    )
    next = forms.CharField(required=False)


class AdminUserAddForm(EmailUniqueMixin, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name", "language", "time_zone")


class AdminUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        return EmailUniqueMixin.clean_email(self)


class EraseAccountForm(forms.Form):
    """Re-entering the password proves the request comes from the shopper, not a left-open tab."""

    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(
                _("That is not your password. Nothing was deleted."), code="wrong_password"
            )
        return password
