#!/usr/bin/env bash
# Load tests of many workers on one PostgreSQL study, each on its own throw-away server (started and stopped here).
#   postgres_load_test.sh NASFORGE_BINARY plain|kill|restart
# plain:   8 workers, 1000 trials: exactly 1000 COMPLETE, no other trial, no duplicate number, every worker exits 0,
#          never more than two connections per worker (trials, heartbeats).
# kill:    the same while 3 random workers are killed with SIGKILL mid-run and 3 new ones start: the killed workers'
#          trials become FAIL (no heartbeat) and are retried; still exactly 1000 finished, all COMPLETE.
# restart: the same while the database server goes down mid-run for longer than the heartbeat grace period: every
#          worker rides it out and exits 0; exactly 1000 finished, all COMPLETE, and no trial failed (no live
#          worker's trial is reaped for the beats the outage cost it).
set -euo pipefail

NASFORGE=$(realpath "${1:?usage: postgres_load_test.sh NASFORGE_BINARY plain|kill|restart}")
MODE=${2:?usage: postgres_load_test.sh NASFORGE_BINARY plain|kill|restart}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORKERS=8
TOTAL=1000
work=$(mktemp -d /tmp/nasforge-load.XXXXXX)
state="$work/pg"
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  bash "$ROOT/scripts/pg-test-server.sh" stop "$state" || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL ($MODE): $*" >&2
  for f in "$work"/worker-*.log; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
  done
  exit 1
}

bash "$ROOT/scripts/pg-test-server.sh" start "$state"
server=$(cat "$state/url")
url="${server%/*}/load"
psql -q -d "$server" -c "CREATE DATABASE load" >/dev/null
sql() { psql -X -At -d "$url" -c "$1"; }

# The objective sleeps so that a SIGKILL lands in the middle of a trial most of the time; short heartbeats so the
# killed workers' trials go stale within seconds.
sleep_ms=0
[ "$MODE" != plain ] && sleep_ms=30
cat >"$work/study.yaml" <<EOF
study:
  name: load
  direction: minimize
  n_trials: $TOTAL
  seed: 7
  max_retry: 5
  heartbeat_interval_s: 0.5
  grace_period_s: 3
strategy:
  name: random
space:
  x0: {type: float, low: -5, high: 10}
  x1: {type: float, low: 0, high: 15}
objective:
  kind: function
  name: branin
  sleep_ms: $sleep_ms
EOF
"$NASFORGE" create "$work/study.yaml" --storage "$url"

start_worker() {
  "$NASFORGE" worker --storage "$url" --study load --worker-index "$1" --quiet >"$work/worker-$1.log" 2>&1 &
  pids[$1]=$!
}

finished() { sql "SELECT count(*) FROM nasforge.trials WHERE state IN ('COMPLETE', 'PRUNED', 'FAIL')"; }
wait_finished() {  # until at least $1 trials finished (or 120 s)
  for _ in $(seq 1200); do
    [ "$(finished)" -ge "$1" ] && return 0
    sleep 0.1
  done
  fail "fewer than $1 trials finished after 120 s"
}

t0=$(date +%s)
for k in $(seq 0 $((WORKERS - 1))); do start_worker "$k"; done

max_conn=0
sample_connections() {
  local n
  n=$(psql -X -At -d "$server" -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'nasforge'")
  [ "$n" -gt "$max_conn" ] && max_conn=$n
  return 0
}

killed=()
case "$MODE" in
  plain)
    while kill -0 "${pids[0]}" 2>/dev/null; do sample_connections; sleep 0.2; done
    ;;
  kill)
    wait_finished 250
    victims=$(shuf -i 0-$((WORKERS - 1)) -n 3)
    for k in $victims; do
      kill -9 "${pids[$k]}"
      wait "${pids[$k]}" 2>/dev/null || true
      killed+=("$k")
    done
    echo "killed workers ${killed[*]} with SIGKILL after $(finished) finished trials"
    for k in $(seq $WORKERS $((WORKERS + 2))); do start_worker "$k"; done
    ;;
  restart)
    wait_finished 300
    before=$(finished)
    bash "$ROOT/scripts/pg-test-server.sh" restart "$state" 4
    echo "restarted the database server, down for 4 s (grace 3 s), after $before finished trials"
    ;;
  *) fail "unknown mode '$MODE' (plain, kill or restart)" ;;
