package policy

import (
	"os"
	"strings"
	"testing"
)

// spellings returns name as written, lower case, and upper case with "_"
// for "-": three names an upstream framework takes for the same header.
func spellings(name string) []string {
	return []string{name, strings.ToLower(name), strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
}

// Issue 18: client copies of the headers auth proxies and load balancers
// set (identity, URL overrides, client addresses) never reach an upstream.
func TestClientHeaders_Strip(t *testing.T) {
	def, err := NewClientHeaders(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	stripped := []string{
		"X-Gatehouse-User", "X-API-Key",
		"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
		"Remote-User", "Remote-Groups", "X-Remote-User", "X-Remote-Email",
		"X-User", "X-User-Id", "X-User-Email", "X-User-Agent",
		"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups",
		"X-Forwarded-Preferred-Username", "X-Forwarded-Access-Token",
		"X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Access-Token",
		"X-Original-URL", "X-Original-URI", "X-Rewrite-URL", "X-Forwarded-Uri",
		"X-Forwarded-Prefix", "X-Forwarded-Port", "X-Forwarded-Server",
		"X-Forwarded-Scheme", "X-Forwarded-Ssl", "X-Original-Host", "X-Host",
		"X-HTTP-Host-Override", "Forwarded",
		"X-Client-IP", "X-Cluster-Client-IP", "True-Client-IP", "CF-Connecting-IP", "Fastly-Client-IP",
	}
	kept := []string{
		"Accept", "User-Agent", "Content-Type", "Authorization", "Cookie", "X-Requested-With",
		"X-Users", "X-Username", "X-Forwarded", "X-Forwarded-Users", "Remote", "X-Remote",
		"X-Original", "X-Hostname", "X-Client-Id", "X-Auth-Request", "Forwarded-For",
		"X-Real-IP", // gatehouse's own field: replaced by namesField, not a rule
		"", "x", "-", "_",
	}
	for _, name := range stripped {
		for _, k := range spellings(name) {
			if !def.Strip(k, false) {
				t.Errorf("Strip(%q, untrusted) = false, want true", k)
			}
		}
	}
	for _, name := range kept {
		for _, k := range spellings(name) {
			if def.Strip(k, false) || def.Strip(k, true) {
				t.Errorf("Strip(%q) = true, want false", k)
			}
		}
	}
	// From a trusted proxy only the prefix and port pass.
	for _, name := range stripped {
		want := name != "X-Forwarded-Prefix" && name != "X-Forwarded-Port"
		for _, k := range spellings(name) {
			if got := def.Strip(k, true); got != want {
				t.Errorf("Strip(%q, trusted) = %v, want %v", k, got, want)
			}
		}
	}
}

func TestClientHeaders_StripAndKeep(t *testing.T) {
	c, err := NewClientHeaders([]string{"X-Tenant-Admin", "x-corp-*", "_leading"},
		[]string{"X-Forwarded-Prefix", "x_user_agent"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		k       string
		trusted bool
		want    bool
	}{
		{"X-Tenant-Admin", false, true},
		{"x_tenant_admin", false, true},
		{"X-Corp-Role", false, true},
		{"X_CORP_", false, true},
		{"X-Corp", false, false},
		{"-leading", false, true},
		{"_Leading", false, true},
		{"X-Forwarded-Prefix", false, false}, // kept from anyone
		{"X-User-Agent", false, false},       // kept, though X-User-* covers it
		{"X-User-Id", false, true},           // the rest of X-User-* is not
		{"forwarded", false, true},
		{"X-Forwarded-Port", false, true},
		{"X-Forwarded-Port", true, false},
		{"X-API-Key", false, true},
	}
	for _, tt := range tests {
		if got := c.Strip(tt.k, tt.trusted); got != tt.want {
			t.Errorf("Strip(%q, %v) = %v, want %v", tt.k, tt.trusted, got, tt.want)
		}
	}
	var nilRules *ClientHeaders
	if !nilRules.Strip("x_gatehouse_role", false) || nilRules.Strip("X-Original-URL", false) {
		t.Error("nil ClientHeaders: want only gatehouse's own headers stripped")
	}
}

func TestClientHeaders_Invalid(t *testing.T) {
	for _, s := range []string{"", "*", "Bad Name", "X-Ok:*", "X-**", "ümlaut"} {
		if _, err := NewClientHeaders([]string{s}, nil); err == nil {
			t.Errorf("strip %q: got no error", s)
		}
	}
	for _, k := range []string{"X-Gatehouse-User", "X-API-Key", "X-HTTP-Method-Override", "Forwarded", "X-Real-IP", "Accept", "X-User*", "Bad Name", ""} {
		if _, err := NewClientHeaders(nil, []string{k}); err == nil {
			t.Errorf("keep %q: got no error", k)
		}
	}
}

func TestDefaultClientHeaders(t *testing.T) {
	list := DefaultClientHeaders()
	if len(list) == 0 || list[0] != "x-gatehouse-*" {
		t.Fatalf("DefaultClientHeaders() = %q", list)
	}
	list[0] = "changed"
	if DefaultClientHeaders()[0] != "x-gatehouse-*" {
		t.Error("DefaultClientHeaders returns shared storage")
	}
}

// The default list is documented: every entry appears in docs/security.md's
// section on client headers, in backquotes, in any case.
func TestDefaultClientHeaders_Documented(t *testing.T) {
	doc, err := os.ReadFile("../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(doc), "### Identity, URL and address headers from clients")
	if !ok {
		t.Fatal("docs/security.md has no section on client headers")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	sec = strings.ToLower(sec)
	for _, name := range DefaultClientHeaders() {
		if !strings.Contains(sec, "`"+name+"`") {
			t.Errorf("docs/security.md does not list %q", name)
		}
	}
}

// Strip's pre-filter (nameWord) never changes a decision: it agrees with
// a plain comparison against every rule, for names around every rule.
func TestClientHeaders_StripMatchesPlainComparison(t *testing.T) {
	c, err := NewClientHeaders([]string{"X-Corp-*", "Ab", "Q*", "_Lead"}, []string{"X-User-Agent"})
	if err != nil {
		t.Fatal(err)
	}
	rules := append(defaultClientHeaderRules(), clientHeaderRule{name: "x-corp-", prefix: true}, clientHeaderRule{name: "ab"},
		clientHeaderRule{name: "q", prefix: true}, clientHeaderRule{name: "-lead"})
	plain := func(k string) bool {
		if HeaderFold(k, "x-user-agent") {
			return false
		}
		for _, r := range rules {
			if r.matches(k) {
				return true
			}
		}
		return false
	}
	var names []string
	for _, r := range rules {
		for _, n := range []string{r.name, r.name + "x", r.name + "-id", r.name[:len(r.name)-1], "a" + r.name, r.name[:1], r.name[:min(2, len(r.name))]} {
			names = append(names, spellings(n)...)
			names = append(names, strings.ReplaceAll(n, "-", "_"), strings.ReplaceAll(n, "e", "E"), strings.ReplaceAll(n, "-", "\x0d"))
		}
	}
	for _, k := range names {
		if got, want := c.Strip(k, false), plain(k); got != want {
			t.Errorf("Strip(%q) = %v, plain comparison says %v", k, got, want)
		}
	}
}
