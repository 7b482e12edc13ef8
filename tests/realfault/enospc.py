#!/usr/bin/env python3
"""enospc -- a real file system fills up under a writer.

For a stream that does not sync (NONE) and one that does (ALWAYS), on a
tmpfs of 4 MiB (root only; skipped otherwise):
  1. rf_fill appends until a call fails: the code is ENOSPC and its detail
     names the store's file that did not fit;
  2. the failed call is not acknowledged; NONE: the partition is not
     failed (the batch that did not fit was trimmed); ALWAYS: when the
     segment write failed after the journal sync the partition refuses
     later appends with EFAILED until the store is reopened (documented);
  3. the tmpfs grows to 16 MiB under the paused writer: NONE appends resume
     on the same handle; a failed ALWAYS partition still refuses;
  4. `siglog verify` before any recovery: clean, or only recovery's work
     (a torn tail, commits only the journal holds);
  5. reopen (journal replay, tail recovery) and crash_writer check: every
     acknowledged event is at its offset, byte-identical; nothing else is
     garbage; `siglog verify` clean;
  6. a new writer process appends and the store proves again.

Then a full disk keeps the store readable: with no byte free on the file
system (a filler file took the rest), after a clean close and after a
writer was killed (commits the journal holds), `siglog stat`, `replay` of
every stream and `verify` all succeed, and the store's files are
bit-identical afterwards (a read-only command writes nothing).
"""
import hashlib
import os
import signal
import subprocess

import rflib  # first: it puts crashlib on the path
from rflib import Failure, crashlib


def verify_before_recovery(store, what):
    r = subprocess.run([crashlib.SIGLOG, "verify", store], capture_output=True, text=True)
    if r.returncode == 0:
        return "clean"
    problems = [l for l in r.stdout.splitlines() if l.startswith("problem: ")]
    recovery_work = ("torn tail", "are only in the journal")
    if r.returncode == 1 and problems and all(any(w in l for w in recovery_work) for l in problems):
        return f"{len(problems)} torn tail(s) or commits only in the journal"
    raise Failure(f"{what}: siglog verify after the full disk (status {r.returncode}) reports "
                  f"more than recovery's work:\n{r.stdout}{r.stderr}")


def one_policy(policy):
    what = f"ENOSPC on tmpfs, {policy} stream"
    mnt = os.path.join(crashlib.BUILD_DIR, f"enospc-{policy}")
    acks = os.path.join(crashlib.BUILD_DIR, f"enospc-{policy}.acks")
    store = os.path.join(mnt, "store")
    rflib.umount(mnt)  # a run killed earlier may have left it mounted
    if os.path.exists(acks):
        os.unlink(acks)
    rflib.mount_tmpfs(mnt, "4m")
    try:
        rflib.fill_init(store, policy)
        w = rflib.PausedWriter(store, acks, run=1)
        rep = w.wait_paused()
        step, code, detail = (rep.get("error", "") + "  ").split(" ", 2)
        if code != "ENOSPC":
            raise Failure(f"{what}: the first failure is {rep.get('error')!r}, not ENOSPC")
        if store + "/" not in detail:
            raise Failure(f"{what}: the ENOSPC detail does not name the store's file: {detail!r}")
        failed = rep.get("failed")
        after = rflib.code_of(rep.get("after"))
        if policy == "none" and failed != "0":
            raise Failure(f"{what}: the partition is failed after a trimmed write: {rep}")
        if failed == "1" and after != "EFAILED":
            raise Failure(f"{what}: a failed partition took another append: after = {rep.get('after')!r}")
        if after not in ("OK", "ENOSPC", "EFAILED"):
            raise Failure(f"{what}: unexpected result of the next append on a full disk: {rep.get('after')!r}")

        rflib.remount_tmpfs(mnt, "16m")
        rep = w.go()
        resume = rflib.code_of(rep.get("resume"))
        want = "EFAILED" if failed == "1" else "OK"
        if resume != want:
            raise Failure(f"{what}: after freeing space, appends on the same handle gave "
                          f"{rep.get('resume')!r}, expected {want}")
        acked = int(rep.get("acked", "0"))
        if acked == 0 or acked != rflib.count_acks(acks):
            raise Failure(f"{what}: acked {acked}, but the ack log holds {rflib.count_acks(acks)}")
        print(f"{what}: first failure {step} ENOSPC ({detail.strip()}); failed={failed}, "
              f"next append {after}, after remount {resume}; {acked} acknowledged", flush=True)

        state = verify_before_recovery(store, what)
        print(f"{what}: siglog verify before recovery: {state}", flush=True)
        print(f"{what}: {crashlib.check(store, acks, what + ' (reopen)')}", flush=True)
        status, rep2, out, err = rflib.fill_write(store, acks, run=2, events=60)
        if status != 3:
            raise Failure(f"{what}: a new writer could not append after the reopen "
                          f"(status {status}):\n{out}{err}")
        print(f"{what}: {crashlib.check(store, acks, what + ' (second writer)')}", flush=True)
    except Failure:
        crashlib.keep_evidence(store, os.path.join(crashlib.BUILD_DIR, f"enospc-{policy}-failed"))
        raise
    finally:
        rflib.umount(mnt)


