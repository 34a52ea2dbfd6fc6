package proxy

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The error body is JSON in every mode, whatever bytes the detail holds:
// strconv.AppendQuote's Go escapes (\x00, \a, \xff) are not JSON.
func TestWriteError_BodyIsJSONWhateverTheDetail(t *testing.T) {
	for _, detail := range []string{
		"dial tcp 127.0.0.1:9: connection refused",
		"nul \x00 bell \a del \x7f",
		"invalid utf-8 \xff\xfe and \xc3",
		"quote \" backslash \\ line\nsep \u2028 para \u2029",
		"<script>&amp;</script>",
		"emoji \U0001F600 and a tab\t",
	} {
		for _, production := range []bool{true, false} {
			rec := httptest.NewRecorder()
			e := refuse(http.StatusBadGateway, reasonUpstreamDown, errors.New(detail))
			writeError(rec, production, "id-\x01\xff", e, nil)
			body := rec.Body.Bytes()
			if !json.Valid(body) {
				t.Fatalf("production=%v detail %q: body is not JSON: %s", production, detail, body)
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got["status"] != float64(http.StatusBadGateway) || got["error"] != "Bad Gateway" {
				t.Errorf("production=%v: body %s", production, body)
			}
			if got["request_id"] != viaJSON(t, "id-\x01\xff") {
				t.Errorf("request_id = %q", got["request_id"])
			}
			_, hasDetail := got["detail"]
			if production == hasDetail {
				t.Errorf("production=%v: detail present=%v", production, hasDetail)
			}
			if !production && got["detail"] != viaJSON(t, detail) {
				t.Errorf("detail = %q, want %q", got["detail"], detail)
			}
		}
	}
}

// viaJSON is s as encoding/json carries it (invalid bytes become U+FFFD).
func viaJSON(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
