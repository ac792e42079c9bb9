package api

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/partnerhub/partnerhub/internal/telemetry"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// Rejection reasons, the reason label of partnerhub.webhooks.rejected: a
// closed set, never the answered message (which may quote what the caller
// sent).
const (
	ReasonBadMethod      = "bad_method"
	ReasonBadContentType = "bad_content_type"
	ReasonTooLarge       = "too_large"
	ReasonBadBody        = "bad_body"
	ReasonUnknownTenant  = "unknown_tenant"
	ReasonNotFound       = "not_found"
	ReasonIPNotAllowed   = "ip_not_allowed"
	ReasonBadSignature   = "bad_signature"
	ReasonBadToken       = "bad_token"
	ReasonBadCredentials = "bad_credentials"
	ReasonUnauthorized   = "unauthorized"
	ReasonTenantMismatch = "tenant_mismatch"
	ReasonSuspended      = "suspended"
	ReasonRateLimited    = "rate_limited"
	// ReasonUnavailable: partnerhub could not resolve or record the
	// request (its database failed) and answered 503; what operators page on.
	ReasonUnavailable = "unavailable"
	// ReasonNoPlugin: a User Info request for an environment with no
	// active plugin (a tenant's setup, not partnerhub's health).
	ReasonNoPlugin       = "no_plugin"
	ReasonUnknownBundle  = "unknown_bundle"
	ReasonNotSuccessful  = "not_successful"
	ReasonReferenceTaken = "reference_taken"
	ReasonUserNotFound   = "user_not_found"
	ReasonPluginFailed   = "plugin_failed"
	// ReasonInternalError: the handler panicked (a bug); the connection
	// was dropped without an answer.
	ReasonInternalError = "internal_error"
	ReasonOther         = "other"
)

// Outcomes of a webhook, the outcome label.
const (
	OutcomeAccepted  = "accepted"
	OutcomeDuplicate = "duplicate"
	OutcomeRejected  = "rejected"
)

// unknownLabel stands for a tenant or environment the request named but
// partnerhub does not know: the URL is the caller's, and its words must
// not become series.
const unknownLabel = "unknown"

// msgSuspended is the answer to an authenticated caller of a suspended
// tenant; it is classified as ReasonSuspended.
const msgSuspended = "tenant is suspended"

// webhookMetrics are the Pay1st-facing endpoints' instruments.
type webhookMetrics struct {
	on       bool
	received metric.Int64Counter
	rejected metric.Int64Counter
	ack      metric.Float64Histogram
	// attrs caches each label combination's attribute set; a combination
	// names a known tenant or "unknown", so they are bounded.
	attrs *telemetry.AttrCache[webhookLabels]
}

// webhookLabels are one measurement's labels; reason is empty for
// received and outcome for rejected, tenant for the latency.
type webhookLabels struct{ tenant, env, kind, outcome, reason string }

func (l webhookLabels) attrs() []attribute.KeyValue {
	kvs := make([]attribute.KeyValue, 0, 4)
	if l.tenant != "" {
		kvs = append(kvs, attribute.String("tenant", l.tenant))
	}
	kvs = append(kvs, attribute.String("env", l.env), attribute.String("kind", l.kind))
	if l.outcome != "" {
		kvs = append(kvs, attribute.String("outcome", l.outcome))
	}
	if l.reason != "" {
		kvs = append(kvs, attribute.String("reason", l.reason))
	}
	return kvs
}

func newWebhookMetrics(mp metric.MeterProvider) webhookMetrics {
	_, off := mp.(noop.MeterProvider)
	on := mp != nil && !off
	mp = telemetry.MeterProvider(mp)
	m := mp.Meter("github.com/partnerhub/partnerhub/api")
	// Instrument errors only come from invalid names, fixed here; the
	// instrument returned is usable (a no-op) regardless.
	received, _ := m.Int64Counter("partnerhub.webhooks.received", metric.WithUnit("{request}"),
		metric.WithDescription("Requests to the Pay1st-facing endpoints, by tenant, environment, kind and outcome (accepted, duplicate, rejected)."))
	rejected, _ := m.Int64Counter("partnerhub.webhooks.rejected", metric.WithUnit("{request}"),
		metric.WithDescription("Refused requests to the Pay1st-facing endpoints, by tenant, environment, kind and reason."))
	ack, _ := m.Float64Histogram("partnerhub.webhooks.ack.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(telemetry.BucketsFast...),
		metric.WithDescription("Time from a Pay1st-facing request's arrival until its answer is written, by environment, kind and outcome."))
	return webhookMetrics{on: on, received: received, rejected: rejected, ack: ack,
		attrs: &telemetry.AttrCache[webhookLabels]{}}
}

// webhookObs is what one request's handlers learn for its metrics.
type webhookObs struct {
	// tenantKnown: the partnerCode and env in the URL name a tenant
	// environment (set by a rejection that resolved it; an accepted
	// request always did).
	tenantKnown bool
	rejected    bool
	reason      string // set before reject to refine what reject infers
	duplicate   bool
}

type obsKey struct{}

func obsOf(ctx context.Context) *webhookObs {
	o, _ := ctx.Value(obsKey{}).(*webhookObs)
	return o
}

