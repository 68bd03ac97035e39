"""Passwords: stored with Argon2id, older hashes upgraded at login, and the rules a new one
meets (ASVS 5.0 V6.2), all through the shopper's own forms."""

import re

import pytest
from django.contrib.auth.hashers import make_password
from django.urls import reverse

from accounts.models import User
from insights import settings as project_settings
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def real_hashers(settings):
    """The project's own hashers, in place of the suite's fast MD5 (conftest.py)."""
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS


def _signup(client, password, **overrides):
    data = {
        "email": "dana@example.com",
        "name": "Dana Dahl",
        "password1": password,
        "password2": password,
        "language": "en",
        **overrides,
    }
    return client.post(reverse("accounts:signup"), data)


def _login(client, email, password):
    return client.post(reverse("accounts:login"), {"username": email, "password": password})


def test_the_project_hashes_with_argon2id_first():
    assert project_settings.PASSWORD_HASHERS[0].endswith(".Argon2PasswordHasher")


def test_sign_up_stores_an_argon2id_hash(client, real_hashers):
    _signup(client, "a long and unusual passphrase")
    stored = User.objects.get().password
    assert stored.startswith("argon2$argon2id$")
    assert "a long and unusual passphrase" not in stored


def test_a_pbkdf2_hash_becomes_argon2id_when_its_owner_logs_in(client, real_hashers):
    user = UserFactory(email="old@example.com", checked_in_at="2026-01-01T00:00Z")
    User.objects.filter(pk=user.pk).update(password=make_password(PASSWORD, hasher="pbkdf2_sha256"))
    assert User.objects.get(pk=user.pk).password.startswith("pbkdf2_sha256$")

    response = _login(client, "old@example.com", PASSWORD)

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password(PASSWORD)


def test_a_wrong_password_leaves_an_old_hash_alone(client, real_hashers):
    user = UserFactory(email="old@example.com")
    old_hash = make_password(PASSWORD, hasher="pbkdf2_sha256")
    User.objects.filter(pk=user.pk).update(password=old_hash)
    _login(client, "old@example.com", "not the password at all")
    user.refresh_from_db()
    assert user.password == old_hash


def test_sign_up_refuses_a_password_one_character_short(client, settings):
    assert settings.PASSWORD_MIN_LENGTH == 15
    response = _signup(client, "quiet river 14")
    assert "too short" in response.content.decode()
    assert not User.objects.exists()
    assert _signup(client, "quiet river 15x").status_code == 302


@pytest.mark.parametrize(
    "password",
    [
        "1q2w3e4r5t6y7u8i",  # on Django's list as it is
        "sunshine2024!!!!",  # a common one padded to length
        "qwertyqwertyqwerty",  # a common one repeated
        "iloveyou iloveyou",
    ],
)
def test_sign_up_refuses_common_passwords_even_padded_or_repeated(client, password):
    response = _signup(client, password)
    assert response.status_code == 200
    assert "too common" in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.parametrize("password", ["Kvitto2025!!!!!!", "receipts-receipts", "Lösenord-Kvitto-1"])
def test_sign_up_refuses_passwords_made_of_kvittos_own_words(client, password):
    response = _signup(client, password)
    assert "guessed first" in response.content.decode()
    assert not User.objects.exists()


def test_sign_up_refuses_a_password_like_the_shoppers_own_address(client):
    response = _signup(client, "dana.dahl.example", email="dana.dahl.example@example.com")
    assert "too similar" in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "password",
    [
        "kvitto is where my receipts live",  # a context word inside a sentence
        "839201746519203847",  # only digits: no composition rules (ASVS 6.2.5)
        "ÅÄÖ åäö — 日本語 🛒 with spaces",  # any characters
    ],
)
def test_sign_up_accepts_any_composition_of_a_long_uncommon_password(client, password):
    assert _signup(client, password).status_code == 302
    assert User.objects.get().check_password(password)


def test_a_128_character_password_is_accepted_and_checked_whole(client, real_hashers):
    password = "long passphrase " * 7 + "ends here, 128!"
    password += "x" * (128 - len(password))
    assert len(password) == 128
    assert _signup(client, password).status_code == 302
    client.post(reverse("accounts:logout"))

    # The last character and the case count: nothing is truncated or folded (ASVS 6.2.8).
    assert _login(client, "dana@example.com", password[:-1] + "y").status_code == 200
    assert _login(client, "dana@example.com", password.upper()).status_code == 200
    assert "_auth_user_id" not in client.session
    assert _login(client, "dana@example.com", password).status_code == 302


def test_a_password_change_meets_the_same_rules(client):
    alice = UserFactory(email="alice@example.com", password=PASSWORD)
    client.force_login(alice)
    url = reverse("accounts:password_change")
    for weak in ["short one", "sunshine2024!!!!", "Kvitto2025!!!!!!"]:
        response = client.post(
            url, {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak}
        )
        assert response.status_code == 200, weak
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_the_sign_up_form_states_the_rules_in_english_and_swedish(client):
    body = client.get(reverse("accounts:signup")).content.decode()
    assert "At least 15 characters" in body
    body = client.get(reverse("accounts:signup"), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Minst 15 tecken" in body


def test_password_fields_are_masked_and_welcome_password_managers(client):
    """ASVS 6.2.6 and 6.2.7: type=password, autocomplete hints, nothing blocking paste."""
    for url, hints in [
        (reverse("accounts:login"), {"current-password"}),
        (reverse("accounts:signup"), {"new-password"}),
    ]:
        body = client.get(url).content.decode()
        fields = re.findall(r"<input[^>]*type=\"password\"[^>]*>", body)
        assert fields, url
        assert {re.search(r'autocomplete="([^"]+)"', f).group(1) for f in fields} == hints
        assert "onpaste" not in body
