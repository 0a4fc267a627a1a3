"""Callboard settings: one file, every knob read from the environment (see README "Configuration").

Unset REDIS_URL gives the embedded default: SQLite, in-memory channel layer, local-memory cache,
Celery tasks run in-process and beat inside the server process. Setting REDIS_URL (and usually
DATABASE_URL) switches the same code to the scale-out deployment.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_float, env_int, env_list, env_optional, env_str, generated_secret

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CALLBOARD_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
TESTING = "pytest" in sys.modules or (len(sys.argv) > 1 and sys.argv[1] == "test")

# SECRET_KEY is required in a scale-out deployment (REDIS_URL set). In the one-machine embedded default
# a random key is made once and kept in var/secret_key, so `make run` needs no configuration.
if DEBUG or TESTING:
    SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-do-not-use-in-production")
elif env_optional("SECRET_KEY") is None and env_optional("REDIS_URL") is None:
    SECRET_KEY = generated_secret(VAR_DIR / "secret_key")
else:
    SECRET_KEY = env_str("SECRET_KEY")
    if len(SECRET_KEY) < 32:
        raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# The URL the outside world (Twilio, e-mail links) uses to reach us; behind a TLS proxy this is the
# public https URL, and Twilio signatures are validated against it, not against the internal request.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
if urlsplit(PUBLIC_BASE_URL).scheme not in ("http", "https") or not urlsplit(PUBLIC_BASE_URL).netloc:
    raise ImproperlyConfigured(f"PUBLIC_BASE_URL must be an http(s) URL, not {PUBLIC_BASE_URL!r}.")
if env_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

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
    "channels",
    "django_celery_beat",
    "crm",
    "calls",
    "analytics",
    "reporting",
    "config",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.UserLanguageMiddleware",  # the person's saved language (after auth)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'callboard.sqlite3'}")
_db_scheme = urlsplit(DATABASE_URL).scheme
if _db_scheme not in ("sqlite", "postgres", "postgresql", "pgsql"):
    raise ImproperlyConfigured(
        f"DATABASE_URL must start with sqlite:// or postgres://, not {_db_scheme or DATABASE_URL!r}://."
    )
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets dashboards read while a write is in progress; IMMEDIATE transactions take the write
    # lock up front, so two writers queue on busy_timeout instead of failing with "database is locked"
    # when a read transaction tries to upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # The test database is a file in WAL mode too, not Django's shared-cache in-memory database: there a
    # reader in another thread (the live test server, the realtime thread) locks whole tables and a
    # writer fails at once with "database table is locked", which no deployment would ever see.
    # One file per test process: two runs in one checkout (a developer's and an editor's) never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-callboard-{os.getpid()}.sqlite3")}
USES_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: the switch between the embedded default and scale-out -----------------------------------
REDIS_URL = env_optional("REDIS_URL")
EMBEDDED = REDIS_URL is None

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "callboard"),
        }
    }
    # The layer is chosen by measurement (docs/benchmarks.md, "realtime latency"): with 1,000 sockets on
    # one group, PubSub delivered every update several times faster than the core layer and has no
    # per-channel capacity to overflow (the core layer silently drops group messages past it:
    # channels-redis #172/#181). The core layer stays available: CHANNELS_LAYER=core.
    CHANNELS_LAYER = env_choice("CHANNELS_LAYER", "pubsub", ["pubsub", "core"])
    if CHANNELS_LAYER == "pubsub":
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("CHANNELS_PREFIX", "callboard")},
            }
        }
    else:
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    # redis-py 8 gives every connection a 5 s socket timeout, the same as channels-redis's
                    # blocking receive (BZPOPMIN, 5 s): a socket quiet for 5 s then died with "Timeout
                    # reading". A longer socket timeout lets the blocking read return first.
                    "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                    "prefix": env_str("CHANNELS_PREFIX", "callboard"),
                    "capacity": env_int("CHANNELS_CAPACITY", 1000, minimum=1),
                },
            }
        }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Scheduled reports (docs/reports-delivery.md) ---------------------------------------------------
# A failed send is tried again after REPORT_RETRY_BASE_SECONDS, then twice as long each time (capped at
# REPORT_RETRY_MAX_DELAY_SECONDS), REPORT_MAX_ATTEMPTS tries in all; then the delivery is `failed` and its
# owner is e-mailed. The schedule lives in the delivery's row (next_attempt_at), so it holds with eager
# tasks too, where Celery's countdown is not honoured.
REPORT_MAX_ATTEMPTS = env_int("REPORT_MAX_ATTEMPTS", 5, minimum=1, maximum=20)
REPORT_RETRY_BASE_SECONDS = env_int("REPORT_RETRY_BASE_SECONDS", 60, minimum=1)
REPORT_RETRY_MAX_DELAY_SECONDS = env_int("REPORT_RETRY_MAX_DELAY_SECONDS", 3600, minimum=1)
# A worker holds a delivery in `sending` while it renders and sends. The send task is killed after
# REPORT_SEND_TIME_LIMIT_SECONDS; a delivery still `sending` REPORT_SENDING_TIMEOUT_SECONDS after it was
# claimed belongs to a worker that died, and is sent again (at least once: see the docs). The timeout
# must outlast the time limit, or a slow but living worker would have its delivery taken from it.
REPORT_SEND_TIME_LIMIT_SECONDS = env_int("REPORT_SEND_TIME_LIMIT_SECONDS", 600, minimum=30)
REPORT_SENDING_TIMEOUT_SECONDS = env_int("REPORT_SENDING_TIMEOUT_SECONDS", 900, minimum=60)
if REPORT_SENDING_TIMEOUT_SECONDS <= REPORT_SEND_TIME_LIMIT_SECONDS:
    raise ImproperlyConfigured("REPORT_SENDING_TIMEOUT_SECONDS must be greater than REPORT_SEND_TIME_LIMIT_SECONDS.")
# One SMTP conversation or one Slack webhook POST may take this long before it counts as a failed attempt.
REPORT_NETWORK_TIMEOUT_SECONDS = env_int("REPORT_NETWORK_TIMEOUT_SECONDS", 30, minimum=1, maximum=300)
# Slack: incoming-webhook URLs must be https on one of these hosts (exact names). Plain http is accepted
# only for a loopback host listed here (a local relay, the tests); anything else is refused when the
# subscription is saved and again when it is sent.
REPORT_SLACK_WEBHOOK_HOSTS = [h.lower() for h in env_list("REPORT_SLACK_WEBHOOK_HOSTS", ["hooks.slack.com"])]
# How long the signed PDF link in a Slack message works.
REPORT_PDF_LINK_MAX_AGE_SECONDS = env_int("REPORT_PDF_LINK_MAX_AGE_SECONDS", 7 * 24 * 3600, minimum=60)

# --- Celery ----------------------------------------------------------------------------------------
# Embedded: tasks run in-process (eagerly) and beat runs as a thread of the server process
# (`manage.py serve`); the in-memory broker only carries beat's hand-off within that process.
# Scale-out: `celery -A config worker` processes (one of them for the `reports` queue) and EXACTLY ONE
# `celery -A config beat -S django_celery_beat.schedulers:DatabaseScheduler` (docs/reports-delivery.md).
# Two beats would fire every schedule twice; deliveries would still go out once (the claim), but every
# other periodic job would run twice.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", EMBEDDED)
CELERY_TASK_EAGER_PROPAGATES = True
# A task is acknowledged after it ran, not when a worker takes it: a worker that dies mid-task leaves it
# to another. That is safe only because every task is idempotent (a report delivery is claimed with a
# conditional UPDATE, a WhatsApp message likewise, snapshots are upserts).
CELERY_TASK_ACKS_LATE = True
# A worker whose child was killed (the hard time limit, the OOM killer under WeasyPrint) does not put the
# task back: a report that kills its renderer would kill every worker in turn. The delivery's row is the
# record instead (stuck `sending` is recovered by reporting.tasks.dispatch_due_deliveries).
CELERY_TASK_REJECT_ON_WORKER_LOST = False
# One task at a time per worker process: a rendering worker must not sit on queued reports that an idle
# one could take, and late acks make prefetched messages invisible to the others.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Each pool process is replaced after this many tasks: WeasyPrint and matplotlib keep memory (caches,
# fragmentation) that is only returned when the process ends.
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 50, minimum=1)
# Sending a report (the heavy PDF rendering) goes to its own queue, served by its own worker(s):
# `celery -A config worker -Q reports --prefetch-multiplier 1 --max-tasks-per-child 50`. Everything else
# stays on Celery's default queue (`celery`): firing a subscription and the dispatcher are quick.
CELERY_TASK_ROUTES = {"reporting.tasks.send_delivery": {"queue": "reports"}}
# Redis redelivers a message not acknowledged within the visibility timeout. A retry waiting in a worker
# (countdown, up to REPORT_RETRY_MAX_DELAY_SECONDS for reports, 600 s for the Twilio sync) is unacknowledged
# all that time, as is a task still rendering; the timeout is kept above both so a waiting task is not
# handed to a second worker. (A redelivered one would still send nothing twice: the claim.)
_visibility_timeout = env_int(
    "CELERY_VISIBILITY_TIMEOUT_SECONDS",
    max(2 * REPORT_RETRY_MAX_DELAY_SECONDS, 2 * REPORT_SENDING_TIMEOUT_SECONDS, 7200),
)
if _visibility_timeout <= max(REPORT_RETRY_MAX_DELAY_SECONDS, REPORT_SENDING_TIMEOUT_SECONDS, 600):
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT_SECONDS must be greater than REPORT_RETRY_MAX_DELAY_SECONDS, "
        "REPORT_SENDING_TIMEOUT_SECONDS and 600 (the longest task retry delay)."
    )
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": _visibility_timeout}
# Several deployments (or test runs) sharing one Redis keep their queues apart with a key prefix.
if _celery_key_prefix := env_str("CELERY_KEY_PREFIX", ""):
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = _celery_key_prefix
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# How long beat may sleep between looks at its schedule (django-celery-beat's default: 5 s).
CELERY_BEAT_MAX_LOOP_INTERVAL = env_int("CELERY_BEAT_MAX_LOOP_INTERVAL", 5, minimum=1, maximum=300)
EMBEDDED_BEAT = env_bool("EMBEDDED_BEAT", EMBEDDED)

# --- Backups of the embedded SQLite database ---------------------------------------------------------
BACKUP_DIR = Path(env_str("BACKUP_DIR", str(VAR_DIR / "backups")))
BACKUP_INTERVAL_MINUTES = env_int("BACKUP_INTERVAL_MINUTES", 30, minimum=1)
BACKUP_KEEP = env_int("BACKUP_KEEP", 48, minimum=1)

CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
if USES_SQLITE:
    CELERY_BEAT_SCHEDULE["backup-sqlite-database"] = {
        "task": "config.tasks.backup_database",
        "schedule": timedelta(minutes=BACKUP_INTERVAL_MINUTES),
    }

# Analytics: snapshots of the last closed local hour / day / ISO week, and a check of the rollups
# against the raw rows. Beat runs in UTC (CELERY_TIMEZONE), so the daily and weekly snapshots run every
# hour: building is idempotent and cheap (summed counters), the first run after local midnight makes
# the new one in any TIME_ZONE, and later runs pick up late data (imports) of that period.
CELERY_BEAT_SCHEDULE["analytics-snapshot-hourly"] = {
    "task": "analytics.tasks.build_snapshot",
    "schedule": crontab(minute=5),
    "args": ("hourly",),
}
CELERY_BEAT_SCHEDULE["analytics-snapshot-daily"] = {
    "task": "analytics.tasks.build_snapshot",
    "schedule": crontab(minute=15),
    "args": ("daily",),
}
CELERY_BEAT_SCHEDULE["analytics-snapshot-weekly"] = {
    "task": "analytics.tasks.build_snapshot",
    "schedule": crontab(minute=25),
    "args": ("weekly",),
}
CELERY_BEAT_SCHEDULE["analytics-reconcile-rollups"] = {
    "task": "analytics.tasks.reconcile_rollups",
    "schedule": crontab(minute=35),
}
# Reports: deliveries whose (re)try time has come are sent, and ones stuck in `sending` recovered. The
# subscriptions' own schedules are PeriodicTasks made by reporting.schedules, not entries here.
CELERY_BEAT_SCHEDULE["reporting-dispatch-due-deliveries"] = {
    "task": "reporting.tasks.dispatch_due_deliveries",
    "schedule": timedelta(minutes=1),
    "options": {"expires": 50},  # ticks that waited out a worker outage are dropped, not run back to back
}

# --- Auth ------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "crm.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Time and language ------------------------------------------------------------------------------
TIME_ZONE = env_str("TIME_ZONE", "UTC")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE {TIME_ZONE!r} is not a known IANA time zone.") from None
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")
LANGUAGES = [("en", "English"), ("pl", "Polski"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]

# --- Static files ----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "config.staticfiles.PackageAssetFinder",  # browser libraries shipped inside PyPI packages (plotly.js)
]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"

# --- E-mail ----------------------------------------------------------------------------------------
# Default: every message is written to a file under var/mail/ (nothing leaves the machine).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = Path(env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail")))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are mutually exclusive.")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Callboard <callboard@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Product settings ------------------------------------------------------------------------------
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
# Bearer token of POST /api/cron/aggregate-metrics (an external scheduler's trigger of the snapshots).
# Unset: that endpoint answers 503 (disabled); beat builds the snapshots anyway.
CRON_SECRET = env_str("CRON_SECRET", "")
SLA_FIRST_RESPONSE_SECONDS = env_int("SLA_FIRST_RESPONSE_SECONDS", 300, minimum=1)
# Dashboard assumptions (docs/metrics.md): what a bot-resolved chat saves, what an agent hour costs.
DASHBOARD_MINUTES_SAVED_PER_BOT_CONVERSATION = env_int("DASHBOARD_MINUTES_SAVED_PER_BOT_CONVERSATION", 5, minimum=0)
DASHBOARD_AGENT_HOURLY_COST = env_float("DASHBOARD_AGENT_HOURLY_COST", 20.0)
DASHBOARD_CURRENCY = env_str("DASHBOARD_CURRENCY", "USD")
DASHBOARD_DROP_OFF_MINUTES = env_int("DASHBOARD_DROP_OFF_MINUTES", 30, minimum=1)
DASHBOARD_QUEUE_RATE_WINDOW_MINUTES = env_int("DASHBOARD_QUEUE_RATE_WINDOW_MINUTES", 15, minimum=1)
DASHBOARD_FAILED_MESSAGES_LIMIT = env_int("DASHBOARD_FAILED_MESSAGES_LIMIT", 20, minimum=1, maximum=500)
DASHBOARD_TOP_INTENTS_LIMIT = env_int("DASHBOARD_TOP_INTENTS_LIMIT", 10, minimum=1, maximum=100)
DASHBOARD_WORKLOAD_TOLERANCE_PERCENT = env_int("DASHBOARD_WORKLOAD_TOLERANCE_PERCENT", 25, minimum=1, maximum=100)
DASHBOARD_CACHE_SECONDS = env_int("DASHBOARD_CACHE_SECONDS", 30, minimum=0, maximum=3600)
# WhatsApp: a customer writing within this many hours of a resolution reopens that conversation;
# later, a new conversation starts.
WHATSAPP_REOPEN_WINDOW_HOURS = env_int("WHATSAPP_REOPEN_WINDOW_HOURS", 24, minimum=0)
WHATSAPP_CSAT_ON_RESOLVE = env_bool("WHATSAPP_CSAT_ON_RESOLVE", True)
WHATSAPP_BROADCAST_RATE_PER_MINUTE = env_int("WHATSAPP_BROADCAST_RATE_PER_MINUTE", 60, minimum=1)
DEFAULT_PHONE_REGION = env_str("DEFAULT_PHONE_REGION", "PL")
# The agent console's call timer turns amber, then red, after this many seconds on one call.
CALL_TIMER_AMBER_SECONDS = env_int("CALL_TIMER_AMBER_SECONDS", 120, minimum=1)
CALL_TIMER_RED_SECONDS = env_int("CALL_TIMER_RED_SECONDS", 600, minimum=1)
if CALL_TIMER_RED_SECONDS <= CALL_TIMER_AMBER_SECONDS:
    raise ImproperlyConfigured("CALL_TIMER_RED_SECONDS must be greater than CALL_TIMER_AMBER_SECONDS.")
# Realtime: at most one leading and one trailing push per group and section within this window.
# Compressing every update for every socket (permessage-deflate) costs more CPU than a wall of sockets can
# spare; the updates are small JSON.
WS_PER_MESSAGE_DEFLATE = env_bool("WS_PER_MESSAGE_DEFLATE", False)
REALTIME_COALESCE_SECONDS = env_float("REALTIME_COALESCE_SECONDS", 0.25)
# Changes that do not say whose they are (WhatsApp counters) refresh every watched KPI strip this often.
REALTIME_KPI_REFRESH_SECONDS = env_float("REALTIME_KPI_REFRESH_SECONDS", 2.0)
# Pages fall back to polling the API this often when WebSockets are unavailable.
DASHBOARD_POLL_SECONDS = env_int("DASHBOARD_POLL_SECONDS", 30, minimum=5)
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "1000/hour")
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "calls.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["calls.throttling.ApiKeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Callboard API",
    "DESCRIPTION": "Calls, agent time, WhatsApp conversations, dashboards and reports.",
    "VERSION": "1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {"ConversationStatusEnum": "crm.models.ConversationStatus"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
