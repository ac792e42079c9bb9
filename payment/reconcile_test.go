package payment_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// params is a run at now+ahead: anything partnerhub heard of before
// now+ahead-after is stuck.
// Pay1st can be asked about acme's staging, at both gateways.
func (b bundle) params(ahead time.Duration) payment.ReconcileParams {
	return payment.ReconcileParams{Now: time.Now().Add(ahead), After: time.Minute, GiveUpAfter: time.Hour, Limit: 10,
		Askable: payment.Askable{
			Envs: []tenant.EnvRef{{TenantID: b.env.TenantID, Env: tenant.Staging}},
			Gateways: []payment.GatewayRef{{Env: tenant.Staging, Gateway: pay1st.GatewayPay1st},
				{Env: tenant.Staging, Gateway: pay1st.GatewaySimulator}, {Env: tenant.Production, Gateway: pay1st.GatewayPay1st}},
		}}
}

func (b bundle) claim(t *testing.T, p payment.ReconcileParams) []payment.ReconcileItem {
	t.Helper()
	items, err := b.payments.ClaimReconcile(context.Background(), p)
	require.NoError(t, err)
	return items
}

// createdOrder stores an order created at Pay1st (what create-order leaves).
func (b bundle) createdOrder(t *testing.T, partnerRef, reference, gateway string) {
	t.Helper()
	_, err := b.pool.Exec(context.Background(), `INSERT INTO orders
		(tenant_id, environment, partner_reference, gateway, reference, status, country_code, currency_code,
		 amount, customer_id, request_hash)
		VALUES ($1, 'staging', $2::text, $3, $4, 'created', 'NG', 'NGN', 1234.56789012, 77, sha256(convert_to($2::text, 'UTF8')))`,
		b.env.TenantID, partnerRef, gateway, reference)
	require.NoError(t, err)
}

func TestReconcileClaimsStuckPaymentsOncePerCheckTime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.ingest(t, event("C-stuck-P", pay1st.StatusPending, t0))
	b.ingest(t, event("C-paid-P", pay1st.StatusSuccessful, t0))
	b.ingest(t, event("C-failed-P", pay1st.StatusFailed, t0))

	require.Empty(t, b.claim(t, b.params(0)), "nothing is stuck before the age")

	p := b.params(2 * time.Minute)
	items := b.claim(t, p)
	require.Len(t, items, 2, "paid payments are settled; pending and failed ones may still move")
	for _, it := range items {
		require.Equal(t, payment.SubjectPayment, it.Subject)
		require.Equal(t, pay1st.GatewayPay1st, it.Gateway, "no order: the real Pay1st")
		require.Equal(t, 1, it.Checks)
		require.Equal(t, "acme", it.PartnerCode)
	}
	require.Empty(t, b.claim(t, p), "a run never gets a claimed reference again")

	// The next check waits After, then twice as long each time.
	p.Now = p.Now.Add(time.Minute + time.Second)
	again := b.claim(t, p)
	require.Len(t, again, 2)
	require.Equal(t, 2, again[0].Checks)
	p.Now = p.Now.Add(time.Minute + time.Second)
	require.Empty(t, b.claim(t, p), "second wait is two minutes")
	p.Now = p.Now.Add(time.Minute)
	require.Len(t, b.claim(t, p), 2)

	limited := b.params(time.Hour - time.Second)
	limited.Limit = 1
	require.Len(t, b.claim(t, limited), 1, "the batch bound holds")
}

func TestReconcileAnswerGoesThroughTheStateMachine(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.ingest(t, event("C-lost-P", pay1st.StatusPending, t0))
	items := b.claim(t, b.params(2*time.Minute))
	require.Len(t, items, 1)
	it := items[0]
	require.Equal(t, "PENDING", it.Status)

	// Pay1st answers what it says its current state is: the PENDING we
	// know. Nothing is recorded.
	same, err := b.payments.ReconcileAnswer(ctx, b.env, it, event("C-lost-P", pay1st.StatusPending, t0))
	require.NoError(t, err)
	require.False(t, same.Ingested)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM deliveries WHERE kind = 'reconcile'`))

	// The SUCCESSFUL webhook was lost: the answer applies it and queues
	// the fulfilment, as the webhook would have.
	paid := event("C-lost-P", pay1st.StatusSuccessful, t0.Add(time.Minute))
	got, err := b.payments.ReconcileAnswer(ctx, b.env, it, paid)
	require.NoError(t, err)
	require.True(t, got.Ingested)
	require.True(t, got.Result.Applied)
	require.True(t, got.Result.Enqueued)
	require.Equal(t, "SUCCESSFUL", got.Result.Status)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM deliveries WHERE kind = 'reconcile' AND verdict = 'accepted' AND reference = 'C-lost-P'`))
	_, err = b.payments.ReconcileCheckOf(ctx, b.env.TenantID, "staging", "C-lost-P")
	require.ErrorIs(t, err, payment.ErrNotFound, "a settled payment is no longer reconciled")

	// The same answer twice (or the webhook arriving late) changes nothing.
	again, err := b.payments.ReconcileAnswer(ctx, b.env, it, paid)
	require.NoError(t, err)
	require.True(t, again.Result.Duplicate)
	require.False(t, again.Result.Enqueued)
	late := b.ingest(t, paid)
	require.True(t, late.Duplicate)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
	require.Empty(t, b.claim(t, b.params(time.Hour)), "settled")

	// Another partner's answer is refused and kept as the check's error.
	b.ingest(t, event("C-other-P", pay1st.StatusPending, t0))
	items = b.claim(t, b.params(3*time.Minute))
	require.Len(t, items, 1)
	wrong := event("C-other-P", pay1st.StatusSuccessful, t0.Add(time.Minute))
	wrong.PartnerCode = "someone-else"
	_, err = b.payments.ReconcileAnswer(ctx, b.env, items[0], wrong)
	require.ErrorIs(t, err, payment.ErrReconcileMismatch)
	check, err := b.payments.ReconcileCheckOf(ctx, b.env.TenantID, "staging", "C-other-P")
	require.NoError(t, err)
	require.Contains(t, check.LastError, "someone-else")
	require.Equal(t, 1, check.Checks)
	p, err := b.payments.ByReference(ctx, b.env.TenantID, "staging", "C-other-P")
	require.NoError(t, err)
	require.Equal(t, "PENDING", p.Status)
}

