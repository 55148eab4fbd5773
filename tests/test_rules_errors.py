"""Every kind of mistake in a rules file: who it is pinned on, which line, what it says.

Each case lists every problem `load` must report for its document, so a case
also proves nothing else (no knock-on error, no traceback) comes out.
"""

from __future__ import annotations

import pytest

from guvscale.rules import RuleIssue, RulesError, check, load
from guvscale.rules.source import MAX_BYTES, MAX_DEPTH

# (document, [(role, key, line, words the message must contain)])
Expected = list[tuple[str | None, str | None, int | None, str]]

DOCUMENT: list[tuple[str, str, Expected]] = [
    ("empty", "", [(None, None, None, "the rules are empty")]),
    ("only comments", "# nothing yet\n\n", [(None, None, None, "the rules are empty")]),
    ("only defaults", "'*':\n  deadline: 90\n", [(None, None, 1, "only the '*' defaults")]),
    ("top is a list", "- emailsender\n- thumbs\n", [(None, None, 1, "not a list")]),
    ("top is text", "emailsender\n", [(None, None, 1, "not 'emailsender'")]),
    ("syntax", "a: [1, 2\n", [(None, None, 1, "not valid YAML")]),
    ("bad indent", "a:\n  p: 1\n    d: 2\n", [(None, None, 3, "check the indentation")]),
    ("tab", "a:\n\tp: 3\n", [(None, None, 2, "not tabs")]),
    ("unquoted *", "*:\n  p: 3\na: {}\n", [(None, None, 1, "Put the defaults role in quotes")]),
    (
        "glued key then another key",
        "a:\n  p:60\n  deadline: 240\n",
        [(None, None, 3, "Line 2 reads 'p:60': write 'p: 60' with a space after the colon")],
    ),
    (
        "glued key last",
        "a:\n  deadline: 240\n  p:60\n",
        [(None, None, 3, "write 'p: 60' with a space")],
    ),
    ("two documents", "a: {}\n---\nb: {}\n", [(None, None, 2, "single YAML document")]),
    ("alias", "a: &x {p: 2}\nb: *x\n", [(None, None, 2, "aliases (*name) are not supported")]),
    ("merge key", "a:\n  <<: {p: 2}\n", [("a", None, 2, "merge keys (<<) are not supported")]),
    ("NUL character", "a: {}\nb: \x00\n", [(None, None, 2, "character YAML does not allow")]),
    (
        "half of a \\u pair",
        'a: {}\nb: {queue: "mails-\\ud83d"}\n',
        [(None, None, 2, "half a character, and its other half is missing")],
    ),
    ("half of a \\u pair as a key", '"\\udce7": {}\n', [(None, None, 1, "half a character")]),
    (
        "too long",
        "a: {}\n" + "#" * MAX_BYTES,
        [(None, None, None, "too long")],
    ),
    (
        "too deep",
        "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n",
        [(None, None, 1, f"nested more than {MAX_DEPTH} levels")],
    ),
    (
        "very deep does not crash",
        "a: " + "[" * 30_000,
        [(None, None, 1, "nested more than")],
    ),
    (
        "duplicate role",
        "a:\n  p: 1\na:\n  p: 2\n",
        [("a", None, 3, "'a' is given twice (lines 1 and 3)")],
    ),
    (
        "key that is a list",
        "a:\n  ? [x, y]\n  : 1\n",
        [("a", None, 2, "a key must be a plain name")],
    ),
]

