#!/usr/bin/env bash
# A/B runs by hand (docs/PERFORMANCE.md): one build of ispkit on a data dir kept by
# `npm run bench -- --keep`, a 2 s warm-up under closed load, then bench/out/radload for
# DURATION seconds (closed load, or open load at RATE requests/s), and the CPU each thread of
# the server used meanwhile (and each PostgreSQL process, for a PostgreSQL data dir).
#
#   bench/ab-load.sh DIST DATA_DIR MODE DURATION [RATE] [-- NODE_OPTIONS...]
#
#   DIST      a build of ispkit: dist/, or a copy of it (with node_modules beside it, e.g. a
#             symlink) so that two builds can be run alternately
#   DATA_DIR  e.g. /tmp/ispkit-bench-XXXX/ispkit-sqlite or …/ispkit-pg
#   MODE      pap | chap | mschapv2 | acct (radload's modes)
#   RATE      0 or absent: closed load (a window of 64)
#
# Prints radload's JSON line, then "thread <tid> <name> <cpu %>" for threads above 0.5 %.
# Traffic goes to 127.0.0.1 only; the server is stopped at the end, also on ^C.
set -euo pipefail
if [[ $# -lt 4 ]]; then
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
dist=$1 data=$2 mode=$3 duration=$4
shift 4
rate=0
if [[ $# -gt 0 && $1 != -- ]]; then
  rate=$1
  shift
fi
[[ $# -gt 0 && $1 == -- ]] && shift
here=$(cd "$(dirname "$0")" && pwd)
radload=$here/out/radload
[[ -x $radload ]] || { echo "ab-load: $radload missing: run npm run bench once" >&2; exit 1; }
[[ -f $dist/cli/main.js ]] || { echo "ab-load: no $dist/cli/main.js" >&2; exit 1; }

work=$(mktemp -d /tmp/ab-load.XXXXXX)
node --v8-pool-size=1 "$@" "$dist/cli/main.js" --data "$data" serve --listen 127.0.0.1 \
  --auth-port 0 --acct-port 0 --http-port 0 >"$work/serve.log" 2>"$work/banner.log" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 300); do
  grep -qs 'RADIUS: auth' "$work/banner.log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/banner.log" >&2; exit 1; }
  sleep 0.1
done
banner=$(grep -s 'RADIUS: auth' "$work/banner.log") || { echo 'ab-load: no banner in 30 s' >&2; exit 1; }
auth=$(sed -E 's/.*auth 127\.0\.0\.1:([0-9]+).*/\1/' <<<"$banner")
acct=$(sed -E 's/.*acct 127\.0\.0\.1:([0-9]+).*/\1/' <<<"$banner")
port=$auth
[[ $mode == acct* ]] && port=$acct
common=(--user-fmt 'm%06u' --pass-fmt 'Pw-%06u-bench' --mode "$mode" --port "$port"
  --secret bench-Secret-0123456789)
"$radload" "${common[@]}" --duration 2 --session-prefix "w$RANDOM$RANDOM" >/dev/null

# utime+stime in clock ticks (100 per second), by thread, and by PostgreSQL process.
ticks() { sed 's/.*) //' "$1" | awk '{print $12 + $13}'; }
snapshot() {
  for t in /proc/"$pid"/task/*; do
    echo "thread $(basename "$t") $(tr ' ' _ <"$t/comm") $(ticks "$t/stat")"
  done
  for p in $(pgrep -x postgres || true); do
    echo "postgres $p postgres $(ticks "/proc/$p/stat" 2>/dev/null || echo 0)"
  done
}
snapshot | sort >"$work/before"
args=("${common[@]}" --duration "$duration" --session-prefix "r$RANDOM$RANDOM")
[[ $rate != 0 ]] && args+=(--rate "$rate")
"$radload" "${args[@]}"
snapshot | sort >"$work/after"
join -j 2 <(awk '{print $1"/"$2, $2, $3, $4}' "$work/before" | sort -k2) \
  <(awk '{print $1"/"$2, $2, $3, $4}' "$work/after" | sort -k2) |
  awk -v d="$duration" '{ c = ($7 - $4) / d; if (c > 0.5) { split($2, k, "/"); printf "%s %s %s %.1f%%\n", k[1], $1, $3, c } }'
