#!/usr/bin/env python3
"""power_cut -- proves that a power cut loses no acknowledged event: a real
crash_writer process (2 threads, 2 streams x 3 partitions, sync=always,
256 KiB segments so they roll, a 1 MiB journal so it checkpoints and
recycles) appends to a store on a fresh ext4 or xfs file system on a loop
device; after a seeded random 0.3-1 s the file system is shut down without
flushing its log (EXT4_IOC_SHUTDOWN / XFS_IOC_GOINGDOWN with NOLOGFLUSH:
what was not synced is gone, as in a power cut, files can come back empty
or missing), the writer is killed, the file system unmounted and mounted
again. Then crash_writer check recovers the store and proves every
acknowledged event present and byte-identical at its offset, offsets dense,
no record garbage or doubled, and appends resuming where the log ends
(`siglog verify` too, once it exists). The store lives on across the cuts,
so each cut also hits a store recovered from the cut before.

Needs root and loop devices; without them it skips (exit 77) and says why.
"""
import argparse
import fcntl
import os
import shutil
import struct
import subprocess
import time

import crashlib
from crashlib import Failure

# _IOR('X', 125, __u32): EXT4_IOC_SHUTDOWN and XFS_IOC_GOINGDOWN are the
# same request, and both take 2 for "shut down, do not flush the log".
FS_IOC_SHUTDOWN = 0x8004587D
FS_SHUTDOWN_NOLOGFLUSH = 2

MKFS = {
    "ext4": ["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0"],
    "xfs": ["mkfs.xfs", "-q", "-f"],
}
IMAGE_BYTES = 320 << 20  # mkfs.xfs refuses file systems under 300 MB


