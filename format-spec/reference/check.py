#!/usr/bin/python3
"""check -- the format-spec tests (registered in format-spec/meson.build).

    check.py vectors --decoder siglog_ref.py --vectors DIR
        The reference decoder, run with --strict on every DIR/NAME/store,
        must print exactly DIR/NAME/expected.jsonl, byte for byte, and with
        --headers too exactly DIR/NAME/expected-headers.jsonl (where records
        without headers also have "headers":[]).

        DIR/routing.txt (key -> partition vectors) must agree with the
        decoder's own routing function, computed from FORMAT.md.

    check.py cli --decoder siglog_ref.py --make-vectors BIN --siglog BIN --tmp DIR [--vectors DIR]
        make_vectors writes fresh stores (one with several segments) into
        a scratch directory; for each, `siglog replay --format jsonl` of
        every stream must agree with the reference decoder and with
        expected.jsonl event for event. Lines are compared byte for byte;
        where they differ only in JSON formatting (a choice of the CLI's
        encoder, e.g. number spelling in re-encoded values) the parsed
        objects must still be equal, and the difference is reported.
        With --vectors, `siglog replay` of a copy of every committed
        vector store must also give its expected.jsonl.

Both need Debian's python3-lz4 and python3-xxhash; without them the test
fails with a message saying so.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys


def fail(msg):
    sys.stderr.write("FAIL: %s\n" % msg)
    sys.exit(1)


def require_modules():
    try:
        import lz4.block  # noqa: F401
        import xxhash  # noqa: F401
    except ImportError as e:
        fail("%s -- the reference decoder needs Debian's python3-lz4 and python3-xxhash "
             "(apt-get install python3-lz4 python3-xxhash)" % e)


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if p.returncode != 0:
        fail("%s exited %d: %s" % (" ".join(cmd), p.returncode, p.stderr.decode(errors="replace").strip()))
    return p.stdout


def decode(decoder, store, strict, headers=False, cold=None):
    return run([sys.executable, decoder] + (["--strict"] if strict else []) + (["--headers"] if headers else [])
               + (["--cold-dir", cold] if cold else []) + [store])


def cold_of(d):
    """A vector's cold tier, d/cold, when it has one (FORMAT.md section
    19): its stream's cold_dir names where it was written, so readers are
    told where it lies now."""
    cold = os.path.join(d, "cold")
    return cold if os.path.isdir(cold) else None


def check_exact(decoder, name, d):
    """The decoder's output on d/store, plain and with --headers, is
    byte-identical to d's expected files. Returns the event count."""
    for expected, headers in (("expected.jsonl", False), ("expected-headers.jsonl", True)):
        with open(os.path.join(d, expected), "rb") as f:
            want = f.read()
        got = decode(decoder, os.path.join(d, "store"), True, headers, cold_of(d))
        if got != want:
            compare(name, got, want, "reference decoder" + (" --headers" if headers else ""))
            fail("%s: reference decoder output is not byte-identical to %s" % (name, expected))
    events = want.count(b"\n")
    schemas = os.path.join(d, "expected-schemas.jsonl")
    if os.path.exists(schemas):
        with open(schemas, "rb") as f:
            want = f.read()
        got = run([sys.executable, decoder, "--schemas", os.path.join(d, "store")])
        if got != want:
            fail("%s: reference decoder --schemas is not byte-identical to expected-schemas.jsonl:\n%s\n%s"
                 % (name, got.decode(errors="replace"), want.decode(errors="replace")))
    return events


def compare(name, got, want, what):
    """Event for event: byte-equal lines pass; lines equal after parsing
    pass with a note; anything else fails naming the first difference."""
    g = got.decode().splitlines()
    w = want.decode().splitlines()
    if len(g) != len(w):
        fail("%s: %s has %d events, expected %d" % (name, what, len(g), len(w)))
    notes = 0
    for i, (a, b) in enumerate(zip(g, w)):
        if a == b:
            continue
        if json.loads(a) != json.loads(b):
            fail("%s: %s event %d differs:\n  got  %s\n  want %s" % (name, what, i, a, b))
        notes += 1
    if notes:
        print("note: %s: %s: %d events differ only in JSON formatting" % (name, what, notes))
    return len(g)


def vector_names(root):
    names = sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n, "store")))
    if not names:
        fail("no vectors under %s" % root)
    return names


