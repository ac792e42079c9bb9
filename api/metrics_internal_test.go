package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/partnerhub/partnerhub/internal/telemetry/telemetrytest"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

func TestRejectionReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status      int
		code, msg   string
		tenantKnown bool
		want        string
	}{
		{http.StatusMethodNotAllowed, pay1st.CodeMalformed, "method GET not allowed; use POST", true, ReasonBadMethod},
		{http.StatusUnsupportedMediaType, pay1st.CodeMalformed, "Content-Type must be application/json", false, ReasonBadContentType},
		{http.StatusRequestHeaderFieldsTooLarge, pay1st.CodeMalformed, "request headers larger", false, ReasonTooLarge},
		{http.StatusRequestEntityTooLarge, pay1st.CodePayloadTooLarge, "body larger", false, ReasonTooLarge},
		{http.StatusBadRequest, pay1st.CodeMalformed, "could not read request body", true, ReasonBadBody},
		{http.StatusUnprocessableEntity, pay1st.CodeInvalidField, "field reference missing", true, ReasonBadBody},
		{http.StatusNotFound, pay1st.CodeNotFound, "unknown partnerCode or environment", false, ReasonUnknownTenant},
		{http.StatusNotFound, pay1st.CodeNotFound, "unknown outcome", true, ReasonNotFound},
		{http.StatusUnauthorized, pay1st.CodeUnauthorized, "signature does not match", true, ReasonBadSignature},
		{http.StatusForbidden, pay1st.CodeForbidden, "address not allowed", true, ReasonIPNotAllowed},
		{http.StatusUnprocessableEntity, pay1st.CodeTenantMismatch, "partnerId", true, ReasonTenantMismatch},
		{http.StatusServiceUnavailable, pay1st.CodeUnavailable, msgSuspended, true, ReasonSuspended},
		{http.StatusServiceUnavailable, pay1st.CodeUnavailable, "temporarily unavailable; retry", true, ReasonUnavailable},
		{http.StatusTooManyRequests, pay1st.CodeRateLimited, "rate limit exceeded", false, ReasonRateLimited},
		{http.StatusUnprocessableEntity, pay1st.CodeUnknownBundle, "no bundle", true, ReasonUnknownBundle},
		{http.StatusUnprocessableEntity, pay1st.CodeNotSuccessful, "not successful", true, ReasonNotSuccessful},
		{http.StatusUnprocessableEntity, pay1st.CodeReferenceTaken, "taken", true, ReasonReferenceTaken},
		{http.StatusBadRequest, pay1st.CodeUserNotFound, "unknown player", true, ReasonUserNotFound},
		{http.StatusBadGateway, pay1st.CodePluginFailed, "player lookup failed", true, ReasonPluginFailed},
		{http.StatusBadRequest, "A_PLUGIN_CODE", "the plugin's words", true, ReasonOther},
	}
	for _, tt := range tests {
		t.Run(tt.want+"/"+tt.code, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, rejectionReason(tt.status, tt.code, tt.msg, tt.tenantKnown))
		})
	}
	require.Equal(t, ReasonBadToken, authRejection(tenant.AuthToken))
	require.Equal(t, ReasonBadSignature, authRejection(tenant.AuthSignature))
	require.Equal(t, ReasonUnauthorized, authRejection(tenant.AuthNone))
}

// TestObservePanic: a handler that panics is still counted, as a
// rejection for internal_error, and the panic reaches net/http unchanged.
func TestObservePanic(t *testing.T) {
	t.Parallel()
	meter := telemetrytest.New(t)
	h := &WebhookHandler{metrics: newWebhookMetrics(meter)}
	handler := h.observe(func(http.ResponseWriter, *http.Request) { panic("bug in a handler") }, payment.KindSummary)
	r := httptest.NewRequest(http.MethodPost, "/pay1st/staging/acme/summary", nil)
	r.SetPathValue("env", "staging")
	r.SetPathValue("partnerCode", "acme")
	require.PanicsWithValue(t, "bug in a handler", func() { handler(httptest.NewRecorder(), r) })
	require.Equal(t, map[string]float64{
		`partnerhub.webhooks.rejected{env="staging",kind="summary",reason="internal_error",tenant="unknown"}`: 1,
		`partnerhub.webhooks.rejected{env="staging",kind="summary",reason="unavailable",tenant="unknown"}`:    0,
	}, telemetrytest.Matching(meter.Values(t), "partnerhub.webhooks.rejected"))
}

// BenchmarkWebhookObserve is the metrics' cost per Pay1st-facing request
// (the handler itself does nothing here), off (no exporter: a no-op
// provider) and on.
//
//	go test -run '^$' -bench WebhookObserve ./api
func BenchmarkWebhookObserve(b *testing.B) {
	for _, c := range []struct {
		name string
		mp   metric.MeterProvider
	}{
		{"metrics=off", noop.NewMeterProvider()},
		{"metrics=on", sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := &WebhookHandler{metrics: newWebhookMetrics(c.mp)}
			handler := h.observe(func(http.ResponseWriter, *http.Request) {}, payment.KindPaymentEvent)
			r := httptest.NewRequest(http.MethodPost, "/pay1st/staging/acme/payment-events", nil)
			r.SetPathValue("env", "staging")
			r.SetPathValue("partnerCode", "acme")
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				handler(w, r)
			}
		})
	}
}
