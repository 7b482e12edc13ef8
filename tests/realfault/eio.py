#!/usr/bin/env python3
"""eio -- fdatasync and pread fail with EIO in real processes (strace's
syscall fault injection; skipped when strace is missing).

fdatasync, ALWAYS streams (--target journal: the Nth fdatasync of the
writer, which are the journal's commits; --target checkpoint: the first
fdatasync of one segment file, which only a checkpoint makes):
  - the call whose sync failed is not acknowledged: rf_fill must see an
    error (a run that ends without one swallowed the EIO), EIO with a
    detail naming the file, and the next append is refused with EFAILED;
  - a read-only reader process tails every partition meanwhile: every event
    it saw was acknowledged (it never saw the batch whose sync failed);
  - crash_writer check after the writer exited: every acknowledged and
    every seen event is at its offset, byte-identical; unacknowledged ones
    may be there, never garbage; appending goes on; `siglog verify` clean.
pread, `siglog replay`: the Nth pread of the replay fails, for N from the
first to the last: exit status 1, one stderr line naming the error, and
stdout only whole lines of the clean replay's output, in order.
"""
import argparse
import os
import shutil
import signal
import subprocess
import time

import rflib  # first: it puts crashlib on the path
from rflib import Failure, crashlib

INJECTED = "(INJECTED)"


def strace_prefix(trace, inject, paths=()):
    """strace tracing the syscall `inject` names into `trace`, injecting
    its fault if it has one, counting only calls on `paths` if any."""
    cmd = ["strace", "-f", "-o", trace, "-e", "trace=" + inject.split(":")[0]]
    if ":" in inject:
        cmd += ["-e", "inject=" + inject]
    for p in paths:
        cmd += ["-P", p]
    return cmd


def store_files(store):
    """Every file of the store: the replay's preads to fail (not the
    dynamic loader's)."""
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(store) for f in fs)


