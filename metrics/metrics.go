// Package metrics is gatehouse's Prometheus instrumentation: the one
// package that imports the client library (prometheus/client_golang; why
// that one: docs/benchmarks.md "Metrics"). Everything else records through
// a *Registry.
//
// A Registry belongs to the process (cmd/gatehouse builds one and passes
// it to what it builds); the library's global default registry is never
// used. A nil *Registry records nothing, so that tests and embedders that
// want no metrics pass nil.
//
// The per-request series are recorded once per request, from the access
// record (Request), through children resolved once per label combination
// and cached: the request path neither allocates nor builds label strings.
// Labels are bounded: names from the configuration (upstreams, apps),
// fixed sets (decisions, status classes, reason codes), never a path, a
// user name or a client address.
//
// Other parts add their own series with NewCounterVec, NewGaugeFunc and
// NewCounterFunc (see their docs); docs/operations.md "Metrics" lists
// every series.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// None is the label value of an upstream or app a request did not have
// (no route matched, no app identified the caller).
const None = "none"

// durationBuckets are the request and upstream latency buckets, in
// seconds: from half a millisecond (a local upstream) to 30 s (the
// default upstream timeout territory).
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Registry holds the process's series. Build it with New; the zero value
// and nil record nothing.
type Registry struct {
	reg *prometheus.Registry

	requests        *prometheus.CounterVec
	refusals        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	upstreamLatency *prometheus.HistogramVec
	upstreamErrors  *prometheus.CounterVec
	filterRecords   prometheus.Counter
	filterRemoved   prometheus.Counter
	loginFailures   prometheus.Counter
	loginLimited    prometheus.Counter
	apiKeys         *prometheus.CounterVec
	wouldDeny       prometheus.Counter
	wouldAllow      prometheus.Counter

	// Children resolved once per label combination (sync.Map: written
	// once per combination, read on every request).
	reqChildren     sync.Map // requestKey -> *requestChildren
	refusalChildren sync.Map // string -> prometheus.Counter
	upChildren      sync.Map // string -> *upstreamChildren
	keyChildren     sync.Map // keyKey -> prometheus.Counter

	mu        sync.Mutex // guards configSet
	config    *prometheus.GaugeVec
	lastLoad  prometheus.Gauge
	configSet string
}

type requestKey struct {
	upstream, app, decision string
	class                   uint8
}

// keyKey names an API key: its app and its name in the configuration.
type keyKey struct{ app, key string }

type requestChildren struct {
	count    prometheus.Counter
	duration prometheus.Observer
	upstream *upstreamChildren // of the key's upstream
}

type upstreamChildren struct {
	latency  prometheus.Observer
	timeout  prometheus.Counter
	down     prometheus.Counter
	protocol prometheus.Counter
}

