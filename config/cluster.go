package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/settings"
)

// Defaults and bounds of the cluster block.
const (
	defaultKeyPrefix    = "gatehouse:"
	defaultDialTimeout  = 5 * time.Second
	defaultReadTimeout  = 3 * time.Second
	defaultWriteTimeout = 3 * time.Second
	minRedisTimeout     = 10 * time.Millisecond
	maxRedisTimeout     = time.Minute
	maxKeyPrefix        = 64
)

// clusterSchema is the cluster block. At most one may exist across all
// files.
var clusterSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "redis"},
		{Name: "ca_file"},
		{Name: "username"},
		{Name: "password"},
		{Name: "key_prefix"},
		{Name: "dial_timeout"},
		{Name: "read_timeout"},
		{Name: "write_timeout"},
		{Name: "sentinel_master"},
		{Name: "sentinel_addrs"},
		{Name: "sentinel_password"},
		{Name: "limits_on_error"},
		{Name: "rate_limits_on_error"},
		{Name: "encryption_key"},
	},
}

// keyPrefixRE is what key_prefix may hold: no spaces, quotes or braces
// (braces are Redis Cluster hash tags), and a final ":" so that one
// prefix is never the start of another application's ("gatehouse" would
// be a prefix of "gatehouse2").
var keyPrefixRE = regexp.MustCompile(`^[A-Za-z0-9_.-][A-Za-z0-9_.:-]*:$`)

// Cluster is the decoded cluster block.
type Cluster struct {
	Spec settings.Cluster

	DeclRange hcl.Range
}

// decodeClusterBlock decodes a cluster block and checks it whole: a
// redis URL (or Sentinel), no password inside the URL, a CA only for
// rediss://, credentials that go together, bounded timeouts.
func decodeClusterBlock(block *hcl.Block, ctx *hcl.EvalContext, basedir string) (*Cluster, hcl.Diagnostics) {
	c := &Cluster{DeclRange: block.DefRange, Spec: settings.Cluster{
		KeyPrefix:         defaultKeyPrefix,
		LimitsOnError:     settings.LimitsClosed,
		RateLimitsOnError: settings.LimitsOpen,
		DialTimeout:       defaultDialTimeout,
		ReadTimeout:       defaultReadTimeout,
		WriteTimeout:      defaultWriteTimeout,
		Origin:            origin(block.DefRange),
	}}
	content, diags := block.Body.Content(clusterSchema)
	sp := &c.Spec
	attrs := content.Attributes
	var u *redisURL
	var d hcl.Diagnostics
	for _, as := range clusterSchema.Attributes {
		attr := attrs[as.Name]
		if attr == nil {
			continue
		}
		switch as.Name {
		case "redis":
			u, d = decodeRedisURL(attr, ctx)
		case "ca_file":
			sp.CAFile, d = decodePath(attr, ctx, basedir)
			if !d.HasErrors() {
				sp.RootCAs, d = readCAFile(sp.CAFile, basedir, attr)
			}
		case "username":
			sp.Username, d = decodeNonEmpty(attr, ctx)
		case "password":
			sp.Password, d = decodeNonEmpty(attr, ctx)
		case "key_prefix":
			sp.KeyPrefix, d = decodeKeyPrefix(attr, ctx)
		case "dial_timeout":
			sp.DialTimeout, d = decodeRedisTimeout(attr, ctx)
		case "read_timeout":
			sp.ReadTimeout, d = decodeRedisTimeout(attr, ctx)
		case "write_timeout":
			sp.WriteTimeout, d = decodeRedisTimeout(attr, ctx)
		case "sentinel_master":
			sp.SentinelMaster, d = decodeNonEmpty(attr, ctx)
			if !d.HasErrors() && strings.ContainsFunc(sp.SentinelMaster, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
				d = append(d, errorAt(summaryInvalidSentinel,
					fmt.Sprintf("sentinel_master = %s contains spaces or control characters; write the master's name as the sentinels know it (\"sentinel monitor NAME …\").", shown(attr.Expr, sp.SentinelMaster)),
					attr.Expr.Range(), attr.Range.Ptr()))
			}
		case "sentinel_addrs":
			sp.SentinelAddrs, d = decodeSentinelAddrs(attr, ctx)
		case "sentinel_password":
			sp.SentinelPassword, d = decodeNonEmpty(attr, ctx)
		case "limits_on_error":
			sp.LimitsOnError, d = decodeOnError(attr, ctx, settings.LimitsClosed,
				`"closed" (refuse logins while Redis cannot count failures; the default) or "open" (let them go on to the password check)`)
		case "rate_limits_on_error":
			sp.RateLimitsOnError, d = decodeOnError(attr, ctx, settings.LimitsOpen,
				`"open" (requests go on without their rate limits while Redis cannot count them; the default) or "closed" (refuse them with 503)`)
		case "encryption_key":
			sp.EncryptionKey, d = decodeEncryptionKey(attr, ctx)
		}
		diags = append(diags, d...)
	}
	diags = append(diags, c.check(block, attrs, u)...)
	return c, diags
}

