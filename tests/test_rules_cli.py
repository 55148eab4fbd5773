"""`guvscale validate FILE`: exit codes and the lines it prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from guvscale.cli import main, parse


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_good_rules_print_one_line_per_role(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(
        tmp_path,
        'emailsender:\n  queue: "send-email"\n  deadline: 180\n  minimum: 0\n  maximum: 5\n'
        "  concurrency: 10\n  processing: 0.300\n"
        "thumbs:\n  dynosize: eco\n  workers: [thumb1, thumb2]\n  model: guv\n",
    )
    assert main(["validate", file]) == 0
    out = capsys.readouterr().out.splitlines()
    # thumbs keeps the defaults (jobs 10 s, deadline 60 s, boot 30 s, polls 30 s):
    # too slow to react to a burst, which is a warning, not a problem.
    assert out == [
        f"{file}:8: thumbs.boot: dynos boot in 30 s and polls come every 30 s: 60 s, no "
        "sooner than the 33 s a job may wait before it must start, so only dynos already "
        "running can meet a sudden burst; the model keeps headroom for one (raise minimum "
        "to choose it yourself)",
        "emailsender: queue send-email, 0–5 dynos, target 179.7 s, "  # noqa: RUF001
        "10 jobs per dyno, jobs 0.3 s, deadline 180 s",
        "thumbs: queue thumbs, eco process types thumb1, thumb2, 1–2 dynos, "  # noqa: RUF001
        "target 48.4 s, guv's model, jobs 10 s, deadline 60 s",
    ]


def test_bad_rules_print_file_line_role_key_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path, "a:\n  dealine: 90\n  max: 0\nb: 5\n")
    assert main(["validate", file]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{file}:2: a.dealine: unknown key 'dealine' (did you mean 'deadline'?)",
        f"{file}:3: a.maximum: must be 1 or more, not 0",
        f"{file}:4: b: the settings of 'b' must be keys like 'deadline: 60' on indented "
        "lines, not '5'",
    ]
    assert "3 problems" in captured.err


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("", "{file}: the rules are empty"),
        ("a: [1\n", "{file}:1: this is not valid YAML"),
    ],
)
def test_document_problems_leave_out_role_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: str
) -> None:
    file = write(tmp_path, text)
    assert main(["validate", file]) == 1
    assert capsys.readouterr().out.startswith(line.format(file=file))


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = str(tmp_path / "nope.yaml")
    assert main(["validate", file]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == f"{file}: no such file"


def test_a_folder_or_binary_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path)]) == 2
    binary = tmp_path / "rules.bin"
    binary.write_bytes(b"\xff\xfe\x00a")
    assert main(["validate", str(binary)]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err
    assert "not UTF-8" in err


def test_a_huge_file_is_refused_without_reading_it_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path, "a: {}\n" + "#" * 5_000_000)
    assert main(["validate", file]) == 1
    assert "too long" in capsys.readouterr().out


@pytest.mark.parametrize("token", ["-Ab3_x", "--x9", "Ab3-x"])
def test_a_token_starting_with_a_dash_is_read_as_the_token(token: str) -> None:
    # One token in 64 starts with "-" (url-safe base64); argparse took it for
    # an option and refused "--token" as missing its value.
    args = parse(["config", "get", "--token", token, "--id", "gvs-1"])
    assert (args.token, args.id) == (token, "gvs-1")
