from django.urls import path

from reviews.api import views

urlpatterns = [
    path("", views.ReviewListCreateView.as_view(), name="review-list"),
    path("stats/", views.ReviewStatsView.as_view(), name="review-stats"),
]