ROLE: list[tuple[str, str, Expected]] = [
    (
        "two roles for one process type",
        "a: {worker: w, queue: q1}\nb: {worker: w, queue: q2}\n",
        [("b", "worker", 2, "process type 'w' is scaled by role 'a' (line 1) too")],
    ),
    (
        "a role for one of another role's Eco process types",
        "a: {workers: [w1, w2], max: 2}\nw2: {}\n",
        [("w2", "worker", 2, "process type 'w2' is scaled by role 'a' (line 1) too")],
    ),
    ("role is a number", "a: 5\n", [("a", None, 1, "must be keys like 'deadline: 60'")]),
    ("role is a list", "a:\n  - p: 1\n", [("a", None, 1, "not a list")]),
    ("role without settings", "a:\nb: {}\n", [("a", None, 1, "write 'a: {}' to use every")]),
    ("role is a glued key", "a:\n  p:60\n", [("a", None, 1, "write 'p: 60' with a space")]),
    ("empty role name", "'': {}\nb: {}\n", [(None, None, 1, "a role needs a name")]),
    # The worker's tables hold role names of up to 100 characters, and
    # PostgreSQL refuses a NUL in text: either stopped the tenant's saves.
    (
        "role name too long",
        "x" * 150 + ": {worker: w}\n",
        [(None, None, 1, "is 150 characters long: at most 100")],
    ),
    (
        "role name with a NUL",
        '"wo\\0rker": {worker: w}\n',
        [(None, None, 1, "cannot hold a control character (U+0000)")],
    ),
    (
        "queue with a NUL",
        'a: {queue: "jo\\0bs"}\n',
        [("a", "queue", 1, "not text holding a control character (U+0000)")],
    ),
    (
        "role name is no process type",
        "email sender: {}\n",
        [("email sender", "worker", 1, "set worker: to the process type")],
    ),
]

KEYS: list[tuple[str, str, Expected]] = [
    (
        "misspelt key",
        "a:\n  dealine: 90\n",
        [("a", "dealine", 2, "unknown key 'dealine' (did you mean 'deadline'?)")],
    ),
    (
        "misspelt key, long name suggested",
        "a:\n  maxx: 3\n",
        [("a", "maxx", 2, "did you mean 'maximum'?")],
    ),
    ("far from any key", "a:\n  colour: red\n", [("a", "colour", 2, "unknown key 'colour'")]),
    (
        "glued unknown key",
        "a: {dealine:90}\n",
        [("a", "dealine", 1, "is not a known key either (did you mean 'deadline'?)")],
    ),
    ("guv's broker key", "a:\n  broker: amqp://x\n", [("a", "broker", 2, "setting of the add-on")]),
    (
        "glued key in flow style",
        "a: {p:60, deadline: 240}\n",
        [("a", "processing", 1, "write 'p: 60' with a space after the colon")],
    ),
    ("key without value", "a:\n  deadline:\n", [("a", "deadline", 2, "'deadline' has no value")]),
    (
        "short and long name both",
        "a:\n  p: 1\n  processing: 2\n",
        [("a", "processing", 3, "'processing' sets processing, which this role already sets")],
    ),
    (
        "same key twice",
        "a:\n  deadline: 90\n  deadline: 120\n",
        [("a", "deadline", 3, "'deadline' is given twice (lines 2 and 3)")],
    ),
    (
        "short key twice",
        "a:\n  p: 1\n  p: 2\n",
        [("a", "processing", 3, "'p' is given twice")],
    ),
    (
        "unknown tag",
        "a:\n  p: !seconds 3\n",
        [("a", "processing", 2, "tags like !seconds are not supported")],
    ),
    (
        "python tag",
        "a:\n  p: !!python/object:os.system x\n",
        [("a", "processing", 2, "tags like !!python/object:os.system")],
    ),
    (
        "number beyond Python's digit limit",
        "a:\n  max: " + "9" * 5000 + "\n",
        [("a", "maximum", 2, "it is too long")],
    ),
]

TYPES: list[tuple[str, str, Expected]] = [
    ("text for a time", "a: {p: fast}\n", [("a", "processing", 1, "number of seconds")]),
    ("quoted number", "a: {d: '90'}\n", [("a", "deadline", 1, "write 90 without quotes")]),
    ("1e3 is text in YAML", "a: {d: 1e3}\n", [("a", "deadline", 1, "write 1000")]),
    ("bool for a time", "a: {boot: yes}\n", [("a", "boot", 1, "not yes/no (yes)")]),
    ("bool for a count", "a: {max: true}\n", [("a", "maximum", 1, "not yes/no (true)")]),
    ("list for a time", "a: {p: [1, 2]}\n", [("a", "processing", 1, "not a list")]),
    ("mapping for a time", "a: {p: {s: 1}}\n", [("a", "processing", 1, "not a set of keys")]),
    ("infinity", "a: {d: .inf}\n", [("a", "deadline", 1, "finite number")]),
    ("not a number", "a: {d: .nan}\n", [("a", "deadline", 1, "finite number")]),
    ("list for a name", "a: {queue: [x]}\n", [("a", "queue", 1, "RabbitMQ queue name")]),
    ("mapping for a list", "a: {steps: {at_least: 1}}\n", [("a", "steps", 1, "must be a list")]),
    ("text for a list", "a: {workers: w1}\n", [("a", "workers", 1, "must be a list")]),
]

