package upstream

import "net/http"

// FieldsRoundTripper is a RoundTripper that takes header fields beside the
// request and writes them itself, after the request's Header (see the
// package doc for why). fields are name and value pairs with canonical
// names, each name at most once and absent from req.Header in any
// spelling; the caller guarantees it. They are validated as the request's
// own fields are.
type FieldsRoundTripper interface {
	http.RoundTripper
	RoundTripWithFields(req *http.Request, fields [][2]string) (*http.Response, error)
}

// RoundTripWithFields sends req through rt with fields added to its header
// (see FieldsRoundTripper): beside req.Header when rt is a
// FieldsRoundTripper, else set in req.Header first, each replacing any
// value by its name. Either way a HEAD's connection is not reused after
// its response (see bodiless).
func RoundTripWithFields(rt http.RoundTripper, req *http.Request, fields [][2]string) (*http.Response, error) {
	if ft, ok := rt.(FieldsRoundTripper); ok {
		return ft.RoundTripWithFields(req, fields)
	}
	setFields(req.Header, fields)
	closeAfterHead(req)
	return rt.RoundTrip(req)
}

// setFields adds fields to h, each replacing any value by its name.
func setFields(h http.Header, fields [][2]string) {
	for _, kv := range fields {
		h[kv[0]] = []string{kv[1]}
	}
}
