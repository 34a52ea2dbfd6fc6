package reload

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/settings"
)

type target struct{ snap *policy.Snapshot }

func (t *target) Load(s *policy.Snapshot, _ *settings.Runtime) { t.snap = s }
func (t *target) Snapshot() *policy.Snapshot                   { return t.snap }

type diagnosed []string

func (d diagnosed) Error() string                { return "rejected" }
func (d diagnosed) Diagnostics() ([]string, int) { return d, len(d) }

func snapshot(t *testing.T, hash string) *policy.Snapshot {
	t.Helper()
	s, err := policy.New(policy.Spec{Hash: hash})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A rejected configuration changes nothing and is recorded; one of the
// same hash is not put in service again; a new one is, with the settings
// that need a restart. After runs after every attempt.
func TestReloader_Outcomes(t *testing.T) {
	into := &target{snap: snapshot(t, "one")}
	var logs bytes.Buffer
	var next *policy.Snapshot
	var loadErr error
	var after []string
	rl := New(into, Options{
		Load:         func() (*policy.Snapshot, *settings.Runtime, error) { return next, &settings.Runtime{}, loadErr },
		Logger:       slog.New(slog.NewJSONHandler(&logs, nil)),
		NeedsRestart: func(*settings.Runtime) []string { return []string{"listen"} },
		After:        func(trigger string) { after = append(after, trigger) },
	})
	status := func() (st Status) {
		rl.View(func(s Status) { st = s })
		return st
	}

	loadErr = diagnosed{"a.hcl:1:1: broken", "a.hcl:2:1: also broken"}
	res, err := rl.Reload(context.Background(), "sighup")
	if err == nil || res.Changed || res.ConfigHash != "one" || len(res.Diagnostics) != 2 {
		t.Fatalf("rejected: %+v %v", res, err)
	}
	if st := status(); st.Failed != 1 || st.OK != 0 || st.LastTrigger != "sighup" || len(st.LastError) != 2 || st.LastErrorAt.IsZero() {
		t.Errorf("after a rejection: %+v", st)
	}
	loadErr = errors.New("no diagnostics")
	if _, err := rl.Reload(context.Background(), "file"); err == nil {
		t.Fatal("rejected without diagnostics: no error")
	}
	if st := status(); st.Failed != 2 || !slices.Equal(st.LastError, []string{"no diagnostics"}) {
		t.Errorf("after a rejection without diagnostics: %+v", st)
	}

	loadErr, next = nil, snapshot(t, "one")
	if res, err := rl.Reload(context.Background(), "file"); err != nil || res.Changed || res.ConfigHash != "one" {
		t.Fatalf("unchanged: %+v %v", res, err)
	}
	if st := status(); st.OK != 0 || st.LastTrigger != "file" {
		t.Errorf("an unchanged config was recorded: %+v", st)
	}
	// The files were fixed back to the config in service: its last error
	// is cleared, with one log line that says so.
	if st := status(); st.LastError != nil || !st.LastErrorAt.IsZero() {
		t.Errorf("unchanged after a rejection keeps the old error: %+v", st)
	}
	if n := strings.Count(logs.String(), "the last reload error is cleared"); n != 1 {
		t.Errorf("%d log lines say the error is cleared, want 1:\n%s", n, logs.String())
	}
	logs.Reset()
	if _, err := rl.Reload(context.Background(), "file"); err != nil {
		t.Fatal(err)
	}
	if got := logs.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, `"msg":"config unchanged"`) {
		t.Errorf("an unchanged reload logs %q, want one config unchanged line", got)
	}

	next = snapshot(t, "two")
	res, err = rl.Reload(context.Background(), "admin")
	if err != nil || !res.Changed || res.ConfigHash != "two" || !slices.Equal(res.NeedsRestart, []string{"listen"}) {
		t.Fatalf("changed: %+v %v", res, err)
	}
	if into.snap != next {
		t.Error("the new snapshot is not in service")
	}
	if st := status(); st.OK != 1 || st.Failed != 2 || st.LastError != nil || !st.LastErrorAt.IsZero() || st.LastTrigger != "admin" || !slices.Equal(st.NeedsRestart, []string{"listen"}) {
		t.Errorf("after a reload: %+v", st)
	}
	if want := []string{"sighup", "file", "file", "file", "admin"}; !slices.Equal(after, want) {
		t.Errorf("After ran for %v, want %v", after, want)
	}
}
