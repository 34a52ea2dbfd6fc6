package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
)

// newAPIKey returns a random API key (256 bits, base64url, "gh_" prefix so
// secret scanners can find leaked keys) and the hex SHA-256 the config holds.
func newAPIKey() (key, hash string) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	key = "gh_" + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(key))
	return key, hex.EncodeToString(sum[:])
}

func cmdKeygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: gatehouse keygen\n\nPrints a new random API key (give it to the client) and the api_key_sha256 line for the app block (put it in the config).")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	key, hash := newAPIKey()
	fmt.Fprintf(stdout, "api key (give to the client, shown once): %s\n", key)
	fmt.Fprintf(stdout, "config line (inside the app block):        api_key_sha256 = %q\n", hash)
	return 0
}
