#!/usr/bin/env bash
# Issue 11 item 6: the status page `/` under load. Starts `tapnet up` in a fresh namespace with an event-loop
# delay monitor preloaded (bench/event-loop-delay.mjs), then:
#   1. the page's size on a fresh stack;
#   2. `ab -c 50 -n 20000 http://10.77.0.1/` (one connection per request: every one ends in TIME-WAIT);
#   3. the page's size right after (the TIME-WAIT connections are still there), and a second ab run;
#   4. tapnet's event-loop delay over the whole run (p50 / p99 / max), tapnet's retransmissions.
#
#   bash bench/status-page.sh        (needs root, ab from apache2-utils)
set -uo pipefail
cd "$(dirname "$0")/.."
id=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
TAP=ts$id NS=tsns$id RUN=$(mktemp -d)
tp=
cleanup() {
  [ -n "$tp" ] && kill "$tp" 2>/dev/null && wait "$tp" 2>/dev/null
  ip netns delete "$NS" 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT
ELD_OUT=$RUN/eld TAPNET_RUN_DIR=$RUN TAPNET_STATE_DIR=$RUN node --import ./bench/event-loop-delay.mjs bin/tapnet.js up \
  --tap "$TAP" --netns "$NS" --subnet 10.77.0.0/24 --log-level warn 2>"$RUN/log" & tp=$!
for _ in $(seq 100); do [ -S "$RUN/$TAP.sock" ] && break; sleep 0.1; done
for _ in $(seq 50); do ip netns exec "$NS" curl -s -o /dev/null http://10.77.0.1/ && break; sleep 0.2; done
size() { ip netns exec "$NS" curl -s -o /dev/null -w '%{size_download} bytes in %{time_total} s' http://10.77.0.1/; }
echo "page, fresh: $(size)"
for run in 1 2; do
  ip netns exec "$NS" ab -q -c 50 -n 20000 http://10.77.0.1/ > "$RUN/ab" 2>&1
  grep -E 'Complete requests|Failed requests|Requests per second|Time per request.*\(mean\)|Document Length' "$RUN/ab" | sed 's/^/  /'
  grep -E '^ +(50|99|100)%' "$RUN/ab" | sed 's/^/  latency /'
  echo "page after ab run $run: $(size)"
done
TAPNET_RUN_DIR=$RUN node bin/tapnet.js show stats --tap "$TAP" 2>/dev/null | grep -E '^(TcpRetransSegs|TcpExtTCPTimeouts|TcpCurrEstab) ' || true
kill "$tp"; wait "$tp" 2>/dev/null; tp=
echo "tapnet event-loop delay (ms): $(cat "$RUN/eld" 2>/dev/null)"
