#!/usr/bin/env bash
# The whole test suite: the one command README.md gives. It installs what
# the tests need (pinned), then runs format, vet, staticcheck, the race-
# enabled tests and a short fuzz run of every fuzz target.
#
#   ./scripts/test.sh               everything
#   FUZZTIME=60s ./scripts/test.sh  longer fuzzing (a duration, or Nx)
#
# By default each fuzz target runs a fixed number of inputs (about 1-10 s
# here), not a duration: with a duration, Go 1.26's fuzz coordinator can
# report a spurious "context deadline exceeded" failure when a worker is
# slow to stop at the deadline (go.dev/issue/75804, fixed in Go 1.27); it
# failed FuzzSafeNext once in a CI-style run here, with no crasher.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2
PEBBLE_VERSION=v2.10.1
FUZZTIME=${FUZZTIME:-}
GOBIN=$(go env GOPATH)/bin

step() { printf '\n== %s\n' "$*"; }

# apt_install PKG... installs missing Debian packages (as root, or through
# sudo). The race detector needs cgo, hence a C compiler.
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
	if ! command -v apt-get >/dev/null; then
		echo "missing: $* (install them with your package manager)" >&2
		exit 1
	fi
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "$@"
}

step "tools"
command -v gcc >/dev/null || apt_install gcc libc6-dev
# OpenLDAP for the LDAP integration tests (started by the tests, never by apt).
# slapd lives in /usr/sbin, which is not on every user's PATH.
if ! { command -v slapd >/dev/null || [ -x /usr/sbin/slapd ]; } || ! command -v ldapadd >/dev/null; then
	echo 'slapd slapd/no_configuration boolean true' | $SUDO debconf-set-selections
	apt_install slapd ldap-utils
fi
# Redis and Redis Sentinel for the cluster tests (internal/testenv StartRedis,
# StartSentinels): started by the tests on 127.0.0.1, never by apt.
{ command -v redis-server >/dev/null && command -v redis-sentinel >/dev/null; } || apt_install redis-server redis-sentinel
# promtool (Debian's prometheus package) checks the /metrics exposition
# (cmd/gatehouse TestMetrics_PromtoolCheck); only the tool is used.
command -v promtool >/dev/null || apt_install --no-install-recommends prometheus
# Headless Chromium for the CORS browser tests (cmd/gatehouse TestCORS_Browser).
command -v chromium >/dev/null || apt_install chromium
if ! "$GOBIN/staticcheck" -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
	go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
fi
"$GOBIN/staticcheck" -version
# Pebble (ACME test CA) and its DNS server for the automatic-HTTPS tests
# (internal/testenv StartPebble); started by the tests on 127.0.0.1 only.
for tool in pebble pebble-challtestsrv; do
	if ! go version -m "$GOBIN/$tool" 2>/dev/null | grep -q "mod[[:space:]]*github.com/letsencrypt/pebble/v2[[:space:]]*${PEBBLE_VERSION}"; then
		GOBIN="$GOBIN" go install "github.com/letsencrypt/pebble/v2/cmd/${tool}@${PEBBLE_VERSION}"
	fi
done

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-ed:"; echo "$unformatted"; exit 1
fi
echo ok

step "go vet"
go vet ./...
echo ok

step "staticcheck"
"$GOBIN/staticcheck" ./...
echo ok

step "gatehouse fmt -check (examples)"
go run ./cmd/gatehouse fmt -check examples
echo ok

step "gatehouse test (every example's *_test.hcl)"
# The examples read their secrets and addresses with env(); the tests need
# the variables set, not their real values: nothing is dialled or sent.
gh_bin=$(mktemp -d)
go build -o "$gh_bin/gatehouse" ./cmd/gatehouse
for d in examples/*/; do
	if ! ls "$d"*_test.hcl >/dev/null 2>&1; then
		echo "$d has no *_test.hcl" >&2; exit 1
	fi
	echo "$d"
	env ORDERS_API_URL=http://127.0.0.1:9000 \
		SHOP_KEY_SHA256=$(printf shop | sha256sum | cut -d' ' -f1) \
		PORTAL_KEY_SHA256=$(printf portal | sha256sum | cut -d' ' -f1) \
		GATEHOUSE_SIGNING_KEY=test-signing-key-of-at-least-32-bytes-000000 \
		HR_API_TOKEN=dummy LDAP_URL=ldaps://127.0.0.1:1 LDAP_BIND_PASSWORD=dummy \
		OIDC_ISSUER=https://127.0.0.1:1 OIDC_CLIENT_ID=dummy OIDC_CLIENT_SECRET=dummy \
		GITHUB_CLIENT_ID=dummy GITHUB_CLIENT_SECRET=dummy X_CLIENT_ID=dummy X_CLIENT_SECRET=dummy \
		GATEHOUSE_PUBLIC_URL=https://127.0.0.1 \
		GATEHOUSE_LISTEN=127.0.0.1:8080 GATEHOUSE_ADMIN_LISTEN=127.0.0.1:9901 \
		"$gh_bin/gatehouse" test --config "$d"
done
rm -rf "$gh_bin"

step "go test -race"
go test -race -count=1 ./...

step "fuzz (${FUZZTIME:-a fixed number of inputs per target})"
fuzz() { # package target inputs; a target the package does not have fails
	local out
	out=$(go test -run '^$' -timeout 5m -fuzz "^$2\$" -fuzztime "${FUZZTIME:-$3x}" "$1" 2>&1) || { echo "$out"; return 1; }
	echo "$out" | tail -n 3
	if grep -q 'no fuzz tests to fuzz' <<<"$out"; then
		echo "fuzz: $1 has no fuzz target $2" >&2
		return 1
	fi
}
fuzz ./policy FuzzParsePath 200000
fuzz ./policy FuzzOriginMatch 200000
fuzz ./proxy FuzzCanonicalize 60000
fuzz ./proxy FuzzFraming 80000
fuzz ./proxy/upstream FuzzRequestHead 100000
fuzz ./proxy FuzzAppendJSONString 30000
fuzz ./config FuzzParseConfig 10000
fuzz ./config FuzzPieces 40000
fuzz ./policy/password FuzzParse 400000
fuzz ./proxy/authapi/oauth FuzzSafeNext 70000
fuzz ./policy/records FuzzFilter 80000
fuzz ./policy/records FuzzNameCollision 100000
fuzz ./policy/records FuzzFilterBytes 40000
fuzz ./policy/records FuzzHideFields 50000
fuzz ./policy/records FuzzScanRecord 30000
fuzz ./policy/records FuzzFastPathSameAsJSONText 100000
fuzz ./proxy FuzzFilteredResponse 20000

step "all tests passed"
