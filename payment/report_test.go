package payment_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
)

// order stores an order for reference, as create-order leaves it once Pay1st
// answered: the payment is then a gateway payment.
func (b bundle) order(t *testing.T, reference string) {
	t.Helper()
	_, err := b.pool.Exec(context.Background(), `INSERT INTO orders (tenant_id, environment, partner_reference, gateway,
		reference, status, country_code, currency_code, amount, customer_id, request_hash)
		VALUES ($1, 'staging', $2::text, 'simulator', $3, 'created', 'NG', 'NGN', 1234.56789012, 77, sha256(convert_to($2::text, 'UTF8')))`,
		b.env.TenantID, "order-"+reference, reference)
	require.NoError(t, err)
}

// fulfilled ingests a SUCCESSFUL event for reference and returns its
// payment and a begun fulfil attempt.
func (b bundle) fulfilled(t *testing.T, reference string) (payment.Payment, payment.Fulfilment) {
	t.Helper()
	ctx := context.Background()
	res := b.ingest(t, event(reference, pay1st.StatusSuccessful, t0))
	p, err := b.payments.Get(ctx, res.PaymentID)
	require.NoError(t, err)
	f, err := b.payments.BeginAttempt(ctx, p, payment.KindFulfil,
		payment.IdempotencyKey("acme", "staging", reference, payment.KindFulfil), 0)
	require.NoError(t, err)
	return p, f
}

func (b bundle) reportJobs(t *testing.T, paymentID int64) int {
	t.Helper()
	return b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'report_fulfilment'
		AND args @> jsonb_build_object('payment_id', $1::bigint)`, paymentID)
}

// TestReportQueuedWithSuccess: a gateway payment's fulfilment success
// creates its report and queues its job in the same transaction, once.
func TestReportQueuedWithSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.order(t, "C-GW-1-P")
	p, f := b.fulfilled(t, "C-GW-1-P")

	// Rolled back with the success: no report, no job.
	rollback := errors.New("roll back")
	err := db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
		ok, err := b.payments.SucceedTx(ctx, tx, f.ID, "game-tx-1")
		require.NoError(t, err)
		require.True(t, ok)
		return rollback
	})
	require.ErrorIs(t, err, rollback)
	_, err = b.payments.Report(ctx, p.ID)
	require.ErrorIs(t, err, payment.ErrNotFound)
	require.Zero(t, b.reportJobs(t, p.ID))

	ok, err := b.payments.Succeed(ctx, f.ID, "game-tx-1")
	require.NoError(t, err)
	require.True(t, ok)
	r, err := b.payments.Report(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, payment.StatePending, r.State)
	require.Equal(t, b.env.TenantID, r.TenantID)
	require.Equal(t, "C-GW-1-P", r.Reference)
	require.Zero(t, r.Attempts)
	require.Empty(t, r.Products)
	require.Nil(t, r.ReportedAt)
	got, err := b.payments.Fulfilment(ctx, p.ID, payment.KindFulfil)
	require.NoError(t, err)
	require.WithinDuration(t, *got.SucceededAt, r.FulfilledAt, 0, "the fulfilment time is the success's")
	require.Equal(t, 1, b.reportJobs(t, p.ID))

	// Succeeding again changes nothing and queues nothing.
	ok, err = b.payments.Succeed(ctx, f.ID, "game-tx-1")
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, 1, b.reportJobs(t, p.ID))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM fulfilment_reports`))
}

// TestNoReportWithoutOrder: a payment partnerhub did not create (a Shop or
// Summary payment) and a reversal queue no report.
func TestNoReportWithoutOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p, f := b.fulfilled(t, "C-SHOP-1-P")
	ok, err := b.payments.Succeed(ctx, f.ID, "game-tx-1")
	require.NoError(t, err)
	require.True(t, ok)
	_, err = b.payments.Report(ctx, p.ID)
	require.ErrorIs(t, err, payment.ErrNotFound)
	require.Zero(t, b.reportJobs(t, p.ID))

	// A gateway payment's reversal succeeding reports nothing either.
	b.order(t, "C-GW-2-P")
	p2, _ := b.fulfilled(t, "C-GW-2-P")
	rv, err := b.payments.BeginAttempt(ctx, p2, payment.KindReverse,
		payment.IdempotencyKey("acme", "staging", p2.Reference, payment.KindReverse), 0)
	require.NoError(t, err)
	ok, err = b.payments.Succeed(ctx, rv.ID, "game-tx-2")
	require.NoError(t, err)
	require.True(t, ok)
	_, err = b.payments.Report(ctx, p2.ID)
	require.ErrorIs(t, err, payment.ErrNotFound)
	require.Zero(t, b.reportJobs(t, p2.ID))
}

