from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from calls.models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """API_THROTTLE_RATE (default 1000/hour) per API key; browser sessions are limited per user.

    DRF answers 429 with Retry-After once the rate is exceeded.
    """

    scope = "api_key"

    def get_rate(self) -> str:
        return settings.API_THROTTLE_RATE

    def get_cache_key(self, request: Request, view) -> str | None:
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
