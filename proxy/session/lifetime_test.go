package session

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// mint signs payload, written as raw JSON members, with k's real key and
// kid: the tokens a leaked key or a buggy minter could produce.
func mint(t *testing.T, k *policy.SessionKeys, payload string) string {
	t.Helper()
	if !json.Valid([]byte(payload)) {
		t.Fatalf("invalid test payload %s", payload)
	}
	header := fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"JWT"}`, k.Algorithm(), k.KeyID())
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	sig, err := method(k).Sign(signing, k.SigningKey())
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

// claimsJSON is a well-formed payload for k at iat, with members replaced
// or (value "") removed by over.
func claimsJSON(k *policy.SessionKeys, iat time.Time, over map[string]string) string {
	members := map[string]string{
		"iss": fmt.Sprintf("%q", k.Issuer()), "sub": `"alice"`, "aud": `["portal"]`, "app": `"portal"`,
		"sid": `"0123456789abcdef0123456789abcdef"`, "prv": `"local"`, "lcl": "true",
		"iat": fmt.Sprint(iat.Unix()), "nbf": fmt.Sprint(iat.Unix()),
		"exp": fmt.Sprint(iat.Add(k.TTL()).Unix()), "auth_time": fmt.Sprint(iat.Unix()),
	}
	for name, v := range over {
		if v == "" {
			delete(members, name)
		} else {
			members[name] = v
		}
	}
	var b strings.Builder
	b.WriteByte('{')
	for name, v := range members {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", name, v)
	}
	b.WriteByte('}')
	return b.String()
}

// TestVerify_TimeClaimsAndLifetime (issue 18, point 6): exp, nbf, iat and
// auth_time must be JSON integers (golang-jwt's NumericDate also takes
// "1700000000" and fractions), iat is required, and a token minted to live
// longer than ttl (plus leeway) is refused by Verify and Refreshable alike,
// even though it is signed with the real key.
func TestVerify_TimeClaimsAndLifetime(t *testing.T) {
	m, k, c := newTest(t) // ttl 1h, refresh_ttl 24h
	iat := c.now()
	sec := func(d time.Duration) string { return fmt.Sprint(iat.Add(d).Unix()) }
	leeway := Leeway
	cases := []struct {
		name string
		over map[string]string
		want error // nil: accepted
	}{
		{"normal", nil, nil},
		{"string exp", map[string]string{"exp": `"` + sec(time.Hour) + `"`}, ErrBadTimes},
		{"string iat", map[string]string{"iat": `"` + sec(0) + `"`}, ErrBadTimes},
		{"string nbf", map[string]string{"nbf": `"` + sec(0) + `"`}, ErrBadTimes},
		{"string auth_time", map[string]string{"auth_time": `"` + sec(0) + `"`}, ErrBadTimes},
		{"float exp", map[string]string{"exp": sec(time.Hour) + ".5"}, ErrBadTimes},
		{"exponent exp", map[string]string{"exp": "1.8e9"}, ErrBadTimes},
		{"negative nbf", map[string]string{"nbf": "-1"}, ErrBadTimes},
		{"null iat", map[string]string{"iat": "null"}, ErrBadTimes},
		{"missing iat", map[string]string{"iat": ""}, ErrBadTimes},
		{"missing exp", map[string]string{"exp": ""}, ErrBadTimes},
		{"missing auth_time", map[string]string{"auth_time": ""}, ErrBadTimes},
		{"missing nbf", map[string]string{"nbf": ""}, nil},
		{"lifetime ttl+leeway", map[string]string{"exp": sec(time.Hour + leeway)}, nil},
		{"lifetime ttl+leeway+1s", map[string]string{"exp": sec(time.Hour + leeway + time.Second)}, ErrLifetime},
		{"lifetime a year", map[string]string{"exp": sec(365 * 24 * time.Hour)}, ErrLifetime},
		{"login after iat", map[string]string{"auth_time": sec(leeway + time.Second)}, ErrLifetime},
		{"issued after the refresh window", map[string]string{"auth_time": sec(-24*time.Hour - leeway - time.Second)}, ErrLifetime},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := mint(t, k, claimsJSON(k, iat, tc.over))
			for _, check := range []struct {
				name string
				f    func(*policy.SessionKeys, string) (*Session, error)
			}{{"Verify", m.Verify}, {"Refreshable", m.Refreshable}} {
				_, err := check.f(k, tok)
				if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
					t.Errorf("%s: got %v, want %v", check.name, err, tc.want)
				}
			}
			m.Wait()
			// Refused tokens never reach the cache.
			if _, err := m.Verify(k, tok); tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Verify again: got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestVerify_CacheAppliesShorterTTL (issue 18, point 6): a token verified
// and cached under ttl = 2h is refused once the settings say ttl = 1h: the
// cache must not serve it past the lifetime rule.
func TestVerify_CacheAppliesShorterTTL(t *testing.T) {
	m, _, _ := newTest(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	long, _ := policy.NewSessionKeys(&policy.SessionsSpec{HMACKey: key, TTL: 2 * time.Hour, RefreshTTL: 24 * time.Hour, Issuer: "t"})
	short, _ := policy.NewSessionKeys(&policy.SessionsSpec{HMACKey: key, TTL: time.Hour, RefreshTTL: 24 * time.Hour, Issuer: "t"})
	tok, err := m.Issue(long, &Session{Subject: "alice", App: "portal", Provider: "local"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(long, tok); err != nil {
		t.Fatal(err)
	}
	m.Wait()
	if _, err := m.Verify(short, tok); !errors.Is(err, ErrLifetime) {
		t.Errorf("cached 2h token under ttl = 1h: got %v, want ErrLifetime", err)
	}
	if _, err := m.Refreshable(short, tok); !errors.Is(err, ErrLifetime) {
		t.Errorf("Refreshable: got %v, want ErrLifetime", err)
	}
}

// Issued tokens write their times as JSON integers.
func TestIssue_IntegerTimes(t *testing.T) {
	m, k, _ := newTest(t)
	tok, err := m.Issue(k, &Session{Subject: "alice", App: "portal", Provider: "local"})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"exp", "nbf", "iat", "auth_time"} {
		var u unixTime
		if err := u.UnmarshalJSON(raw[name]); err != nil {
			t.Errorf("%s = %s: %v", name, raw[name], err)
		}
	}
}
