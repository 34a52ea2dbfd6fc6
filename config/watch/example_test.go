package watch_test

import (
	"log"
	"time"

	"github.com/gatehouse-dev/gatehouse/config/watch"
)

// Start the watcher before the first load, so that a change made while
// loading is not missed, then reload on every notification. A reload that
// fails (for example because the directory was removed) keeps the old
// configuration; the next change notifies again.
func ExampleNew() {
	w, err := watch.New("/etc/gatehouse", watch.Options{Debounce: 250 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	reload := func() { /* re-read, re-parse, compare the content hash, swap */ }
	reload()
	for range w.Changes() { // ends when w.Close is called
		reload()
	}
}
