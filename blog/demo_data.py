"""Realistic demo posts in bulk, for local development, the admin and load tests.

Seeding is idempotent: post number ``n`` always has the slug ``post-{n:06d}`` and the same
content, and slugs that already exist are skipped, so a re-run only fills the gaps.
"""

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from blog.models import Post, Tag
from core.db import use_primary

# Rows per INSERT round trip and per transaction: big enough that 100k posts take seconds,
# small enough that one batch's objects and parameters stay a few megabytes.
BATCH_SIZE = 2000

DRAFT_SHARE = 0.05
FEATURED_SHARE = 0.10
PUBLISHED_WITHIN = timedelta(days=3 * 365)

DEMO_TAGS = [
    "hibachi",
    "recipes",
    "events",
    "birthdays",
    "weddings",
    "corporate",
    "sauces",
    "chefs",
    "teppanyaki",
    "seafood",
    "party-planning",
    "behind-the-scenes",
]

_TITLES = [
    "How to Host a Hibachi {occasion} in Your Backyard",
    "{number} Things Our Chefs Wish Every {occasion} Host Knew",
    "The Secret to Our {sauce}",
    "Why {dish} Steals the Show at Every {occasion}",
    "Behind the Grill: A Night with Chef {chef}",
    "Planning a {occasion} for {guests} Guests? Start Here",
    "{dish} at Home: Our Chefs' Step-by-Step Guide",
    "From Onion Volcano to {dish}: The Perfect Hibachi Menu",
    "What Makes {sauce} Different",
    "Chef {chef}'s Favorite {dish} Tricks",
]
_OCCASIONS = [
    "Birthday Party",
    "Wedding Rehearsal",
    "Corporate Dinner",
    "Graduation",
    "Anniversary",
    "Team Offsite",
    "Family Reunion",
    "Holiday Party",
]
_DISHES = [
    "Filet Mignon",
    "Garlic Butter Shrimp",
    "Hibachi Fried Rice",
    "Teriyaki Chicken",
    "Lobster Tail",
    "Yakisoba",
    "Grilled Scallops",
    "Tofu Steak",
]
_SAUCES = ["Yum Yum Sauce", "Ginger Sauce", "Garlic Butter", "Teriyaki Glaze", "Spicy Mayo"]
_CHEFS = ["Kenji", "Maria", "Hiro", "Danny", "Aiko", "Luis", "Sakura", "Tom"]
_SENTENCES = [
    "Our chefs arrive an hour early to set up the teppanyaki grill and check the gas.",
    "Most backyards fit the grill easily; all we need is a flat spot and a little shade.",
    "Kids love the onion volcano, and adults secretly love it even more.",
    "We cook everything fresh in front of your guests, so timing the courses is easy.",
    "Yum yum sauce is mayonnaise, tomato paste, butter, garlic and a touch of paprika.",
    "Ginger sauce brightens grilled shrimp and cuts through the richness of the steak.",
    "For a wedding rehearsal, we suggest seating guests in a horseshoe around the grill.",
    "Corporate groups often pick the filet and lobster upgrade for a memorable evening.",
    "Fried rice is cooked last, with garlic butter, so it soaks up every flavour.",
    "Tell us about allergies when you book and the chef will prepare a separate plate.",
    "A birthday song from the chef, with a spatula drum roll, is always on the house.",
    "Vegetarian guests can enjoy tofu steak, zucchini, mushrooms and onion rings.",
    "We bring the grill, the propane, the ingredients and the showmanship.",
    "You provide the plates, the drinks and the table; we leave the grill area spotless.",
    "Chopsticks tricks and the flying shrimp catch keep guests laughing all night.",
    "Plan about two hours from the first flame to the last bite of fried rice.",
    "Scallops need a very hot grill and barely a minute on each side.",
    "Teriyaki glaze is best added at the end, so the sugar caramelises without burning.",
    "A deposit holds your date; the balance is due after the event.",
    "Rain plans matter: a covered patio or open garage works perfectly for the grill.",
]


