"""The executable examples of docs/partners.md: how they are found, run and compared.

An example is a fenced block whose info string carries the word `example`:
- ```` ```sh example ```` holds one `curl` command (options -s, -S, -X, -H, -d) against
  `$GATEWAY`, with `$OWNER_TOKEN`-style variables as `make run` prints them;
- ```` ```graphql example as=VIEWER_TOKEN ```` holds a GraphQL document sent with that token.
The next fenced block, ```` ```json expect ```` (optionally `status=401`), is the answer.
In it, the string "..." stands for any value, and a list ending with "..." may go on.
An answer that is not JSON (the SDL, an empty 304) is ```` ```text expect ````: its lines
are the answer's, and a line `...` stands for any number of lines.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ANY = "..."
_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_VARIABLE = re.compile(r"\$\{?([A-Z_]+)\}?")


@dataclass(frozen=True)
class Block:
    line: int
    info: list[str]
    text: str

    @property
    def language(self) -> str:
        return self.info[0] if self.info else ""

    def option(self, name: str) -> str | None:
        for word in self.info[1:]:
            key, _, value = word.partition("=")
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: str | None


@dataclass(frozen=True)
class Example:
    line: int
    request: Request
    status: int
    expected: Any
    # True when the answer is documented as text (```text expect), not as JSON.
    text: bool = False


def blocks(markdown: str) -> list[Block]:
    found = []
    for match in _FENCE.finditer(markdown):
        line = markdown.count("\n", 0, match.start()) + 1
        found.append(Block(line, match.group(1).split(), match.group(2)))
    return found


def _expand(text: str, variables: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise ValueError(f"unknown variable ${name}")
        return variables[name]

    return _VARIABLE.sub(value, text)


def parse_curl(command: str, variables: dict[str, str]) -> Request:
    words = shlex.split(command.replace("\\\n", " "))
    if not words or words[0] != "curl":
        raise ValueError(f"not a curl command: {command[:40]!r}")
    method, headers, body, url = None, {}, None, None
    rest = iter(words[1:])
    for word in rest:
        if word in ("-s", "-S", "-sS"):
            continue
        if word == "-X":
            method = next(rest)
        elif word == "-H":
            name, _, value = _expand(next(rest), variables).partition(":")
            headers[name.strip()] = value.strip()
        elif word in ("-d", "--data"):
            body = next(rest)
        elif word.startswith("-"):
            raise ValueError(f"unsupported curl option {word}")
        else:
            url = _expand(word, variables)
    if url is None:
        raise ValueError("curl command without a URL")
    gateway = variables["GATEWAY"]
    if not url.startswith(gateway):
        raise ValueError(f"examples call $GATEWAY, not {url}")
    return Request(method or ("POST" if body else "GET"), url[len(gateway) :], headers, body)


def examples(markdown: str, variables: dict[str, str]) -> list[Example]:
    found: list[Example] = []
    all_blocks = blocks(markdown)
    for block, following in zip(all_blocks, [*all_blocks[1:], None], strict=True):
        if "example" not in block.info:
            continue
        if following is None or following.info[:2] not in (["json", "expect"], ["text", "expect"]):
            raise ValueError(f"line {block.line}: an example must be followed by ```json expect")
        if block.language == "sh":
            request = parse_curl(block.text, variables)
        elif block.language == "graphql":
            token_name = block.option("as")
            headers = {"Content-Type": "application/json"}
            if token_name:
                headers["Authorization"] = f"Bearer {variables[token_name]}"
            request = Request("POST", "/graphql", headers, json.dumps({"query": block.text}))
        else:
            raise ValueError(f"line {block.line}: no runner for {block.language} examples")
        status = int(following.option("status") or 200)
        if following.language == "text":
            found.append(Example(block.line, request, status, following.text, text=True))
        else:
            found.append(Example(block.line, request, status, json.loads(following.text)))
    return found


def text_mismatches(expected: str, actual: str) -> list[str]:
    """Where a text answer differs from the documented lines (`...` for any run of lines)."""
    pattern = "".join(
        r"(?:.*\n)*?" if line == ANY else re.escape(line) + r"\n" for line in expected.splitlines()
    )
    if re.fullmatch(pattern, actual if actual.endswith("\n") or not actual else actual + "\n"):
        return []
    return [f"documented text {expected[:200]!r}, got {actual[:200]!r}"]


def mismatches(expected: Any, actual: Any, where: str = "$") -> list[str]:
    """Where `actual` differs from the documented `expected`; empty when it matches."""
    if expected == ANY:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: documented an object, got {actual!r}"]
        problems = [f"{where}.{key}: undocumented" for key in actual if key not in expected]
        problems += [f"{where}.{key}: missing" for key in expected if key not in actual]
        for key in expected.keys() & actual.keys():
            problems += mismatches(expected[key], actual[key], f"{where}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: documented a list, got {actual!r}"]
        open_ended = bool(expected) and expected[-1] == ANY
        items = expected[:-1] if open_ended else expected
        if len(actual) < len(items) or (not open_ended and len(actual) != len(items)):
            return [f"{where}: documented {len(items)} items, got {len(actual)}"]
        problems = []
        for index, item in enumerate(items):
            problems += mismatches(item, actual[index], f"{where}[{index}]")
        return problems
    return [] if expected == actual else [f"{where}: documented {expected!r}, got {actual!r}"]


def read_guide(root: Path) -> str:
    return (root / "docs" / "partners.md").read_text()
