package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy/session"
)

// recordingTransport is the upstream of the property test: it answers 200
// and records the path and the gatehouse header fields of what it got.
type recordingTransport struct {
	mu     sync.Mutex
	path   string
	fields [][2]string
	n      int
}

func (rt *recordingTransport) RoundTripWithFields(r *http.Request, f [][2]string) (*http.Response, error) {
	rt.mu.Lock()
	rt.fields = append([][2]string(nil), f...)
	rt.mu.Unlock()
	return rt.RoundTrip(r)
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.path, rt.n = r.URL.EscapedPath(), rt.n+1
	rt.mu.Unlock()
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Length": {"0"}}, Body: http.NoBody, Request: r}, nil
}

func (rt *recordingTransport) take() (path string, fields [][2]string, n int) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	path, fields, n = rt.path, rt.fields, rt.n
	rt.path, rt.fields, rt.n = "", nil, 0
	return path, fields, n
}

// propSegs are the literal segments of generated grants and paths.
var propSegs = []string{"a", "b", "c", "emp", "42", "x"}

// propGlob is a random glob that policy.ParseGlob accepts.
func propGlob(rng *rand.Rand) policy.Glob {
	for {
		if g, err := policy.ParseGlob(propGlobText(rng)); err == nil {
			return g
		}
	}
}

func propGlobText(rng *rand.Rand) string {
	n := 1 + rng.IntN(4)
	parts := make([]string, n)
	for i := range parts {
		switch k := rng.IntN(10); {
		case k < 6:
			parts[i] = propSegs[rng.IntN(len(propSegs))]
		case k < 8:
			parts[i] = "*"
		default:
			parts[i] = "**"
		}
	}
	return "/" + strings.Join(parts, "/")
}

var propVerbs = []policy.Verb{policy.VerbGET, policy.VerbHEAD, policy.VerbPOST, policy.VerbPUT, policy.VerbPATCH, policy.VerbDELETE, policy.VerbOPTIONS}

