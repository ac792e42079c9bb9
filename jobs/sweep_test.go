package jobs_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// failRecording makes Postgres refuse to mark a fulfilment failed with a
// reason matching like — the statement recording the last attempt's error
// fails, as on a database outage or a node dying right then — the first
// times updates (all of them when times is 0).
func (b bundle) failRecording(t testing.TB, like string, times int) {
	t.Helper()
	_, err := b.pool.Exec(context.Background(), fmt.Sprintf(`
		CREATE SEQUENCE test_fail_seq;
		CREATE FUNCTION test_fail_recording() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.state = 'failed' AND NEW.last_error LIKE %s AND (%d = 0 OR nextval('test_fail_seq') <= %d) THEN
				RAISE EXCEPTION 'injected: recording refused';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER test_fail_recording BEFORE UPDATE ON fulfilments
			FOR EACH ROW EXECUTE FUNCTION test_fail_recording()`, quote(like), times, times))
	require.NoError(t, err)
}

func quote(s string) string { return "'" + s + "'" }

// age makes a payment's fulfilment record look untouched for two minutes,
// past the sweeper's grace.
func (b bundle) age(t testing.TB, paymentID int64) {
	t.Helper()
	_, err := b.pool.Exec(context.Background(), `UPDATE fulfilments SET updated_at = now() - interval '2 minutes'
		WHERE payment_id = $1`, paymentID)
	require.NoError(t, err)
}

// TestSweeperFailsFulfilmentWithoutOutcome: the last attempt's error could
// not be recorded, so the record stayed pending with no job to settle it.
// The sweeper marks it failed (listed, retryable by hand) and closes its
// attempt as unknown; a pending record whose job is only scheduled is left
// alone. A stuck pending record can also be retried by hand at once.
func TestSweeperFailsFulfilmentWithoutOutcome(t *testing.T) {
	t.Parallel()
	b := setupWith(t, options{tune: func(c *jobs.Config) { c.MaxAttempts = 1; c.SweepInterval = time.Second }})
	ctx := context.Background()

	// A pending record whose job waits for later: not stuck.
	live := b.pay(t, "acme", "C-LIVE-P", 1)
	p, err := b.payments.Get(ctx, live)
	require.NoError(t, err)
	_, err = b.payments.BeginAttempt(ctx, p, payment.KindFulfil, payment.IdempotencyKey("acme", "staging", "C-LIVE-P", payment.KindFulfil), 0)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `UPDATE river_job SET state = 'scheduled', scheduled_at = now() + interval '1 hour'
		WHERE kind = 'fulfil' AND (args->>'payment_id')::bigint = $1`, live)
	require.NoError(t, err)
	b.age(t, live)

	b.failRecording(t, "plugin asked to retry%", 0)
	b.start()
	stuck := b.pay(t, "acme", "C-STUCK-P", 3) // the game backend is down; one attempt
	s := b.waitFor(t, stuck, "discarded")
	require.Equal(t, payment.StatePending, s.FState, "the recording failed: pending with no job")

	// A retry by hand takes it at once: River's uniqueness sees no job.
	retried, err := b.retry(t, b.fulfilmentOf(t, live, payment.KindFulfil).ID)
	var nr *payment.NotRetryableError
	require.ErrorAs(t, err, &nr, "%+v", retried)
	require.Equal(t, "it is pending, not failed", nr.Reason, "its job is still scheduled")

	b.age(t, stuck)
	require.Eventually(t, func() bool {
		return b.fulfilmentOf(t, stuck, payment.KindFulfil).State == payment.StateFailed
	}, waitLong, pollEvery, "the sweeper marks it failed")
	f := b.fulfilmentOf(t, stuck, payment.KindFulfil)
	require.Equal(t, payment.ReasonNoOutcome, f.LastError)
	attempts, err := b.payments.Attempts(ctx, f.ID)
	require.NoError(t, err)
	require.Len(t, attempts, 1)
	require.Equal(t, payment.OutcomeUnknown, attempts[0].Outcome)
	require.NotNil(t, attempts[0].FinishedAt)
	require.Equal(t, payment.StatePending, b.fulfilmentOf(t, live, payment.KindFulfil).State, "a record with a live job is not swept")

	// Listed as failed, and retried by hand like any failed record.
	_, err = b.pool.Exec(ctx, `UPDATE payments SET customer_id = 1 WHERE id = $1`, stuck)
	require.NoError(t, err)
	_, err = b.retry(t, f.ID)
	require.NoError(t, err)
	s = b.waitFor(t, stuck, "completed")
	require.Equal(t, payment.StateSucceeded, s.FState)
	attempts, err = b.payments.Attempts(ctx, f.ID)
	require.NoError(t, err)
	require.Len(t, attempts, 2, "the history is kept")
	require.Equal(t, payment.OutcomeSucceeded, attempts[1].Outcome)
}

