#!/usr/bin/env python3
"""Run a README shell example as printed and check what it prints.

    readme_block.py README HEADING SIGLOG [--link PATH=TARGET]... [--before CMD]...
                    [--out LINES]... [--err TEXT]...

The first ```sh block after the line HEADING of README runs with bash
-e -o pipefail in a fresh empty directory, the directory of the siglog
binary SIGLOG first on PATH (the README says "siglog ..."). Every command
must succeed (the block says `|| echo ...` where it expects a refusal),
so a README whose commands drifted from the tool fails here.

--link PATH=TARGET: a symbolic link PATH in that directory (its parent
directories made) to TARGET, for a block that names paths of a checkout
(build/tools/siglog, python). --before CMD: a bash command run there first
that must succeed (making what the README says was made before the block).
--out LINES: newline-separated regular expressions that must fully match
consecutive lines of standard output; the groups given must be found in
their order. --err TEXT: a substring of standard error.
"""
import os
import re
import subprocess
import sys
import tempfile


def block(readme, heading):
    lines = open(readme, encoding="utf-8").read().split("\n")
    try:
        at = lines.index(heading)
    except ValueError:
        sys.exit(f"{readme}: no line {heading!r}")
    start = lines.index("```sh", at) + 1
    return "\n".join(lines[start:lines.index("```", start)]) + "\n"


def find_group(out, group, frm):
    """The index in out after the lines matching group at or after frm, or -1."""
    for i in range(frm, len(out) - len(group) + 1):
        if all(re.fullmatch(p, out[i + k]) for k, p in enumerate(group)):
            return i + len(group)
    return -1


def main():
    args = sys.argv[1:]
    if len(args) < 3:
        sys.exit(__doc__)
    readme, heading, siglog = args[:3]
    given = {"--out": [], "--err": [], "--link": [], "--before": []}
    rest = args[3:]
    while rest:
        flag, value, rest = rest[0], rest[1], rest[2:]
        if flag not in given:
            sys.exit(f"unknown {flag}")
        given[flag].append(value)
    outs, errs = given["--out"], given["--err"]
    script = block(readme, heading)
    env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(siglog)) + os.pathsep + os.environ["PATH"])
    tmp = os.environ.get("SIGLOG_TEST_TMP")
    if tmp:
        os.makedirs(tmp, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp) as d:
        for link in given["--link"]:
            path, target = link.split("=", 1)
            os.makedirs(os.path.dirname(os.path.join(d, path)), exist_ok=True)
            os.symlink(target, os.path.join(d, path))
        for cmd in given["--before"]:
            subprocess.run(["bash", "-e", "-o", "pipefail", "-c", cmd], cwd=d, env=env, check=True,
                           stdout=subprocess.DEVNULL, timeout=120)
        r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=d, env=env, capture_output=True,
                           text=True, timeout=120)
    print(r.stdout)
    print(r.stderr, file=sys.stderr)
    if r.returncode != 0:
        sys.exit(f"{heading}: the block exits {r.returncode} (every command must succeed as printed)")
    out = r.stdout.split("\n")
    at = 0
    for group in outs:
        at = find_group(out, group.split("\n"), at)
        if at < 0:
            sys.exit(f"{heading}: no lines matching {group!r} where expected in standard output")
    for text in errs:
        if text not in r.stderr:
            sys.exit(f"{heading}: {text!r} not in standard error")
    print(f"{heading}: runs as printed")


if __name__ == "__main__":
    main()
