package watch

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

const (
	// testDebounce is short to keep the tests fast.
	testDebounce = 50 * time.Millisecond
	// countDebounce is used where a test asserts exactly one notification: it
	// leaves a wide margin against a stalled test machine splitting a burst.
	countDebounce = 250 * time.Millisecond
	// waitTimeout bounds every wait for an expected notification.
	waitTimeout = 5 * time.Second
)

// syncBuffer is a bytes.Buffer safe for the watcher's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testWatcher wraps a Watcher with its log and test helpers.
type testWatcher struct {
	*Watcher
	t        *testing.T
	log      *syncBuffer
	debounce time.Duration
}

// start watches path with the given debounce and closes the watcher when the
// test ends. On failure the watcher's debug log is printed.
func start(t *testing.T, path string, debounce time.Duration) *testWatcher {
	t.Helper()
	return startWith(t, path, debounce, nil)
}

func startWith(t *testing.T, path string, debounce time.Duration, onFire func()) *testWatcher {
	t.Helper()
	buf := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := newWatcher(path, Options{Debounce: debounce, Logger: logger}, onFire)
	if err != nil {
		t.Fatalf("New(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("watcher log:\n%s", buf.String())
		}
	})
	return &testWatcher{Watcher: w, t: t, log: buf, debounce: debounce}
}

// notified waits, at most waitTimeout, for a notification.
func (tw *testWatcher) notified(what string) {
	tw.t.Helper()
	select {
	case _, ok := <-tw.Changes():
		if !ok {
			tw.t.Fatalf("%s: Changes closed", what)
		}
	case <-time.After(waitTimeout):
		tw.t.Fatalf("%s: no notification within %v", what, waitTimeout)
	}
}

// quiet asserts that no notification arrives within three debounce periods.
func (tw *testWatcher) quiet(what string) {
	tw.t.Helper()
	select {
	case <-tw.Changes():
		tw.t.Fatalf("%s: unexpected notification", what)
	case <-time.After(3 * tw.debounce):
	}
}

// exactlyOne asserts one notification followed by three quiet debounce
// periods.
func (tw *testWatcher) exactlyOne(what string) {
	tw.t.Helper()
	tw.notified(what)
	tw.quiet(what + " (second notification)")
}

