package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/settings"
)

// loadCluster writes src beside an upstream and returns the runtime
// settings and diagnostics of loading it.
func loadCluster(t *testing.T, dir, src string) (*settings.Runtime, map[string]*hcl.File, hcl.Diagnostics) {
	t.Helper()
	path := filepath.Join(dir, "gatehouse.hcl")
	src = "upstream \"api\" {\n  url    = \"http://127.0.0.1:9000\"\n  prefix = \"/\"\n}\n\n" + src
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, rt, files, diags := LoadSnapshot(path)
	return rt, files, diags
}

func TestCluster_Settings(t *testing.T) {
	dir := tlsTestDir(t)
	t.Setenv("GATEHOUSE_TEST_REDIS_PASSWORD", "pw-from-env")
	t.Setenv("GATEHOUSE_TEST_CLUSTER_KEY", strings.Repeat("k", 32))
	defaults := settings.Cluster{KeyPrefix: "gatehouse:", DialTimeout: 5 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second, LimitsOnError: settings.LimitsClosed, RateLimitsOnError: settings.LimitsOpen}
	with := func(f func(*settings.Cluster)) settings.Cluster {
		c := defaults
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name, block string
		want        settings.Cluster
		warning     string
	}{
		{"plain", `redis = "redis://127.0.0.1:6390"`, with(func(c *settings.Cluster) { c.Addr = "127.0.0.1:6390" }), ""},
		{"default port and db", `redis = "redis://127.0.0.1/3"`, with(func(c *settings.Cluster) { c.Addr, c.DB = "127.0.0.1:6379", 3 }), ""},
		{"acl from attributes", "redis = \"redis://127.0.0.1:6390\"\n username = \"gh\"\n password = env(\"GATEHOUSE_TEST_REDIS_PASSWORD\")",
			with(func(c *settings.Cluster) { c.Addr, c.Username, c.Password = "127.0.0.1:6390", "gh", "pw-from-env" }), ""},
		{"user in url", "redis = \"redis://gh@127.0.0.1:6390\"\n password = env(\"GATEHOUSE_TEST_REDIS_PASSWORD\")",
			with(func(c *settings.Cluster) { c.Addr, c.Username, c.Password = "127.0.0.1:6390", "gh", "pw-from-env" }), ""},
		{"tls with ca", "redis = \"rediss://127.0.0.1:6380\"\n ca_file = \"cert.pem\"",
			with(func(c *settings.Cluster) {
				c.Addr, c.TLS, c.CAFile = "127.0.0.1:6380", true, filepath.Join(dir, "cert.pem")
			}), ""},
		{"everything", "redis = \"redis://127.0.0.1:6390\"\n key_prefix = \"gh-prod.eu:\"\n dial_timeout = \"1s\"\n read_timeout = \"500ms\"\n write_timeout = \"2s\"",
			with(func(c *settings.Cluster) {
				c.Addr, c.KeyPrefix, c.DialTimeout, c.ReadTimeout, c.WriteTimeout = "127.0.0.1:6390", "gh-prod.eu:", time.Second, 500*time.Millisecond, 2*time.Second
			}), ""},
		{"rate limits closed", "redis = \"redis://127.0.0.1:6390\"\n rate_limits_on_error = \"closed\"",
			with(func(c *settings.Cluster) { c.Addr, c.RateLimitsOnError = "127.0.0.1:6390", settings.LimitsClosed }), ""},
		{"limits open and an encryption key", "redis = \"redis://127.0.0.1:6390\"\n limits_on_error = \"open\"\n encryption_key = env(\"GATEHOUSE_TEST_CLUSTER_KEY\")",
			with(func(c *settings.Cluster) {
				c.Addr, c.LimitsOnError, c.EncryptionKey = "127.0.0.1:6390", settings.LimitsOpen, strings.Repeat("k", 32)
			}), ""},
		{"sentinel without redis", "sentinel_master = \"gh\"\n sentinel_addrs = [\"127.0.0.1:26401\", \"127.0.0.1:26402\"]\n sentinel_password = env(\"GATEHOUSE_TEST_REDIS_PASSWORD\")",
			with(func(c *settings.Cluster) {
				c.SentinelMaster, c.SentinelAddrs, c.SentinelPassword = "gh", []string{"127.0.0.1:26401", "127.0.0.1:26402"}, "pw-from-env"
			}), ""},
		{"sentinel with scheme and db", "redis = \"rediss:///2\"\n sentinel_master = \"gh\"\n sentinel_addrs = [\"127.0.0.1:26401\"]",
			with(func(c *settings.Cluster) {
				c.TLS, c.DB, c.SentinelMaster, c.SentinelAddrs = true, 2, "gh", []string{"127.0.0.1:26401"}
			}), ""},
		{"remote without tls", `redis = "redis://10.0.0.5:6379"`, with(func(c *settings.Cluster) { c.Addr = "10.0.0.5:6379" }), summaryUnencryptedRedis},
		{"remote sentinel without tls", "sentinel_master = \"gh\"\n sentinel_addrs = [\"10.0.0.1:26379\"]",
			with(func(c *settings.Cluster) { c.SentinelMaster, c.SentinelAddrs = "gh", []string{"10.0.0.1:26379"} }), summaryUnencryptedRedis},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, _, diags := loadCluster(t, dir, "cluster {\n "+tc.block+"\n}\n")
			if diags.HasErrors() {
				t.Fatalf("got errors: %v", diags)
			}
			switch {
			case tc.warning == "" && len(diags) > 0:
				t.Errorf("got diagnostics %v, want none", diags)
			case tc.warning != "" && (len(diags) != 1 || diags[0].Summary != tc.warning):
				t.Errorf("got diagnostics %v, want one %q warning", diags, tc.warning)
			}
			got := rt.Cluster
			if got == nil {
				t.Fatal("Runtime.Cluster is nil")
			}
			if !strings.HasPrefix(got.Origin, "gatehouse.hcl:6,") {
				t.Errorf("Origin = %q", got.Origin)
			}
			if (got.RootCAs != nil) != (tc.want.CAFile != "") {
				t.Errorf("RootCAs = %v with CAFile %q", got.RootCAs, got.CAFile)
			}
			want := tc.want
			want.Origin, want.RootCAs = got.Origin, got.RootCAs
			if !got.Equal(&want) {
				t.Errorf("got  %+v\nwant %+v", *got, want)
			}
		})
	}
}