func TestReconcileFindsOrdersWithoutWebhooks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.createdOrder(t, "order-C-sim-P", "C-sim-P", pay1st.GatewaySimulator)
	b.createdOrder(t, "order-C-heard-P", "C-heard-P", pay1st.GatewayPay1st)
	b.ingest(t, event("C-heard-P", pay1st.StatusSuccessful, t0))

	items := b.claim(t, b.params(2*time.Minute))
	require.Len(t, items, 1, "an order with a payment is the payment's business")
	it := items[0]
	require.Equal(t, payment.SubjectOrder, it.Subject)
	require.Equal(t, "C-sim-P", it.Reference)
	require.Equal(t, pay1st.GatewaySimulator, it.Gateway, "asked where it was created")

	got, err := b.payments.ReconcileAnswer(ctx, b.env, it, event("C-sim-P", pay1st.StatusPending, t0))
	require.NoError(t, err)
	require.True(t, got.Result.Applied, "the first answer creates the payment")

	// Now it is a payment, still not settled: asked about as one.
	items = b.claim(t, b.params(4*time.Minute))
	require.Len(t, items, 1)
	require.Equal(t, payment.SubjectPayment, items[0].Subject)
	require.Equal(t, pay1st.GatewaySimulator, items[0].Gateway, "the order's gateway")
	require.Equal(t, 2, items[0].Checks)
}

func TestReconcileGivesUpAndSaysSo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.ingest(t, event("C-gone-P", pay1st.StatusPending, t0))
	b.createdOrder(t, "order-C-never-P", "C-never-P", pay1st.GatewayPay1st)
	items := b.claim(t, b.params(2*time.Minute))
	require.Len(t, items, 2)
	for _, it := range items {
		require.NoError(t, b.payments.ReconcileFailed(ctx, it, "pay1st: query payment: unavailable"))
	}

	gone, err := b.payments.GiveUpReconcile(ctx, b.params(30*time.Minute))
	require.NoError(t, err)
	require.Empty(t, gone, "not old enough")

	late := b.params(2 * time.Hour)
	gone, err = b.payments.GiveUpReconcile(ctx, late)
	require.NoError(t, err)
	require.Len(t, gone, 2)
	for _, g := range gone {
		require.Equal(t, "pay1st: query payment: unavailable", g.LastError)
		require.Equal(t, 1, g.Checks)
	}
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM deliveries
		WHERE kind = 'reconcile' AND verdict = 'rejected' AND reference = 'C-gone-P' AND reason LIKE 'reconciliation gave up%'`),
		"the payment's timeline says so")

	gone, err = b.payments.GiveUpReconcile(ctx, late)
	require.NoError(t, err)
	require.Empty(t, gone, "said once")
	require.Empty(t, b.claim(t, late), "no more queries")
	for _, ref := range []string{"C-gone-P", "C-never-P"} {
		_, err = b.payments.ReconcileCheckOf(ctx, b.env.TenantID, "staging", ref)
		require.ErrorIs(t, err, payment.ErrNotFound, "a check given up on is deleted: the table holds open checks only")
	}

	// News of the payment (a webhook) makes it a candidate again.
	b.ingest(t, event("C-gone-P", pay1st.StatusPending, t0.Add(time.Minute)))
	// (The order, created moments ago in real time, is young again as of
	// this run: only the payment matters here.)
	var again []payment.ReconcileItem
	for _, it := range b.claim(t, b.params(2*time.Minute)) {
		if it.Subject == payment.SubjectPayment {
			again = append(again, it)
		}
	}
	require.Len(t, again, 1)
	require.Equal(t, "C-gone-P", again[0].Reference)
	require.Equal(t, 1, again[0].Checks, "asked about afresh")
}

func TestReconcileParamsAreChecked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, p := range []payment.ReconcileParams{
		{},
		{Now: time.Now(), After: time.Minute, GiveUpAfter: time.Minute, Limit: 1},
		{Now: time.Now(), After: time.Minute, GiveUpAfter: time.Hour, Limit: 0},
	} {
		_, err := b.payments.ClaimReconcile(context.Background(), p)
		require.Error(t, err)
	}
}
