"""Stable error codes of the blog API."""

from core.http.errors import NotFound


class PostNotFound(NotFound):
    """Unknown slugs and drafts answer alike, so drafts do not leak that they exist."""

    default_message = "No published post has this slug."
