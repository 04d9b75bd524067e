from django.urls import path

from payments.api import views

urlpatterns = [
    path("", views.PaymentListCreateView.as_view(), name="payment-list"),
    path("<int:payment_id>/", views.PaymentDetailView.as_view(), name="payment-detail"),
    path("webhooks/stripe/", views.StripeWebhookView.as_view(), name="stripe-webhook"),
]