RANGES: list[tuple[str, str, Expected]] = [
    ("zero processing", "a: {p: 0}\n", [("a", "processing", 1, "more than 0 seconds, not 0")]),
    ("negative deadline", "a: {d: -5}\n", [("a", "deadline", 1, "more than 0 seconds, not -5")]),
    ("zero boot", "a: {boot: 0}\n", [("a", "boot", 1, "more than 0")]),
    ("zero pollinterval", "a: {pollinterval: 0}\n", [("a", "pollinterval", 1, "more than 0")]),
    ("negative history", "a: {history: -1}\n", [("a", "history", 1, "more than 0")]),
    ("zero target", "a: {target: 0}\n", [("a", "target", 1, "more than 0")]),
    ("a year of deadline", "a: {d: 31536000}\n", [("a", "deadline", 1, "at most 2,592,000")]),
    (
        "1e3 is text in YAML, big",
        "a: {stddev: 1.0e300}\n",
        [("a", "stddev", 1, "write 1.0e+300")],
    ),
    ("negative stddev", "a: {stddev: -1}\n", [("a", "stddev", 1, "0 or more seconds")]),
    ("percentile 100", "a: {percentile: 100}\n", [("a", "percentile", 1, "between 0 and 100")]),
    ("percentile 0", "a: {percentile: 0}\n", [("a", "percentile", 1, "between 0 and 100")]),
    ("percentile 150", "a: {percentile: 150}\n", [("a", "percentile", 1, "not 150")]),
    ("concurrency 0", "a: {concurrency: 0}\n", [("a", "concurrency", 1, "1 or more, not 0")]),
    ("concurrency 2.5", "a: {concurrency: 2.5}\n", [("a", "concurrency", 1, "whole number")]),
    ("concurrency past AMQP", "a: {concurrency: 70000}\n", [("a", "concurrency", 1, "65,535")]),
    ("negative minimum", "a: {min: -1}\n", [("a", "minimum", 1, "0 or more, not -1")]),
    ("fractional maximum", "a: {max: 2.5}\n", [("a", "maximum", 1, "whole number of dynos")]),
    ("maximum 0", "a: {max: 0}\n", [("a", "maximum", 1, "1 or more, not 0")]),
    ("absurd maximum", "a: {max: 1000000}\n", [("a", "maximum", 1, "at most 10,000")]),
    (
        "minimum above maximum",
        "a:\n  max: 2\n  min: 3\n",
        [("a", "minimum", 3, "minimum 3 is more than maximum 2: lower minimum or raise maximum")],
    ),
    (
        "minimum above the default maximum",
        "a:\n  min: 8\n",
        [("a", "minimum", 2, "minimum 8 is more than maximum 5 (the default)")],
    ),
]

