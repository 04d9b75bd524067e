"""The staff admin in a real browser: Debian's headless Chromium, driven by Selenium through
Debian's matching ChromeDriver, against the real admin served by pytest-django's live server.

Each flow a staff member does daily — log in, find a booking, confirm it and assign a chef,
approve a review, feature a post, record a manual payment — is done by clicking and typing,
then checked in the database. Every page is also checked for Content-Security-Policy
violations and script errors in the browser's console: the admin's CSP (core/http/security.py)
must not break what staff use. A screenshot is saved after each step under the test's
``tmp_path`` and copied to ``bench/results/admin-screenshots/`` (git-ignored).

No browser is downloaded: ``make test`` installs Debian's ``chromium`` and ``chromium-driver``
(deploy/local/install-system-deps.sh, as root). Without them the tests skip when not root, and
fail as root, where ``make test`` should have installed them.
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from selenium import webdriver
from selenium.common.exceptions import (
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from accounts.models import User
from blog.models import Post
from bookings.models import Booking, Chef
from payments.models import Payment
from reviews.models import Review
from tests.bookings.conftest import catalogue, make_booking  # noqa: F401 (fixture)
from tests.conftest import PASSWORD, make_customer
from tests.reviews.factories import make_review

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CHROMEDRIVER_BINARY", "/usr/bin/chromedriver"))
SCREENSHOTS = ROOT / "bench" / "results" / "admin-screenshots"
WAIT_SECONDS = 20  # a bound that catches a hang, not a speed requirement
# What this machine's closed network needs (no background calls to Google's services).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
WINDOW = (1366, 1000)
# Screenshots show the whole page (the window grows to fit it), up to this height.
SCREENSHOT_MAX_HEIGHT = 4000


def _missing_browser() -> str | None:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    return f"{' and '.join(missing)} not found" if missing else None


MISSING = _missing_browser()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        MISSING is not None and os.geteuid() != 0,
        reason=f"{MISSING}: install Debian's chromium and chromium-driver "
        "(`make system-deps` as root) to run the admin in a browser",
    ),
]


class Staff:
    """A staff member at the browser: navigation, waits, console checks and screenshots."""

    def __init__(self, driver: WebDriver, base_url: str, shots: Path, name: str) -> None:
        self.driver = driver
        self.base_url = base_url
        self.shots = shots
        self.name = name
        self.wait = WebDriverWait(driver, WAIT_SECONDS)
        self.steps = 0

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def find(self, css: str) -> WebElement:
        return self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def click(self, css: str) -> None:
        self.wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, css))).click()

    def follow(self, text: str) -> None:
        """Click the link ``text`` and wait for the page it leads to."""
        self._navigating(
            lambda: self.wait.until(EC.element_to_be_clickable((By.LINK_TEXT, text))).click()
        )

    def _navigating(self, action: Callable[[], object]) -> None:
        """Run ``action`` (a click, a key) and wait until a new page has replaced this one and
        loaded: until then, elements found could still be the old page's. (A mark left on the
        old page's window, not the staleness of its elements: ChromeDriver may report those
        with an unknown error while the navigation is under way.)"""
        self.driver.execute_script("window.beforeNavigation = true;")
        action()
        WebDriverWait(self.driver, WAIT_SECONDS, ignored_exceptions=[WebDriverException]).until(
            lambda driver: driver.execute_script(
                "return !window.beforeNavigation && document.readyState === 'complete';"
            )
        )

    def type(self, css: str, text: str, *, clear: bool = True) -> None:
        field = self.find(css)
        if clear:
            field.clear()
        field.send_keys(text)

    def click_and_wait(self, css: str) -> None:
        """Click a button or link and wait for the next page."""
        self._navigating(lambda: self.click(css))

    def search(self, text: str) -> None:
        """Type ``text`` in the changelist's search box, press Enter, wait for the results."""
        self.type("#searchbar", text)
        self._navigating(lambda: self.find("#searchbar").send_keys(Keys.ENTER))

    def success_message(self) -> str:
        return self.find(".messagelist .success").text

    def choose(self, field_id: str, search: str, option: str) -> None:
        """Pick ``option`` in the autocomplete box of ``field_id`` after typing ``search``.
        The results are replaced as each keystroke's search answers: retry a stale one."""
        self.click(f"#{field_id} + .select2 .select2-selection")
        self.type(".select2-container--open .select2-search__field", search, clear=False)

        def pick(driver: WebDriver) -> bool:
            for element in driver.find_elements(By.CSS_SELECTOR, ".select2-results__option"):
                if element.text == option:
                    element.click()
                    return True
            return False

        WebDriverWait(
            self.driver, WAIT_SECONDS, ignored_exceptions=[StaleElementReferenceException]
        ).until(pick)
        self.wait.until(
            EC.text_to_be_present_in_element(
                (By.CSS_SELECTOR, f"#select2-{field_id}-container"), option
            )
        )

    def run_action(self, action: str, pks: list[int]) -> str:
        """Tick the rows of ``pks`` on a changelist, run ``action``, return the message."""
        for pk in pks:
            self.click(f'input.action-select[value="{pk}"]')
        Select(self.find('select[name="action"]')).select_by_value(action)
        self.click_and_wait('.actions button[type="submit"]')
        return self.success_message()

    def assert_clean_console(self) -> None:
        """No CSP violation and no script error on the pages loaded since the last check."""
        problems = [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["source"] in ("security", "javascript")
            or "Content Security Policy" in entry["message"]
        ]
        assert not problems, problems

    def screenshot(self, step: str, *, full_page: bool = True) -> Path:
        """Save the page after ``step`` to the test's output dir and the stable folder; the
        whole page unless ``full_page`` is False (an open dropdown would move as it grows)."""
        self.assert_clean_console()
        self.steps += 1
        path = self.shots / f"{self.steps:02d}-{step}.png"
        if full_page:
            # Growing the window re-flows the admin (its sidebar is as tall as the window):
            # grow until the page fits, a bounded number of times.
            for _ in range(4):
                height = self.driver.execute_script("return document.body.scrollHeight")
                height = min(max(height + 120, WINDOW[1]), SCREENSHOT_MAX_HEIGHT)
                if height <= self.driver.get_window_size()["height"]:
                    break
                self.driver.set_window_size(WINDOW[0], height)
        try:
            assert self.driver.save_screenshot(str(path)), path
        finally:
            self.driver.set_window_size(*WINDOW)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / f"{self.name}-{self.steps:02d}-{step}.png")
        return path

    def log_in(self, email: str, password: str) -> None:
        self.open("/admin/login/")
        self.type("#id_username", email)
        self.type("#id_password", password)
        self.click_and_wait('input[type="submit"]')
        self.find("#user-tools")


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    """One Chromium for the module (each test starts logged out: see ``staff``). The
    screenshots folder keeps the latest run's."""
    if MISSING is not None:
        pytest.fail(f"{MISSING}: `make test` installs them as root (make system-deps)")
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="admin-browser-")
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The driver's path is given, so Selenium Manager never looks for (or downloads) one.
    browser = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    browser.set_window_size(*WINDOW)
    browser.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def staff(driver, live_server, tmp_path, request, staff_user) -> Staff:
    driver.delete_all_cookies()  # the previous test's session
    driver.get_log("browser")  # and its console
    return Staff(driver, live_server.url, tmp_path, request.node.name)


