// Package session issues and verifies gatehouse's session tokens: JWTs
// (golang-jwt/jwt/v5) signed with HS256 or EdDSA, with a fixed algorithm
// allow-list. A Manager keeps what must outlive configuration reloads: a
// ristretto cache of verified tokens, so the hot path does not verify a
// signature on every request, and the revoked session ids, in a
// store.Revocations (the process's memory unless Options give another).
// The keys and the settings tokens are checked against are compiled with
// the snapshot (policy.SessionKeys); every call names the keys it works
// under.
//
// A token says who logged in, through which app and provider, and when. It
// never carries a role: the proxy resolves the role from the current
// snapshot on every request.
package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/store"
	"github.com/gatehouse-dev/gatehouse/store/memstore"
)

// AdminAudience is the aud claim of admin sessions. App names are
// identifiers, so no app can be called this.
const AdminAudience = "@admin"

// Leeway is the clock skew tolerated on exp, nbf and iat.
const Leeway = 10 * time.Second

// MaxTokenBytes bounds the tokens Verify looks at.
const MaxTokenBytes = 4096

// Errors of Verify and Refreshable. Each maps to a stable reason code.
var (
	ErrMalformed = errors.New("malformed session token")
	ErrInvalid   = errors.New("invalid session token") // signature, algorithm, issuer, times
	ErrExpired   = errors.New("session token expired")
	ErrRevoked   = errors.New("session token revoked")
	// ErrBadTimes: exp, iat or auth_time is missing, or a time claim (exp,
	// nbf, iat, auth_time) is not a JSON integer of seconds: a string, a
	// fraction or an exponent is refused even when it would parse.
	ErrBadTimes = errors.New("session token times missing or not integer numbers")
	// ErrLifetime: the token was minted to live longer than the settings
	// it is checked under allow: exp - iat is over ttl plus Leeway, its
	// login (auth_time) is after iat, or it was issued more than
	// refresh_ttl plus Leeway after that login.
	ErrLifetime = errors.New("session token lifetime exceeds the configured ttl")
	// ErrUnavailable: the revocation store failed, so whether the token
	// is revoked (Verify, Refreshable) or was revoked (Revoke) is not
	// known. Callers fail closed: the token is refused, and a refresh or
	// logout does not succeed. The in-memory store never fails.
	ErrUnavailable = errors.New("session revocations unavailable")
)

// Session is a verified token's content.
type Session struct {
	ID       string // sid: revocation handle
	Subject  string
	App      string // "" for admin sessions
	Provider string
	Local    bool
	Admin    bool
	Groups   []string
	Email    string
	// Lookups are the user-scope lookups the login provider captured
	// (the lookups of its ldap or oauth block), by lookup name; nil for
	// none. They are signed with the rest of the token; a refresh carries
	// them into the new token unchanged.
	Lookups   map[string]string
	IssuedAt  time.Time
	ExpiresAt time.Time
	AuthTime  time.Time // login time; refresh is possible until AuthTime + refresh_ttl

	token string // the token this came from (cache entries are checked against it)
	kid   string // SessionKeys.ID it was verified under
}

// PolicySubject converts the session's user half for policy.UserRole.
func (s *Session) PolicySubject() policy.Subject {
	return policy.Subject{Name: s.Subject, Provider: s.Provider, Local: s.Local, Groups: s.Groups}
}

// claims is the JWT payload. Its times are unixTime values, not
// jwt.NumericDate: NumericDate also accepts a JSON string ("1700000000")
// and fractions, which other verifiers may read differently.
type claims struct {
	Issuer    string            `json:"iss"`
	Subject   string            `json:"sub"`
	Audience  jwt.ClaimStrings  `json:"aud"`
	ExpiresAt *unixTime         `json:"exp"`
	NotBefore *unixTime         `json:"nbf,omitempty"`
	IssuedAt  *unixTime         `json:"iat"`
	App       string            `json:"app,omitempty"`
	SID       string            `json:"sid"`
	Provider  string            `json:"prv"`
	Local     bool              `json:"lcl,omitempty"`
	Admin     bool              `json:"adm,omitempty"`
	Groups    []string          `json:"grp,omitempty"`
	Email     string            `json:"email,omitempty"`
	Lookups   map[string]string `json:"lkp,omitempty"`
	AuthTime  *unixTime         `json:"auth_time"`
}