def _slug_for(number: int) -> str:
    return f"post-{number:06d}"


def _demo_post(number: int, *, author: User, now: datetime) -> tuple[Post, list[str]]:
    """Post ``number`` and its tag names; the content is the same on every run (the random
    generator is seeded by the number), the dates are relative to ``now``."""
    rng = random.Random(number)
    title = rng.choice(_TITLES).format(
        occasion=rng.choice(_OCCASIONS),
        dish=rng.choice(_DISHES),
        sauce=rng.choice(_SAUCES),
        chef=rng.choice(_CHEFS),
        number=rng.randint(3, 12),
        guests=rng.choice([10, 15, 20, 30, 50]),
    )
    paragraphs = [rng.sample(_SENTENCES, k=rng.randint(2, 3)) for _ in range(rng.randint(3, 4))]
    is_draft = rng.random() < DRAFT_SHARE
    published_at = now - PUBLISHED_WITHIN * rng.random()
    post = Post(
        slug=_slug_for(number),
        title=title,
        excerpt=paragraphs[0][0],
        body="\n\n".join(" ".join(sentences) for sentences in paragraphs),
        cover_image_url=f"https://images.myhibachi.example/blog/cover-{rng.randint(1, 40):02d}.jpg",
        featured=not is_draft and rng.random() < FEATURED_SHARE,
        status=Post.Status.DRAFT if is_draft else Post.Status.PUBLISHED,
        published_at=None if is_draft else published_at,
        author_id=author.pk,
        created_at=published_at,
    )
    return post, rng.sample(DEMO_TAGS, k=rng.randint(1, 3))


def _demo_tag_ids() -> dict[str, int]:
    Tag.objects.bulk_create([Tag(name=name) for name in DEMO_TAGS], ignore_conflicts=True)
    return dict(Tag.objects.filter(name__in=DEMO_TAGS).values_list("name", "id"))


# Every read on the primary: a replica may not have replayed the tags and posts just written.
@use_primary()
def seed_posts(
    *, count: int, authors: list[User], progress: Callable[[int], None] | None = None
) -> int:
    """Make sure demo posts 1..``count`` exist; return how many were created.

    Posts are spread over ``authors`` in turn. ``progress`` is called after each batch with
    the number of posts handled so far (created or already there), up to ``count``.
    """
    if count > 0 and not authors:
        raise ValueError("seed_posts needs at least one author.")
    tag_ids = _demo_tag_ids()
    PostTag = Post.tags.through
    now = timezone.now()
    created = 0
    for first in range(1, count + 1, BATCH_SIZE):
        numbers = range(first, min(first + BATCH_SIZE, count + 1))
        existing = set(
            Post.objects.filter(slug__in=[_slug_for(n) for n in numbers]).values_list(
                "slug", flat=True
            )
        )
        posts: list[Post] = []
        tag_names: dict[str, list[str]] = {}
        for number in numbers:
            if _slug_for(number) in existing:
                continue
            author = authors[(number - 1) % len(authors)]
            post, names = _demo_post(number, author=author, now=now)
            posts.append(post)
            tag_names[post.slug] = names
        if posts:
            # One transaction per batch: an interrupted run leaves no post without its tags.
            with transaction.atomic():
                Post.objects.bulk_create(posts)
                post_ids = _ids_by_slug(posts)
                PostTag.objects.bulk_create(
                    PostTag(post_id=post_ids[slug], tag_id=tag_ids[name])
                    for slug, names in tag_names.items()
                    for name in names
                )
            created += len(posts)
        if progress is not None:
            progress(numbers[-1])
    return created


def _ids_by_slug(posts: list[Post]) -> dict[str, int]:
    """Primary keys of freshly bulk-created posts; read back where the database does not
    return them from a bulk INSERT."""
    if all(post.pk is not None for post in posts):
        return {post.slug: post.pk for post in posts}
    slugs = [post.slug for post in posts]
    return dict(Post.objects.filter(slug__in=slugs).values_list("slug", "id"))
