package proxy

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/filter"
	"github.com/gatehouse-dev/gatehouse/proxy/recfilter"
)

// Reasons of record filtering.
const (
	reasonFilterRefusedWrite = "filter_refused_write"
	reasonFilterBadBody      = "filter_bad_body"
	reasonFilterMediaType    = "filter_unsupported_media_type"
	reasonFilterUpstream     = "filter_unfilterable_response"
	reasonFilterHidden       = "filter_hidden_record"
	reasonFilterUpgrade      = "filter_upgrade_refused"
)

// recordLimits bound what record filtering reads.
var recordLimits = recfilter.Limits{MaxDepth: 64, MaxRecordBytes: 1 << 20}

// firstChunk is how much filtered output is produced before the response
// starts: a response whose problem shows within it gets a clean 502; after
// it, the connection is cut instead (the client never gets unfiltered bytes).
const firstChunk = 32 << 10

// plans compiles the record plan of every grant with a filter. Grants with
// the same records path and fields share one plan (plans are safe for
// concurrent use), so a config with thousands of similar grants builds a
// handful.
func plans(snap *policy.Snapshot) (map[*policy.Grant]*recfilter.Plan, error) {
	out := map[*policy.Grant]*recfilter.Plan{}
	shared := map[string]*recfilter.Plan{}
	for _, g := range snap.FilteredGrants() {
		fields := g.Program().Fields()
		key := g.Records() + "\x00" + strings.Join(fields, "\x00")
		if fields == nil {
			key += "\x00*" // all fields, unlike an empty list
		}
		p, ok := shared[key]
		if !ok {
			var err error
			if p, err = recfilter.NewPlan(g.Records(), fields, recordLimits); err != nil {
				return nil, fmt.Errorf("grant %s: %w", g, err)
			}
			shared[key] = p
		}
		out[g] = p
	}
	return out, nil
}

// filtering is the record filter of one exchange.
type filtering struct {
	plan *recfilter.Plan
	prog *filter.Program
	ev   filter.Evaluator
}

func (f *filtering) pred(rec map[string]any) (bool, error) {
	return f.ev.EvalRecord(f.prog, rec)
}

// filterRequest prepares record filtering when the deciding grant has a
// filter: it refuses what can never be filtered safely and checks write
// bodies (every record must pass, else 403 and nothing goes upstream).
type filterRequest struct{}

func (filterRequest) serve(x *exchange) error {
	g := x.decision.Grant
	if g == nil || g.Program() == nil {
		return nil
	}
	plan := x.gen.plans[g]
	if plan == nil { // plans() covers every filtered grant; fail closed
		return refuse(http.StatusForbidden, reasonFilterUnavailable, nil)
	}
	f := &filtering{plan: plan, prog: g.Program()}
	env := x.filterEnv()
	f.ev.Bind(&env)
	x.filter = f
	if x.srv.log.Enabled(x.r.Context(), slog.LevelDebug) {
		x.srv.log.Debug("record filter", "request_id", x.id, "grant", g.String(), "filter", g.Filter(), "records", g.Records())
	}
	r := x.r
	if upgradeType(r.Header) != "" {
		// A tunnel would carry records the filter never sees.
		return refuse(http.StatusForbidden, reasonFilterUpgrade, nil)
	}
	// No partial content of a filtered document, and no compressed
	// answers we would have to trust: ask for the whole thing as is.
	delete(r.Header, "Range")
	delete(r.Header, "If-Range")
	// The filtered body has no validators, so no conditional requests.
	delete(r.Header, "If-None-Match")
	delete(r.Header, "If-Modified-Since")
	r.Header["Accept-Encoding"] = []string{"identity"}

	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return nil
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return refuse(http.StatusUnsupportedMediaType, reasonFilterMediaType, fmt.Errorf("request Content-Encoding %q", enc))
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		return refuse(http.StatusUnsupportedMediaType, reasonFilterMediaType, fmt.Errorf("request Content-Type %q", r.Header.Get("Content-Type")))
	}
	limit := x.snap().MaxBodyBytes()
	if limit <= 0 {
		limit = 10 << 20
	}
	if r.ContentLength > limit {
		return refuse(http.StatusRequestEntityTooLarge, reasonBodyTooLarge, nil)
	}
	body, err := io.ReadAll(http.MaxBytesReader(x.w, r.Body, limit))
	if err != nil {
		return x.bodyError(err, int64(len(body)))
	}
	ok, st, err := plan.CheckWrite(bytes.NewReader(body), f.pred)
	x.filterStats = st
	if err != nil {
		return refuse(http.StatusBadRequest, reasonFilterBadBody, err)
	}
	if !ok {
		return refuse(http.StatusForbidden, reasonFilterRefusedWrite, nil)
	}
	x.setBody(body)
	return nil
}