// New returns a Registry with the request series and the Go runtime and
// process collectors registered.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_requests_total",
		Help: "Requests answered, by upstream, app, decision (allow or deny) and status class (2xx..5xx).",
	}, []string{"upstream", "app", "decision", "code_class"})
	r.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_refusals_total",
		Help: "Requests refused, by reason code (the access log's reason).",
	}, []string{"reason"})
	r.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gatehouse_request_duration_seconds",
		Help:    "Time from the request's arrival to its access record, by upstream.",
		Buckets: durationBuckets,
	}, []string{"upstream"})
	r.upstreamLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gatehouse_upstream_latency_seconds",
		Help:    "Time from sending a request upstream to its response header (or failure), by upstream.",
		Buckets: durationBuckets,
	}, []string{"upstream"})
	r.upstreamErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_upstream_errors_total",
		Help: "Upstream requests that failed, by upstream and kind (timeout, unavailable, protocol).",
	}, []string{"upstream", "kind"})
	r.filterRecords = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_filter_records_total",
		Help: "Records seen by grants' record filters in responses.",
	})
	r.filterRemoved = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_filter_records_removed_total",
		Help: "Records removed from responses by grants' record filters.",
	})
	r.loginFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_login_failures_total",
		Help: "Logins refused for wrong credentials (reason invalid_credentials).",
	})
	r.loginLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_login_limited_total",
		Help: "Logins refused by the failed-login limiter (reason login_rate_limited).",
	})
	r.apiKeys = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_api_key_requests_total",
		Help: "Requests that presented a known API key, by app and key name (the api_key block's label, or the first 8 hex digits of the key's SHA-256; never the key): shows when an old key's traffic has stopped.",
	}, []string{"app", "key"})
	dryRun := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_dry_run_total",
		Help: "Requests whose outcome a dry-run grant would have changed: would_deny (allowed, a dry-run grant would refuse it) or would_allow (refused, a dry-run allow would allow it).",
	}, []string{"outcome"})
	r.wouldDeny, r.wouldAllow = dryRun.WithLabelValues("would_deny"), dryRun.WithLabelValues("would_allow")
	r.config = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gatehouse_config_info",
		Help: "The configuration in service: 1, labelled with its hash.",
	}, []string{"hash"})
	r.lastLoad = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gatehouse_config_last_reload_success_timestamp_seconds",
		Help: "When the configuration in service was put in service, at start or by a reload (Unix time).",
	})
	r.reg.MustRegister(r.requests, r.refusals, r.duration, r.upstreamLatency, r.upstreamErrors,
		r.filterRecords, r.filterRemoved, r.loginFailures, r.loginLimited, r.apiKeys, dryRun, r.config, r.lastLoad,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Handler serves the text exposition of every series (GET /metrics). It
// reports collection errors in the response rather than failing it.
func (r *Registry) Handler() http.Handler {
	if r == nil || r.reg == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Request is what the access record tells the metrics about one request.
// Upstream and App are names from the configuration, or "" (recorded as
// None).
type Request struct {
	Upstream, App string
	// DryRun is what a dry-run grant would have changed: "would_deny",
	// "would_allow", or "" (policy.Decision.DryRun).
	DryRun string
	// Key names the API key the request presented (its label, or the
	// first 8 hex digits of its hash), "" for none or an unknown one.
	Key      string
	Deny     bool   // refused (the access record's decision "deny")
	Status   int    // sent to the client
	Reason   string // the refusal's reason code, "" when allowed
	Duration time.Duration
	// UpstreamSent: the request went to the upstream, which took
	// UpstreamLatency to answer (or fail).
	UpstreamSent    bool
	UpstreamLatency time.Duration
	// UpstreamError is the kind of upstream failure, "" for none:
	// "timeout", "unavailable" or "protocol".
	UpstreamError string
	// Filtered: a record filter ran on the response, seeing Records and
	// removing Removed of them.
	Filtered         bool
	Records, Removed int
}

// Upstream error kinds (Request.UpstreamError).
const (
	UpstreamTimeout     = "timeout"
	UpstreamUnavailable = "unavailable"
	UpstreamProtocol    = "protocol"
)

// Refusal reasons with a series of their own besides gatehouse_refusals_total.
const (
	reasonInvalidCredentials = "invalid_credentials"
	reasonLoginLimited       = "login_rate_limited"
)

// Request records one request: called once per request, from the access
// record. Without allocation once each label combination was seen.
func (r *Registry) Request(q *Request) {
	if r == nil || r.reg == nil {
		return
	}
	up, app := q.Upstream, q.App
	if up == "" {
		up = None
	}
	if app == "" {
		app = None
	}
	decision := "allow"
	if q.Deny {
		decision = "deny"
	}
	class := uint8(0)
	if q.Status >= 100 && q.Status < 600 {
		class = uint8(q.Status / 100)
	}
	k := requestKey{upstream: up, app: app, decision: decision, class: class}
	var rc *requestChildren
	if v, ok := r.reqChildren.Load(k); ok {
		rc = v.(*requestChildren)
	} else {
		rc = r.newRequestChildren(k)
	}
	rc.count.Inc()
	rc.duration.Observe(q.Duration.Seconds())
	if q.UpstreamSent || q.UpstreamError != "" {
		uc := rc.upstream
		if q.UpstreamSent {
			uc.latency.Observe(q.UpstreamLatency.Seconds())
		}
		switch q.UpstreamError {
		case UpstreamTimeout:
			uc.timeout.Inc()
		case UpstreamUnavailable:
			uc.down.Inc()
		case UpstreamProtocol:
			uc.protocol.Inc()
		}
	}
	if q.Reason != "" {
		r.refusal(q.Reason).Inc()
		switch q.Reason {
		case reasonInvalidCredentials:
			r.loginFailures.Inc()
		case reasonLoginLimited:
			r.loginLimited.Inc()
		}
	}
	if q.Key != "" {
		r.apiKey(app, q.Key).Inc()
	}
	switch q.DryRun {
	case "would_deny":
		r.wouldDeny.Inc()
	case "would_allow":
		r.wouldAllow.Inc()
	}
	if q.Filtered {
		r.filterRecords.Add(float64(q.Records))
		r.filterRemoved.Add(float64(q.Removed))
	}
}

// classes are the code_class label values by status/100 (0: none).
var classes = [...]string{"none", "1xx", "2xx", "3xx", "4xx", "5xx"}

func (r *Registry) newRequestChildren(k requestKey) *requestChildren {
	rc := &requestChildren{
		count:    r.requests.WithLabelValues(k.upstream, k.app, k.decision, classes[k.class]),
		duration: r.duration.WithLabelValues(k.upstream),
		upstream: r.upstream(k.upstream),
	}
	v, _ := r.reqChildren.LoadOrStore(k, rc)
	return v.(*requestChildren)
}

func (r *Registry) upstream(name string) *upstreamChildren {
	if v, ok := r.upChildren.Load(name); ok {
		return v.(*upstreamChildren)
	}
	uc := &upstreamChildren{
		latency:  r.upstreamLatency.WithLabelValues(name),
		timeout:  r.upstreamErrors.WithLabelValues(name, UpstreamTimeout),
		down:     r.upstreamErrors.WithLabelValues(name, UpstreamUnavailable),
		protocol: r.upstreamErrors.WithLabelValues(name, UpstreamProtocol),
	}
	v, _ := r.upChildren.LoadOrStore(name, uc)
	return v.(*upstreamChildren)
}

func (r *Registry) apiKey(app, key string) prometheus.Counter {
	k := keyKey{app, key}
	if v, ok := r.keyChildren.Load(k); ok {
		return v.(prometheus.Counter)
	}
	v, _ := r.keyChildren.LoadOrStore(k, r.apiKeys.WithLabelValues(app, key))
	return v.(prometheus.Counter)
}

func (r *Registry) refusal(reason string) prometheus.Counter {
	if v, ok := r.refusalChildren.Load(reason); ok {
		return v.(prometheus.Counter)
	}
	v, _ := r.refusalChildren.LoadOrStore(reason, r.refusals.WithLabelValues(reason))
	return v.(prometheus.Counter)
}

// ConfigLoaded records the configuration put in service: hash (the one
// series of gatehouse_config_info, replacing the previous hash's) and when.
func (r *Registry) ConfigLoaded(hash string, at time.Time) {
	if r == nil || r.reg == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.configSet != hash {
		r.config.Reset()
		r.config.WithLabelValues(hash).Set(1)
		r.configSet = hash
	}
	r.lastLoad.Set(Seconds(at))
}

// Counter is one series of a CounterVec, resolved once by With and kept
// by the caller for the hot path.
type Counter interface {
	Inc()
	Add(float64)
}

// CounterVec is a counter family with labels, added by NewCounterVec.
type CounterVec struct {
	vec *prometheus.CounterVec // nil: records nothing
}

// With returns the series of the label values (in the order of the label
// names given to NewCounterVec). Resolve it once per combination and keep
// it: With hashes its arguments. Values must come from bounded sets
// (configuration names, fixed codes), never from requests.
func (v *CounterVec) With(values ...string) Counter {
	if v == nil || v.vec == nil {
		return nop{}
	}
	return v.vec.WithLabelValues(values...)
}

type nop struct{}

func (nop) Inc()        {}
func (nop) Add(float64) {}

// NewCounterVec registers a counter family: name must follow Prometheus
// conventions (gatehouse_ prefix, _total suffix, base units). It panics
// when name is taken or invalid (a programming error). On a nil Registry
// it returns a CounterVec that records nothing.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	if r == nil || r.reg == nil {
		return &CounterVec{}
	}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	r.reg.MustRegister(vec)
	return &CounterVec{vec: vec}
}

