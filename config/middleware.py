"""The interface language of a signed-in person.

Order of precedence: the language cookie (the top bar's switch on this browser), then the person's own
`User.language` (saved whenever they switch, so it follows them to another browser or device), then
the browser's Accept-Language, then LANGUAGE_CODE.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.i18n import set_language as django_set_language


class UserLanguageMiddleware:
    """After AuthenticationMiddleware: a person's saved language when this browser has chosen none."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if not chosen and language and translation.check_for_language(language):
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


def set_language(request: HttpRequest) -> HttpResponse:
    """Django's set_language (the cookie), and the signed-in person's `User.language` too."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    user = getattr(request, "user", None)
    if (
        request.method == "POST"
        and user is not None
        and user.is_authenticated
        and language in dict(settings.LANGUAGES)
        and getattr(user, "language", None) != language
    ):
        get_user_model().objects.filter(pk=user.pk).update(language=language)
    return response
