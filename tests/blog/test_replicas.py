"""The blog behind the replica router, against real streaming replication: public reads may
use the standby, but writes read back what they wrote even when the standby lags."""

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import CaptureQueriesContext

from blog import demo_data, selectors, services
from blog.models import Post
from tests.blog.conftest import MakePost

pytestmark = [pytest.mark.servers, pytest.mark.django_db(transaction=True, databases="__all__")]

REPLICA = "replica_1"


def test_public_reads_use_the_replica(pg_cluster, api_client, make_post: MakePost):
    # given
    make_post(slug="replicated")
    pg_cluster.wait_for_replay()

    # when
    read_from = selectors.post_list_published().db
    response = api_client.get("/api/v1/blog/posts/replicated/")

    # then
    assert read_from == REPLICA
    assert response.status_code == 200


def test_publish_returns_the_new_state_while_the_replica_lags(pg_cluster, make_post: MakePost):
    # given: a draft the standby knows, then replay paused
    draft = make_post(published=False)
    pg_cluster.wait_for_replay()
    draft = Post.objects.get(pk=draft.pk)  # loaded from the replica
    pg_cluster.pause_replay(1)

    # when
    post = services.post_publish(post=draft)

    # then: read back from the primary; the standby still has the draft
    assert post.status == Post.Status.PUBLISHED
    assert post.published_at is not None
    assert Post.objects.using(REPLICA).get(pk=post.pk).status == Post.Status.DRAFT


def test_seed_posts_reads_its_own_writes_while_the_replica_lags(pg_cluster, author):
    # given: the standby has neither the demo tags nor any post
    pg_cluster.wait_for_replay()
    pg_cluster.pause_replay(1)

    # when
    created = demo_data.seed_posts(count=30, authors=[author])
    created_again = demo_data.seed_posts(count=30, authors=[author])

    # then
    assert (created, created_again) == (30, 0)
    assert Post.objects.using(DEFAULT_DB_ALIAS).count() == 30


def test_tag_names_come_from_the_database_their_posts_came_from(pg_cluster, make_post: MakePost):
    # given a tagged post on both databases
    make_post(slug="tagged", tags=["events"])
    pg_cluster.wait_for_replay()

    # when
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        posts = list(selectors.post_list_published())

    # then both queries, the posts' and their tags', went to the replica
    assert [(post._state.db, post.tag_names) for post in posts] == [(REPLICA, ["events"])]
    assert len(on_replica.captured_queries) == 2
    assert "blog_post_tags" in on_replica.captured_queries[1]["sql"]