// filterEnv describes the caller to filters.
func (x *exchange) filterEnv() filter.Env {
	env := filter.Env{
		Lookup:  x.lookups(),
		Request: filter.Request{Method: x.r.Method, Path: x.route.Rest, Query: map[string]string{}},
	}
	if x.ident.App != nil {
		env.App = x.ident.App.Name()
	}
	if x.ident.Role != nil {
		env.Role = x.ident.Role.Name()
	}
	env.User.Name = x.ident.User
	if s := x.sess; s != nil {
		env.User.Email, env.User.Groups, env.User.Provider = s.Email, s.Groups, s.Provider
	}
	for k, v := range x.r.URL.Query() {
		if len(v) > 0 {
			env.Request.Query[k] = v[0]
		}
	}
	if env.Request.Path == "" {
		env.Request.Path = "/"
	}
	return env
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// filterResponse replaces a 2xx response body with its filtered stream.
// Error responses (non-2xx) pass through: they carry the upstream's error,
// not records. Anything a filter cannot read fails closed with a 502.
func (x *exchange) filterResponse(res *http.Response) error {
	f := x.filter
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return nil
	}
	h := res.Header
	// Sizes and validators of the unfiltered document must not reach the
	// client; the filtered body is streamed (chunked).
	delete(h, "Content-Length")
	delete(h, "Etag")
	delete(h, "Content-Md5")
	delete(h, "Digest")
	delete(h, "Accept-Ranges")
	delete(h, "Last-Modified")
	// The body is this caller's view: no shared cache may keep it.
	h["Cache-Control"] = []string{"private, no-store"}
	res.ContentLength = -1
	if res.StatusCode == http.StatusNoContent || x.r.Method == http.MethodHead {
		return nil
	}
	if res.StatusCode == http.StatusPartialContent {
		return &Error{Status: http.StatusBadGateway, Reason: reasonFilterUpstream, Err: errors.New("partial content on a filtered route")}
	}
	if !isJSON(h.Get("Content-Type")) {
		return &Error{Status: http.StatusBadGateway, Reason: reasonFilterUpstream, Err: fmt.Errorf("Content-Type %q is not JSON", h.Get("Content-Type"))}
	}
	var src io.Reader = res.Body
	switch enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			return &Error{Status: http.StatusBadGateway, Reason: reasonFilterUpstream, Err: err}
		}
		src = zr
	case "deflate": // HTTP's deflate is the zlib format (RFC 9110 8.4.1.2)
		zr, err := zlib.NewReader(res.Body)
		if err != nil {
			return &Error{Status: http.StatusBadGateway, Reason: reasonFilterUpstream, Err: err}
		}
		src = zr
	default:
		return &Error{Status: http.StatusBadGateway, Reason: reasonFilterUpstream, Err: fmt.Errorf("Content-Encoding %q", enc)}
	}
	delete(h, "Content-Encoding")

	run := f.plan.Filter
	if f.prog.Pure() {
		// Records with the same values in the members the filter reads
		// share one evaluation.
		run = f.plan.FilterPure
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		st, err := run(pw, src, f.pred)
		x.filterStats, x.filterErr = st, err
		if err != nil {
			pw.CloseWithError(err)
		} else {
			pw.Close()
		}
		done <- err
	}()
	buf := make([]byte, firstChunk)
	n, err := io.ReadFull(pr, buf)
	if err == nil { // more to come: stream the rest
		res.Body = &filteredBody{Reader: io.MultiReader(bytes.NewReader(buf[:n]), pr), pr: pr, upstream: res.Body, done: done}
		return nil
	}
	// The filter has finished (the pipe ends only when it does): all of
	// the output is in buf, and nothing has been sent yet.
	ferr := <-done
	_ = res.Body.Close()
	if errors.Is(ferr, recfilter.ErrRefused) {
		// The response is one record the caller may not see: as far as
		// the caller knows, it does not exist.
		return &Error{Status: http.StatusNotFound, Reason: reasonFilterHidden}
	}
	if ferr != nil {
		return &Error{Status: http.StatusBadGateway, Reason: reasonFilterUpstream, Err: ferr}
	}
	res.Body = io.NopCloser(bytes.NewReader(buf[:n]))
	return nil
}

// filteredBody is the rest of a filtered response. Closing it stops the
// filter (its writes fail) and waits for it, so that no goroutine outlives
// the request.
type filteredBody struct {
	io.Reader
	pr       *io.PipeReader
	upstream io.ReadCloser
	done     chan error
}

// Read fills p unless the output ends first. ReverseProxy flushes after
// every read of a body of unknown length, and each flush is a chunk and a
// write system call: reading what the filter hands over piece by piece
// would cost several per buffer.
func (b *filteredBody) Read(p []byte) (int, error) {
	n, err := io.ReadFull(b.Reader, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

func (b *filteredBody) Close() error {
	b.pr.CloseWithError(errors.New("response closed"))
	_ = b.upstream.Close()
	<-b.done
	return nil
}

var _ stage = filterRequest{}
