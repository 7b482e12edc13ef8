#!/usr/bin/env python3
"""Check the durability order of a scenario run in its system-call trace.

    fsync_order.py run SCENARIO --tmp DIR    trace a scenario run, check it
    fsync_order.py check TRACE --root STORE  check an existing trace

The trace comes from `strace -f -tt -y` (-y names the file behind every
descriptor). The scenario acknowledges with one write(2) to fd 1 after
each call that promised durability returned; that write is the moment the
program relies on everything before it. Rules, for paths under the store
(and the store directory's own entry in its parent):

  tmp-synced   a file is fsync'ed after its last write (or creation,
               truncation) before it is renamed: rename publishes content,
               so the content must be durable first.
  dir-synced   every create, rename and unlink in a directory is followed
               by an fsync of that directory before the next
               acknowledgement (and before a journal reset relies on it).
               Temporary files, the writer lock and the hwm hint files
               are exempt: a tmp only matters once renamed, the lock and
               the hints never.
  journal-synced  no acknowledgement while the journal has a write that no
               completed fdatasync/fsync of the journal covers.
  checkpoint   a journal header rewrite (the reset after a checkpoint, which
               forgets the journal's entries) happens only when every
               segment file is synced and every directory entry is durable.

"Covers": a sync covers the writes that completed before the sync began,
and counts once it returned 0. With -f, calls of several threads interleave
as "<unfinished ...>"/"<... resumed>" pairs; a call begins at its first line
and ends at its last.

Exit status: 0 when there is no violation; 1 when there are (each printed
with its trace line); 99 when the trace is unusable (the scenario failed,
or the trace lacks the acknowledgements, renames, journal writes or the
checkpoint this check exists for), so a broken setup never passes for a
caught bug.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

# LeakSanitizer cannot run under ptrace: in a sanitizer build the traced
# runs leave leak checking to the untraced ones.
TRACED_ENV = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")

TRACED = "openat,write,pwrite64,pwritev,fsync,fdatasync,ftruncate,rename,renameat,renameat2,unlink,mkdir,msync"
SETUP_ERROR = 99
JOURNAL_SLOT_BYTES = 4096
JOURNAL_SLOT_USED = 32

LINE = re.compile(r"^(\d+)\s+\S+\s+(.*)$")
START = re.compile(r"^([a-z0-9_]+)\((.*)$")
RESUMED = re.compile(r"^<\.\.\. ([a-z0-9_]+) resumed>(.*)$")
RESULT = re.compile(r"\)\s+=\s+(-?\d+|\?)")
FD_ARG = re.compile(r"^(\d+)<(.*?)>")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def unquote(s):
    return s.encode("latin-1").decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")


class Call:
    def __init__(self, name, args, begin, lineno, text):
        self.name, self.args, self.begin, self.lineno, self.text = name, args, begin, lineno, text
        self.end = begin
        self.result = None

    def fd_path(self):
        m = FD_ARG.match(self.args)
        return (int(m.group(1)), unquote(m.group(2))) if m else (None, None)

    def strings(self):
        return [unquote(s) for s in STRING.findall(self.args.split("[{", 1)[0])]


def calls_of(lines):
    """Yield ("begin"|"end", Call) in trace order; unfinished calls end at
    their resumed line."""
    pending = {}
    for lineno, raw in enumerate(lines, 1):
        m = LINE.match(raw.rstrip("\n"))
        if not m:
            continue
        pid, rest = m.group(1), m.group(2)
        r = RESUMED.match(rest)
        if r:
            call = pending.pop(pid, None)
            if call is None:
                continue
            call.args += r.group(2)
        else:
            s = START.match(rest)
            if not s:
                continue  # signals, exits
            call = Call(s.group(1), s.group(2), lineno, lineno, raw.strip())
            yield "begin", call
            if rest.endswith("<unfinished ...>"):
                call.args = call.args[: -len("<unfinished ...>")].rstrip()
                pending[pid] = call
                continue
        call.end = lineno
        res = RESULT.search(call.args)
        call.result = None if not res or res.group(1) == "?" else int(res.group(1))
        yield "end", call


class Checker:
    def __init__(self, root):
        self.root = os.path.normpath(root)
        self.unsynced = {}      # path -> line of the latest write not yet covered
        self.dir_ops = {}       # dir -> [(end line, what)] not yet covered
        self.sync_begin = {}    # id(call) -> begin line
        self.known = set()      # paths that exist: a create of one of them adds no entry
        self.violations = []
        # What the trace must hold to prove anything; dir_sync is only told.
        self.seen = {"ack": 0, "rename": 0, "journal_write": 0, "journal_reset": 0, "entry_change": 0}
        self.dir_syncs = 0

    def in_scope(self, path):
        return path == self.root or path.startswith(self.root + "/")

    def exempt(self, path):
        return path.endswith(".tmp") or os.path.basename(path) in ("writer.lock", "hwm")

    def violate(self, call, rule, what):
        self.violations.append("line %d: %s: %s\n    %s" % (call.lineno, rule, what, call.text[:300]))

    def dir_op(self, call, path, what):
        if self.in_scope(path) and not self.exempt(path):
            self.seen["entry_change"] += 1
            self.dir_ops.setdefault(os.path.dirname(path), []).append((call.end, what))

    def wrote(self, call, path):
        if self.in_scope(path):
            self.unsynced[path] = call.end

    def is_journal(self, path):
        return path == os.path.join(self.root, "journal")

    def require_durable_entries(self, call, rule):
        for d, ops in sorted(self.dir_ops.items()):
            for line, what in ops:
                self.violate(call, rule, "%s (line %d) in %s, and no fsync of the directory since" % (what, line, d))
            ops.clear()

    # -- the calls --------------------------------------------------------
    def begin(self, call):
        if call.name in ("fsync", "fdatasync"):
            self.sync_begin[id(call)] = call.begin
        elif call.name == "write" and call.args.startswith("1<"):
            self.seen["ack"] += 1
            self.require_durable_entries(call, "dir-synced")
            j = os.path.join(self.root, "journal")
            if j in self.unsynced:
                self.violate(call, "journal-synced", "acknowledged while the journal write at line %d is not "
                             "covered by a completed fdatasync" % self.unsynced[j])
        elif call.name in ("rename", "renameat", "renameat2"):
            src = call.strings()[0] if call.strings() else ""
            if self.in_scope(src) and src in self.unsynced:
                self.violate(call, "tmp-synced", "%s renamed, but its write at line %d was never synced"
                             % (src, self.unsynced[src]))
        elif call.name == "pwrite64":
            _, path = call.fd_path()
            if path and self.is_journal(path):
                parts = [p.strip() for p in call.args.rsplit(")", 1)[0].split(",")]
                try:
                    length, off = int(parts[-2]), int(parts[-1])
                except (ValueError, IndexError):
                    return
                if length == JOURNAL_SLOT_USED and off in (0, JOURNAL_SLOT_BYTES):
                    self.seen["journal_reset"] += 1
                    for p, line in sorted(self.unsynced.items()):
                        if p.endswith(".seg"):
                            self.violate(call, "checkpoint", "journal header rewritten while %s has a write "
                                         "(line %d) no fdatasync covered" % (p, line))
                    self.require_durable_entries(call, "checkpoint")

    def end(self, call):
        ok = call.result is not None and call.result >= 0
        if not ok:
            return
        name = call.name
        if name in ("fsync", "fdatasync"):
            _, path = call.fd_path()
            began = self.sync_begin.pop(id(call), call.begin)
            if path in self.unsynced and self.unsynced[path] < began:
                del self.unsynced[path]
            if path in self.dir_ops:
                self.dir_syncs += 1
                self.dir_ops[path] = [(l, w) for l, w in self.dir_ops[path] if l >= began]
        elif name in ("pwrite64", "pwritev", "write", "ftruncate"):
            _, path = call.fd_path()
            if path:
                self.wrote(call, path)
                if self.is_journal(path) and name == "pwritev":
                    self.seen["journal_write"] += 1
        elif name == "openat":
            flags = call.args.split(",")[2] if call.args.count(",") >= 2 else ""
            m = re.search(r"=\s+\d+<(.*?)>", call.args)
            path = unquote(m.group(1)) if m else (call.strings() or [""])[0]
            if "O_CREAT" in flags and path not in self.known:
                # A new name: an entry to make durable (an empty file has
                # no content to sync).
                self.dir_op(call, path, "create of %s" % os.path.basename(path))
            elif "O_TRUNC" in flags:
                self.wrote(call, path)  # content thrown away: sync before relying on it
            self.known.add(path)
        elif name == "mkdir":
            path = (call.strings() or [""])[0]
            self.known.add(path)
            self.dir_op(call, path, "mkdir of %s" % os.path.basename(path))
        elif name in ("rename", "renameat", "renameat2"):
            src, dst = (call.strings() + ["", ""])[:2]
            self.seen["rename"] += 1
            self.known.discard(src)
            self.known.add(dst)
            if src in self.unsynced:
                self.unsynced[dst] = self.unsynced.pop(src)
            else:
                self.unsynced.pop(dst, None)
            what = "rename of %s to %s" % (os.path.basename(src), os.path.basename(dst))
            self.dir_op(call, dst, what)
            if os.path.dirname(src) != os.path.dirname(dst):
                self.dir_op(call, src, what)
        elif name == "unlink":
            path = (call.strings() or [""])[0]
            self.known.discard(path)
            self.unsynced.pop(path, None)
            self.dir_op(call, path, "unlink of %s" % os.path.basename(path))


def check(trace_path, root):
    with open(trace_path, encoding="latin-1") as f:
        lines = f.readlines()
    c = Checker(root)
    for kind, call in calls_of(lines):
        (c.begin if kind == "begin" else c.end)(call)
    missing = [k for k, n in c.seen.items() if n == 0]
    print("fsync_order: %d lines; %s, dir_sync %d" % (len(lines), ", ".join("%s %d" % kv for kv in c.seen.items()),
                                                    c.dir_syncs))
    if missing:
        print("fsync_order: the trace lacks %s: it cannot prove anything" % ", ".join(missing))
        return SETUP_ERROR
    for v in c.violations:
        print("VIOLATION " + v)
    print("fsync_order: %d violations" % len(c.violations))
    return 1 if c.violations else 0


def run(scenario, tmp):
    os.makedirs(tmp, exist_ok=True)
    work = tempfile.mkdtemp(prefix="fsync-order-", dir=tmp)
    store = os.path.join(work, "store")
    trace = os.path.join(work, "trace")
    with open(os.path.join(work, "acks"), "wb") as acks:
        proc = subprocess.run(["strace", "-f", "-tt", "-y", "-qq", "-s", "64", "-o", trace,
                               "-e", "trace=" + TRACED, scenario, "run", store], stdout=acks, env=TRACED_ENV)
    if proc.returncode != 0:
        print("fsync_order: the scenario failed (status %d); trace kept in %s" % (proc.returncode, trace))
        return SETUP_ERROR
    rc = check(trace, store)
    if rc == 0:
        shutil.rmtree(work)
    else:
        print("fsync_order: trace kept in %s" % trace)
    return rc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("scenario")
    r.add_argument("--tmp", default=tempfile.gettempdir())
    k = sub.add_parser("check")
    k.add_argument("trace")
    k.add_argument("--root", required=True)
    a = ap.parse_args()
    return run(a.scenario, a.tmp) if a.cmd == "run" else check(a.trace, a.root)


if __name__ == "__main__":
    sys.exit(main())
