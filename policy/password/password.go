// Package password parses, verifies and creates the password hashes that
// gatehouse's `user` and `admin` config blocks carry in password_hash.
//
// Two schemes are supported, both through golang.org/x/crypto (this package
// only parses and encodes the string formats, it implements no cryptography):
//
//   - argon2id in the PHC string format emitted by the reference argon2 CLI,
//     libsodium, argon2-cffi and `gatehouse hash-password`:
//     $argon2id$v=19$m=65536,t=3,p=4$<salt>$<key>
//   - bcrypt, as emitted by htpasswd -B, OpenBSD, PHP and most libraries:
//     $2a$, $2b$ or $2y$ followed by a two-digit cost and 53 characters.
//
// Parse validates a hash once, at config load, and reports a one-line,
// human-readable error suitable for a config diagnostic. Errors never quote
// the salt, the key or a string that might be a plaintext password.
//
// The package is pure: it does no I/O, starts no goroutines itself (argon2
// uses one goroutine per lane internally) and has no mutable package state. A
// *Hash is immutable after Parse and safe for concurrent use.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Hash kinds returned by (*Hash).Kind.
const (
	KindArgon2id = "argon2id"
	KindBcrypt   = "bcrypt"
)

// Limits enforced by Parse and New on argon2id hashes.
const (
	// MaxArgon2Memory is the largest accepted memory cost, in KiB (4 GiB).
	MaxArgon2Memory = 4 * 1024 * 1024
	// MaxArgon2Time is the largest accepted number of passes.
	MaxArgon2Time = 64
	// MaxArgon2Threads is the largest accepted degree of parallelism.
	MaxArgon2Threads = 255
	// MinSaltLen and MaxSaltLen bound the decoded argon2id salt, in bytes.
	MinSaltLen = 8
	MaxSaltLen = 64
	// MinKeyLen and MaxKeyLen bound the decoded argon2id key, in bytes.
	MinKeyLen = 16
	MaxKeyLen = 128
)

// argon2Version is the only accepted argon2 version (0x13, "v=19").
const argon2Version = argon2.Version

// Sizes used by New.
const (
	newSaltLen = 16
	newKeyLen  = 32
)

// hint ends every "unsupported format" error.
const hint = "supported schemes are argon2id ($argon2id$v=19$...) and bcrypt ($2a$, $2b$, $2y$); " +
	"create one with `gatehouse hash-password`"

// Argon2Params are the argon2id cost parameters.
type Argon2Params struct {
	Memory  uint32 // memory cost in KiB (m)
	Time    uint32 // number of passes (t)
	Threads uint8  // degree of parallelism, i.e. lanes (p)
}

// DefaultParams returns the parameters New should use unless configured
// otherwise: m=65536 (64 MiB), t=3, p=4, the second recommended option of
// RFC 9106 section 4.
func DefaultParams() Argon2Params {
	return Argon2Params{Memory: 64 * 1024, Time: 3, Threads: 4}
}

// String renders the parameters as in the PHC string: "m=65536,t=3,p=4".
func (p Argon2Params) String() string {
	return fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads)
}

// Validate reports whether the parameters are within the limits that Parse
// enforces.
func (p Argon2Params) Validate() error {
	return checkArgon2Params(uint64(p.Memory), uint64(p.Time), uint64(p.Threads),
		strconv.FormatUint(uint64(p.Memory), 10), strconv.FormatUint(uint64(p.Time), 10),
		strconv.FormatUint(uint64(p.Threads), 10))
}

// Hash is a parsed, validated password hash. The zero value and a nil *Hash
// verify no password. Printing a Hash with any fmt verb shows only its kind
// and cost parameters, never the salt or the key.
type Hash struct {
	kind   string
	params Argon2Params // argon2id
	cost   int          // bcrypt
	// The secret material is reachable only through a closure: fmt prints
	// a func as an address and never follows it, whatever the verb, so even
	// a Hash value or an unexported *Hash field inside another struct,
	// printed by reflection (where Format is not called), reveals nothing.
	// A plain pointer is not enough: a bad verb such as %s makes fmt
	// dereference it and print the bytes.
	sec func() *secret
}

