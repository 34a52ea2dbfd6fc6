package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Reasons of the method-override check.
const (
	reasonMethodOverride = "method_override_refused"
	reasonFormUnreadable = "form_body_unreadable"
)

// methodOverride refuses (400 method_override_refused) a request that asks
// the upstream's framework to take it for another method than the one
// gatehouse authorized: Symfony, Laravel, Rails, Express method-override and
// ASP.NET turn a POST into a DELETE, PUT or PATCH when it carries
//   - an X-HTTP-Method-Override, X-HTTP-Method or X-Method-Override header,
//     in any spelling (policy.HeaderFold);
//   - a _method parameter in the query, or in a form body
//     (application/x-www-form-urlencoded, multipart/*, or a POST body
//     without Content-Type, which Rack reads as a form).
//
// An override naming the request's own method (any case) is harmless and
// passes; the headers are removed before forwarding all the same
// (policy.ClientHeaders). Parameter names are matched the way PHP and Rack
// read them: percent-decoded, any case, with ".", " " or "[" for the "_",
// and "_method[…]" array forms. A form body is read whole (up to
// max_body_bytes, 413 beyond) to find the parameter and is then forwarded
// unchanged; one that cannot be read with certainty (an unparsable multipart
// body, a Content-Encoding, several Content-Type headers) is refused with
// form_body_unreadable.
//
// It runs after authorize, so only allowed requests have their bodies read.
// Requests without an override pay one pass over header names, and nothing
// more unless the query has a "%" or "method" in it or the body is a form.
type methodOverride struct{}

func (methodOverride) serve(x *transaction) error {
	r := x.r
	for k := range r.Header {
		if !isOverrideHeader(k) {
			continue
		}
		for _, v := range r.Header[k] {
			if !sameMethod(v, r.Method) {
				return refuse(http.StatusBadRequest, reasonMethodOverride, fmt.Errorf("header %s asks for method %.32q", k, v))
			}
		}
	}
	if q := r.URL.RawQuery; q != "" && mayNameMethod(q) {
		if v, ok := overrideParam(q, r.Method); ok {
			return refuse(http.StatusBadRequest, reasonMethodOverride, fmt.Errorf("query parameter asks for method %.32q", v))
		}
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	kind, err := formKind(r)
	if err != nil {
		return refuse(http.StatusBadRequest, reasonFormUnreadable, err)
	}
	if kind == "" {
		return nil
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return refuse(http.StatusUnsupportedMediaType, reasonFormUnreadable, fmt.Errorf("form body with Content-Encoding %.32q", enc))
	}
	body, err := x.readWholeBody()
	if err != nil {
		return err
	}
	// Forwarded as read, with a Content-Length; forward reads it no more.
	x.setBody(body)
	v, found, err := formOverride(kind, r.Header.Get("Content-Type"), body, r.Method)
	if err != nil {
		return refuse(http.StatusBadRequest, reasonFormUnreadable, err)
	}
	if found {
		return refuse(http.StatusBadRequest, reasonMethodOverride, fmt.Errorf("form field asks for method %.32q", v))
	}
	return nil
}

var _ stage = methodOverride{}

// isOverrideHeader reports whether a header name is one of the
// method-override headers in any spelling. Names of other lengths cost one
// comparison.
func isOverrideHeader(k string) bool {
	switch len(k) {
	case len("x-http-method"):
		return policy.HeaderFold(k, "x-http-method")
	case len("x-method-override"):
		return policy.HeaderFold(k, "x-method-override")
	case len("x-http-method-override"):
		return policy.HeaderFold(k, "x-http-method-override")
	}
	return false
}

// sameMethod reports whether an override value names method itself:
// frameworks upper-case the value and trim nothing but optional white space.
func sameMethod(v, method string) bool {
	return strings.EqualFold(strings.Trim(v, " \t"), method)
}

// mayNameMethod reports whether a raw query or form body can hold a
// _method parameter: it has "method" in any case, or a "%" that could
// encode it.
func mayNameMethod(q string) bool {
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '%':
			return true
		case 'm', 'M':
			if len(q)-i >= len("method") && strings.EqualFold(q[i:i+len("method")], "method") {
				return true
			}
		}
	}
	return false
}

