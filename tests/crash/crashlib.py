"""crashlib -- what the crash drivers share: the programs they run (from
the environment meson sets), a seeded random source whose seed is printed so
a failing run can be replayed, the writer/reader processes, the check that
proves a store against the ack and seen logs, and the `siglog verify` hook.

A driver fails with Failure (exit 1) and prints what was lost, with the seed
and the cycle; it skips (exit 77, meson's skip code) only through skip(),
which always says why.
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import time

SKIP_EXIT = 77


class Failure(Exception):
    pass


class Stopped(BaseException):
    """SIGTERM (meson's timeout): not a finding, so no driver catches it
    as one; it only unwinds through their cleanup."""


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(SKIP_EXIT)


def env_path(name):
    p = os.environ.get(name)
    if not p:
        raise Failure(f"{name} is not set (run through meson test)")
    return p


WRITER = None
SIGLOG = None
BUILD_DIR = None


def setup():
    global WRITER, SIGLOG, BUILD_DIR
    WRITER = env_path("SIGLOG_CRASH_WRITER")
    SIGLOG = env_path("SIGLOG_BIN")
    BUILD_DIR = env_path("SIGLOG_CRASH_DIR")


def seeded_rng(args_seed):
    """The run's random source; SIGLOG_CRASH_SEED or --seed replays a run."""
    seed = args_seed
    if seed is None and os.environ.get("SIGLOG_CRASH_SEED"):
        seed = int(os.environ["SIGLOG_CRASH_SEED"])
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    print(f"seed {seed} (replay with --seed {seed} or SIGLOG_CRASH_SEED={seed})", flush=True)
    return seed, random.Random(seed)


def cycles_default(n_fast):
    """--cycles beats SIGLOG_CUT_CYCLES beats the fast suite's count."""
    v = os.environ.get("SIGLOG_CUT_CYCLES")
    return int(v) if v else n_fast


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def init_store(store):
    r = subprocess.run([WRITER, "init", store], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"crash_writer init {store} failed: {r.stderr.strip()}")


_children = []


def spawn(cmd, log, err=None):
    """Start a writer or reader (stdout to log, stderr to err or log); on
    SIGTERM main() kills what is left."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log if err is None else err)
    _children[:] = [c for c in _children if c.poll() is None] + [p]
    return p


def drop_torn_line(log_path):
    """Cut a log back to its last whole line. A SIGKILL can end a write()
    of several ack lines part way: the kernel copies a write into the page
    cache a page at a time and stops between pages once a fatal signal is
    pending, so a batch's lines that straddle a page boundary are cut. The
    events of the cut line were acknowledged, but the line does not say
    which, so it cannot be proven; the whole lines before it still are.
    Without this the next writer's first line would be glued to the
    fragment and read as a malformed line."""
    try:
        with open(log_path, "r+b") as f:
            data = f.read()
            if not data or data.endswith(b"\n"):
                return
            keep = data.rfind(b"\n") + 1
            print(f"{log_path}: dropping a line cut by the kill: {data[keep:]!r}", flush=True)
            f.truncate(keep)
    except FileNotFoundError:
        pass


def start_writer(store, acks, run, seed, log, extra=()):
    drop_torn_line(acks)
    return spawn([WRITER, "write", store, acks, "--run", str(run), "--seed", str(seed), *extra], log)


def kill_writer(proc, what, log_path):
    """SIGKILL a writer and prove it was still running (a writer that exits
    by itself failed: it could not open or append)."""
    early = proc.poll()
    proc.send_signal(signal.SIGKILL)
    rc = proc.wait()
    if early is not None and early != -signal.SIGKILL:
        raise Failure(f"{what}: the writer exited with status {early} before it was killed:\n"
                      + tail_of(log_path))
    return rc


def tail_of(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def open_runs(acks):
    """{run: open_us} of the writers that finished opening, from O lines."""
    out = {}
    try:
        with open(acks) as f:
            for line in f:
                if line.startswith("O "):
                    _, run, us = line.split()
                    out[int(run)] = int(us)
    except FileNotFoundError:
        pass
    return out


def count_lines(path, kind):
    n = 0
    try:
        with open(path, errors="replace") as f:
            for line in f:
                n += line.startswith(kind)
    except FileNotFoundError:
        pass
    return n


def check(store, acks, what, seen=(), append_run=None):
    """Recover the store and prove every log against it (crash_writer
    check); then `siglog verify`. Returns the summary line."""
    for log_path in (acks, *seen):
        drop_torn_line(log_path)
    cmd = [WRITER, "check", store, acks]
    for s in seen:
        cmd += ["--seen", s]
    if append_run is not None:
        cmd += ["--append-run", str(append_run)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"{what}: check failed (status {r.returncode}):\n{r.stderr}{r.stdout}")
    return r.stdout.strip() + verify(store, what)


_verify_available = None


def verify(store, what):
    # HOOK(siglog verify): once `siglog verify` exists, every check also
    # requires it to report the recovered store clean (exit status 0).
    # Until then this says so once per run and does nothing. Returns what
    # to add to the check's summary.
    global _verify_available
    if _verify_available is None:
        r = subprocess.run([SIGLOG, "verify", "--help"], capture_output=True, text=True)
        _verify_available = r.returncode == 0
        if not _verify_available:
            print("HOOK: `siglog verify` is not available in this build; stores are "
                  "proven by crash_writer check only", flush=True)
    if not _verify_available:
        return ""
    r = subprocess.run([SIGLOG, "verify", store], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"{what}: siglog verify {store} failed (status {r.returncode}):\n"
                      f"{r.stdout}{r.stderr}")
    return "; " + r.stdout.strip().splitlines()[-1]


def keep_evidence(store, dest):
    """Copy a store that failed a check next to the build, for a post-mortem."""
    shutil.rmtree(dest, ignore_errors=True)
    try:
        shutil.copytree(store, dest, symlinks=True)
        print(f"the failing store is kept in {dest}", flush=True)
    except (OSError, shutil.Error) as e:
        print(f"could not keep the failing store: {e}", flush=True)


def main(fn):
    """Run a driver body; Failure -> exit 1 with its message."""
    t0 = time.monotonic()

    def on_term(sig, frame):
        # meson's timeout: kill the children and unwind, so that mounts and
        # loop devices are released by the drivers' finally clauses.
        for c in _children:
            if c.poll() is None:
                c.kill()
                c.wait()
        raise Stopped(f"stopped by signal {sig}")

    signal.signal(signal.SIGTERM, on_term)
    try:
        setup()
        fn()
    except (Failure, Stopped) as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)
    print(f"ok ({time.monotonic() - t0:.1f} s)", flush=True)
