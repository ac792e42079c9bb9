package payment_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// One batch spans both subjects by due time: failed payments cannot keep
// an older order no webhook followed out of a small batch.
func TestReconcileClaimsBothSubjectsByDueTime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createdOrder(t, "order-C-quiet-P", "C-quiet-P", pay1st.GatewayPay1st)
	b.ingest(t, event("C-fail1-P", pay1st.StatusFailed, t0))
	b.ingest(t, event("C-fail2-P", pay1st.StatusFailed, t0))

	p := b.params(2 * time.Minute)
	p.Limit = 2
	items := b.claim(t, p)
	require.Len(t, items, 2)
	require.Equal(t, "C-quiet-P", items[0].Reference, "the oldest is asked about first")
	require.Equal(t, payment.SubjectOrder, items[0].Subject)
	require.Equal(t, payment.SubjectPayment, items[1].Subject)
}

// Failed payments are chased for a day, then dropped quietly: no WARN to
// log, nothing in their timeline.
func TestReconcileDropsFailedPaymentsQuietly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.ingest(t, event("C-declined-P", pay1st.StatusFailed, t0))
	require.Len(t, b.claim(t, b.params(2*time.Minute)), 1)

	p := b.params(25 * time.Hour)
	p.GiveUpAfter = 7 * 24 * time.Hour
	gone, err := b.payments.GiveUpReconcile(ctx, p)
	require.NoError(t, err)
	require.Empty(t, gone, "nothing announced")
	require.Empty(t, b.claim(t, p), "past its horizon")
	_, err = b.payments.ReconcileCheckOf(ctx, b.env.TenantID, tenant.Staging, "C-declined-P")
	require.ErrorIs(t, err, payment.ErrNotFound)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM deliveries WHERE kind = 'reconcile'`))
}

// What cannot be asked about (no gateway client for it, or the tenant's
// credentials missing) is not claimed, so it takes no place in a batch,
// and is never given up on.
func TestReconcileSkipsWhatCannotBeAsked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.ingest(t, event("C-unaskable-P", pay1st.StatusPending, t0))

	noGateway := b.params(2 * time.Minute)
	noGateway.Askable.Gateways = []payment.GatewayRef{{Env: tenant.Production, Gateway: pay1st.GatewayPay1st}}
	noCreds := b.params(2 * time.Minute)
	noCreds.Askable.Envs = []tenant.EnvRef{{TenantID: b.env.TenantID, Env: tenant.Production}}
	for _, p := range []payment.ReconcileParams{noGateway, noCreds} {
		require.Empty(t, b.claim(t, p))
		p.Now = p.Now.Add(2 * time.Hour)
		require.Empty(t, b.claim(t, p))
		gone, err := b.payments.GiveUpReconcile(ctx, p)
		require.NoError(t, err)
		require.Empty(t, gone)
	}
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM reconcile_checks`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM deliveries WHERE kind = 'reconcile'`))
	require.Len(t, b.claim(t, b.params(2*time.Minute)), 1, "askable again, it is claimed")

	// Claimed, then unaskable again (the gateway went away): past the
	// give-up age it is not given up on either; its check stays open.
	late := b.params(2 * time.Hour)
	late.Askable.Gateways = nil
	gone, err := b.payments.GiveUpReconcile(ctx, late)
	require.NoError(t, err)
	require.Empty(t, gone)
	_, err = b.payments.ReconcileCheckOf(ctx, b.env.TenantID, tenant.Staging, "C-unaskable-P")
	require.NoError(t, err)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM deliveries WHERE kind = 'reconcile'`))
}

