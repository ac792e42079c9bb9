package payment_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

func TestIngestFlagsForbiddenTransition(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	succ := b.ingest(t, event("C-F-P", pay1st.StatusSuccessful, t0))
	require.True(t, succ.Enqueued)
	// Newer, but SUCCESSFUL -> PENDING is forbidden: recorded and flagged.
	pending := b.ingest(t, event("C-F-P", pay1st.StatusPending, t0.Add(time.Minute)))
	require.True(t, pending.Flagged)
	require.False(t, pending.Applied)
	require.False(t, pending.Duplicate)
	require.Equal(t, "SUCCESSFUL", pending.Status)
	p, err := b.payments.Get(ctx, succ.PaymentID)
	require.NoError(t, err)
	require.Equal(t, "SUCCESSFUL", p.Status)
	require.True(t, p.StatusUpdatedAt.Equal(t0.Truncate(payment.Precision)))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payment_events WHERE payment_id = $1 AND flagged
		AND NOT applied AND flag_reason = 'transition SUCCESSFUL -> PENDING is not allowed'`, p.ID))
	// The same flagged event again is a duplicate.
	require.True(t, b.ingest(t, event("C-F-P", pay1st.StatusPending, t0.Add(time.Minute))).Duplicate)
	// An older event is stale, not flagged.
	old := b.ingest(t, event("C-F-P", pay1st.StatusFailed, t0.Add(-time.Minute)))
	require.False(t, old.Flagged)
	require.False(t, old.Applied)
}

func TestIngestRefundCancelsWaitingFulfil(t *testing.T) {
	t.Parallel()
	b := setup(t)
	succ := b.ingest(t, event("C-W-P", pay1st.StatusSuccessful, t0))
	require.True(t, succ.Enqueued)
	refund := b.ingest(t, event("C-W-P", pay1st.StatusRefund, t0.Add(time.Minute)))
	require.True(t, refund.Applied)
	require.True(t, refund.FulfilCancelled)
	require.False(t, refund.ReverseQueued)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil' AND state = 'cancelled'`))
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'reverse'`))
}

func TestIngestRefundAfterAttemptQueuesReverse(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	succ := b.ingest(t, event("C-A-P", pay1st.StatusSuccessful, t0))
	p, err := b.payments.Get(ctx, succ.PaymentID)
	require.NoError(t, err)
	// A worker made an attempt (its outcome unknown): the fulfilment started.
	_, err = b.payments.BeginAttempt(ctx, p, payment.KindFulfil, "k", 0)
	require.NoError(t, err)
	cb := b.ingest(t, event("C-A-P", pay1st.StatusChargeback, t0.Add(time.Minute)))
	require.True(t, cb.ReverseQueued)
	require.False(t, cb.FulfilCancelled)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'reverse'
		AND args->>'reason' = 'CHARGEBACK' AND (args->>'payment_id')::bigint = $1`, p.ID))
	// A refund after the chargeback queues nothing more.
	refund := b.ingest(t, event("C-A-P", pay1st.StatusRefund, t0.Add(2*time.Minute)))
	require.True(t, refund.Applied)
	require.False(t, refund.ReverseQueued)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'reverse'`))
}

func TestIngestAmountMismatchHolds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.ingest(t, event("C-H-P", pay1st.StatusPending, t0))
	ev := event("C-H-P", pay1st.StatusSuccessful, t0.Add(time.Minute))
	ev.OrderAmount = decimal.RequireFromString("1.00")
	res := b.ingest(t, ev)
	require.True(t, res.Applied, "the status is still Pay1st's")
	require.True(t, res.Held)
	require.False(t, res.Enqueued, "a held payment is not fulfilled")
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM river_job`))
	p, err := b.payments.Get(ctx, res.PaymentID)
	require.NoError(t, err)
	require.True(t, p.OnHold)
	require.NotNil(t, p.HeldAt)
	require.Contains(t, p.HoldReason, "amount 1 differs")
	require.Equal(t, "1234.56789012", p.Amount.String(), "the first-seen amount stays")

	// Currency: same amount written differently is no mismatch, another
	// currency is.
	b.ingest(t, event("C-C-P", pay1st.StatusPending, t0))
	same := event("C-C-P", pay1st.StatusValidated, t0.Add(time.Second))
	same.OrderAmount = decimal.RequireFromString("1234.567890120")
	require.False(t, b.ingest(t, same).Held)
	cur := event("C-C-P", pay1st.StatusSuccessful, t0.Add(time.Minute))
	cur.CurrencyCode = "USD"
	res = b.ingest(t, cur)
	require.True(t, res.Held)
	require.False(t, res.Enqueued)
	p, err = b.payments.Get(ctx, res.PaymentID)
	require.NoError(t, err)
	require.Contains(t, p.HoldReason, "currency USD differs")

	// A refund of a held payment cancels nothing it should not and
	// queues no reversal.
	refund := b.ingest(t, event("C-C-P", pay1st.StatusRefund, t0.Add(time.Hour)))
	require.True(t, refund.Applied)
	require.False(t, refund.ReverseQueued)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM river_job`))
}

func TestListAndTimeline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for i, ref := range []string{"C-L1-P", "C-L2-P", "C-L3-P"} {
		b.ingest(t, event(ref, pay1st.StatusPending, t0.Add(time.Duration(i)*time.Second)))
	}
	b.ingest(t, event("C-L2-P", pay1st.StatusSuccessful, t0.Add(time.Hour)))
	b.ingest(t, event("C-L2-P", pay1st.StatusPending, t0.Add(2*time.Hour)))  // flagged
	b.ingest(t, event("C-L2-P", pay1st.StatusSuccessful, t0.Add(time.Hour))) // duplicate

	page, err := b.payments.List(ctx, payment.ListFilter{TenantID: b.env.TenantID, Env: "staging", Limit: 2})
	require.NoError(t, err)
	require.Len(t, page.Payments, 2)
	require.Equal(t, "C-L3-P", page.Payments[0].Reference, "newest first")
	require.NotEmpty(t, page.NextCursor)
	page, err = b.payments.List(ctx, payment.ListFilter{TenantID: b.env.TenantID, Env: "staging", Limit: 2, Cursor: page.NextCursor})
	require.NoError(t, err)
	require.Len(t, page.Payments, 1)
	require.Equal(t, "C-L1-P", page.Payments[0].Reference)
	require.Empty(t, page.NextCursor)

	page, err = b.payments.List(ctx, payment.ListFilter{TenantID: b.env.TenantID, Env: "staging", Status: "SUCCESSFUL"})
	require.NoError(t, err)
	require.Len(t, page.Payments, 1)
	page, err = b.payments.List(ctx, payment.ListFilter{TenantID: b.env.TenantID, Env: "production"})
	require.NoError(t, err)
	require.Empty(t, page.Payments)
	_, err = b.payments.List(ctx, payment.ListFilter{TenantID: b.env.TenantID, Env: "qa"})
	require.ErrorIs(t, err, payment.ErrNotFound)
	_, err = b.payments.List(ctx, payment.ListFilter{TenantID: b.env.TenantID, Env: "staging", Status: "PAID"})
	require.Error(t, err)

	tl, err := b.payments.Timeline(ctx, b.env.TenantID, "staging", "C-L2-P")
	require.NoError(t, err)
	require.Equal(t, "SUCCESSFUL", tl.Payment.Status)
	require.Len(t, tl.Events, 3)
	require.Equal(t, []bool{true, true, false}, []bool{tl.Events[0].Applied, tl.Events[1].Applied, tl.Events[2].Applied})
	require.True(t, tl.Events[2].Flagged)
	require.Len(t, tl.Deliveries, 4)
	require.Equal(t, payment.VerdictDuplicate, tl.Deliveries[3].Verdict)
	require.Empty(t, tl.Fulfilments)
	_, err = b.payments.Timeline(ctx, b.env.TenantID+1, "staging", "C-L2-P")
	require.ErrorIs(t, err, payment.ErrNotFound)
}

func TestReleaseHoldQueuesWhatTheStatusImplies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	noAudit := func(context.Context, pgx.Tx, payment.Payment) error { return nil }

	// Fulfilled, then a refund with another amount: held, no reversal yet.
	succ := b.ingest(t, event("C-RH-P", pay1st.StatusSuccessful, t0))
	p, err := b.payments.Get(ctx, succ.PaymentID)
	require.NoError(t, err)
	_, err = b.payments.BeginAttempt(ctx, p, payment.KindFulfil, "k", 0)
	require.NoError(t, err)
	ev := event("C-RH-P", pay1st.StatusRefund, t0.Add(time.Minute))
	ev.OrderAmount = decimal.RequireFromString("5")
	refund := b.ingest(t, ev)
	require.True(t, refund.Held)
	require.False(t, refund.ReverseQueued)

	rel, err := b.payments.ReleaseHold(ctx, b.env, "C-RH-P", noAudit)
	require.NoError(t, err)
	require.True(t, rel.ReverseQueued)
	require.False(t, rel.Payment.OnHold)
	require.Empty(t, rel.Payment.HoldReason)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'reverse'
		AND args->>'reason' = 'REFUND'`))

	_, err = b.payments.ReleaseHold(ctx, b.env, "C-RH-P", noAudit)
	require.ErrorIs(t, err, tenant.ErrConflict)
	_, err = b.payments.ReleaseHold(ctx, b.env, "C-NONE-P", noAudit)
	require.ErrorIs(t, err, payment.ErrNotFound)

	// A failing audit rolls the release back.
	b.ingest(t, event("C-RA-P", pay1st.StatusPending, t0))
	held := event("C-RA-P", pay1st.StatusSuccessful, t0.Add(time.Minute))
	held.CurrencyCode = "USD"
	require.True(t, b.ingest(t, held).Held)
	_, err = b.payments.ReleaseHold(ctx, b.env, "C-RA-P", func(context.Context, pgx.Tx, payment.Payment) error {
		return errors.New("audit down")
	})
	require.Error(t, err)
	p, err = b.payments.ByReference(ctx, b.env.TenantID, "staging", "C-RA-P")
	require.NoError(t, err)
	require.True(t, p.OnHold)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil' AND args->>'reference' = 'C-RA-P'`))
}
