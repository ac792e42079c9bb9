package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// simPublicHost is the PARTNERHUB_PUBLIC_URL host the reconcile tests give
// the server: the order's webhook URL names it, and the simulator's
// transport delivers it to the server's real address (known only once it
// runs). Signatures cover the body, not the URL.
const simPublicHost = "partnerhub.test"

// hubTransport sends requests for simPublicHost to the server at *target.
type hubTransport struct{ target atomic.Pointer[url.URL] }

func (h *hubTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == simPublicHost {
		if t := h.target.Load(); t != nil {
			r = r.Clone(r.Context())
			r.URL.Scheme, r.URL.Host = t.Scheme, t.Host
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// gatewayStack is a serve process whose staging gateway is a simulator, with
// tenant code's credentials known to both, a bundle "gems-100" sold in NG
// at 100.50 NGN and the wallet plugin active in staging.
type gatewayStack struct {
	*server
	sim   *sim.Server
	code  string
	creds pay1st.Credentials
}

func startGatewayStack(t *testing.T, code string, partnerID int64, extraEnv ...string) *gatewayStack {
	t.Helper()
	ctx := context.Background()
	hub := &hubTransport{}
	s, err := sim.Start(sim.Options{HTTPClient: &http.Client{Transport: hub, Timeout: 10 * time.Second}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	env := append([]string{"PARTNERHUB_PAY1ST_STAGING_URL=" + s.URL, "PARTNERHUB_PUBLIC_URL=http://" + simPublicHost}, extraEnv...)
	srv := startServer(t, env...)
	target, err := url.Parse(srv.url)
	require.NoError(t, err)
	hub.target.Store(target)

	signingKey := srv.createTenant(t, code, partnerID)
	g := &gatewayStack{server: srv, sim: s, code: code,
		creds: pay1st.Credentials{APIKey: code + "-api-key", APISecret: code + "-api-secret", SigningKey: signingKey}}
	require.NoError(t, s.AddPartner(sim.Partner{PartnerID: partnerID, PartnerCode: code,
		APIKey: g.creds.APIKey, APISecret: g.creds.APISecret, SigningKey: signingKey}))
	tn, err := srv.tenants.Get(ctx, code)
	require.NoError(t, err)
	_, err = srv.tenants.SetCredentials(ctx, tn, tenant.Staging, tenant.Credentials{APIKey: &g.creds.APIKey, APISecret: &g.creds.APISecret})
	require.NoError(t, err)
	g.catalog(t, code)
	srv.activateWallet(t, code) // waits out the environment cache too
	return g
}

// catalog gives tenant code's staging the bundle gems-100: 100 GEM for
// 100.50 NGN in NG.
func (g *gatewayStack) catalog(t *testing.T, code string) {
	t.Helper()
	ctx := context.Background()
	tn, err := g.tenants.Get(ctx, code)
	require.NoError(t, err)
	prod, err := g.tenants.CreateProduct(ctx, tn.ID, tenant.Staging, tenant.ProductParams{
		Name: "Gems", Countries: []string{"NG"}, FulfilmentMethod: tenant.FulfilPlugin})
	require.NoError(t, err)
	_, err = g.tenants.CreateBundle(ctx, tn.ID, tenant.Staging, tenant.BundleParams{
		ProductID: prod.ID, SKU: "gems-100", Name: "100 Gems", Quantity: decimal.NewFromInt(100),
		DigitalCurrencyName: "Gems", DigitalCurrencyCode: "GEM",
		Prices: []tenant.Price{{CountryCode: "NG", CurrencyCode: "NGN", Amount: decimal.RequireFromString("100.50")}}})
	require.NoError(t, err)
}

// do calls the management API with the operator key.
func (g *gatewayStack) do(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, g.url+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+g.operatorKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// order creates an order for one gems-100 through the API and returns
// Pay1st's reference.
func (g *gatewayStack) order(t *testing.T, partnerRef string, player int64) string {
	t.Helper()
	status, out := g.do(t, http.MethodPost, "/v1/tenants/"+g.code+"/environments/staging/orders", map[string]any{
		"partnerReference": partnerRef, "customer": map[string]any{"id": player}, "countryCode": "NG",
		"products": []map[string]any{{"sku": "gems-100", "quantity": 1}},
	})
	require.Less(t, status, 300, out)
	ref, _ := out["reference"].(string)
	require.NotEmpty(t, ref, out)
	return ref
}

// refusedBySim lists the requests the simulator refused (a bad signature,
// token or body would be among them).
func (g *gatewayStack) refusedBySim() []sim.Request {
	var bad []sim.Request
	for _, r := range g.sim.Requests() {
		if r.Status >= 400 {
			bad = append(bad, r)
		}
	}
	return bad
}

func (g *gatewayStack) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, g.pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// TestLostWebhookRecoveredByReconciliation: the order is paid at Pay1st
// but no webhook ever arrives; reconciliation asks the simulator, feeds the
// answer to the state machine, and the purchase is credited by the wallet
// plugin once and reported to the simulator once.
func TestLostWebhookRecoveredByReconciliation(t *testing.T) {
	g := startGatewayStack(t, "lost", 2042,
		"PARTNERHUB_RECONCILE_AFTER=1s", "PARTNERHUB_RECONCILE_INTERVAL=1s", "PARTNERHUB_RECONCILE_GIVE_UP=1h")
	ctx := context.Background()
	ref := g.order(t, "order-lost-1", 77)
	require.NoError(t, g.sim.Pay(ctx, ref, sim.Lose()))
	for _, h := range g.sim.Webhooks() {
		require.True(t, h.Lost, "nothing was sent")
	}

	require.Eventually(t, func() bool { return len(g.sim.Fulfilments(ref)) > 0 },
		45*time.Second, 100*time.Millisecond, "the lost payment was never fulfilled and reported")
	require.Equal(t, payment.StateSucceeded, g.fulfilmentState(t, ref))

	// Give periodic runs and jobs time to do anything twice.
	time.Sleep(3 * time.Second)
	require.Len(t, g.sim.Fulfilments(ref), 1, "reported once")
	report := g.sim.Fulfilments(ref)[0]
	require.Equal(t, ref, report.Reference)
	require.Len(t, report.Products, 1)
	require.Equal(t, "gems-100", report.Products[0].SKU)

	w := g.wallet(t, g.code)
	require.Len(t, w.Applied, 1, "credited once")
	require.Contains(t, w.Applied, payment.IdempotencyKey(g.code, tenant.Staging, ref, payment.KindFulfil))
	require.Equal(t, 1, g.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
	require.Equal(t, 0, g.count(t, `SELECT count(*) FROM deliveries WHERE kind = 'payment_event'`), "no webhook arrived")
	require.Equal(t, 1, g.count(t, `SELECT count(*) FROM deliveries WHERE kind = 'reconcile' AND reference = $1`, ref),
		"the status came from reconciliation, once")

	// The timeline says so.
	status, tl := g.do(t, http.MethodGet, "/v1/tenants/"+g.code+"/environments/staging/payments/"+ref, nil)
	require.Equal(t, http.StatusOK, status, tl)
	require.Equal(t, "SUCCESSFUL", tl["status"])
	deliveries, _ := tl["deliveries"].([]any)
	require.Len(t, deliveries, 1)
	require.Equal(t, payment.KindReconcile, deliveries[0].(map[string]any)["kind"])

	require.Empty(t, g.refusedBySim(), "the simulator accepted every call: tokens and signatures right")
	require.NotContains(t, g.logs.String(), g.creds.APISecret)
}
