#!/usr/bin/env bash
# The delivery tests run again and again: the churn test (workers join and leave the group while articles flow),
# test_shutdown.py (a stop mid-stream, a successor takes over) and test_redelivery.py (a crash mid-stream, a
# successor takes over, then a stop). Each run must lose nothing and publish nothing twice; a failure shows up only
# now and then, so one pass says little. Prints each run's result and the consumer skips the workers logged and
# repaired (records read straight from the broker), then the tally.
#
# Usage, from the repository root after the README's test command has set up .venv:
#   benchmarks/delivery_loop.sh [runs]        (default 10; about 3.5 minutes a run)
set -u

runs=${1:-10}
out=$(mktemp -d "${TMPDIR:-/tmp}/delivery-loop.XXXXXX")
passed=0
for i in $(seq 1 "$runs"); do
    # every run's worker logs are kept, passed or not (pyproject keeps only failed tests' folders)
    if .venv/bin/pytest -q -p no:cacheprovider --basetemp="$out/run$i" -o tmp_path_retention_policy=all \
        "tests/integration/test_followups.py::test_no_article_is_lost_while_workers_join_and_leave_the_group" \
        tests/integration/test_shutdown.py tests/integration/test_redelivery.py > "$out/run$i.txt" 2>&1; then
        passed=$((passed + 1))
    fi
    # the workers' logs are under the run's pytest temporary folder
    repairs=$(grep -rhoE "[^ ]+\[[0-9]+\] records [0-9]+\.\.[0-9]+ were skipped by the consumer" "$out/run$i" 2>/dev/null)
    echo "run $i: $(tail -n 1 "$out/run$i.txt")"
    [ -n "$repairs" ] && echo "$repairs" | sed 's/^/    repaired: /'
done
echo "passed $passed of $runs; outputs and worker logs in $out"
[ "$passed" -eq "$runs" ]
