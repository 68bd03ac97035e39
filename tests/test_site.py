"""The site's shell: front page, security headers, no inline scripts, the API schema."""

import re

import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_the_front_page_explains_the_value_and_offers_check_in(client):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("accounts:signup") in body
    assert "htmx" in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept", "line", "total"), [("en", "18.90", "SEK\xa097.30"), ("sv", "18,90", "97,30\xa0kr")]
)
def test_the_front_page_receipt_writes_money_as_the_pages_do(client, settings, accept, line, total):
    settings.CURRENCY = "SEK"
    body = client.get("/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    assert f"<span>{line}</span>" in body
    assert f"<span>{total}</span>" in body


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_without_inline_allowances(client):
    response = client.get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy


@pytest.mark.django_db
def test_pages_have_no_inline_script_or_style_attributes(alice_client):
    for url in ["/", reverse("accounts:login"), reverse("purchases:history")]:
        body = alice_client.get(url, follow=True).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), url
        assert " style=" not in body, url


@pytest.mark.django_db
def test_the_language_switch_is_in_the_header(client):
    body = client.get("/").content.decode()
    assert 'name="language" value="sv"' in body
    assert 'name="language" value="en"' in body


@pytest.mark.django_db
def test_the_openapi_schema_and_its_swagger_ui_are_served_locally(client):
    schema = client.get(reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    docs = client.get(reverse("api-docs"))
    assert docs.status_code == 200
    body = docs.content.decode()
    assert "cdn" not in body.lower()
    assert "swagger-ui" in body
