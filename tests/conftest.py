"""Fixtures shared by the whole suite: personas Alice (a shopper) and Charlie (another)."""

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.factories import CustomerFactory, UserFactory


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """SQLite's test database is a file rather than memory, so that the real Celery workers
    of the fault tests (tests/faults), separate processes, open the same database. The file
    is in shared memory where the system has it (/dev/shm): as fast as an in-memory one."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        yield
        return
    shm = Path("/dev/shm")  # noqa: S108 - mkdtemp makes a private (0700) folder in it
    folder = Path(tempfile.mkdtemp(prefix="kvitto-test-", dir=shm if shm.is_dir() else None))
    database.setdefault("TEST", {})["NAME"] = str(folder / "test.sqlite3")
    yield
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Hashing strength is not what these tests are about; MD5 keeps the suite quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """The hashed-name manifest only exists after collectstatic, which tests do not run."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _export_files_in_tmp(settings, tmp_path):
    """Data export ZIPs go to a per-test folder, never into var/."""
    settings.DATA_EXPORT_ROOT = tmp_path / "exports"


@pytest.fixture
def eager_celery():
    """Run queued tasks in-process, as a worker would, for tests that follow a whole flow."""
    from insights.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def alice(db):
    user = UserFactory(email="alice@example.com", name="Alice Andersson")
    CustomerFactory(user=user)
    return user


@pytest.fixture
def charlie(db):
    user = UserFactory(email="charlie@example.com", name="Charlie Carlsson")
    CustomerFactory(user=user)
    return user


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client