// propSpec is a generated configuration: four routed upstreams (one
// inactive, one public, one under another's prefix, two with header
// templates), seven roles of 60 random allow and deny grants each (one
// role inactive), apps with and without default roles (one inactive),
// local users with per-app roles, an admin, and an ldap block mapping
// groups to roles.
func propSpec(t *testing.T, rng *rand.Rand) policy.Spec {
	t.Helper()
	mu := func(s string) *url.URL { u, _ := url.Parse(s); return u }
	tmpl := func(name, v string) policy.HeaderTemplate {
		h, err := policy.ParseHeaderTemplate(name, v)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	spec := policy.Spec{
		Hash:   "prop",
		Server: policy.Server{Production: true, MaxBodyBytes: 1024, BodyBufferBytes: 64 << 10},
		Upstreams: []policy.UpstreamSpec{
			{Name: "hr", URL: mu("http://127.0.0.1:9/api"), Prefix: "/hr", Active: true, Headers: []policy.HeaderTemplate{tmpl("X-Tenant", "{lookup.tenant}")}},
			{Name: "deep", URL: mu("http://127.0.0.1:9/deep/"), Prefix: "/hr/deep", Active: true},
			{Name: "crm", URL: mu("http://127.0.0.1:9"), Prefix: "/crm", Active: true, Headers: []policy.HeaderTemplate{tmpl("X-Mail", "{user.email}")}},
			{Name: "pub", URL: mu("http://127.0.0.1:9"), Prefix: "/pub", Active: true, Public: true},
			{Name: "old", URL: mu("http://127.0.0.1:9"), Prefix: "/old", Active: false},
		},
		Sessions: &policy.SessionsSpec{HMACKey: []byte(testSigningKey), TTL: time.Hour, RefreshTTL: 24 * time.Hour, CacheSize: 1000, Issuer: "prop"},
		Admins:   []policy.AdminSpec{{Name: "root", Password: mustHash(t, "rootpw"), Active: true}},
		LDAP: []policy.LDAPSpec{{Name: "corp", Roles: map[string][]policy.GroupRole{
			"a0": {{Group: "g1", Role: "r1"}, {Group: "g2", Role: "r2"}},
			"a3": {{Group: "g3", Role: "r5"}},
		}}},
	}
	line := 1
	for r := range 7 {
		rs := policy.RoleSpec{Name: "r" + strconv.Itoa(r), Active: r != 6}
		if r == 2 {
			rs.Lookups = map[string]any{"tenant": "role-two"}
		}
		for range 60 {
			g := policy.GrantSpec{Upstream: []string{"hr", "deep", "crm", "old", "pub"}[rng.IntN(5)], Deny: rng.IntN(4) == 0,
				Origin: fmt.Sprintf("prop.hcl:%d,3", line)}
			// Some grants are dry-run: a third of the denies (so that some
			// allowed requests would be refused), an eighth of the allows.
			g.DryRun = g.Deny && rng.IntN(3) == 0 || !g.Deny && rng.IntN(8) == 0
			line++
			for range 1 + rng.IntN(3) {
				g.Verbs |= propVerbs[rng.IntN(len(propVerbs))]
			}
			for range 1 + rng.IntN(2) {
				g.Paths = append(g.Paths, propGlob(rng))
			}
			rs.Grants = append(rs.Grants, g)
		}
		spec.Roles = append(spec.Roles, rs)
	}
	for a := range 7 {
		as := policy.AppSpec{Name: "a" + strconv.Itoa(a), KeySHA256: sum("key-a" + strconv.Itoa(a)), Active: a != 6}
		if a < 5 {
			as.DefaultRole = "r" + strconv.Itoa(a)
		}
		switch a {
		case 1:
			as.Lookups = map[string]any{"tenant": "app-one"}
		case 0:
			as.Secrets = map[string]any{"tenant": "s3cr3t-tenant"}
		}
		spec.Apps = append(spec.Apps, as)
	}
	spec.Users = []policy.UserSpec{
		{Name: "u0", Roles: map[string]string{"a0": "r5", "a1": "r6"}, Active: true},
		{Name: "u1", Email: "u1@example.test", Roles: map[string]string{"a2": "r3"}, Lookups: map[string]any{"tenant": "user-one"}, Active: true},
		{Name: "u2", Active: true},
		{Name: "u3", Roles: map[string]string{"a0": "r0"}, Active: false},
	}
	return spec
}

// propTargets are FuzzCanonicalize's seeds and corpus (testdata/fuzz),
// each also under every upstream prefix.
func propTargets(t *testing.T) []string {
	t.Helper()
	targets := append([]string(nil), canonicalizeSeeds...)
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzCanonicalize", "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for l := range strings.SplitSeq(string(b), "\n") {
			if q, ok := strings.CutPrefix(l, "string("); ok {
				if s, err := strconv.Unquote(strings.TrimSuffix(q, ")")); err == nil {
					targets = append(targets, s)
				}
			}
		}
	}
	var out []string
	for _, s := range targets {
		if scheme, rest, ok := strings.Cut(s, "://"); ok && !strings.HasPrefix(s, "/") {
			// Explain takes an absolute-form target as addressed to the
			// proxy; the proxy refuses another host's: send it ours.
			_, path, _ := strings.Cut(rest, "/")
			s = scheme + "://" + propListener + "/" + path
		}
		out = append(out, s)
		if strings.HasPrefix(s, "/") {
			for _, p := range []string{"/hr", "/hr/deep", "/crm", "/pub", "/old"} {
				out = append(out, p+s)
			}
		}
	}
	return out
}