// Runs claiming at once never get the same reference.
func TestReconcileConcurrentClaimsAreDisjoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 30 {
		b.ingest(t, event("C-many-"+string(rune('a'+i%26))+string(rune('a'+i/26))+"-P", pay1st.StatusPending, t0))
	}
	p := b.params(2 * time.Minute)
	p.Limit = 20
	var wg sync.WaitGroup
	got := make([][]payment.ReconcileItem, 2)
	errs := make([]error, 2)
	for i := range got {
		wg.Go(func() { got[i], errs[i] = b.payments.ClaimReconcile(context.Background(), p) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range got {
		require.NoError(t, errs[i])
		for _, it := range got[i] {
			require.False(t, seen[it.Reference], "%s claimed twice", it.Reference)
			seen[it.Reference] = true
		}
	}
	require.NotEmpty(t, seen)
	// Two runs at once may have picked the same candidates, and the loser
	// then claims fewer (or none): never the same reference twice. Later
	// runs claim what is left, each reference once.
	for range 3 {
		more, err := b.payments.ClaimReconcile(context.Background(), p)
		require.NoError(t, err)
		for _, it := range more {
			require.False(t, seen[it.Reference], "%s claimed twice", it.Reference)
			seen[it.Reference] = true
		}
	}
	require.Len(t, seen, 30, "every reference claimed once")
}

// An answer whose amount or currency differs from the order is held, as
// the webhook would be: no fulfilment.
func TestReconcileAnswerDifferingFromTheOrderIsHeld(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*pay1st.PaymentEvent)
	}{
		{"amount", func(ev *pay1st.PaymentEvent) { ev.OrderAmount = decimal.RequireFromString("1.00") }},
		{"currency", func(ev *pay1st.PaymentEvent) { ev.CurrencyCode = "USD" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			b.createdOrder(t, "order-C-odd-P", "C-odd-P", pay1st.GatewayPay1st)
			items := b.claim(t, b.params(2*time.Minute))
			require.Len(t, items, 1)
			ev := event("C-odd-P", pay1st.StatusSuccessful, t0)
			tc.change(&ev)
			got, err := b.payments.ReconcileAnswer(ctx, b.env, items[0], ev)
			require.NoError(t, err)
			require.False(t, got.Result.Enqueued)
			p, err := b.payments.ByReference(ctx, b.env.TenantID, tenant.Staging, "C-odd-P")
			require.NoError(t, err)
			require.True(t, p.OnHold)
			require.Contains(t, p.HoldReason, "differs from the order")
			require.Equal(t, 0, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
		})
	}
}

// Order discovery keeps a cursor, but never moves it past an order it
// found and did not claim (the batch was full): that order is claimed by
// the next run; orders seen once are not asked about twice at once.
func TestReconcileOrderCursorKeepsUnclaimedOrders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.createdOrder(t, "order-C-first-P", "C-first-P", pay1st.GatewayPay1st)
	b.createdOrder(t, "order-C-second-P", "C-second-P", pay1st.GatewayPay1st)
	p := b.params(2 * time.Minute)
	p.Limit = 1
	first := b.claim(t, p)
	require.Len(t, first, 1)
	require.Equal(t, "C-first-P", first[0].Reference)
	second := b.claim(t, p)
	require.Len(t, second, 1)
	require.Equal(t, "C-second-P", second[0].Reference)
	require.Empty(t, b.claim(t, p))
	// A new order after the cursor is found too.
	b.createdOrder(t, "order-C-third-P", "C-third-P", pay1st.GatewayPay1st)
	p.Now = p.Now.Add(time.Second)
	third := b.claim(t, p)
	require.Len(t, third, 1)
	require.Equal(t, "C-third-P", third[0].Reference)
}

// A production payment, with no production gateway configured: nothing
// claimed, nothing given up, nothing in its timeline.
func TestReconcileLeavesProductionWithoutGateway(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	prod := b.env
	prod.Name = tenant.Production
	ev := event("C-prod-P", pay1st.StatusPending, t0)
	body, err := json.Marshal(ev)
	require.NoError(t, err)
	_, err = b.payments.IngestEvent(ctx, prod, payment.Delivery{SessionID: "s", PartnerCode: "acme", Env: tenant.Production,
		RemoteAddr: "127.0.0.1:1", Headers: map[string]string{}, Body: body}, ev)
	require.NoError(t, err)

	for _, ahead := range []time.Duration{2 * time.Minute, 2 * time.Hour, 30 * time.Hour} {
		p := b.params(ahead)
		p.Askable.Envs = append(p.Askable.Envs, tenant.EnvRef{TenantID: b.env.TenantID, Env: tenant.Production})
		p.Askable.Gateways = []payment.GatewayRef{{Env: tenant.Staging, Gateway: pay1st.GatewayPay1st}}
		require.Empty(t, b.claim(t, p))
		gone, err := b.payments.GiveUpReconcile(ctx, p)
		require.NoError(t, err)
		require.Empty(t, gone)
	}
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM reconcile_checks`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM deliveries WHERE kind = 'reconcile'`))
}
