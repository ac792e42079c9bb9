package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
)

func (b bundle) count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func (b bundle) jobs(t testing.TB, kind string, paymentID int64) int {
	t.Helper()
	return b.count(t, `SELECT count(*) FROM river_job WHERE kind = $1 AND (args->>'payment_id')::bigint = $2`, kind, paymentID)
}

func TestRefundAfterFulfilReversesOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, 25)
	b.start()
	ctx := context.Background()
	id := b.pay(t, "acme", "C-R1-P", 1)
	b.waitFor(t, id, "completed")

	refund := b.event(t, "acme", "C-R1-P", 1, pay1st.StatusRefund, time.Hour)
	require.True(t, refund.Applied)
	require.True(t, refund.ReverseQueued, "the fulfilment happened: it is reversed")
	require.False(t, refund.FulfilCancelled)
	s := b.waitForKind(t, payment.KindReverse, id, "completed")
	require.Equal(t, payment.StateSucceeded, s.FState)
	require.Equal(t, 1, s.Attempts)
	f, err := b.payments.Fulfilment(ctx, id, payment.KindReverse)
	require.NoError(t, err)
	require.Equal(t, "undo-REFUND-C-R1-P", f.ResultReference, "the plugin got the reason")
	require.Equal(t, payment.IdempotencyKey("acme", "staging", "C-R1-P", payment.KindReverse), f.IdempotencyKey)

	// The same refund again, a newer refund, and a chargeback on top:
	// nothing is reversed a second time.
	dup := b.event(t, "acme", "C-R1-P", 1, pay1st.StatusRefund, time.Hour)
	require.True(t, dup.Duplicate)
	require.False(t, dup.ReverseQueued)
	again := b.event(t, "acme", "C-R1-P", 1, pay1st.StatusRefund, 2*time.Hour)
	require.True(t, again.Applied)
	require.False(t, again.ReverseQueued, "only entering REFUND/CHARGEBACK reverses")
	cb := b.event(t, "acme", "C-R1-P", 1, pay1st.StatusChargeback, 3*time.Hour)
	require.True(t, cb.Applied)
	require.False(t, cb.ReverseQueued)
	// A SUCCESSFUL after the refund is flagged and credits nothing again.
	succ := b.event(t, "acme", "C-R1-P", 1, pay1st.StatusSuccessful, 4*time.Hour)
	require.True(t, succ.Flagged)
	require.False(t, succ.Applied)
	require.False(t, succ.Enqueued)

	time.Sleep(200 * time.Millisecond) // let any wrongly queued job run
	require.Equal(t, 1, b.jobs(t, "reverse", id))
	require.Equal(t, 1, b.jobs(t, "fulfil", id))
	f, err = b.payments.Fulfilment(ctx, id, payment.KindReverse)
	require.NoError(t, err)
	require.Equal(t, 1, f.Attempts, "one plugin call")
}

func TestChargebackAfterFulfilReverses(t *testing.T) {
	t.Parallel()
	b := setup(t, 25)
	b.start()
	id := b.pay(t, "acme", "C-CB-P", 1)
	b.waitFor(t, id, "completed")
	cb := b.event(t, "acme", "C-CB-P", 1, pay1st.StatusChargeback, time.Hour)
	require.True(t, cb.ReverseQueued)
	s := b.waitForKind(t, payment.KindReverse, id, "completed")
	require.Equal(t, payment.StateSucceeded, s.FState)
	f, err := b.payments.Fulfilment(context.Background(), id, payment.KindReverse)
	require.NoError(t, err)
	require.Equal(t, "undo-CHARGEBACK-C-CB-P", f.ResultReference)
}

func TestRefundBeforeFulfilCancelsIt(t *testing.T) {
	t.Parallel()
	b := setup(t, 25)
	ctx := context.Background()
	// No worker runs yet: the fulfil job is waiting when the refund comes.
	id := b.pay(t, "acme", "C-EARLY-P", 1)
	refund := b.event(t, "acme", "C-EARLY-P", 1, pay1st.StatusRefund, time.Hour)
	require.True(t, refund.Applied)
	require.True(t, refund.FulfilCancelled)
	require.False(t, refund.ReverseQueued, "nothing was credited: nothing to reverse")
	require.Equal(t, "cancelled", b.state(t, id).State, "cancelled in the refund's transaction")

	b.start()
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, "cancelled", b.state(t, id).State)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM fulfilments WHERE payment_id = $1`, id), "the plugin was never called")
	require.Equal(t, 0, b.jobs(t, "reverse", id))
	_, err := b.payments.Fulfilment(ctx, id, payment.KindFulfil)
	require.ErrorIs(t, err, payment.ErrNotFound)
}

func TestReverseRejectedAndRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, 25)
	b.start()

	rejected := b.pay(t, "acme", "C-SPENT-P", 6)
	b.waitFor(t, rejected, "completed")
	require.True(t, b.event(t, "acme", "C-SPENT-P", 6, pay1st.StatusRefund, time.Hour).ReverseQueued)
	s := b.waitForKind(t, payment.KindReverse, rejected, "cancelled")
	require.Equal(t, payment.StateFailed, s.FState, "a rejection is final at once")
	require.Equal(t, 1, s.Attempts)
	require.Contains(t, s.LastErr, "coins already spent")

	retry := b.pay(t, "acme", "C-DOWN-P", 7)
	b.waitFor(t, retry, "completed")
	require.True(t, b.event(t, "acme", "C-DOWN-P", 7, pay1st.StatusChargeback, time.Hour).ReverseQueued)
	s = b.waitForKind(t, payment.KindReverse, retry, "retryable")
	require.Equal(t, payment.StatePending, s.FState, "a transient failure is retried")
	require.Contains(t, s.LastErr, "game backend down")
}

func TestReverseExhaustedIsMarkedFailed(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	b.start()
	id := b.pay(t, "acme", "C-DOWN-P", 7)
	b.waitFor(t, id, "completed")
	require.True(t, b.event(t, "acme", "C-DOWN-P", 7, pay1st.StatusRefund, time.Hour).ReverseQueued)
	s := b.waitForKind(t, payment.KindReverse, id, "discarded")
	require.Equal(t, payment.StateFailed, s.FState)
	require.Contains(t, s.LastErr, "game backend down")
}

func TestReverseWaitsForRunningFulfil(t *testing.T) {
	t.Parallel()
	b := setup(t, 25)
	b.start()
	ctx := context.Background()
	// Customer 5's fulfil takes 2 s: the refund arrives while it runs.
	id := b.pay(t, "acme", "C-SLOW-P", 5)
	b.waitFor(t, id, "running")
	refund := b.event(t, "acme", "C-SLOW-P", 5, pay1st.StatusRefund, time.Hour)
	require.True(t, refund.ReverseQueued, "a running fulfil may credit: it is reversed")
	require.False(t, refund.FulfilCancelled)

	b.waitForKind(t, payment.KindReverse, id, "completed")
	require.Equal(t, "completed", b.state(t, id).State)
	var fulfilled, reversed time.Time
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT
		(SELECT succeeded_at FROM fulfilments WHERE payment_id = $1 AND kind = 'fulfil'),
		(SELECT succeeded_at FROM fulfilments WHERE payment_id = $1 AND kind = 'reverse')`, id).Scan(&fulfilled, &reversed))
	require.False(t, reversed.Before(fulfilled), "the reversal waited for the fulfilment to settle")
}
