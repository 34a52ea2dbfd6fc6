package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/gatehouse-dev/gatehouse/settings"
)

// Defaults of the tls block.
const (
	// defaultTLSListen is server.tls_listen when a tls block exists.
	defaultTLSListen = ":8443"
	// defaultHSTSMaxAge is one year, the usual recommendation.
	defaultHSTSMaxAge = 365 * 24 * time.Hour
	// defaultACMEDirectory is Let's Encrypt's production directory.
	defaultACMEDirectory = "https://acme-v02.api.letsencrypt.org/directory"
	// letsEncryptStaging is named in hints.
	letsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// tlsSchema is the tls block: a static certificate, or an acme block.
var tlsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "cert_file"},
		{Name: "key_file"},
		{Name: "hsts_max_age"},
		{Name: "hsts_include_subdomains"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "acme"}},
}

var acmeSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "email"},
		{Name: "domains", Required: true},
		{Name: "directory"},
		{Name: "cache_dir", Required: true},
		{Name: "ca_roots"},
		{Name: "eab_kid"},
		{Name: "eab_hmac"},
	},
}

// TLS is the decoded tls block. Spec.CertFile, KeyFile, ACME.CacheDir and
// ACME.CARootsFile are absolute: relative paths are resolved against the
// directory of the file that declares them.
type TLS struct {
	Spec settings.TLS

	DeclRange hcl.Range
}

// decodeTLSBlock decodes a tls block and checks everything that does not
// depend on other blocks: one certificate source, readable files, a
// matching key pair, valid domains, a usable cache directory.
func decodeTLSBlock(block *hcl.Block, ctx *hcl.EvalContext, basedir string) (*TLS, hcl.Diagnostics) {
	t := &TLS{DeclRange: block.DefRange, Spec: settings.TLS{HSTSMaxAge: defaultHSTSMaxAge, Origin: origin(block.DefRange)}}
	content, diags := block.Body.Content(tlsSchema)
	var d hcl.Diagnostics
	var certAttr, keyAttr *hcl.Attribute
	for _, as := range tlsSchema.Attributes {
		attr := content.Attributes[as.Name]
		if attr == nil {
			continue
		}
		switch as.Name {
		case "cert_file":
			certAttr = attr
			t.Spec.CertFile, d = decodePath(attr, ctx, basedir)
		case "key_file":
			keyAttr = attr
			t.Spec.KeyFile, d = decodePath(attr, ctx, basedir)
		case "hsts_max_age":
			t.Spec.HSTSMaxAge, d = decodeDuration(attr, ctx, true)
			if !d.HasErrors() && t.Spec.HSTSMaxAge%time.Second != 0 {
				d = append(d, errorAt(summaryInvalidDuration,
					"hsts_max_age is sent in whole seconds; use a duration such as \"8760h\" (one year), or \"0s\" to send no header.",
					attr.Expr.Range(), attr.Range.Ptr()))
			}
		case "hsts_include_subdomains":
			t.Spec.HSTSIncludeSubdomains, d = decodeBool(attr, ctx)
		}
		diags = append(diags, d...)
	}
	var acmeBlock *hcl.Block
	for _, b := range content.Blocks {
		if acmeBlock != nil {
			diags = append(diags, errorAt(summaryDuplicateACME,
				fmt.Sprintf("Only one acme block is allowed in the tls block; %s. List every name in its domains.", firstDeclared(acmeBlock.DefRange)),
				b.DefRange, block.DefRange.Ptr()))
			continue
		}
		acmeBlock = b
		a, d := decodeACMEBlock(b, ctx, basedir)
		diags = append(diags, d...)
		t.Spec.ACME = a
	}
	diags = append(diags, checkCertificateSource(t, acmeBlock, certAttr, keyAttr)...)
	return t, diags
}

