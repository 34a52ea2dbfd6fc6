#!/usr/bin/env bash
# bench/loginmem.sh: peak memory of gatehouse under a burst of password
# logins while the API-key route is under load (issue 21, docs/auth.md
# "Memory"). For each round and each binary it starts a fresh gatehouse with
# bench/gatehouse.hcl, runs wrk on the API-key route for DURATION seconds and,
# at the same time, LOGINS successful logins of the bench user spread evenly
# over the same DURATION (open loop: one starts every DURATION/LOGINS seconds
# whether or not the previous one has finished). It then prints the peak RSS
# (VmHWM), the login outcomes and wrk's requests per second.
#
# Environment knobs (defaults in brackets):
#   BINS       space-separated gatehouse binaries to compare, run in turn
#              within each round                     [build ./cmd/gatehouse]
#   ROUNDS     rounds                                 [3]
#   DURATION   seconds per run                        [30]
#   LOGINS     logins per run                         [200]
#   CONNS      wrk connections on the API-key route   [16]
#   GH_ENV     extra environment for gatehouse, e.g. "GOGC=100"  []
#   CGROUP_MEM run gatehouse in a new memory cgroup with this limit in bytes,
#              as a container would (needs root; cgroup v1 or v2), e.g.
#              268435456; the script removes the cgroup when done  []
#   UPSTREAM_PORT [19400] GATEHOUSE_PORT [19404] GATEHOUSE_ADMIN_PORT [19405]
#
# Every process is recorded in a pidfile and stopped by that PID on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-30}
LOGINS=${LOGINS:-200}
CONNS=${CONNS:-16}
GH_ENV=${GH_ENV:-}
UPSTREAM_PORT=${UPSTREAM_PORT:-19400}
GATEHOUSE_PORT=${GATEHOUSE_PORT:-19404}
GATEHOUSE_ADMIN_PORT=${GATEHOUSE_ADMIN_PORT:-19405}

BENCH_KEY=gatehouse-bench-key-0001-not-a-secret
BENCH_USER_PW=gatehouse-bench-user-password-not-a-secret

T=$(mktemp -d /tmp/gatehouse-loginmem.XXXXXX)
mkdir -p "$T/pids" "$T/logs" "$T/bin"

