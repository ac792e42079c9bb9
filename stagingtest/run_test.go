package stagingtest_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/stagingtest"
	"github.com/partnerhub/partnerhub/tenant"
)

// stalledTransport is a partnerhub webhook endpoint that never answers:
// the request ends only when its caller gives up. arrived is called as
// each request arrives, ended with why it ended.
type stalledTransport struct {
	arrived func()
	mu      sync.Mutex
	ended   []error
}

func (s *stalledTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	s.arrived()
	<-r.Context().Done()
	s.mu.Lock()
	s.ended = append(s.ended, r.Context().Err())
	s.mu.Unlock()
	return nil, r.Context().Err()
}

func (s *stalledTransport) endings() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ended)
}

// The wait ending (or the client leaving) while the simulator pays leaves
// the transaction pending (resumable), not failed, with no webhook token
// in its steps; the same request resumes it, and the simulator sends the
// paid payment's event again rather than paying twice.
func TestWaitEndingDuringPayIsPendingAndResumes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.New(t)
	box, err := seal.New(bytes.Repeat([]byte{3}, 32))
	require.NoError(t, err)
	tenants := tenant.NewService(pool, box)
	c, err := tenants.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 42, Name: "Acme"})
	require.NoError(t, err)
	prod, err := tenants.CreateProduct(ctx, c.Tenant.ID, tenant.Staging, tenant.ProductParams{
		Name: "Gems", Countries: []string{"NG"}, FulfilmentMethod: tenant.FulfilPlugin})
	require.NoError(t, err)
	_, err = tenants.CreateBundle(ctx, c.Tenant.ID, tenant.Staging, tenant.BundleParams{
		ProductID: prod.ID, SKU: "gems-100", Name: "100 Gems", Quantity: decimal.NewFromInt(100),
		DigitalCurrencyName: "Gems", DigitalCurrencyCode: "GEM",
		Prices: []tenant.Price{{CountryCode: "NG", CurrencyCode: "NGN", Amount: decimal.RequireFromString("100.50")}}})
	require.NoError(t, err)
	k, s, sg := "acme-key", "acme-secret", "acme-signing-key-0123456789"
	_, err = tenants.SetCredentials(ctx, c.Tenant, tenant.Staging, tenant.Credentials{APIKey: &k, APISecret: &s, SigningKey: &sg})
	require.NoError(t, err)
	// Webhook auth by token: the token is in the webhook URL.
	mode := tenant.AuthToken
	changed, err := tenants.UpdateEnvironment(ctx, c.Tenant, tenant.Staging, tenant.EnvPatch{AuthMode: &mode})
	require.NoError(t, err)
	require.NotEmpty(t, changed.WebhookToken)

	// The client leaves as the simulator sends its first webhook: the run
	// goes on to the end of its wait.
	gone, leave := context.WithCancel(ctx)
	t.Cleanup(leave)
	stalled := &stalledTransport{arrived: leave}
	srv, err := sim.Start(sim.Options{HTTPClient: &http.Client{Transport: stalled}, NoControl: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	client, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: srv.URL, MaxAttempts: 1})
	require.NoError(t, err)
	gw := pay1st.NewGateways(nil, nil)
	gw.SetSimulator(client)
	enq, err := jobs.NewEnqueuer(pool, jobs.Config{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	payments := payment.NewService(pool, enq)
	payments.SetCheckout(payment.Checkout{Tenants: tenants, Gateways: gw, PublicURL: "https://hub.example"})
	tests := stagingtest.New(stagingtest.Config{Pool: pool, Tenants: tenants, Payments: payments,
		Simulator: srv.Simulator, Wait: time.Second})

	req := stagingtest.Request{PartnerReference: "test-slow", SKU: "gems-100", PlayerID: 7}
	tx, created, err := tests.Run(gone, c.Tenant, tenant.Staging, req)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, stagingtest.StatusPending, tx.Status, "the simulator paid; only the wait ended: %+v", tx.Steps)
	sp, ok := srv.Simulator.Payment(tx.Reference)
	require.True(t, ok)
	require.Equal(t, pay1st.StatusSuccessful, sp.Status)
	ended := stalled.endings()
	require.NotEmpty(t, ended)
	require.ErrorIs(t, ended[0], context.DeadlineExceeded, "the run outlived the client: its webhook waited to the end of the wait")

	got, err := tests.Get(ctx, c.Tenant, tenant.Staging, "test-slow")
	require.NoError(t, err)
	require.Equal(t, stagingtest.StatusPending, got.Status)
	for _, st := range got.Steps {
		require.NotContains(t, st.Detail, changed.WebhookToken, "a step, readable by viewer keys, holds the webhook token")
	}

	// The same request resumes it: no second payment, the paid event again.
	sent := len(srv.Simulator.Webhooks())
	again, created, err := tests.Run(ctx, c.Tenant, tenant.Staging, req)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, tx.ID, again.ID)
	require.Equal(t, tx.Reference, again.Reference)
	require.Equal(t, stagingtest.StatusPending, again.Status, "partnerhub still does not answer: %+v", again.Steps)
	hooks := srv.Simulator.Webhooks()
	require.Len(t, hooks, sent+1, "the resumed run sent the SUCCESSFUL event again")
	require.Equal(t, pay1st.StatusSuccessful, hooks[len(hooks)-1].Status)
	for _, st := range again.Steps {
		require.NotContains(t, st.Detail, changed.WebhookToken)
	}
}
