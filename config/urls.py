from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from analytics import pages
from config import views
from config.middleware import set_language

admin.site.site_header = "Callboard administration"
admin.site.site_title = "Callboard"
admin.site.index_title = "Run the contact centre"

urlpatterns = [
    path("", pages.home, name="home"),
    path("", include("analytics.page_urls")),
    path("i18n/setlang/", set_language, name="set_language"),  # the language switcher (also saves User.language)
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("calls.urls")),
    path("api/", include("crm.urls")),
    path("api/", include("analytics.urls")),
    path("api/analytics/reporting/", include("reporting.urls")),
    path("webhooks/twilio/", include("calls.webhook_urls")),
    path("webhooks/twilio/messaging/", include("crm.webhook_urls")),
    path("", include("reporting.link_urls")),  # signed links to report PDFs (Slack messages)
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
