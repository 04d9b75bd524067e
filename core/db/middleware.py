"""Read-your-writes for every request: its own routing scope, and a pin after it writes."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core.db.pins import ClientPins
from core.db.routing import routing_scope


class ReplicaPinningMiddleware:
    """Place right after ``AuthenticationMiddleware``.

    Opens a routing scope per request (after its first write, the request reads the primary),
    lets the router ask the client's pins lazily (cookie, token, user; see ``core.db.pins``)
    and, when the request wrote, pins the client for ``REPLICA_PIN_SECONDS``.
    """

    pins_class = ClientPins

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        pins = self.pins_class(request)
        with routing_scope(client=pins) as state:
            response = self.get_response(request)
            if state.wrote:
                pins.record_write(response)
        return response
