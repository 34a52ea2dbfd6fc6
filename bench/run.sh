#!/usr/bin/env bash
# bench/run.sh: throughput and tail latency of gatehouse against a direct
# upstream, a bare httputil.ReverseProxy, nginx and Caddy, all on 127.0.0.1.
# See bench/README.md for what each target is and why the comparison is fair.
#
# Environment knobs (defaults in brackets):
#   CONNS      connection counts, one table each        ["16 64"]
#   ROUNDS     rounds per connection count               [3]
#   DURATION   wrk duration per run (wrk syntax)         [8s]
#   WARMUP     wrk warm-up per target and conn count     [1s]  (0 = none)
#   REQ_PATH   request path on the upstream ("PATH" is the shell's, hence
#              the name); e.g. REQ_PATH='/records?n=1000'  [/small]
#   TARGETS    subset/order of: direct baseline nginx caddy gatehouse-plain
#              gatehouse-apikey gatehouse-session gatehouse-filtered
#              gatehouse-session-cluster                 [all of them]
#   GATEHOUSE_BIN  use this gatehouse binary instead of building ./cmd/gatehouse
#   CADDY      path to a caddy binary                    [caddy on PATH, else
#              $(go env GOPATH)/bin/caddy]
#   PPROF=1    also take a CPU profile of gatehouse (GATEHOUSE_PPROF=1) during
#              a wrk run; PPROF_SECONDS [10], PPROF_CONNS [64],
#              PPROF_TARGET [gatehouse-apikey], PPROF_OUT [/tmp/gatehouse-cpu-<time>.pprof],
#              PPROF_TOP [40]. ROUNDS=0 PPROF=1 profiles without the tables.
#   INSTR=1    also count the instructions per request of the Go targets
#              under valgrind's callgrind (see bench/README.md): INSTR_N
#              [5000] requests counted after INSTR_WARMUP [500];
#              INSTR_TARGETS [baseline, gatehouse-plain, -apikey and
#              -session, those in TARGETS]. ROUNDS=0 INSTR=1 counts without
#              the tables.
#   KEEP=1     keep the scratch directory (logs, raw wrk output)
#   UPSTREAM_PORT [9000] BASELINE_PORT [9001] NGINX_PORT [9002]
#   CADDY_PORT [9003] GATEHOUSE_PORT [9004] GATEHOUSE_ADMIN_PORT [9005]
#   GATEHOUSE_CLUSTER_PORT [9006] GATEHOUSE_CLUSTER_ADMIN_PORT [9007]
#   REDIS_PORT  [the first free port from 16379] for gatehouse-session-cluster
#
# Every process this script starts is recorded in a pidfile and stopped by
# that PID when the script exits, whatever the reason.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

CONNS=${CONNS:-16 64}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
WARMUP=${WARMUP:-1s}
REQ_PATH=${REQ_PATH:-/small}
TARGETS=${TARGETS:-direct baseline nginx caddy gatehouse-plain gatehouse-apikey gatehouse-session gatehouse-filtered gatehouse-session-cluster}
PPROF=${PPROF:-0}
PPROF_SECONDS=${PPROF_SECONDS:-10}
PPROF_CONNS=${PPROF_CONNS:-64}
PPROF_TARGET=${PPROF_TARGET:-gatehouse-apikey}
PPROF_TOP=${PPROF_TOP:-40}
INSTR=${INSTR:-0}
INSTR_N=${INSTR_N:-5000}
INSTR_WARMUP=${INSTR_WARMUP:-500}
if [[ -z ${INSTR_TARGETS:-} ]]; then # default: the Go targets among TARGETS
	INSTR_TARGETS=""
	for t in baseline gatehouse-plain gatehouse-apikey gatehouse-session; do
		[[ " $TARGETS " == *" $t "* ]] && INSTR_TARGETS+="$t "
	done
fi
KEEP=${KEEP:-0}
UPSTREAM_PORT=${UPSTREAM_PORT:-9000}
BASELINE_PORT=${BASELINE_PORT:-9001}
NGINX_PORT=${NGINX_PORT:-9002}
CADDY_PORT=${CADDY_PORT:-9003}
GATEHOUSE_PORT=${GATEHOUSE_PORT:-9004}
GATEHOUSE_ADMIN_PORT=${GATEHOUSE_ADMIN_PORT:-9005}
GATEHOUSE_CLUSTER_PORT=${GATEHOUSE_CLUSTER_PORT:-9006}
GATEHOUSE_CLUSTER_ADMIN_PORT=${GATEHOUSE_CLUSTER_ADMIN_PORT:-9007}
REDIS_PORT=${REDIS_PORT:-}

# Bench-only key of app "bench" in bench/gatehouse.hcl (its SHA-256 is there).
# Not a secret.
BENCH_KEY='gatehouse-bench-key-0001-not-a-secret'
# Bench-only user of bench/gatehouse.hcl for the gatehouse-session target.
BENCH_USER_PW='gatehouse-bench-user-password-not-a-secret'

ALL_TARGETS=(direct baseline nginx caddy gatehouse-plain gatehouse-apikey gatehouse-session gatehouse-filtered gatehouse-session-cluster)

die() { echo "run.sh: error: $*" >&2; exit 1; }
note() { echo "run.sh: $*" >&2; }

# ---- argument checks -------------------------------------------------------