// The jwt.Claims methods, for the library's exp, nbf, iat and iss checks.

func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt.numeric(), nil }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore.numeric(), nil }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt.numeric(), nil }
func (c *claims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *claims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)       { return c.Audience, nil }

// unixTime is a time claim: whole seconds since the epoch, written as a
// JSON integer. Decoding refuses anything else (ErrBadTimes): strings,
// fractions, exponents, signs, and more than 12 digits.
type unixTime int64

func newUnixTime(t time.Time) *unixTime { u := unixTime(t.Unix()); return &u }

// UnmarshalJSON accepts only the digits of a JSON integer. (null leaves a
// pointer nil without calling it: a missing claim.)
func (u *unixTime) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || len(b) > 12 {
		return ErrBadTimes
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return ErrBadTimes
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return ErrBadTimes
	}
	*u = unixTime(n)
	return nil
}

func (u *unixTime) numeric() *jwt.NumericDate {
	if u == nil {
		return nil
	}
	return jwt.NewNumericDate(u.time())
}

func (u *unixTime) time() time.Time { return time.Unix(int64(*u), 0) }

// method is the jwt signing method of k's algorithm.
func method(k *policy.SessionKeys) jwt.SigningMethod {
	if k.Algorithm() == policy.AlgEdDSA {
		return jwt.SigningMethodEdDSA
	}
	return jwt.SigningMethodHS256
}

// Options configure a Manager.
type Options struct {
	CacheSize int64            // verified tokens kept; default 100000
	Now       func() time.Time // default time.Now
	// OnRevoke, if set, is called with the session id after each
	// successful Revoke, outside any lock of the Manager, and, when
	// Revocations is a store.RevocationFeed, with each id another instance
	// revoked. The proxy closes the session's open tunnels (WebSockets)
	// there.
	OnRevoke func(sid string)
	// Revocations holds the revoked session ids; nil means a
	// memstore.Revocations on the Now clock, this process's memory.
	Revocations store.Revocations
}

// Manager verifies tokens through a cache and keeps revocations. One Manager
// serves the process for its lifetime, across configuration reloads.
type Manager struct {
	cache    *ristretto.Cache[string, *Session]
	revoked  store.Revocations
	now      func() time.Time
	onRevoke func(sid string) // Options.OnRevoke

	hits          atomic.Uint64
	misses        atomic.Uint64
	verifications atomic.Uint64
}

