// Package watch notices when a gatehouse configuration changes on disk.
//
// A configuration path is one .hcl file or a directory whose *.hcl files
// (names not starting with ".") make up the configuration, as read by
// config.Load. A [Watcher] sends one value on [Watcher.Changes] per
// debounced burst of relevant changes; the caller then re-reads, re-parses
// and compares a content hash, so an extra notification is harmless while a
// missed one is a bug. The watcher therefore errs on the side of notifying.
//
// # What is watched
//
// Directories are watched, never file inodes, so that every common way of
// updating a file is seen: in-place writes, rename over the original (vim,
// sed -i, most "atomic write" helpers), delete and re-create, git checkout,
// and the Kubernetes ConfigMap volume layout, where the visible files are
// symlinks through a "..data" symlink that is atomically renamed to point at
// a new timestamped directory.
//
//   - For a file path, its directory is watched and only events for the
//     file's own name and for "..data" are relevant; other files in the same
//     directory are ignored.
//   - For a directory path, events for names that config.Load would read
//     (ending in ".hcl", not starting with ".") and for "..data" are relevant.
//
// Symlinks are followed: every symlink met while resolving the file path (or
// the directory path, or a symlinked *.hcl entry of the directory) is
// watched in the directory that holds it, and so is the directory that holds
// the final target. After each burst the watcher resolves the paths again and
// moves its watches, before it notifies, so that a retargeted symlink (such
// as the ConfigMap "..data" swap) is followed for later changes too.
//
// If the watched path, or a directory on the way to it, is removed, the
// watcher notifies (the caller's reload fails and keeps the old
// configuration), logs a warning, and watches the nearest existing parent for
// the missing name, so that a re-created path is noticed and followed again.
//
// # Limits
//
// The watcher relies on inotify (through fsnotify), so changes made on
// another host to a network file system are not seen, and a file modified
// through a hard link in another directory is not seen. A directory on the
// way to the path that is renamed away without being a symlink is followed
// only if the rename is of a watched directory itself. To not miss a change
// made between the start of the watcher and the first load, create the
// Watcher before loading the configuration for the first time.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is the quiet period used when Options.Debounce is not
// positive.
const DefaultDebounce = 250 * time.Millisecond

// k8sDataLink is the name of the symlink that Kubernetes renames atomically
// to switch a ConfigMap or Secret volume to a new version.
const k8sDataLink = "..data"

// maxLinks bounds the number of symlinks followed while resolving one path,
// as a guard against symlink loops.
const maxLinks = 255

// maxResyncRounds bounds how often the watches are re-established in a row
// when the file system keeps changing under the resolution.
const maxResyncRounds = 8

// Options configures a Watcher.
type Options struct {
	// Debounce is the quiet period after the last relevant event before the
	// watcher notifies. Zero or negative means DefaultDebounce (250ms).
	Debounce time.Duration
	// Logger, if set, receives debug logs of every raw file system event and
	// warnings of watch errors. Nil discards them.
	Logger *slog.Logger
}

// Watcher watches one configuration path. Create it with New, read
// notifications from Changes, and stop it with Close.
type Watcher struct {
	path     string // absolute, cleaned
	isDir    bool   // the path was a directory when New was called
	debounce time.Duration
	log      *slog.Logger
	fsw      *fsnotify.Watcher
	changes  chan struct{}
	stop     chan struct{} // closed by Close
	exited   chan struct{} // closed when run returns

	closeOnce sync.Once
	closeErr  error

	// onFire, if set (by tests only), is called by the goroutine after each
	// debounced notification attempt.
	onFire func()

	// Owned by the goroutine after New returns.
	watched   watchSet // directory (a real path) -> relevant names in it
	filterDir string   // real path of the watched directory in directory mode, or ""
	missing   bool     // the path did not resolve at the last resync
}

// watchSet maps the real path of a watched directory to the set of entry
// names in it whose change is relevant. A directory with an empty set is
// still watched (for the directory itself, or for the *.hcl filter).
type watchSet map[string]map[string]struct{}

