package config

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// unsetVar is used by error fixtures and must not be set.
const unsetVar = "GATEHOUSE_TEST_SURELY_UNSET"

// setTestEnv sets the variables the fixtures read and makes sure unsetVar
// is not set.
func setTestEnv(t *testing.T) {
	t.Helper()
	sum := sha256.Sum256([]byte("portal-key"))
	t.Setenv("GATEHOUSE_TEST_PORTAL_SHA256", hex.EncodeToString(sum[:]))
	t.Setenv("GATEHOUSE_TEST_REGION", "eu")
	t.Setenv(unsetVar, "")
	os.Unsetenv(unsetVar) // t.Setenv restores the original value afterwards
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s (%v)", pattern, err)
	}
	return files
}

func TestLoad_Valid(t *testing.T) {
	setTestEnv(t)
	for _, name := range append(glob(t, "testdata/valid/*.hcl"), "testdata/valid-dir") {
		t.Run(filepath.Base(name), func(t *testing.T) {
			snap, _, files, diags := LoadSnapshot(name)
			for _, d := range diags {
				t.Errorf("unexpected diagnostic: %s", d)
			}
			if snap == nil {
				t.Fatal("got nil snapshot, want one")
			}
			if len(files) == 0 {
				t.Error("got no files, want the parsed files")
			}
		})
	}
}

// expectedErrors reads the "# ERROR: A; B" comments of the given files into
// a map from "file:line" to sorted summaries.
func expectedErrors(t *testing.T, files ...string) map[string][]string {
	t.Helper()
	want := make(map[string][]string)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(src))
		for line := 1; sc.Scan(); line++ {
			_, marker, ok := strings.Cut(sc.Text(), "# ERROR: ")
			if !ok {
				continue
			}
			key := fmt.Sprintf("%s:%d", f, line)
			for s := range strings.SplitSeq(marker, ";") {
				want[key] = append(want[key], strings.TrimSpace(s))
			}
			slices.Sort(want[key])
		}
	}
	return want
}

// gotErrors maps the error diagnostics to "file:line" of their Subject.
func gotErrors(diags hcl.Diagnostics) map[string][]string {
	got := make(map[string][]string)
	for _, d := range diags {
		key := "(no subject)"
		if d.Subject != nil {
			key = fmt.Sprintf("%s:%d", d.Subject.Filename, d.Subject.Start.Line)
		}
		if d.Severity != hcl.DiagError {
			key += " (warning)"
		}
		got[key] = append(got[key], d.Summary)
		slices.Sort(got[key])
	}
	return got
}

// diffErrors describes how got differs from want, or returns "".
func diffErrors(got, want map[string][]string, diags hcl.Diagnostics) string {
	var b strings.Builder
	keys := slices.Sorted(func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, m := range []map[string][]string{got, want} {
			for k := range m {
				if !seen[k] && !yield(k) {
					return
				}
				seen[k] = true
			}
		}
	})
	for _, k := range keys {
		if !slices.Equal(got[k], want[k]) {
			fmt.Fprintf(&b, "  %s: got %q, want %q\n", k, got[k], want[k])
		}
	}
	if b.Len() > 0 {
		b.WriteString("all diagnostics:\n")
		for _, d := range diags {
			fmt.Fprintf(&b, "  %s\n", d)
		}
	}
	return b.String()
}

func TestLoad_Errors(t *testing.T) {
	setTestEnv(t)
	cases := map[string][]string{"errors-dir": glob(t, "testdata/errors-dir/*.hcl")}
	for _, f := range glob(t, "testdata/errors/*.hcl") {
		cases[filepath.Base(f)] = []string{f}
	}
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			path := files[0]
			if name == "errors-dir" {
				path = filepath.Dir(files[0])
			}
			snap, _, _, diags := LoadSnapshot(path)
			if snap != nil {
				t.Error("got a snapshot, want nil")
			}
			if !diags.HasErrors() {
				t.Fatal("got no errors")
			}
			want := expectedErrors(t, files...)
			if diff := diffErrors(gotErrors(diags), want, diags); diff != "" {
				t.Errorf("diagnostics differ from # ERROR comments:\n%s", diff)
			}
		})
	}
}

