"""Reporting API routes (API.md "Reporting"), mounted at /api/analytics/reporting/."""

from django.urls import path

from reporting import views

urlpatterns = [
    path("templates", views.TemplateListView.as_view(), name="reporting-templates"),
    path("templates/<int:template_id>", views.TemplateDetailView.as_view(), name="reporting-template"),
    path("subscriptions", views.SubscriptionListView.as_view(), name="reporting-subscriptions"),
    path("subscriptions/<int:subscription_id>", views.SubscriptionDetailView.as_view(), name="reporting-subscription"),
    path("generate", views.GenerateView.as_view(), name="reporting-generate"),
    path("send", views.SendView.as_view(), name="reporting-send"),
    path("deliveries", views.DeliveryListView.as_view(), name="reporting-deliveries"),
    path("deliveries/<int:delivery_id>", views.DeliveryDetailView.as_view(), name="reporting-delivery"),
    path("deliveries/<int:delivery_id>/pdf", views.DeliveryPdfView.as_view(), name="reporting-delivery-pdf"),
]