to_seconds() { # wrk duration (10, 10s, 2m, 1h) -> whole seconds
	local d=$1
	case $d in
	*[0-9]s) echo "${d%s}" ;;
	*[0-9]m) echo $((${d%m} * 60)) ;;
	*[0-9]h) echo $((${d%h} * 3600)) ;;
	*[0-9]) echo "$d" ;;
	*) return 1 ;;
	esac
}
[[ $DURATION =~ ^[1-9][0-9]*[smh]?$ ]] || die "DURATION=$DURATION: want e.g. 8s, 1m"
[[ $WARMUP =~ ^[0-9]+[smh]?$ ]] || die "WARMUP=$WARMUP: want e.g. 1s, or 0"
[[ $ROUNDS =~ ^[0-9]+$ ]] || die "ROUNDS=$ROUNDS: want a whole number"
[[ $PPROF_SECONDS =~ ^[1-9][0-9]*$ ]] || die "PPROF_SECONDS=$PPROF_SECONDS: want whole seconds"
[[ $REQ_PATH == /* ]] || die "REQ_PATH=$REQ_PATH: must start with /"
for c in $CONNS $PPROF_CONNS; do
	[[ $c =~ ^[1-9][0-9]*$ ]] || die "connection count '$c' is not a positive number"
done
for p in "$UPSTREAM_PORT" "$BASELINE_PORT" "$NGINX_PORT" "$CADDY_PORT" "$GATEHOUSE_PORT" "$GATEHOUSE_ADMIN_PORT" \
	"$GATEHOUSE_CLUSTER_PORT" "$GATEHOUSE_CLUSTER_ADMIN_PORT" ${REDIS_PORT:+"$REDIS_PORT"}; do
	[[ $p =~ ^[0-9]+$ ]] && ((p > 0 && p < 65536)) || die "bad port '$p'"
done
for t in $TARGETS; do
	[[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || die "unknown target '$t' (known: ${ALL_TARGETS[*]})"
done
[[ " $TARGETS " == *" direct "* ]] || die "TARGETS must include direct (every ratio is relative to it)"
((ROUNDS > 0)) || [[ $PPROF == 1 || $INSTR == 1 ]] || die "ROUNDS=0 only makes sense with PPROF=1 or INSTR=1"
[[ $INSTR_N =~ ^[1-9][0-9]*$ ]] || die "INSTR_N=$INSTR_N: want a request count"
[[ $INSTR_WARMUP =~ ^[1-9][0-9]*$ ]] || die "INSTR_WARMUP=$INSTR_WARMUP: want a request count"
for t in $INSTR_TARGETS; do
	[[ $t == baseline || $t == gatehouse-* ]] || die "INSTR_TARGETS: $t is not a Go target (baseline, gatehouse-*)"
	[[ $t != gatehouse-session-cluster ]] || die "INSTR_TARGETS: gatehouse-session-cluster is not supported under callgrind"
	[[ " $TARGETS " == *" $t "* ]] || die "INSTR_TARGETS: $t is not in TARGETS"
done
dur_s=$(to_seconds "$DURATION")
warm_s=$(to_seconds "$WARMUP")

# apt_install CMD PACKAGE...: when CMD is missing, install the Debian
# packages as root (with a package list update if the first try fails).
# Best effort: the caller checks for CMD afterwards.
apt_install() {
	local cmd=$1
	shift
	if command -v "$cmd" >/dev/null || ! command -v apt-get >/dev/null || [ "$(id -u)" -ne 0 ]; then
		return 0
	fi
	note "installing $* (Debian packages)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1; } || true
}
apt_install wrk wrk nginx
command -v wrk >/dev/null || die "wrk not found on PATH; install it (apt-get install wrk) and rerun"
if [[ $INSTR == 1 ]]; then
	apt_install valgrind valgrind
	command -v valgrind >/dev/null || die "INSTR=1 needs valgrind (apt-get install valgrind)"
fi
command -v curl >/dev/null || die "curl not found on PATH"
if [[ " $TARGETS " == *" gatehouse-session-cluster "* ]]; then
	apt_install redis-server redis-server
fi
command -v go >/dev/null || die "go not found on PATH"

# ---- scratch directory and process cleanup --------------------------------

T=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")
mkdir -p "$T/bin" "$T/pids" "$T/logs" "$T/wrk"

# stop_pidfile FILE [SECONDS]: TERM the recorded PID, wait up to SECONDS
# (default 5), then KILL.
stop_pidfile() {
	local f=$1 grace=${2:-5} pid i
	pid=$(cat "$f" 2>/dev/null) || return 0
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < grace * 10; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			note "$(basename "$f" .pid) (pid $pid) ignored TERM; sending KILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true
	rm -f "$f"
}

cleanup() {
	local rc=$? f
	trap - EXIT INT TERM
	for f in "$T"/pids/*.pid; do
		[[ -e $f ]] && stop_pidfile "$f"
	done
	if [[ $KEEP == 1 || $rc != 0 ]]; then
		note "scratch directory kept: $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- helpers ---------------------------------------------------------------

# port_free PORT: true when nothing accepts connections on 127.0.0.1:PORT.
port_free() {
	local rc=0
	curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" || rc=$?
	[[ $rc == 7 ]]
}

# start NAME LOGFILE CMD...: start CMD in the background, record its PID.
start() {
	local name=$1 log=$2
	shift 2
	"$@" >>"$log" 2>&1 &
	echo $! >"$T/pids/$name.pid"
}

alive() { kill -0 "$(cat "$T/pids/$1.pid" 2>/dev/null)" 2>/dev/null; }

# wait_ok NAME URL [SECONDS]: poll URL until it answers 200, at most SECONDS
# (default 15); fail early if NAME's process died.
wait_ok() {
	local name=$1 url=$2 secs=${3:-15} i code
	for ((i = 0; i < secs * 10; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)
		[[ $code == 200 ]] && return 0
		alive "$name" || return 1
		sleep 0.1
	done
	return 1
}

log_tail() { note "last lines of $1:"; tail -n 15 "$1" >&2 || true; }

declare -A URL STARTED EXTRA_HDR
# SAME_SIZE_HDR is sent by every target without an EXTRA_HDR: a header as
# long as the session target's "Authorization: Bearer <token>", so that all
# requests carry the same number of bytes and the session target differs
# only in what gatehouse does with its header. Set once the token is known.
SAME_SIZE_HDR=""
# Every target gets the same request: the headers an API client sends,
# including the API key. The peers and gatehouse's public route forward or
# drop the key; only gatehouse-apikey checks it. (Sending the key to one
# target only would compare a one-header request with a header-less one:
# net/http's empty-header fast paths alone were worth 1-2 us per request.)
CLIENT_HDRS=(-H "X-API-Key: $BENCH_KEY" -H "User-Agent: gatehouse-bench" -H "Accept: application/json")
# target_args TARGET: set ARGS to the header options (for curl and wrk) of
# TARGET's requests: CLIENT_HDRS plus its EXTRA_HDR or SAME_SIZE_HDR.
target_args() {
	ARGS=("${CLIENT_HDRS[@]}")
	if [[ -n ${EXTRA_HDR[$1]:-} ]]; then ARGS+=(-H "${EXTRA_HDR[$1]}"); elif [[ -n $SAME_SIZE_HDR ]]; then ARGS+=(-H "$SAME_SIZE_HDR"); fi
}

# ---- build -----------------------------------------------------------------

note "scratch directory: $T"
note "building bench/upstream and bench/baseline"
(cd "$repo" && timeout 600 go build -o "$T/bin/upstream" ./bench/upstream) || die "building bench/upstream failed"
(cd "$repo" && timeout 600 go build -o "$T/bin/baseline" ./bench/baseline) || die "building bench/baseline failed"

want() { [[ " $TARGETS " == *" $1 "* ]]; }
want_gatehouse() { want gatehouse-plain || want gatehouse-apikey || want gatehouse-session || want gatehouse-filtered || want gatehouse-session-cluster; }

gatehouse_ok=0
if want_gatehouse || [[ $PPROF == 1 ]]; then
	if [[ -n ${GATEHOUSE_BIN:-} ]]; then
		[[ -x $GATEHOUSE_BIN ]] || die "GATEHOUSE_BIN=$GATEHOUSE_BIN is not an executable"
		note "using gatehouse binary $GATEHOUSE_BIN"
		cp "$GATEHOUSE_BIN" "$T/bin/gatehouse"
		gatehouse_ok=1
	elif note "building ./cmd/gatehouse" &&
		(cd "$repo" && timeout 600 go build -o "$T/bin/gatehouse" ./cmd/gatehouse) >"$T/logs/gatehouse-build.log" 2>&1; then
		gatehouse_ok=1
	else
		note "SKIP gatehouse-plain, gatehouse-apikey: ./cmd/gatehouse does not build (yet):"
		head -n 10 "$T/logs/gatehouse-build.log" | sed 's/^/    /' >&2
	fi
fi

ports=("$UPSTREAM_PORT")
want baseline && ports+=("$BASELINE_PORT")
want nginx && ports+=("$NGINX_PORT")
want caddy && ports+=("$CADDY_PORT")
((gatehouse_ok)) && ports+=("$GATEHOUSE_PORT" "$GATEHOUSE_ADMIN_PORT")
((gatehouse_ok)) && want gatehouse-session-cluster && ports+=("$GATEHOUSE_CLUSTER_PORT" "$GATEHOUSE_CLUSTER_ADMIN_PORT")
for p in "${ports[@]}"; do
	port_free "$p" || die "127.0.0.1:$p is already in use; free it or set the *_PORT variables"
done

# ---- start the processes ---------------------------------------------------

start upstream "$T/logs/upstream.log" "$T/bin/upstream" -addr "127.0.0.1:$UPSTREAM_PORT"
wait_ok upstream "http://127.0.0.1:$UPSTREAM_PORT/small" || { log_tail "$T/logs/upstream.log"; die "upstream did not start"; }
URL[direct]="http://127.0.0.1:$UPSTREAM_PORT$REQ_PATH"
STARTED[direct]=1

if want baseline; then
	start baseline "$T/logs/baseline.log" "$T/bin/baseline" \
		-listen "127.0.0.1:$BASELINE_PORT" -upstream "http://127.0.0.1:$UPSTREAM_PORT"
	if wait_ok baseline "http://127.0.0.1:$BASELINE_PORT/small"; then
		URL[baseline]="http://127.0.0.1:$BASELINE_PORT$REQ_PATH"
		STARTED[baseline]=1
	else
		log_tail "$T/logs/baseline.log"
		die "baseline did not start"
	fi
fi

if want nginx; then
	if command -v nginx >/dev/null; then
		mkdir -p "$T/nginx/tmp"
		sed -e "s|@DIR@|$T/nginx|g" -e "s|@LISTEN_PORT@|$NGINX_PORT|g" -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" \
			"$here/nginx.conf.tmpl" >"$T/nginx/nginx.conf"
		timeout 10 nginx -q -t -c "$T/nginx/nginx.conf" -p "$T/nginx/" >"$T/logs/nginx.log" 2>&1 ||
			{ log_tail "$T/logs/nginx.log"; die "nginx rejected $T/nginx/nginx.conf"; }
		start nginx "$T/logs/nginx.log" nginx -c "$T/nginx/nginx.conf" -p "$T/nginx/" -g 'daemon off;'
		if wait_ok nginx "http://127.0.0.1:$NGINX_PORT/small"; then
			URL[nginx]="http://127.0.0.1:$NGINX_PORT$REQ_PATH"
			STARTED[nginx]=1
		else
			log_tail "$T/logs/nginx.log"
			die "nginx did not start"
		fi
	else
		note "SKIP nginx: not on PATH (apt-get install nginx)"
	fi
fi

if want caddy; then
	caddy_bin=${CADDY:-}
	if [[ -z $caddy_bin ]]; then
		caddy_bin=$(command -v caddy || true)
	fi
	if [[ -z $caddy_bin && -x "$(go env GOPATH)/bin/caddy" ]]; then
		caddy_bin="$(go env GOPATH)/bin/caddy"
	fi
	if [[ -n $caddy_bin && -x $caddy_bin ]]; then
		mkdir -p "$T/caddy/data" "$T/caddy/config"
		sed -e "s|@LISTEN_PORT@|$CADDY_PORT|g" -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" \
			"$here/Caddyfile.tmpl" >"$T/caddy/Caddyfile"
		# Caddy touches its storage even with auto_https off: keep it in $T.
		start caddy "$T/logs/caddy.log" env HOME="$T/caddy" XDG_DATA_HOME="$T/caddy/data" \
			XDG_CONFIG_HOME="$T/caddy/config" "$caddy_bin" run --config "$T/caddy/Caddyfile" --adapter caddyfile
		if wait_ok caddy "http://127.0.0.1:$CADDY_PORT/small"; then
			URL[caddy]="http://127.0.0.1:$CADDY_PORT$REQ_PATH"
			STARTED[caddy]=1
		else
			log_tail "$T/logs/caddy.log"
			die "caddy did not start"
		fi
	else
		note "SKIP caddy: no binary (set CADDY, put caddy on PATH, or: go install github.com/caddyserver/caddy/v2/cmd/caddy@v2.11.9)"
	fi
fi

if ((gatehouse_ok)); then
	sed -e "s|127\.0\.0\.1:9000\"|127.0.0.1:$UPSTREAM_PORT\"|g" \
		-e "s|127\.0\.0\.1:9004\"|127.0.0.1:$GATEHOUSE_PORT\"|g" \
		-e "s|127\.0\.0\.1:9005\"|127.0.0.1:$GATEHOUSE_ADMIN_PORT\"|g" \
		"$here/gatehouse.hcl" >"$T/gatehouse.hcl"
	# The access log (JSON lines on stderr) goes to a file, as in production;
	# run.sh empties it after each run so a long bench does not fill the disk.
	gh_env=()
	[[ $PPROF == 1 ]] && gh_env=(GATEHOUSE_PPROF=1)
	env "${gh_env[@]}" "$T/bin/gatehouse" run --config "$T/gatehouse.hcl" \
		>>"$T/logs/gatehouse.stdout.log" 2>>"$T/logs/gatehouse.access.log" &
	echo $! >"$T/pids/gatehouse.pid"
	if wait_ok gatehouse "http://127.0.0.1:$GATEHOUSE_ADMIN_PORT/readyz"; then
		URL[gatehouse-plain]="http://127.0.0.1:$GATEHOUSE_PORT/plain$REQ_PATH"
		URL[gatehouse-apikey]="http://127.0.0.1:$GATEHOUSE_PORT/api$REQ_PATH"
		STARTED[gatehouse-plain]=1
		STARTED[gatehouse-apikey]=1
		# A route whose grant has a record filter that keeps every record.
		URL[gatehouse-filtered]="http://127.0.0.1:$GATEHOUSE_PORT/filtered$REQ_PATH"
		STARTED[gatehouse-filtered]=1
		# One login; the session target then sends the key and the token
		# (the token is verified once, then served from the session cache).
		token=$(curl -s --max-time 10 -H "X-API-Key: $BENCH_KEY" -H 'Content-Type: application/json' \
			-d "{\"username\":\"bench\",\"password\":\"$BENCH_USER_PW\"}" \
			"http://127.0.0.1:$GATEHOUSE_PORT/auth/login" | sed -n 's/.*"session_token":"\([^"]*\)".*/\1/p')
		if [[ -n $token ]]; then
			URL[gatehouse-session]="http://127.0.0.1:$GATEHOUSE_PORT/api$REQ_PATH"
			EXTRA_HDR[gatehouse-session]="Authorization: Bearer $token"
			padname="X-Bench-Padding: "
			pad=$((${#EXTRA_HDR[gatehouse-session]} - ${#padname}))
			SAME_SIZE_HDR="$padname$(head -c "$pad" /dev/zero | tr '\0' 'p')"
			STARTED[gatehouse-session]=1
		else
			note "SKIP gatehouse-session: login as bench failed"
		fi
	else
		note "SKIP gatehouse-plain, gatehouse-apikey: /readyz on 127.0.0.1:$GATEHOUSE_ADMIN_PORT did not answer 200 within 15 s"
		log_tail "$T/logs/gatehouse.access.log"
		stop_pidfile "$T/pids/gatehouse.pid"
		gatehouse_ok=0
	fi
fi

# gatehouse-session-cluster: a second gatehouse with the same config plus a
# cluster block on a redis-server of its own (no persistence, loopback), so
# that the session route runs with the Redis stores; the same user logs in
# there.
redis_cli() { timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
# redis_calls: the total of calls= over INFO commandstats.
redis_calls() { redis_cli INFO commandstats | tr -d '\r' | awk -F'[=,]' '/^cmdstat_/ { s += $2 } END { print s + 0 }'; }
if ((gatehouse_ok)) && want gatehouse-session-cluster; then
	if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
		note "SKIP gatehouse-session-cluster: redis-server not on PATH (apt-get install redis-server)"
	else
		if [[ -z $REDIS_PORT ]]; then
			for ((REDIS_PORT = 16379; REDIS_PORT < 16479; REDIS_PORT++)); do
				port_free "$REDIS_PORT" && break
			done
		fi
		port_free "$REDIS_PORT" || die "127.0.0.1:$REDIS_PORT is already in use; set REDIS_PORT"
		mkdir -p "$T/redis"
		start redis "$T/logs/redis.log" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$T/redis" \
			--save "" --appendonly no --daemonize no --pidfile "$T/redis/redis.pid"
		for ((i = 0; i < 100; i++)); do
			[[ $(redis_cli PING 2>/dev/null) == PONG ]] && break
			alive redis || break
			sleep 0.1
		done
		[[ $(redis_cli PING 2>/dev/null) == PONG ]] || { log_tail "$T/logs/redis.log"; die "redis-server did not start"; }
		sed -e "s|127\.0\.0\.1:9000\"|127.0.0.1:$UPSTREAM_PORT\"|g" \
			-e "s|127\.0\.0\.1:9004\"|127.0.0.1:$GATEHOUSE_CLUSTER_PORT\"|g" \
			-e "s|127\.0\.0\.1:9005\"|127.0.0.1:$GATEHOUSE_CLUSTER_ADMIN_PORT\"|g" \
			"$here/gatehouse.hcl" >"$T/gatehouse-cluster.hcl"
		printf '\ncluster {\n  redis      = "redis://127.0.0.1:%s"\n  key_prefix = "gatehouse-bench:"\n}\n' "$REDIS_PORT" >>"$T/gatehouse-cluster.hcl"
		"$T/bin/gatehouse" run --config "$T/gatehouse-cluster.hcl" \
			>>"$T/logs/gatehouse-cluster.stdout.log" 2>>"$T/logs/gatehouse-cluster.access.log" &
		echo $! >"$T/pids/gatehouse-cluster.pid"
		if wait_ok gatehouse-cluster "http://127.0.0.1:$GATEHOUSE_CLUSTER_ADMIN_PORT/readyz"; then
			ctoken=""
			for ((i = 0; i < 50; i++)); do # until the revocations are loaded (503 before)
				ctoken=$(curl -s --max-time 10 -H "X-API-Key: $BENCH_KEY" -H 'Content-Type: application/json' \
					-d "{\"username\":\"bench\",\"password\":\"$BENCH_USER_PW\"}" \
					"http://127.0.0.1:$GATEHOUSE_CLUSTER_PORT/auth/login" | sed -n 's/.*"session_token":"\([^"]*\)".*/\1/p')
				[[ -n $ctoken ]] && break
				sleep 0.2
			done
			if [[ -n $ctoken ]]; then
				URL[gatehouse-session-cluster]="http://127.0.0.1:$GATEHOUSE_CLUSTER_PORT/api$REQ_PATH"
				EXTRA_HDR[gatehouse-session-cluster]="Authorization: Bearer $ctoken"
				STARTED[gatehouse-session-cluster]=1
				if grep -q '"cluster redis up"' "$T/logs/gatehouse-cluster.access.log"; then :; else
					note "gatehouse-session-cluster: no 'cluster redis up' in its log (see $T/logs/gatehouse-cluster.access.log)"
				fi
			else
				note "SKIP gatehouse-session-cluster: login as bench failed"
			fi
		else
			note "SKIP gatehouse-session-cluster: /readyz on 127.0.0.1:$GATEHOUSE_CLUSTER_ADMIN_PORT did not answer 200 within 15 s"
			log_tail "$T/logs/gatehouse-cluster.access.log"
			stop_pidfile "$T/pids/gatehouse-cluster.pid"
		fi
	fi
fi

# ---- sanity: every target returns the same 200 response ---------------------

probe() { # probe TARGET -> "code size"
	local t=$1
	target_args "$t"
	# curl prints "000 0" itself when it cannot connect.
	curl -s -o /dev/null -w '%{http_code} %{size_download}\n' --max-time 5 "${ARGS[@]}" "${URL[$t]}" || true
}
read -r code want_size < <(probe direct)
[[ $code == 200 ]] || die "direct ${URL[direct]} answered $code; check REQ_PATH"
RUN=()
for t in $TARGETS; do
	[[ -n ${STARTED[$t]:-} ]] || continue
	read -r code size < <(probe "$t")
	if [[ $code != 200 || $size != "$want_size" ]]; then
		note "SKIP $t: ${URL[$t]} answered $code with $size bytes (want 200 with $want_size bytes, as direct)"
		continue
	fi
	RUN+=("$t")
done

# ---- environment -----------------------------------------------------------

echo "## gatehouse bench $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo
echo "- machine: $(nproc) CPUs ($(uname -sr)); loadgen, upstream and proxies share them"
echo "- $(go version); $(wrk -v 2>&1 | head -n 1 | cut -c1-60)"
if [[ -n ${STARTED[nginx]:-} ]]; then echo "- $(nginx -v 2>&1)"; fi
if [[ -n ${STARTED[caddy]:-} ]]; then
	echo "- caddy $(go version -m "$caddy_bin" 2>/dev/null | awk '$1=="mod" && $2=="github.com/caddyserver/caddy/v2" {print $3}')"
fi
echo "- wrk -t1 -d$DURATION --latency, $ROUNDS round(s) per connection count, alternating target order, warm-up $WARMUP"
echo "- path: $REQ_PATH ($want_size-byte response)"
echo

# ---- wrk runs --------------------------------------------------------------

# run_wrk TARGET CONNS SECONDS OUTFILE: one bounded wrk run.
run_wrk() {
	local t=$1 c=$2 d=$3 out=$4
	target_args "$t"
	timeout $((d + 30)) wrk -t1 -c"$c" -d"${d}s" --latency "${ARGS[@]}" "${URL[$t]}" >"$out" 2>&1
}

# parse OUTFILE -> "rps p99_ms errors" (errors: non-2xx/3xx plus socket errors)
parse() {
	awk '
	/^Requests\/sec:/ { rps = $2 }
	$1 == "99%" {
		v = $2
		if (v ~ /us$/)      { sub(/us$/, "", v); p99 = v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); p99 = v + 0 }
		else if (v ~ /s$/)  { sub(/s$/, "", v);  p99 = v * 1000 }
		else if (v ~ /m$/)  { sub(/m$/, "", v);  p99 = v * 60000 }
	}
	/Non-2xx or 3xx responses:/ { err += $NF }
	/Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
	END {
		if (rps == "" || p99 == "") exit 1
		printf "%s %.3f %d\n", rps, p99, err
	}' "$1"
}

# Proxy CPU per request, counted rather than sampled: the utime+stime of the
# process(es) serving TARGET (from /proc/PID/stat), before and after a wrk
# run, over the requests wrk completed. It moves less between rounds than
# throughput does, but it counts the Go scheduler's spinning too (see
# bench/README.md).
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
# target_pids TARGET: the PIDs whose CPU is TARGET's (nginx: master and
# workers, found by parent PID); nothing for direct.
target_pids() {
	local f pid
	case $1 in
	direct) return 0 ;;
	gatehouse-session-cluster) f=$T/pids/gatehouse-cluster.pid ;;
	gatehouse-*) f=$T/pids/gatehouse.pid ;;
	*) f=$T/pids/$1.pid ;;
	esac
	pid=$(cat "$f" 2>/dev/null) || return 0
	echo "$pid"
	[[ $1 == nginx ]] && pgrep -P "$pid" || true
}
# cpu_ticks PID...: their utime+stime in clock ticks (fields 14 and 15; the
# command names here have no spaces).
cpu_ticks() {
	local sum=0 p v
	for p in "$@"; do
		v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || continue
		sum=$((sum + v))
	done
	echo "$sum"
}
# requests OUTFILE: the requests wrk completed.
requests() { awk '/ requests in / { print $1 }' "$1"; }

# ratio A B [DECIMALS]: A/B, or "-" when either is missing.
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.*f", d, a / b }'; }

reset_access_log() {
	local f
	for f in "$T/logs/gatehouse.access.log" "$T/logs/gatehouse-cluster.access.log"; do
		[[ -f $f ]] && : >"$f"
	done
	return 0
}
# Redis commands during the measured runs of gatehouse-session-cluster
# (INFO commandstats before and after each run), over their requests.
REDIS_CMDS=0
REDIS_REQS=0

RESULTS="$T/results.tsv"
: >"$RESULTS"
if ((ROUNDS > 0)); then
	for c in $CONNS; do
		if ((warm_s > 0)); then
			for t in "${RUN[@]}"; do
				run_wrk "$t" "$c" "$warm_s" "$T/wrk/warmup-$t-c$c.txt" || note "warm-up of $t failed (see $T/wrk)"
			done
			reset_access_log
		fi
		for ((r = 1; r <= ROUNDS; r++)); do
			order=("${RUN[@]}")
			if ((r % 2 == 0)); then # alternate: every other round runs in reverse
				order=()
				for ((i = ${#RUN[@]} - 1; i >= 0; i--)); do order+=("${RUN[i]}"); done
			fi
			for t in "${order[@]}"; do
				out="$T/wrk/$t-c$c-r$r.txt"
				mapfile -t pids < <(target_pids "$t")
				[[ $t == gatehouse-session-cluster ]] && calls0=$(redis_calls)
				ticks0=$(cpu_ticks "${pids[@]}")
				if run_wrk "$t" "$c" "$dur_s" "$out" && line=$(parse "$out"); then
					ticks1=$(cpu_ticks "${pids[@]}")
					if [[ $t == gatehouse-session-cluster ]]; then
						# INFO itself is one call, counted in the second reading.
						REDIS_CMDS=$((REDIS_CMDS + $(redis_calls) - calls0 - 1))
						REDIS_REQS=$((REDIS_REQS + $(requests "$out")))
					fi
					cpu=$(awk -v d=$((ticks1 - ticks0)) -v hz="$CLK_TCK" -v n="$(requests "$out")" -v k="${#pids[@]}" \
						'BEGIN { if (k == 0 || n + 0 == 0) print "-"; else printf "%.1f", d / hz * 1e6 / n }')
					echo "$c $t $r $line $cpu" >>"$RESULTS"
					read -r rps p99 err <<<"$line"
					note "c=$c round $r/$ROUNDS $t: $rps req/s, p99 $p99 ms, proxy CPU $cpu us/req$( ((err == 0)) || echo ", $err errors")"
				else
					note "c=$c round $r/$ROUNDS $t: wrk failed; output:"
					sed 's/^/    /' "$out" >&2
				fi
				[[ $t == gatehouse-* ]] && reset_access_log
			done
		done
	done

	# median_of: the median of the numbers on stdin, one per line (nothing
	# for none).
	median_of() {
		sort -g | awk '{ a[NR] = $1 } END {
			if (NR == 0) exit
			if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
	}
	# median over rounds of one column for one (conns, target)
	median() { # median CONNS TARGET COLUMN
		awk -v c="$1" -v t="$2" -v k="$3" '$1 == c && $2 == t && $k != "-" { print $k }' "$RESULTS" | median_of
	}
	errsum() { awk -v c="$1" -v t="$2" '$1 == c && $2 == t { s += $6 } END { print s + 0 }' "$RESULTS"; }
	# paired CONNS TARGET REF COLUMN: TARGET's value over REF's in each round
	# (the two ran back to back), in round order, then the median of those
	# ratios. Slow drift of the machine's speed between rounds cancels out.
	paired() {
		local ratios
		ratios=$(awk -v c="$1" -v t="$2" -v ref="$3" -v k="$4" '
			$1 == c && $2 == t && $k != "-" { a[$3] = $k }
			$1 == c && $2 == ref && $k != "-" { b[$3] = $k }
			$1 == c && $3 > max { max = $3 }
			END {
				for (r = 1; r <= max; r++)
					if ((r in a) && (r in b) && b[r] != 0) printf "%.3f\n", a[r] / b[r]
			}' "$RESULTS")
		[[ -n $ratios ]] || return 0
		printf '%s; median %s' "$(tr '\n' ' ' <<<"$ratios" | sed 's/ $//')" "$(median_of <<<"$ratios" | awk '{ printf "%.3f", $1 }')"
	}

	for c in $CONNS; do
		echo "### $REQ_PATH, $c connections (median of $ROUNDS x $DURATION)"
		echo
		echo "| target | median req/s | median p99 | ratio to direct | ratio to baseline | proxy CPU µs/req | CPU ratio to baseline | non-2xx + socket errors |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|"
		d_rps=$(median "$c" direct 4)
		b_rps=$(median "$c" baseline 4)
		b_cpu=$(median "$c" baseline 7)
		for t in "${RUN[@]}"; do
			rps=$(median "$c" "$t" 4)
			p99=$(median "$c" "$t" 5)
			cpu=$(median "$c" "$t" 7)
			if [[ -z $rps ]]; then
				echo "| $t | failed | - | - | - | - | - | - |"
				continue
			fi
			printf '| %s | %.0f | %.2f ms | %s | %s | %s | %s | %s |\n' "$t" "$rps" "$p99" \
				"$(ratio "$rps" "$d_rps")" "$(ratio "$rps" "$b_rps")" "${cpu:--}" "$(ratio "$cpu" "$b_cpu")" "$(errsum "$c" "$t")"
		done
		echo
		# The routes' own costs compared: each gatehouse route against the
		# plain route of the same round.
		for t in "${RUN[@]}"; do
			[[ $t == gatehouse-* && $t != gatehouse-plain ]] || continue
			pr=$(paired "$c" "$t" gatehouse-plain 4)
			[[ -n $pr ]] || continue
			echo "- $t / gatehouse-plain, paired by round: req/s $pr"
			pc=$(paired "$c" "$t" gatehouse-plain 7)
			if [[ -n $pc ]]; then echo "  - proxy CPU µs/req $pc"; fi
		done
		# The cluster's session route against the in-memory one (the bar:
		# >= 0.95).
		pr=$(paired "$c" gatehouse-session-cluster gatehouse-session 4)
		if [[ -n $pr ]]; then
			echo "- gatehouse-session-cluster / gatehouse-session, paired by round: req/s $pr"
			pc=$(paired "$c" gatehouse-session-cluster gatehouse-session 7)
			if [[ -n $pc ]]; then echo "  - proxy CPU µs/req $pc"; fi
		fi
		echo
	done
	if ((REDIS_REQS > 0)); then
		echo "- Redis commands per proxied request (gatehouse-session-cluster, INFO commandstats over its measured runs):" \
			"$REDIS_CMDS commands / $REDIS_REQS requests = $(ratio "$REDIS_CMDS" "$REDIS_REQS" 6)" \
			"(every command counted, the background ones too: health PING, stream reads, heartbeats)"
		echo
	fi
fi

# ---- optional CPU profile of gatehouse -------------------------------------

if [[ $PPROF == 1 ]]; then
	((gatehouse_ok)) || die "PPROF=1 needs gatehouse, which was skipped (see above)"
	[[ " ${RUN[*]} " == *" $PPROF_TARGET "* ]] || die "PPROF_TARGET=$PPROF_TARGET is not a running target"
	out=${PPROF_OUT:-/tmp/gatehouse-cpu-$(date +%Y%m%d-%H%M%S).pprof}
	note "profiling gatehouse for ${PPROF_SECONDS}s under wrk -c$PPROF_CONNS on $PPROF_TARGET"
	target_args "$PPROF_TARGET"
	# wrk runs 3 s longer than the profile so that load covers all of it.
	timeout $((PPROF_SECONDS + 30)) wrk -t1 -c"$PPROF_CONNS" -d"$((PPROF_SECONDS + 3))s" --latency \
		"${ARGS[@]}" "${URL[$PPROF_TARGET]}" >"$T/wrk/pprof-load.txt" 2>&1 &
	echo $! >"$T/pids/wrk-pprof.pid"
	sleep 1
	code=$(curl -s -o "$T/cpu.pprof" -w '%{http_code}' --max-time $((PPROF_SECONDS + 20)) \
		"http://127.0.0.1:$GATEHOUSE_ADMIN_PORT/debug/pprof/profile?seconds=$PPROF_SECONDS" || true)
	wait "$(cat "$T/pids/wrk-pprof.pid")" || note "wrk under the profile exited non-zero (see $T/wrk/pprof-load.txt)"
	rm -f "$T/pids/wrk-pprof.pid"
	[[ $code == 200 ]] || die "GET /debug/pprof/profile on the admin listener answered $code (is GATEHOUSE_PPROF=1 implemented?)"
	cp "$T/cpu.pprof" "$out"
	if line=$(parse "$T/wrk/pprof-load.txt"); then
		read -r rps p99 err <<<"$line"
		echo "Load during the profile: $rps req/s, p99 $p99 ms, errors $err"
	fi
	echo "CPU profile: $out  (Go profiles carry their symbols: go tool pprof -http=127.0.0.1:8088 $out)"
	echo
	echo '```'
	timeout 120 go tool pprof -top -nodecount="$PPROF_TOP" "$T/bin/gatehouse" "$out" 2>&1 || note "go tool pprof failed"
	echo '```'
fi

# ---- optional instruction counts (callgrind) -------------------------------
#
# Throughput on a shared 2-core machine moves by several percent between
# runs of the same code; instructions executed do not. Each Go target is
# restarted under callgrind, warmed up, its counters zeroed, sent INSTR_N
# requests (one curl, one keep-alive connection, in sequence), and its
# counters dumped: instructions per request, with everything the process
# runs counted (GC, the runtime, every goroutine). The targets are left
# stopped afterwards.

if [[ $INSTR == 1 ]]; then
	mkdir -p "$T/cg"
	# send_requests TARGET N: N requests to TARGET in one curl; fails unless
	# every answer is a 200.
	send_requests() {
		local t=$1 n=$2 i bad
		target_args "$t"
		for ((i = 0; i < n; i++)); do printf 'url = "%s"\noutput = "/dev/null"\n' "${URL[$t]}"; done >"$T/cg/requests.curl"
		bad=$(timeout 600 curl -s -K "$T/cg/requests.curl" -w '%{http_code}\n' "${ARGS[@]}" | awk '$1 != 200 { n++ } END { print n + 0 }') ||
			return 1
		((bad == 0))
	}
	# cg_control TARGET PID OPTION: callgrind_control OPTION PID. callgrind
	# serves the command only while the program runs code, and an idle Go
	# server may not: after each half second without an answer, send one
	# more request of the measured kind. Sets POKES to their number.
	cg_control() {
		local t=$1 pid=$2 opt=$3 ctl i
		timeout 120 callgrind_control "$opt" "$pid" >>"$T/logs/$t-callgrind_control.log" 2>&1 &
		ctl=$!
		POKES=0
		for ((i = 1; i <= 1200; i++)); do
			kill -0 "$ctl" 2>/dev/null || break
			if ((i % 5 == 0)); then
				send_requests "$t" 1 || true
				POKES=$((POKES + 1))
			fi
			sleep 0.1
		done
		wait "$ctl" || die "$t: callgrind_control $opt $pid failed (see $T/logs/$t-callgrind_control.log)"
	}
	# instr_per_request TARGET: restart TARGET under callgrind and set IPR[TARGET].
	instr_per_request() {
		local t=$1 name ready out vlog pid total
		case $t in
		baseline) name=baseline ready="http://127.0.0.1:$BASELINE_PORT/small" ;;
		*) name=gatehouse ready="http://127.0.0.1:$GATEHOUSE_ADMIN_PORT/readyz" ;;
		esac
		stop_pidfile "$T/pids/$name.pid" 30
		out="$T/cg/$t.out"
		vlog="$T/logs/$t-valgrind.log"
		rm -f "$out" "$out".*
		# Go's async preemption signals trip callgrind; a request path
		# never runs long enough to be preempted anyway.
		case $name in
		baseline)
			start baseline "$T/logs/baseline-cg.log" env GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 \
				valgrind --tool=callgrind --callgrind-out-file="$out" --log-file="$vlog" \
				"$T/bin/baseline" -listen "127.0.0.1:$BASELINE_PORT" -upstream "http://127.0.0.1:$UPSTREAM_PORT"
			;;
		gatehouse)
			GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 valgrind --tool=callgrind --callgrind-out-file="$out" --log-file="$vlog" \
				"$T/bin/gatehouse" run --config "$T/gatehouse.hcl" \
				>>"$T/logs/gatehouse-cg.log" 2>"$T/logs/gatehouse.access.log" &
			echo $! >"$T/pids/gatehouse.pid"
			;;
		esac
		wait_ok "$name" "$ready" 120 || { log_tail "$vlog"; die "$t did not start under valgrind"; }
		pid=$(cat "$T/pids/$name.pid")
		send_requests "$t" "$INSTR_WARMUP" || die "$t: warm-up under callgrind: not every request answered 200"
		cg_control "$t" "$pid" -z
		send_requests "$t" "$INSTR_N" || die "$t: not every one of $INSTR_N requests under callgrind answered 200"
		cg_control "$t" "$pid" -d
		# KILL, not TERM: a signal that a Go handler catches (gatehouse's
		# TERM) trips an assertion in callgrind 3.19. The counts are dumped.
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		rm -f "$T/pids/$name.pid"
		[[ $t == gatehouse-* ]] && reset_access_log
		total=$(awk '$1 == "totals:" { print $2 }' "$out".1 2>/dev/null || true)
		[[ $total =~ ^[0-9]+$ ]] || die "$t: no callgrind totals in $out.1 (see $vlog)"
		IPR[$t]=$(awk -v a="$total" -v n=$((INSTR_N + POKES)) 'BEGIN { printf "%.0f", a / n }')
	}
	declare -A IPR
	for t in $INSTR_TARGETS; do
		[[ " ${RUN[*]} " == *" $t "* ]] || { note "INSTR: skipping $t (not running)"; continue; }
		note "INSTR: $t under callgrind: $INSTR_WARMUP requests to warm up, then $INSTR_N counted"
		instr_per_request "$t"
	done
	echo "### Instructions per request (callgrind; $REQ_PATH; $INSTR_N requests after $INSTR_WARMUP)"
	echo
	echo "| target | instructions/request | ratio to gatehouse-plain | ratio to baseline |"
	echo "|---|---:|---:|---:|"
	for t in $INSTR_TARGETS; do
		[[ -n ${IPR[$t]:-} ]] || continue
		printf '| %s | %s | %s | %s |\n' "$t" "${IPR[$t]}" "$(ratio "${IPR[$t]}" "${IPR[gatehouse-plain]:-}" 3)" "$(ratio "${IPR[$t]}" "${IPR[baseline]:-}" 3)"
	done
	echo
	echo "valgrind offers the program neither SHA-NI nor AVX-512, so crypto runs its AVX2 code"
	echo "here (SHA-256 of an API key: about 2,200 instructions; natively about 125 ns)."
	echo
fi
