"""The signed PDF links of reports (reporting/links.py), mounted at the site's root."""

from django.urls import path

from reporting import links

urlpatterns = [
    path("reports/pdf/<str:token>", links.pdf_download, name="report-pdf-link"),
]