// TestReportLifecycle: attempts are counted, errors kept (clipped), the
// last one fails it, a retry by hand queues it again, and once succeeded it
// stays so.
func TestReportLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.order(t, "C-GW-3-P")
	p, f := b.fulfilled(t, "C-GW-3-P")
	_, err := b.payments.Succeed(ctx, f.ID, "game-tx-3")
	require.NoError(t, err)

	r, err := b.payments.BeginReportAttempt(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, 1, r.Attempts)
	require.NoError(t, b.payments.ReportFailed(ctx, p.ID, "pay1st: complete fulfilment: HTTP 503\n"+strings.Repeat("x", 2000), false))
	r, err = b.payments.Report(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, payment.StatePending, r.State)
	require.LessOrEqual(t, len(r.LastError), payment.MaxReportError+len("…"))
	require.True(t, strings.HasPrefix(r.LastError, "pay1st: complete fulfilment: HTTP 503 x"), r.LastError)

	_, err = b.payments.BeginReportAttempt(ctx, p.ID)
	require.NoError(t, err)
	require.NoError(t, b.payments.ReportFailed(ctx, p.ID, "pay1st: complete fulfilment: HTTP 401 INVALID_SIGNATURE", true))
	r, err = b.payments.BeginReportAttempt(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, payment.StateFailed, r.State)
	require.Equal(t, 2, r.Attempts, "a failed report is not counted again")
	require.Equal(t, "pay1st: complete fulfilment: HTTP 401 INVALID_SIGNATURE", r.LastError)

	// Its job is running: retrying by hand would race it, so it is refused
	// and nothing changes.
	_, err = b.pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempted_at = now() WHERE kind = 'report_fulfilment'`)
	require.NoError(t, err)
	_, err = b.payments.RetryReport(ctx, b.env.TenantID, "staging", "C-GW-3-P", nil)
	require.ErrorIs(t, err, payment.ErrReportNotRetryable)
	require.ErrorContains(t, err, "running")
	r, err = b.payments.Report(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, payment.StateFailed, r.State)

	// The worker cancels a failed report's job; then a retry queues anew.
	_, err = b.pool.Exec(ctx, `UPDATE river_job SET state = 'cancelled', finalized_at = now() WHERE kind = 'report_fulfilment'`)
	require.NoError(t, err)
	var audited int
	r, err = b.payments.RetryReport(ctx, b.env.TenantID, "staging", "C-GW-3-P", func(context.Context, pgx.Tx, payment.Report) error {
		audited++
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, payment.StatePending, r.State)
	require.Equal(t, 1, audited)
	require.Equal(t, 2, b.reportJobs(t, p.ID))
	// Again while that job waits: it runs now; still one job more.
	_, err = b.payments.RetryReport(ctx, b.env.TenantID, "staging", "C-GW-3-P", nil)
	require.NoError(t, err)
	require.Equal(t, 2, b.reportJobs(t, p.ID))
	_, err = b.payments.RetryReport(ctx, b.env.TenantID, "staging", "C-NONE-P", nil)
	require.ErrorIs(t, err, payment.ErrNotFound)
	_, err = b.payments.RetryReport(ctx, b.env.TenantID+1000, "staging", "C-GW-3-P", nil)
	require.ErrorIs(t, err, payment.ErrNotFound, "another tenant's")

	r, err = b.payments.BeginReportAttempt(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, 3, r.Attempts)
	products := []payment.ReportedProduct{{SKU: "GEMS-100", Quantity: 2}}
	ok, err := b.payments.ReportSucceeded(ctx, p.ID, products)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = b.payments.ReportSucceeded(ctx, p.ID, products)
	require.NoError(t, err)
	require.False(t, ok, "once")
	require.NoError(t, b.payments.ReportFailed(ctx, p.ID, "late failure", true))
	r, err = b.payments.BeginReportAttempt(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, payment.StateSucceeded, r.State)
	require.Equal(t, 3, r.Attempts)
	require.Empty(t, r.LastError)
	require.Equal(t, products, r.Products)
	require.NotNil(t, r.ReportedAt)
	require.WithinDuration(t, time.Now(), *r.ReportedAt, time.Minute)
	_, err = b.payments.RetryReport(ctx, b.env.TenantID, "staging", "C-GW-3-P", nil)
	require.ErrorIs(t, err, payment.ErrReportNotRetryable)
}

// TestRetryPendingReportWithoutJob: a pending report whose job waits is
// run now (no second job); one whose job ended without settling it (a
// node died on the last attempt) is queued again by hand.
func TestRetryPendingReportWithoutJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.order(t, "C-GW-4-P")
	p, f := b.fulfilled(t, "C-GW-4-P")
	_, err := b.payments.Succeed(ctx, f.ID, "game-tx-4")
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `UPDATE river_job SET state = 'scheduled', scheduled_at = now() + interval '1 hour'
		WHERE kind = 'report_fulfilment'`)
	require.NoError(t, err)
	r, err := b.payments.RetryReport(ctx, b.env.TenantID, "staging", "C-GW-4-P", nil)
	require.NoError(t, err)
	require.Equal(t, payment.StatePending, r.State)
	require.Equal(t, 1, b.reportJobs(t, p.ID))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'report_fulfilment'
		AND state = 'available' AND scheduled_at <= now()`), "its job runs now")

	_, err = b.pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now() WHERE kind = 'report_fulfilment'`)
	require.NoError(t, err)
	r, err = b.payments.RetryReport(ctx, b.env.TenantID, "staging", "C-GW-4-P", nil)
	require.NoError(t, err)
	require.Equal(t, payment.StatePending, r.State)
	require.Equal(t, 2, b.reportJobs(t, p.ID))
}

func TestReportProducts(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ in, want []payment.ReportedProduct }{
		"none":   {nil, []payment.ReportedProduct{}},
		"one":    {[]payment.ReportedProduct{{"A", 1}}, []payment.ReportedProduct{{"A", 1}}},
		"order":  {[]payment.ReportedProduct{{"B", 1}, {"A", 3}}, []payment.ReportedProduct{{"B", 1}, {"A", 3}}},
		"summed": {[]payment.ReportedProduct{{"A", 1}, {"B", 2}, {"A", 4}}, []payment.ReportedProduct{{"A", 5}, {"B", 2}}},
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, payment.ReportProducts(tc.in))
		})
	}
}
