package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// TestReportOutageDoesNotBlockFulfilment: while Pay1st hangs, report jobs
// must not take every worker: a Shop payment's fulfil job still runs (the
// reports have their own queue). Not parallel: it sets the client timeout
// the bundle uses.
func TestReportOutageDoesNotBlockFulfilment(t *testing.T) {
	reportClientTimeout = 2 * time.Minute // a hung connection, as production's 4 x 15 s cut at the 50 s job timeout
	t.Cleanup(func() { reportClientTimeout = 0 })
	b := setupReport(t, func(c *jobs.Config) { c.Workers = 2; c.JobTimeout = 2 * time.Minute; c.RescueAfter = time.Hour })
	ctx := context.Background()
	t.Cleanup(func() { b.hang.Store(false); close(hangRelease) })
	b.hang.Store(true)
	p1 := b.gatewayPayment(t, "order-hang-1")
	p2 := b.gatewayPayment(t, "order-hang-2")
	// A report job is in its call to Pay1st.
	require.Eventually(t, func() bool {
		return b.report(t, p1.ID).Attempts+b.report(t, p2.ID).Attempts >= 1
	}, 30*time.Second, 20*time.Millisecond)

	res := b.shopPayment(t, "s3", "shop-9", "C-SHOP-9-P")
	// The fulfil job ran (no plugin here: its attempt fails, but it ran).
	require.Eventually(t, func() bool {
		f, err := b.payments.Fulfilment(ctx, res.PaymentID, payment.KindFulfil)
		return err == nil && f.Attempts >= 1
	}, 20*time.Second, 50*time.Millisecond, "the fulfil job waited for Pay1st's outage")
	var queue string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT DISTINCT queue FROM river_job WHERE kind = 'report_fulfilment'`).Scan(&queue))
	require.Equal(t, jobs.QueueReport, queue)
	b.hang.Store(false)
}

// TestReportRefusedRetriedByHandRunsNow: a refused report waits a minute
// or more for its next try; once the credentials are fixed, RetryReport
// runs that job at once (no second job) and Pay1st gets one report.
func TestReportRefusedRetriedByHandRunsNow(t *testing.T) {
	t.Parallel()
	b := setupReport(t, nil)
	ctx := context.Background()
	b.setCredentials(t, "a-wrong-signing-key-0123")
	p := b.gatewayPayment(t, "order-refused-2")
	b.waitReport(t, p.ID, "refused", func(r payment.Report) bool { return r.LastError != "" })
	require.Eventually(t, func() bool {
		_, state, _ := b.reportJob(t, p.ID)
		return state == "scheduled"
	}, 30*time.Second, 20*time.Millisecond)

	b.setCredentials(t, reportSigningKey)
	var audited int
	r, err := b.payments.RetryReport(ctx, b.acme.ID, tenant.Staging, p.Reference, func(context.Context, pgx.Tx, payment.Report) error {
		audited++
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, payment.StatePending, r.State)
	require.Equal(t, 1, audited)
	r = b.waitReport(t, p.ID, "succeeded", func(r payment.Report) bool { return r.State == payment.StateSucceeded })
	require.Equal(t, 2, r.Attempts)
	require.Len(t, b.sim.Fulfilments(p.Reference), 1)
	var n int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'report_fulfilment'`).Scan(&n))
	require.Equal(t, 1, n, "the waiting job ran; none was added")
}

// TestSweeperFailsReportWithoutOutcome: a pending report whose job ended
// without settling it (here cancelled by hand) is marked failed by the
// sweeper, and can be retried by hand; a pending report whose job waits is
// left alone.
func TestSweeperFailsReportWithoutOutcome(t *testing.T) {
	t.Parallel()
	b := setupReport(t, func(c *jobs.Config) { c.SweepInterval = time.Second })
	ctx := context.Background()
	b.setCredentials(t, "a-wrong-signing-key-0123")
	stuck := b.gatewayPayment(t, "order-stuck-1")
	waiting := b.gatewayPayment(t, "order-waiting-1")
	for _, p := range []payment.Payment{stuck, waiting} {
		b.waitReport(t, p.ID, "refused", func(r payment.Report) bool { return r.LastError != "" })
		require.Eventually(t, func() bool {
			_, state, _ := b.reportJob(t, p.ID)
			return state == "scheduled"
		}, 30*time.Second, 20*time.Millisecond)
	}
	id, _, _ := b.reportJob(t, stuck.ID)
	_, err := b.client.JobCancel(ctx, id)
	require.NoError(t, err)
	// Both untouched past the sweeper's grace, in one statement: one sweep
	// sees both.
	_, err = b.pool.Exec(ctx, `UPDATE fulfilment_reports SET updated_at = now() - interval '2 minutes'`)
	require.NoError(t, err)

	r := b.waitReport(t, stuck.ID, "failed by the sweeper", func(r payment.Report) bool { return r.State == payment.StateFailed })
	require.Equal(t, payment.ReasonReportNoOutcome, r.LastError)
	require.Equal(t, payment.StatePending, b.report(t, waiting.ID).State, "its job waits: not stuck")

	b.setCredentials(t, reportSigningKey)
	_, err = b.payments.RetryReport(ctx, b.acme.ID, tenant.Staging, stuck.Reference, nil)
	require.NoError(t, err)
	b.waitReport(t, stuck.ID, "succeeded", func(r payment.Report) bool { return r.State == payment.StateSucceeded })
	require.Len(t, b.sim.Fulfilments(stuck.Reference), 1)
}

