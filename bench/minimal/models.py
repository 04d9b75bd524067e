"""A read-only view of the blog's posts table: the one-query floor reads what post detail reads."""

from django.db import models


class Post(models.Model):
    slug = models.SlugField(max_length=200, unique=True)
    title = models.CharField(max_length=200)
    excerpt = models.CharField(max_length=500)
    body = models.TextField()
    published_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = "blog_post"

    def __str__(self) -> str:
        return self.title
