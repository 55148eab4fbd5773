"""YAML text -> a small tree that remembers lines, or the reasons it cannot be read.

PyYAML's `safe_load` loses what users need told: which line, duplicate keys
(it keeps the last silently), and how a value was written (`8:00` unquoted
is the number 480). So we compose nodes ourselves and keep all of that.
Hostile input must not crash us: the text size and nesting depth are capped
and aliases are refused (their expansion is how "billion laughs" works).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from guvscale.rules.errors import RuleIssue

MAX_BYTES = 64 * 1024
MAX_DEPTH = 16


@dataclass(frozen=True)
class Scalar:
    line: int
    value: object  # as YAML reads it: None, bool, int, float, str, date...
    text: str  # as written, without quotes
    quoted: bool
    readable: bool = True  # False: the value could not be read (already reported)


@dataclass(frozen=True)
class Seq:
    line: int
    items: tuple[Value, ...]


@dataclass(frozen=True)
class Entry:
    key: str  # the key as written
    line: int  # the key's line
    value: Value


@dataclass(frozen=True)
class Map:
    line: int
    entries: dict[str, Entry] = field(default_factory=dict)


Value = Scalar | Seq | Map


class _Refused(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


_SURROGATE = re.compile("[\ud800-\udfff]")


def _paired(value: str, line: int) -> str:
    """`value` with each UTF-16 pair of \\u escapes joined into its character.

    JSON writers (Python's `json.dumps` among them) escape a character past
    U+FFFF as such a pair, and YAML reads the two halves as two code points
    that no encoder takes: a queue name with an emoji was a 500, and a role
    named so was stored and then broke every dashboard page. A half alone is
    no character at all, and refused.
    """
    try:
        return value.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        raise _Refused(
            line,
            "a \\u escape between \\uD800 and \\uDFFF is half a character, and its other "
            "half is missing: write the character itself",
        ) from None


class _Loader(yaml.SafeLoader):
    """Composes nodes with a depth cap and without aliases."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:  # type: ignore[override]
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(
                line,
                "aliases (*name) are not supported: put settings shared by several roles "
                "under the '*' role instead",
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(line, f"the rules are nested more than {MAX_DEPTH} levels deep")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, ScalarNode) and _SURROGATE.search(node.value):
            node.value = _paired(node.value, line)
        return node  # type: ignore[no-any-return]


# `p:60` — a key glued to its value, the trap the rules format is known for.
# URLs (`http://`) and times (`8:00`) are not keys.
_GLUED = re.compile(r"^\s*(?:-\s+)?([A-Za-z_][\w-]*):([^\s/:][^\s]*)")


def glued_key(text: str) -> tuple[str, str] | None:
    """('p', '60') for 'p:60': a key and value written without a space after the colon."""
    m = _GLUED.match(text)
    return (m.group(1), m.group(2)) if m else None


def _syntax_hint(text: str, line: int | None) -> str:
    lines = text.splitlines()
    here = lines[line - 1] if line is not None and 0 < line <= len(lines) else ""
    if here.lstrip().startswith("*"):
        return " Put the defaults role in quotes: '*':"
    if "\t" in here[: len(here) - len(here.lstrip())]:
        return " Indent with spaces, not tabs."
    # A glued key is read as text that runs on into the next line, so the
    # parser complains a line or two later: look back for it.
    upto = lines[: line if line is not None else len(lines)]
    for n in range(len(upto), max(0, len(upto) - 3), -1):
        glued = glued_key(upto[n - 1])
        if glued:
            k, v = glued
            return f" Line {n} reads '{k}:{v}': write '{k}: {v}' with a space after the colon."
    return ""


# PyYAML's wording of the usual mistakes, in words a user can act on.
_PLAIN_WORDS = {
    "mapping values are not allowed here": "a ':' where none can be; check the indentation",
    "could not find expected ':'": "a line that is not 'key: value'",
    "found character '\\t' that cannot start any token": "a tab character",
    "found unexpected end of stream": "the text ends inside quotes or brackets",
    "expected <block end>, but found '<block mapping start>'": "a line indented wrong",
    "did not find expected key": "a line indented wrong",
}


def _syntax_error(text: str, exc: yaml.YAMLError) -> RuleIssue:
    problem = str(getattr(exc, "problem", None) or str(exc).splitlines()[0])
    marks = [getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)]
    if problem == "could not find expected ':'":
        marks.reverse()  # the problem is found at the end of the text; the key is what matters
    mark = next((m for m in marks if m is not None), None)
    # The end of the text is past its last line: point at the last line instead.
    last = max(1, len(text.rstrip().splitlines()))
    line = min(mark.line + 1, last) if mark is not None else None
    plain = _PLAIN_WORDS.get(problem)
    what = f": {plain}" if plain else f" ({problem})"
    return RuleIssue(None, None, line, f"this is not valid YAML{what}.{_syntax_hint(text, line)}")


