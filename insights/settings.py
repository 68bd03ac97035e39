"""Django settings for Kvitto; every value comes from the environment (see .env.example)."""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from insights.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("KVITTO_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "insecure-development-key-only-used-when-DEBUG-is-on"  # noqa: S105
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (see .env.example), "
            "or set DEBUG=1 for local development."
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "import_export",
    "csp",
    "axes",
    "accounts",
    "insights.catalog",
    "insights.purchases",
    "insights.habits",
    "insights.forecasts",
    "insights.pantry",
    "insights.api",
    "insights.ops",
    "insights.loadtest",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "insights.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.SessionTimeoutMiddleware",
    "accounts.middleware.ShopperPreferencesMiddleware",
    "accounts.middleware.ConsentReviewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, so its lockout page still passes out through CSP and the other header middleware.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "insights.urls"
WSGI_APPLICATION = "insights.wsgi.application"
ASGI_APPLICATION = "insights.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "insights.context_processors.kvitto",
            ],
        },
    },
]

# SQLite under var/ unless DATABASE_URL says otherwise; a clone just runs.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'kvitto.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "purchases:history"
LOGOUT_REDIRECT_URL = "home"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("sv", _("Swedish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env_str("DEFAULT_TIME_ZONE", "Europe/Stockholm")
USE_TZ = True
CURRENCY = env_str("CURRENCY", "SEK")

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env_bool("STATIC_MANIFEST", True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Kvitto <kvitto@localhost>")

# --- Security hardening (OWASP ASVS 5.0 level 2; docs/security.md) -----------------------
# Passwords: Argon2id first; a login with an older hash stores it again as Argon2id.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# Length and a blocklist, no composition rules (ASVS 6.2.1, 6.2.4, 6.2.5, 6.2.11).
PASSWORD_MIN_LENGTH = env_int("PASSWORD_MIN_LENGTH", 15)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "accounts.password_validation.PaddedCommonPasswordValidator"},
    {"NAME": "accounts.password_validation.ContextWordsValidator"},
]

# Login throttling (django-axes): failures are counted per account, whatever the IP, under
# a keyed hash of the e-mail address. At LOGIN_FAILURE_LIMIT failures within the cool-off
# the account's logins pause until the failures are older than the cool-off: never a
# permanent lock, and tries during the pause do not extend it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 100)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 60))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.throttling.login_key"
AXES_LOCKOUT_CALLABLE = "accounts.throttling.lockout_response"
# Axes' own log of every login would keep e-mail addresses and IPs nobody needs.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
# axes.W006 asks to count by IP address as well. Counting by account alone already ignores
# the user agents and cookies its hint is about; counting by address would let one
# attacker pause every shopper behind the same carrier NAT, store Wi-Fi or proxy.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# Sessions: a new id at every login (Django), ended after SESSION_IDLE_MINUTES without a
# request or SESSION_MAX_HOURS after the login (accounts.middleware.SessionTimeoutMiddleware).
SESSION_IDLE_TIMEOUT = timedelta(minutes=env_int("SESSION_IDLE_MINUTES", 30))
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=env_int("SESSION_MAX_HOURS", 12))
# The middleware enforces both limits; the row and the cookie last until the absolute one.
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_TIMEOUT.total_seconds())
# Every cookie is Secure (off only for local development over http), HttpOnly (no script
# reads one: htmx gets the CSRF token from the page) and SameSite=Lax. A "__Host-" name
# binds it to this host over HTTPS, so a sibling subdomain cannot plant one (ASVS 3.3.3);
# browsers refuse such names without Secure, so plain names go with insecure cookies.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
_COOKIE_PREFIX = "__Host-" if SESSION_COOKIE_SECURE else ""
SESSION_COOKIE_NAME = f"{_COOKIE_PREFIX}sessionid"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_NAME = f"{_COOKIE_PREFIX}csrftoken"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_NAME = f"{_COOKIE_PREFIX}language"
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
# Messages ride in the session: the cookie store's "messages" cookie cannot take the prefix,
# and a message may name the shopper.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Transport and browser protections. HSTS defaults to a year with subdomains in production.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY") else None

# No inline scripts or styles anywhere: htmx comes from django-htmx as a file.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}
# --- End of security hardening --------------------------------------------------------------

