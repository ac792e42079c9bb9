package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/payment"
)

// Generous waits: CI machines run many packages at once.
const (
	waitLong  = 60 * time.Second
	pollEvery = 20 * time.Millisecond
)

func (b bundle) fulfilmentOf(t testing.TB, paymentID int64, kind string) payment.Fulfilment {
	t.Helper()
	f, err := b.payments.Fulfilment(context.Background(), paymentID, kind)
	require.NoError(t, err)
	return f
}

func (b bundle) jobCount(t testing.TB, kind string, paymentID int64) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
		WHERE kind = $1 AND (args->>'payment_id')::bigint = $2`, kind, paymentID).Scan(&n))
	return n
}

func (b bundle) retry(t testing.TB, id int64) (payment.FulfilmentRecord, error) {
	t.Helper()
	ctx := context.Background()
	acme, err := b.tenants.Get(ctx, "acme")
	require.NoError(t, err)
	return b.payments.RetryFulfilment(ctx, "acme", acme.ID, id, func(ctx context.Context, tx pgx.Tx, f payment.FulfilmentRecord) error {
		return b.tenants.AuditTx(ctx, tx, "fulfilment.retry", acme.ID, "test", map[string]any{"kind": f.Kind})
	})
}

// TestRetryByHand: a fulfilment out of attempts is retried by hand with a
// new job; its history is kept; retrying twice at once queues one job; a
// fulfilment not failed cannot be retried.
func TestRetryByHand(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	b.start()
	ctx := context.Background()

	id := b.pay(t, "acme", "C-RETRY-P", 3) // the game backend is down
	s := b.waitFor(t, id, "discarded")
	require.Equal(t, payment.StateFailed, s.FState)
	f := b.fulfilmentOf(t, id, payment.KindFulfil)

	// The game backend is back (the scripted plugin answers by customer).
	_, err := b.pool.Exec(ctx, `UPDATE payments SET customer_id = 1 WHERE id = $1`, id)
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = b.retry(t, f.ID) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		require.ErrorIs(t, err, payment.ErrNotRetryable)
	}
	require.Equal(t, 1, ok, "one retry wins: %v", errs)

	s = b.waitFor(t, id, "completed")
	require.Equal(t, payment.StateSucceeded, s.FState)
	require.Equal(t, 2, s.Attempts, "the failed attempt is kept in the count")
	require.Equal(t, 2, b.jobCount(t, payment.KindFulfil, id), "the discarded job and one new job")

	_, err = b.retry(t, f.ID)
	var nr *payment.NotRetryableError
	require.ErrorAs(t, err, &nr)
	require.Contains(t, nr.Reason, "succeeded, not failed")

	_, err = b.retry(t, f.ID+1000)
	require.ErrorIs(t, err, payment.ErrNotFound)
}

// TestRetryRejected: a rejection is final until an operator retries it; the
// retry calls the plugin again with the same key.
func TestRetryRejected(t *testing.T) {
	t.Parallel()
	b := setup(t, 25)
	b.start()
	id := b.pay(t, "acme", "C-REJ-P", 2) // rejected: player banned
	b.waitFor(t, id, "cancelled")
	f := b.fulfilmentOf(t, id, payment.KindFulfil)
	require.Equal(t, payment.StateFailed, f.State)

	rec, err := b.retry(t, f.ID)
	require.NoError(t, err)
	require.Equal(t, payment.StatePending, rec.State)
	require.Equal(t, "C-REJ-P", rec.Reference)
	require.Eventually(t, func() bool {
		return b.jobCount(t, payment.KindFulfil, id) == 2 && b.fulfilmentOf(t, id, payment.KindFulfil).State == payment.StateFailed
	}, waitLong, pollEvery)
	again := b.fulfilmentOf(t, id, payment.KindFulfil)
	require.Equal(t, 2, again.Attempts)
	require.Equal(t, f.IdempotencyKey, again.IdempotencyKey)
	require.Contains(t, again.LastError, "player banned")
}

// TestRetryBulk: a bulk retry by filter stops at max and says there is
// more; by ids it reports what it skipped and why.
func TestRetryBulk(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	b.start()
	ctx := context.Background()
	acme, err := b.tenants.Get(ctx, "acme")
	require.NoError(t, err)
	var failed []int64
	for _, ref := range []string{"C-B1-P", "C-B2-P", "C-B3-P"} {
		id := b.pay(t, "acme", ref, 3)
		b.waitFor(t, id, "discarded")
		failed = append(failed, b.fulfilmentOf(t, id, payment.KindFulfil).ID)
	}
	okID := b.pay(t, "acme", "C-BOK-P", 1)
	b.waitFor(t, okID, "completed")
	succeeded := b.fulfilmentOf(t, okID, payment.KindFulfil).ID

	audit := func(ctx context.Context, tx pgx.Tx, f payment.FulfilmentRecord) error {
		return b.tenants.AuditTx(ctx, tx, "fulfilment.retry", acme.ID, "test", nil)
	}
	res, err := b.payments.RetryFulfilments(ctx, "acme", payment.BulkRetry{TenantID: acme.ID, Kind: payment.KindFulfil, Env: "staging", Max: 2}, audit)
	require.NoError(t, err)
	require.Len(t, res.Requeued, 2)
	require.True(t, res.More)
	require.Equal(t, failed[:2], []int64{res.Requeued[0].ID, res.Requeued[1].ID}, "oldest first")

	res, err = b.payments.RetryFulfilments(ctx, "acme", payment.BulkRetry{TenantID: acme.ID,
		IDs: []int64{failed[2], succeeded, 999999, failed[2]}, Max: 10}, audit)
	require.NoError(t, err)
	require.Len(t, res.Requeued, 1)
	require.Equal(t, failed[2], res.Requeued[0].ID)
	require.False(t, res.More)
	require.ElementsMatch(t, []payment.RetrySkip{
		{ID: succeeded, Reason: "it is succeeded, not failed"},
		{ID: 999999, Reason: "not found"},
	}, res.Skipped)

	_, err = b.payments.RetryFulfilments(ctx, "acme", payment.BulkRetry{TenantID: acme.ID, Max: payment.MaxBulkRetry + 1}, audit)
	require.Error(t, err)

	page, err := b.payments.ListFulfilments(ctx, payment.FulfilmentFilter{TenantID: acme.ID, State: payment.StateSucceeded})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, "C-BOK-P", page.Items[0].Reference)
}
