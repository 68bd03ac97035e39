"""Settings come from the environment only, and bad values stop start-up with a clear error."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from insights.env import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parent.parent


def _django_check(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_debug_a_missing_secret_key_is_a_clear_start_up_error():
    result = _django_check()
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_off_with_a_secret_key_starts():
    result = _django_check(SECRET_KEY="a-long-enough-secret-for-the-check")
    assert result.returncode == 0, result.stderr


def test_a_malformed_boolean_is_rejected(monkeypatch):
    monkeypatch.setenv("KVITTO_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="KVITTO_FLAG"):
        env_bool("KVITTO_FLAG")


def test_booleans_integers_and_lists_are_parsed(monkeypatch):
    monkeypatch.setenv("KVITTO_FLAG", "Yes")
    monkeypatch.setenv("KVITTO_NUMBER", "42")
    monkeypatch.setenv("KVITTO_HOSTS", "a.example, b.example,")
    assert env_bool("KVITTO_FLAG") is True
    assert env_int("KVITTO_NUMBER", 1) == 42
    assert env_list("KVITTO_HOSTS") == ["a.example", "b.example"]


def test_a_malformed_integer_is_rejected(monkeypatch):
    monkeypatch.setenv("KVITTO_NUMBER", "forty-two")
    with pytest.raises(ImproperlyConfigured, match="KVITTO_NUMBER"):
        env_int("KVITTO_NUMBER", 1)


def test_every_setting_read_from_the_environment_is_documented():
    import re

    names = set()
    for path in (ROOT / "insights").glob("settings.py"):
        names |= set(re.findall(r'env_(?:str|bool|int|list)\("([A-Z_]+)"', path.read_text()))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert names, "no settings found"
    assert names - documented == set()


def _production_environment() -> dict[str, str]:
    """The production settings .env.example documents, with a real-looking secret key."""
    import secrets

    env = {k: v for k, v in os.environ.items() if not k.isupper() or k in {"PATH", "HOME"}}
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#") and value:
            env[name] = value
    env["SECRET_KEY"] = secrets.token_urlsafe(64)
    return env


def test_production_settings_pass_the_deploy_check_without_a_single_warning():
    env = _production_environment()
    assert env["DEBUG"] == "0"
    assert env["DATABASE_URL"].startswith("postgres://")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    # Only axes.W006 is silenced, with its reason beside SILENCED_SYSTEM_CHECKS.
    assert result.stdout.strip() == "System check identified no issues (1 silenced).", (
        result.stdout + result.stderr
    )


def _diffsettings(env: dict[str, str]) -> dict[str, str]:
    """The settings as `manage.py diffsettings` shows them in a process with `env`."""
    result = subprocess.run(
        [sys.executable, "manage.py", "diffsettings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return dict(line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)


def test_production_defaults_turn_on_hsts_and_host_only_secure_cookies():
    unset = {"DEBUG", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_COOKIES"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["SECRET_KEY"] = "x" * 60
    shown = _diffsettings(env)
    assert shown["SECURE_HSTS_SECONDS"] == "31536000"
    assert shown["SECURE_HSTS_INCLUDE_SUBDOMAINS"] == "True"
    assert shown["SESSION_COOKIE_SECURE"] == "True"
    assert shown["SESSION_COOKIE_NAME"] == "'__Host-sessionid'"
    assert shown["CSRF_COOKIE_NAME"] == "'__Host-csrftoken'"
    assert shown["LANGUAGE_COOKIE_NAME"] == "'__Host-language'"


def test_on_redis_the_restore_lock_expires_within_the_restore_interval_scale():
    # A worker that loses Redis while it holds kombu's restore lock leaves it behind, and the
    # lock survives a Redis restart; kombu's own 300 s expiry held back every redelivery of
    # unacknowledged messages for five minutes (the Redis-restart fault test, tests/faults).
    env = _production_environment()
    env.pop("CELERY_UNACKED_MUTEX_EXPIRE")
    options = ast.literal_eval(_diffsettings(env)["CELERY_BROKER_TRANSPORT_OPTIONS"])
    assert options["unacked_mutex_expire"] == 60
    assert options["unacked_restore_interval"] == 60