stop_pidfile() {
	local f=$1 pid
	[[ -f $f ]] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$f"
}
cleanup() {
	for f in "$T"/pids/*.pid; do stop_pidfile "$f"; done
	rm -rf "$T"
}
trap cleanup EXIT

wait_ok() { # URL: poll until it answers 200, at most 10 s
	for _ in $(seq 100); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true) == 200 ]] && return 0
		sleep 0.1
	done
	return 1
}

(cd "$repo" && go build -o "$T/bin/upstream" ./bench/upstream)
if [[ -z ${BINS:-} ]]; then
	(cd "$repo" && go build -o "$T/bin/gatehouse" ./cmd/gatehouse)
	BINS="$T/bin/gatehouse"
fi

"$T/bin/upstream" -addr "127.0.0.1:$UPSTREAM_PORT" >"$T/logs/upstream.log" 2>&1 &
echo $! >"$T/pids/upstream.pid"
wait_ok "http://127.0.0.1:$UPSTREAM_PORT/small" || { echo "upstream did not start" >&2; exit 1; }

sed -e "s|127\.0\.0\.1:9000\"|127.0.0.1:$UPSTREAM_PORT\"|g" \
	-e "s|127\.0\.0\.1:9004\"|127.0.0.1:$GATEHOUSE_PORT\"|g" \
	-e "s|127\.0\.0\.1:9005\"|127.0.0.1:$GATEHOUSE_ADMIN_PORT\"|g" \
	"$here/gatehouse.hcl" >"$T/gatehouse.hcl"

# The memory cgroup of this shell, where a child cgroup can be made.
cg_dir=""
if [[ -n ${CGROUP_MEM:-} ]]; then
	if v1=$(sed -n 's/^[0-9]*:memory:\(.*\)$/\1/p' /proc/self/cgroup) && [[ -n $v1 && -d /sys/fs/cgroup/memory$v1 ]]; then
		cg_dir=/sys/fs/cgroup/memory$v1/gatehouse-loginmem-$$
		cg_limit_file=memory.limit_in_bytes
	else
		cg_dir=/sys/fs/cgroup$(sed -n 's/^0::\(.*\)$/\1/p' /proc/self/cgroup)/gatehouse-loginmem-$$
		cg_limit_file=memory.max
	fi
	mkdir "$cg_dir"
	echo "$CGROUP_MEM" >"$cg_dir/$cg_limit_file"
	trap 'cleanup; rmdir "$cg_dir" 2>/dev/null || true' EXIT
fi

interval=$(awk -v d="$DURATION" -v n="$LOGINS" 'BEGIN { printf "%.4f", d / n }')
printf '%-5s  %-40s  %10s  %10s  %8s  %s\n' round binary peak_rss_mb rss_end_mb req_s logins
for round in $(seq "$ROUNDS"); do
	for bin in $BINS; do
		if [[ -n $cg_dir ]]; then
			# The shell joins the cgroup, then becomes gatehouse (same PID).
			# shellcheck disable=SC2086
			env $GH_ENV sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" run --config "$3"' sh "$cg_dir" "$bin" "$T/gatehouse.hcl" \
				>"$T/logs/gatehouse.out" 2>"$T/logs/gatehouse.err" &
		else
			# shellcheck disable=SC2086
			env $GH_ENV "$bin" run --config "$T/gatehouse.hcl" >"$T/logs/gatehouse.out" 2>"$T/logs/gatehouse.err" &
		fi
		echo $! >"$T/pids/gatehouse.pid"
		pid=$(cat "$T/pids/gatehouse.pid")
		wait_ok "http://127.0.0.1:$GATEHOUSE_ADMIN_PORT/readyz" || { echo "gatehouse did not start" >&2; exit 1; }
		wrk -t 2 -c "$CONNS" -d "${DURATION}s" -H "X-API-Key: $BENCH_KEY" \
			"http://127.0.0.1:$GATEHOUSE_PORT/api/small" >"$T/logs/wrk.out" 2>&1 &
		echo $! >"$T/pids/wrk.pid"
		: >"$T/logs/codes"
		for _ in $(seq "$LOGINS"); do
			curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 \
				-H "X-API-Key: $BENCH_KEY" -H 'Content-Type: application/json' \
				-d "{\"username\":\"bench\",\"password\":\"$BENCH_USER_PW\"}" \
				"http://127.0.0.1:$GATEHOUSE_PORT/auth/login" >>"$T/logs/codes" &
			sleep "$interval" # load generation pacing, not synchronization
		done
		wait "$(cat "$T/pids/wrk.pid")" || true
		rm -f "$T/pids/wrk.pid"
		# The last logins may still be queued for a slot: wait for them all.
		for _ in $(seq 600); do
			[[ $(wc -l <"$T/logs/codes") -ge $LOGINS ]] && break
			sleep 0.1
		done
		if ! kill -0 "$pid" 2>/dev/null; then
			printf '%-5s  %-40s  %s\n' "$round" "$bin" "gatehouse died (out of memory?)"
			rm -f "$T/pids/gatehouse.pid"
			continue
		fi
		hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
		rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
		rps=$(awk '/^Requests\/sec:/ { print $2 }' "$T/logs/wrk.out")
		codes=$(sort "$T/logs/codes" | uniq -c | awk '{ printf "%s×%s ", $1, $2 }')
		printf '%-5s  %-40s  %10s  %10s  %8s  %s\n' "$round" "$bin" "$hwm" "$rss" "$rps" "$codes"
		stop_pidfile "$T/pids/gatehouse.pid"
	done
done
