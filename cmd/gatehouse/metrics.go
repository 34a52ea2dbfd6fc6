package main

import (
	"github.com/gatehouse-dev/gatehouse/metrics"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/proxy"
	"github.com/gatehouse-dev/gatehouse/reload"
)

// registerMetrics adds the process-level series that other parts keep
// themselves and the registry reads at scrape time: reload outcomes, the
// TLS certificates' expiry, the cluster's Redis health and errors. The
// per-request, configuration and session series are the proxy's
// (proxy.Options.Metrics).
func registerMetrics(reg *metrics.Registry, cl *cluster, ls *listeners, rl *reload.Reloader) {
	if rl != nil {
		reg.LabeledCountersFunc("gatehouse_config_reloads_total",
			"Reload attempts by result: ok (a changed configuration put in service) or failed (rejected; the previous one keeps serving). A reload of unchanged files counts as neither.",
			"result", func() map[string]float64 {
				var ok, failed uint64
				rl.View(func(st reload.Status) { ok, failed = st.OK, st.Failed })
				return map[string]float64{"ok": float64(ok), "failed": float64(failed)}
			})
	}
	if ls.tls != nil {
		certs := ls.tls.certs
		reg.LabeledGaugesFunc("gatehouse_tls_certificate_expiry_timestamp_seconds",
			"When the TLS certificate of each served name expires (Unix time): ACME names with a cached certificate, or the static certificate's names.",
			"name", func() map[string]float64 {
				out := make(map[string]float64)
				for name, t := range certs.Expiry() {
					out[name] = metrics.Seconds(t)
				}
				return out
			})
	}
	if c := cl.client; c != nil {
		reg.NewGaugeFunc("gatehouse_cluster_up", "1 while the cluster's Redis answers its health check, 0 while it does not.", func() float64 {
			up, _, _ := c.State()
			return metrics.Bool(up)
		})
		reg.NewCounterFunc("gatehouse_cluster_redis_errors_total", "Redis commands and connection attempts that failed (a missing key is not a failure).", func() float64 {
			return float64(c.Errors())
		})
	}
}

// rateLimitHooks counts the rate limiter's refusals, by the kind of block
// whose limit refused, and the requests whose limits the store (Redis)
// could not check, by what rate_limits_on_error made of them. The series
// are resolved here, once, so the hooks do not hash labels per request.
func rateLimitHooks(reg *metrics.Registry) proxy.RateLimitHooks {
	refused := reg.NewCounterVec("gatehouse_rate_limit_refusals_total",
		"Requests refused with 429 by a rate_limit, by the block whose limit refused: app, role, user or grant.", "limit")
	byKind := map[string]metrics.Counter{}
	for _, k := range []string{policy.RateLimitApp, policy.RateLimitRole, policy.RateLimitUser, policy.RateLimitGrant} {
		byKind[k] = refused.With(k)
	}
	storeErrors := reg.NewCounterVec("gatehouse_rate_limit_store_errors_total",
		"Requests whose rate limits the cluster's Redis could not check, by outcome: allowed (rate_limits_on_error = open) or refused (closed, 503).", "outcome")
	allowed, refusedOnError := storeErrors.With("allowed"), storeErrors.With("refused")
	return proxy.RateLimitHooks{
		Refused: func(kind string) {
			if c, ok := byKind[kind]; ok {
				c.Inc()
			}
		},
		StoreError: func(open bool) {
			if open {
				allowed.Inc()
			} else {
				refusedOnError.Inc()
			}
		},
	}
}
