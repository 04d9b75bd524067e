from django.urls import path

from blog.api import views

urlpatterns = [
    path("posts/", views.PostListView.as_view(), name="blog-post-list"),
    # Before the slug route, which would otherwise take "featured" for a slug.
    path("posts/featured/", views.FeaturedPostListView.as_view(), name="blog-post-featured"),
    path("posts/<slug:slug>/", views.PostDetailView.as_view(), name="blog-post-detail"),
]
