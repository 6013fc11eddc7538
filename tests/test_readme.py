"""The README runs as written: its shell blocks, in order, with the exit codes it claims.

Which blocks run
    Every fenced block of README.md tagged ``sh`` or ``bash``, in the order of the file,
    unless the line just above its fence is ``<!-- not-run -->``. Blocks tagged
    ``console`` are transcripts (commands with what they printed) and never run.

How they run
    All runnable blocks run in one bash session, as a reader typing them into one
    terminal would (``export`` and ``cd`` carry over from block to block). The session
    starts in a fresh temporary directory that stands for the root of a clone: it holds
    only ``schemas``, a link to the shipped schemas. HOME points into the temporary
    directory (so ``~/.config`` is empty), PATH starts with the bin directory of the
    Python running the tests (its ``custrec``, ``python`` and ``pip``), and no
    ``CUSTREC_*`` variable is inherited.

What is checked
    Each command (a line, its ``\\`` continuations, a here-document, or a compound
    command such as ``if ... fi``) must exit 0, unless the command carries a trailing
    comment that starts with ``exit N`` (``custrec collect ...   # exit 1: ...``): then
    it must exit N. The run stops at the first command that does not, and the failure
    names the block, the README line, the command and its stderr.

    Blocks that use ``jq`` are left out only when ``jq`` is not installed; the test is
    then reported as skipped, naming them, after the other blocks passed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import REPO

NOT_RUN = "<!-- not-run -->"
RUNNABLE_TAGS = {"sh", "bash"}
_FENCE = re.compile(r"^```(\w*)\s*$")
_EXPECTED_EXIT = re.compile(r"(?:^|\s)#\s*exit (\d+)\b")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")
_USES_JQ = re.compile(r"(?:^|[\s|(])jq\b", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    number: int  # 1-based, counting every fenced block of the README
    line: int  # README line of the block's first line of code
    tag: str
    code: str
    marked_not_run: bool

    @property
    def runs(self) -> bool:
        return self.tag in RUNNABLE_TAGS and not self.marked_not_run


@dataclass(frozen=True)
class Command:
    block: int
    line: int  # README line where the command starts
    text: str
    expected_exit: int


def fenced_blocks(markdown: str) -> list[Block]:
    """Every fenced block of ``markdown`` with its tag and whether it is marked not-run."""
    blocks: list[Block] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        previous = next((ln.strip() for ln in reversed(lines[:index]) if ln.strip()), "")
        blocks.append(
            Block(
                number=len(blocks) + 1,
                line=index + 2,
                tag=opening.group(1),
                code="\n".join(lines[index + 1 : end]) + "\n",
                marked_not_run=previous == NOT_RUN,
            )
        )
        index = end + 1
    return blocks


def _is_complete(text: str) -> bool:
    """Whether bash reads ``text`` as whole commands (no open quote, if, case...)."""
    return subprocess.run(["bash", "-n"], input=text.encode(), capture_output=True).returncode == 0


def split_commands(block: Block) -> list[Command]:
    """The commands of a block, each with the README line it starts on and the exit
    code the README claims for it."""
    commands: list[Command] = []
    lines = block.code.splitlines()
    index = 0
    while index < len(lines):
        if not lines[index].strip() or lines[index].lstrip().startswith("#"):
            index += 1
            continue
        start = index
        own_lines: list[str] = []  # the command's lines, here-document bodies left out
        text: list[str] = []
        while index < len(lines):
            line = lines[index]
            text.append(line)
            own_lines.append(line)
            index += 1
            heredoc = _HEREDOC.search(line)
            if heredoc:
                while index < len(lines) and lines[index] != heredoc.group(2):
                    text.append(lines[index])
                    index += 1
                text.append(lines[index] if index < len(lines) else heredoc.group(2))
                index += 1
            if line.endswith("\\"):
                continue
            if _is_complete("\n".join(text) + "\n"):
                break
        markers = [int(m.group(1)) for ln in own_lines for m in _EXPECTED_EXIT.finditer(ln)]
        assert len(markers) <= 1, f"README line {block.line + start}: two exit markers"
        commands.append(
            Command(
                block=block.number,
                line=block.line + start,
                text="\n".join(text),
                expected_exit=markers[0] if markers else 0,
            )
        )
    return commands


def session_script(commands: list[Command], log_dir: Path) -> str:
    """One bash script running ``commands`` in order: each one's exit code, stdout and
    stderr are kept in ``log_dir``; the script stops at the first unexpected exit code."""
    parts = []
    for number, command in enumerate(commands):
        parts.append(
            f"{{ {command.text}\n}} >'{log_dir}/{number}.out' 2>'{log_dir}/{number}.err'\n"
            f"__rc=$?\n"
            f"echo \"{number} $__rc\" >>'{log_dir}/codes'\n"
            f'[ "$__rc" -eq {command.expected_exit} ] || exit 0\n'
        )
    return "".join(parts)


@dataclass(frozen=True)
class SessionResult:
    ran: int
    failure: str | None


def run_session(commands: list[Command], workdir: Path, home: Path) -> SessionResult:
    """Run ``commands`` in one bash session in ``workdir``; the first failure described."""
    log_dir = workdir.parent / "readme-log"
    log_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTREC_")}
    env["HOME"] = str(home)
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", session_script(commands, log_dir)],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=300,
        check=False,
    )
    codes_file = log_dir / "codes"
    codes = [
        int(line.split()[1])
        for line in (codes_file.read_text().splitlines() if codes_file.exists() else [])
    ]
    for number, code in enumerate(codes):
        if code != commands[number].expected_exit:
            return SessionResult(number + 1, _describe(commands[number], code, log_dir, number))
    if len(codes) < len(commands):
        command = commands[len(codes)]
        return SessionResult(
            len(codes),
            _describe(command, None, log_dir, len(codes)),
        )
    return SessionResult(len(codes), None)


def _describe(command: Command, code: int | None, log_dir: Path, number: int) -> str:
    def tail(name: str) -> str:
        path = log_dir / f"{number}.{name}"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    outcome = "ended the shell session" if code is None else f"exited {code}"
    return (
        f"README.md block {command.block}, line {command.line}: the command\n"
        f"{command.text}\n{outcome}, expected exit {command.expected_exit}\n"
        f"--- its stderr ---\n{tail('err')}\n--- its stdout ---\n{tail('out')}"
    )


def readme_commands(markdown: str, *, with_jq: bool) -> tuple[list[Command], list[int]]:
    """The commands to run, and the numbers of the blocks left out for want of jq."""
    commands: list[Command] = []
    left_out: list[int] = []
    for block in fenced_blocks(markdown):
        if not block.runs:
            continue
        if not with_jq and _USES_JQ.search(block.code):
            left_out.append(block.number)
            continue
        commands.extend(split_commands(block))
    return commands, left_out


def clone_like_directory(tmp_path: Path) -> tuple[Path, Path]:
    """A directory standing for a fresh clone (only ``schemas``), and an empty HOME."""
    workdir = tmp_path / "clone"
    workdir.mkdir()
    (workdir / "schemas").symlink_to(REPO / "schemas", target_is_directory=True)
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    return workdir, home


def test_readme_runs_as_written(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands, left_out = readme_commands(readme, with_jq=shutil.which("jq") is not None)
    assert len(commands) > 20, "the README's tour is missing or marked not-run"
    workdir, home = clone_like_directory(tmp_path)
    result = run_session(commands, workdir, home)
    assert result.failure is None, result.failure
    if left_out:
        pytest.skip(
            f"jq is not installed: README blocks {left_out} were not run "
            f"(the other {len(commands)} commands passed)"
        )


def test_readme_marks_its_convention() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "tests/test_readme.py" in readme, "the README should say how its blocks are run"
    blocks = fenced_blocks(readme)
    assert blocks[0].marked_not_run, "the first block (make demo, make test) is not run"
    assert any(_EXPECTED_EXIT.search(block.code) for block in blocks if block.runs)


SAMPLE = """\
# A sample