const fiveMistakes = `
server {
  production = "yes"
}

upstream "hr" {
  url    = "ftp://127.0.0.1"
  prefix = "/hr"
  colour = "blue"
}

role "reader" {
  allow "payroll" {
    paths = ["/x"]
    verbs = ["FETCH"]
  }
}
`

func TestLoad_FiveMistakes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "five.hcl")
	if err := os.WriteFile(path, []byte(fiveMistakes), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, _, _, diags := LoadSnapshot(path)
	if snap != nil {
		t.Error("got a snapshot, want nil")
	}
	errs := diags.Errs()
	if len(errs) != 5 || len(diags) != 5 {
		t.Fatalf("got %d diagnostics (%d errors), want 5 errors:\n%s", len(diags), len(errs), diags.Error())
	}
	wantLines := map[int]string{
		3: summaryWrongType, 7: summaryInvalidURL, 9: "Unsupported argument",
		13: summaryUnknownUpstream, 15: summaryUnknownVerb,
	}
	for _, d := range diags {
		if d.Subject == nil || d.Subject.Start.Line <= 0 {
			t.Errorf("%q has no usable Subject: %v", d.Summary, d.Subject)
			continue
		}
		if want := wantLines[d.Subject.Start.Line]; d.Summary != want {
			t.Errorf("line %d: got %q, want %q", d.Subject.Start.Line, d.Summary, want)
		}
		if d.Detail == "" {
			t.Errorf("%q has no Detail", d.Summary)
		}
	}
}

// subjectText returns the source text a diagnostic's Subject covers.
func subjectText(t *testing.T, files map[string]*hcl.File, d *hcl.Diagnostic) string {
	t.Helper()
	f := files[d.Subject.Filename]
	if f == nil {
		t.Fatalf("no file %q for %s", d.Subject.Filename, d)
	}
	return string(d.Subject.SliceBytes(f.Bytes))
}

func findDiag(t *testing.T, diags hcl.Diagnostics, summary string) *hcl.Diagnostic {
	t.Helper()
	for _, d := range diags {
		if d.Summary == summary {
			return d
		}
	}
	t.Fatalf("no %q diagnostic in:\n%s", summary, diags.Error())
	return nil
}

