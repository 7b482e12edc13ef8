#!/usr/bin/env python3
"""Kill the scenario at every interesting system call, then check recovery.

A reference run under strace counts, per system call name and per thread,
how often the scenario makes each call of CLASSES. Then for every name and
every invocation number N (or every STRIDE-th), a fresh run is killed with
SIGKILL on entering the N-th call of that name:

    strace -f -e trace=NAME -e inject=NAME:signal=SIGKILL:when=N scenario run STORE

strace counts invocations per name and per thread ("per syscall and per
tracee"), so one name at a time makes N mean "the N-th NAME call of a
thread"; the first thread to reach it dies, and with it the process. The
acknowledgements the run printed before dying are kept, and
`scenario verify STORE ACKS` must then find every acknowledged event,
dense offsets, and a store that recovers and takes appends again.

A kill keeps the page cache: this proves the order of process-visible
state (what is renamed, written, truncated before what), not power loss.

Exit 0 when every crash point recovered; 1 otherwise, printing for each
failure the command that reproduces it. The store of the first failures
is kept under the scratch directory.
"""
import argparse
import collections
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

# LeakSanitizer cannot run under ptrace: in a sanitizer build the traced
# runs leave leak checking to the untraced ones.
TRACED_ENV = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")

CLASSES = ["write", "pwrite64", "pwritev", "fsync", "fdatasync", "rename",
           "openat", "ftruncate", "unlink", "mkdir"]
KEEP_FAILURES = 5
TRACE_LINE = re.compile(r"^(\d+)\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]")


def count_calls(scenario, scratch):
    """Per name: the most calls any one thread made in a complete run."""
    work = tempfile.mkdtemp(prefix="count-", dir=scratch)
    trace = os.path.join(work, "trace")
    with open(os.path.join(work, "acks"), "wb") as acks:
        proc = subprocess.run(["strace", "-f", "-qq", "-o", trace, "-e", "trace=" + ",".join(CLASSES),
                               scenario, "run", os.path.join(work, "store")], stdout=acks, env=TRACED_ENV)
    if proc.returncode != 0:
        sys.exit("crash_every_syscall: the reference run failed (status %d)" % proc.returncode)
    per_thread = collections.Counter()
    with open(trace) as f:
        for line in f:
            m = TRACE_LINE.match(line)
            if m and "resumed>" not in line:
                per_thread[(m.group(1), m.group(2))] += 1
    shutil.rmtree(work)
    most = collections.Counter()
    for (_, name), n in per_thread.items():
        most[name] = max(most[name], n)
    return most


def crash_once(scenario, scratch, name, n):
    """Kill at the n-th `name` call and verify. None if fine, else a message."""
    work = tempfile.mkdtemp(prefix="%s-%d-" % (name, n), dir=scratch)
    store = os.path.join(work, "store")
    acks = os.path.join(work, "acks")
    run = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + name,
           "-e", "inject=%s:signal=SIGKILL:when=%d" % (name, n), scenario, "run", store]
    with open(acks, "wb") as out:
        proc = subprocess.run(run, stdout=out, stderr=subprocess.PIPE, env=TRACED_ENV)
    # strace re-raises the tracee's fatal signal; a clean exit means the
    # run made fewer calls than n in every thread, which is no crash point.
    if proc.returncode not in (-signal.SIGKILL, 128 + signal.SIGKILL, 0):
        return "%s #%d: the run failed before the kill (status %d): %s" % (
            name, n, proc.returncode, proc.stderr.decode(errors="replace").strip())
    check = subprocess.run([scenario, "verify", store, acks], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    if check.returncode != 0:
        return "%s #%d: %s\n    reproduce: %s\n    then: %s verify STORE ACKS (kept in %s)" % (
            name, n, check.stderr.decode(errors="replace").strip(), " ".join(run), scenario, work)
    shutil.rmtree(work)
    return None


def scratch_root(base):
    """A memory file system when there is one: only the order of calls
    matters here, so a real disk would only make each fsync slow."""
    for root in (os.environ.get("SIGLOG_TEST_FAST_TMP"), "/dev/shm", base):
        if root and os.path.isdir(root) and os.access(root, os.W_OK):
            return root
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario")
    ap.add_argument("--tmp", default=tempfile.gettempdir())
    ap.add_argument("--stride", type=int, default=1, help="try every STRIDE-th invocation (1: all)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    os.makedirs(args.tmp, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="crash-every-syscall-", dir=scratch_root(args.tmp))
    counts = count_calls(args.scenario, scratch)
    points = []
    for name in CLASSES:
        # Always include the last call: it is often the one that matters.
        ns = set(range(1, counts[name] + 1, args.stride))
        if counts[name]:
            ns.add(counts[name])
        points += [(name, n) for n in sorted(ns)]
    print("crash points: %d (%s; stride %d)" % (
        len(points), ", ".join("%s %d" % (k, counts[k]) for k in CLASSES), args.stride), flush=True)

    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for msg in pool.map(lambda p: crash_once(args.scenario, scratch, *p), points):
            if msg:
                failures.append(msg)
    for msg in failures:
        print("FAIL " + msg)
    # Keep only the first few failing stores for inspection.
    kept = 0
    for entry in sorted(os.listdir(scratch)):
        path = os.path.join(scratch, entry)
        if kept < KEEP_FAILURES:
            kept += 1
        else:
            shutil.rmtree(path, ignore_errors=True)
    if not failures:
        shutil.rmtree(scratch, ignore_errors=True)
    print("%d crash points, %d failed" % (len(points), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