<!-- not-run -->
```sh
make demo
```

```sh
# comment
export GREETING=hello
test "$GREETING" = hello
cat > script.sh <<'EOF'
echo "$1"
exit 3
EOF
sh script.sh one \\
  two   # exit 3
if true; then
  echo yes
fi
false    # exit 1: a trailing comment says so
```

```console
$ false
```

```sh
test -f script.sh && echo "the session goes on"
ls missing-file
echo never
```
"""


def test_sample_blocks_are_split_and_marked() -> None:
    blocks = fenced_blocks(SAMPLE)
    assert [(b.tag, b.runs) for b in blocks] == [
        ("sh", False),
        ("sh", True),
        ("console", False),
        ("sh", True),
    ]
    commands, _ = readme_commands(SAMPLE, with_jq=True)
    assert [(c.block, c.line, c.expected_exit) for c in commands] == [
        (2, 10, 0),
        (2, 11, 0),
        (2, 12, 0),
        (2, 16, 3),
        (2, 18, 0),
        (2, 21, 1),
        (4, 29, 0),
        (4, 30, 0),
        (4, 31, 0),
    ]
    assert commands[2].text.endswith("exit 3\nEOF")


def test_the_first_unexpected_exit_is_reported_with_its_stderr(tmp_path: Path) -> None:
    commands, _ = readme_commands(SAMPLE, with_jq=True)
    workdir, home = clone_like_directory(tmp_path)
    result = run_session(commands, workdir, home)
    assert result.ran == 8
    assert result.failure is not None
    assert "block 4, line 30" in result.failure
    assert "ls missing-file" in result.failure
    assert "exited 2, expected exit 0" in result.failure
    assert "missing-file" in result.failure.split("--- its stderr ---")[1]


def test_a_session_that_ends_early_is_reported(tmp_path: Path) -> None:
    text = "```sh\necho one\nexit 0\necho two\n```\n"
    commands, _ = readme_commands(text, with_jq=True)
    workdir, home = clone_like_directory(tmp_path)
    result = run_session(commands, workdir, home)
    assert result.failure is not None
    assert "line 3" in result.failure
    assert "ended the shell session" in result.failure


def test_without_jq_only_the_blocks_using_it_are_left_out() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    with_jq, none_left_out = readme_commands(readme, with_jq=True)
    without_jq, left_out = readme_commands(readme, with_jq=False)
    assert none_left_out == []
    assert left_out, "the pipelines use jq"
    assert all(" jq " not in f" {c.text} " for c in without_jq)
    assert {c.block for c in with_jq} - {c.block for c in without_jq} == set(left_out)
