#!/usr/bin/env bash
# Installs the build into a scratch prefix and builds the README's library
# example against it with `pkg-config --cflags --libs siglog` and nothing
# else: proves the installed header, library, soname and siglog.pc are
# enough for an embedding program, and that the README example runs as
# printed.
#   check_install.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR
set -euo pipefail
build=$1 src=$2 scratch=$3
rm -rf "$scratch"
mkdir -p "$scratch/dest" "$scratch/app"
meson install -C "$build" --no-rebuild --quiet --destdir "$scratch/dest" >/dev/null

prefix=$(meson introspect "$build" --buildoptions |
  python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
root="$scratch/dest$prefix"
pcfile=$(find "$root" -name siglog.pc -print -quit)
[ -n "$pcfile" ] || { echo "no siglog.pc installed under $root" >&2; exit 1; }
libdir=$(dirname "$(dirname "$pcfile")")
for f in "$root/include/siglog.h" "$libdir/libsiglog.a" "$libdir/libsiglog.so.0" "$root/bin/siglog"; do
  [ -e "$f" ] || { echo "not installed: ${f#"$scratch/dest"}" >&2; exit 1; }
done
find "$root" -name 'siglog.1*' | grep -q . || { echo "man page not installed" >&2; exit 1; }
soname=$(readelf -d "$libdir/libsiglog.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libsiglog.so.0" ] || { echo "soname is '$soname', expected libsiglog.so.0" >&2; exit 1; }

# The first C block after "## The library" in the README, as printed.
python3 - "$src/README.md" "$scratch/app/app.c" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
section = text[text.index("## The library"):]
block = re.search(r"```c\n(.*?)```", section, re.S)
if not block:
    sys.exit("README: no C example under '## The library'")
open(sys.argv[2], "w").write(block.group(1))
PY
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --define-variable=prefix="$root" --cflags --libs siglog)
cd "$scratch/app"
# shellcheck disable=SC2086 # flags are words
cc -std=c11 -Wall -Wextra -Werror app.c $flags -o app
out=$(LD_LIBRARY_PATH="$libdir" ./app)
echo "$out"
grep -q '^0 {"task":"t1","ok":true}$' <<<"$out" || { echo "the example printed something else" >&2; exit 1; }

# The Python module as installed, with the README's Python example as
# printed. The library is found by its soname here (the scratch prefix is
# not where _installed.py says it will be).
pkg=$(find "$root" -path '*/siglog/_installed.py' -print -quit)
[ -n "$pkg" ] || { echo "the Python module is not installed" >&2; exit 1; }
python3 - "$src/README.md" "$scratch/app/example.py" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
block = re.search(r"```python\n(.*?)```", text[text.index("## Python"):], re.S)
if not block:
    sys.exit("README: no Python example under '## Python'")
open(sys.argv[2], "w").write(block.group(1))
PY
out=$(PYTHONPATH=$(dirname "$(dirname "$pkg")") LD_LIBRARY_PATH="$libdir" /usr/bin/python3 example.py)
echo "$out"
[ "$out" = "0 {'task': 't1', 'ok': True} (('model', 'v3'),) True" ] ||
  { echo "the Python example printed something else" >&2; exit 1; }