// NewCounterFunc registers a counter without labels whose value f reads
// at scrape time (a counter another package keeps, such as an atomic).
// f must be cheap and safe for concurrent use. Panics like NewCounterVec.
func (r *Registry) NewCounterFunc(name, help string, f func() float64) {
	if r == nil || r.reg == nil {
		return
	}
	r.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// NewGaugeFunc registers a gauge without labels whose value f reads at
// scrape time. Panics like NewCounterVec.
func (r *Registry) NewGaugeFunc(name, help string, f func() float64) {
	if r == nil || r.reg == nil {
		return
	}
	r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// LabeledGaugesFunc registers a gauge family with one label whose series
// f lists at scrape time (label value → value), such as a certificate's
// expiry per name. The label values must be bounded (configuration
// names). Panics like NewCounterVec.
func (r *Registry) LabeledGaugesFunc(name, help, label string, f func() map[string]float64) {
	if r == nil || r.reg == nil {
		return
	}
	r.reg.MustRegister(&mapCollector{
		desc: prometheus.NewDesc(name, help, []string{label}, nil),
		vt:   prometheus.GaugeValue,
		f:    f,
	})
}

// LabeledCountersFunc is LabeledGaugesFunc for counters (series a
// package counts itself, read at scrape time).
func (r *Registry) LabeledCountersFunc(name, help, label string, f func() map[string]float64) {
	if r == nil || r.reg == nil {
		return
	}
	r.reg.MustRegister(&mapCollector{
		desc: prometheus.NewDesc(name, help, []string{label}, nil),
		vt:   prometheus.CounterValue,
		f:    f,
	})
}

// mapCollector reports f's series at scrape time.
type mapCollector struct {
	desc *prometheus.Desc
	vt   prometheus.ValueType
	f    func() map[string]float64
}

func (c *mapCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *mapCollector) Collect(ch chan<- prometheus.Metric) {
	for k, v := range c.f() {
		ch <- prometheus.MustNewConstMetric(c.desc, c.vt, v, k)
	}
}

// Seconds converts t to the float seconds of a _timestamp_seconds series.
func Seconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// Bool is 1 for true, 0 for false: the value of an _up gauge.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
