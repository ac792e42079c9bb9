package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// The ways a create-order meets a Pay1st that misbehaves (faults in front
// of the simulator): what the order becomes and what the caller is told.

func TestCreateOrderUnknownIsFinal(t *testing.T) {
	t.Parallel()
	b := setupOrders(t)
	b.faults.then("lose", "lose")
	status, _, out := b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-u"))
	require.Equal(t, http.StatusBadGateway, status, out)
	status, _, out = b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-u"))
	require.Equal(t, http.StatusConflict, status, out)
	require.Contains(t, out["detail"], "unknown")
	require.Contains(t, out["detail"], "new partnerReference", "nobody has its checkout link: the caller must move on")

	// Asked again, with Pay1st failing: Pay1st is not called, and the
	// order stays unknown (a retry must not make it creating or failed).
	b.faults.then("500", "500")
	status, _, out = b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-u"))
	require.Equal(t, http.StatusConflict, status, out)
	require.Equal(t, 2, b.faults.pending(), "Pay1st was not called")
	_, _, got := b.call(t, http.MethodGet, b.path+"/ord-u", b.operatorKey, nil)
	require.Equal(t, "unknown", got["status"])
}

func TestCreateOrderRefusalAfterLostAnswerIsUnknown(t *testing.T) {
	t.Parallel()
	b := setupOrders(t)

	// In one request: the first answer is lost, the client's retry is
	// refused with a 400 (Pay1st may say 400 for a reused partnerReference).
	b.faults.then("lose", "400dup")
	status, _, out := b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-f"))
	require.Equal(t, http.StatusConflict, status, out)
	require.Contains(t, out["detail"], "unknown")
	_, ok := b.sim.PaymentByPartnerReference("acme", "ord-f")
	require.True(t, ok, "Pay1st holds the payment")
	_, _, got := b.call(t, http.MethodGet, b.path+"/ord-f", b.operatorKey, nil)
	require.Equal(t, "unknown", got["status"], "not failed: the payment exists")

	// Across requests: both answers lost (order kept, creating), then the
	// next request is refused with a 400.
	b.faults.then("lose", "lose")
	status, _, out = b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-f2"))
	require.Equal(t, http.StatusBadGateway, status, out)
	b.faults.then("400dup")
	status, _, out = b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-f2"))
	require.Equal(t, http.StatusConflict, status, out)
	_, _, got = b.call(t, http.MethodGet, b.path+"/ord-f2", b.operatorKey, nil)
	require.Equal(t, "unknown", got["status"])

	// A 400 with nothing ambiguous before it is a refusal: failed.
	b.faults.then("400dup")
	status, _, out = b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-f3"))
	require.Equal(t, http.StatusUnprocessableEntity, status, out)
	_, _, got = b.call(t, http.MethodGet, b.path+"/ord-f3", b.operatorKey, nil)
	require.Equal(t, "failed", got["status"])
}

func TestCreateOrderWebhookTokenNeverLeaks(t *testing.T) {
	t.Parallel()
	b := setupOrders(t)
	status, _, env := b.call(t, http.MethodPatch, "/v1/tenants/acme/environments/staging", b.operatorKey, map[string]any{"authMode": "token"})
	require.Equal(t, http.StatusOK, status, env)
	token, _ := env["webhookToken"].(string)
	require.NotEmpty(t, token)

	// Pay1st refuses, quoting the webhookUrl sent: its words reach the
	// caller and lastError, the token does not.
	b.faults.then("echo400")
	status, _, out := b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-leak"))
	require.Equal(t, http.StatusUnprocessableEntity, status, out)
	require.Contains(t, out["detail"], "payment-events?token=", "Pay1st's message is kept")
	_, _, got := b.call(t, http.MethodGet, b.path+"/ord-leak", b.operatorKey, nil)
	require.Contains(t, got["lastError"], "not reachable")

	// Pay1st fails twice quoting it: the client's retry warning is logged.
	b.faults.then("echo503", "echo503")
	status, _, out2 := b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-leak-2"))
	require.Equal(t, http.StatusBadGateway, status, out2)
	require.Contains(t, b.logs.String(), "retrying")

	for _, blob := range []any{out, got, out2} {
		raw, err := json.Marshal(blob)
		require.NoError(t, err)
		require.NotContains(t, string(raw), token)
	}
	require.NotContains(t, b.logs.String(), token)
}

func TestCreateOrderHeldByCrashedRequestWaitsForItsLease(t *testing.T) {
	t.Parallel()
	b := setupOrders(t)
	ctx := context.Background()
	b.faults.then("500", "500")
	status, _, _ := b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-c"))
	require.Equal(t, http.StatusBadGateway, status)

	// A node took it and died while calling Pay1st: the same request is
	// told to come back (not a conflict), and Pay1st is not called.
	_, err := b.pool.Exec(ctx, `UPDATE orders SET calling_until = now() + interval '1 hour'`)
	require.NoError(t, err)
	status, hdr, out := b.fetchH(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-c"))
	require.Equal(t, http.StatusServiceUnavailable, status, out)
	require.Contains(t, out["detail"], "another request")
	require.Contains(t, []string{"3599", "3600"}, hdr.Get("Retry-After"), "until the holder's lease ends")
	require.Empty(t, b.creates())

	// Its lease over, the same request creates it, once.
	_, err = b.pool.Exec(ctx, `UPDATE orders SET calling_until = now() - interval '1 second'`)
	require.NoError(t, err)
	status, _, out = b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-c"))
	require.Equal(t, http.StatusCreated, status, out)
	require.Len(t, b.creates(), 1)
}

func TestCreateOrderRateLimitedStaysCreating(t *testing.T) {
	t.Parallel()
	b := setupOrders(t)
	b.faults.then("429")
	status, hdr, out := b.fetchH(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-429"))
	require.Equal(t, http.StatusServiceUnavailable, status, out)
	require.Equal(t, "5", hdr.Get("Retry-After"))
	require.Contains(t, out["detail"], "RATE_LIMITED")
	_, _, got := b.call(t, http.MethodGet, b.path+"/ord-429", b.operatorKey, nil)
	require.Equal(t, "creating", got["status"], "Pay1st did not refuse the order, only the pace")

	status, _, out = b.call(t, http.MethodPost, b.path, b.operatorKey, orderBody("ord-429"))
	require.Equal(t, http.StatusCreated, status, out)
	require.Len(t, b.creates(), 1)
}
