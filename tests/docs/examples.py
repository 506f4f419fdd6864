"""The examples of README.md and docs/*.md, as the tests in this folder run them.

An example is a fenced code block whose info string says what it holds:

* ``sh`` (or ``bash``, ``shell``, ``console``): commands, one a line (``\\`` continues a line,
  ``#`` starts a comment, ``&&`` chains);
* ``http``: one request to the REST API (``METHOD /path``, header lines, a blank line, an
  optional body), optionally followed by ``HTTP/1.1 <status>`` and the answer's JSON, in
  which ``…`` stands for any value (in a list: for any number of items). The answer must
  have every documented key and equal every documented value (``mismatches``).

Blocks of other kinds (``json``, a CSV, a map of the packages) are material, not examples;
a command or a request written in one of them is reported, so that no example escapes the
tests by its label.
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHELL = {"sh", "bash", "shell", "console"}
HTTP = {"http"}
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
#: lines that look like an example wherever they stand
COMMAND_LIKE = re.compile(
    r"^\s*(\$ )?((\.venv/bin/)?(flask|celery|gunicorn|curl|make|python3?|docker)\s"
    r"|(GET|POST|PUT|PATCH|DELETE) /)")
ANY = object()   # "…" in a documented answer


@dataclass(frozen=True)
class Block:
    path: Path
    line: int          # of the opening fence, 1-based
    lang: str
    text: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """Every fenced code block of a Markdown file."""
    found, lines, i = [], path.read_text(encoding="utf-8").splitlines(), 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, start, body = opening["fence"], i, []
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(fence)
                                      and not lines[i].strip().strip(fence[0])):
            body.append(lines[i])
            i += 1
        info = opening["info"].strip().split()
        found.append(Block(path, start + 1, info[0].lower() if info else "", "\n".join(body)))
        i += 1
    return found


def example_blocks() -> list[Block]:
    return [block for path in documents() for block in blocks(path)
            if block.lang in SHELL | HTTP]


def disguised_examples() -> list[str]:
    """Commands or requests in blocks that are not labelled as examples."""
    return [f"{block.name}: {line.strip()}"
            for path in documents() for block in blocks(path)
            if block.lang not in SHELL | HTTP
            for line in block.text.splitlines() if COMMAND_LIKE.match(line)]


# ---------------------------------------------------------------------- shell
def commands(block: Block) -> list[tuple[str, list[str]]]:
    """The block's commands: (the line as written, its words); ``&&`` splits a line into
    commands."""
    text = re.sub(r"\\\n", " ", block.text)
    found = []
    for line in text.splitlines():
        line = line.removeprefix("$ ")
        command: list[str] = []
        for word in shlex.split(line, comments=True) + ["&&"]:
            if word == "&&":
                if command:
                    found.append((line, command))
                command = []
            else:
                command.append(word)
    return found


# ---------------------------------------------------------------------- http
@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict
    body: str | None
    status: int | None       # documented answer, if any
    answer: object           # documented JSON (ANY where it says …), or None


def request(block: Block) -> Request:
    lines = block.text.splitlines()
    method, path = lines[0].split()[:2]
    headers, i = {}, 1
    while i < len(lines) and lines[i].strip():
        name, value = lines[i].split(":", 1)
        headers[name.strip()] = value.strip()
        i += 1
    rest = "\n".join(lines[i:])
    body, _, answer = rest.partition("\nHTTP/1.1 ")
    if rest.lstrip().startswith("HTTP/1.1 "):
        body, answer = "", rest.lstrip().removeprefix("HTTP/1.1 ")
    status, documented = None, None
    if answer:
        first, _, json_text = answer.partition("\n")
        status = int(first.split()[0])
        if json_text.strip():
            documented = json.loads(re.sub(r'(?<!["\w])…(?!["\w])', '"…"', json_text),
                                    object_hook=_any_values)
            documented = _any(documented)
    return Request(method.upper(), path, headers, body.strip() or None, status, documented)


def _any(value):
    if value == "…":
        return ANY
    if isinstance(value, list):
        return [_any(item) for item in value]
    return value


def _any_values(obj: dict) -> dict:
    return {key: _any(value) for key, value in obj.items()}


def mismatches(documented, actual, where: str = "") -> list[str]:
    """How ``actual`` differs from the documented answer: every documented key must be
    there (an object may have more), a list must have the documented items (a … item
    stands for any number of them), every documented value but … must be equal."""
    if documented is ANY:
        return []
    if isinstance(documented, dict):
        if not isinstance(actual, dict):
            return [f"{where or 'answer'}: an object was documented, got {actual!r}"]
        problems = []
        for key, value in documented.items():
            if key not in actual:
                problems.append(f"{where}.{key}: missing")
            else:
                problems += mismatches(value, actual[key], f"{where}.{key}")
        return problems
    if isinstance(documented, list):
        # a … item stands for any number of items: [first, …, last]
        gap = next((index for index, item in enumerate(documented) if item is ANY), None)
        head = documented if gap is None else documented[:gap]
        tail = [] if gap is None else documented[gap + 1:]
        if not isinstance(actual, list) or len(actual) < len(head) + len(tail) \
                or (gap is None and len(actual) != len(documented)):
            return [f"{where}: {len(head) + len(tail)} items documented, got {actual!r}"]
        pairs = [*zip(head, actual), *zip(tail, actual[len(actual) - len(tail):])]
        return [problem for index, (item, value) in enumerate(pairs)
                for problem in mismatches(item, value, f"{where}[{index}]")]
    if documented != actual:
        return [f"{where}: documented {documented!r}, got {actual!r}"]
    return []