CHOICES: list[tuple[str, str, Expected]] = [
    (
        "unknown dyno size",
        "a: {dynosize: standard-3x}\n",
        [("a", "dynosize", 1, "did you mean 'standard-2x'?")],
    ),
    ("retired dyno size", "a: {dynosize: hobby}\n", [("a", "dynosize", 1, "known: eco, basic")]),
    ("unknown model", "a: {model: keda}\n", [("a", "model", 1, "not a scaling model")]),
    (
        "unknown time zone",
        "a: {timezone: Mars/Olympus}\n",
        [("a", "timezone", 1, "not a time zone name")],
    ),
    (
        "time zone in the wrong case",
        "a: {timezone: europe/paris}\n",
        [("a", "timezone", 1, "did you mean 'Europe/Paris'?")],
    ),
    ("time zone path trick", "a: {timezone: ../../etc/passwd}\n", [("a", "timezone", 1, "")]),
    ("bad app name", "a: {app: My App}\n", [("a", "app", 1, "not a Heroku app name")]),
    ("bad process type", "a: {worker: 'run it!'}\n", [("a", "worker", 1, "not a Heroku process")]),
    ("queue too long", f"a: {{queue: {'q' * 300}}}\n", [("a", "queue", 1, "at most 255 bytes")]),
    ("name with spaces", "a: {queue: ' mail'}\n", [("a", "queue", 1, "spaces at its start")]),
]

ECO: list[tuple[str, str, Expected]] = [
    (
        "eco with the default maximum",
        "a:\n  dynosize: eco\n",
        [
            (
                "a",
                "dynosize",
                2,
                "eco dynos cannot run more than one dyno per process type, so maximum 5 "
                "(the default) cannot be reached: set maximum: 1, or list several process "
                "types under workers:",
            )
        ],
    ),
    (
        "basic with maximum 3",
        "a:\n  dynosize: Basic\n  max: 3\n",
        [("a", "maximum", 3, "basic dynos cannot run more than one dyno")],
    ),
    (
        "eco with a schedule above 1",
        "a:\n  dynosize: eco\n  max: 1\n  schedule:\n    - {from: '08:00', to: '09:00', max: 2}\n",
        [("a", "schedule", 4, "a schedule entry above 1 dyno cannot apply")],
    ),
    (
        "worker and workers",
        "a:\n  worker: w\n  workers: [w1, w2]\n",
        [("a", "workers", 3, "either worker (one process type) or workers")],
    ),
    (
        "more maximum than workers",
        "a:\n  dynosize: eco\n  workers: [w1, w2]\n  max: 3\n",
        [("a", "maximum", 4, "maximum 3 is more than the 2 process types under workers")],
    ),
    (
        "minimum above the number of workers",
        "a:\n  workers: [w1, w2]\n  min: 3\n",
        [("a", "minimum", 3, "minimum 3 is more than maximum 2: ")],
    ),
    ("no workers listed", "a: {workers: []}\n", [("a", "workers", 1, "lists no process types")]),
    (
        "a worker twice",
        "a:\n  workers:\n    - w1\n    - w1\n",
        [("a", "workers", 4, "'w1' is listed twice")],
    ),
    (
        "a bad worker name",
        "a:\n  workers:\n    - w1\n    - [w2]\n",
        [("a", "workers", 4, "Heroku process type name")],
    ),
    (
        "schedule above the workers",
        "a:\n  workers: [w1]\n  schedule:\n    - {from: '08:00', to: '09:00', min: 2}\n",
        [("a", "schedule", 3, "schedule entry 1 asks for more dynos than the 1 process")],
    ),
]

STEPS: list[tuple[str, str, Expected]] = [
    (
        "step is not a mapping",
        "a:\n  steps:\n    - 5\n",
        [("a", "steps", 3, "step 1 must be like {at_least: 10, dynos: 2}")],
    ),
    (
        "step key misspelt",
        "a:\n  steps:\n    - {atleast: 0, dynos: 1}\n",
        [
            ("a", "steps", 3, "step 1: unknown key 'atleast' (did you mean 'at_least'?)"),
            ("a", "steps", 3, "step 1 needs 'at_least'"),
        ],
    ),
    (
        "step without dynos",
        "a:\n  steps:\n    - at_least: 0\n",
        [("a", "steps", 3, "step 1 needs 'dynos'")],
    ),
    (
        "negative step",
        "a:\n  steps:\n    - {at_least: -1, dynos: 1}\n",
        [("a", "steps", 3, "step 1: at_least must be 0 or more")],
    ),
    (
        "step with no value",
        "a:\n  steps:\n    - {at_least: 0, dynos: }\n",
        [("a", "steps", 3, "step 1: 'dynos' has no value")],
    ),
    (
        "steps not ascending",
        "a:\n  steps:\n    - {at_least: 10, dynos: 1}\n    - {at_least: 10, dynos: 2}\n",
        [("a", "steps", 4, "step 2: at_least 10 is not more than the step before (10)")],
    ),
    (
        "step above maximum",
        "a:\n  max: 3\n  steps:\n    - {at_least: 0, dynos: 1}\n    - {at_least: 50, dynos: 8}\n",
        [("a", "steps", 3, "step 2 asks for 8 dynos but maximum is 3")],
    ),
]