// secret is the material that must not be logged.
type secret struct {
	salt, key []byte // argon2id, decoded
	bcrypt    []byte // bcrypt: the full 60-byte hash string
}

// hide wraps s for Hash.sec.
func hide(s *secret) func() *secret { return func() *secret { return s } }

// secret returns the secret material, or nil for a nil or zero Hash.
func (h *Hash) secret() *secret {
	if h == nil || h.sec == nil {
		return nil
	}
	return h.sec()
}

// Parse parses and validates a password hash from the config. The error, if
// any, is a single human-readable line that does not echo the hash.
func Parse(s string) (*Hash, error) {
	switch {
	case s == "":
		return nil, errors.New("password hash is empty; " + hint)
	case strings.TrimSpace(s) != s:
		return nil, errors.New("password hash has leading or trailing whitespace")
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$2"):
		return parseBcrypt(s)
	}
	return nil, unsupported(s)
}

// unsupported builds the error for a string in no supported scheme. It quotes
// only a short, recognisable scheme identifier, never the rest of the string,
// which may well be a plaintext password.
func unsupported(s string) error {
	switch {
	case strings.HasPrefix(s, "$"):
		id, _, ok := strings.Cut(s[1:], "$")
		if !ok || !isSchemeID(id) {
			break
		}
		scheme := "$" + id + "$"
		switch id {
		case "argon2i", "argon2d":
			return fmt.Errorf("unsupported hash scheme %q (use argon2id or bcrypt; "+
				"create one with `gatehouse hash-password`)", scheme)
		}
		if name := knownScheme(id); name != "" {
			return fmt.Errorf("unsupported hash scheme %q (%s); %s", scheme, name, hint)
		}
		return fmt.Errorf("unsupported hash scheme %q; %s", scheme, hint)
	case strings.HasPrefix(s, "{"):
		id, _, ok := strings.Cut(s[1:], "}")
		if ok && isSchemeID(id) {
			return fmt.Errorf("unsupported hash scheme %q (LDAP-style hashes are not supported); %s",
				"{"+id+"}", hint)
		}
	}
	return errors.New("password hash is not in a supported format (a plaintext password is never accepted); " + hint)
}

