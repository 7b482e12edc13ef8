#!/usr/bin/env python3
"""Recompute `siglog replay --redact LEVEL` (mode hash) as an auditor would,
from FORMAT.md section 25 alone, and compare it with a replay's output.

    redact_check.py STORE DEFINITION.json LEVEL ORIGINALS.jsonl REPLAY.jsonl

ORIGINALS holds the appended values, each with a unique integer "n";
REPLAY is `siglog replay --format jsonl` output of them, every stream
registered with DEFINITION as the events' version. Exit 0 when every
replayed value is exactly the original redacted by the formula and every
original was replayed once; else the first difference on stderr, exit 1.
"""
import hashlib
import json
import sys

LEVELS = ["public", "internal", "personal", "secret"]


def redaction_key(store):
    with open(store + "/store.secret", "rb") as f:
        secret = f.read()[16:48]
    return hashlib.blake2b(b"siglog-redact-v1", key=secret, digest_size=32).digest()


def pseudonym(key, value):
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(text.encode(), key=key, digest_size=32).hexdigest()


def definition_of(node, name):
    """The definition of member `name` of an object defined by node."""
    props = node.get("properties", {})
    if name in props:
        return props[name]
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def redact(key, level, node, value):
    """value (defined by node, itself below the level) with every field at
    or above the level replaced by its pseudonym."""
    if isinstance(value, dict):
        out = {}
        for name, child in value.items():
            d = definition_of(node, name)
            out[name] = redact_field(key, level, d, child)
        return out
    if isinstance(value, list) and "items" in node:
        return [redact_field(key, level, node["items"], v) for v in value]
    return value


def redact_field(key, level, node, value):
    if node is None:
        return value
    if LEVELS.index(node.get("x-sensitivity", "public")) >= level:
        return pseudonym(key, value)
    return redact(key, level, node, value)


def main():
    store, definition, level, originals, replayed = sys.argv[1:]
    key = redaction_key(store)
    with open(definition) as f:
        root = json.load(f)
    level = LEVELS.index(level)
    with open(originals) as f:
        want = {e["n"]: e for e in map(json.loads, f)}
    with open(replayed) as f:
        for line in f:
            got = json.loads(line)["value"]
            n = got["n"]
            expected = redact(key, level, root, want.pop(n))
            if got != expected:
                sys.exit(f"event n={n}: replayed {got!r}, the formula gives {expected!r}")
    if want:
        sys.exit(f"events never replayed: {sorted(want)}")


if __name__ == "__main__":
    main()