// TestRetryStuckPendingByHand: a pending record whose job ended without an
// outcome is retried by hand before the sweeper gets to it.
func TestRetryStuckPendingByHand(t *testing.T) {
	t.Parallel()
	b := setupWith(t, options{tune: func(c *jobs.Config) { c.MaxAttempts = 1 }})
	b.failRecording(t, "plugin asked to retry%", 0)
	b.start()
	id := b.pay(t, "acme", "C-HAND-P", 3)
	s := b.waitFor(t, id, "discarded")
	require.Equal(t, payment.StatePending, s.FState)
	_, err := b.pool.Exec(context.Background(), `UPDATE payments SET customer_id = 1 WHERE id = $1`, id)
	require.NoError(t, err)
	_, err = b.retry(t, b.fulfilmentOf(t, id, payment.KindFulfil).ID)
	require.NoError(t, err)
	s = b.waitFor(t, id, "completed")
	require.Equal(t, payment.StateSucceeded, s.FState)
}

// TestRecordErrorRetried: the statement recording the last attempt's error
// fails once; it is tried again, so the record is failed with the plugin's
// reason rather than left pending.
func TestRecordErrorRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	b.failRecording(t, "plugin asked to retry%", 1)
	b.start()
	id := b.pay(t, "acme", "C-REC-P", 3)
	s := b.waitFor(t, id, "discarded")
	require.Equal(t, payment.StateFailed, s.FState)
	require.Contains(t, s.LastErr, "game backend down")
}

// hostileHost is the real host, except that its first Gets find the pool
// full and its first plugin's first call finds the process stopped
// (evicted or replaced between Get and the call).
type hostileHost struct {
	real     jobs.PluginHost
	poolFull atomic.Int32 // Gets left that fail with ErrPoolFull
	stopped  atomic.Int32 // calls left that fail with ErrStopped
}

func (h *hostileHost) Get(ctx context.Context, key host.Key) (sdk.Plugin, error) {
	if h.poolFull.Add(-1) >= 0 {
		return nil, fmt.Errorf("host: start %s/%s: %w", key.PartnerCode, key.Env, host.ErrPoolFull)
	}
	p, err := h.real.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return stoppingPlugin{Plugin: p, h: h}, nil
}

type stoppingPlugin struct {
	sdk.Plugin
	h *hostileHost
}

func (p stoppingPlugin) Fulfil(ctx context.Context, req sdk.FulfilRequest) (sdk.Result, error) {
	if p.h.stopped.Add(-1) >= 0 {
		return sdk.Result{}, fmt.Errorf("host: acme/staging fulfil: %w", host.ErrStopped)
	}
	return p.Plugin.Fulfil(ctx, req)
}

// TestHostSideFailuresAreNotThePlugins: a full pool and a process stopped
// under the call are the host's doing. The job waits (a snooze) or gets the
// plugin again, using no attempt and not counting against the plugin's
// circuit breaker: with one attempt and a breaker that opens at the first
// failure, the payment is still fulfilled at once.
func TestHostSideFailuresAreNotThePlugins(t *testing.T) {
	t.Parallel()
	hh := &hostileHost{}
	hh.poolFull.Store(2)
	hh.stopped.Store(1)
	b := setupWith(t, options{
		tune: func(c *jobs.Config) { c.MaxAttempts = 1; c.BreakerFailures = 1; c.BreakerCoolOff = time.Hour },
		host: func(real jobs.PluginHost) jobs.PluginHost { hh.real = real; return hh },
	})
	b.start()
	id := b.pay(t, "acme", "C-HOSTBUSY-P", 1)
	s := b.waitFor(t, id, "completed", "discarded", "cancelled")
	require.Equal(t, "completed", s.State, "%+v", s)
	require.Equal(t, payment.StateSucceeded, s.FState)
	require.Equal(t, 0, s.Errors, "no failure recorded against the job")
	require.LessOrEqual(t, hh.poolFull.Load(), int32(-1), "the pool was full twice")
	require.LessOrEqual(t, hh.stopped.Load(), int32(-1), "the process was stopped once")

	f := b.fulfilmentOf(t, id, payment.KindFulfil)
	attempts, err := b.payments.Attempts(context.Background(), f.ID)
	require.NoError(t, err)
	require.Len(t, attempts, 3)
	require.Equal(t, payment.OutcomeReleased, attempts[0].Outcome)
	require.Contains(t, attempts[0].Reason, "plugin host busy")
	require.Equal(t, payment.OutcomeSucceeded, attempts[2].Outcome)

	// The breaker did not open: another payment goes straight through.
	other := b.pay(t, "acme", "C-HOSTBUSY-2-P", 1)
	require.Equal(t, "completed", b.waitFor(t, other, "completed").State)
}