// isSchemeID reports whether id looks like a scheme identifier and is safe to
// quote in an error.
func isSchemeID(id string) bool {
	if id == "" || len(id) > 16 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// knownScheme names a few common but unsupported crypt(3)/PHC schemes.
func knownScheme(id string) string {
	switch id {
	case "1":
		return "md5-crypt"
	case "apr1":
		return "Apache md5"
	case "5":
		return "sha256-crypt"
	case "6":
		return "sha512-crypt"
	case "y", "gy":
		return "yescrypt"
	case "7", "scrypt":
		return "scrypt"
	case "pbkdf2", "pbkdf2-sha256", "pbkdf2-sha512":
		return "PBKDF2"
	case "2", "2x":
		return "obsolete bcrypt variant"
	}
	return ""
}

// parseArgon2id parses "$argon2id$v=19$m=M,t=T,p=P$salt$key".
func parseArgon2id(s string) (*Hash, error) {
	const format = "$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>"
	f := strings.Split(s, "$")
	// f[0] is "" and f[1] is "argon2id".
	if len(f) == 5 && strings.HasPrefix(f[2], "m=") {
		return nil, errors.New("argon2id hash lacks the version field v=19 (expected " + format + ")")
	}
	if len(f) != 6 {
		return nil, fmt.Errorf("malformed argon2id hash: expected %s", format)
	}
	v, ok := strings.CutPrefix(f[2], "v=")
	if !ok {
		return nil, fmt.Errorf("malformed argon2id hash: expected the version field v=19 after $argon2id$")
	}
	if v != strconv.Itoa(argon2Version) {
		if isDecimal(v) && len(v) <= 10 {
			return nil, fmt.Errorf("argon2id version v=%s is not supported (only v=19)", v)
		}
		return nil, errors.New("argon2id version is not a number (only v=19 is supported)")
	}

	mS, tS, pS, err := splitParams(f[3])
	if err != nil {
		return nil, err
	}
	m, err := parseDecimal("memory m", mS)
	if err != nil {
		return nil, err
	}
	t, err := parseDecimal("time t", tS)
	if err != nil {
		return nil, err
	}
	p, err := parseDecimal("parallelism p", pS)
	if err != nil {
		return nil, err
	}
	if err := checkArgon2Params(m, t, p, mS, tS, pS); err != nil {
		return nil, err
	}

	salt, err := decodeB64(f[4])
	if err != nil {
		return nil, fmt.Errorf("argon2id salt is not valid base64: %v", err)
	}
	if len(salt) < MinSaltLen {
		return nil, fmt.Errorf("argon2id salt is %d bytes, at least %d are required", len(salt), MinSaltLen)
	}
	if len(salt) > MaxSaltLen {
		return nil, fmt.Errorf("argon2id salt is %d bytes, more than the limit of %d", len(salt), MaxSaltLen)
	}
	key, err := decodeB64(f[5])
	if err != nil {
		return nil, fmt.Errorf("argon2id hash value is not valid base64: %v", err)
	}
	if len(key) < MinKeyLen || len(key) > MaxKeyLen {
		return nil, fmt.Errorf("argon2id hash value is %d bytes, it must be between %d and %d",
			len(key), MinKeyLen, MaxKeyLen)
	}
	return &Hash{
		kind:   KindArgon2id,
		params: Argon2Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(p)},
		sec:    hide(&secret{salt: salt, key: key}),
	}, nil
}

// splitParams accepts exactly the canonical "m=…,t=…,p=…", as the reference
// implementation and libsodium emit and require.
func splitParams(s string) (m, t, p string, err error) {
	kv := strings.Split(s, ",")
	if len(kv) == 3 {
		var okM, okT, okP bool
		m, okM = strings.CutPrefix(kv[0], "m=")
		t, okT = strings.CutPrefix(kv[1], "t=")
		p, okP = strings.CutPrefix(kv[2], "p=")
		if okM && okT && okP {
			return m, t, p, nil
		}
	}
	return "", "", "", fmt.Errorf("argon2id parameters must be exactly m=<KiB>,t=<passes>,p=<lanes> "+
		"in that order, got %q", truncate(s, 48))
}

// parseDecimal parses a PHC decimal: ASCII digits, no sign, no leading zero.
// A value too large for uint64 saturates, so that the range check reports it.
func parseDecimal(name, s string) (uint64, error) {
	if !isDecimal(s) || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("argon2id %s must be a decimal number without leading zeros, got %q",
			name, truncate(s, 24))
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil { // only ErrRange is possible here
		return ^uint64(0), nil
	}
	return n, nil
}

func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkArgon2Params enforces the limits. The *S arguments are the values as
// written, used in messages so that a saturated huge value reads correctly.
func checkArgon2Params(m, t, p uint64, mS, tS, pS string) error {
	switch {
	case t < 1:
		return fmt.Errorf("argon2id time cost t=%s is below 1", tS)
	case t > MaxArgon2Time:
		return fmt.Errorf("argon2id time cost t=%s exceeds the limit of %d", truncate(tS, 24), MaxArgon2Time)
	case p < 1:
		return fmt.Errorf("argon2id parallelism p=%s is below 1", pS)
	case p > MaxArgon2Threads:
		return fmt.Errorf("argon2id parallelism p=%s exceeds the limit of %d", truncate(pS, 24), MaxArgon2Threads)
	case m > MaxArgon2Memory:
		return fmt.Errorf("argon2id memory %s KiB exceeds the limit of %d KiB", truncate(mS, 24), MaxArgon2Memory)
	case m < 8*p:
		return fmt.Errorf("argon2id memory %s KiB is below the minimum of 8*p = %d KiB", mS, 8*p)
	}
	return nil
}

