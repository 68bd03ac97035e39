"""Sign-up, login, logout, password reset and change: the way into Kvitto."""

import re

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from accounts.models import Customer, User
from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"


def _signup(client, **overrides):
    data = {
        "email": "Dana@Example.com",
        "name": "Dana Dahl",
        "password1": "a long and unusual passphrase",
        "password2": "a long and unusual passphrase",
        "language": "en",
        **overrides,
    }
    return client.post(reverse("accounts:signup"), data)


@pytest.mark.django_db
def test_sign_up_logs_the_shopper_in_and_goes_to_check_in(client):
    response = _signup(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:check_in")
    user = User.objects.get()
    assert user.email == "dana@example.com"
    assert user.name == "Dana Dahl"
    assert user.checked_in_at is None
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_sign_up_does_not_create_a_customer(client):
    _signup(client)
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_sign_up_refuses_an_address_that_differs_only_in_case(client):
    UserFactory(email="dana@example.com")
    response = _signup(client, email="DANA@example.com")
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_sign_up_refuses_mismatched_and_weak_passwords(client):
    response = _signup(client, password2="something else entirely")
    assert "didn’t match" in response.content.decode()
    response = _signup(client, password1="short", password2="short")
    assert "too short" in response.content.decode()
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_sign_up_preselects_the_current_language(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "sv"
    body = client.get(reverse("accounts:signup")).content.decode()
    assert re.search(r'<option value="sv"\s+selected>', body)


@pytest.mark.django_db
def test_sign_up_saves_the_chosen_language(client):
    _signup(client, language="sv")
    assert User.objects.get().language == "sv"


@pytest.mark.django_db
def test_a_logged_in_shopper_is_sent_from_sign_up_to_history(alice_client):
    response = alice_client.get(reverse("accounts:signup"))
    assert response["Location"] == reverse("purchases:history")


@pytest.mark.django_db
def test_login_page_links_to_sign_up_and_password_reset(client):
    body = client.get(reverse("accounts:login")).content.decode()
    assert reverse("accounts:signup") in body
    assert reverse("accounts:password_reset") in body
    assert 'type="email"' in body


@pytest.mark.django_db
def test_login_with_email_in_any_case_reaches_history(client, alice):
    alice.checked_in_at = alice.date_joined
    alice.save()
    response = client.post(
        reverse("accounts:login"), {"username": "Alice@Example.COM", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("purchases:history")


@pytest.mark.django_db
def test_login_before_check_in_goes_back_to_check_in(client, alice):
    response = client.post(
        reverse("accounts:login"), {"username": "alice@example.com", "password": PASSWORD}
    )
    assert response["Location"] == reverse("accounts:check_in")


@pytest.mark.django_db
def test_login_with_a_wrong_password_says_so(client, alice):
    response = client.post(
        reverse("accounts:login"), {"username": "alice@example.com", "password": "wrong"}
    )
    assert response.status_code == 200
    assert "do not match" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_logout_takes_a_post_and_ends_the_session(alice_client):
    assert alice_client.get(reverse("accounts:logout")).status_code == 405
    response = alice_client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in alice_client.session


@pytest.mark.django_db
def test_password_reset_mails_a_link_that_sets_a_new_password(client, alice):
    response = client.post(reverse("accounts:password_reset"), {"email": "alice@example.com"})
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    assert message.subject == "Choose a new Kvitto password"
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", message.body).group(1)

    # The confirm view swaps the token for a session key and redirects to a set-password URL.
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    new = "a brand new passphrase here"
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}
    )
    assert done["Location"] == reverse("accounts:password_reset_complete")
    alice.refresh_from_db()
    assert alice.check_password(new)


@pytest.mark.django_db
def test_password_reset_for_an_unknown_address_sends_nothing_but_says_the_same(client):
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.com"})
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_used_reset_link_explains_itself(client, alice):
    body = client.get("/accounts/reset/MQ/bad-token/", follow=True).content.decode()
    assert "This link does not work any more" in body


@pytest.mark.django_db
def test_password_change_needs_the_old_password(alice_client, alice):
    url = reverse("accounts:password_change")
    new = "another fine passphrase"
    bad = alice_client.post(
        url, {"old_password": "nope", "new_password1": new, "new_password2": new}
    )
    assert bad.status_code == 200
    good = alice_client.post(
        url, {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert good["Location"] == reverse("accounts:profile")
    alice.refresh_from_db()
    assert alice.check_password(new)
