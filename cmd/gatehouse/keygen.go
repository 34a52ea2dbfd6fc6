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
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
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
	synopsis: "gatehouse keygen [--json] [--label NAME] [--not-after TIME] | keygen [--json] --admin-token",
	about: `Prints a new random API key (give it to the client; it is shown once), the
api_key_sha256 line for the app block, and the same hash as an api_key block
(label, optional not_after) for an app that holds several keys, as when
rotating them. Put one of the two in the config: only the hash is stored.
The block's label names the key in the access log's key field; without
--label it is the current month (UTC). With --admin-token: a static admin
token for automation (sent as "Authorization: Bearer TOKEN" to the admin
listener) and the admin_token_sha256 line for the server block.`,
	examples: `  gatehouse keygen
  gatehouse keygen --label 2027-01                  # the next key of an app, for rotation
  gatehouse keygen --label contractor --not-after 2027-03-31T23:59:59Z
  gatehouse keygen --json | jq -r .api_key_sha256   # in a script
  gatehouse keygen --admin-token                    # for a deploy script calling POST /admin/reload`,
}

func cmdKeygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, `print {"key": "...", "api_key_sha256": "..."} (for scripts; with "label" and "not_after" when those flags are given)`)
	label := fs.String("label", "", "the api_key block's label: letters, digits, '.', '_', '-' (default: the current month, e.g. 2026-12)")
	notAfter := fs.String("not-after", "", `the api_key block's not_after: the last instant the key works, RFC 3339 (e.g. 2027-01-31T00:00:00Z)`)
	adminToken := fs.Bool("admin-token", false, `print a static admin token and its admin_token_sha256 line instead (with --json: {"token": "...", "admin_token_sha256": "..."})`)
	if code, ok := parseFlags(fs, args, keygenHelp, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gatehouse keygen: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *adminToken && (*label != "" || *notAfter != "") {
		fmt.Fprintln(stderr, "gatehouse keygen: --label and --not-after are for API keys, not with --admin-token")
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
	if *label != "" && !config.ValidAPIKeyLabel(*label) {
		fmt.Fprintf(stderr, "gatehouse keygen: --label %q: use 1 to 64 letters, digits, '.', '_' and '-', starting with a letter or digit\n", *label)
		return 2
	}
	if *notAfter != "" {
		if _, err := time.Parse(time.RFC3339, *notAfter); err != nil {
			fmt.Fprintf(stderr, "gatehouse keygen: --not-after %q is not an RFC 3339 time; e.g. 2027-01-31T00:00:00Z\n", *notAfter)
			return 2
		}
	}
	key, hash := newAPIKey()
	if *asJSON {
		b, _ := json.Marshal(struct {
			Key          string `json:"key"`
			APIKeySHA256 string `json:"api_key_sha256"`
			Label        string `json:"label,omitempty"`
			NotAfter     string `json:"not_after,omitempty"`
		}{key, hash, *label, *notAfter})
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	if *label == "" {
		*label = time.Now().UTC().Format("2006-01")
	}
	fmt.Fprintf(stdout, "api key (give to the client, shown once): %s\n", key)
	fmt.Fprintf(stdout, "config line (inside the app block):        api_key_sha256 = %q\n", hash)
	fmt.Fprintf(stdout, "\nor, as one of several keys of the app (rotation), this block inside it:\n\n%s", apiKeyBlock(*label, hash, *notAfter))
	return 0
}

// apiKeyBlock is an api_key block in the layout `gatehouse fmt` gives it
// inside an app block.
func apiKeyBlock(label, hash, notAfter string) string {
	if notAfter == "" {
		return fmt.Sprintf("  api_key %q {\n    sha256 = %q\n  }\n", label, hash)
	}
	return fmt.Sprintf("  api_key %q {\n    sha256    = %q\n    not_after = %q\n  }\n", label, hash, notAfter)
}
