from django.urls import path

from bookings.api import views

urlpatterns = [
    path("packages/", views.PackageListView.as_view(), name="package-list"),
    path("bookings/service-area/", views.ServiceAreaView.as_view(), name="service-area"),
    path("bookings/availability/", views.AvailabilityView.as_view(), name="availability"),
    path("bookings/quote/", views.QuoteView.as_view(), name="booking-quote"),
    path("bookings/", views.BookingListCreateView.as_view(), name="booking-list"),
    path("bookings/<int:booking_id>/", views.BookingDetailView.as_view(), name="booking-detail"),
    path(
        "bookings/<int:booking_id>/cancel/",
        views.BookingCancelView.as_view(),
        name="booking-cancel",
    ),
]
