#!/usr/bin/env bash
# examples/multi-instance/run.sh: Redis, an upstream, two gatehouse instances
# and nginx round-robin in front of them, all on 127.0.0.1.
#
#   bash examples/multi-instance/run.sh         start everything, then show a session
#                                               surviving the hop between instances
#   bash examples/multi-instance/run.sh stop    stop everything (by the PIDs in pidfiles)
#
# Ports: nginx 8080; gatehouse A 8081 (admin 9911), B 8082 (admin 9912);
# Redis 6390; upstream 8090. State, logs and pidfiles: $STATE
# (default ${TMPDIR:-/tmp}/gatehouse-multi-instance).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
STATE=${STATE:-${TMPDIR:-/tmp}/gatehouse-multi-instance}
KEY='gh_multi-instance-example-key-not-a-secret' # app "demo" (example only)

note() { echo "run.sh: $*" >&2; }
die() {
	echo "run.sh: error: $*" >&2
	exit 1
}

# stop_pidfile FILE: TERM the recorded PID, wait up to 10 s, then KILL.
stop_pidfile() {
	local f=$1 pid i
	pid=$(cat "$f" 2>/dev/null) || return 0
	if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			note "$(basename "$f" .pid) (pid $pid) ignored TERM; sending KILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		note "stopped $(basename "$f" .pid) (pid $pid)"
	fi
	rm -f "$f"
}

stop_all() {
	# nginx first (it sends to the instances), Redis last (they use it).
	local n
	for n in nginx gatehouse-a gatehouse-b upstream redis; do
		stop_pidfile "$STATE/$n.pid"
	done
}

if [[ ${1:-start} == stop ]]; then
	stop_all
	exit 0
fi
[[ ${1:-start} == start ]] || die "usage: run.sh [start|stop]"

command -v go >/dev/null || die "go not found on PATH"
command -v curl >/dev/null || die "curl not found on PATH"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
	die "redis-server not found; on Debian: apt-get install redis-server"
command -v nginx >/dev/null || die "nginx not found; on Debian: apt-get install nginx"

