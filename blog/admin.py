"""Staff write posts here; the bulk actions go through blog.services."""

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from blog import services
from blog.models import Post, Tag


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name"]
    # Also what the post form's tag autocomplete searches.
    search_fields = ["name"]
    ordering = ["name"]


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "status", "featured", "published_at", "author_name"]
    list_filter = ["status", "featured", "tags"]
    # Not the body: a substring scan of every body is too slow for a search box.
    search_fields = ["title", "slug", "excerpt"]
    autocomplete_fields = ["author", "tags"]
    list_select_related = ["author"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["created_at", "updated_at"]
    ordering = ["-published_at", "-id"]
    date_hierarchy = "published_at"
    # Counting every post on each changelist page is a full scan; the admin does not need it.
    show_full_result_count = False
    actions = ["publish_posts", "unpublish_posts", "feature_posts", "unfeature_posts"]
    # Cover images are served over HTTPS; a bare host typed in the form means https://.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["title", "slug", "author", "excerpt", "body", "cover_image_url"]}),
        ("Publishing", {"fields": ["status", "published_at", "featured", "tags"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description="Author", ordering="author__name")
    def author_name(self, post: Post) -> str:
        return post.author.name

    @admin.action(description="Publish selected posts", permissions=["change"])
    def publish_posts(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        count = services.post_publish_bulk(posts=queryset)
        self.message_user(request, f"Published {count} post(s).", messages.SUCCESS)

    @admin.action(description="Unpublish selected posts", permissions=["change"])
    def unpublish_posts(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        count = services.post_unpublish_bulk(posts=queryset)
        self.message_user(request, f"Unpublished {count} post(s).", messages.SUCCESS)

    @admin.action(description="Feature selected posts", permissions=["change"])
    def feature_posts(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        count = services.post_set_featured_bulk(posts=queryset, featured=True)
        self.message_user(request, f"Featured {count} post(s).", messages.SUCCESS)

    @admin.action(description="Unfeature selected posts", permissions=["change"])
    def unfeature_posts(self, request: HttpRequest, queryset: QuerySet[Post]) -> None:
        count = services.post_set_featured_bulk(posts=queryset, featured=False)
        self.message_user(request, f"Stopped featuring {count} post(s).", messages.SUCCESS)
