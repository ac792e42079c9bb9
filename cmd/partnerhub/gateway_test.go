package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// TestGatewayPurchaseEndToEnd is issue 6's "done when" against a real
// `partnerhub serve`, the real wallet plugin and the simulator as Pay1st
// (startGatewayStack): an order created through the API is paid at the
// simulator, whose signed webhooks — each sent twice — credit the player
// once; the fulfilment is reported to the simulator once, with the order's
// SKU and quantity; a refund takes the credit back. The simulator checks
// every token and signature, and refused none.
func TestGatewayPurchaseEndToEnd(t *testing.T) {
	g := startGatewayStack(t, "gw", 3042)
	ctx := context.Background()
	const player = 77

	status, order := g.do(t, http.MethodPost, "/v1/tenants/gw/environments/staging/orders", map[string]any{
		"partnerReference": "order-gw-1", "customer": map[string]any{"id": player}, "countryCode": "NG",
		"products": []map[string]any{{"sku": "gems-100", "quantity": 2}},
	})
	require.Equal(t, http.StatusCreated, status, order)
	ref, _ := order["reference"].(string)
	require.NotEmpty(t, ref, order)
	require.NotEmpty(t, order["checkoutUrl"], order)
	sp, ok := g.sim.Payment(ref)
	require.True(t, ok, "the payment exists at the simulator")
	require.Equal(t, "201", sp.Amount.String(), "priced from the catalog: 2 × 100.50")

	// PENDING then SUCCESSFUL, each delivered twice.
	require.NoError(t, g.sim.Pay(ctx, ref, sim.Duplicate()))
	timeline := func() map[string]any {
		status, tl := g.do(t, http.MethodGet, "/v1/tenants/gw/environments/staging/payments/"+ref, nil)
		require.Equal(t, http.StatusOK, status, tl)
		return tl
	}
	var report map[string]any
	require.Eventually(t, func() bool {
		report, _ = timeline()["report"].(map[string]any)
		return report != nil && report["state"] == payment.StateSucceeded
	}, 60*time.Second, 100*time.Millisecond, "the fulfilment was never reported; last %v", report)
	require.EqualValues(t, 1, report["attempts"])
	require.Empty(t, report["lastError"])
	require.NotEmpty(t, report["reportedAt"])
	require.Equal(t, []any{map[string]any{"sku": "gems-100", "quantity": float64(2)}}, report["products"])

	// Reported once, as the order had it, at the time the game credited it.
	reports := g.sim.Fulfilments(ref)
	require.Len(t, reports, 1)
	require.Equal(t, ref, reports[0].Reference)
	require.Len(t, reports[0].Products, 1)
	line := reports[0].Products[0]
	require.Equal(t, "gems-100", line.SKU)
	require.Equal(t, pay1st.FulfilmentStatusFulfilled, line.FulfilmentStatus)
	require.EqualValues(t, 2, line.Quantity)
	var succeededAt time.Time
	require.NoError(t, g.pool.QueryRow(ctx, `SELECT f.succeeded_at FROM fulfilments f JOIN payments p ON p.id = f.payment_id
		WHERE p.reference = $1 AND f.kind = 'fulfil'`, ref).Scan(&succeededAt))
	require.WithinDuration(t, succeededAt, line.FulfilmentTime, time.Microsecond)

	// Credited once: the order's digital currency for its player.
	w := g.wallet(t, "gw")
	require.Equal(t, map[string]string{"GEM": "200"}, normalise(w.Balances["77"]))
	require.Len(t, w.Applied, 1)
	require.Contains(t, w.Applied, payment.IdempotencyKey("gw", tenant.Staging, ref, payment.KindFulfil))

	// Every webhook was signed as partnerhub verifies: all acknowledged,
	// the repeats as duplicates.
	for _, h := range g.sim.Webhooks() {
		require.Equal(t, http.StatusOK, h.ResponseStatus, "%s %s: %s", h.Status, h.Reference, h.Err)
	}
	require.Equal(t, 2, g.count(t, `SELECT count(*) FROM deliveries WHERE reference = $1 AND verdict = 'accepted'`, ref))
	require.Equal(t, 2, g.count(t, `SELECT count(*) FROM deliveries WHERE reference = $1 AND verdict = 'duplicate'`, ref))

	// Pay1st sends the SUCCESSFUL event once more, later: nothing new.
	require.NoError(t, g.sim.Redeliver(ctx, ref))
	require.Equal(t, 3, g.count(t, `SELECT count(*) FROM deliveries WHERE reference = $1 AND verdict = 'duplicate'`, ref))
	require.Equal(t, 1, g.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
	require.Equal(t, 1, g.count(t, `SELECT count(*) FROM river_job WHERE kind = 'report_fulfilment'`))

	// A refund takes the credit back; the report stands (Pay1st refunded
	// it; what was delivered does not change).
	require.NoError(t, g.sim.Refund(ctx, ref))
	require.Eventually(t, func() bool {
		w = g.wallet(t, "gw")
		return len(w.Applied) == 2
	}, 60*time.Second, 100*time.Millisecond, "the refund was never reversed")
	require.Equal(t, map[string]string{"GEM": "0"}, normalise(w.Balances["77"]))
	require.Contains(t, w.Applied, payment.IdempotencyKey("gw", tenant.Staging, ref, payment.KindReverse))
	tl := timeline()
	require.Equal(t, "REFUND", tl["status"])
	fulfilments, _ := tl["fulfilments"].([]any)
	require.Len(t, fulfilments, 2)
	require.Equal(t, payment.KindReverse, fulfilments[1].(map[string]any)["kind"])
	require.Equal(t, payment.StateSucceeded, fulfilments[1].(map[string]any)["state"])
	require.Len(t, g.sim.Fulfilments(ref), 1, "still reported once")
	require.Equal(t, 1, g.count(t, `SELECT count(*) FROM river_job WHERE kind = 'report_fulfilment'`))

	require.Empty(t, g.refusedBySim(), "the simulator accepted every call: tokens and signatures right")
	g.stop(t)
	require.NotContains(t, g.logs.String(), g.creds.APISecret)
	require.NotContains(t, g.logs.String(), g.creds.SigningKey)
}
