package password

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that whatever it accepts is
// printable without revealing anything and re-encodes to a string that parses
// to the same hash, and that a cheap accepted hash verifies without panicking.
func FuzzParse(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.hash)
	}
	for _, s := range []string{
		"", "hunter2", "$", "$$", "$2", "$2y$", "$2y$10$", "$argon2id$", "$argon2id$v=19$",
		"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$",
		"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ=$6WHikby2BXIWwcuQYWFWjQ==",
		"$argon2id$v=19$m=4194304,t=64,p=255$c2FsdHNhbHQ$6WHikby2BXIWwcuQYWFWjQ",
		"$argon2id$v=19$m=18446744073709551616,t=1,p=1$c2FsdHNhbHQ$6WHikby2BXIWwcuQYWFWjQ",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$bCc/nmQr9toOdQRWg8x5ugvCToJ8sbjartGknbZfr5w",
		"$2x$10$PyTitX4u7m5Cpe6n.esBke/6.rPz0BIIRWQ8FFmXgMQJM0gIR/cHi",
		"$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			if h != nil {
				t.Fatal("non-nil Hash with an error")
			}
			if msg := err.Error(); msg == "" || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error is empty or not one line: %q", msg)
			}
			return
		}
		if got := fmt.Sprintf("%v", h); got != h.Kind()+"("+h.Params()+")" {
			t.Fatalf("String = %q", got)
		}
		_ = fmt.Sprintf("%+v %#v %x %d", h, h, h, h)

		cheap := false
		var re string
		switch h.Kind() {
		case KindArgon2id:
			re = encodeArgon2id(h.params, h.secret().salt, h.secret().key)
			if unpad(s) != re { // padded input re-encodes unpadded
				t.Fatalf("accepted %q but it re-encodes to %q", s, re)
			}
			cheap = h.params.Memory <= 256 && h.params.Time <= 2 && h.params.Threads <= 4
		case KindBcrypt:
			re = string(h.secret().bcrypt)
			if re != s {
				t.Fatalf("bcrypt hash stored as %q, input %q", re, s)
			}
			cheap = h.cost <= 5
		default:
			t.Fatalf("accepted with kind %q", h.Kind())
		}
		h2, err := Parse(re)
		if err != nil {
			t.Fatalf("re-encoded %q does not parse: %v", re, err)
		}
		if h2.String() != h.String() || string(h2.secret().salt) != string(h.secret().salt) ||
			string(h2.secret().key) != string(h.secret().key) || string(h2.secret().bcrypt) != string(h.secret().bcrypt) {
			t.Fatalf("re-encoded %q parses differently", re)
		}
		if cheap {
			_ = h.Verify("password")
			if h.Dummy().Verify("password") {
				t.Fatal("dummy verified")
			}
		}
	})
}

// unpad removes base64 padding from the salt and key fields of a PHC string.
func unpad(s string) string {
	for strings.Contains(s, "=$") {
		s = strings.ReplaceAll(s, "=$", "$")
	}
	return strings.TrimRight(s, "=")
}
