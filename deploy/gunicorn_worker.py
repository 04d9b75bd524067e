"""gunicorn's gthread worker, closing its copy of the listening sockets as soon as it stops
accepting (``worker_class`` in deploy/gunicorn.conf.py).

On SIGTERM (a deploy, a scale-down, ``docker stop``) the master closes its listening sockets
and the workers stop accepting, then finish what they serve: up to ``graceful_timeout`` for
requests in flight, a couple of seconds for idle keep-alive connections. Stock gthread keeps
its copy of the listening sockets open until it exits, so meanwhile the kernel still completes
new connections into the listen backlog, where nobody accepts them; they are reset when the
worker exits. nginx has by then written its request into such a connection: a GET is retried on
another backend, but a POST may not be sent twice, and the client gets a 502 for a booking
that no backend ever saw. Closed at once, the port refuses new connections (the socket stays
open while the master or another worker still holds it, as on HUP), nginx's connect() fails
before anything is sent, and it tries the next backend, POSTs included.
"""

from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker


class ThreadWorkerClosingListeners(ThreadWorker):
    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive:  # shutting down, not just at worker_connections
            for listener in self.sockets:
                listener.close()
