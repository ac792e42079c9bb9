package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// failFulfilment records a SUCCESSFUL payment for the tenant whose
// fulfilment was rejected, with its job cancelled, as the fulfil worker
// leaves it; it returns the fulfilment record's id.
func failFulfilment(t *testing.T, b bundle, code, reference string) int64 {
	t.Helper()
	ctx := context.Background()
	enq, err := jobs.NewEnqueuer(b.pool, jobs.Config{FetchCooldown: 10 * time.Millisecond}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	payments := payment.NewService(b.pool, enq)
	env, err := b.tenants.Env(ctx, code, tenant.Staging)
	require.NoError(t, err)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := pay1st.PaymentEvent{PartnerID: env.PartnerID, PartnerCode: code, PartnerReference: "o-" + reference,
		Reference: reference, OrderAmount: decimal.RequireFromString("10"), CurrencyCode: "ZAR", CountryCode: "ZA",
		Source: "web", Platform: "WEB", IPAddress: "198.51.100.1", CreatedDate: at, UpdatedDate: at,
		Status: pay1st.StatusSuccessful, Message: "ok", CustomerID: 2, PaymentMethod: "CARD",
		TaxPercentage: decimal.Zero, PartnerWebhookURL: "https://x.example/"}
	res, err := payments.IngestEvent(ctx, env, payment.Delivery{SessionID: "s", PartnerCode: code, Env: "staging",
		RemoteAddr: "t", Headers: map[string]string{}, Body: []byte("{}")}, ev)
	require.NoError(t, err)
	p, err := payments.Get(ctx, res.PaymentID)
	require.NoError(t, err)
	key := payment.IdempotencyKey(code, "staging", reference, payment.KindFulfil)
	f, err := payments.BeginAttempt(ctx, p, payment.KindFulfil, key, 0)
	require.NoError(t, err)
	require.NoError(t, payments.RecordError(ctx, f.ID, "rejected by plugin: player banned", true))
	require.NoError(t, db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
		_, err := enq.CancelFulfilTx(ctx, tx, p.ID)
		return err
	}))
	return f.ID
}

func TestFulfilmentsRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.createTenant(t, "acme", 1)
	first := failFulfilment(t, b, "acme", "C-F1-P")
	second := failFulfilment(t, b, "acme", "C-F2-P")
	acme, err := b.tenants.Get(ctx, "acme")
	require.NoError(t, err)
	viewer, err := b.tenants.CreateTenantKey(ctx, acme, tenant.RoleViewer, "viewer")
	require.NoError(t, err)

	status, _, page := b.call(t, http.MethodGet, "/v1/tenants/acme/fulfilments?state=failed&kind=fulfil&environment=staging&limit=1", viewer, nil)
	require.Equal(t, http.StatusOK, status, page)
	items := page["items"].([]any)
	require.Len(t, items, 1)
	require.Equal(t, float64(second), items[0].(map[string]any)["id"], "newest first")
	require.Equal(t, "rejected by plugin: player banned", items[0].(map[string]any)["lastError"])
	require.NotEmpty(t, page["nextCursor"])

	status, _, _ = b.call(t, http.MethodGet, "/v1/tenants/acme/fulfilments?state=bogus", viewer, nil)
	require.Equal(t, http.StatusUnprocessableEntity, status)

	retry := "/v1/tenants/acme/fulfilments/" + strconv.FormatInt(first, 10) + "/retry"
	status, _, out := b.call(t, http.MethodPost, retry, viewer, nil)
	require.Equal(t, http.StatusForbidden, status, out)

	status, _, out = b.call(t, http.MethodPost, retry, b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "pending", out["state"])
	require.Equal(t, float64(1), out["attempts"], "the history stays")

	status, _, out = b.call(t, http.MethodPost, retry, b.operatorKey, nil)
	require.Equal(t, http.StatusConflict, status, out)
	require.Contains(t, out["detail"], "pending, not failed")

	var jobsOfPayment int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'
		AND args->>'reference' = 'C-F1-P'`).Scan(&jobsOfPayment))
	require.Equal(t, 2, jobsOfPayment, "the cancelled job and one new one")

	status, _, out = b.call(t, http.MethodPost, "/v1/tenants/acme/fulfilments/retry", b.operatorKey,
		map[string]any{"ids": []int64{first, second, 424242}, "max": 5})
	require.Equal(t, http.StatusOK, status, out)
	require.Len(t, out["requeued"], 1)
	require.Equal(t, float64(second), out["requeued"].([]any)[0].(map[string]any)["id"])
	require.ElementsMatch(t, []any{
		map[string]any{"id": float64(first), "reason": "it is pending, not failed"},
		map[string]any{"id": float64(424242), "reason": "not found"},
	}, out["skipped"])
	require.Equal(t, false, out["more"])

	status, _, out = b.call(t, http.MethodPost, "/v1/tenants/acme/fulfilments/retry", b.operatorKey,
		map[string]any{"ids": []int64{first, second}, "max": 1})
	require.Equal(t, http.StatusUnprocessableEntity, status, out)

	status, _, out = b.call(t, http.MethodGet, "/v1/tenants/acme/audit-log", b.operatorKey, nil)
	require.Equal(t, http.StatusOK, status, out)
	retries := 0
	for _, e := range out["items"].([]any) {
		if e.(map[string]any)["action"] == "fulfilment.retry" {
			retries++
			details := e.(map[string]any)["details"].(map[string]any)
			require.NotContains(t, details, "lastError", "plugin text stays out of the audit log")
			require.Equal(t, "C-F", details["reference"].(string)[:3])
		}
	}
	require.Equal(t, 2, retries, "one audit entry per record queued again")

	// The timeline shows the attempt history, kept across the retry.
	status, _, out = b.call(t, http.MethodGet, "/v1/tenants/acme/environments/staging/payments/C-F1-P", viewer, nil)
	require.Equal(t, http.StatusOK, status, out)
	fulfilments := out["fulfilments"].([]any)
	require.Len(t, fulfilments, 1)
	history := fulfilments[0].(map[string]any)["history"].([]any)
	require.Len(t, history, 1)
	attempt := history[0].(map[string]any)
	require.Equal(t, float64(1), attempt["number"])
	require.Equal(t, "failed", attempt["outcome"])
	require.Equal(t, "rejected by plugin: player banned", attempt["reason"])
	require.NotEmpty(t, attempt["finishedAt"])
	require.NotContains(t, attempt, "node", "the host is not the tenant's business")
}
