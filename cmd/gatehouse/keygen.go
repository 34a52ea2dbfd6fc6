package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
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

// newAdminToken returns a random static admin token (256 bits, "gh_admin_"
// prefix) and the hex SHA-256 the server block holds.
func newAdminToken() (token, hash string) {
	key, _ := newAPIKey()
	token = "gh_admin_" + key[len("gh_"):]
	sum := sha256.Sum256([]byte(token))
	return token, hex.EncodeToString(sum[:])
}

var keygenHelp = commandHelp{
	synopsis: "gatehouse keygen [--json] [--admin-token]",
	about: `Prints a new random API key (give it to the client; it is shown once) and the
api_key_sha256 line for the app block (put it in the config: only the hash is
stored). With --admin-token: a static admin token for automation (sent as
"Authorization: Bearer TOKEN" to the admin listener) and the admin_token_sha256
line for the server block.`,
	examples: `  gatehouse keygen
  gatehouse keygen --json | jq -r .api_key_sha256   # in a script
  gatehouse keygen --admin-token                    # for a deploy script calling POST /admin/reload`,
}

func cmdKeygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, `print {"key": "...", "api_key_sha256": "..."} (for scripts)`)
	adminToken := fs.Bool("admin-token", false, `print a static admin token and its admin_token_sha256 line instead (with --json: {"token": "...", "admin_token_sha256": "..."})`)
	if code, ok := parseFlags(fs, args, keygenHelp, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gatehouse keygen: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *adminToken {
		token, hash := newAdminToken()
		if *asJSON {
			b, _ := json.Marshal(struct {
				Token            string `json:"token"`
				AdminTokenSHA256 string `json:"admin_token_sha256"`
			}{token, hash})
			fmt.Fprintf(stdout, "%s\n", b)
			return 0
		}
		fmt.Fprintf(stdout, "admin token (for the deploy script, shown once): %s\n", token)
		fmt.Fprintf(stdout, "config line (inside the server block):          admin_token_sha256 = %q\n", hash)
		return 0
	}
	key, hash := newAPIKey()
	if *asJSON {
		b, _ := json.Marshal(struct {
			Key          string `json:"key"`
			APIKeySHA256 string `json:"api_key_sha256"`
		}{key, hash})
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	fmt.Fprintf(stdout, "api key (give to the client, shown once): %s\n", key)
	fmt.Fprintf(stdout, "config line (inside the app block):        api_key_sha256 = %q\n", hash)
	return 0
}
