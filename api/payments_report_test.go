package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// TestPaymentTimelineShowsReport: a gateway payment's fulfilment report is
// in its timeline — pending, then failed with its error — and is retried
// by hand (writable keys, audited): a waiting job runs now, a running one
// is 409, an ended one is replaced.
func TestPaymentTimelineShowsReport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	key := b.createTenant(t, "acme", 1)
	b.createTenant(t, "bravo", 2)
	acme, err := b.tenants.Get(ctx, "acme")
	require.NoError(t, err)
	viewer, err := b.tenants.CreateTenantKey(ctx, acme, tenant.RoleViewer, "viewer")
	require.NoError(t, err)
	admin, err := b.tenants.CreateTenantKey(ctx, acme, tenant.RoleAdmin, "admin")
	require.NoError(t, err)
	enq, err := jobs.NewEnqueuer(b.pool, jobs.Config{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	payments := payment.NewService(b.pool, enq)

	// An order (as create-order stores it) and its payment, fulfilled.
	_, err = b.pool.Exec(ctx, `INSERT INTO orders (tenant_id, environment, partner_reference, gateway, reference, status,
		country_code, currency_code, amount, customer_id, request_hash)
		VALUES ($1, 'staging', 'order-C-GW-P', 'pay1st', 'C-GW-P', 'created', 'NG', 'NGN', 100.50, 77, sha256('x'::bytea))`, acme.ID)
	require.NoError(t, err)
	b.sendEvent(t, "acme", 1, key, "C-GW-P", "SUCCESSFUL", "2026-03-17T08:12:00Z", nil)
	b.sendEvent(t, "acme", 1, key, "C-SHOP-P", "SUCCESSFUL", "2026-03-17T08:12:00Z", nil)
	path := "/v1/tenants/acme/environments/staging/payments/C-GW-P"
	status, _, tl := b.call(t, http.MethodGet, path, b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, tl)
	require.NotContains(t, tl, "report", "not fulfilled yet")

	p, err := payments.ByReference(ctx, acme.ID, tenant.Staging, "C-GW-P")
	require.NoError(t, err)
	f, err := payments.BeginAttempt(ctx, p, payment.KindFulfil, payment.IdempotencyKey("acme", "staging", p.Reference, payment.KindFulfil), 0)
	require.NoError(t, err)
	_, err = payments.Succeed(ctx, f.ID, "game-1")
	require.NoError(t, err)
	status, _, tl = b.call(t, http.MethodGet, path, viewer, nil)
	require.Equal(t, http.StatusOK, status, tl)
	report := tl["report"].(map[string]any)
	require.Equal(t, "pending", report["state"])
	require.EqualValues(t, 0, report["attempts"])
	require.Equal(t, []any{}, report["products"])
	require.NotContains(t, report, "reportedAt")

	// The worker tried and gave up.
	_, err = payments.BeginReportAttempt(ctx, p.ID)
	require.NoError(t, err)
	require.NoError(t, payments.ReportFailed(ctx, p.ID, "pay1st: complete fulfilment: HTTP 401 INVALID_SIGNATURE", true))
	status, _, tl = b.call(t, http.MethodGet, path, viewer, nil)
	require.Equal(t, http.StatusOK, status, tl)
	report = tl["report"].(map[string]any)
	require.Equal(t, "failed", report["state"])
	require.EqualValues(t, 1, report["attempts"])
	require.Equal(t, "pay1st: complete fulfilment: HTTP 401 INVALID_SIGNATURE", report["lastError"])
	fulfilledAt, err := time.Parse(time.RFC3339Nano, report["fulfilledAt"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), fulfilledAt, time.Minute)

	retry := path + "/retry-report"
	status, _, out := b.call(t, http.MethodPost, retry, viewer, nil)
	require.Equal(t, http.StatusForbidden, status, out)
	reportJobs := func() (n int, state string) {
		t.Helper()
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*), coalesce(max(state::text), '') FROM river_job
			WHERE kind = 'report_fulfilment'`).Scan(&n, &state))
		return n, state
	}
	// Its job still waits for a later try (scheduled): it runs now, no
	// second job; twice is still one job.
	_, err = b.pool.Exec(ctx, `UPDATE river_job SET state = 'scheduled', scheduled_at = now() + interval '1 hour'
		WHERE kind = 'report_fulfilment'`)
	require.NoError(t, err)
	for range 2 {
		status, _, out = b.call(t, http.MethodPost, retry, admin, nil)
		require.Equal(t, http.StatusOK, status, out)
		require.Equal(t, "pending", out["state"])
		require.EqualValues(t, 1, out["attempts"])
		n, state := reportJobs()
		require.Equal(t, 1, n)
		require.Equal(t, "available", state)
	}
	// While its job runs: 409, nothing changes.
	_, err = b.pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempted_at = now() WHERE kind = 'report_fulfilment'`)
	require.NoError(t, err)
	status, _, out = b.call(t, http.MethodPost, retry, admin, nil)
	require.Equal(t, http.StatusConflict, status, out)
	require.Contains(t, out["detail"], "running")
	// Its job ended (cancelled) and the report failed: a new job.
	_, err = b.pool.Exec(ctx, `UPDATE river_job SET state = 'cancelled', finalized_at = now() WHERE kind = 'report_fulfilment'`)
	require.NoError(t, err)
	require.NoError(t, payments.ReportFailed(ctx, p.ID, "pay1st: complete fulfilment: HTTP 401 INVALID_SIGNATURE", true))
	status, _, out = b.call(t, http.MethodPost, retry, admin, nil)
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "pending", out["state"])
	n, _ := reportJobs()
	require.Equal(t, 2, n)
	var audits int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'payment.retry_report'`).Scan(&audits))
	require.Equal(t, 3, audits)

	// A payment without a report, and another tenant's: not found.
	status, _, out = b.call(t, http.MethodPost, "/v1/tenants/acme/environments/staging/payments/C-SHOP-P/retry-report", admin, nil)
	require.Equal(t, http.StatusNotFound, status, out)
	status, _, tl = b.call(t, http.MethodGet, "/v1/tenants/acme/environments/staging/payments/C-SHOP-P", admin, nil)
	require.Equal(t, http.StatusOK, status, tl)
	require.NotContains(t, tl, "report", "a payment without an order has none")
	status, _, out = b.call(t, http.MethodPost, "/v1/tenants/bravo/environments/staging/payments/C-GW-P/retry-report", b.operatorKey, nil)
	require.Equal(t, http.StatusNotFound, status, out)
}
