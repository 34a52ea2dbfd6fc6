package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/gatehouse-dev/gatehouse/policy/password"
)

// cmdHashPassword reads a password and prints an argon2id password_hash
// line for a user or admin block. On a terminal it asks twice without
// echo; otherwise it reads the first line of stdin (for scripts:
// `printf '%s\n' "$PW" | gatehouse hash-password`). The password is never
// taken from the command line, where process listings and shell history
// would keep it.
// minPasswordLen is the length below which hash-password warns (NIST SP
// 800-63B asks for at least 8; 12 leaves a margin against offline guessing
// of a leaked hash).
const minPasswordLen = 12

var hashPasswordHelp = commandHelp{
	synopsis: "gatehouse hash-password [--memory KIB] [--time N] [--threads N]",
	about: `Reads a password (asked twice without echo on a terminal, else the first line
of stdin; never from arguments) and prints the password_hash line for a user
or admin block. A password shorter than 12 characters gets a warning.`,
	examples: `  gatehouse hash-password
  printf '%s\n' "$PASSWORD" | gatehouse hash-password   # in a script`,
}

func cmdHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hash-password", flag.ContinueOnError)
	def := password.DefaultParams()
	memory := fs.Uint("memory", uint(def.Memory), "argon2id memory in KiB")
	iterations := fs.Uint("time", uint(def.Time), "argon2id iterations")
	threads := fs.Uint("threads", uint(def.Threads), "argon2id parallelism")
	if code, ok := parseFlags(fs, args, hashPasswordHelp, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "gatehouse hash-password: the password is read from the terminal or stdin, not from arguments")
		return 2
	}
	if *threads > 255 || *memory > 1<<32-1 || *iterations > 1<<32-1 {
		fmt.Fprintln(stderr, "gatehouse hash-password: parameter out of range")
		return 2
	}
	p := password.Argon2Params{Memory: uint32(*memory), Time: uint32(*iterations), Threads: uint8(*threads)}
	if err := p.Validate(); err != nil {
		fmt.Fprintf(stderr, "gatehouse hash-password: %v\n", err)
		return 2
	}
	pw, err := readPassword(stdin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse hash-password: %v\n", err)
		return 1
	}
	if n := utf8.RuneCountInString(pw); n < minPasswordLen {
		fmt.Fprintf(stderr, "gatehouse hash-password: warning: the password has %s; use at least %d (the hash is printed anyway)\n", plural(n, "character", "characters"), minPasswordLen)
	}
	h, err := password.New(pw, p)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse hash-password: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "password_hash = %q\n", h)
	return 0
}

func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Repeat: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		return checkPassword(string(a))
	}
	line, err := bufio.NewReaderSize(stdin, 4096).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no password on stdin")
		}
		return "", err
	}
	return checkPassword(strings.TrimRight(line, "\r\n"))
}

func checkPassword(pw string) (string, error) {
	switch {
	case pw == "":
		return "", errors.New("empty password")
	case len(pw) > 1024:
		return "", errors.New("password longer than 1024 bytes")
	}
	return pw, nil
}
