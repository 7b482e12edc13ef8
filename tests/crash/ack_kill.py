#!/usr/bin/env python3
"""ack_kill -- proves that `siglog append --ack` prints only what survives.

A real `siglog append --ack` process appends a JSON Lines file (keyed, so
its events spread over 3 partitions) to a fresh stream on a fresh ext4 on a
loop device, under each sync policy (none, interval:100, always). After a
seeded random moment it gets SIGTERM, SIGINT or SIGKILL -- or, for interval
and always, a power cut: the file system is shut down without flushing its
log (as power_cut.py does), the process killed, the file system remounted.
Then every acknowledgement printed (the k-th names the k-th input line) must
name an event that `siglog replay` returns byte-identical to that line, and
no two acknowledgements may name the same event.

SIGTERM and SIGINT must moreover end the command as documented: exit 143 or
130 (or 0 when the input ended first; or death by the signal when it came
before the handlers were installed, with nothing printed) and one line on
stderr naming the last input line consumed, and every event up to it
acknowledged.

Needs root and loop devices; without them it skips (exit 77) and says why.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import time

import crashlib
from crashlib import Failure
from power_cut import LoopFs

POLICIES = ["none", "interval:100", "always"]
ENDINGS = {"TERM": signal.SIGTERM, "INT": signal.SIGINT, "KILL": signal.SIGKILL, "cut": None}
PARTITIONS = 3
INPUT_LINES = 1_000_000  # more than any run appends before its end comes
PAD = "x" * 60
STOPPED = re.compile(r"^siglog append: stopped by SIG(INT|TERM) after input line (\d+): (\d+) events appended")


def make_input(path):
    with open(path, "w") as f:
        for i in range(INPUT_LINES):
            f.write(f'{{"i":{i},"k":"user-{i % 97}","pad":"{PAD}"}}\n')
    with open(path, "rb") as f:
        return f.read().split(b"\n")[:INPUT_LINES]


def run_ok(cmd, what):
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        raise Failure(f"{what}: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    return r.stdout


def read_acks(path, what):
    """The complete "PARTITION OFFSET" lines, in order."""
    with open(path, "rb") as f:
        data = f.read()
    acks = []
    for n, line in enumerate(data.split(b"\n")[:-1], 1):
        parts = line.split()
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise Failure(f"{what}: acknowledgement line {n} is not 'PARTITION OFFSET': {line!r}")
        acks.append((int(parts[0]), int(parts[1])))
    return acks


def prove(store, acks, lines, what):
    """Every acknowledged event is stored byte-identical at its offset."""
    stored = []
    for p in range(PARTITIONS):
        out = run_ok([crashlib.SIGLOG, "replay", store, "ev", "--partition", str(p), "--format", "value"],
                     f"{what}: replay")
        stored.append(out.split(b"\n")[:-1])  # a fresh stream: offset == index
    if len(set(acks)) != len(acks):
        raise Failure(f"{what}: an event was acknowledged twice")
    for k, (p, off) in enumerate(acks):
        if p >= PARTITIONS or off >= len(stored[p]):
            raise Failure(f"{what}: acknowledged line {k + 1} (partition {p} offset {off}) is lost: "
                          f"{len(acks)} acknowledged, partition {p} holds {len(stored[p]) if p < PARTITIONS else 0}")
        if stored[p][off] != lines[k]:
            raise Failure(f"{what}: partition {p} offset {off} holds {stored[p][off][:80]!r}, "
                          f"acknowledged for input line {k + 1}: {lines[k][:80]!r}")


def check_stop(sig, rc, err, acks, what):
    """SIGTERM/SIGINT: the documented exit, summary and complete acks."""
    if rc == -sig:
        if acks:
            raise Failure(f"{what}: killed by the signal after printing {len(acks)} acknowledgements")
        return "died before its handlers"
    if rc == 0:
        if len(acks) != INPUT_LINES:
            raise Failure(f"{what}: exit 0 with {len(acks)} of {INPUT_LINES} lines acknowledged")
        return "input ended first"
    if rc != 128 + sig:
        raise Failure(f"{what}: exit status {rc}, want {128 + sig}; stderr: {err!r}")
    text = err.decode(errors="replace")
    if len(text.splitlines()) != 1:
        raise Failure(f"{what}: want one summary line on stderr, got: {text!r}")
    m = STOPPED.match(text)
    if not m or m.group(1) != signal.Signals(sig).name[3:]:
        raise Failure(f"{what}: summary line does not say it: {text!r}")
    consumed, events = int(m.group(2)), int(m.group(3))
    if not (consumed == events == len(acks)):
        raise Failure(f"{what}: {consumed} lines consumed, {events} appended, {len(acks)} acknowledged: "
                      "every consumed line must be appended and acknowledged")
    return f"stopped after line {consumed}"


def one_run(loop, work, input_path, lines, policy, ending, delay, what):
    store = os.path.join(loop.mnt, "store")
    shutil.rmtree(store, ignore_errors=True)
    run_ok([crashlib.SIGLOG, "init", store], f"{what}: init")
    run_ok([crashlib.SIGLOG, "stream", "create", store, "ev", "--partitions", str(PARTITIONS), "--sync", policy,
            "--segment-bytes", "4MiB"], f"{what}: stream create")
    ack_path = os.path.join(work, "acks")
    with open(ack_path, "wb") as ackf:
        proc = crashlib.spawn([crashlib.SIGLOG, "append", "--ack", "--key-field", "k", store, "ev", input_path],
                              ackf, subprocess.PIPE)
        time.sleep(delay)
        if ENDINGS[ending] is None:
            loop.cut()
            proc.kill()
        else:
            proc.send_signal(ENDINGS[ending])
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise Failure(f"{what}: append did not end within 120 s of {ending}")
    if ENDINGS[ending] is None:
        loop.remount(what)
    acks = read_acks(ack_path, what)
    how = ""
    if ending in ("TERM", "INT"):
        how = "; " + check_stop(ENDINGS[ending], proc.returncode, err, acks, what)
    prove(store, acks, lines, what)
    return f"{len(acks)} acknowledged, all stored{how}"


def run():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=crashlib.cycles_default(3),
                    help="runs per sync policy and ending")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--min-ms", type=float, default=20)
    ap.add_argument("--max-ms", type=float, default=700)
    args = ap.parse_args()

    base = os.path.join(crashlib.BUILD_DIR, "ack_kill")
    os.makedirs(base, exist_ok=True)
    loop = LoopFs("ext4", base)
    try:
        loop.open()
        seed, rng = crashlib.seeded_rng(args.seed)
        work = crashlib.fresh_dir(os.path.join(base, "work"))
        input_path = os.path.join(work, "input.jsonl")
        lines = make_input(input_path)
        total = 0
        for run_no in range(1, args.runs + 1):
            for policy in POLICIES:
                for ending in ENDINGS:
                    if ending == "cut" and policy == "none":
                        continue  # none promises nothing against a power cut
                    delay = rng.uniform(args.min_ms, args.max_ms) / 1e3
                    what = f"seed {seed} run {run_no} sync {policy} {ending} after {delay * 1e3:.0f} ms"
                    result = one_run(loop, work, input_path, lines, policy, ending, delay, what)
                    total += 1
                    print(f"{what}: {result}", flush=True)
        print(f"{total} runs: every acknowledged event was stored byte-identical", flush=True)
    finally:
        loop.close()


if __name__ == "__main__":
    crashlib.main(run)