// NewManager returns a Manager. Close releases the cache's goroutines.
func NewManager(opts Options) (*Manager, error) {
	size := opts.CacheSize
	if size <= 0 {
		size = 100_000
	}
	c, err := ristretto.NewCache(&ristretto.Config[string, *Session]{
		NumCounters:        size * 10,
		MaxCost:            size,
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, fmt.Errorf("session cache: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	revoked := opts.Revocations
	if revoked == nil {
		revoked = memstore.NewRevocations(now)
	}
	if feed, ok := revoked.(store.RevocationFeed); ok && opts.OnRevoke != nil {
		// Revocations made by other instances end this one's tunnels too.
		feed.Subscribe(opts.OnRevoke)
	}
	return &Manager{cache: c, now: now, onRevoke: opts.OnRevoke, revoked: revoked}, nil
}

// Close stops the cache.
func (m *Manager) Close() { m.cache.Close() }

// Resize changes the number of cached tokens (cache_size on reload).
func (m *Manager) Resize(size int64) {
	if size > 0 && size != m.cache.MaxCost() {
		m.cache.UpdateMaxCost(size)
	}
}

// Stats are counters for metrics.
type Stats struct {
	CacheHits     uint64 // tokens served from the cache
	CacheMisses   uint64 // tokens that had to be verified
	Verifications uint64 // signature verifications performed
	Revoked       int64  // revocations currently remembered (in the local view)
}

// Stats returns the counters.
func (m *Manager) Stats() Stats {
	return Stats{
		CacheHits: m.hits.Load(), CacheMisses: m.misses.Load(),
		Verifications: m.verifications.Load(), Revoked: int64(m.revoked.Len()),
	}
}

// Issue signs a new token for s, filling in ID, IssuedAt and ExpiresAt (and
// AuthTime when zero, i.e. for a new login).
func (m *Manager) Issue(k *policy.SessionKeys, s *Session) (string, error) {
	now := m.issueTime()
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	s.ID = hex.EncodeToString(id[:])
	s.IssuedAt, s.ExpiresAt = now, now.Add(k.TTL())
	if s.AuthTime.IsZero() {
		s.AuthTime = now
	}
	aud := s.App
	if s.Admin {
		aud = AdminAudience
	}
	c := &claims{
		Issuer:    k.Issuer(),
		Subject:   s.Subject,
		Audience:  jwt.ClaimStrings{aud},
		ExpiresAt: newUnixTime(s.ExpiresAt),
		NotBefore: newUnixTime(now),
		IssuedAt:  newUnixTime(now),
		App:       s.App, SID: s.ID, Provider: s.Provider, Local: s.Local, Admin: s.Admin,
		Groups: s.Groups, Email: s.Email, Lookups: s.Lookups, AuthTime: newUnixTime(s.AuthTime),
	}
	t := jwt.NewWithClaims(method(k), c)
	t.Header["kid"] = k.KeyID()
	tok, err := t.SignedString(k.SigningKey())
	if err != nil {
		return "", fmt.Errorf("sign session token: %w", err)
	}
	s.token, s.kid = tok, k.ID()
	return tok, nil
}

// notBeforer is a revocation store that refuses the sessions issued before
// a point (redisstore.Revocations after Redis lost its data): NotBefore is
// that point, zero when there is none.
type notBeforer interface{ NotBefore() time.Time }

// maxIssueAhead bounds how far issueTime moves iat ahead of the clock: the
// rounding of a store's NotBefore up to a whole second, plus a second of
// clock difference between instances (far below Leeway).
const maxIssueAhead = 2 * time.Second

// issueTime is the iat of a new token: now, truncated to the second (the
// resolution of iat), but not before the revocation store's NotBefore when
// that is at most maxIssueAhead away. A store that lost its data refuses
// sessions issued before its new epoch's start rounded up to the next
// second; without this, a login in that second would get a token refused
// at once, on every instance.
func (m *Manager) issueTime() time.Time {
	now := m.now().Truncate(time.Second)
	if nb, ok := m.revoked.(notBeforer); ok {
		if t := nb.NotBefore(); now.Before(t) && t.Sub(now) <= maxIssueAhead {
			return t
		}
	}
	return now
}

// Verify returns the session of a valid, unexpired, unrevoked token. A
// token seen before is served from the cache without verifying its
// signature again; expiry and revocation are checked on every call.
func (m *Manager) Verify(k *policy.SessionKeys, token string) (*Session, error) {
	now := m.now()
	// The comparison guards against a collision of ristretto's two 64-bit
	// key hashes; it need not be constant-time: reaching it at all takes
	// a token whose 128-bit hash equals a cached one.
	if s, ok := m.cache.Get(token); ok && s.kid == k.ID() && s.token == token {
		m.hits.Add(1)
		if now.After(s.ExpiresAt.Add(Leeway)) {
			m.cache.Del(token)
			return nil, ErrExpired
		}
		if now.Before(s.IssuedAt.Add(-Leeway)) { // the clock went back
			return nil, fmt.Errorf("%w: issued in the future", ErrInvalid)
		}
		if err := m.checkRevoked(s.ID, s.IssuedAt); err != nil {
			return nil, err
		}
		return s, nil
	}
	m.misses.Add(1)
	s, err := m.parse(k, token, now, false)
	if err != nil {
		return nil, err
	}
	if err := m.checkRevoked(s.ID, s.IssuedAt); err != nil {
		return nil, err
	}
	m.cache.Set(token, s, 1)
	return s, nil
}

// Refreshable verifies a token for refresh or logout: like Verify, but an
// expired token is accepted until its session's refresh deadline. It never
// uses or fills the cache.
func (m *Manager) Refreshable(k *policy.SessionKeys, token string) (*Session, error) {
	now := m.now()
	s, err := m.parse(k, token, now, true)
	if err != nil {
		return nil, err
	}
	if now.After(s.AuthTime.Add(k.RefreshTTL())) {
		return nil, ErrExpired
	}
	if err := m.checkRevoked(s.ID, s.IssuedAt); err != nil {
		return nil, err
	}
	return s, nil
}

// Revoke ends s: its token is refused from now on, by this Manager, and
// Options.OnRevoke learns its id. It reports false when s was already
// revoked, so that two concurrent refreshes of one token cannot both
// succeed. An error (wrapping ErrUnavailable) means the store failed and
// the revocation may not have been recorded: the caller must not treat
// it as done (no refresh, no successful logout).
func (m *Manager) Revoke(ctx context.Context, k *policy.SessionKeys, s *Session) (bool, error) {
	until := s.AuthTime.Add(k.RefreshTTL()).Add(Leeway)
	if until.Before(s.ExpiresAt.Add(Leeway)) {
		until = s.ExpiresAt.Add(Leeway)
	}
	first, err := m.revoked.Revoke(ctx, s.ID, until)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if !first {
		return false, nil
	}
	m.cache.Del(s.token)
	if m.onRevoke != nil {
		m.onRevoke(s.ID)
	}
	// A store that lost its data refuses the sessions issued before its
	// new epoch; if this instance learned of the epoch between the
	// caller's check of s and this Revoke, s counts as revoked already,
	// so that a refresh of it does not succeed on the emptied store.
	if nb, ok := m.revoked.(notBeforer); ok && s.IssuedAt.Before(nb.NotBefore()) {
		return false, nil
	}
	return true, nil
}

// Revoked reports whether the session with id sid, issued at issued (its
// IssuedAt), was revoked (and the revocation still matters). When the
// store cannot tell, it answers true: a caller deciding whether to keep a
// session open refuses it.
func (m *Manager) Revoked(sid string, issued time.Time) bool {
	revoked, err := m.revoked.Revoked(sid, issued)
	return revoked || err != nil
}

// checkRevoked returns ErrRevoked for a revoked sid (issued at issued) and
// ErrUnavailable when the store cannot tell; it allocates only for the
// latter.
func (m *Manager) checkRevoked(sid string, issued time.Time) error {
	revoked, err := m.revoked.Revoked(sid, issued)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case revoked:
		return ErrRevoked
	}
	return nil
}

// parse verifies token's signature and claims. With allowExpired, exp is
// not checked (the caller checks the refresh deadline instead).
func (m *Manager) parse(k *policy.SessionKeys, token string, now time.Time, allowExpired bool) (*Session, error) {
	if token == "" || len(token) > MaxTokenBytes {
		return nil, ErrMalformed
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{k.Algorithm()}),
		jwt.WithStrictDecoding(),
	}
	if allowExpired {
		// The signature is still verified; the claims are checked below
		// without exp.
		opts = append(opts, jwt.WithoutClaimsValidation())
	} else {
		opts = append(opts,
			jwt.WithIssuer(k.Issuer()),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(Leeway),
			jwt.WithTimeFunc(func() time.Time { return now }),
			jwt.WithExpirationRequired(),
		)
	}
	var c claims
	m.verifications.Add(1)
	_, err := jwt.NewParser(opts...).ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if t.Method != method(k) {
			return nil, errors.New("unexpected signing method")
		}
		if kid, _ := t.Header["kid"].(string); kid != k.KeyID() {
			return nil, errors.New("unknown key id")
		}
		return k.VerificationKey(), nil
	})
	switch {
	case err == nil:
	case errors.Is(err, ErrBadTimes): // from unixTime, inside jwt's malformed-claims error
		return nil, ErrBadTimes
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, ErrMalformed
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing): // exp
		return nil, ErrBadTimes
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrExpired
	default:
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.ExpiresAt == nil || c.IssuedAt == nil || c.AuthTime == nil {
		return nil, ErrBadTimes
	}
	if allowExpired {
		late := now.Add(Leeway)
		switch {
		case c.Issuer != k.Issuer():
			return nil, fmt.Errorf("%w: issuer", ErrInvalid)
		case c.IssuedAt.time().After(late):
			return nil, fmt.Errorf("%w: iat", ErrInvalid)
		case c.NotBefore != nil && c.NotBefore.time().After(late):
			return nil, fmt.Errorf("%w: nbf", ErrInvalid)
		}
	}
	if err := checkLifetime(k, &c); err != nil {
		return nil, err
	}
	if c.SID == "" || c.Subject == "" {
		return nil, fmt.Errorf("%w: missing claims", ErrInvalid)
	}
	if err := checkLookups(c.Lookups); err != nil {
		return nil, err
	}
	aud := c.App
	if c.Admin {
		aud = AdminAudience
		if c.App != "" {
			return nil, fmt.Errorf("%w: admin token names an app", ErrInvalid)
		}
	} else if c.App == "" {
		return nil, fmt.Errorf("%w: token names no app", ErrInvalid)
	}
	if len(c.Audience) != 1 || c.Audience[0] != aud {
		return nil, fmt.Errorf("%w: audience does not match", ErrInvalid)
	}
	return &Session{
		ID: c.SID, Subject: c.Subject, App: c.App, Provider: c.Provider, Local: c.Local, Admin: c.Admin,
		Groups: c.Groups, Email: c.Email, Lookups: c.Lookups,
		IssuedAt: c.IssuedAt.time(), ExpiresAt: c.ExpiresAt.time(), AuthTime: c.AuthTime.time(),
		token: token, kid: k.ID(),
	}, nil
}

