"""Stable error codes of the reviews API (API.md)."""

from core.http.errors import Conflict


class ReviewNotAllowed(Conflict):
    code = "review_not_allowed"
    default_message = "Only a completed booking can be reviewed."


class AlreadyReviewed(Conflict):
    code = "already_reviewed"
    default_message = "This booking has already been reviewed."
