"""Server child processes owned by this interpreter: ports, the user they run as, cleanup.

Every server the harness starts is a direct child (no daemonizing ``pg_ctl``), so this process
knows its pid, can stop it, and stops it when the interpreter exits. On Linux the children also
get a parent-death signal, so a harness killed with SIGKILL (a CI timeout) leaves no server
running behind it.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Protocol

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


class ServerStartError(RuntimeError):
    """A server did not become ready; the message carries the tail of its log."""


class Stoppable(Protocol):
    def stop(self) -> None: ...


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that was free on ``host`` a moment ago.

    Another process may take it before the server binds it; callers retry start-up with a new
    port when the server reports the address in use.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_user(name: str = "postgres") -> pwd.struct_passwd | None:
    """The account to run PostgreSQL as: ``name`` when we are root (PostgreSQL refuses root).

    Return None when we are not root: the servers then run as ourselves.
    """
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise ServerStartError(
            f"PostgreSQL refuses to run as root and there is no {name!r} user to run it as. "
            f"Install the postgresql package (it creates the user) or run as a normal user."
        ) from None


def make_owned_dir(path: Path, owner: pwd.struct_passwd | None) -> Path:
    """Create ``path`` (mode 0700) owned by ``owner`` (or by us)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if owner is not None:
        os.chown(path, owner.pw_uid, owner.pw_gid)
    return path


def chown_tree(path: Path, owner: pwd.struct_passwd | None) -> None:
    if owner is None:
        return
    os.chown(path, owner.pw_uid, owner.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), owner.pw_uid, owner.pw_gid)


def _die_with_parent(sig: int) -> Callable[[], None] | None:
    """A preexec function asking Linux to send ``sig`` to the child when we die.

    Runs after the child switched user (the kernel clears the setting on a credential change).
    Only from the main thread: the "parent" is the thread that forked, and a worker thread
    ending would otherwise take the server with it.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
        threading.main_thread()
    ):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return preexec


def run_tool(
    argv: Sequence[str], *, user: pwd.struct_passwd | None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a short-lived tool (initdb, pg_basebackup) as ``user``; raise with its output."""
    result = subprocess.run(  # noqa: S603 - argv built from resolved binary paths
        list(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
        check=False,
        **_user_kwargs(user),
    )
    if result.returncode != 0:
        raise ServerStartError(
            f"{Path(argv[0]).name} failed with exit status {result.returncode}:\n"
            f"{result.stdout}{result.stderr}"
        )
    return result


def _user_kwargs(user: pwd.struct_passwd | None) -> dict:
    if user is None or user.pw_uid == os.geteuid():
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


class ManagedProcess:
    """One long-running server child: started, signalled and reaped by this interpreter."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log_path: Path,
        user: pwd.struct_passwd | None = None,
        stop_signal: int = signal.SIGTERM,
        kill_signal_on_parent_death: int = signal.SIGTERM,
        env: dict[str, str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.user = user
        self.stop_signal = stop_signal
        self.parent_death_signal = kill_signal_on_parent_death
        self.env = env
        self._popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        if self.user is not None:
            with contextlib.suppress(OSError):
                os.chown(self.log_path, self.user.pw_uid, self.user.pw_gid)
        self._popen = subprocess.Popen(  # noqa: S603 - argv built from resolved binary paths
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd="/",
            env=self.env,
            # Our own session: a Ctrl-C in the terminal reaches us, and we stop the servers in
            # order, instead of every server getting SIGINT at once.
            start_new_session=True,
            preexec_fn=_die_with_parent(self.parent_death_signal),
            **_user_kwargs(self.user),
        )
        _register(self)

    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def exit_code(self) -> int | None:
        return self._popen.poll() if self._popen else None

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the process alone (SIGHUP: reload, SIGSTOP: freeze, ...)."""
        if self._popen is not None and self._popen.poll() is None:
            self._popen.send_signal(sig)

    def kill_group(self, sig: int = signal.SIGKILL, timeout: float = 10) -> None:
        """Send ``sig`` to the process and every child it started (its process group: each
        server is a session leader), as a crash or the OOM killer would; reap it on SIGKILL."""
        if self._popen is None or self._popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._popen.pid, sig)
        if sig == signal.SIGKILL:
            self._popen.wait(timeout)

    def children(self) -> list[int]:
        """The pids of the process's direct children (gunicorn's workers, nginx's workers)."""
        if self._popen is None:
            return []
        return child_pids(self._popen.pid)

    def stop(self, sig: int | None = None, timeout: float = 30) -> None:
        """Signal the process (its stop signal by default), wait, and SIGKILL it on timeout."""
        popen = self._popen
        if popen is None:
            return
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                popen.send_signal(sig if sig is not None else self.stop_signal)
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in %ss; killing it", self.argv[0], timeout)
                popen.kill()
                popen.wait(10)
        self._popen = None
        if self._log is not None:
            self._log.close()
            self._log = None
        _unregister(self)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


# Everything started and not yet stopped; stopped at interpreter exit as a last resort.
_running: weakref.WeakSet[Stoppable] = weakref.WeakSet()
_owners: weakref.WeakSet[Stoppable] = weakref.WeakSet()
_lock = threading.Lock()


def _register(process: Stoppable) -> None:
    with _lock:
        _running.add(process)


def _unregister(process: Stoppable) -> None:
    with _lock:
        _running.discard(process)


def stop_at_exit(owner: Stoppable) -> None:
    """Stop ``owner`` (a cluster, a Redis server) at interpreter exit unless already stopped."""
    with _lock:
        _owners.add(owner)


def forget_at_exit(owner: Stoppable) -> None:
    with _lock:
        _owners.discard(owner)


@atexit.register
def _stop_everything() -> None:
    for owner in list(_owners):
        with contextlib.suppress(Exception):
            owner.stop()
    for process in list(_running):
        with contextlib.suppress(Exception):
            process.stop()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


OWNER_FILE = ".owner-pid"


def make_temp_base_dir(prefix: str) -> Path:
    """A new temporary directory stamped with our pid, after sweeping dead owners' ones.

    A harness killed with SIGKILL cannot remove its files; the next one does, for directories
    with the same prefix whose stamped owner is no longer running.
    """
    tmp = Path(tempfile.gettempdir())
    for candidate in tmp.glob(f"{prefix}*"):
        try:
            owner = int((candidate / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not _pid_alive(owner):
            remove_tree(candidate)
    path = Path(tempfile.mkdtemp(prefix=prefix))
    (path / OWNER_FILE).write_text(str(os.getpid()))
    return path


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux ``/proc``); empty when it is gone."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
