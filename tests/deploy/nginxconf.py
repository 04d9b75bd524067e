"""A small reader of nginx configuration files, so tests assert directives, not substrings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""
    \s+ | \#[^\n]*                  # blanks and comments: skipped
    | (?P<quoted>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<punct>[{};])
    | (?P<word>[^\s{};'"]+)
    """,
    re.VERBOSE,
)


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None
    parents: list[str] = field(default_factory=list)

    def find(self, name: str) -> list[Directive]:
        return [d for d in walk(self.block or []) if d.name == name]

    def first(self, name: str) -> Directive:
        found = [d for d in self.block or [] if d.name == name]
        assert found, f"no {name!r} directly in {self.name} {' '.join(self.args)}"
        return found[0]


def _tokens(text: str) -> Iterator[str]:
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"cannot read nginx config at {text[position : position + 40]!r}")
        position = match.end()
        token = match.group("quoted") or match.group("punct") or match.group("word")
        if token:
            yield token[1:-1] if token[0] in "'\"" else token


def parse(text: str) -> list[Directive]:
    """The configuration as a tree of directives (quotes removed from arguments)."""
    tokens = list(_tokens(text))
    directives, position = _parse_block(tokens, 0, [])
    if position != len(tokens):
        raise ValueError("unbalanced '}' in nginx config")
    return directives


def _parse_block(tokens: list[str], position: int, parents: list[str]) -> tuple[list, int]:
    directives: list[Directive] = []
    words: list[str] = []
    while position < len(tokens):
        token = tokens[position]
        position += 1
        if token == ";":
            directives.append(Directive(words[0], words[1:], None, parents))
            words = []
        elif token == "{":
            inner, position = _parse_block(tokens, position, [*parents, words[0]])
            directives.append(Directive(words[0], words[1:], inner, parents))
            words = []
        elif token == "}":
            return directives, position
        else:
            words.append(token)
    if words:
        raise ValueError(f"unterminated directive {words!r}")
    return directives, position


def walk(directives: list[Directive]) -> Iterator[Directive]:
    for directive in directives:
        yield directive
        if directive.block:
            yield from walk(directive.block)


def find(directives: list[Directive], name: str) -> list[Directive]:
    return [d for d in walk(directives) if d.name == name]


def location(server: Directive, *args: str) -> Directive:
    for directive in server.block or []:
        if directive.name == "location" and directive.args == list(args):
            return directive
    raise AssertionError(f"no location {' '.join(args)}")