// decodeB64 decodes standard-alphabet base64. Unpadded (RawStdEncoding) is
// what the reference argon2 CLI, libsodium, argon2-cffi and New emit; padded
// (StdEncoding) is accepted too, for tools that add '='. Decoding is strict:
// non-zero trailing bits are refused as the reference decoder does, and so is
// any byte outside the alphabet, including the CR/LF that encoding/base64
// would otherwise silently skip.
func decodeB64(s string) ([]byte, error) {
	body := strings.TrimRight(s, "=")
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			if c == '-' || c == '_' {
				return nil, errors.New("it uses the URL-safe alphabet, the standard one (+ and /) is required")
			}
			return nil, errors.New("it contains a character outside the standard base64 alphabet")
		}
	}
	enc := base64.RawStdEncoding
	if len(body) != len(s) {
		enc = base64.StdEncoding
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, errors.New("bad length, padding or trailing bits")
	}
	return b, nil
}

// parseBcrypt parses "$2b$NN$" + 22 salt + 31 hash characters.
func parseBcrypt(s string) (*Hash, error) {
	const hashLen = 60
	id, _, ok := strings.Cut(s[1:], "$")
	switch {
	case !ok || !isSchemeID(id):
		return nil, unsupported(s)
	case id == "2" || id == "2x":
		return nil, fmt.Errorf("unsupported bcrypt variant %q (%s); %s", "$"+id+"$", knownScheme(id), hint)
	case id != "2a" && id != "2b" && id != "2y":
		return nil, fmt.Errorf("unsupported hash scheme %q; %s", "$"+id+"$", hint)
	}
	// s starts with "$2a$", "$2b$" or "$2y$".
	if len(s) < 7 || !isDecimal(s[4:6]) || s[6] != '$' {
		return nil, fmt.Errorf("malformed bcrypt hash: expected a two-digit cost after %q", s[:4])
	}
	if len(s) != hashLen {
		return nil, fmt.Errorf("malformed bcrypt hash: expected %d characters, got %d", hashLen, len(s))
	}
	for i := 7; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '/') {
			return nil, errors.New("malformed bcrypt hash: salt and hash must be 53 characters of the bcrypt alphabet [./A-Za-z0-9]")
		}
	}
	cost, _ := strconv.Atoi(s[4:6]) // two digits, checked above
	if cost < bcrypt.MinCost {
		return nil, fmt.Errorf("bcrypt cost %d is below %d", cost, bcrypt.MinCost)
	}
	if cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d exceeds the maximum of %d", cost, bcrypt.MaxCost)
	}
	// Let x/crypto agree, so that Verify cannot fail on a format problem.
	if c, err := bcrypt.Cost([]byte(s)); err != nil || c != cost {
		return nil, errors.New("malformed bcrypt hash")
	}
	return &Hash{kind: KindBcrypt, cost: cost, sec: hide(&secret{bcrypt: []byte(s)})}, nil
}

// Verify reports whether password matches the hash. For argon2id the derived
// key is compared in constant time; bcrypt uses bcrypt.CompareHashAndPassword,
// which does the same. Note that bcrypt only uses the first 72 bytes of a
// password, so longer passwords that share those 72 bytes all match.
func (h *Hash) Verify(password string) bool {
	sec := h.secret()
	if sec == nil {
		return false
	}
	switch h.kind {
	case KindArgon2id:
		got := argon2.IDKey([]byte(password), sec.salt, h.params.Time, h.params.Memory,
			h.params.Threads, uint32(len(sec.key)))
		return subtle.ConstantTimeCompare(got, sec.key) == 1
	case KindBcrypt:
		return bcrypt.CompareHashAndPassword(sec.bcrypt, []byte(password)) == nil
	}
	return false
}

// Kind returns "argon2id" or "bcrypt" (KindArgon2id or KindBcrypt).
func (h *Hash) Kind() string {
	if h == nil {
		return ""
	}
	return h.kind
}

