package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// commandHelp is what `gatehouse COMMAND -h` prints: a synopsis, what the
// command does, its flags and examples.
type commandHelp struct {
	synopsis string // "gatehouse keygen [--json]"
	about    string // one paragraph
	examples string // one example a line, "  command  # comment"
}

// parseFlags parses args with fs, which prints h as its usage. It returns
// ok to go on, or the exit code: 0 after -h/--help (the help goes to help,
// usually stdout), 2 after a bad flag (the error and the help go to
// errOut).
func parseFlags(fs *flag.FlagSet, args []string, h commandHelp, help, errOut io.Writer) (code int, ok bool) {
	var b bytes.Buffer
	fs.SetOutput(&b)
	fs.Usage = func() {
		fmt.Fprintf(&b, "Usage: %s\n\n%s\n", h.synopsis, h.about)
		if hasFlags(fs) {
			fmt.Fprintln(&b, "\nFlags:")
			fs.PrintDefaults()
		}
		fmt.Fprintf(&b, "\nExamples:\n%s\n", strings.TrimRight(h.examples, "\n"))
	}
	err := fs.Parse(args)
	fs.SetOutput(errOut)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		_, _ = help.Write(b.Bytes())
		return 0, false
	default:
		_, _ = errOut.Write(b.Bytes())
		return 2, false
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// plural returns "1 upstream" or "2 upstreams".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
