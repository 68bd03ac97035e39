"""Every accounts page works under the site's CSP: no inline scripts or style attributes."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

ANONYMOUS = [
    "home",
    "accounts:login",
    "accounts:signup",
    "accounts:password_reset",
    "accounts:data_erased",
]
LOGGED_IN = [
    "accounts:check_in",
    "accounts:link",
    "accounts:profile",
    "privacy:centre",
    "privacy:review",
    "accounts:password_change",
    "accounts:data",
    "accounts:data_erase",
]


def _assert_clean(body: str, url: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), url
    assert " style=" not in body, url


def test_anonymous_pages_have_no_inline_script_or_style(client):
    for name in ANONYMOUS:
        url = reverse(name)
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_clean(response.content.decode(), url)


def test_shopper_pages_have_no_inline_script_or_style(client, bob):
    bob.checked_in_at = None
    bob.save()
    client.force_login(bob)
    for name in LOGGED_IN:
        url = reverse(name)
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_clean(response.content.decode(), url)


def test_every_switch_has_a_plain_form_behind_its_htmx(alice_client):
    body = alice_client.get(reverse("privacy:centre")).content.decode()
    forms = re.findall(r"<form[^>]*hx-post[^>]*>", body)
    assert len(forms) == 5
    assert all('method="post"' in form and 'action="/privacy/"' in form for form in forms)