# Anything left from an earlier run is stopped first.
mkdir -p "$STATE/bin" "$STATE/nginx/tmp" "$STATE/redis"
stop_all
rm -f "$STATE"/*.log "$STATE/nginx/error.log" # this run's logs only
for p in 8080 8081 8082 9911 9912 6390 8090; do
	rc=0
	curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$p/" || rc=$?
	[[ $rc == 7 ]] || die "127.0.0.1:$p is in use; stop what listens there (or: run.sh stop)"
done
# If anything below fails, stop what was started.
trap 'rc=$?; if ((rc != 0)); then note "failed; stopping what was started (logs in $STATE)"; stop_all; fi' EXIT

note "building gatehouse and the example upstream into $STATE/bin"
(cd "$repo" && go build -o "$STATE/bin/gatehouse" ./cmd/gatehouse && go build -o "$STATE/bin/upstream" ./bench/upstream)

# wait_until WHAT SECONDS CMD...: run CMD every 0.1 s until it succeeds, at
# most SECONDS.
wait_until() {
	local what=$1 secs=$2 i
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "$what not ready within ${secs}s (logs in $STATE)"
}
http_ok() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1") == 200 ]]; }
nginx_ok() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 -H "X-API-Key: $KEY" http://127.0.0.1:8080/api/small) == 200 ]]; }

# Redis: loopback only, no persistence (this is a demo: a restart loses the
# data, and the epoch makes everyone log in again; see docs/operations.md).
redis-server --bind 127.0.0.1 --port 6390 --dir "$STATE/redis" --save "" --appendonly no \
	--daemonize yes --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log"
wait_until "redis (pidfile)" 10 test -s "$STATE/redis.pid"
wait_until "redis" 10 bash -c '[[ $(redis-cli -h 127.0.0.1 -p 6390 PING) == PONG ]]'

"$STATE/bin/upstream" -addr 127.0.0.1:8090 >>"$STATE/upstream.log" 2>&1 &
echo $! >"$STATE/upstream.pid"
wait_until "upstream" 10 http_ok http://127.0.0.1:8090/small

# Every instance needs the same signing key; it lives only in this run's state.
if [[ ! -s $STATE/signing-key ]]; then
	(umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$STATE/signing-key")
fi
signing_key=$(cat "$STATE/signing-key")
for inst in a:8081:9911 b:8082:9912; do
	IFS=: read -r name port admin <<<"$inst"
	GATEHOUSE_LISTEN=127.0.0.1:$port GATEHOUSE_ADMIN_LISTEN=127.0.0.1:$admin GATEHOUSE_SIGNING_KEY=$signing_key \
		"$STATE/bin/gatehouse" run --config "$here/gatehouse.hcl" >>"$STATE/gatehouse-$name.log" 2>&1 &
	echo $! >"$STATE/gatehouse-$name.pid"
done
wait_until "gatehouse A" 20 http_ok http://127.0.0.1:9911/readyz
wait_until "gatehouse B" 20 http_ok http://127.0.0.1:9912/readyz

cat >"$STATE/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $STATE/nginx.pid;
error_log $STATE/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $STATE/nginx/tmp/body;
  proxy_temp_path       $STATE/nginx/tmp/proxy;
  fastcgi_temp_path     $STATE/nginx/tmp/fastcgi;
  uwsgi_temp_path       $STATE/nginx/tmp/uwsgi;
  scgi_temp_path        $STATE/nginx/tmp/scgi;
  # Round-robin, no stickiness: any request may reach either instance.
  upstream gatehouse { server 127.0.0.1:8081; server 127.0.0.1:8082; keepalive 16; }
  server {
    listen 127.0.0.1:8080;
    location / {
      proxy_pass http://gatehouse;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
EOF
nginx -q -t -c "$STATE/nginx/nginx.conf" -p "$STATE/nginx/" 2>>"$STATE/nginx/error.log" || die "nginx rejected $STATE/nginx/nginx.conf"
nginx -c "$STATE/nginx/nginx.conf" -p "$STATE/nginx/" # daemonizes; its PID in $STATE/nginx.pid
wait_until "nginx (pidfile)" 10 test -s "$STATE/nginx.pid"
wait_until "nginx" 10 nginx_ok

trap - EXIT
cat <<EOF

Running (logs and pidfiles in $STATE):
  redis      127.0.0.1:6390   pid $(cat "$STATE/redis.pid")
  upstream   127.0.0.1:8090   pid $(cat "$STATE/upstream.pid")
  gatehouse  A 127.0.0.1:8081 (admin 9911) pid $(cat "$STATE/gatehouse-a.pid")
  gatehouse  B 127.0.0.1:8082 (admin 9912) pid $(cat "$STATE/gatehouse-b.pid")
  nginx      127.0.0.1:8080 (round-robin over A and B) pid $(cat "$STATE/nginx.pid")

Try it (or read what this script does with them below):
  KEY=$KEY
  TOKEN=\$(curl -s -H "X-API-Key: \$KEY" -H 'Content-Type: application/json' \\
    -d '{"username":"alice","password":"alice-example-password"}' http://127.0.0.1:8081/auth/login | jq -r .session_token)
  for i in 1 2 3 4; do curl -s -o /dev/null -w '%{http_code}\n' -H "X-API-Key: \$KEY" -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8080/api/small; done
  curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8081/auth/logout
  curl -s -w '\n' -H "X-API-Key: \$KEY" -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8082/api/small   # B: 401 session_revoked
  ADMIN=\$(curl -s -H 'Content-Type: application/json' -d '{"username":"root","password":"root-example-password"}' \\
    http://127.0.0.1:8080/auth/login | jq -r .session_token)
  curl -s -H "Authorization: Bearer \$ADMIN" http://127.0.0.1:9911/admin/instances | jq
  curl -s http://127.0.0.1:9912/readyz
Stop everything: bash $here/run.sh stop

EOF

# The same, done here.
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
token=$(curl -s --max-time 10 -H "X-API-Key: $KEY" -H 'Content-Type: application/json' \
	-d '{"username":"alice","password":"alice-example-password"}' http://127.0.0.1:8081/auth/login | json_field session_token)
[[ -n $token ]] || die "login on A failed (see $STATE/gatehouse-a.log)"
echo "login on A: got a session token"
for i in 1 2 3 4; do
	echo "GET /api/small through nginx ($i): $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "X-API-Key: $KEY" -H "Authorization: Bearer $token" http://127.0.0.1:8080/api/small)"
done
served() { grep -c '"path":"/api/small".*"user":"alice"' "$STATE/gatehouse-$1.log" || true; }
for ((i = 0; i < 30; i++)); do # access logs are flushed every 200 ms
	(($(served a) + $(served b) >= 4)) && break
	sleep 0.1
done
echo "  served by A: $(served a), by B: $(served b) (from their access logs)"
echo "logout on A: $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -H "Authorization: Bearer $token" http://127.0.0.1:8081/auth/logout)"
sleep 1 # revocations reach the other instances within milliseconds; 1 s is the bound
echo "the same token on B (want 401 session_revoked): $(curl -s -w ' HTTP %{http_code}' --max-time 5 -H "X-API-Key: $KEY" -H "Authorization: Bearer $token" http://127.0.0.1:8082/api/small | tr -d '\n')"
admin=$(curl -s --max-time 10 -H 'Content-Type: application/json' \
	-d '{"username":"root","password":"root-example-password"}' http://127.0.0.1:8080/auth/login | json_field session_token)
# The heartbeats come every 5 s: both instances are listed once each has sent one.
for ((i = 0; i < 100; i++)); do
	inst=$(curl -s --max-time 5 -H "Authorization: Bearer $admin" http://127.0.0.1:9911/admin/instances)
	[[ $(grep -o '"id":' <<<"$inst" | wc -l) -ge 2 ]] && break
	sleep 0.1
done
echo "GET /admin/instances on A: $inst"
echo "GET /readyz on B: $(curl -s --max-time 5 http://127.0.0.1:9912/readyz)"