// checkCertificateSource requires exactly one of acme and cert_file plus
// key_file, and loads the static pair to check that it is usable.
func checkCertificateSource(t *TLS, acmeBlock *hcl.Block, certAttr, keyAttr *hcl.Attribute) hcl.Diagnostics {
	static := certAttr != nil || keyAttr != nil
	switch {
	case acmeBlock != nil && static:
		at := certAttr
		if at == nil {
			at = keyAttr
		}
		return hcl.Diagnostics{errorAt(summaryConflictingTLS,
			fmt.Sprintf("The tls block has both an acme block (%s) and a static certificate; choose one. Remove cert_file and key_file to get certificates automatically, or remove the acme block to serve your own.", pos(acmeBlock.DefRange)),
			at.Range, t.DeclRange.Ptr())}
	case acmeBlock == nil && !static:
		return hcl.Diagnostics{errorAt(summaryMissingCertificate,
			"The tls block needs a certificate: an acme block (automatic certificates, e.g. from Let's Encrypt) or cert_file and key_file.",
			t.DeclRange, nil)}
	case acmeBlock != nil:
		return nil
	case certAttr == nil || keyAttr == nil:
		missing, have := "key_file", certAttr
		if certAttr == nil {
			missing, have = "cert_file", keyAttr
		}
		return hcl.Diagnostics{errorAt(summaryMissingCertificate,
			fmt.Sprintf("A static certificate needs both cert_file and key_file; %s is missing.", missing),
			have.Range, t.DeclRange.Ptr())}
	}
	if t.Spec.CertFile == "" || t.Spec.KeyFile == "" {
		return nil // already reported
	}
	return checkKeyPair(t.Spec.CertFile, t.Spec.KeyFile, certAttr, keyAttr)
}

// checkKeyPair loads the certificate chain and key as the TLS listener
// will, and warns when the certificate has expired or is not valid yet.
func checkKeyPair(certFile, keyFile string, certAttr, keyAttr *hcl.Attribute) hcl.Diagnostics {
	certPEM, err := readSmallFile(certFile)
	if err != nil {
		return hcl.Diagnostics{errorAt(summaryUnreadableFile, fmt.Sprintf("cert_file: %v.", err), certAttr.Expr.Range(), certAttr.Range.Ptr())}
	}
	keyPEM, err := readSmallFile(keyFile)
	if err != nil {
		return hcl.Diagnostics{errorAt(summaryUnreadableFile, fmt.Sprintf("key_file: %v.", err), keyAttr.Expr.Range(), keyAttr.Range.Ptr())}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return hcl.Diagnostics{errorAt(summaryInvalidCertificate,
			fmt.Sprintf("cert_file and key_file do not make a usable certificate: %v. cert_file must hold the PEM certificate chain (leaf first) and key_file its PEM private key.", err),
			keyAttr.Expr.Range(), keyAttr.Range.Ptr())}
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil // X509KeyPair parsed it; cannot happen
		}
	}
	now := time.Now()
	if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return hcl.Diagnostics{{
			Severity: hcl.DiagWarning,
			Summary:  summaryCertificateNotValid,
			Detail: fmt.Sprintf("The certificate in cert_file is valid from %s to %s only; clients will refuse it. Replace the files (gatehouse reloads them when they change).",
				leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339)),
			Subject: certAttr.Expr.Range().Ptr(),
			Context: certAttr.Range.Ptr(),
		}}
	}
	return nil
}

// decodeACMEBlock decodes tls { acme { … } }.
func decodeACMEBlock(block *hcl.Block, ctx *hcl.EvalContext, basedir string) (*settings.ACME, hcl.Diagnostics) {
	a := &settings.ACME{DirectoryURL: defaultACMEDirectory}
	content, diags := block.Body.Content(acmeSchema)
	var kidAttr, hmacAttr *hcl.Attribute
	var d hcl.Diagnostics
	for _, as := range acmeSchema.Attributes {
		attr := content.Attributes[as.Name]
		if attr == nil {
			continue
		}
		switch as.Name {
		case "email":
			a.Email, d = decodeString(attr, ctx)
			if !d.HasErrors() && !validEmail(a.Email) {
				d = append(d, errorAt(summaryInvalidEmail,
					fmt.Sprintf("email = %s is not an email address such as \"ops@example.com\". Leave email out to register without a contact.", shown(attr.Expr, a.Email)),
					attr.Expr.Range(), attr.Range.Ptr()))
				a.Email = ""
			}
		case "domains":
			a.Domains, d = decodeDomains(attr, ctx)
		case "directory":
			a.DirectoryURL, d = decodeDirectoryURL(attr, ctx)
		case "cache_dir":
			a.CacheDir, d = decodePath(attr, ctx, basedir)
			if !d.HasErrors() {
				d = append(d, checkCacheDir(a.CacheDir, attr)...)
			}
		case "ca_roots":
			a.CARootsFile, d = decodePath(attr, ctx, basedir)
			if !d.HasErrors() {
				a.CARoots, d = readCAFile(a.CARootsFile, basedir, attr)
			}
		case "eab_kid":
			kidAttr = attr
			a.EABKeyID, d = decodeNonEmpty(attr, ctx)
		case "eab_hmac":
			hmacAttr = attr
			a.EABKey, d = decodeEABKey(attr, ctx)
		}
		diags = append(diags, d...)
	}
	if (kidAttr == nil) != (hmacAttr == nil) {
		have, missing := kidAttr, "eab_hmac"
		if kidAttr == nil {
			have, missing = hmacAttr, "eab_kid"
		}
		diags = append(diags, errorAt(summaryInvalidEAB,
			fmt.Sprintf("External account binding needs both eab_kid and eab_hmac; %s is missing. Your CA gives you both; pass the HMAC key with env().", missing),
			have.Range, block.DefRange.Ptr()))
	}
	return a, diags
}