// checkLookups refuses captured lookups over policy's limits, which Issue's
// callers apply (policy.CapIdentityLookups): a token carrying more was not
// minted by this version of gatehouse's login.
func checkLookups(m map[string]string) error {
	if len(m) > policy.MaxIdentityLookups {
		return fmt.Errorf("%w: %d lookups", ErrInvalid, len(m))
	}
	for k, v := range m {
		if k == "" || len(v) > policy.MaxIdentityLookupBytes {
			return fmt.Errorf("%w: lookup %q", ErrInvalid, k)
		}
	}
	return nil
}

// checkLifetime refuses a token minted to outlast the settings it is
// checked under (ErrLifetime), whatever its exp says: exp - iat may be at
// most ttl, its login (auth_time) may not be after iat, and iat may be at
// most refresh_ttl after the login, each with Leeway. Verify checks it
// before a session enters the cache, and the cache is keyed by the keys'
// id, which includes ttl and refresh_ttl, so a reload that shortens them
// applies to cached sessions too.
func checkLifetime(k *policy.SessionKeys, c *claims) error {
	exp, iat, auth := int64(*c.ExpiresAt), int64(*c.IssuedAt), int64(*c.AuthTime)
	leeway := int64(Leeway / time.Second)
	switch {
	case exp-iat > int64(k.TTL()/time.Second)+leeway:
		return fmt.Errorf("%w: exp - iat = %ds", ErrLifetime, exp-iat)
	case auth > iat+leeway:
		return fmt.Errorf("%w: auth_time after iat", ErrLifetime)
	case iat-auth > int64(k.RefreshTTL()/time.Second)+leeway:
		return fmt.Errorf("%w: issued %ds after login", ErrLifetime, iat-auth)
	}
	return nil
}

// Wait blocks until cache writes made so far are visible to Verify
// (ristretto applies them asynchronously). For tests and benchmarks.
func (m *Manager) Wait() { m.cache.Wait() }

// Owns reports whether token claims to be signed with k (its header names
// k's key id), without verifying it. The proxy uses it to strip gatehouse
// tokens, valid or not, from requests to public upstreams.
func Owns(k *policy.SessionKeys, token string) bool {
	if len(token) > MaxTokenBytes {
		return false
	}
	t, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		return false
	}
	kid, _ := t.Header["kid"].(string)
	return kid == k.KeyID()
}

// Clear drops every cached session (after a key change).
func (m *Manager) Clear() { m.cache.Clear() }