// TestReportAcceptedWhateverTheReplyBody: Pay1st took the report (200) but
// its reply is larger than the client reads: the report succeeded, and is
// not sent again.
func TestReportAcceptedWhateverTheReplyBody(t *testing.T) {
	t.Parallel()
	b := setupReport(t, nil)
	b.front.Store(frontPadded)
	p := b.gatewayPayment(t, "order-padded-1")
	r := b.waitReport(t, p.ID, "succeeded", func(r payment.Report) bool {
		return r.State == payment.StateSucceeded || r.Attempts > 1
	})
	require.Equal(t, payment.StateSucceeded, r.State, r.LastError)
	require.Equal(t, 1, r.Attempts)
	require.Len(t, b.sim.Fulfilments(p.Reference), 1, "sent once")
}

// TestReportTemporaryFailuresRetried: a 429 and a dropped connection are
// temporary: retried on River's schedule (failures on the job, no long
// wait), then reported once.
func TestReportTemporaryFailuresRetried(t *testing.T) {
	t.Parallel()
	b := setupReport(t, nil)
	b.front.Store(front429)
	p := b.gatewayPayment(t, "order-temporary-1")
	r := b.waitReport(t, p.ID, "retried after 429", func(r payment.Report) bool { return r.Attempts >= 2 })
	require.Equal(t, payment.StatePending, r.State)
	require.Contains(t, r.LastError, "HTTP 429")
	_, _, errs := b.reportJob(t, p.ID)
	require.GreaterOrEqual(t, errs, 1, "a failure River retries, not a snooze")

	b.front.Store(frontDrop)
	before := r.Attempts
	r = b.waitReport(t, p.ID, "retried after a dropped connection", func(r payment.Report) bool {
		return r.Attempts >= before+2
	})
	require.Equal(t, payment.StatePending, r.State)
	require.NotContains(t, r.LastError, "HTTP 4")
	_, _, errs = b.reportJob(t, p.ID)
	require.GreaterOrEqual(t, errs, 3)
	require.Empty(t, b.sim.Fulfilments(p.Reference))

	b.front.Store(frontSim)
	b.waitReport(t, p.ID, "succeeded", func(r payment.Report) bool { return r.State == payment.StateSucceeded })
	require.Len(t, b.sim.Fulfilments(p.Reference), 1)
}

// TestReportOther4xxWaitsLonger: a 4xx other than 401 (here 404) is a
// refusal: snoozed a minute or more, not retried in seconds; its message,
// quoting the access token sent, is kept without it.
func TestReportOther4xxWaitsLonger(t *testing.T) {
	t.Parallel()
	b := setupReport(t, nil)
	ctx := context.Background()
	b.front.Store(front404Token)
	p := b.gatewayPayment(t, "order-404-1")
	r := b.waitReport(t, p.ID, "refused", func(r payment.Report) bool { return r.LastError != "" })
	require.Equal(t, payment.StatePending, r.State)
	require.Contains(t, r.LastError, "HTTP 404")
	token, _ := b.sentToken.Load().(string)
	require.NotEmpty(t, token)
	require.NotContains(t, r.LastError, token)
	var wait time.Duration
	require.Eventually(t, func() bool {
		var st string
		var at time.Time
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT state::text, scheduled_at FROM river_job WHERE kind = 'report_fulfilment'`).Scan(&st, &at))
		wait = time.Until(at)
		return st == "scheduled"
	}, 30*time.Second, 20*time.Millisecond)
	require.Greater(t, wait, 30*time.Second, "a refusal waits about a minute")
	require.Equal(t, 1, b.report(t, p.ID).Attempts)
}

// TestReportAttemptCountsCalls: an attempt that could not call Pay1st (no
// gateway for the order's) is not counted — Attempts is the calls made —
// and waits like a refusal; once fixed, a retry by hand reports it.
func TestReportAttemptCountsCalls(t *testing.T) {
	t.Parallel()
	b := setupReport(t, nil)
	ctx := context.Background()
	b.orderGateway = pay1st.GatewaySimulator // none configured here
	p := b.gatewayPayment(t, "order-nogw-1")
	r := b.waitReport(t, p.ID, "refused", func(r payment.Report) bool { return r.LastError != "" })
	require.Equal(t, payment.StatePending, r.State)
	require.Zero(t, r.Attempts, "no call was made")
	require.Eventually(t, func() bool {
		_, state, _ := b.reportJob(t, p.ID)
		return state == "scheduled"
	}, 30*time.Second, 20*time.Millisecond)
	require.Empty(t, b.sim.Fulfilments(p.Reference), "nothing reached Pay1st")

	_, err := b.pool.Exec(ctx, `UPDATE orders SET gateway = 'pay1st' WHERE reference = $1`, p.Reference)
	require.NoError(t, err)
	_, err = b.payments.RetryReport(ctx, b.acme.ID, tenant.Staging, p.Reference, nil)
	require.NoError(t, err)
	r = b.waitReport(t, p.ID, "succeeded", func(r payment.Report) bool { return r.State == payment.StateSucceeded })
	require.Equal(t, 1, r.Attempts)
	require.Len(t, b.sim.Fulfilments(p.Reference), 1)
}