@pytest.fixture
def logged_in(staff: Staff, staff_user: User) -> Staff:
    staff.log_in(staff_user.email, PASSWORD)
    return staff


def test_log_in_find_confirm_and_assign_a_chef(staff, staff_user, catalogue):  # noqa: F811
    # given a pending booking among others, and an available chef
    guest = make_customer("hana.guest@example.com", name="Hana Guest")
    booking = make_booking(catalogue, guest)
    make_booking(catalogue, make_customer("someone.else@example.com"))
    chef = Chef.objects.create(name="Kenji Sato", email="kenji@example.com")

    # when staff log in
    staff.log_in(staff_user.email, PASSWORD)
    staff.screenshot("logged-in")
    # then the browser holds a session of theirs
    sessions = [s.get_decoded() for s in Session.objects.all()]
    assert [s["_auth_user_id"] for s in sessions] == [str(staff_user.pk)]

    # when they open Bookings from the index and search for the customer
    staff.follow("Bookings")
    staff.search("hana.guest")
    rows = staff.driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    staff.screenshot("search")
    # then the one booking of that customer is listed, as the database has it
    assert len(rows) == 1
    assert rows[0].find_element(By.CSS_SELECTOR, "input.action-select").get_attribute(
        "value"
    ) == str(booking.pk)
    assert "Pending" in rows[0].text

    # when they confirm it with the bulk action
    message = staff.run_action("confirm_bookings", [booking.pk])
    staff.screenshot("confirmed")
    # then it is confirmed in the database
    assert "1 booking(s) confirmed" in message
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert booking.confirmed_at is not None

    # when they open it and pick the chef in the autocomplete box, then save
    staff.follow(str(booking.pk))
    staff.choose("id_chef", "Kenji", "Kenji Sato")
    staff.screenshot("chef-chosen", full_page=False)
    staff.click_and_wait('input[name="_save"]')
    staff.screenshot("chef-assigned")
    # then the chef is assigned, and nothing else about the booking changed
    assert "was changed successfully" in staff.success_message()
    booking.refresh_from_db()
    assert booking.chef == chef
    assert booking.status == Booking.Status.CONFIRMED
    assert booking.customer == guest