SCHEDULE: list[tuple[str, str, Expected]] = [
    ("schedule not a list", "a: {schedule: weekdays}\n", [("a", "schedule", 1, "must be a list")]),
    (
        "entry not a mapping",
        "a:\n  schedule:\n    - weekdays\n",
        [("a", "schedule", 3, "schedule entry 1 must be keys like days: weekdays")],
    ),
    (
        "unquoted time (sexagesimal)",
        "a:\n  schedule:\n    - days: weekdays\n"
        "      from: 8:00\n      to: '18:00'\n      min: 2\n",
        [
            (
                "a",
                "schedule",
                4,
                'schedule entry 1: write times in quotes, like from: "08:00": without quotes '
                "YAML reads 8:00 as the number 480",
            )
        ],
    ),
    (
        "hour out of range",
        "a:\n  schedule:\n    - {from: '25:00', to: '26:00', min: 2}\n",
        [
            ("a", "schedule", 3, "'25:00' is not a time of day"),
            ("a", "schedule", 3, "'26:00' is not a time of day"),
        ],
    ),
    (
        "24:00 only as the end",
        "a:\n  schedule:\n    - {from: '24:00', to: '06:00', min: 2}\n",
        [("a", "schedule", 3, "'24:00' is not a time of day")],
    ),
    (
        "time in words",
        "a:\n  schedule:\n    - {from: 8am, to: '18:00', min: 2}\n",
        [("a", "schedule", 3, "'8am' is not a time like \"08:00\"")],
    ),
    (
        "time as a plain number",
        "a:\n  schedule:\n    - {from: 8, to: '18:00', min: 2}\n",
        [("a", "schedule", 3, "'from' must be a time in quotes")],
    ),
    (
        "missing from",
        "a:\n  schedule:\n    - {to: '18:00', min: 2}\n",
        [("a", "schedule", 3, "schedule entry 1 needs 'from'")],
    ),
    (
        "unknown day",
        "a:\n  schedule:\n    - {days: [mon, funday], from: '08:00', to: '09:00', min: 2}\n",
        [("a", "schedule", 3, "'funday' is not a day")],
    ),
    (
        "misspelt day word",
        "a:\n  schedule:\n    - {days: weekday, from: '08:00', to: '09:00', min: 2}\n",
        [("a", "schedule", 3, "did you mean 'weekdays'?")],
    ),
    (
        "no days",
        "a:\n  schedule:\n    - {days: [], from: '08:00', to: '09:00', min: 2}\n",
        [("a", "schedule", 3, "days lists no days")],
    ),
    (
        "entry changes nothing",
        "a:\n  schedule:\n    - {from: '08:00', to: '09:00'}\n",
        [("a", "schedule", 3, "sets neither minimum nor maximum")],
    ),
    (
        "entry minimum above its maximum",
        "a:\n  schedule:\n    - {from: '08:00', to: '09:00', min: 3, max: 2}\n",
        [("a", "schedule", 3, "schedule entry 1: minimum 3 is more than maximum 2")],
    ),
    (
        "entry key misspelt",
        "a:\n  schedule:\n    - {form: '08:00', to: '09:00', min: 1}\n",
        [
            ("a", "schedule", 3, "unknown key 'form' (did you mean 'from'?)"),
            ("a", "schedule", 3, "needs 'from'"),
        ],
    ),
    (
        "second entry pointed at by number and line",
        "a:\n  schedule:\n    - {from: '08:00', to: '09:00', min: 1}\n"
        "    - {from: '10:00', to: '11:00', min: -1}\n",
        [("a", "schedule", 4, "schedule entry 2: minimum must be 0 or more")],
    ),
]

