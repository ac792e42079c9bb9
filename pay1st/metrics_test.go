package pay1st_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/telemetry/telemetrytest"
	"github.com/partnerhub/partnerhub/pay1st"
)

// TestClientMetrics: every HTTP attempt against the simulator is counted by
// operation, status class and outcome (retried, failed or ok), and timed;
// no label carries a credential or a reference.
func TestClientMetrics(t *testing.T) {
	t.Parallel()
	meter := telemetrytest.New(t)
	f := setup(t, func(c *pay1st.ClientConfig) { c.MeterProvider = meter })
	ctx := context.Background()

	f.faults.inject(pay1st.PathCreate, 1, http.StatusServiceUnavailable)
	_, err := f.client.CreatePayment(ctx, f.creds, paymentRequest("order-m-1"))
	require.NoError(t, err, "a 503 then a 2xx")
	f.faults.inject(pay1st.PathCreate, 1, http.StatusBadRequest)
	_, err = f.client.CreatePayment(ctx, f.creds, paymentRequest("order-m-2"))
	require.ErrorIs(t, err, pay1st.ErrBadRequest)
	f.faults.inject(pay1st.PathCreate, 1, 0)
	_, err = f.client.CreatePayment(ctx, f.creds, paymentRequest("order-m-3"))
	require.NoError(t, err, "a dropped connection then a 2xx")

	values := meter.Values(t)
	require.Equal(t, map[string]float64{
		`partnerhub.pay1st.requests{operation="access_token",outcome="ok",status_class="2xx"}`:          1,
		`partnerhub.pay1st.requests{operation="create_payment",outcome="ok",status_class="2xx"}`:        2,
		`partnerhub.pay1st.requests{operation="create_payment",outcome="retry",status_class="5xx"}`:     1,
		`partnerhub.pay1st.requests{operation="create_payment",outcome="error",status_class="4xx"}`:     1,
		`partnerhub.pay1st.requests{operation="create_payment",outcome="retry",status_class="network"}`: 1,
	}, telemetrytest.Matching(values, "partnerhub.pay1st.requests"))
	require.Equal(t, 3.0, values[`partnerhub.pay1st.request.duration_count{operation="create_payment",status_class="2xx"}`]+
		values[`partnerhub.pay1st.request.duration_count{operation="create_payment",status_class="4xx"}`])
	for series := range values {
		f.noSecrets(t, series)
		require.NotContains(t, series, "order-m", "no reference in a label")
		require.NotContains(t, series, f.creds.APIKey)
	}
}

// TestClientMetricsTokenRefresh: a 401 answered to a stale token is
// followed by a refresh and another try; that attempt counts as retried,
// not as a failed call.
func TestClientMetricsTokenRefresh(t *testing.T) {
	t.Parallel()
	meter := telemetrytest.New(t)
	f := setup(t, func(c *pay1st.ClientConfig) { c.MeterProvider = meter })
	ctx := context.Background()
	f.faults.inject(pay1st.PathCreate, 1, http.StatusUnauthorized)
	_, err := f.client.CreatePayment(ctx, f.creds, paymentRequest("order-m-401"))
	require.NoError(t, err, "a 401, a new token, then a 2xx")
	f.faults.inject(pay1st.PathCreate, 2, http.StatusUnauthorized)
	_, err = f.client.CreatePayment(ctx, f.creds, paymentRequest("order-m-401-again"))
	require.ErrorIs(t, err, pay1st.ErrUnauthorized, "a second 401 is the answer")

	got := telemetrytest.Matching(meter.Values(t), "partnerhub.pay1st.requests")
	require.Equal(t, 2.0, got[`partnerhub.pay1st.requests{operation="create_payment",outcome="retry",status_class="4xx"}`], "%v", got)
	require.Equal(t, 1.0, got[`partnerhub.pay1st.requests{operation="create_payment",outcome="error",status_class="4xx"}`], "%v", got)
	require.Equal(t, 1.0, got[`partnerhub.pay1st.requests{operation="create_payment",outcome="ok",status_class="2xx"}`], "%v", got)
}
