#!/bin/sh
# Writes the seed-* inputs of the file-format fuzz targets from the golden
# stores in format-spec/vectors (real engine output, so every seed starts
# valid): segments for recover_tail (behind its two option bytes, whole and
# torn), index files for open_index, store and stream metadata for
# parse_store_meta, partition checkpoints for parse_checkpoint (alone and
# followed by segment bases), and a few damage plans for open_store.
# Usage: tests/fuzz/seed_from_vectors.sh   (from the source root)
set -eu
v=format-spec/vectors
c=tests/fuzz/corpus
mkdir -p $c/recover_tail $c/open_index $c/parse_store_meta $c/parse_checkpoint $c/open_store

# recover_tail: option byte, prefix share, then the .seg bytes.
opts() { printf "\\$(printf %o "$1")\\$(printf %o "$2")"; }
seg() {
    name=$1 src=$2 flags=$3 share=$4 cut=${5:-}
    { opts "$flags" "$share"; if [ -n "$cut" ]; then head -c "$cut" "$src"; else cat "$src"; fi; } \
        > $c/recover_tail/seed-$name
}
seg basic $v/basic/store/streams/events/00000/00000000000000000000.seg 0 0
seg lz4-trust-nothing $v/lz4/store/streams/clicks/00000/00000000000000000000.seg 1 0
seg multi-prefix-indexes $v/multi/store/streams/beta.v2_x-y/00000/00000000000000000000.seg 2 128
seg multi-repair $v/multi/store/streams/alpha/00000/00000000000000000000.seg 4 0
seg torn-tail $v/lz4/store/streams/clicks/00001/00000000000000000000.seg 2 200 1000
seg many-batches-torn $v/segments/store/streams/telemetry/00000/00000000000000000000.seg 3 64 6000
seg empty $v/multi/store/streams/empty/00000/00000000000000000000.seg 0 0
seg gaps $v/gaps/store/streams/compacted/00000/00000000000000000000.seg 0 0
seg gaps-prefix-indexes $v/gaps/store/streams/compacted/00000/00000000000000000746.seg 2 128

# open_index: offset and time indexes, empty and full of entries.
cp $v/basic/store/streams/events/00000/00000000000000000000.oix $c/open_index/seed-basic.oix
cp $v/basic/store/streams/events/00000/00000000000000000000.tix $c/open_index/seed-basic.tix
cp $v/multi/store/streams/empty/00000/00000000000000000000.oix $c/open_index/seed-empty.oix
cp $v/segments/store/streams/telemetry/00000/00000000000000000000.oix $c/open_index/seed-segments.oix
cp $v/segments/store/streams/telemetry/00000/00000000000000000000.tix $c/open_index/seed-segments.tix
cp $v/segments/store/streams/telemetry/00000/00000000000000000580.oix $c/open_index/seed-segments-580.oix
cp $v/segments/store/streams/telemetry/00000/00000000000000000580.tix $c/open_index/seed-segments-580.tix

# parse_store_meta: every store file and stream.meta of the vectors.
cp $v/basic/store/siglog.store $c/parse_store_meta/seed-basic.store
cp $v/segments/store/siglog.store $c/parse_store_meta/seed-segments.store
# Version 1 from the vectors kept as first committed, version 2 from the
# current ones.
for m in $v-v1/*/store/streams/*/stream.meta; do
    s=${m%/stream.meta}
    cp "$m" "$c/parse_store_meta/seed-${s##*/}.meta"
done
for m in $v/*/store/streams/*/stream.meta; do
    s=${m%/stream.meta}
    cp "$m" "$c/parse_store_meta/seed-v2-${s##*/}.meta"
done

# parse_checkpoint: the checkpoints of one and of several segments, then
# the latter followed by its segments' bases (u64 little-endian), and by
# a list missing the active segment.
cp $v/basic/store/streams/events/00000/catalog.ckpt $c/parse_checkpoint/seed-basic
ckpt=$v/segments/store/streams/telemetry/00000/catalog.ckpt
cp $ckpt $c/parse_checkpoint/seed-segments
u64() {
    n=$1
    for _ in 1 2 3 4 5 6 7 8; do printf "\\$(printf %o $((n & 255)))"; n=$((n >> 8)); done
}
bases=$(ls $v/segments/store/streams/telemetry/00000/*.seg | sed 's|.*/0*\([0-9][0-9]*\)\.seg|\1|; s|^$|0|')
{ cat $ckpt; for b in $bases; do u64 "$b"; done; } > $c/parse_checkpoint/seed-segments-listed
{ cat $ckpt; for b in $bases; do u64 "$b"; done | head -c -8; } > $c/parse_checkpoint/seed-segments-last-missing

# open_store: groups of (file, u32 position, xor; xor 0 truncates).
plan() { printf "$2" > $c/open_store/seed-$1; }
plan clean ''
plan flip-early-bytes '\000\000\001\000\000\001\003\100\000\000\000\200'
plan flip-and-truncate '\005\020\000\000\000\004\011\377\377\000\000\000'
plan truncate-tails '\007\000\010\000\000\000\012\000\004\000\000\000\014\200\000\000\000\000'
plan four-flips '\001\001\000\000\000\001\002\002\000\000\000\002\004\003\000\000\000\004\010\004\000\000\000\010'