def sh(cmd, what, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise Failure(f"{what}: {' '.join(cmd)} failed: {r.stderr.strip()}")
    return r


class LoopFs:
    """A file system on a loop device over a sparse image, mounted at mnt;
    close() unmounts and detaches whatever happens."""

    def __init__(self, fs, base):
        self.fs, self.base = fs, base
        self.image = os.path.join(base, "disk.img")
        self.mnt = os.path.join(base, "mnt")
        self.dev = None
        self.mounted = False

    def cleanup_stale(self):
        # A run killed by a timeout leaves its mount and loop device behind.
        if os.path.ismount(self.mnt):
            subprocess.run(["umount", self.mnt], capture_output=True)
        r = subprocess.run(["losetup", "-j", self.image], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            subprocess.run(["losetup", "-d", line.split(":")[0]], capture_output=True)

    def open(self):
        if os.geteuid() != 0:
            crashlib.skip("power cuts need root (losetup, mount, shutdown ioctl)")
        if not shutil.which(MKFS[self.fs][0]) or not shutil.which("losetup"):
            crashlib.skip(f"{MKFS[self.fs][0]} or losetup is not installed")
        os.makedirs(self.mnt, exist_ok=True)
        self.cleanup_stale()
        if os.path.exists(self.image):
            os.unlink(self.image)
        with open(self.image, "wb") as f:
            f.truncate(IMAGE_BYTES)
        r = subprocess.run(["losetup", "--find", "--show", self.image], capture_output=True, text=True)
        if r.returncode != 0:
            crashlib.skip(f"no loop device support here: losetup: {r.stderr.strip()}")
        self.dev = r.stdout.strip()
        sh(MKFS[self.fs] + [self.dev], f"mkfs {self.fs}")
        r = subprocess.run(["mount", "-t", self.fs, self.dev, self.mnt], capture_output=True, text=True)
        if r.returncode != 0:
            crashlib.skip(f"cannot mount {self.fs} from a loop device: {r.stderr.strip()}")
        self.mounted = True

    def cut(self):
        """Power cut: nothing unsynced reaches the disk from now on."""
        fd = os.open(self.mnt, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.ioctl(fd, FS_IOC_SHUTDOWN, struct.pack("I", FS_SHUTDOWN_NOLOGFLUSH))
        except OSError as e:
            crashlib.skip(f"{self.fs} shutdown ioctl is not supported here: {e}")
        finally:
            os.close(fd)

    def remount(self, what):
        self.umount(what)
        sh(["mount", "-t", self.fs, self.dev, self.mnt], f"{what}: remount after the cut")
        self.mounted = True

    def umount(self, what):
        for attempt in range(50):
            r = subprocess.run(["umount", self.mnt], capture_output=True, text=True)
            if r.returncode == 0:
                self.mounted = False
                return
            time.sleep(0.1)
        raise Failure(f"{what}: umount {self.mnt}: {r.stderr.strip()}")

    def close(self):
        if self.mounted:
            subprocess.run(["umount", self.mnt], capture_output=True)
            if os.path.ismount(self.mnt):
                subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        if self.dev:
            subprocess.run(["losetup", "-d", self.dev], capture_output=True)
        if os.path.exists(self.image):
            os.unlink(self.image)


def inventory(store):
    """(files, empty files) in the store after a remount."""
    files = empty = 0
    for root, _, names in os.walk(store):
        for n in names:
            files += 1
            empty += os.path.getsize(os.path.join(root, n)) == 0
    return files, empty


def run():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fs", choices=sorted(MKFS), required=True)
    ap.add_argument("--cycles", type=int, default=crashlib.cycles_default(30))
    ap.add_argument("--seed", type=int)
    ap.add_argument("--min-ms", type=float, default=300)
    ap.add_argument("--max-ms", type=float, default=1000)
    ap.add_argument("--cuts-per-store", type=int, default=30,
                    help="start a fresh store after this many cuts (bounds disk use and check time)")
    args = ap.parse_args()

    base = os.path.join(crashlib.BUILD_DIR, f"power_cut_{args.fs}")
    os.makedirs(base, exist_ok=True)
    loop = LoopFs(args.fs, base)
    try:
        loop.open()
        seed, rng = crashlib.seeded_rng(args.seed)
        work = os.path.join(base, "work")
        crashlib.fresh_dir(work)
        store = os.path.join(loop.mnt, "store")
        log = os.path.join(work, "writer.log")
        cut_total = 0
        with open(log, "ab") as logf:
            for cycle in range(1, args.cycles + 1):
                what = f"{args.fs} seed {seed} cut {cycle}"
                if (cycle - 1) % args.cuts_per_store == 0:
                    shutil.rmtree(store, ignore_errors=True)
                    acks = os.path.join(work, f"acks.{cycle}")
                    crashlib.init_store(store)
                delay = rng.uniform(args.min_ms, args.max_ms) / 1e3
                before = crashlib.count_lines(acks, "A")
                logf.write(f"--- {what}: cut after {delay * 1e3:.0f} ms\n".encode())
                logf.flush()
                proc = crashlib.start_writer(store, acks, cycle, seed * 1000 + cycle, logf)
                time.sleep(delay)
                if proc.poll() is not None:
                    raise Failure(f"{what}: the writer exited with status {proc.returncode} before "
                                  f"the cut:\n" + crashlib.tail_of(log))
                loop.cut()
                # After the cut its appends fail (EIO) and it may exit by itself.
                proc.kill()
                proc.wait()
                loop.remount(what)
                acked = crashlib.count_lines(acks, "A") - before
                files, empty = inventory(store)
                try:
                    summary = crashlib.check(store, acks, what, append_run=1_000_000 + cycle)
                except Failure:
                    crashlib.keep_evidence(store, os.path.join(base, f"failed-store-cut{cycle}"))
                    raise
                cut_total += 1
                print(f"cut {cycle} after {delay * 1e3:.0f} ms: {acked} acknowledged in this run; "
                      f"{files} files ({empty} empty) after remount; {summary}", flush=True)
        print(f"{cut_total} power cuts on {args.fs}, every acknowledged event survived", flush=True)
    finally:
        loop.close()


if __name__ == "__main__":
    crashlib.main(run)