def test_approve_a_review(logged_in, customer):
    # given a review waiting for moderation, and one already approved
    waiting = make_review(customer=customer, status=Review.Status.PENDING, title="Wonderful chef")
    make_review(customer=customer, title="Old praise")

    # when staff filter the pending reviews and approve it
    logged_in.follow("Reviews")
    logged_in.follow("Pending")
    assert "status__exact=pending" in logged_in.driver.current_url
    rows = logged_in.driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1 and "Wonderful chef" in rows[0].text
    logged_in.screenshot("pending-reviews")
    message = logged_in.run_action("approve_selected", [waiting.pk])
    logged_in.screenshot("approved")

    # then it is approved, by them, in the database
    assert "1 review(s) approved" in message
    waiting.refresh_from_db()
    assert waiting.status == Review.Status.APPROVED
    assert waiting.moderated_by.email == "staff@example.com"


def test_feature_a_post(logged_in, staff_user):
    # given a published post that is not featured
    post = Post.objects.create(
        author=staff_user,
        title="Ten tips for a backyard hibachi party",
        slug="ten-tips",
        body="Space, fire safety and a hungry crowd.",
        status=Post.Status.PUBLISHED,
        published_at=timezone.now() - datetime.timedelta(days=1),
    )

    # when staff select it on the posts list and feature it
    logged_in.follow("Posts")
    logged_in.find("#result_list")
    logged_in.screenshot("posts")
    message = logged_in.run_action("feature_posts", [post.pk])
    logged_in.screenshot("featured")

    # then it is featured in the database
    assert "Featured 1 post(s)" in message
    post.refresh_from_db()
    assert post.featured is True


def test_record_a_manual_payment(logged_in, catalogue, customer):  # noqa: F811
    # given a confirmed booking whose deposit the customer paid in cash
    booking = make_booking(catalogue, customer)
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.CONFIRMED)

    # when staff add the payment on the form
    logged_in.follow("Payments")
    logged_in.click_and_wait(".object-tools a.addlink")  # "Add payment", not the sidebar's
    logged_in.type("#id_booking", str(booking.pk))
    Select(logged_in.find("#id_kind")).select_by_value("deposit")
    logged_in.type("#id_amount", str(booking.deposit_due))
    Select(logged_in.find("#id_provider")).select_by_value("manual")
    logged_in.type("#id_provider_reference", "Cash, receipt 0042")
    logged_in.screenshot("payment-form")
    logged_in.click_and_wait('input[name="_save"]')
    logged_in.screenshot("payment-recorded")

    # then it is recorded, pending until the money is counted
    assert "was added successfully" in logged_in.success_message()
    payment = Payment.objects.get()
    assert (payment.booking_id, payment.kind, payment.amount) == (
        booking.pk,
        Payment.Kind.DEPOSIT,
        booking.deposit_due,
    )
    assert (payment.provider, payment.status) == (Payment.Provider.MANUAL, Payment.Status.PENDING)
    assert payment.provider_reference == "Cash, receipt 0042"

    # when staff mark it received
    message = logged_in.run_action("mark_succeeded", [payment.pk])
    logged_in.screenshot("payment-succeeded")

    # then it has succeeded and is settled
    assert "marked succeeded" in message
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.settled_at is not None


def test_the_operations_dashboard(logged_in, catalogue, customer):  # noqa: F811
    # given a booking for this evening
    today = timezone.localdate()
    Booking.objects.filter(pk=make_booking(catalogue, customer).pk).update(event_date=today)

    # when staff follow the index's link to the operations dashboard
    logged_in.open("/admin/")
    logged_in.follow("Operations dashboard")
    logged_in.find("#operations-bookings")
    logged_in.screenshot("operations")

    # then it shows the database, the cache, the throttles and today's slot
    body = logged_in.driver.find_element(By.ID, "content-main").text.lower()  # captions: CSS caps
    for heading in ("databases: ready", "dependencies", "cache: breaker", "throttle decisions"):
        assert heading in body
    slot = logged_in.find("#operations-bookings tbody tr").text
    assert slot.split()[:3] == ["18:00", "2", "1"]  # start, capacity, one pending


def test_the_api_docs_render_under_their_policy(staff):
    # when anyone opens the API docs (Swagger UI from our own static files)
    staff.open("/api/docs/")
    try:
        staff.wait.until(
            EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".swagger-ui .title"), "MyHibachi")
        )
    except TimeoutException:  # pragma: no cover - the screenshot says what rendered instead
        staff.screenshot("docs-failed")
        raise
    staff.find(".opblock")  # the operations, loaded from /api/schema/
    staff.screenshot("docs")