CASES = [
    pytest.param(doc, expected, id=f"{group}: {name}")
    for group, table in [
        ("document", DOCUMENT),
        ("role", ROLE),
        ("keys", KEYS),
        ("types", TYPES),
        ("ranges", RANGES),
        ("choices", CHOICES),
        ("eco", ECO),
        ("steps", STEPS),
        ("schedule", SCHEDULE),
    ]
    for name, doc, expected in table
]


@pytest.mark.parametrize(("doc", "expected"), CASES)
def test_each_mistake_is_reported_once_with_its_place(doc: str, expected: Expected) -> None:
    with pytest.raises(RulesError) as caught:
        load(doc)
    got = caught.value.errors
    assert [(e.role, e.key, e.line) for e in got] == [(r, k, n) for r, k, n, _ in expected], got
    for issue, (*_, words) in zip(got, expected, strict=True):
        assert words in issue.message, issue.message
        assert "Traceback" not in issue.message


def test_all_problems_of_a_document_come_out_in_line_order() -> None:
    doc = (
        "'*':\n"
        "  boot: fast\n"  # 2
        "mailer:\n"
        "  dealine: 90\n"  # 4
        "  max: 2.5\n"  # 5
        "thumbs:\n"
        "  p: 0\n"  # 7
        "  min: 3\n"
        "  max: 2\n"  # 9: min > max
    )
    issues = check(doc)
    assert [(i.role, i.key, i.line) for i in issues] == [
        ("*", "boot", 2),
        ("mailer", "dealine", 4),
        ("mailer", "maximum", 5),
        ("thumbs", "processing", 7),
        ("thumbs", "minimum", 8),
    ]


def test_a_wrong_default_is_reported_once_not_once_per_role() -> None:
    issues = check("'*':\n  p: x\na: {}\nb: {}\nc: {}\n")
    assert [(i.role, i.key, i.line) for i in issues] == [("*", "processing", 2)]


def test_rules_error_carries_a_readable_summary_and_dicts() -> None:
    with pytest.raises(RulesError) as caught:
        load("a:\n  dealine: 90\n  max: 0\n")
    err = caught.value
    assert str(err).startswith("line 2: a.dealine: unknown key 'dealine'")
    assert str(err).endswith("(and 1 more)")
    assert err.to_list()[1] == {
        "role": "a",
        "key": "maximum",
        "line": 3,
        "message": "must be 1 or more, not 0",
    }


def test_issue_text_leaves_out_missing_parts() -> None:
    assert str(RuleIssue(None, None, None, "the rules are empty")) == "the rules are empty"
    assert str(RuleIssue(None, None, 4, "bad")) == "line 4: bad"
    assert str(RuleIssue("a", None, 1, "bad")) == "line 1: a: bad"
    assert RuleIssue("a", "deadline", 2, "bad").where() == "a.deadline"


def test_check_is_empty_for_good_rules() -> None:
    assert check("a: {}\n") == []


def test_a_role_overriding_a_wrong_default_is_still_checked() -> None:
    issues = check("'*':\n  p: x\na:\n  p: 2\n  min: 9\n")
    assert [(i.role, i.key, i.line) for i in issues] == [
        ("*", "processing", 2),
        ("a", "minimum", 5),
    ]


def test_a_character_escaped_as_a_utf16_pair_reads_as_that_character() -> None:
    # Python's json.dumps writes rules this way (JSON is YAML): the two
    # halves were two code points no encoder takes, and a 500 wherever the
    # name was encoded or shown; a role named so was stored first.
    role = load('{"emails": {"queue": "mails-\\ud83d\\udce7", "worker": "emails"}}')["emails"]
    assert role.queue == "mails-\U0001f4e7"
    with pytest.raises(RulesError) as caught:
        load('{"\\ud83d\\udce7": {"queue": "q"}}')
    (issue,) = caught.value.errors
    assert "is not a Heroku process type name" in issue.message
    assert str(issue).encode("utf-8")  # every message can be sent
