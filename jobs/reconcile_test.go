package jobs_test

import (
	"bytes"
	"context"
	"log/slog"
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
	"github.com/partnerhub/partnerhub/tenant"
)

// reconcileBundle is partnerhub's side (database, services) and Pay1st's
// (the simulator, reached through the staging gateway) for tenant "acme";
// "nocreds" has no Pay1st credentials.
type reconcileBundle struct {
	deps   jobs.Deps
	sim    *sim.Server
	client *pay1st.Client
	creds  pay1st.Credentials
	env    tenant.Env
	cfg    jobs.ReconcileConfig
}

func setupReconcile(t *testing.T) reconcileBundle {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t)
	box, err := seal.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	tenants := tenant.NewService(pool, box)
	enq, err := jobs.NewEnqueuer(pool, jobs.Config{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	creds := pay1st.Credentials{APIKey: "acme-key", APISecret: "acme-secret", SigningKey: "acme-signing-key"}
	s, err := sim.Start(sim.Options{Partners: []sim.Partner{{PartnerID: 42, PartnerCode: "acme",
		APIKey: creds.APIKey, APISecret: creds.APISecret, SigningKey: creds.SigningKey}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	client, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: s.URL, MaxAttempts: 1})
	require.NoError(t, err)

	for code, id := range map[string]int64{"acme": 42, "nocreds": 43} {
		c, err := tenants.Create(ctx, tenant.CreateParams{PartnerCode: code, PartnerID: id, Name: code})
		require.NoError(t, err)
		if code == "acme" {
			_, err = tenants.SetCredentials(ctx, c.Tenant, tenant.Staging, tenant.Credentials{
				APIKey: &creds.APIKey, APISecret: &creds.APISecret, SigningKey: &creds.SigningKey})
			require.NoError(t, err)
		}
	}
	env, err := tenants.Env(ctx, "acme", tenant.Staging)
	require.NoError(t, err)
	return reconcileBundle{
		deps: jobs.Deps{Pool: pool, Tenants: tenants, Payments: payment.NewService(pool, enq),
			Gateways: pay1st.NewGateways(client, nil), Logger: slog.New(slog.DiscardHandler)},
		sim: s, client: client, creds: creds, env: env,
		cfg: jobs.ReconcileConfig{After: time.Minute, GiveUpAfter: time.Hour, Batch: 10},
	}
}

// create makes a payment at the simulator, as create-order does, and
// stores its order.
func (b reconcileBundle) create(t *testing.T, partnerRef string) string {
	t.Helper()
	price := decimal.RequireFromString("100.50")
	created, err := b.client.CreatePayment(context.Background(), b.creds, pay1st.CreatePaymentRequest{
		Amount: price, CountryCode: "NG", CurrencyCode: "NGN", PartnerReference: partnerRef,
		Products: []pay1st.Product{{Title: "100 Gems", SKU: "gems-100", Price: price, Quantity: 1, CurrencyCode: "NGN"}},
	})
	require.NoError(t, err)
	_, err = b.deps.Pool.Exec(context.Background(), `INSERT INTO orders
		(tenant_id, environment, partner_reference, gateway, reference, status, country_code, currency_code,
		 amount, customer_id, request_hash)
		VALUES ($1, 'staging', $2::text, 'pay1st', $3, 'created', 'NG', 'NGN', 100.50, 77, sha256(convert_to($2::text, 'UTF8')))`,
		b.env.TenantID, partnerRef, created.Reference)
	require.NoError(t, err)
	return created.Reference
}

func (b reconcileBundle) run(t *testing.T, ahead time.Duration) jobs.ReconcileRun {
	t.Helper()
	run, err := jobs.Reconcile(context.Background(), b.deps, b.cfg, time.Now().Add(ahead))
	require.NoError(t, err)
	return run
}

// queries counts the simulator's answered queries of reference.
func (b reconcileBundle) queries(reference string) int {
	n := 0
	for _, r := range b.sim.Requests() {
		if r.Path == pay1st.PathPayments && r.Reference == reference {
			n++
		}
	}
	return n
}

func (b reconcileBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.deps.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func TestReconcileRecoversALostWebhook(t *testing.T) {
	t.Parallel()
	b := setupReconcile(t)
	ctx := context.Background()
	ref := b.create(t, "order-lost-1")
	require.NoError(t, b.sim.Pay(ctx, ref, sim.Lose()))

	require.Equal(t, jobs.ReconcileRun{}, b.run(t, 0), "too young to be stuck")
	require.Equal(t, 0, b.queries(ref))

	run := b.run(t, 2*time.Minute)
	require.Equal(t, jobs.ReconcileRun{Claimed: 1, Ingested: 1}, run)
	require.Equal(t, 1, b.queries(ref), "asked once")
	p, err := b.deps.Payments.ByReference(ctx, b.env.TenantID, tenant.Staging, ref)
	require.NoError(t, err)
	require.Equal(t, "SUCCESSFUL", p.Status, "Pay1st's answer went through the state machine")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil' AND args->>'reference' = $1`, ref))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM deliveries WHERE kind = 'reconcile' AND reference = $1`, ref),
		"the timeline says the status came from reconciliation")

	// Settled: never asked again; the late webhook changes nothing.
	require.Equal(t, jobs.ReconcileRun{}, b.run(t, time.Hour-time.Second))
	require.Equal(t, 1, b.queries(ref))
	sp, ok := b.sim.Payment(ref)
	require.True(t, ok)
	late, err := b.deps.Payments.IngestEvent(ctx, b.env, payment.Delivery{SessionID: "late", Headers: map[string]string{}},
		sp.History[len(sp.History)-1])
	require.NoError(t, err)
	require.True(t, late.Duplicate, "the lost webhook, arriving after all, is the event reconciliation recorded")
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
}

func TestReconcileGoesOnPastFailures(t *testing.T) {
	t.Parallel()
	b := setupReconcile(t)
	ctx := context.Background()
	// A payment Pay1st does not know (404), one of a tenant without
	// credentials (not asked about: it takes no place in the batch and is
	// never given up on), and one still pending at Pay1st.
	unknown := pay1st.PaymentEvent{PartnerID: 42, PartnerCode: "acme", PartnerReference: "order-x", Reference: "C-unknown-P",
		OrderAmount: decimal.RequireFromString("1"), CurrencyCode: "NGN", CountryCode: "NG", Platform: "WEB",
		CreatedDate: time.Now(), UpdatedDate: time.Now(), Status: pay1st.StatusPending, CustomerID: 1}
	_, err := b.deps.Payments.IngestEvent(ctx, b.env, payment.Delivery{SessionID: "s", Headers: map[string]string{}}, unknown)
	require.NoError(t, err)
	nocreds, err := b.deps.Tenants.Env(ctx, "nocreds", tenant.Staging)
	require.NoError(t, err)
	other := unknown
	other.PartnerCode, other.PartnerID, other.Reference = "nocreds", 43, "C-nocreds-P"
	_, err = b.deps.Payments.IngestEvent(ctx, nocreds, payment.Delivery{SessionID: "s", Headers: map[string]string{}}, other)
	require.NoError(t, err)
	pending := b.create(t, "order-pending")

	run := b.run(t, 2*time.Minute)
	require.Equal(t, jobs.ReconcileRun{Claimed: 2, Ingested: 1, Failed: 1}, run, "each failure is its own")
	check, err := b.deps.Payments.ReconcileCheckOf(ctx, b.env.TenantID, tenant.Staging, "C-unknown-P")
	require.NoError(t, err)
	require.Contains(t, check.LastError, "NOT_FOUND")
	require.NotContains(t, check.LastError, b.creds.APISecret)
	_, err = b.deps.Payments.ReconcileCheckOf(ctx, nocreds.TenantID, tenant.Staging, "C-nocreds-P")
	require.ErrorIs(t, err, payment.ErrNotFound, "no credentials: not asked about")
	p, err := b.deps.Payments.ByReference(ctx, b.env.TenantID, tenant.Staging, pending)
	require.NoError(t, err)
	require.Equal(t, "NEW", p.Status, "an order Pay1st knows becomes a payment")

	// Asked again only after the backoff; the same NEW answer records
	// nothing new.
	require.Equal(t, jobs.ReconcileRun{}, b.run(t, 2*time.Minute+30*time.Second))
	again := b.run(t, 4*time.Minute)
	require.Equal(t, 2, again.Claimed)
	require.Equal(t, 0, again.Ingested)
	require.Equal(t, 2, b.queries(pending))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM deliveries WHERE kind = 'reconcile' AND reference = $1`, pending))

	// Past the give-up age: said once, never asked again.
	gone := b.run(t, 2*time.Hour)
	require.Equal(t, jobs.ReconcileRun{GaveUp: 2}, gone, "the tenant without credentials is never given up on")
	require.Equal(t, jobs.ReconcileRun{}, b.run(t, 3*time.Hour))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM deliveries WHERE kind = 'reconcile' AND reference = 'C-nocreds-P'`))
}