// decodePath reads a non-empty file or directory path, relative to basedir
// unless absolute.
func decodePath(attr *hcl.Attribute, ctx *hcl.EvalContext, basedir string) (string, hcl.Diagnostics) {
	p, diags := decodeNonEmpty(attr, ctx)
	if diags.HasErrors() {
		return "", diags
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(basedir, p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p, diags
}

// decodeDomains reads the names certificates are requested for. Each is
// checked by checkDomain and folded to lower case without a trailing dot;
// a name listed twice is an error.
func decodeDomains(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]string, hcl.Diagnostics) {
	items, diags := decodeStringList(attr, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	if len(items) == 0 {
		return nil, append(diags, errorAt(summaryEmptyList,
			"domains must list at least one name, such as [\"api.example.com\"].", attr.Expr.Range(), attr.Range.Ptr()))
	}
	out := make([]string, 0, len(items))
	seen := make(map[string]hcl.Range, len(items))
	for _, it := range items {
		name, problem := checkDomain(it.Value)
		if problem != "" {
			diags = append(diags, errorAt(summaryInvalidDomain,
				fmt.Sprintf("%s %s.", shown(it.Expr, it.Value), problem), it.Expr.Range(), attr.Range.Ptr()))
			continue
		}
		if first, dup := seen[name]; dup {
			diags = append(diags, errorAt(summaryInvalidDomain,
				fmt.Sprintf("%q is listed twice (names are compared without case and trailing dot); %s. Remove one.", name, firstDeclared(first)),
				it.Expr.Range(), attr.Range.Ptr()))
			continue
		}
		seen[name] = it.Expr.Range()
		out = append(out, name)
	}
	return out, diags
}

// checkDomain returns name in lower case without a trailing dot, or why
// it cannot get a certificate through HTTP-01 or TLS-ALPN-01: it must be a
// DNS name of at least two labels, each 1 to 63 letters, digits or
// hyphens (not at either end), at most 253 characters in all. Wildcards
// need the DNS-01 challenge, which gatehouse does not do; IP addresses and
// single-label names cannot get a certificate from a public CA.
func checkDomain(s string) (name, problem string) {
	name = strings.TrimSuffix(strings.ToLower(s), ".")
	switch {
	case name == "":
		return "", "is empty"
	case strings.Contains(name, "*"):
		return "", "is a wildcard; wildcard certificates need the DNS-01 challenge, which gatehouse does not support. List each name, or use cert_file and key_file with a wildcard certificate you obtain yourself"
	}
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return "", "is an IP address; ACME certificates through HTTP-01 and TLS-ALPN-01 are for DNS names only. Use a name, or cert_file and key_file"
	}
	if len(name) > 253 {
		return "", "is longer than 253 characters"
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return "", "has a single label; certificates are issued for full names such as \"api.example.com\" (not \"localhost\")"
	}
	for _, l := range labels {
		if l == "" {
			return "", "has an empty label (\"..\" or a leading dot)"
		}
		if len(l) > 63 {
			return "", fmt.Sprintf("has the label %q, longer than 63 characters", l)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", fmt.Sprintf("has the label %q, which starts or ends with a hyphen", l)
		}
		for _, r := range l {
			switch {
			case r >= 0x80:
				return "", "is not ASCII; write an internationalized name in its xn-- (punycode) form"
			case r != '-' && (r < 'a' || r > 'z') && (r < '0' || r > '9'):
				return "", fmt.Sprintf("contains %q; names have only letters, digits, hyphens and dots", r)
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", "ends in an all-numeric label, which no top-level domain is"
	}
	return name, ""
}

// decodeDirectoryURL reads the ACME directory: https, or http to a
// loopback address (a local test CA).
func decodeDirectoryURL(attr *hcl.Attribute, ctx *hcl.EvalContext) (string, hcl.Diagnostics) {
	return decodeHTTPURL(attr, ctx, fmt.Sprintf("Write the CA's directory URL, such as %q (Let's Encrypt staging, to try things out).", letsEncryptStaging))
}

// decodeEABKey reads the External Account Binding HMAC key, base64url
// encoded as CAs hand it out (padding optional). It is a secret: the value
// is never shown.
func decodeEABKey(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]byte, hcl.Diagnostics) {
	s, diags := decodeString(attr, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	k, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(k) == 0 {
		return nil, append(diags, errorAt(summaryInvalidEAB,
			"eab_hmac is not a base64url-encoded key (the alphabet A-Z a-z 0-9 - _). Copy it exactly as your CA gives it, and pass it with env().",
			attr.Expr.Range(), attr.Range.Ptr()))
	}
	return k, diags
}

// checkCacheDir checks that the cache directory exists and is writable,
// or could be created: its nearest existing parent is a writable
// directory. It never creates anything (validate must not). A directory
// that group or others may read gets a warning: it holds private keys.
func checkCacheDir(dir string, attr *hcl.Attribute) hcl.Diagnostics {
	fail := func(format string, args ...any) hcl.Diagnostics {
		return hcl.Diagnostics{errorAt(summaryUnwritableDir,
			fmt.Sprintf("cache_dir %s: %s. gatehouse keeps its ACME account key and certificates there; give it a directory it can write, such as \"/var/lib/gatehouse/acme\".", dir, fmt.Sprintf(format, args...)),
			attr.Expr.Range(), attr.Range.Ptr())}
	}
	st, err := os.Stat(dir)
	if err == nil {
		if !st.IsDir() {
			return fail("not a directory")
		}
		if err := writableDir(dir); err != nil {
			return fail("not writable (%v)", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return hcl.Diagnostics{{
				Severity: hcl.DiagWarning,
				Summary:  summaryOpenCacheDir,
				Detail:   fmt.Sprintf("cache_dir %s has mode %v; it holds private keys, so only gatehouse's user should have access. Run: chmod 700 %s", dir, st.Mode().Perm(), dir),
				Subject:  attr.Expr.Range().Ptr(),
				Context:  attr.Range.Ptr(),
			}}
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fail("%v", unwrapPathError(err))
	}
	for parent := filepath.Dir(dir); ; parent = filepath.Dir(parent) {
		st, err := os.Stat(parent)
		switch {
		case err == nil && !st.IsDir():
			return fail("cannot be created, %s is not a directory", parent)
		case err == nil:
			if err := writableDir(parent); err != nil {
				return fail("does not exist and cannot be created in %s (%v)", parent, err)
			}
			return nil
		case !errors.Is(err, fs.ErrNotExist):
			return fail("%v", unwrapPathError(err))
		}
		if parent == filepath.Dir(parent) {
			return fail("no parent directory exists")
		}
	}
}

// checkTLS checks what the tls block and server.tls_listen say together:
// tls_listen needs a tls block, and the TLS listener must not share a port
// with listen or admin_listen.
func (c *Config) checkTLS() hcl.Diagnostics {
	s := c.Server
	if s == nil {
		return nil
	}
	if c.TLS == nil {
		if s.TLSListen == "" {
			return nil
		}
		return hcl.Diagnostics{errorAt(summaryMissingTLS,
			"tls_listen is set but no tls block says which certificate to serve. Add a tls block (tls { acme { … } } or cert_file and key_file), or remove tls_listen.",
			s.TLSListenRange, s.DeclRange.Ptr())}
	}
	addr, blame := s.TLSListen, s.TLSListenRange
	if addr == "" {
		addr, blame = defaultTLSListen, c.TLS.DeclRange
	}
	for _, other := range []struct{ name, addr string }{{"listen", s.Listen}, {"admin_listen", s.AdminListen}} {
		if sameListener(addr, other.addr) {
			return hcl.Diagnostics{errorAt(summaryInvalidAddress,
				fmt.Sprintf("tls_listen %q overlaps %s %q. With a tls block, listen serves plain HTTP (ACME HTTP-01 challenges and redirects) and tls_listen serves HTTPS: give each its own port, such as \":80\" and \":443\".", addr, other.name, other.addr),
				blame, nil)}
		}
	}
	return nil
}