func TestLoad_SubjectIsNarrowest(t *testing.T) {
	setTestEnv(t)
	_, _, files, diags := LoadSnapshot("testdata/errors/values.hcl")
	_, _, rfiles, rdiags := LoadSnapshot("testdata/errors/references.hcl")
	_, _, efiles, ediags := LoadSnapshot("testdata/errors/env_unset.hcl")
	tests := []struct {
		name    string
		files   map[string]*hcl.File
		diags   hcl.Diagnostics
		summary string
		want    string
	}{
		{"glob element", files, diags, summaryInvalidGlob, `"employees/*"`},
		{"cidr element", files, diags, summaryInvalidCIDR, `"10.0.0.1/8"`},
		{"bad name label", files, diags, summaryInvalidName, `"bad name"`},
		{"url expression", files, diags, summaryInvalidURL, `"ftp://files.internal"`},
		{"upstream label", rfiles, rdiags, summaryUnknownUpstream, `"h"`},
		{"role expression", rfiles, rdiags, summaryUnknownRole, `"gest"`},
		{"env call", efiles, ediags, summaryUnsetEnv, `env("` + unsetVar + `")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := findDiag(t, tt.diags, tt.summary)
			if got := subjectText(t, tt.files, d); got != tt.want {
				t.Errorf("Subject covers %q, want %q", got, tt.want)
			}
			if d.Context == nil {
				t.Error("Context is nil, want the enclosing attribute or block")
			}
		})
	}
}

func TestLoad_DetailsGiveValueAndFix(t *testing.T) {
	setTestEnv(t)
	_, _, _, diags := LoadSnapshot("testdata/errors/references.hcl")
	d := findDiag(t, diags, summaryUnknownRole)
	for _, want := range []string{`"gest"`, `Did you mean "guest"?`} {
		if !strings.Contains(d.Detail, want) {
			t.Errorf("Detail %q does not contain %q", d.Detail, want)
		}
	}
	_, _, _, diags = LoadSnapshot("testdata/errors/values.hcl")
	d = findDiag(t, diags, summaryInvalidKeyHash)
	if !strings.Contains(d.Detail, "gatehouse keygen") {
		t.Errorf("Detail %q does not mention gatehouse keygen", d.Detail)
	}
	for _, d := range diags {
		if d.Summary == summaryUnknownVerb && strings.Contains(d.Detail, `"get"`) && !strings.Contains(d.Detail, `write "GET"`) {
			t.Errorf("lower-case verb Detail %q does not suggest GET", d.Detail)
		}
	}
}

func TestLoad_DuplicateDetailNamesFirst(t *testing.T) {
	_, _, _, diags := LoadSnapshot("testdata/errors-dir")
	first := filepath.Join("testdata", "errors-dir", "a.hcl")
	for _, tt := range []struct{ summary, at string }{
		{summaryDuplicateUpstream, first + ":1,10"},
		{summaryDuplicateApp, first + ":6,5"},
		{summaryDuplicateRole, first + ":10,6"},
		{summaryDuplicateServer, filepath.Join("testdata", "errors-dir", "b.hcl") + ":13,1"},
	} {
		d := findDiag(t, diags, tt.summary)
		if want := "first declared at " + tt.at; !strings.Contains(d.Detail, want) {
			t.Errorf("%s: Detail %q does not contain %q", tt.summary, d.Detail, want)
		}
	}
}

// TestLoad_SecretsNotEchoed checks that values from env() and file() never
// appear in diagnostics, even when they are wrong.
func TestLoad_SecretsNotEchoed(t *testing.T) {
	const secret = "s3cr3t-value-do-not-print"
	t.Setenv("GATEHOUSE_TEST_SECRET", secret)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `
upstream "hr" {
  url     = env("GATEHOUSE_TEST_SECRET")
  prefix  = "/${file("secret.txt")}/"
  timeout = env("GATEHOUSE_TEST_SECRET")
}
app "portal" {
  api_key_sha256 = "` + secret + `"
  default_role   = env("GATEHOUSE_TEST_SECRET")
}
role "r" {
  allow "hr" {
    paths = [env("GATEHOUSE_TEST_SECRET")]
    verbs = [file("secret.txt")]
  }
}
server {
  trusted_proxies = [env("GATEHOUSE_TEST_SECRET")]
  listen          = env("GATEHOUSE_TEST_SECRET")
}
lookups {
  x = [env("GATEHOUSE_TEST_SECRET")]
}
`
	path := filepath.Join(dir, "secret.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, _, diags := LoadSnapshot(path)
	if len(diags) < 9 {
		t.Fatalf("got %d diagnostics, want at least 9:\n%s", len(diags), diags.Error())
	}
	for _, d := range diags {
		if strings.Contains(d.Summary+d.Detail, secret) {
			t.Errorf("diagnostic echoes the secret: %s", d)
		}
	}
}

func TestLoad_FullExample(t *testing.T) {
	setTestEnv(t)
	snap, rt, _, diags := LoadSnapshot("testdata/valid/full.hcl")
	if diags.HasErrors() || snap == nil {
		t.Fatalf("got errors: %s", diags.Error())
	}
	srv, ls := snap.Server(), rt.Listeners
	if ls.Listen != "0.0.0.0:8081" || ls.AdminListen != "127.0.0.1:9902" || srv.Production ||
		srv.MaxBodyBytes != 1048576 || ls.MaxHeaderBytes != 32768 || srv.IdentityHeaders ||
		ls.ReadHeaderTimeout.String() != "5s" || ls.ReadTimeout.String() != "30s" ||
		ls.WriteTimeout.String() != "1m0s" || ls.IdleTimeout.String() != "1m30s" ||
		ls.ShutdownTimeout.String() != "10s" {
		t.Errorf("server settings not as configured: %+v %+v", srv, ls)
	}
	if got := fmt.Sprint(srv.TrustedProxies); got != "[10.0.0.0/8 192.0.2.7/32 2001:db8::/32]" {
		t.Errorf("got trusted proxies %s", got)
	}
	for k, want := range map[string]any{"company": "example", "region": "eu", "max": int64(3), "ratio": 0.5, "strict": true} {
		if got, ok := snap.Lookup(k); !ok || got != want {
			t.Errorf("lookup %q: got %#v, want %#v", k, got, want)
		}
	}
	hr, ok := snap.Upstream("hr")
	if !ok || hr.URL().String() != "http://127.0.0.1:9002/api" || hr.Prefix() != "/hr" ||
		hr.Timeout().String() != "15s" || !hr.Active() || hr.Public() || hr.Origin() != "full.hcl:26,1" {
		t.Errorf("upstream hr not as configured: %+v", hr)
	}
	if st, _ := snap.Upstream("status"); st == nil || !st.Public() || st.Timeout().String() != "30s" {
		t.Errorf("upstream status: got %+v, want public with default timeout", st)
	}
	if lg, _ := snap.Upstream("legacy"); lg == nil || lg.Active() {
		t.Errorf("upstream legacy: got %+v, want inactive", lg)
	}
	portal, ok := snap.AppByKey("portal-key")
	if !ok || portal.Name() != "portal" || portal.DefaultRole() != "hr_reader" || !portal.Active() {
		t.Errorf("app for portal-key: got %+v", portal)
	}
	if v, _ := portal.Lookup("max_level"); v != int64(3) {
		t.Errorf("portal lookup max_level: got %#v, want int64(3)", v)
	}
	batch, ok := snap.AppByKey("test")
	if !ok || batch.Name() != "batch" || batch.Active() || batch.DefaultRole() != "" {
		t.Errorf("app for key test: got %+v", batch)
	}
	if r, ok := snap.Role("admin_tools"); !ok || r.Active() {
		t.Errorf("role admin_tools: got %+v, want inactive", r)
	}
}

func TestLoad_Defaults(t *testing.T) {
	snap, rt, _, diags := LoadSnapshot("testdata/valid/minimal.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	got, ls := snap.Server(), rt.Listeners
	want := defaultServer()
	if ls.Listen != ":8080" || ls.AdminListen != "127.0.0.1:9901" || !got.Production ||
		got.MaxBodyBytes != 10485760 || got.BodyBufferBytes != 65536 || ls.MaxHeaderBytes != 65536 || !got.IdentityHeaders ||
		ls.ReadHeaderTimeout != want.ReadHeaderTimeout || ls.ReadTimeout.String() != "1m0s" ||
		ls.WriteTimeout != 0 || ls.IdleTimeout.String() != "2m0s" || ls.ShutdownTimeout.String() != "30s" ||
		len(got.TrustedProxies) != 0 {
		t.Errorf("got %+v %+v, want the documented defaults", got, ls)
	}
	u, _ := snap.Upstream("api")
	if u == nil || !u.Active() || u.Public() || u.Timeout().String() != "30s" {
		t.Errorf("upstream defaults: got %+v", u)
	}
}

// TestLoad_BodyBufferBytesZero: 0 is a valid body_buffer_bytes (stream
// every body); negative values are refused (testdata/errors/values.hcl).
func TestLoad_BodyBufferBytesZero(t *testing.T) {
	snap, _, _, diags := LoadSnapshot("testdata/valid/body_buffer.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got := snap.BodyBufferBytes(); got != 0 {
		t.Errorf("got body_buffer_bytes %d, want 0", got)
	}
}

func TestLoad_Dir(t *testing.T) {
	snap, _, files, diags := LoadSnapshot("testdata/valid-dir")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if len(files) != 2 {
		t.Errorf("got %d files, want 2 (dot files and non-.hcl files ignored): %v", len(files), slices.Collect(func(y func(string) bool) {
			for k := range files {
				y(k)
			}
		}))
	}
	for _, k := range []string{"company", "region"} {
		if _, ok := snap.Lookup(k); !ok {
			t.Errorf("lookup %q from one of the files is missing", k)
		}
	}
	a, ok := snap.AppByKey("test")
	if !ok || a.DefaultRole() != "reader" {
		t.Errorf("app declared in 20-access.hcl: got %+v", a)
	}
	if u, _ := snap.Upstream("hr"); u == nil || u.Origin() != "10-server.hcl:9,1" {
		t.Errorf("upstream hr origin: got %+v", u)
	}
}

func TestLoad_DirWithoutFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".hidden.hcl"), []byte(""), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte(""), 0o600)
	c, diags := Load(dir)
	if c == nil || c.Files() == nil {
		t.Fatal("got nil Config or files map, want them even on failure")
	}
	if d := findDiag(t, diags, summaryNoFiles); d.Severity != hcl.DiagError {
		t.Errorf("got severity %v, want error", d.Severity)
	}
	if snap, _, d := c.Compile(); snap != nil || !d.HasErrors() {
		t.Errorf("Compile after a failed Load: got %v, %v; want nil and errors", snap, d)
	}
}

func TestLoad_MissingPath(t *testing.T) {
	snap, _, files, diags := LoadSnapshot(filepath.Join(t.TempDir(), "nope.hcl"))
	if snap != nil || files == nil {
		t.Errorf("got snapshot %v, files %v; want nil snapshot and a files map", snap, files)
	}
	findDiag(t, diags, summaryCannotRead)
}

func TestCompile_RefusesAfterLoadErrors(t *testing.T) {
	c, diags := Load("testdata/errors/wrong_type.hcl")
	if !diags.HasErrors() {
		t.Fatal("want load errors")
	}
	snap, _, cdiags := c.Compile()
	if snap != nil || !cdiags.HasErrors() {
		t.Fatalf("got %v, %v; want nil snapshot and errors", snap, cdiags)
	}
}

func TestCompile_SeparateFromLoad(t *testing.T) {
	c, diags := Load("testdata/errors/references.hcl")
	if diags.HasErrors() {
		t.Fatalf("references are checked by Compile, not Load; got %s", diags.Error())
	}
	snap, _, cdiags := c.Compile()
	if snap != nil || len(cdiags.Errs()) != 3 {
		t.Fatalf("got %v and %d errors, want nil and 3:\n%s", snap, len(cdiags.Errs()), cdiags.Error())
	}
	c, _ = Load("testdata/valid/minimal.hcl")
	if snap, _, d := c.Compile(); snap == nil || len(d) != 0 {
		t.Fatalf("got %v, %s; want a snapshot", snap, d.Error())
	}
}

func TestLoad_Hash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.hcl")
	src := []byte("lookups {\n  x = 1\n}\n")
	os.WriteFile(path, src, 0o600)
	snap, _, _, diags := LoadSnapshot(path)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	sum := sha256.Sum256(append([]byte("a.hcl\x0020\x00"), src...))
	if want := hex.EncodeToString(sum[:]); snap.Hash() != want {
		t.Errorf("got hash %s, want %s", snap.Hash(), want)
	}
	os.WriteFile(path, []byte("lookups {\n  x = 2\n}\n"), 0o600)
	snap2, _, _, _ := LoadSnapshot(path)
	if snap2.Hash() == snap.Hash() {
		t.Error("hash did not change with the content")
	}
}

// TestLoad_TextWriter checks that cmd can print diagnostics with snippets
// from the returned files.
func TestLoad_TextWriter(t *testing.T) {
	setTestEnv(t)
	_, _, files, diags := LoadSnapshot("testdata/errors/references.hcl")
	var b strings.Builder
	w := hcl.NewDiagnosticTextWriter(&b, files, 100, false)
	if err := w.WriteDiagnostics(diags); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"Error: Unknown role", "references.hcl line 8", `default_role   = "gest"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
}

func TestLoad_ClientHeaders(t *testing.T) {
	snap, _, _, diags := LoadSnapshot("testdata/valid/client_headers.hcl")
	if diags.HasErrors() || snap == nil {
		t.Fatalf("got errors: %s", diags.Error())
	}
	srv := snap.Server()
	if got := fmt.Sprint(srv.StripHeaders, srv.KeepHeaders); got != "[X-Tenant-Admin X-Corp-*] [X-Forwarded-Prefix x_user_agent]" {
		t.Errorf("strip_headers, keep_headers = %s", got)
	}
	ch := snap.ClientHeaders()
	for k, want := range map[string]bool{"x_corp_role": true, "X-Tenant-Admin": true, "X-Forwarded-Prefix": false, "X-User-Agent": false, "X-User-Id": true, "X-Corporate": false} {
		if got := ch.Strip(k, false); got != want {
			t.Errorf("Strip(%q) = %v, want %v", k, got, want)
		}
	}
}