// propTarget is a random request target: from the corpus, or generated
// from the grants' segments (with encodings, dot segments, a query, a
// trailing slash or the absolute form now and then).
func propTarget(rng *rand.Rand, corpus []string) string {
	if rng.IntN(5) == 0 {
		return corpus[rng.IntN(len(corpus))]
	}
	var b strings.Builder
	b.WriteString([]string{"/hr", "/hr", "/hr/deep", "/crm", "/crm", "/pub", "/old", "/nowhere", ""}[rng.IntN(9)])
	for range rng.IntN(5) {
		b.WriteByte('/')
		switch k := rng.IntN(100); {
		case k == 0:
			b.WriteString("..")
		case k == 1:
			b.WriteString("%61") // "a", encoded
		case k == 2:
			b.WriteString("a%2fb")
		case k == 3:
			b.WriteString(".")
		default:
			b.WriteString(propSegs[rng.IntN(len(propSegs))])
		}
	}
	s := b.String()
	if s == "" || rng.IntN(8) == 0 {
		s += "/"
	}
	if rng.IntN(10) == 0 {
		s += "?q=1"
	}
	if rng.IntN(20) == 0 {
		s = "http://" + propListener + s
	}
	return s
}

// propListener is the address the in-process requests arrive on.
const propListener = "127.0.0.1:8080"

type propWho struct {
	q     ExplainQuery
	key   string // X-API-Key
	token string // session token, or ""
}