// settle waits for a notification, then drains further ones until the
// watcher has been quiet for three debounce periods. It is used where extra
// notifications are harmless and the test only needs a clean slate.
func (tw *testWatcher) settle(what string) {
	tw.t.Helper()
	tw.notified(what)
	for {
		select {
		case <-tw.Changes():
		case <-time.After(3 * tw.debounce):
			return
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// modes runs f once with the watcher on the file dir/gatehouse.hcl and once
// on the directory dir.
func modes(t *testing.T, f func(t *testing.T, dir, file, watched string)) {
	for _, mode := range []string{"file", "dir"} {
		t.Run(mode, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cfg")
			mkdir(t, dir)
			file := filepath.Join(dir, "gatehouse.hcl")
			write(t, file, "v1\n")
			write(t, filepath.Join(dir, "other.hcl"), "other\n")
			watched := file
			if mode == "dir" {
				watched = dir
			}
			f(t, dir, file, watched)
		})
	}
}

// Pattern 1: in-place writes to the same inode, whole and split.
func TestInPlaceWrite(t *testing.T) {
	modes(t, func(t *testing.T, dir, file, watched string) {
		w := start(t, watched, testDebounce)

		write(t, file, "v2\n") // O_TRUNC on the same inode
		w.exactlyOne("os.WriteFile")

		f, err := os.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range []string{"server {", "\n  listen = \":8080\"", "\n}\n"} {
			if _, err := f.WriteString(part); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		w.exactlyOne("write split into several writes")

		f, err = os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("# appended\n"); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		w.exactlyOne("append")
	})
}

// Pattern 2: editors that save by writing another file and renaming it.
func TestRenameOnSave(t *testing.T) {
	editors := []struct {
		name string
		save func(t *testing.T, dir, file, content string)
	}{
		{"vim rename over", func(t *testing.T, dir, file, content string) {
			swp := filepath.Join(dir, ".gatehouse.hcl.swp")
			write(t, swp, "swap")
			probe := filepath.Join(dir, "4913")
			write(t, probe, "")
			remove(t, probe)
			tmp := filepath.Join(dir, "gatehouse.hcl.new~")
			write(t, tmp, content)
			rename(t, tmp, file)
			remove(t, swp)
		}},
		{"vim backup rename", func(t *testing.T, dir, file, content string) {
			// vim's default on Linux: move the original to the backup name,
			// write a new file, delete the backup.
			swp := filepath.Join(dir, ".gatehouse.hcl.swp")
			write(t, swp, "swap")
			probe := filepath.Join(dir, "4913")
			write(t, probe, "")
			remove(t, probe)
			backup := file + "~"
			rename(t, file, backup)
			write(t, file, content)
			remove(t, backup)
			remove(t, swp)
		}},
		{"sed -i", func(t *testing.T, dir, file, content string) {
			tmp, err := os.CreateTemp(dir, "sed")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tmp.WriteString(content); err != nil {
				t.Fatal(err)
			}
			if err := tmp.Close(); err != nil {
				t.Fatal(err)
			}
			rename(t, tmp.Name(), file)
		}},
	}
	for _, ed := range editors {
		t.Run(ed.name, func(t *testing.T) {
			modes(t, func(t *testing.T, dir, file, watched string) {
				w := start(t, watched, testDebounce)
				for i := range 3 {
					ed.save(t, dir, file, fmt.Sprintf("v%d\n", i+2))
					w.exactlyOne(fmt.Sprintf("save %d", i+1))
				}
				write(t, file, "in place\n")
				w.exactlyOne("in-place write after the saves")
			})
		})
	}
}

// Pattern 3: git checkout replaces several files at once: one notification.
func TestGitCheckoutIsOneNotification(t *testing.T) {
	dir := t.TempDir()
	names := []string{"a.hcl", "b.hcl", "c.hcl", "d.hcl", "e.hcl"}
	for _, n := range names {
		write(t, filepath.Join(dir, n), "old "+n)
	}
	w := start(t, dir, countDebounce)

	for _, n := range names {
		p := filepath.Join(dir, n)
		remove(t, p) // git unlinks and creates rather than writing in place
		write(t, p, "new "+n)
	}
	remove(t, filepath.Join(dir, "e.hcl"))
	write(t, filepath.Join(dir, "f.hcl"), "new file")
	w.exactlyOne("checkout")
}

// k8sUpdate imitates the kubelet's atomic writer: a new timestamped
// directory, a ..data_tmp symlink renamed over ..data, removal of the old
// directory. It returns the new directory's name.
func k8sUpdate(t *testing.T, dir, old string, version int, files map[string]string) string {
	t.Helper()
	ts := fmt.Sprintf("..2026_11_23_10_00_%02d.%d", version, 1000+version)
	mkdir(t, filepath.Join(dir, ts))
	for n, c := range files {
		write(t, filepath.Join(dir, ts, n), c)
	}
	symlink(t, ts, filepath.Join(dir, "..data_tmp"))
	rename(t, filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data"))
	for n := range files {
		if _, err := os.Lstat(filepath.Join(dir, n)); errors.Is(err, fs.ErrNotExist) {
			symlink(t, filepath.Join("..data", n), filepath.Join(dir, n))
		}
	}
	if old != "" {
		remove(t, filepath.Join(dir, old))
	}
	return ts
}

// Pattern 4: a Kubernetes ConfigMap volume, watched as a directory and as
// the symlinked file.
func TestKubernetesConfigMap(t *testing.T) {
	for _, mode := range []string{"file", "dir"} {
		t.Run(mode, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "config")
			mkdir(t, dir)
			ts := k8sUpdate(t, dir, "", 1, map[string]string{"gatehouse.hcl": "v1\n", "routes.hcl": "r1\n"})
			file := filepath.Join(dir, "gatehouse.hcl")
			watched := file
			if mode == "dir" {
				watched = dir
			}
			w := start(t, watched, testDebounce)

			for v := 2; v <= 4; v++ {
				want := fmt.Sprintf("v%d\n", v)
				ts = k8sUpdate(t, dir, ts, v, map[string]string{"gatehouse.hcl": want, "routes.hcl": "r1\n"})
				w.settle(fmt.Sprintf("update %d", v))
				got, err := os.ReadFile(file)
				if err != nil || string(got) != want {
					t.Fatalf("after update %d read %q, %v", v, got, err)
				}
			}

			if mode == "dir" {
				// A key added to the ConfigMap appears as a new symlink.
				k8sUpdate(t, dir, ts, 5, map[string]string{"gatehouse.hcl": "v5\n", "routes.hcl": "r1\n", "extra.hcl": "x\n"})
				w.settle("update adding a key")
			}
		})
	}
}

// Pattern 5: a file added to or removed from a watched directory; names
// config.Load ignores do not notify.
func TestDirectoryAddRemove(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.hcl"), "a")
	w := start(t, dir, testDebounce)

	write(t, filepath.Join(dir, "b.hcl"), "b")
	w.exactlyOne("file added")
	remove(t, filepath.Join(dir, "a.hcl"))
	w.exactlyOne("file removed")
	rename(t, filepath.Join(dir, "b.hcl"), filepath.Join(dir, "c.hcl"))
	w.exactlyOne("file renamed")

	write(t, filepath.Join(dir, "notes.txt"), "x")
	write(t, filepath.Join(dir, ".hidden.hcl"), "x")
	write(t, filepath.Join(dir, ".c.hcl.swp"), "x")
	write(t, filepath.Join(dir, "c.hcl~"), "x")
	write(t, filepath.Join(dir, "4913"), "x")
	mkdir(t, filepath.Join(dir, "sub"))
	write(t, filepath.Join(dir, "sub", "nested.hcl"), "x")
	w.quiet("files config.Load ignores")

	write(t, filepath.Join(dir, "c.hcl"), "c2")
	w.exactlyOne("write after ignored files")
}

// Pattern 6: watching a file ignores other files in its directory.
func TestFileIgnoresSiblings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gatehouse.hcl")
	write(t, file, "v1")
	write(t, filepath.Join(dir, "other.hcl"), "o1")
	w := start(t, file, testDebounce)

	write(t, filepath.Join(dir, "other.hcl"), "o2")
	write(t, filepath.Join(dir, "new.hcl"), "n")
	remove(t, filepath.Join(dir, "new.hcl"))
	write(t, filepath.Join(dir, ".gatehouse.hcl.swp"), "swap")
	write(t, filepath.Join(dir, "4913"), "")
	write(t, filepath.Join(dir, "gatehouse.hcl.bak"), "bak")
	w.quiet("sibling writes")

	write(t, file, "v2")
	w.exactlyOne("the file itself")
}

// Changing only the permissions does not notify.
func TestChmodIgnored(t *testing.T) {
	modes(t, func(t *testing.T, dir, file, watched string) {
		w := start(t, watched, testDebounce)
		if err := os.Chmod(file, 0o600); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if err := os.Chtimes(file, now, now); err != nil { // touch
			t.Fatal(err)
		}
		w.quiet("chmod and touch")
	})
}

// Pattern 7: the file deleted and re-created, then written again.
func TestDeleteAndRecreate(t *testing.T) {
	modes(t, func(t *testing.T, dir, file, watched string) {
		w := start(t, watched, testDebounce)

		remove(t, file)
		w.exactlyOne("delete")
		write(t, file, "v2")
		w.exactlyOne("re-create")
		write(t, file, "v3")
		w.exactlyOne("write after re-create")

		remove(t, file)
		write(t, file, "v4") // delete and re-create in one burst
		w.exactlyOne("delete and re-create at once")
		write(t, file, "v5")
		w.exactlyOne("write after the second re-create")
	})
}

// Pattern 8: a burst of writes closer together than the debounce period
// notifies exactly once, a full quiet period after the last write.
func TestDebounce(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gatehouse.hcl")
	write(t, file, "v0")
	w := start(t, file, countDebounce)

	var last time.Time
	for i := range 20 {
		if i > 0 {
			time.Sleep(5 * time.Millisecond) // part of the scenario: 20 writes in ~100ms
		}
		last = time.Now()
		write(t, file, fmt.Sprintf("v%d", i+1))
	}
	select {
	case <-w.Changes():
		if d := time.Since(last); d < countDebounce {
			t.Errorf("notified %v after the last write, before the %v quiet period", d, countDebounce)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no notification")
	}
	w.quiet("second notification for one burst")
}

// A slow caller gets one pending notification for several bursts, and the
// next burst after it reads notifies again.
func TestSlowCallerCoalesces(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gatehouse.hcl")
	write(t, file, "v0")
	fired := make(chan struct{}, 16)
	w := startWith(t, file, testDebounce, func() { fired <- struct{}{} })

	waitFired := func(what string) {
		t.Helper()
		select {
		case <-fired:
		case <-time.After(waitTimeout):
			t.Fatalf("%s: watcher did not fire", what)
		}
	}
	for i := range 3 {
		write(t, file, fmt.Sprintf("v%d", i+1))
		waitFired(fmt.Sprintf("burst %d", i+1))
	}
	if n := len(w.Changes()); n != 1 {
		t.Fatalf("%d pending notifications after 3 unread bursts, want 1", n)
	}
	w.exactlyOne("coalesced bursts")

	write(t, file, "v4")
	w.exactlyOne("burst after reading")
}

// The watched directory removed: a notification and a warning; re-creating
// it is followed.
func TestWatchedDirectoryRemoved(t *testing.T) {
	modes(t, func(t *testing.T, dir, file, watched string) {
		w := start(t, watched, testDebounce)

		remove(t, dir)
		w.settle("directory removed")
		if !strings.Contains(w.log.String(), "level=WARN") {
			t.Errorf("no warning logged for the removed directory")
		}

		mkdir(t, dir)
		write(t, file, "back")
		w.settle("directory re-created")
		if !strings.Contains(w.log.String(), "path exists again") {
			t.Errorf("no log that the path is back")
		}
		write(t, file, "later")
		w.exactlyOne("write after re-creation")
		write(t, filepath.Join(dir, "other.hcl"), "x")
		if watched == dir {
			w.exactlyOne("other file in re-created directory")
		} else {
			w.quiet("sibling in re-created directory")
		}
	})
}

// A deploy that renames a new directory into place over the old one is
// followed, and the old (renamed away) directory no longer notifies.
func TestDirectoryRenameSwap(t *testing.T) {
	modes(t, func(t *testing.T, dir, file, watched string) {
		w := start(t, watched, testDebounce)

		next := dir + ".new"
		mkdir(t, next)
		write(t, filepath.Join(next, "gatehouse.hcl"), "v2")
		rename(t, dir, dir+".old")
		rename(t, next, dir)
		w.settle("directory swapped")

		write(t, filepath.Join(dir+".old", "gatehouse.hcl"), "stale")
		w.quiet("write in the old directory")
		write(t, file, "v3")
		w.exactlyOne("write in the new directory")
	})
}

// A file path that is a symlink into another directory: the target's
// in-place edits and a retargeted link notify; the old target no longer does.
func TestSymlinkedFileElsewhere(t *testing.T) {
	root := t.TempDir()
	mkdir(t, filepath.Join(root, "etc"))
	mkdir(t, filepath.Join(root, "release1"))
	mkdir(t, filepath.Join(root, "release2"))
	target1 := filepath.Join(root, "release1", "prod.hcl")
	target2 := filepath.Join(root, "release2", "prod.hcl")
	write(t, target1, "v1")
	write(t, target2, "v2")
	link := filepath.Join(root, "etc", "gatehouse.hcl")
	symlink(t, target1, link)
	w := start(t, link, testDebounce)

	write(t, target1, "v1.1")
	w.exactlyOne("in-place edit of the target")

	// ln -sfn style: a new link renamed over the old one.
	symlink(t, target2, link+".tmp")
	rename(t, link+".tmp", link)
	w.settle("link retargeted")

	write(t, target2, "v2.1")
	w.exactlyOne("edit of the new target")
	write(t, target1, "old")
	w.quiet("edit of the old target")
	write(t, filepath.Join(root, "release2", "unrelated.hcl"), "x")
	w.quiet("sibling of the new target")
}

// A directory path that is a symlink (a "current" release link) is
// followed when the link is swapped.
func TestSymlinkedDirectory(t *testing.T) {
	root := t.TempDir()
	for _, r := range []string{"r1", "r2"} {
		mkdir(t, filepath.Join(root, r))
		write(t, filepath.Join(root, r, "gatehouse.hcl"), r)
	}
	current := filepath.Join(root, "current")
	symlink(t, "r1", current)
	w := start(t, current, testDebounce)

	write(t, filepath.Join(root, "r1", "gatehouse.hcl"), "r1.1")
	w.exactlyOne("edit in the linked directory")

	symlink(t, "r2", current+".tmp")
	rename(t, current+".tmp", current)
	w.settle("link swapped")

	write(t, filepath.Join(root, "r2", "new.hcl"), "n")
	w.exactlyOne("file added to the new directory")
	write(t, filepath.Join(root, "r1", "gatehouse.hcl"), "old")
	w.quiet("edit in the old directory")
}

// A *.hcl entry of a watched directory that links elsewhere is followed.
func TestDirectoryWithSymlinkedEntry(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "conf.d")
	shared := filepath.Join(root, "shared")
	mkdir(t, dir)
	mkdir(t, shared)
	write(t, filepath.Join(dir, "main.hcl"), "m")
	write(t, filepath.Join(shared, "common.hcl"), "c1")
	w := start(t, dir, testDebounce)

	symlink(t, filepath.Join(shared, "common.hcl"), filepath.Join(dir, "common.hcl"))
	w.exactlyOne("symlink added")
	write(t, filepath.Join(shared, "common.hcl"), "c2")
	w.exactlyOne("edit of the link target")
	write(t, filepath.Join(shared, "unrelated.hcl"), "u")
	w.quiet("sibling of the link target")
}

func TestNewMissingPath(t *testing.T) {
	_, err := New(filepath.Join(t.TempDir(), "nope.hcl"), Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("New on a missing path: %v, want ErrNotExist", err)
	}
	_, err = New(filepath.Join(t.TempDir(), "nodir", "gatehouse.hcl"), Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("New in a missing directory: %v, want ErrNotExist", err)
	}
}

func TestCloseTwice(t *testing.T) {
	dir := t.TempDir()
	w, err := New(dir, Options{}) // default debounce, nil logger
	if err != nil {
		t.Fatal(err)
	}
	if w.debounce != DefaultDebounce {
		t.Errorf("debounce %v, want %v", w.debounce, DefaultDebounce)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case _, ok := <-w.Changes():
		if ok {
			t.Fatal("value on Changes after Close")
		}
	case <-time.After(waitTimeout):
		t.Fatal("Changes not closed after Close")
	}
}

// Close from several goroutines while events arrive.
func TestCloseConcurrent(t *testing.T) {
	dir := t.TempDir()
	w, err := New(dir, Options{Debounce: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		write(t, filepath.Join(dir, fmt.Sprintf("f%d.hcl", i)), "x")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := w.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestHandleError(t *testing.T) {
	buf := &syncBuffer{}
	w := &Watcher{path: "/x", log: slog.New(slog.NewTextHandler(buf, nil))}
	if !w.handleError(fmt.Errorf("read: %w", fsnotify.ErrEventOverflow)) {
		t.Error("overflow does not schedule a notification")
	}
	if w.handleError(errors.New("some error")) {
		t.Error("other error schedules a notification")
	}
	if n := strings.Count(buf.String(), "level=WARN"); n != 2 {
		t.Errorf("%d warnings logged, want 2:\n%s", n, buf.String())
	}
}

// resolve records the entries a Kubernetes ConfigMap file depends on.
func TestResolveKubernetesLayout(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ts := k8sUpdate(t, dir, "", 1, map[string]string{"gatehouse.hcl": "v1"})
	set := watchSet{}
	real, ok := resolve(filepath.Join(dir, "gatehouse.hcl"), set, true)
	if !ok || real != filepath.Join(dir, ts, "gatehouse.hcl") {
		t.Fatalf("resolve = %q, %v", real, ok)
	}
	names := func(d string) []string { return slices.Sorted(maps.Keys(set[d])) }
	if got := names(dir); !slices.Equal(got, []string{"..data", "gatehouse.hcl"}) {
		t.Errorf("names in dir: %q", got)
	}
	if got := names(filepath.Join(dir, ts)); !slices.Equal(got, []string{"gatehouse.hcl"}) {
		t.Errorf("names in %s: %q", ts, got)
	}
	if len(set) != 2 {
		t.Errorf("watch set %v, want 2 directories", set)
	}

	set = watchSet{}
	missing := filepath.Join(dir, "a", "b.hcl")
	if _, ok := resolve(missing, set, true); ok {
		t.Fatal("missing path resolved")
	}
	if got := names(dir); !slices.Equal(got, []string{"a"}) || len(set) != 1 {
		t.Errorf("missing path watch set %v, want %s: [a]", set, dir)
	}

	symlink(t, "loop", filepath.Join(dir, "loop"))
	if _, ok := resolve(filepath.Join(dir, "loop"), watchSet{}, true); ok {
		t.Error("symlink loop resolved")
	}
}

// TestConfigName: the entries whose changes reload; the tests of
// `gatehouse test` (*_test.hcl) are not configuration.
func TestConfigName(t *testing.T) {
	for name, want := range map[string]bool{
		"gatehouse.hcl": true, "10-roles.hcl": true, k8sDataLink: true,
		"roles_test.hcl": false, ".gatehouse.hcl": false, "gatehouse.hcl~": false, "notes.txt": false,
	} {
		if got := configName(name); got != want {
			t.Errorf("configName(%q) = %v, want %v", name, got, want)
		}
	}
}