# Celery: an embedded filesystem broker unless CELERY_BROKER_URL names a real one.
# Delivery guarantees and the broker settings they rest on: docs/faults.md.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_FOLDER = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "store_processed": False,
        # Broadcast (pidbox) messages: without this kombu writes them to ./control.
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        # The transport polls a folder; at the default second per poll a worker whose
        # prefetch slots free up waits up to a second for its next task.
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Redis hands a message whose worker died (never acknowledged) to another worker
        # after this many seconds. It must exceed the longest task and the longest
        # countdown, or a message still running or waiting is handed out a second time.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
        # How often a worker looks for such messages (kombu's default is every ~100 s).
        "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 60),
        "unacked_restore_throttle": 1,
        # The lock one worker takes for that look. A worker whose Redis stops while it holds
        # the lock cannot release it, and the lock outlives a restart (its expiry is in the
        # append-only file): kombu's 300 s default then holds back every restore for five
        # minutes. A sweep takes milliseconds, and two overlapping sweeps are harmless
        # (each restore is a WATCH transaction), so the lock need not outlast the interval.
        "unacked_mutex_expire": env_int("CELERY_UNACKED_MUTEX_EXPIRE", 60),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# One message at a time per pool process: a killed process then loses (and the broker
# redelivers) only the task it was running, and one long task holds up nothing else.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# At most once by default; idempotent tasks opt in to at least once through their base
# class (insights.ops.delivery.IdempotentTask: late ack, requeue on a lost worker, a cap).
CELERY_TASK_ACKS_LATE = False
# Runs past this many deliveries of one message are dropped and recorded (a poison message).
TASK_MAX_DELIVERIES = env_int("TASK_MAX_DELIVERIES", 5)
# When the broker connection drops, a running late-acknowledged task cannot be acknowledged
# and will be delivered again. Let it finish: stopped, it could die between a side effect
# and its record (an e-mail sent, its DigestLog not yet committed) and the copy would send
# it again; finished, the copy finds the record and does nothing. (Celery 6 will default
# to stopping it, hence the explicit value.)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# A broker restart takes a few seconds: publishing retries for about ten before failing.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 6,
    "interval_start": 0.2,
    "interval_step": 0.5,
    "interval_max": 3,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Separate queues so a flood of one kind of work cannot starve another (ARCHITECTURE.md).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "insights.purchases.tasks.*": {"queue": "ingestion"},
    "insights.habits.tasks.*": {"queue": "refresh"},
    "insights.forecasts.tasks.*": {"queue": "refresh"},
    "insights.pantry.tasks.*": {"queue": "notifications"},
}
# Times are UTC (CELERY_TIMEZONE); the reminder job runs hourly because "morning" and
# quiet hours are in each shopper's own time zone, and the job itself decides who is due.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "pantry-due-reminders": {
        "task": "insights.pantry.tasks.send_due_reminders_task",
        "schedule": crontab(minute=5),
        "options": {"expires": 50 * 60},
    },
    "habits-nightly-refresh": {
        "task": "insights.habits.tasks.refresh_stale_habits_task",
        "schedule": crontab(hour=2, minute=15),
    },
    "forecasts-nightly-fit": {
        "task": "insights.forecasts.tasks.fit_forecast_model_task",
        "schedule": crontab(hour=2, minute=30),
    },
    "forecasts-nightly-refresh": {
        "task": "insights.forecasts.tasks.refresh_stale_forecasts_task",
        "schedule": crontab(hour=3, minute=15),
    },
    "privacy-nightly-retention": {
        "task": "accounts.tasks.apply_retention_task",
        "schedule": crontab(hour=1, minute=45),
    },
}
# Seconds a burst of orders waits so it becomes one refresh per shopper.
REFRESH_DEBOUNCE_SECONDS = env_int("REFRESH_DEBOUNCE_SECONDS", 10)
# Shoppers per forecast refresh task (one model pass over the batch).
FORECAST_REFRESH_CHUNK = env_int("FORECAST_REFRESH_CHUNK", 500)
# Limits of one POST /api/v1/ingest/orders batch.
MAX_INGEST_BATCH_ORDERS = env_int("MAX_INGEST_BATCH_ORDERS", 5000)
MAX_INGEST_BODY_BYTES = env_int("MAX_INGEST_BODY_BYTES", 64 * 2**20)
# Wrong link codes a login may try per hour before linking is refused for the hour.
LINK_ATTEMPT_LIMIT = env_int("LINK_ATTEMPT_LIMIT", 10)

