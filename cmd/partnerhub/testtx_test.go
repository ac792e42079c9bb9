package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// TestStagingTestTransaction: create-test-transaction runs a purchase
// through the server's in-process simulator, signed webhook, fulfil job,
// wallet plugin and fulfilment report, answers every step ok, and marks
// the checklist step done; repeated, it is the same transaction.
func TestStagingTestTransaction(t *testing.T) {
	g := startGatewayStack(t, "trial", 3042)
	path := "/v1/tenants/trial/environments/staging/test-transactions"
	body := map[string]any{"partnerReference": "test-1", "sku": "gems-100", "playerId": 501}

	status, out := g.do(t, http.MethodPost, path, body)
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "succeeded", out["status"], out)
	steps, _ := out["steps"].([]any)
	var names []string
	for _, s := range steps {
		st := s.(map[string]any)
		require.Equal(t, "ok", st["result"], st)
		names = append(names, st["name"].(string))
	}
	require.Equal(t, []string{"credentials", "simulator", "order", "payment", "webhook", "fulfilment", "report"}, names)
	ref := out["reference"].(string)
	require.Equal(t, "NG", out["countryCode"], "the bundle's priced country")

	w := g.wallet(t, "trial")
	require.Len(t, w.Applied, 1)
	require.Contains(t, w.Applied, payment.IdempotencyKey("trial", tenant.Staging, ref, payment.KindFulfil))
	require.Equal(t, 2, g.count(t, `SELECT count(*) FROM deliveries WHERE kind = 'payment_event' AND verdict = 'accepted' AND reference = $1`, ref),
		"PENDING and SUCCESSFUL went through partnerhub's own webhook verification")

	status, checklist := g.do(t, http.MethodGet, "/v1/tenants/trial/checklist", nil)
	require.Equal(t, http.StatusOK, status, checklist)
	var done bool
	for _, s := range checklist["steps"].([]any) {
		st := s.(map[string]any)
		if st["key"] == "staging_test" {
			done = st["status"] == "done"
		}
	}
	require.True(t, done, "the staging test step is done: %v", checklist)

	// The same request again: the same transaction, nothing new.
	status, again := g.do(t, http.MethodPost, path, body)
	require.Equal(t, http.StatusOK, status, again)
	require.Equal(t, ref, again["reference"])
	require.Equal(t, 1, g.count(t, `SELECT count(*) FROM orders`))
	status, got := g.do(t, http.MethodGet, path+"/test-1", nil)
	require.Equal(t, http.StatusOK, status, got)
	require.Equal(t, "succeeded", got["status"])

	// Another request with its reference conflicts; production refuses.
	body["playerId"] = 502
	status, out = g.do(t, http.MethodPost, path, body)
	require.Equal(t, http.StatusConflict, status, out)
	status, out = g.do(t, http.MethodPost, "/v1/tenants/trial/environments/production/test-transactions", body)
	require.Equal(t, http.StatusUnprocessableEntity, status, out)
	require.Contains(t, out["detail"], "staging only")

	// A tenant without Pay1st credentials gets a failed first step.
	g.createTenant(t, "nocreds", 3043)
	nocreds := "/v1/tenants/nocreds/environments/staging/test-transactions"
	status, out = g.do(t, http.MethodPost, nocreds, map[string]any{"sku": "gems-100", "playerId": 1})
	require.Equal(t, http.StatusUnprocessableEntity, status, "no such bundle: %v", out)
	g.catalog(t, "nocreds")
	status, out = g.do(t, http.MethodPost, nocreds, map[string]any{"sku": "gems-100", "playerId": 1})
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "failed", out["status"])
	steps = out["steps"].([]any)
	require.Len(t, steps, 1)
	first := steps[0].(map[string]any)
	require.Equal(t, "credentials", first["name"])
	require.Equal(t, "failed", first["result"])
	require.Contains(t, first["detail"], "apiKey", "names what is missing")
	require.Empty(t, g.refusedBySim())
}
