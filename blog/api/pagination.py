"""The blog's cursor: positions are publication times."""

from blog.selectors import NEWEST_FIRST
from core.http.pagination import NewestFirstCursorPagination


class PublishedPostCursorPagination(NewestFirstCursorPagination):
    """Newest first by ``published_at`` (ties by ``-id``), the order the indexes serve. Its
    cursors' positions are checked as publication times by the base class."""

    ordering = NEWEST_FIRST