@dataclass
class _Walker:
    issues: list[RuleIssue] = field(default_factory=list)
    constructor: SafeConstructor = field(default_factory=SafeConstructor)

    def value(self, node: Node, path: tuple[str, ...]) -> Value:
        line = node.start_mark.line + 1
        if isinstance(node, ScalarNode):
            try:
                v = self.constructor.construct_object(node, deep=True)
            except yaml.YAMLError:
                tag = node.tag.replace("tag:yaml.org,2002:", "!!")
                why = f"tags like {tag} are not supported"
            except (ValueError, ArithmeticError, TypeError):
                why = "it is too long" if len(node.value) > 100 else "it is not a plain value"
            else:
                return Scalar(line, v, node.value, node.style is not None)
            self._issue(path, line, f"cannot read the value '{node.value[:40]}': {why}")
            return Scalar(line, None, node.value, node.style is not None, readable=False)
        if isinstance(node, SequenceNode):
            return Seq(line, tuple(self.value(n, path) for n in node.value))
        assert isinstance(node, MappingNode)
        entries: dict[str, Entry] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                self._issue(path, key_line, "a key must be a plain name, not a list or mapping")
                continue
            key = key_node.value
            if key == "<<":
                self._issue(path, key_line, "merge keys (<<) are not supported: use the '*' role")
                continue
            if key in entries:
                self._issue(
                    (*path, key),
                    key_line,
                    f"'{key}' is given twice (lines {entries[key].line} and {key_line}); "
                    "YAML would silently keep only the last one: remove one",
                )
            entries[key] = Entry(key, key_line, self.value(value_node, (*path, key)))
        return Map(line, entries)

    def _issue(self, path: tuple[str, ...], line: int, message: str) -> None:
        role = path[0] if path else None
        key = path[1] if len(path) > 1 else None
        self.issues.append(RuleIssue(role, key, line, message))


def readable(value: Value) -> bool:
    """False when some value inside could not be read (and was reported)."""
    if isinstance(value, Scalar):
        return value.readable
    if isinstance(value, Seq):
        return all(readable(v) for v in value.items)
    return all(readable(e.value) for e in value.entries.values())


def read(text: str) -> tuple[Value | None, list[RuleIssue]]:
    """The document's tree (None when empty or unreadable) and the problems found."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        return None, [
            RuleIssue(
                None,
                None,
                None,
                f"the rules are too long ({size:,} bytes; at most {MAX_BYTES:,})",
            )
        ]
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except _Refused as exc:
        return None, [RuleIssue(None, None, exc.line, exc.message)]
    except yaml.composer.ComposerError as exc:
        if "single document" in str(exc):
            mark = exc.problem_mark
            line = mark.line + 1 if mark is not None else None
            msg = "the rules must be a single YAML document: remove the '---' separator"
            return None, [RuleIssue(None, None, line, msg)]
        return None, [_syntax_error(text, exc)]
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        msg = f"the text holds a character YAML does not allow (code {exc.character:#x}): remove it"
        return None, [RuleIssue(None, None, line, msg)]
    except yaml.YAMLError as exc:
        return None, [_syntax_error(text, exc)]
    except RecursionError:  # the depth cap should prevent it; belt and braces
        return None, [RuleIssue(None, None, None, "the rules are nested too deeply")]
    if node is None:
        return None, []
    walker = _Walker()
    return walker.value(node, ()), walker.issues
