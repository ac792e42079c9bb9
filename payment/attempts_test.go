package payment_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
)

// TestAttemptHistory: every attempt is kept with its outcome and reason,
// through a failure, a release, a success, and the timeline shows them.
func TestAttemptHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	res := b.ingest(t, event("C-HIST-P", pay1st.StatusSuccessful, t0))
	p, err := b.payments.Get(ctx, res.PaymentID)
	require.NoError(t, err)
	key := payment.IdempotencyKey("acme", "staging", p.Reference, payment.KindFulfil)

	f, err := b.payments.BeginAttempt(ctx, p, payment.KindFulfil, key, 0)
	require.NoError(t, err)
	require.NoError(t, b.payments.RecordError(ctx, f.ID, "plugin asked to retry: game backend down", false))
	_, err = b.payments.BeginAttempt(ctx, p, payment.KindFulfil, key, 0)
	require.NoError(t, err)
	require.NoError(t, b.payments.Released(ctx, f.ID, "plugin host busy"))
	_, err = b.payments.BeginAttempt(ctx, p, payment.KindFulfil, key, 0)
	require.NoError(t, err)
	changed, err := b.payments.Succeed(ctx, f.ID, "game-tx-1")
	require.NoError(t, err)
	require.True(t, changed)
	_, err = b.payments.BeginAttempt(ctx, p, payment.KindFulfil, key, 0)
	require.NoError(t, err)

	attempts, err := b.payments.Attempts(ctx, f.ID)
	require.NoError(t, err)
	require.Len(t, attempts, 3, "no attempt is opened on a settled record")
	for i, want := range []struct{ outcome, reason string }{
		{payment.OutcomeFailed, "plugin asked to retry: game backend down"},
		{payment.OutcomeReleased, "plugin host busy"},
		{payment.OutcomeSucceeded, ""},
	} {
		a := attempts[i]
		require.Equal(t, i+1, a.Number)
		require.Equal(t, want.outcome, a.Outcome)
		require.Equal(t, want.reason, a.Reason)
		require.NotNil(t, a.FinishedAt)
		require.False(t, a.FinishedAt.Before(a.StartedAt))
		require.NotEmpty(t, a.Node)
	}

	tl, err := b.payments.Timeline(ctx, p.TenantID, "staging", "C-HIST-P")
	require.NoError(t, err)
	require.Equal(t, attempts, tl.Attempts)
}

// TestFailStuck: the sweep marks failed a pending record with no live job
// whose payment still calls for it, and leaves alone records with a live
// job, recently touched, held, or whose payment moved on.
func TestFailStuck(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	begin := func(ref string) payment.Fulfilment {
		res := b.ingest(t, event(ref, pay1st.StatusSuccessful, t0))
		p, err := b.payments.Get(ctx, res.PaymentID)
		require.NoError(t, err)
		f, err := b.payments.BeginAttempt(ctx, p, payment.KindFulfil, "k-"+ref, 0)
		require.NoError(t, err)
		return f
	}
	stuck, live, fresh, held, moved := begin("C-S1-P"), begin("C-S2-P"), begin("C-S3-P"), begin("C-S4-P"), begin("C-S5-P")
	_, err := b.pool.Exec(ctx, `UPDATE fulfilments SET updated_at = now() - interval '10 minutes' WHERE id <> $1`, fresh.ID)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `UPDATE payments SET on_hold = true, hold_reason = 'x' WHERE id = $1`, held.PaymentID)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `UPDATE payments SET status = 'REFUND' WHERE id = $1`, moved.PaymentID)
	require.NoError(t, err)

	var asked []payment.JobRef
	n, err := b.payments.FailStuck(ctx, 0, func(_ context.Context, _ pgx.Tx, refs []payment.JobRef) (map[payment.JobRef]bool, error) {
		asked = append(asked, refs...)
		return map[payment.JobRef]bool{{PaymentID: live.PaymentID, Kind: payment.KindFulfil}: true}, nil
	})
	require.NoError(t, err)
	require.Equal(t, 2, n, "stuck, and fresh with a zero grace")
	require.ElementsMatch(t, []payment.JobRef{
		{PaymentID: stuck.PaymentID, Kind: payment.KindFulfil}, {PaymentID: live.PaymentID, Kind: payment.KindFulfil},
		{PaymentID: fresh.PaymentID, Kind: payment.KindFulfil},
	}, asked, "held and refunded payments are not even asked about")

	state := func(f payment.Fulfilment) string {
		got, err := b.payments.Fulfilment(ctx, f.PaymentID, payment.KindFulfil)
		require.NoError(t, err)
		return got.State + " " + got.LastError
	}
	require.Equal(t, "failed "+payment.ReasonNoOutcome, state(stuck))
	require.Equal(t, "pending ", state(live))
	require.Equal(t, "pending ", state(held))
	require.Equal(t, "pending ", state(moved))

	// The swept record's outcome is unknown: a refund still reverses it.
	refund := b.ingest(t, event("C-S1-P", pay1st.StatusRefund, t0.Add(time.Hour)))
	require.True(t, refund.ReverseQueued, "%+v", refund)

	// With a grace of a minute, a record touched a moment ago is left
	// alone; the one whose job has now ended is marked.
	_, err = b.pool.Exec(ctx, `UPDATE fulfilments SET state = 'pending', updated_at = now() WHERE id = $1`, fresh.ID)
	require.NoError(t, err)
	n, err = b.payments.FailStuck(ctx, time.Minute, func(context.Context, pgx.Tx, []payment.JobRef) (map[payment.JobRef]bool, error) {
		return nil, nil
	})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, "pending "+payment.ReasonNoOutcome, state(fresh), "untouched (its last error is from the first sweep)")
	require.Equal(t, "failed "+payment.ReasonNoOutcome, state(live))
}