func TestCluster_NoBlock(t *testing.T) {
	rt, _, diags := loadCluster(t, t.TempDir(), "")
	if diags.HasErrors() || rt.Cluster != nil {
		t.Fatalf("Cluster = %v, diags %v; want nil without a block", rt.Cluster, diags)
	}
}

// Every mistake is reported at the attribute or element at fault, with a
// detail that says how to fix it.
func TestCluster_Mistakes(t *testing.T) {
	dir := tlsTestDir(t)
	t.Setenv("GATEHOUSE_TEST_REDIS_PASSWORD", "pw-from-env")
	for _, tc := range []struct {
		name, block    string
		summary, at    string // at: the text the Subject covers
		detailMentions string
	}{
		{"scheme", `redis = "http://127.0.0.1:6379"`, summaryInvalidURL, `"http://127.0.0.1:6379"`, "redis:// or rediss://"},
		{"unix socket", `redis = "unix:///run/redis.sock"`, summaryInvalidURL, `"unix:///run/redis.sock"`, "redis:// or rediss://"},
		{"no host", `redis = "redis://"`, summaryInvalidURL, `"redis://"`, "names no host"},
		{"bad db", `redis = "redis://127.0.0.1:6379/db1"`, summaryInvalidURL, `"redis://127.0.0.1:6379/db1"`, "database number"},
		{"bad port", `redis = "redis://127.0.0.1:99999"`, summaryInvalidURL, `"redis://127.0.0.1:99999"`, "1-65535"},
		{"query", `redis = "redis://127.0.0.1:6379?dial_timeout=1"`, summaryInvalidURL, `"redis://127.0.0.1:6379?dial_timeout=1"`, "dial_timeout"},
		// The snippet (Subject) is printed from redacted source.
		{"password in url", `redis = "redis://gh:hunter2@127.0.0.1:6379"`, summaryPasswordInURL, `"redis://**********@127.0.0.1:6379"`, `password = env(`},
		{"empty password in url", `redis = "redis://:@127.0.0.1:6379"`, summaryPasswordInURL, `"redis://*@127.0.0.1:6379"`, `password = env(`},
		{"missing redis", `key_prefix = "gh:"`, "Missing required argument", "cluster", "sentinel_master"},
		{"wrong type", `redis = ["redis://127.0.0.1"]`, summaryWrongType, `["redis://127.0.0.1"]`, "string"},
		{"ca without tls", "redis = \"redis://127.0.0.1:6379\"\n ca_file = \"cert.pem\"", summaryConflictingTLS, `ca_file = "cert.pem"`, "rediss://"},
		{"ca not pem", "redis = \"rediss://127.0.0.1:6379\"\n ca_file = \"notpem.txt\"", summaryUnreadableFile, `"notpem.txt"`, "no PEM certificate"},
		{"empty password", "redis = \"redis://127.0.0.1:6379\"\n password = \"\"", summaryEmptyValue, `""`, "must not be empty"},
		{"user without password", "redis = \"redis://127.0.0.1:6379\"\n username = \"gh\"", summaryMissingPassword, `username = "gh"`, "password = env("},
		{"user twice", "redis = \"redis://a@127.0.0.1:6379\"\n username = \"b\"\n password = \"x\"", summaryConflictingCredentials, `username = "b"`, "username"},
		{"prefix without colon", "redis = \"redis://127.0.0.1:6379\"\n key_prefix = \"gh\"", summaryInvalidKeyPrefix, `"gh"`, `end with ":"`},
		{"prefix charset", "redis = \"redis://127.0.0.1:6379\"\n key_prefix = \"{gh}:\"", summaryInvalidKeyPrefix, `"{gh}:"`, "only letters"},
		{"prefix long", "redis = \"redis://127.0.0.1:6379\"\n key_prefix = \"" + strings.Repeat("a", 64) + ":\"", summaryInvalidKeyPrefix, `"` + strings.Repeat("a", 64) + `:"`, "longer than 64"},
		{"timeout zero", "redis = \"redis://127.0.0.1:6379\"\n read_timeout = \"0s\"", summaryInvalidDuration, `"0s"`, "greater than zero"},
		{"timeout small", "redis = \"redis://127.0.0.1:6379\"\n dial_timeout = \"5ms\"", summaryInvalidDuration, `"5ms"`, "from 10ms to 1m0s"},
		{"timeout unit", "redis = \"redis://127.0.0.1:6379\"\n write_timeout = \"3\"", summaryInvalidDuration, `"3"`, "30s"},
		{"sentinel master only", "redis = \"redis://\"\n sentinel_master = \"gh\"", summaryInvalidSentinel, `sentinel_master = "gh"`, "sentinel_addrs is missing"},
		{"sentinel addrs only", "sentinel_addrs = [\"127.0.0.1:26379\"]", summaryInvalidSentinel, `sentinel_addrs = ["127.0.0.1:26379"]`, "sentinel_master is missing"},
		{"sentinel with host", "redis = \"redis://127.0.0.1:6379\"\n sentinel_master = \"gh\"\n sentinel_addrs = [\"127.0.0.1:26379\"]", summaryInvalidURL, `"redis://127.0.0.1:6379"`, "remove the host"},
		{"sentinel empty list", "sentinel_master = \"gh\"\n sentinel_addrs = []", summaryEmptyList, `[]`, "26379"},
		{"sentinel bad addr", "sentinel_master = \"gh\"\n sentinel_addrs = [\"127.0.0.1:26379\", \"sentinel-2\"]", summaryInvalidAddress, `"sentinel-2"`, "host:port"},
		{"sentinel dup addr", "sentinel_master = \"gh\"\n sentinel_addrs = [\"127.0.0.1:26379\", \"127.0.0.1:26379\"]", summaryDuplicateKeyInMap, `"127.0.0.1:26379"`, "twice"},
		{"sentinel master space", "sentinel_master = \"g h\"\n sentinel_addrs = [\"127.0.0.1:26379\"]", summaryInvalidSentinel, `"g h"`, "spaces"},
		{"sentinel password alone", "redis = \"redis://127.0.0.1:6379\"\n sentinel_password = \"x\"", summaryInvalidSentinel, `sentinel_password = "*"`, "needs sentinel_master"},
		{"sentinel ca without tls", "sentinel_master = \"gh\"\n sentinel_addrs = [\"127.0.0.1:26379\"]\n ca_file = \"cert.pem\"", summaryConflictingTLS, `ca_file = "cert.pem"`, "rediss://"},
		{"limits_on_error", "redis = \"redis://127.0.0.1:6379\"\n limits_on_error = \"fail-open\"", summaryInvalidLimitsOnError, `"fail-open"`, `"closed"`},
		{"rate_limits_on_error", "redis = \"redis://127.0.0.1:6379\"\n rate_limits_on_error = \"yes\"", summaryInvalidLimitsOnError, `"yes"`, `"open"`},
		{"short encryption key", "redis = \"redis://127.0.0.1:6379\"\n encryption_key = \"short\"", summaryWeakEncryptionKey, `"*****"`, "at least 32"},
		{"misspelt", "redis = \"redis://127.0.0.1:6379\"\n key_prefx = \"gh:\"", "Unsupported argument", "key_prefx", `Did you mean "key_prefix"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, files, diags := loadCluster(t, dir, "cluster {\n "+tc.block+"\n}\n")
			d := findDiag(t, diags, tc.summary)
			if d.Severity != hcl.DiagError {
				t.Errorf("severity %v, want error", d.Severity)
			}
			if got := subjectText(t, files, d); got != tc.at {
				t.Errorf("Subject covers %q, want %q", got, tc.at)
			}
			if !strings.Contains(d.Detail, tc.detailMentions) {
				t.Errorf("Detail %q does not mention %q", d.Detail, tc.detailMentions)
			}
			if strings.Contains(d.Detail, "hunter2") || strings.Contains(d.Detail, "pw-from-env") {
				t.Errorf("Detail echoes a password: %q", d.Detail)
			}
		})
	}
}

// Passwords never appear in diagnostics or in the source snippets they
// are printed with.
func TestCluster_SecretsNotPrinted(t *testing.T) {
	dir := t.TempDir()
	_, files, diags := loadCluster(t, dir, `cluster {
  redis             = "redis://gh:hunter2@127.0.0.1:6379"
  password          = "literal-secret"
  sentinel_password = "sentinel-secret"
  encryption_key    = "encryption-secret"
  dial_timeout      = "soon"
}
`)
	if !diags.HasErrors() {
		t.Fatal("want errors")
	}
	var b strings.Builder
	w := hcl.NewDiagnosticTextWriter(&b, files, 100, false)
	for _, d := range diags {
		_ = w.WriteDiagnostic(d)
	}
	out := b.String()
	for _, secret := range []string{"hunter2", "literal-secret", "sentinel-secret", "encryption-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("printed diagnostics contain %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, `"redis://**********@127.0.0.1:6379"`) {
		t.Errorf("the redis URL's user information is not blanked:\n%s", out)
	}
}

func TestCluster_Duplicate(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"a.hcl": "upstream \"api\" {\n  url    = \"http://127.0.0.1:9000\"\n  prefix = \"/\"\n}\ncluster {\n  redis = \"redis://127.0.0.1:6379\"\n}\n",
		"b.hcl": "cluster {\n  redis = \"redis://127.0.0.1:6380\"\n}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, _, _, diags := LoadSnapshot(dir)
	d := findDiag(t, diags, summaryDuplicateCluster)
	if d.Subject.Filename != filepath.Join(dir, "b.hcl") || !strings.Contains(d.Detail, "a.hcl:5,1") {
		t.Errorf("got %v, want b.hcl blamed and a.hcl:5,1 named", d)
	}
}

func TestClusterEqual(t *testing.T) {
	a := &settings.Cluster{Addr: "127.0.0.1:6379", SentinelAddrs: []string{"x:1"}, Origin: "a.hcl:1,1"}
	b := a.Clone()
	b.Origin = "b.hcl:2,1"
	if !a.Equal(b) || !(*settings.Cluster)(nil).Equal(nil) || a.Equal(nil) {
		t.Error("Equal: want equal ignoring Origin, nil only equal to nil")
	}
	b.SentinelAddrs[0] = "y:1"
	if a.Equal(b) || slices.Equal(a.SentinelAddrs, b.SentinelAddrs) {
		t.Error("Clone shares SentinelAddrs, or Equal ignores them")
	}
	c := a.Clone()
	c.Password = "other"
	if a.Equal(c) {
		t.Error("Equal ignores the password")
	}
}

func TestClusterString_NoSecrets(t *testing.T) {
	c := &settings.Cluster{Addr: "127.0.0.1:6379", Username: "gh", Password: "pw-secret", SentinelPassword: "sentinel-secret", KeyPrefix: "gh:"}
	rt := settings.Runtime{Cluster: c}
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", *c), fmt.Sprintf("%v", rt)} {
		if strings.Contains(s, "secret") || !strings.Contains(s, "password=set") {
			t.Errorf("printed settings: %s", s)
		}
	}
}
