"""rflib -- what the real-fault drivers share beyond crashlib: the rf_fill
writer (run to the end, or driven through its pause), its `key: value`
report, and small tmpfs mounts that need root.
"""
import os
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crash"))
import crashlib  # noqa: E402
from crashlib import Failure  # noqa: E402,F401

FILL = None
REPORT_TIMEOUT_S = 30


def setup():
    global FILL
    crashlib.setup()
    FILL = crashlib.env_path("SIGLOG_RF_FILL")


def parse_report(text):
    """{key: value} of rf_fill's report lines (the last one of each key)."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            out[key] = value
    return out


def code_of(value):
    """The code of an `OK` or `CODE DETAIL` value; for `error:` the value
    starts with the step (append/flush), which is skipped."""
    return value.split(" ", 1)[0] if value else ""


def fill_init(store, policy):
    r = subprocess.run([FILL, "init", store, "--policy", policy], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"rf_fill init {store} --policy {policy} failed: {r.stderr.strip()}")


def fill_write(store, acks, run, prefix=(), events=None):
    """Run rf_fill write to its end (under `prefix`, e.g. strace).
    Returns (exit status, report dict, stdout, stderr)."""
    cmd = [*prefix, FILL, "write", store, acks, "--run", str(run)]
    if events is not None:
        cmd += ["--events", str(events)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=REPORT_TIMEOUT_S)
    return r.returncode, parse_report(r.stdout), r.stdout, r.stderr


class PausedWriter:
    """rf_fill write --pause: runs until its first failure, then waits for
    go() while the caller changes the world under it."""

    def __init__(self, store, acks, run):
        self.proc = subprocess.Popen([FILL, "write", store, acks, "--run", str(run), "--pause"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.out = ""

    def wait_paused(self):
        deadline = time.monotonic() + REPORT_TIMEOUT_S
        fd = self.proc.stdout.fileno()
        while "paused\n" not in self.out:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.proc.kill()
                raise Failure(f"rf_fill did not pause within {REPORT_TIMEOUT_S} s:\n{self.out}")
            chunk = os.read(fd, 4096).decode()
            if not chunk:
                self.proc.wait()
                raise Failure(f"rf_fill ended (status {self.proc.returncode}) before pausing:\n"
                              f"{self.out}{self.proc.stderr.read()}")
            self.out += chunk
        return parse_report(self.out)

    def go(self):
        rest, err = self.proc.communicate("go\n", timeout=REPORT_TIMEOUT_S)
        self.out += rest
        if self.proc.returncode != 0:
            raise Failure(f"rf_fill exited with status {self.proc.returncode}:\n{self.out}{err}")
        return parse_report(self.out)


def count_acks(acks):
    return crashlib.count_lines(acks, "A ")


def need_root(what):
    if os.geteuid() != 0:
        crashlib.skip(f"{what} needs root (mount); run the suite as root to include it")


def mount_tmpfs(mnt, size):
    os.makedirs(mnt, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        crashlib.skip(f"cannot mount a tmpfs on {mnt}: {r.stderr.strip()}")


def remount_tmpfs(mnt, size):
    r = subprocess.run(["mount", "-o", f"remount,size={size}", mnt], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"remount {mnt} with size {size} failed: {r.stderr.strip()}")


def umount(mnt):
    subprocess.run(["umount", mnt], capture_output=True)
    try:
        os.rmdir(mnt)
    except OSError:
        pass