// Params returns the cost parameters for logs, e.g. "m=65536,t=3,p=4" or
// "cost=12". It never includes the salt or the key.
func (h *Hash) Params() string {
	if h == nil {
		return ""
	}
	switch h.kind {
	case KindArgon2id:
		return h.params.String()
	case KindBcrypt:
		return "cost=" + strconv.Itoa(h.cost)
	}
	return ""
}

// Argon2Params returns the argon2id parameters and true, or false for bcrypt.
func (h *Hash) Argon2Params() (Argon2Params, bool) {
	if h == nil || h.kind != KindArgon2id {
		return Argon2Params{}, false
	}
	return h.params, true
}

// BcryptCost returns the bcrypt cost and true, or false for argon2id.
func (h *Hash) BcryptCost() (int, bool) {
	if h == nil || h.kind != KindBcrypt {
		return 0, false
	}
	return h.cost, true
}

// String describes the hash without revealing its salt or key, e.g.
// "argon2id(m=65536,t=3,p=4)" or "bcrypt(cost=12)".
func (h *Hash) String() string {
	if h == nil || h.kind == "" {
		return "invalid"
	}
	return h.kind + "(" + h.Params() + ")"
}

// GoString is like String, so that %#v does not dump the salt and key.
func (h *Hash) GoString() string { return "password.Hash(" + h.String() + ")" }

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s, %x,
// %d, ...) prints String or GoString and never the fields.
func (h *Hash) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(h.GoString()))
		return
	}
	_, _ = f.Write([]byte(h.String()))
}

// Dummy returns a hash of the same kind and cost parameters (and salt and key
// lengths) as h, with a random salt and key, so that it matches no password.
// Make one at config load and verify the presented password against it when
// the user is unknown, so that "unknown user" and "wrong password" cost the
// same time. Dummy of a nil or zero Hash returns a Hash that verifies nothing
// instantly.
func (h *Hash) Dummy() *Hash {
	orig := h.secret()
	if orig == nil {
		return &Hash{}
	}
	switch h.kind {
	case KindArgon2id:
		sec := &secret{salt: make([]byte, len(orig.salt)), key: make([]byte, len(orig.key))}
		_, _ = rand.Read(sec.salt) // crypto/rand.Read never fails (Go ≥ 1.24)
		_, _ = rand.Read(sec.key)
		return &Hash{kind: KindArgon2id, params: h.params, sec: hide(sec)}
	case KindBcrypt:
		// 16 salt bytes encode to 22 characters and 23 hash bytes to 31,
		// in bcrypt's own base64 alphabet, after the same "$2b$NN$" prefix.
		enc := base64.NewEncoding(bcryptAlphabet).WithPadding(base64.NoPadding)
		raw := make([]byte, 16+23)
		_, _ = rand.Read(raw)
		b := make([]byte, 0, 60)
		b = append(b, orig.bcrypt[:7]...)
		b = enc.AppendEncode(b, raw[:16])
		b = enc.AppendEncode(b, raw[16:])
		return &Hash{kind: KindBcrypt, cost: h.cost, sec: hide(&secret{bcrypt: b})}
	}
	return &Hash{}
}

// bcryptAlphabet is bcrypt's own base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// New hashes password with argon2id, a random 16-byte salt from crypto/rand
// and a 32-byte key, and returns the PHC string
// "$argon2id$v=19$m=…,t=…,p=…$<salt>$<key>" in unpadded standard base64.
// The parameters must satisfy the limits Parse enforces.
func New(password string, p Argon2Params) (string, error) {
	if password == "" {
		return "", errors.New("password is empty")
	}
	if err := p.Validate(); err != nil {
		return "", err
	}
	salt := make([]byte, newSaltLen)
	_, _ = rand.Read(salt) // never fails (Go ≥ 1.24)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, newKeyLen)
	return encodeArgon2id(p, salt, key), nil
}

// encodeArgon2id renders the canonical PHC string.
func encodeArgon2id(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$%s$%s$%s", argon2Version, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// truncate shortens s for quoting in an error.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