func (s watchSet) dir(dir string) map[string]struct{} {
	names, ok := s[dir]
	if !ok {
		names = make(map[string]struct{})
		s[dir] = names
	}
	return names
}

func (s watchSet) add(dir, name string) { s.dir(dir)[name] = struct{}{} }

func (s watchSet) equal(o watchSet) bool {
	return maps.EqualFunc(s, o, func(a, b map[string]struct{}) bool { return maps.Equal(a, b) })
}

// New starts watching path, a .hcl file or a directory of them. It returns an
// error if path does not exist or cannot be watched. Whether path is a file or
// a directory is decided here, once.
func New(path string, opts Options) (*Watcher, error) {
	return newWatcher(path, opts, nil)
}

func newWatcher(path string, opts Options, onFire func()) (*Watcher, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", path, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	w := &Watcher{
		path:     abs,
		isDir:    st.IsDir(),
		debounce: opts.Debounce,
		log:      opts.Logger,
		changes:  make(chan struct{}, 1),
		stop:     make(chan struct{}),
		exited:   make(chan struct{}),
		onFire:   onFire,
		watched:  watchSet{},
	}
	if w.debounce <= 0 {
		w.debounce = DefaultDebounce
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.fsw, err = fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", abs, err)
	}
	if err := w.resync(); err != nil {
		_ = w.fsw.Close()
		return nil, fmt.Errorf("watch %s: %w", abs, err)
	}
	if w.missing { // removed between Stat and resync
		_ = w.fsw.Close()
		return nil, fmt.Errorf("watch %s: %w", abs, fs.ErrNotExist)
	}
	go w.run()
	return w, nil
}

// Changes delivers one value per debounced burst of relevant changes. The
// channel has capacity 1 and the watcher never blocks on it: if the caller is
// slow, later bursts coalesce into the one pending notification. The channel
// is closed when Close has stopped the watcher.
func (w *Watcher) Changes() <-chan struct{} { return w.changes }

// Close stops watching and waits for the watcher's goroutine to exit. It is
// safe to call more than once and from several goroutines; later calls
// return the first call's result.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() {
		close(w.stop)
		<-w.exited
		w.closeErr = w.fsw.Close()
	})
	return w.closeErr
}

// run is the watcher's goroutine: it filters events, debounces them, and
// notifies.
func (w *Watcher) run() {
	defer close(w.exited)
	defer close(w.changes)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-w.stop:
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			relevant := w.relevant(ev)
			if w.log.Enabled(context.Background(), slog.LevelDebug) {
				w.log.Debug("config watch event", "name", ev.Name, "op", ev.Op.String(), "relevant", relevant)
			}
			if relevant {
				timer.Reset(w.debounce)
			}
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			if w.handleError(err) {
				timer.Reset(w.debounce)
			}
		case <-timer.C:
			if err := w.resync(); err != nil {
				w.log.Warn("config watch: cannot watch", "path", w.path, "error", err)
			}
			select {
			case w.changes <- struct{}{}:
			default: // a notification is already pending
			}
			if w.onFire != nil {
				w.onFire()
			}
		}
	}
}

// handleError logs an error from fsnotify and reports whether a notification
// should be scheduled: when the kernel event queue overflowed, events were
// lost, so a change may have been missed.
func (w *Watcher) handleError(err error) bool {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		w.log.Warn("config watch: events were lost; treating as a change", "path", w.path, "error", err)
		return true
	}
	w.log.Warn("config watch error", "path", w.path, "error", err)
	return false
}

// relevant reports whether ev may change the configuration read from w.path.
func (w *Watcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod || ev.Op == 0 {
		return false
	}
	name := filepath.Clean(ev.Name)
	if _, ok := w.watched[name]; ok {
		return true // a watched directory itself was removed or renamed
	}
	dir, base := filepath.Split(name)
	dir = filepath.Clean(dir)
	names, ok := w.watched[dir]
	if !ok {
		return false
	}
	if _, ok := names[base]; ok {
		return true
	}
	return dir == w.filterDir && configName(base)
}