// check reports what is wrong between the attributes, and fills the spec
// from the URL.
func (c *Cluster) check(block *hcl.Block, attrs hcl.Attributes, u *redisURL) hcl.Diagnostics {
	var diags hcl.Diagnostics
	sp := &c.Spec
	master, addrs := attrs["sentinel_master"], attrs["sentinel_addrs"]
	sentinel := master != nil || addrs != nil
	if sentinel && (master == nil || addrs == nil) {
		have, missing := master, "sentinel_addrs"
		if master == nil {
			have, missing = addrs, "sentinel_master"
		}
		diags = append(diags, errorAt(summaryInvalidSentinel,
			fmt.Sprintf("Redis Sentinel needs both sentinel_master and sentinel_addrs; %s is missing. Write for example sentinel_master = \"gatehouse\" and sentinel_addrs = [\"10.0.0.1:26379\", \"10.0.0.2:26379\", \"10.0.0.3:26379\"].", missing),
			have.Range, block.DefRange.Ptr()))
	}
	if sp := attrs["sentinel_password"]; sp != nil && !sentinel {
		diags = append(diags, errorAt(summaryInvalidSentinel,
			"sentinel_password is the password of the sentinels; it needs sentinel_master and sentinel_addrs. Remove it, or configure Sentinel.",
			sp.Range, block.DefRange.Ptr()))
	}
	redisAttr := attrs["redis"]
	switch {
	case redisAttr == nil && !sentinel:
		diags = append(diags, errorAt("Missing required argument",
			"The cluster block needs redis = \"redis://host:6379\" (or \"rediss://…\" for TLS), or Redis Sentinel (sentinel_master and sentinel_addrs).",
			block.DefRange, nil))
	case u != nil:
		sp.TLS, sp.DB = u.tls, u.db
		if sentinel && u.addr != "" {
			diags = append(diags, errorAt(summaryInvalidURL,
				fmt.Sprintf("With Sentinel the master's address comes from the sentinels, so redis gives only the scheme and database: remove the host %q, e.g. redis = \"redis://\", \"rediss://\" (TLS) or \"redis:///2\" (database 2), or leave redis out.", u.addr),
				redisAttr.Expr.Range(), redisAttr.Range.Ptr()))
		}
		if !sentinel && u.addr == "" {
			diags = append(diags, errorAt(summaryInvalidURL,
				"redis names no host; write for example \"redis://10.0.0.5:6379\" or \"rediss://redis.internal:6380\".",
				redisAttr.Expr.Range(), redisAttr.Range.Ptr()))
		}
		if !sentinel {
			sp.Addr = u.addr
		}
		if u.user != "" {
			if ua := attrs["username"]; ua != nil {
				diags = append(diags, errorAt(summaryConflictingCredentials,
					"The ACL user is given twice, in the redis URL and in username; keep one (username is clearer).",
					ua.Range, block.DefRange.Ptr()))
			} else {
				sp.Username = u.user
			}
		}
	}
	if ca := attrs["ca_file"]; ca != nil && u != nil && !u.tls {
		diags = append(diags, errorAt(summaryConflictingTLS,
			"ca_file verifies the server's TLS certificate, but the redis URL is plain redis://. Use rediss:// for TLS, or remove ca_file.",
			ca.Range, block.DefRange.Ptr()))
	}
	if ca := attrs["ca_file"]; ca != nil && u == nil && redisAttr == nil && sentinel {
		diags = append(diags, errorAt(summaryConflictingTLS,
			"ca_file verifies a TLS certificate, but without redis = \"rediss://\" the connections are plain. Add redis = \"rediss://\", or remove ca_file.",
			ca.Range, block.DefRange.Ptr()))
	}
	if sp.Username != "" && sp.Password == "" && attrs["password"] == nil {
		at := block.DefRange
		if ua := attrs["username"]; ua != nil {
			at = ua.Range
		}
		diags = append(diags, errorAt(summaryMissingPassword,
			"An ACL user needs its password: add password = env(\"GATEHOUSE_REDIS_PASSWORD\").",
			at, block.DefRange.Ptr()))
	}
	if !sp.TLS && !diags.HasErrors() {
		if far := nonLoopback(sp); far != "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  summaryUnencryptedRedis,
				Detail:   fmt.Sprintf("%s is reached without TLS: the Redis password and the session ids travel in clear text. Use rediss:// (with ca_file for a private CA).", far),
				Subject:  block.DefRange.Ptr(),
			})
		}
	}
	return diags
}

