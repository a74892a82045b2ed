#!/usr/bin/env bash
# Every shipped job file is valid (`hptune check`), and the grid example
# enumerates seed 001's grid in the documented order.
. "$(dirname "$0")/lib.sh"
cd "$HPTUNE_ROOT"
for job in jobs/*.yaml; do
    name=jobs_$(basename "$job" .yaml)
    out=$("$HPTUNE" check "$job" 2>&1) && grep -q "valid" <<<"$out" && pass "$name" || fail "$name" "$out"
done
out=$("$HPTUNE" check jobs/grid_lr_activation.yaml)
order=$(grep -E "^    trial [0-9]+:" <<<"$out" | grep -oE "learning_rate=[0-9.e-]+ activation=[a-z]+" | tr '\n' ' ')
want="learning_rate=0.001 activation=relu learning_rate=0.001 activation=tanh learning_rate=0.01 activation=relu learning_rate=0.01 activation=tanh learning_rate=0.1 activation=relu "
[ "$order" = "$want" ] && pass seed001_grid_order || fail seed001_grid_order "$order"