// configName reports whether config.Load reads a directory entry called
// name, or whether name is the Kubernetes "..data" symlink. The tests of
// `gatehouse test` (*_test.hcl) are not configuration: editing them does
// not reload.
func configName(name string) bool {
	if name == k8sDataLink {
		return true
	}
	return !strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".hcl") && !strings.HasSuffix(name, "_test.hcl")
}

// wanted resolves w.path and returns the directories to watch, the real path
// of the directory whose *.hcl entries are relevant (directory mode only), and
// whether the path exists.
func (w *Watcher) wanted() (set watchSet, filterDir string, ok bool) {
	set = watchSet{}
	if !w.isDir {
		if parent, ok := resolve(filepath.Dir(w.path), set, false); ok {
			set.add(parent, k8sDataLink)
		}
		_, ok = resolve(w.path, set, true)
		return set, "", ok
	}
	real, ok := resolve(w.path, set, false)
	if !ok {
		return set, "", false
	}
	set.dir(real)
	entries, err := os.ReadDir(real)
	if err != nil {
		// Not a directory any more, or unreadable: the watch on real still
		// reports its changes.
		return set, real, true
	}
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink != 0 && configName(e.Name()) {
			resolve(filepath.Join(real, e.Name()), set, true)
		}
	}
	return set, real, true
}

// resync resolves the path again and moves the watches to match. It repeats
// until the resolution is the same before and after the watches are in place,
// so that a change racing with the move is not missed.
func (w *Watcher) resync() error {
	var errs []error
	for range maxResyncRounds {
		want, filterDir, ok := w.wanted()
		errs = errs[:0]
		for dir := range want {
			if err := w.fsw.Add(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
				// ErrNotExist: removed since wanted(); the next round sees it.
				errs = append(errs, err)
			}
		}
		for dir := range w.watched {
			if _, keep := want[dir]; !keep {
				// The kernel drops the watch of a removed directory by itself.
				if err := w.fsw.Remove(dir); err != nil && !errors.Is(err, fsnotify.ErrNonExistentWatch) {
					errs = append(errs, err)
				}
			}
		}
		w.watched, w.filterDir = want, filterDir
		if w.missing == ok { // the path vanished or came back
			w.missing = !ok
			if w.missing {
				w.log.Warn("config watch: path does not exist; keeping the old configuration until it reappears", "path", w.path)
			} else {
				w.log.Info("config watch: path exists again", "path", w.path)
			}
		}
		again, againDir, againOK := w.wanted()
		if again.equal(want) && againDir == filterDir && againOK == ok {
			break
		}
	}
	return errors.Join(errs...)
}

// resolve follows path (absolute) like filepath.EvalSymlinks and records in
// set every directory entry the result depends on: each symlink it passes
// through, and the first missing entry if the path does not resolve. If
// final is true it also records the entry the path finally resolves to. It
// returns the resolved path (or, if ok is false, the first path that does
// not exist or cannot be resolved).
func resolve(path string, set watchSet, final bool) (real string, ok bool) {
	const sep = string(filepath.Separator)
	resolved := sep
	rest := filepath.Clean(path)
	links := 0
	for rest != "" {
		var c string
		c, rest, _ = strings.Cut(rest, sep)
		switch c {
		case "", ".":
			continue
		case "..":
			resolved = filepath.Dir(resolved)
			continue
		}
		next := filepath.Join(resolved, c)
		fi, err := os.Lstat(next)
		if err != nil {
			set.add(resolved, c)
			return next, false
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		set.add(resolved, c)
		links++
		if links > maxLinks {
			return next, false
		}
		target, err := os.Readlink(next)
		if err != nil {
			return next, false
		}
		if filepath.IsAbs(target) {
			resolved = sep
		}
		if rest == "" {
			rest = target
		} else {
			rest = target + sep + rest
		}
	}
	if final && resolved != sep {
		set.add(filepath.Dir(resolved), filepath.Base(resolved))
	}
	return resolved, true
}