STREAMS = ("clicks", "outcomes")  # tests/crash/crash_event.c


def tree_digest(store):
    """{relative path: (size, mtime_ns, sha256)} of every file under store."""
    out = {}
    for root, dirs, files in os.walk(store):
        dirs.sort()
        for name in sorted(files) + [d for d in dirs]:
            path = os.path.join(root, name)
            st = os.lstat(path)
            digest = ""
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(path, store)] = (st.st_size, st.st_mtime_ns, digest)
    return out


def fill_up(mnt):
    """Take every free byte of the file system at mnt."""
    fd = os.open(os.path.join(mnt, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (65536, 1):
            try:
                while os.write(fd, b"\0" * chunk) > 0:
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)


def read_commands_work(store, what, crashed):
    before = tree_digest(store)
    commands = [["stat", store], ["verify", store]] + [["replay", store, s] for s in STREAMS]
    # A killed writer leaves what a writer's open settles: commits only the
    # journal holds and, when its last write was cut short by the full disk,
    # a torn tail. verify reports both; a crashed store may have nothing else
    # wrong and a clean one nothing at all.
    crash_states = ("only in the journal", "torn tail") if crashed else ()
    for args in commands:
        r = subprocess.run([crashlib.SIGLOG, *args], capture_output=True, text=True)
        problems = [l for l in r.stdout.splitlines() if l.startswith("problem: ")]
        crash_only = args[0] == "verify" and r.returncode == 1 and problems and all(
            any(state in l for state in crash_states) for l in problems)
        if r.returncode != 0 and not crash_only:
            raise Failure(f"{what}: siglog {args[0]} on a full disk exited {r.returncode}: "
                          f"{r.stdout}{r.stderr.strip()}")
    after = tree_digest(store)
    if before != after:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        raise Failure(f"{what}: read-only commands changed the store: {changed}")
    print(f"{what}: stat, verify and replay of {len(STREAMS)} streams work; the store is unchanged",
          flush=True)


def full_disk_readable(state):
    what = f"full disk, {state} store"
    mnt = os.path.join(crashlib.BUILD_DIR, f"enospc-read-{state}")
    acks = os.path.join(crashlib.BUILD_DIR, f"enospc-read-{state}.acks")
    store = os.path.join(mnt, "store")
    rflib.umount(mnt)
    if os.path.exists(acks):
        os.unlink(acks)
    rflib.mount_tmpfs(mnt, "8m")
    try:
        rflib.fill_init(store, "always")
        status, rep, out, err = rflib.fill_write(store, acks, run=1, events=300)
        if status != 3:
            raise Failure(f"{what}: rf_fill write failed (status {status}):\n{out}{err}")
        if state == "crashed":
            # A writer killed after its commits: the journal holds the last.
            w = subprocess.Popen([rflib.FILL, "write", store, acks, "--run", "2", "--pause"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.PIPE)
            fill_up(mnt)
            w.wait(timeout=rflib.REPORT_TIMEOUT_S) if w.poll() is not None else None
            if w.poll() is None:
                w.send_signal(signal.SIGKILL)
                w.wait()
        else:
            fill_up(mnt)
        read_commands_work(store, what, state == "crashed")
    except Failure:
        crashlib.keep_evidence(store, os.path.join(crashlib.BUILD_DIR, f"enospc-read-{state}-failed"))
        raise
    finally:
        rflib.umount(mnt)


def run():
    rflib.setup()
    rflib.need_root("the ENOSPC test")
    for policy in ("none", "always"):
        one_policy(policy)
    for state in ("clean", "crashed"):
        full_disk_readable(state)


if __name__ == "__main__":
    crashlib.main(run)