// nonLoopback returns the first address of sp that is not loopback, or "".
func nonLoopback(sp *settings.Cluster) string {
	for _, a := range append([]string{sp.Addr}, sp.SentinelAddrs...) {
		if a == "" {
			continue
		}
		if h, _, err := net.SplitHostPort(a); err == nil && !loopbackHost(h) {
			return a
		}
	}
	return ""
}

// redisURL is what a redis attribute says.
type redisURL struct {
	tls  bool
	addr string // host:port; "" when the URL names no host
	user string
	db   int
}

// decodeRedisURL reads redis://[user@]host[:port][/db] or rediss://…. A
// password inside the URL is refused, and the URL is then never echoed:
// secrets belong in password = env("…").
func decodeRedisURL(attr *hcl.Attribute, ctx *hcl.EvalContext) (*redisURL, hcl.Diagnostics) {
	s, diags := decodeString(attr, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	const hint = `Write for example "redis://10.0.0.5:6379", "rediss://redis.internal:6380/2" (TLS, database 2) or "redis://gatehouse@10.0.0.5:6379" (ACL user); the password goes in password = env("…").`
	show := shown(attr.Expr, s)
	if strings.Contains(s, "@") {
		show = "the URL" // it may hold a password: never echo it
	}
	bad := func(why string) (*redisURL, hcl.Diagnostics) {
		return nil, append(diags, errorAt(summaryInvalidURL,
			fmt.Sprintf("redis = %s %s. %s", show, why, hint), attr.Expr.Range(), attr.Range.Ptr()))
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad("does not parse as a URL")
	}
	if _, has := u.User.Password(); has {
		return nil, append(diags, errorAt(summaryPasswordInURL,
			"The redis URL contains a password. Remove it from the URL and set password = env(\"GATEHOUSE_REDIS_PASSWORD\") (or file(\"…\")), so that it is never written in a configuration file.",
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	switch {
	case u.Scheme != "redis" && u.Scheme != "rediss":
		return bad("must start with redis:// or rediss:// (TLS)")
	case u.Opaque != "":
		return bad("must start with redis:// or rediss://, with the two slashes")
	case u.RawQuery != "" || u.ForceQuery:
		return bad("has query parameters; set timeouts with dial_timeout, read_timeout and write_timeout")
	case u.Fragment != "":
		return bad("has a fragment")
	case u.Port() != "" && !validPort(u.Port()):
		return bad("has a port outside 1-65535")
	case u.Port() != "" && u.Hostname() == "":
		return bad("has a port but no host")
	}
	o, err := redis.ParseURL(s)
	if err != nil {
		return bad("is not a Redis URL (the path is the database number, such as /2)")
	}
	if o.DB < 0 {
		return bad("has a negative database number")
	}
	out := &redisURL{tls: u.Scheme == "rediss", user: u.User.Username(), db: o.DB}
	if u.Hostname() != "" {
		out.addr = o.Addr // port 6379 when not given
	}
	return out, diags
}

// decodeKeyPrefix reads key_prefix: 2 to 64 characters of letters,
// digits, "_", ".", "-" and ":", ending with ":".
func decodeKeyPrefix(attr *hcl.Attribute, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	s, diags := decodeString(attr, ctx)
	if diags.HasErrors() {
		return "", diags
	}
	if len(s) > maxKeyPrefix || !keyPrefixRE.MatchString(s) {
		why := "may contain only letters, digits, \"_\", \".\", \"-\" and \":\""
		switch {
		case len(s) > maxKeyPrefix:
			why = fmt.Sprintf("is longer than %d characters", maxKeyPrefix)
		case s == "" || s == ":":
			why = "is empty"
		case keyPrefixRE.MatchString(s + ":"):
			why = "must end with \":\", so that it never is the start of another application's prefix"
		}
		return "", append(diags, errorAt(summaryInvalidKeyPrefix,
			fmt.Sprintf("key_prefix = %s %s. Write for example \"gatehouse:\" or \"gh-prod:\"; instances that share state must use the same prefix.", shown(attr.Expr, s), why),
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	return s, diags
}

// decodeRedisTimeout reads a duration from 10ms to 1m.
func decodeRedisTimeout(attr *hcl.Attribute, ctx *hcl.EvalContext) (time.Duration, hcl.Diagnostics) {
	d, diags := decodeDuration(attr, ctx, false)
	if diags.HasErrors() {
		return 0, diags
	}
	if d < minRedisTimeout || d > maxRedisTimeout {
		return 0, append(diags, errorAt(summaryInvalidDuration,
			fmt.Sprintf("%s = %s is out of range; use a duration from %s to %s, such as \"3s\".", attr.Name, d, minRedisTimeout, maxRedisTimeout),
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	return d, diags
}

// decodeSentinelAddrs reads a non-empty list of distinct host:port.
func decodeSentinelAddrs(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]string, hcl.Diagnostics) {
	items, diags := decodeStringList(attr, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	if len(items) == 0 {
		return nil, append(diags, errorAt(summaryEmptyList,
			"sentinel_addrs must list the sentinels, such as [\"10.0.0.1:26379\", \"10.0.0.2:26379\", \"10.0.0.3:26379\"].",
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	out := make([]string, 0, len(items))
	seen := map[string]bool{}
	for _, it := range items {
		h, p, err := net.SplitHostPort(it.Value)
		switch {
		case err != nil || h == "" || !validPort(p):
			diags = append(diags, errorAt(summaryInvalidAddress,
				fmt.Sprintf("%s in sentinel_addrs is not host:port; write for example \"10.0.0.1:26379\" or \"sentinel-1.internal:26379\".", shown(it.Expr, it.Value)),
				it.Expr.Range(), attr.Range.Ptr()))
		case seen[it.Value]:
			diags = append(diags, errorAt(summaryDuplicateKeyInMap,
				fmt.Sprintf("%s is listed twice in sentinel_addrs.", shown(it.Expr, it.Value)),
				it.Expr.Range(), attr.Range.Ptr()))
		default:
			seen[it.Value] = true
			out = append(out, it.Value)
		}
	}
	return out, diags
}

// minEncryptionKey is the shortest encryption_key accepted: 32 bytes, as
// many as the AES-256 key derived from it.
const minEncryptionKey = 32

// decodeOnError decodes limits_on_error or rate_limits_on_error: "closed"
// or "open"; def is the default, kept on an error, and choices says what
// each value does.
func decodeOnError(attr *hcl.Attribute, ctx *hcl.EvalContext, def, choices string) (string, hcl.Diagnostics) {
	v, diags := decodeNonEmpty(attr, ctx)
	if diags.HasErrors() {
		return def, diags
	}
	switch v {
	case settings.LimitsClosed, settings.LimitsOpen:
		return v, nil
	}
	return def, hcl.Diagnostics{errorAt(summaryInvalidLimitsOnError,
		fmt.Sprintf("%s = %q: write %s.", attr.Name, v, choices), attr.Expr.Range(), attr.Range.Ptr())}
}

// decodeEncryptionKey decodes encryption_key: a secret of at least
// minEncryptionKey bytes, meant for env() or file(). Its value is never
// shown.
func decodeEncryptionKey(attr *hcl.Attribute, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	v, diags := decodeNonEmpty(attr, ctx)
	if diags.HasErrors() {
		return "", diags
	}
	if len(v) < minEncryptionKey {
		return "", hcl.Diagnostics{errorAt(summaryWeakEncryptionKey,
			fmt.Sprintf("encryption_key has %d bytes; it needs at least %d (e.g. `openssl rand -base64 48`, given with env() or file()).", len(v), minEncryptionKey),
			attr.Expr.Range(), attr.Range.Ptr())}
	}
	return v, nil
}