esac

status=0
for k in "${!pids[@]}"; do
  [[ " ${killed[*]} " == *" $k "* ]] && continue
  if ! wait "${pids[$k]}"; then
    echo "worker $k exited with an error" >&2
    status=1
  fi
done
pids=()
[ "$status" = 0 ] || fail "a worker failed"
echo "all workers done in $(( $(date +%s) - t0 )) s"

complete=$(sql "SELECT count(*) FROM nasforge.trials WHERE state = 'COMPLETE'")
total=$(sql "SELECT count(*) FROM nasforge.trials")
fails=$(sql "SELECT count(*) FROM nasforge.trials WHERE state = 'FAIL'")
unretried=$(sql "SELECT count(*) FROM nasforge.trials t WHERE state = 'FAIL' AND NOT EXISTS (
  SELECT 1 FROM nasforge.trial_system_attributes a WHERE a.trial_id = t.trial_id AND a.key = 'retried_by')")
dups=$(sql "SELECT count(*) FROM (SELECT number FROM nasforge.trials GROUP BY study_id, number HAVING count(*) > 1) d")
gaps=$(sql "SELECT count(*) - (max(number) + 1) FROM nasforge.trials")
echo "trials: $total in all, $complete COMPLETE, $fails FAIL (all retried: $([ "$unretried" = 0 ] && echo yes || echo no))"

[ "$complete" = "$TOTAL" ] || fail "expected exactly $TOTAL COMPLETE trials, got $complete"
[ "$dups" = 0 ] || fail "$dups trial numbers are duplicated"
[ "$gaps" = 0 ] || fail "trial numbers are not 0..n-1"
[ "$unretried" = 0 ] || fail "$unretried FAIL trials were not retried"
[ "$((total - fails))" = "$TOTAL" ] || fail "trials other than COMPLETE and retried FAIL exist ($total in all)"
# Every retry names its original and the original names its retry.
broken=$(sql "SELECT count(*) FROM nasforge.trials t JOIN nasforge.trial_system_attributes a
  ON a.trial_id = t.trial_id AND a.key = 'retried_by' WHERE NOT EXISTS (
  SELECT 1 FROM nasforge.trials r WHERE r.study_id = t.study_id AND r.number = a.value_json::int)")
[ "$broken" = 0 ] || fail "$broken retried_by attributes point at no trial"
# Each worker holds one connection for trials and, once it beats, one for heartbeats.
if [ "$MODE" = plain ]; then
  echo "most connections seen at once: $max_conn"
  [ "$max_conn" -le $((2 * WORKERS)) ] || fail "$max_conn connections for $WORKERS workers (at most 2 each)"
  [ "$fails" = 0 ] || fail "$fails trials failed in a run without faults"
fi
if [ "$MODE" = kill ]; then
  stale=$(sql "SELECT count(*) FROM nasforge.trial_system_attributes WHERE key = 'fail_reason' AND value_json LIKE '%no heartbeat%'")
  echo "trials failed for a missing heartbeat: $stale"
  # A SIGKILL between two trials leaves nothing running; with 30 ms trials and 3 kills that is rare but possible,
  # so require it only of at least one victim.
  [ "$stale" -ge 1 ] || fail "no killed worker left a trial to be failed and retried"
fi
if [ "$MODE" = restart ]; then
  grep -q "database system is shut down" "$(dirname "$(cat "$state/datadir")")/server.log" ||
    fail "the server log shows no restart"
  # Workers say when they lose and regain the database; at least the busy ones must have.
  rode=$(grep -l "reconnected to" "$work"/worker-*.log | wc -l)
  echo "workers that reconnected: $rode of $WORKERS"
  [ "$rode" -ge 1 ] || fail "no worker reports reconnecting"
  [ "$fails" = 0 ] || fail "$fails trials of live workers were failed after the outage"
fi
echo "PASS ($MODE)"