// setRejectReason refines the reason of the rejection about to be
// answered (reject infers one from the status and error code).
func setRejectReason(ctx context.Context, reason string) {
	if o := obsOf(ctx); o != nil {
		o.reason = reason
	}
}

// markDuplicate marks an accepted payment event as one recorded before.
func markDuplicate(ctx context.Context) {
	if o := obsOf(ctx); o != nil {
		o.duplicate = true
	}
}

// markRejected notes a rejection answered with status and code for d.
func markRejected(ctx context.Context, d payment.Delivery, status int, code, msg string) {
	o := obsOf(ctx)
	if o == nil {
		return
	}
	o.rejected = true
	o.tenantKnown = d.TenantID != 0
	if o.reason == "" {
		o.reason = rejectionReason(status, code, msg, d.TenantID != 0)
	}
}

// rejectionReason maps a refusal to its reason label.
func rejectionReason(status int, code, msg string, tenantKnown bool) string {
	switch code {
	case pay1st.CodeRateLimited:
		return ReasonRateLimited
	case pay1st.CodePayloadTooLarge:
		return ReasonTooLarge
	case pay1st.CodeNotFound:
		if !tenantKnown {
			return ReasonUnknownTenant
		}
		return ReasonNotFound
	case pay1st.CodeUnauthorized:
		return ReasonBadSignature
	case pay1st.CodeForbidden:
		return ReasonIPNotAllowed
	case pay1st.CodeMalformed, pay1st.CodeInvalidField:
		switch status {
		case http.StatusMethodNotAllowed:
			return ReasonBadMethod
		case http.StatusUnsupportedMediaType:
			return ReasonBadContentType
		case http.StatusRequestHeaderFieldsTooLarge:
			return ReasonTooLarge
		}
		return ReasonBadBody
	case pay1st.CodeTenantMismatch:
		return ReasonTenantMismatch
	case pay1st.CodeUnavailable:
		if msg == msgSuspended {
			return ReasonSuspended
		}
		return ReasonUnavailable
	case pay1st.CodeUnknownBundle:
		return ReasonUnknownBundle
	case pay1st.CodeNotSuccessful:
		return ReasonNotSuccessful
	case pay1st.CodeReferenceTaken:
		return ReasonReferenceTaken
	case pay1st.CodeUserNotFound:
		return ReasonUserNotFound
	case pay1st.CodePluginFailed:
		return ReasonPluginFailed
	}
	return ReasonOther
}

// authRejection is the reason a payment event failing its environment's
// auth mode is refused for.
func authRejection(mode string) string {
	switch mode {
	case tenant.AuthSignature:
		return ReasonBadSignature
	case tenant.AuthToken:
		return ReasonBadToken
	}
	return ReasonUnauthorized
}

// observe wraps a Pay1st-facing endpoint (outermost, so refusals by
// admission and rate limiting count) and records, once the answer is
// written, the request, its rejection and its acknowledgement latency.
func (h *WebhookHandler) observe(next http.HandlerFunc, kind string) http.HandlerFunc {
	if !h.metrics.on {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		o := &webhookObs{}
		ctx := context.WithValue(r.Context(), obsKey{}, o)
		finished := false
		defer func() {
			// A panicking handler (net/http drops the connection; Pay1st
			// sends again) is counted too; the panic goes on unchanged.
			if !finished {
				if !o.rejected {
					o.rejected, o.reason = true, ReasonInternalError
				}
				h.metrics.record(ctx, r, kind, o, time.Since(start))
			}
		}()
		next(w, r.WithContext(ctx))
		finished = true
		h.metrics.record(ctx, r, kind, o, time.Since(start))
	}
}

func (m webhookMetrics) record(ctx context.Context, r *http.Request, kind string, o *webhookObs, took time.Duration) {
	outcome := OutcomeAccepted
	switch {
	case o.rejected:
		outcome = OutcomeRejected
	case o.duplicate:
		outcome = OutcomeDuplicate
	}
	// Every request that was not refused resolved its tenant environment.
	known := !o.rejected || o.tenantKnown
	partner, env := unknownLabel, unknownLabel
	if known {
		partner, env = r.PathValue("partnerCode"), r.PathValue("env")
	} else if e := r.PathValue("env"); e == tenant.Staging || e == tenant.Production {
		env = e
	}
	m.received.Add(ctx, 1, m.attrs.Get(webhookLabels{tenant: partner, env: env, kind: kind, outcome: outcome}, webhookLabels.attrs))
	// The paging reason's series exists at 0 from the first request on, so
	// that its first increase shows in rate() and increase() (a series
	// born at 1 does not); bounded like received.
	m.rejected.Add(ctx, 0, m.attrs.Get(webhookLabels{tenant: partner, env: env, kind: kind, reason: ReasonUnavailable}, webhookLabels.attrs))
	if o.rejected {
		m.rejected.Add(ctx, 1, m.attrs.Get(webhookLabels{tenant: partner, env: env, kind: kind, reason: o.reason}, webhookLabels.attrs))
	}
	m.ack.Record(ctx, took.Seconds(), m.attrs.Get(webhookLabels{env: env, kind: kind, outcome: outcome}, webhookLabels.attrs))
}
