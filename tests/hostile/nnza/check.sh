#!/bin/sh
# check.sh NNZC DIR WORK: every file of DIR/corpus listed in DIR/cases.txt through `nnzc disasm`
# and `nnzc info`. Each must exit with status 1 (not a signal, not 0), print exactly one stderr
# line "nnzc: error: ..." containing every expected substring, and no sanitizer report.
nnzc=$1 dir=$2 work=$3
mkdir -p "$work" || exit 1
fail=0 n=0
tab=$(printf '\t')
while IFS= read -r line; do
	case $line in '#'*|'') continue ;; esac
	file=${line%%"$tab"*}
	rest=${line#*"$tab"}
	for cmd in disasm info; do
		n=$((n + 1))
		"$nnzc" $cmd "$dir/corpus/$file" >"$work/out" 2>"$work/err"
		rc=$?
		why=""
		[ $rc -eq 1 ] || why="exit status $rc"
		[ "$(wc -l <"$work/err")" -eq 1 ] || why="$why; stderr is not one line"
		grep -q '^nnzc: error: ' "$work/err" || why="$why; no 'nnzc: error:'"
		grep -q 'Sanitizer\|runtime error' "$work/err" && why="$why; sanitizer report"
		old_ifs=$IFS
		IFS=$tab
		for want in $rest; do
			grep -qF -- "$want" "$work/err" || why="$why; missing '$want'"
		done
		IFS=$old_ifs
		if [ -n "$why" ]; then
			echo "FAIL $cmd $file: $why"
			sed 's/^/    /' "$work/err" | head -5
			fail=$((fail + 1))
		fi
	done
done <"$dir/cases.txt"
echo "$((n - fail))/$n hostile .nnza checks passed"
[ $fail -eq 0 ]