// TestExplain_AgreesWithTheProxy is issue 22's bar: random requests of
// random callers on a generated configuration go through the real
// handler (every stage, a recording upstream, the access log) and through
// Explain, which must agree on the decision, status, reason, deciding
// grant and near miss; on an allowed request the upstream must get the
// forwarded path and the header values Explain printed.
func TestExplain_AgreesWithTheProxy(t *testing.T) {
	cases := 12_000
	if testing.Short() {
		cases = 2_000
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (PROP_SEED to replay)", seed)
	if s, err := strconv.ParseUint(os.Getenv("PROP_SEED"), 10, 64); err == nil {
		seed = s
	}
	rng := rand.New(rand.NewPCG(seed, 22))
	snap, err := policy.New(propSpec(t, rng))
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	up := &recordingTransport{}
	srv := New(Options{Logger: discardLogger(), AccessLog: &log, Transport: up})
	srv.Load(snap, nil)
	t.Cleanup(func() { srv.Close() })
	keys := srv.gen.Load().keys
	issue := func(s *session.Session) string {
		tok, err := srv.sessions.Issue(keys, s)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// The callers: each app's key alone, with each local user's session,
	// with LDAP sessions of some groups; admin sessions with and without
	// a key; no credential at all.
	var whos []propWho
	for a := range 7 {
		app, key := "a"+strconv.Itoa(a), "key-a"+strconv.Itoa(a)
		whos = append(whos, propWho{q: ExplainQuery{App: app}, key: key})
		for _, u := range []string{"u0", "u1", "u2", "u3"} {
			whos = append(whos, propWho{q: ExplainQuery{App: app, User: u}, key: key,
				token: issue(&session.Session{Subject: u, App: app, Provider: policy.ProviderLocal, Local: true, Email: map[string]string{"u1": "u1@example.test"}[u]})})
		}
		// A directory user may share a local user's name (u1): the local
		// user's lookups are not theirs.
		for i, groups := range [][]string{{"g1"}, {"g2", "g3"}, {"G3"}, {"gx"}} {
			dn := []string{"dirk", "u1"}[i%2]
			whos = append(whos, propWho{q: ExplainQuery{App: app, User: dn, LDAPGroups: groups, Provider: "corp"}, key: key,
				token: issue(&session.Session{Subject: dn, App: app, Provider: "corp", Groups: groups})})
		}
		whos = append(whos, propWho{q: ExplainQuery{App: app, Admin: "root"}, key: key, token: issue(&session.Session{Subject: "root", Admin: true, Provider: policy.ProviderLocal, Local: true})})
	}
	whos = append(whos, propWho{q: ExplainQuery{Admin: "root"}, token: issue(&session.Session{Subject: "root", Admin: true, Provider: policy.ProviderLocal, Local: true})})
	whos = append(whos, propWho{})
	corpus := propTargets(t)
	methods := []string{"GET", "GET", "GET", "HEAD", "POST", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PURGE"}
	ctx := context.WithValue(t.Context(), http.LocalAddrContextKey, net.Addr(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}))
	start := time.Now()
	ran, skipped := 0, 0
	outcomes := map[string]int{}
	for ran < cases {
		who := whos[rng.IntN(len(whos))]
		method := methods[rng.IntN(len(methods))]
		target := propTarget(rng, corpus)
		u, err := url.ParseRequestURI(target)
		if err != nil || target == "*" && method != "OPTIONS" {
			skipped++ // net/http's server refuses it before any handler
			continue
		}
		r := (&http.Request{Method: method, URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Host: propListener, RemoteAddr: "127.0.0.1:40000", Body: http.NoBody}).WithContext(ctx)
		if who.key != "" {
			r.Header.Set("X-API-Key", who.key)
		}
		if who.token != "" {
			r.Header.Set("Authorization", "Bearer "+who.token)
		}
		log.Reset()
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		var rec map[string]any
		if err := json.Unmarshal(bytes.TrimSpace(log.Bytes()), &rec); err != nil {
			t.Fatalf("%s %q: access log %q: %v", method, target, log.String(), err)
		}
		sentPath, fields, sent := up.take()
		q := who.q
		q.Method, q.Target = method, target
		e, err := Explain(snap, q, time.Now())
		if err != nil {
			t.Fatalf("Explain(%+v): %v", q, err)
		}
		str := func(k string) string { s, _ := rec[k].(string); return s }
		status := e.Status
		if status == 0 {
			status = http.StatusOK
		}
		if str("decision") != e.Decision || str("reason") != e.Reason || str("grant") != e.Grant ||
			str("near_grant") != e.NearGrant || str("near_reason") != e.NearReason || w.Code != status ||
			str("dry_run") != e.DryRun || str("dry_run_grant") != e.DryRunGrant {
			t.Fatalf("case %d: %s %q as %+v:\nproxy:   %d %s %s grant=%q near=%q %s\nexplain: %d %s %s grant=%q near=%q %s\n%s",
				ran, method, target, who.q, w.Code, str("decision"), str("reason"), str("grant"), str("near_grant"), str("near_reason"),
				status, e.Decision, e.Reason, e.Grant, e.NearGrant, e.NearReason, e.String())
		}
		if e.Decision == "allow" {
			if sent != 1 || sentPath != e.ForwardedPath {
				t.Fatalf("case %d: %s %q: upstream got %d requests, path %q; explain says %q", ran, method, target, sent, sentPath, e.ForwardedPath)
			}
			for _, h := range e.Headers {
				got := ""
				for _, f := range fields {
					if f[0] == h.Name {
						got = f[1]
					}
				}
				if got != h.Value && !(strings.Contains(h.Value, "(secret)") && got != "") {
					t.Fatalf("case %d: %s %q: upstream header %s = %q, explain %q", ran, method, target, h.Name, got, h.Value)
				}
			}
		} else if sent != 0 {
			t.Fatalf("case %d: %s %q refused (%s) but reached the upstream", ran, method, target, e.Reason)
		}
		outcomes[e.Decision+" "+e.Reason]++
		if e.NearReason != "" {
			outcomes["near "+e.NearReason]++
		}
		if e.DryRun != "" {
			outcomes["dry run "+e.DryRun]++
		}
		ran++
	}
	t.Logf("%d cases agree (%d targets net/http refuses skipped) in %v; outcomes %v", ran, skipped, time.Since(start).Round(time.Millisecond), outcomes)
	// Each kind of dry-run outcome is rarer (4 to 156 per run over ten
	// seeds): at least one of the two must occur.
	if outcomes["dry run would_deny"]+outcomes["dry run would_allow"] == 0 {
		t.Error("no case had a dry-run outcome: the generator does not exercise dry-run grants")
	}
	for _, o := range []string{"allow grant_allowed", "deny grant_denied", "deny no_matching_grant", "near verb_not_granted", "near overridden_by_deny", "deny header_unresolved"} {
		if outcomes[o] == 0 {
			t.Errorf("no case had the outcome %q: the generator does not exercise the policy", o)
		}
	}
}
