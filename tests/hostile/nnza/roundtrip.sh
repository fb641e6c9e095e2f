#!/bin/sh
# roundtrip.sh NNZC SEED.s WORK: asm -> disasm -> asm gives the same bytes; info works on it.
nnzc=$1 seed=$2 work=$3
mkdir -p "$work" || exit 1
set -e
"$nnzc" asm "$seed" -o "$work/a.nnza"
"$nnzc" disasm "$work/a.nnza" -o "$work/a.s"
"$nnzc" asm "$work/a.s" -o "$work/b.nnza"
cmp "$work/a.nnza" "$work/b.nnza"
"$nnzc" info "$work/a.nnza" >"$work/info.txt"
grep -q "config 'stc'" "$work/info.txt"
for p in dense stc vegeta demm gs; do
	"$nnzc" accel-config $p -o "$work/$p.cfg"
	"$nnzc" accel-config "$work/$p.cfg" -o "$work/$p.canon"
	"$nnzc" accel-config "$work/$p.canon" -o "$work/$p.canon2"
	cmp "$work/$p.canon" "$work/$p.canon2"
	# the fingerprint a preset prints is the one its file form prints
	[ "$(tail -n 1 "$work/$p.cfg")" = "$(tail -n 1 "$work/$p.canon")" ]
done
echo "round trip ok"