# Personal data (docs/data-rights.md). Export ZIPs are files under var/, never in git.
DATA_EXPORT_ROOT = VAR_DIR / "exports"
# How long each class of personal data is kept; the nightly apply_retention_task deletes
# what is older. An export's download link is valid for RETENTION_EXPORTS_DAYS.
RETENTION_ORDERS_MONTHS = env_int("RETENTION_ORDERS_MONTHS", 36)
RETENTION_NOTIFICATIONS_DAYS = env_int("RETENTION_NOTIFICATIONS_DAYS", 90)
RETENTION_EXPORTS_DAYS = env_int("RETENTION_EXPORTS_DAYS", 7)
RETENTION_LINK_ATTEMPTS_DAYS = env_int("RETENTION_LINK_ATTEMPTS_DAYS", 30)
RETENTION_LINK_CODES_DAYS = env_int("RETENTION_LINK_CODES_DAYS", 30)
RETENTION_PANTRY_HISTORY_DAYS = env_int("RETENTION_PANTRY_HISTORY_DAYS", 365)
RETENTION_LIST_HISTORY_DAYS = env_int("RETENTION_LIST_HISTORY_DAYS", 365)
RETENTION_BOOKKEEPING_DAYS = env_int("RETENTION_BOOKKEEPING_DAYS", 30)
RETENTION_ERASURE_RECORDS_DAYS = env_int("RETENTION_ERASURE_RECORDS_DAYS", 1095)
# The controller named in consent receipts (Kantara CR v1.1) and the register of processing.
PRIVACY_CONTROLLER = {
    "name": env_str("PRIVACY_CONTROLLER_NAME", "Kvitto"),
    "contact": env_str("PRIVACY_CONTROLLER_CONTACT", "Data protection officer"),
    "email": env_str("PRIVACY_CONTROLLER_EMAIL", "privacy@localhost"),
    "phone": env_str("PRIVACY_CONTROLLER_PHONE"),
    "street": env_str("PRIVACY_CONTROLLER_STREET"),
    "postal_code": env_str("PRIVACY_CONTROLLER_POSTAL_CODE"),
    "locality": env_str("PRIVACY_CONTROLLER_LOCALITY"),
    "country": env_str("PRIVACY_CONTROLLER_COUNTRY", "SE"),
}
# ISO 3166-1 alpha-2 code(s) of the law the processing falls under, space-separated.
PRIVACY_JURISDICTION = env_str("PRIVACY_JURISDICTION", "SE")
# The privacy policy receipts point to; default: the consent centre.
PRIVACY_POLICY_URL = env_str("PRIVACY_POLICY_URL", f"{SITE_URL.rstrip('/')}/privacy/")
# How often (seconds) a logged-in shopper's session re-checks for texts to re-consent to.
CONSENT_REVIEW_RECHECK_SECONDS = env_int("CONSENT_REVIEW_RECHECK_SECONDS", 300)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_RATES": {"ingest": env_str("INGEST_THROTTLE", "600/minute")},
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SPECTACULAR_SETTINGS = {
    "TITLE": "Kvitto API",
    "DESCRIPTION": (
        "A shopper's own purchase history and insights; ingestion for the store's systems."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema describes endpoints, not data; the store's developers read it without a login.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Orders are read with the model's channel labels and ingested with bare values: two
    # choice sets named apart, so `spectacular --validate --fail-on-warn` passes.
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "insights.purchases.models.Channel",
        "IngestChannelEnum": [("store", "store"), ("web", "web"), ("app", "app")],
    },
    # The enum hook is drf-spectacular's default; ours documents the error answers
    # (tests/test_api_fuzz.py holds every answer to the schema).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "insights.api.schema.add_error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Tokens in URL paths (calendar feed, reset and unsubscribe links) never reach a line.
    "filters": {"redact_secret_paths": {"()": "insights.log_redaction.RedactSecretPaths"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secret_paths"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
