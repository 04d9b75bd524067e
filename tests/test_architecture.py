"""The import graph's rules (README, "Architecture"), checked on the code itself with grimp.

- No cycle between files: a module never imports, directly or through others, a module that
  imports it back (``api -> services/selectors -> caching/models -> core``).
- No cycle between apps: one app may build on another, never both ways.
- ``core`` imports no app; runtime code imports no dev infrastructure (``devstack``,
  ``bench``, ``tests``), which stays out of the production image.

Imports inside functions count: a cycle hidden in a function is still a cycle.
"""

from __future__ import annotations

import grimp
import pytest

APPS = ("accounts", "blog", "bookings", "payments", "reviews", "notifications", "demo")
RUNTIME = ("config", "core", "deploy", *APPS)
DEV_ONLY = ("devstack", "bench", "tests")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*RUNTIME, *DEV_ONLY, include_external_packages=False)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


def test_no_cycle_between_files(graph):
    modules = {m for m in graph.modules if _top(m) in RUNTIME}
    edges = {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}
    assert _cycles(edges) == []


def test_no_cycle_between_apps(graph):
    edges = {
        app: {
            other
            for other in APPS
            if other != app
            and graph.direct_import_exists(importer=app, imported=other, as_packages=True)
        }
        for app in APPS
    }
    assert _cycles(edges) == []


@pytest.mark.parametrize("app", APPS)
def test_core_imports_no_app(graph, app):
    assert not graph.chain_exists(importer="core", imported=app, as_packages=True)


@pytest.mark.parametrize("package", RUNTIME)
def test_runtime_code_imports_no_dev_infrastructure(graph, package):
    for dev in DEV_ONLY:
        assert not graph.direct_import_exists(importer=package, imported=dev, as_packages=True), (
            f"{package} imports {dev}"
        )


def test_the_cycle_finder_finds_cycles():
    # given a graph with a two-file cycle and a three-file cycle beside acyclic edges
    edges = {"a": {"b"}, "b": {"a", "c"}, "c": set(), "x": {"y"}, "y": {"z"}, "z": {"x"}}
    # then both are found, and nothing else
    assert sorted(_cycles(edges)) == [["a", "b"], ["x", "y", "z"]]