// overrideParam looks for override parameters in a query string or an
// urlencoded body, split at "&" and ";" (Rack splits at both). It returns
// the first value that does not name method.
func overrideParam(q, method string) (string, bool) {
	for q != "" {
		var kv string
		if i := strings.IndexAny(q, "&;"); i >= 0 {
			kv, q = q[:i], q[i+1:]
		} else {
			kv, q = q, ""
		}
		k, v, _ := strings.Cut(kv, "=")
		if !isOverrideParam(unescapeQuery(k)) {
			continue
		}
		if v = unescapeQuery(v); !sameMethod(v, method) {
			return v, true
		}
	}
	return "", false
}

// unescapeQuery decodes s as a query component; a malformed escape leaves s
// as it is (the upstream's decoder may keep it that way too).
func unescapeQuery(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// isOverrideParam reports whether a decoded parameter name is read as
// _method by some framework: any case, "_" or (PHP) ".", " " or "[" first,
// after PHP's removal of leading spaces; "_method[…]" is PHP's array form.
func isOverrideParam(name string) bool {
	name = strings.TrimLeft(name, " ")
	if len(name) < len("_method") {
		return false
	}
	switch name[0] {
	case '_', '.', ' ', '[':
	default:
		return false
	}
	rest := name[1:]
	if !strings.EqualFold(rest[:len("method")], "method") {
		return false
	}
	rest = rest[len("method"):]
	return rest == "" || rest[0] == '['
}

// formKind returns "urlencoded" or "multipart" when the upstream's framework
// would parse r's body as a form, or "". Several Content-Type headers, one
// of them a form type, are an error: which one a framework reads is
// anyone's guess.
func formKind(r *http.Request) (string, error) {
	cts := r.Header["Content-Type"]
	if len(cts) == 0 {
		if r.Method == http.MethodPost {
			return "urlencoded", nil // Rack parses a POST without a type as a form
		}
		return "", nil
	}
	kind := ""
	for _, ct := range cts {
		mt, _, _ := strings.Cut(ct, ";")
		mt = strings.ToLower(strings.Trim(mt, " \t"))
		switch {
		case mt == "application/x-www-form-urlencoded":
			kind = "urlencoded"
		case strings.HasPrefix(mt, "multipart/"):
			kind = "multipart"
		}
	}
	if kind != "" && len(cts) > 1 {
		return "", errors.New("several Content-Type headers on a form body")
	}
	return kind, nil
}

// maxOverrideValue bounds how much of a multipart _method part is read:
// any longer value names no method.
const maxOverrideValue = 64

// formOverride looks for override fields in a form body of kind. It returns
// the first value that does not name method. A multipart body that does not
// parse is an error.
func formOverride(kind, ct string, body []byte, method string) (string, bool, error) {
	if kind == "urlencoded" {
		if s := string(body); mayNameMethod(s) {
			v, found := overrideParam(s, method)
			return v, found, nil
		}
		return "", false, nil
	}
	_, params, err := mime.ParseMediaType(ct)
	if err != nil || params["boundary"] == "" {
		return "", false, errors.New("multipart body without a readable boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		// NextRawPart: a value passes as harmless only when its bytes, not
		// a quoted-printable decoding of them, name the method.
		p, err := mr.NextRawPart()
		// Only a bare io.EOF is the final boundary; a body that ends
		// without one wraps io.EOF and is refused.
		if err == io.EOF { //nolint:errorlint // see above

			return "", false, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("multipart body: %w", err)
		}
		named := false
		for _, cd := range p.Header["Content-Disposition"] {
			_, dp, err := mime.ParseMediaType(cd)
			if err != nil {
				return "", false, fmt.Errorf("multipart part: Content-Disposition: %w", err)
			}
			named = named || isOverrideParam(dp["name"])
		}
		if !named {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p, maxOverrideValue+1))
		if err != nil {
			return "", false, fmt.Errorf("multipart part: %w", err)
		}
		if v := string(b); !sameMethod(v, method) {
			return v, true, nil
		}
	}
}