def load_decoder(path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("siglog_ref", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def check_routing(decoder, path):
    """Every line of a routing.txt: the hash and each partition are what
    the reference decoder's route() computes; the keyless line says round
    robin. Returns the number of keys checked."""
    ref = load_decoder(decoder)
    counts = None
    keys = 0
    with open(path) as f:
        for n, line in enumerate(f, 1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if fields[0] == "partitions":
                counts = [int(c) for c in fields[1:]]
                continue
            if counts is None or len(fields) != 2 + len(counts):
                fail("%s:%d: malformed line" % (path, n))
            key = b"" if fields[0] == "-" else bytes.fromhex(fields[0])
            if len(key) == 0:
                want = ["-"] + ["rr"] * len(counts)
            else:
                want = ["%016x" % ref.xxh3(key)] + [str(ref.route(key, c)) for c in counts]
            if fields[1:] != want:
                fail("%s:%d: key %s routes to %s, expected %s" % (path, n, fields[0][:32], fields[1:], want))
            keys += 1
    if counts is None or keys == 0:
        fail("%s: no routing vectors" % path)
    print("ok: routing: %d keys over %d partition counts" % (keys, len(counts)))


def check_vectors(args):
    for name in vector_names(args.vectors):
        n = check_exact(args.decoder, name, os.path.join(args.vectors, name))
        print("ok: %s: %d events" % (name, n))
    check_routing(args.decoder, os.path.join(args.vectors, "routing.txt"))
    print("%d passed, 0 failed" % (len(vector_names(args.vectors)) + 1))


def check_cli(args):
    tmp = os.path.join(args.tmp, "format_cli_agrees")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(args.tmp, exist_ok=True)
    run([args.make_vectors, tmp])
    names = vector_names(tmp)
    for name in names:
        d = os.path.join(tmp, name)
        store = os.path.join(d, "store")
        with open(os.path.join(d, "expected.jsonl"), "rb") as f:
            want = f.read()
        # The reference decoder and replay (a read-only open) both read the
        # store untouched.
        ref = decode(args.decoder, store, True)  # a cold tier by its cold_dir setting
        cli = replay_all(args.siglog, store)
        n = compare(name, ref, want, "reference decoder")
        compare(name, cli, ref, "siglog replay vs reference decoder")
        check_exact(args.decoder, name, d)
        print("ok: %s: %d events agree" % (name, n))
    check_routing(args.decoder, os.path.join(tmp, "routing.txt"))
    if args.vectors:
        check_committed(args, tmp)
    check_journal_recovery(args, tmp)
    check_cold_damage(args, tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, 0 failed" % len(names))


def replay_all(siglog, store):
    """`siglog replay --format jsonl` of every stream, streams by name."""
    streams = sorted(os.listdir(os.path.join(store, "streams")), key=lambda n: n.encode())
    return b"".join(run([siglog, "replay", store, s, "--format", "jsonl"]) for s in streams)


def check_committed(args, tmp):
    """The committed vectors, not only fresh ones, replay as expected: the
    bytes in the repository stay readable by this build (a copy: the
    repository's own files are never handed to the engine)."""
    for vectors in args.vectors:
        kind = os.path.basename(os.path.normpath(vectors))
        for name in vector_names(vectors):
            d = os.path.join(vectors, name)
            store = os.path.join(tmp, "committed", kind, name)
            shutil.copytree(os.path.join(d, "store"), store)
            if cold_of(d):
                # The copy's cold tier beside it, told to its streams as
                # an operator who moved a cold_dir would.
                shutil.copytree(cold_of(d), store + ".cold")
                for s in os.listdir(os.path.join(store, "streams")):
                    run([args.siglog, "stream", "config", store, s, "--set", "cold_dir=" + store + ".cold"])
            with open(os.path.join(d, "expected.jsonl"), "rb") as f:
                want = f.read()
            n = compare(name, replay_all(args.siglog, store), want,
                        "siglog replay of the committed vector %s/%s" % (kind, name))
            print("ok: committed %s/%s: %d events replayed" % (kind, name, n))


def check_journal_recovery(args, tmp):
    """A crash after the journal sync but before the segment write: the
    last batch of vector `basic` lives only in the journal, followed in
    the segment by a torn half-written copy. The reference decoder and
    siglog's read-only open (both apply the journal in memory) must still
    produce every event, and siglog must not change a byte of the store."""
    import struct
    import xxhash

    def h(b):
        return xxhash.xxh3_64_intdigest(bytes(b))

    store = os.path.join(tmp, "basic", "store")
    with open(os.path.join(store, "siglog.store"), "rb") as f:
        store_id = struct.unpack_from("<Q", f.read(), 16)[0]
    seg = os.path.join(store, "streams", "events", "00000", "%020d.seg" % 0)
    with open(seg, "rb") as f:
        data = f.read()
    pos = last = 0
    while pos < len(data):  # find the last batch (FORMAT.md section 7)
        last = pos
        pos += 64 + struct.unpack_from("<I", data, pos + 20)[0]
    batch = data[last:]
    with open(seg, "wb") as f:
        f.write(data[:last] + batch[:len(batch) // 2])
    # Nor did the clean close happen that wrote the partition checkpoint
    # (FORMAT.md section 5): before it, this never-rolled partition had none,
    # nor the floor file beside it that follows each checkpoint write.
    os.remove(os.path.join(store, "streams", "events", "00000", "catalog.ckpt"))
    floor = os.path.join(store, "streams", "events", "00000.floor")
    if os.path.exists(floor):
        os.remove(floor)
    journal = bytearray(1 << 20)
    slot = bytearray(struct.pack("<4sHHQQ", b"SGJH", 1, 0, 1, store_id))
    slot += struct.pack("<Q", h(slot))
    journal[4096:4096 + 32] = slot  # generation 1 lives in slot 1
    entry = bytearray(struct.pack("<4sIIIQ", b"SGJE", 1, 0, len(batch), 1))
    entry += struct.pack("<Q", h(entry))
    journal[8192:8192 + 32 + len(batch)] = entry + batch
    with open(os.path.join(store, "journal"), "wb") as f:
        f.write(journal)
    with open(os.path.join(tmp, "basic", "expected.jsonl"), "rb") as f:
        want = f.read()
    ref = decode(args.decoder, store, False)
    compare("journal-recovery", ref, want, "reference decoder")
    before = tree_state(store)
    cli = run([args.siglog, "replay", store, "events", "--format", "jsonl"])
    compare("journal-recovery", cli, want, "siglog replay of the journal's batch")
    if tree_state(store) != before:
        fail("journal-recovery: siglog replay (a read-only open) changed the store")
    print("ok: journal-recovery: the journal's batch is replayed by both, the store untouched")


def check_cold_damage(args, tmp):
    """The fresh `cold` vector's archives read by their cold_dir setting:
    one whose byte is flipped, then one that is missing, and the
    reference decoder fails naming it, as `siglog replay` does; neither
    prints an event of the partition past the damage."""
    d = os.path.join(tmp, "cold")
    store, cold = os.path.join(d, "store"), os.path.join(d, "cold")
    archive = os.path.join(cold, sorted(os.listdir(cold))[0])
    with open(archive, "r+b") as f:
        f.seek(200)
        b = f.read(1)
        f.seek(200)
        f.write(bytes([b[0] ^ 0x10]))
    for what in ("flipped", "missing"):
        for cmd in ([sys.executable, args.decoder, store], [args.siglog, "replay", store, "aged", "--format", "jsonl"]):
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            err = p.stderr.decode(errors="replace")
            if p.returncode == 0 or archive not in err or p.stdout:
                fail("cold: %s %s archive: %s exited %d, printed %d bytes: %s"
                     % (what, os.path.basename(archive), cmd[0], p.returncode, len(p.stdout), err.strip()))
        if what == "flipped":
            os.remove(archive)
    print("ok: cold: a damaged or missing archive is an error naming it, for both readers")


def tree_state(root):
    """Every file and directory below root: path, mode, size, mtime, and
    the contents' hash."""
    import hashlib
    state = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            digest = ""
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            state.append((os.path.relpath(path, root), st.st_mode, st.st_size, st.st_mtime_ns, digest))
    return state


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    v = sub.add_parser("vectors")
    v.add_argument("--decoder", required=True)
    v.add_argument("--vectors", required=True)
    c = sub.add_parser("cli")
    c.add_argument("--decoder", required=True)
    c.add_argument("--make-vectors", required=True)
    c.add_argument("--siglog", required=True)
    c.add_argument("--tmp", required=True)
    c.add_argument("--vectors", action="append", default=[],
                   help="a directory of committed vectors, replayed by siglog too (repeatable)")
    args = ap.parse_args()
    require_modules()
    # Room for json.loads of lines whose values nest as deeply as the
    # envelope allows (FORMAT.md, Appendix: 2048, plus the envelope).
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    if args.mode == "vectors":
        check_vectors(args)
    else:
        check_cli(args)


if __name__ == "__main__":
    main()
