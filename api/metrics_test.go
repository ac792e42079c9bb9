package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/api"
	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/internal/telemetry/telemetrytest"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// setupMetered is setup with a meter provider of the test's own.
func setupMetered(t *testing.T) (bundle, telemetrytest.Meter) {
	t.Helper()
	pool := pgtest.New(t)
	box, err := seal.New(bytes.Repeat([]byte{3}, 32))
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	tenants := tenant.NewService(pool, box)
	enq, err := jobs.NewEnqueuer(pool, jobs.Config{}, logger)
	require.NoError(t, err)
	meter := telemetrytest.New(t)
	srv := httptest.NewServer(api.New(api.Deps{
		Tenants: tenants, Payments: payment.NewService(pool, enq), Logger: logger,
		MaxBodyBytes: 4 << 10, SignatureWindow: 5 * time.Minute, MeterProvider: meter,
	}))
	t.Cleanup(srv.Close)
	key := tenant.NewKey()
	require.NoError(t, tenants.EnsureOperatorKey(context.Background(), key, "test"))
	return bundle{pool: pool, srv: srv, operatorKey: key, logs: &bytes.Buffer{}, tenants: tenants}, meter
}

// TestWebhookMetrics: every answer of the payment events endpoint is
// counted once, under the tenant it names only when that tenant exists,
// with the reason of each refusal.
func TestWebhookMetrics(t *testing.T) {
	t.Parallel()
	b, meter := setupMetered(t)
	key := b.createTenant(t, "acme", 1042)
	frozenKey := b.createTenant(t, "frozen", 77)
	_, err := b.pool.Exec(context.Background(), `UPDATE tenants SET status = 'suspended' WHERE partner_code = 'frozen'`)
	require.NoError(t, err)

	good := eventBody(t, "acme", 1042, "C-M-1-P", nil)
	path := "/pay1st/staging/acme/payment-events"
	for _, c := range []struct {
		name    string
		path    string
		body    []byte
		headers map[string]string
		status  int
	}{
		{"accepted", path, good, signedHeaders(key, good, time.Now()), http.StatusOK},
		{"duplicate", path, good, signedHeaders(key, good, time.Now()), http.StatusOK},
		{"forged", path, good, signedHeaders("forged", good, time.Now()), http.StatusUnauthorized},
		{"not json", path, []byte("{"), signedHeaders(key, []byte("{"), time.Now()), http.StatusBadRequest},
		{"too large", path, bytes.Repeat([]byte(" "), 5<<10), map[string]string{"Content-Type": "application/json"}, http.StatusRequestEntityTooLarge},
		{"content type", path, good, map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
		{"tenant mismatch", path, eventBody(t, "acme", 9, "C-M-2-P", nil),
			signedHeaders(key, eventBody(t, "acme", 9, "C-M-2-P", nil), time.Now()), http.StatusUnprocessableEntity},
		{"unknown tenant", "/pay1st/staging/nobody-" + strings.Repeat("x", 20) + "/payment-events", good, signedHeaders(key, good, time.Now()), http.StatusNotFound},
		{"unknown env", "/pay1st/qa/acme/payment-events", good, signedHeaders(key, good, time.Now()), http.StatusNotFound},
		{"suspended", "/pay1st/staging/frozen/payment-events", eventBody(t, "frozen", 77, "C-M-3-P", nil),
			signedHeaders(frozenKey, eventBody(t, "frozen", 77, "C-M-3-P", nil), time.Now()), http.StatusServiceUnavailable},
	} {
		status, _, out := b.post(t, c.path, c.body, c.headers)
		require.Equal(t, c.status, status, "%s: %v", c.name, out)
	}

	values := meter.Values(t)
	require.Equal(t, map[string]float64{
		`partnerhub.webhooks.received{env="staging",kind="payment_event",outcome="accepted",tenant="acme"}`:  1,
		`partnerhub.webhooks.received{env="staging",kind="payment_event",outcome="duplicate",tenant="acme"}`: 1,
		`partnerhub.webhooks.received{env="staging",kind="payment_event",outcome="rejected",tenant="acme"}`:  4,
		// The body is read before the tenant is resolved: a body too
		// large never names one.
		`partnerhub.webhooks.received{env="staging",kind="payment_event",outcome="rejected",tenant="unknown"}`: 2,
		`partnerhub.webhooks.received{env="unknown",kind="payment_event",outcome="rejected",tenant="unknown"}`: 1,
		`partnerhub.webhooks.received{env="staging",kind="payment_event",outcome="rejected",tenant="frozen"}`:  1,
	}, telemetrytest.Matching(values, "partnerhub.webhooks.received"))
	require.Equal(t, map[string]float64{
		`partnerhub.webhooks.rejected{env="staging",kind="payment_event",reason="bad_signature",tenant="acme"}`:     1,
		`partnerhub.webhooks.rejected{env="staging",kind="payment_event",reason="bad_body",tenant="acme"}`:          1,
		`partnerhub.webhooks.rejected{env="staging",kind="payment_event",reason="bad_content_type",tenant="acme"}`:  1,
		`partnerhub.webhooks.rejected{env="staging",kind="payment_event",reason="tenant_mismatch",tenant="acme"}`:   1,
		`partnerhub.webhooks.rejected{env="staging",kind="payment_event",reason="too_large",tenant="unknown"}`:      1,
		`partnerhub.webhooks.rejected{env="staging",kind="payment_event",reason="unknown_tenant",tenant="unknown"}`: 1,
		`partnerhub.webhooks.rejected{env="unknown",kind="payment_event",reason="unknown_tenant",tenant="unknown"}`: 1,
		`partnerhub.webhooks.rejected{env="staging",kind="payment_event",reason="suspended",tenant="frozen"}`:       1,
		// The paging reason is there at 0 from the first request on, so
		// its first increase is seen.
		`partnerhub.webhooks.rejected{env="staging",kind="payment_event",reason="unavailable",tenant="acme"}`:    0,
		`partnerhub.webhooks.rejected{env="staging",kind="payment_event",reason="unavailable",tenant="frozen"}`:  0,
		`partnerhub.webhooks.rejected{env="staging",kind="payment_event",reason="unavailable",tenant="unknown"}`: 0,
		`partnerhub.webhooks.rejected{env="unknown",kind="payment_event",reason="unavailable",tenant="unknown"}`: 0,
	}, telemetrytest.Matching(values, "partnerhub.webhooks.rejected"))
	require.Equal(t, 2.0, values[`partnerhub.webhooks.ack.duration_count{env="staging",kind="payment_event",outcome="accepted"}`]+
		values[`partnerhub.webhooks.ack.duration_count{env="staging",kind="payment_event",outcome="duplicate"}`])
}

// TestWebhookRejectionReasons503: of the 503s, only a request partnerhub
// could not record counts as "unavailable" (what operators page on): a
// User Info request for an environment without an active plugin is the
// tenant's setup and counts as "no_plugin".
func TestWebhookRejectionReasons503(t *testing.T) {
	t.Parallel()
	b, meter := setupMetered(t)
	b.createTenant(t, "acme", 1042)

	resp, err := http.Get(b.srv.URL + "/pay1st/staging/acme/user-info?playerId=TEST123")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	// Nothing can be recorded any more: a forged event is answered 503,
	// and counted as such rather than as the signature it failed.
	_, err = b.pool.Exec(context.Background(), `ALTER TABLE deliveries RENAME TO deliveries_gone`)
	require.NoError(t, err)
	good := eventBody(t, "acme", 1042, "C-M-9-P", nil)
	status, _, out := b.post(t, "/pay1st/staging/acme/payment-events", good, signedHeaders("forged", good, time.Now()))
	require.Equal(t, http.StatusServiceUnavailable, status, "%v", out)

	require.Equal(t, map[string]float64{
		`partnerhub.webhooks.rejected{env="staging",kind="user_info",reason="no_plugin",tenant="acme"}`:       1,
		`partnerhub.webhooks.rejected{env="staging",kind="user_info",reason="unavailable",tenant="acme"}`:     0,
		`partnerhub.webhooks.rejected{env="staging",kind="payment_event",reason="unavailable",tenant="acme"}`: 1,
	}, telemetrytest.Matching(meter.Values(t), "partnerhub.webhooks.rejected"))
}