def start_reader(store, seen):
    proc = subprocess.Popen([crashlib.WRITER, "read", store, seen], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while crashlib.count_lines(seen, "R ") == 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise Failure(f"the reader did not start tailing: {proc.communicate()[1]}")
        time.sleep(0.01)
    return proc


def stop_reader(proc):
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    if proc.returncode != 0:
        raise Failure(f"the reader failed (status {proc.returncode}): {err}")


def lines_of(path, kind):
    with open(path) as f:
        return {line.split(" ", 1)[1] for line in f if line.startswith(kind)}


def fsync_case(work, name, inject, path_of=None, events=400):
    what = f"fdatasync EIO ({name})"
    store, acks, seen = (os.path.join(work, x) for x in ("store", "acks", "seen"))
    trace = os.path.join(work, "trace")
    crashlib.fresh_dir(work)
    rflib.fill_init(store, "always")
    reader = start_reader(store, seen)
    try:
        path = path_of(store) if path_of else None
        status, rep, out, err = rflib.fill_write(store, acks, 1, strace_prefix(trace, inject, [path] if path else []), events)
    finally:
        stop_reader(reader)
    with open(trace) as f:
        injected = [l for l in f if INJECTED in l]
    if not injected:
        raise Failure(f"{what}: strace injected nothing (status {status}):\n{out}{err}")
    if status == 3:
        raise Failure(f"{what}: {injected[0].strip()} but every append succeeded: the EIO was swallowed\n{out}")
    if status != 0:
        raise Failure(f"{what}: rf_fill failed to run (status {status}):\n{out}{err}")
    step, code, detail = (rep.get("error", "") + "  ").split(" ", 2)
    detail = detail.strip()
    if code != "EIO":
        raise Failure(f"{what}: the failed sync gave {rep.get('error')!r}, not EIO")
    target = path or os.path.join(store, "journal")
    if target not in detail:
        raise Failure(f"{what}: the EIO detail does not name {target}: {detail!r}")
    if rflib.code_of(rep.get("after")) != "EFAILED":
        raise Failure(f"{what}: the append after a failed fdatasync gave {rep.get('after')!r}, not EFAILED")
    if str(store) not in rep.get("after", "") or "fdatasync" not in rep.get("after", ""):
        raise Failure(f"{what}: the EFAILED detail lost its cause: {rep.get('after')!r}")
    not_acked = lines_of(seen, "S ") - lines_of(acks, "A ")
    if not_acked:
        raise Failure(f"{what}: the reader saw {len(not_acked)} events never acknowledged, e.g. "
                      f"{sorted(not_acked)[0]!r}")
    print(f"{what}: {injected[0].strip()}; {step} {code} ({detail}); next append EFAILED; "
          f"{rep.get('acked')} acknowledged, {crashlib.count_lines(seen, 'S ')} seen by the reader",
          flush=True)
    print(f"{what}: {crashlib.check(store, acks, what, seen=[seen], append_run=9)}", flush=True)


def replay_case(work):
    what = "pread EIO in siglog replay"
    store, acks = os.path.join(work, "store"), os.path.join(work, "acks")
    crashlib.fresh_dir(work)
    rflib.fill_init(store, "always")
    status, rep, out, err = rflib.fill_write(store, acks, 1, events=300)
    if status != 3:
        raise Failure(f"{what}: could not write the store (status {status}):\n{out}{err}")
    cmd = [crashlib.SIGLOG, "replay", store, "clicks"]
    trace = os.path.join(work, "trace")
    files = store_files(store)
    clean = subprocess.run(strace_prefix(trace, "pread64", files) + cmd,
                           capture_output=True)
    if clean.returncode != 0 or not clean.stdout:
        raise Failure(f"{what}: the clean replay failed (status {clean.returncode}): {clean.stderr!r}")
    with open(trace) as f:
        preads = sum(1 for l in f if "pread64(" in l and "resumed" not in l)
    if preads < 2:
        raise Failure(f"{what}: the replay made only {preads} pread64 calls")
    # The first few preads are the open's (the store file, the journal: a
    # read-only open first tries recovery as a writer, and goes on without
    # it when that fails); the rest read the log.
    points = sorted({1, 2, 3, 4, 5, preads // 4, preads // 2, preads * 3 // 4, preads - 1, preads})
    failed = 0
    for n in points:
        r = subprocess.run(strace_prefix(trace, f"pread64:error=EIO:when={n}", files) + cmd, capture_output=True)
        with open(trace) as f:
            if not any(INJECTED in l for l in f):
                raise Failure(f"{what}: pread {n} of {preads} was not injected")
        errlines = r.stderr.decode(errors="replace").strip().splitlines()
        got, total = r.stdout.count(b"\n"), clean.stdout.count(b"\n")
        if r.returncode == 0:
            # The failed read was retried by a fresh open: only the whole
            # clean output will do.
            if r.stdout != clean.stdout or errlines:
                raise Failure(f"{what}: pread {n} of {preads} failed, replay exited 0 with {got} of {total} "
                              f"lines and stderr {errlines}")
            print(f"{what}: pread {n} of {preads}: absorbed by the open, all {total} lines", flush=True)
            continue
        if r.returncode != 1:
            raise Failure(f"{what}: pread {n} of {preads} failed, replay exited {r.returncode}, not 1: "
                          f"{errlines}")
        if len(errlines) != 1 or "Input/output error" not in errlines[0]:
            raise Failure(f"{what}: pread {n} of {preads}: stderr is not one line naming the error: {errlines}")
        if not (clean.stdout.startswith(r.stdout) and (not r.stdout or r.stdout.endswith(b"\n"))):
            raise Failure(f"{what}: pread {n} of {preads}: stdout is not whole lines of the clean replay "
                          f"({len(r.stdout)} bytes)")
        failed += 1
        print(f"{what}: pread {n} of {preads}: exit 1, {got} of {total} lines, {errlines[0]!r}", flush=True)
    if failed == 0:
        raise Failure(f"{what}: no failed pread made the replay fail")


def first_segment(store):
    return os.path.join(store, "streams", "clicks", "00001", "00000000000000000000.seg")


def run():
    rflib.setup()
    if not shutil.which("strace"):
        crashlib.skip("strace is not installed (apt-get install strace)")
    base = os.path.join(crashlib.BUILD_DIR, "eio")
    if ARGS.case == "journal":
        # A few points in the run of journal commits (the writer's open
        # makes the 1st fdatasync).
        for n in (2, 40, 150):
            fsync_case(os.path.join(base, f"journal-{n}"), f"journal commit, fdatasync {n}",
                       f"fdatasync:error=EIO:when={n}")
    elif ARGS.case == "checkpoint":
        fsync_case(os.path.join(base, "checkpoint"), "checkpoint segment sync", "fdatasync:error=EIO:when=1",
                   path_of=first_segment, events=1500)
    else:
        replay_case(os.path.join(base, "replay"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=("journal", "checkpoint", "replay"), required=True)
    ARGS = parser.parse_args()
    crashlib.main(run)
