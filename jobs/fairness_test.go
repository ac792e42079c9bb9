package jobs_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/sdk"
	"github.com/partnerhub/partnerhub/tenant"
)

// fakePlugin fulfils after delay, counting calls and the most at once.
type fakePlugin struct {
	sdk.Unimplemented
	delay   time.Duration
	hold    chan struct{} // when set, calls wait until it is closed
	calls   atomic.Int64
	running atomic.Int64
	mu      sync.Mutex
	peak    int64
}

func (p *fakePlugin) Fulfil(ctx context.Context, req sdk.FulfilRequest) (sdk.Result, error) {
	n := p.running.Add(1)
	defer p.running.Add(-1)
	p.mu.Lock()
	p.peak = max(p.peak, n)
	p.mu.Unlock()
	p.calls.Add(1)
	if p.hold != nil {
		select {
		case <-p.hold:
		case <-ctx.Done():
			return sdk.Result{}, ctx.Err()
		}
	}
	if p.delay > 0 {
		select {
		case <-time.After(p.delay):
		case <-ctx.Done():
			return sdk.Result{}, ctx.Err()
		}
	}
	return sdk.Fulfilled("ok-" + req.Payment.Reference), nil
}

func (p *fakePlugin) maxConcurrent() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}

// fakeHost answers with an in-process plugin per partner code: the
// scheduling, not plugin processes, is under test.
type fakeHost map[string]sdk.Plugin

func (h fakeHost) Get(_ context.Context, key host.Key) (sdk.Plugin, error) {
	if p, ok := h[key.PartnerCode]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("no fake plugin for %s", key.PartnerCode)
}

// flood records n SUCCESSFUL payments of the tenant and queues their
// fulfilments, in bulk: a tenant's flood, quickly.
func (b bundle) flood(t testing.TB, code, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	env, err := b.tenants.Env(ctx, code, tenant.Staging)
	require.NoError(t, err)
	require.NoError(t, db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO payments
			(tenant_id, environment, reference, partner_reference, status, amount, currency_code, country_code,
			 customer_id, payment_method, status_updated_at, created_date)
			SELECT $1, 'staging', $2 || i, 'o-' || i, 'SUCCESSFUL', 10, 'ZAR', 'ZA', 1, 'CARD', now(), now()
			FROM generate_series(1, $3) i RETURNING id, reference`, env.TenantID, prefix, n)
		if err != nil {
			return err
		}
		var js []payment.FulfilJob
		for rows.Next() {
			var p payment.Payment
			if err := rows.Scan(&p.ID, &p.Reference); err != nil {
				return err
			}
			js = append(js, payment.FulfilJob{Env: env, Payment: p})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for len(js) > 0 { // River inserts up to a few thousand rows per statement comfortably
			k := min(len(js), 2000)
			if err := b.enq.EnqueueFulfilManyTx(ctx, tx, js[:k]); err != nil {
				return err
			}
			js = js[k:]
		}
		return nil
	}))
}

// unfinished counts the tenant's fulfil jobs not finalized yet.
func (b bundle) unfinished(t testing.TB, code string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
		WHERE kind = 'fulfil' AND args->>'partner_code' = $1 AND finalized_at IS NULL`, code).Scan(&n))
	return n
}

// TestFloodDoesNotDelayOthers: while acme's 3,000 fulfilments drain at its
// concurrency cap, beta's fulfilment is served long before acme's backlog
// is done — in a single FIFO queue it would wait for all of them.
func TestFloodDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	acme, beta := &fakePlugin{delay: 10 * time.Millisecond}, &fakePlugin{}
	const cap, n = 2, 3000
	b := setupWith(t, options{
		tune: func(c *jobs.Config) { c.Workers, c.TenantConcurrency = 8, cap },
		host: func(jobs.PluginHost) jobs.PluginHost { return fakeHost{"acme": acme, "beta": beta} },
	})
	b.flood(t, "acme", "C-FLOOD-", n)
	b.start()
	require.Eventually(t, func() bool { return acme.calls.Load() >= 20 }, waitLong, pollEvery, "acme's flood is being worked")

	id := b.pay(t, "beta", "C-BETA-P", 1)
	b.waitFor(t, id, "completed")
	left := b.unfinished(t, "acme")
	require.Greater(t, left, n/2, "beta was served while most of acme's backlog still waited")
	require.LessOrEqual(t, acme.maxConcurrent(), int64(cap), "acme never ran more than its cap at once")

	var overflow int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
		WHERE args->>'partner_code' = 'acme' AND queue = $1 AND finalized_at IS NULL`, jobs.QueueOverflow).Scan(&overflow))
	require.Greater(t, overflow, n/2, "acme's backlog waits in the overflow queue")
}

// overflowed counts the tenant's unfinished fulfil jobs in the overflow
// queue.
func (b bundle) overflowed(t testing.TB, code string) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
		WHERE kind = 'fulfil' AND args->>'partner_code' = $1 AND queue = $2 AND finalized_at IS NULL`,
		code, jobs.QueueOverflow).Scan(&n))
	return n
}

// TestBriefBurstIsNotLeftBehindAFlood (F6): beta goes over its cap for a
// moment while acme floods — its backlog moves to the overflow queue, where
// acme's thousands of older jobs wait — and once beta runs under its cap
// again its backlog moves back: all of it, and beta's next fulfilment, are
// served while most of acme's backlog still waits.
func TestBriefBurstIsNotLeftBehindAFlood(t *testing.T) {
	t.Parallel()
	acme := &fakePlugin{delay: 10 * time.Millisecond}
	beta := &fakePlugin{hold: make(chan struct{})}
	const cap, n, burst = 2, 3000, 12
	b := setupWith(t, options{
		tune: func(c *jobs.Config) { c.Workers, c.TenantConcurrency = 8, cap },
		host: func(jobs.PluginHost) jobs.PluginHost { return fakeHost{"acme": acme, "beta": beta} },
	})
	b.flood(t, "acme", "C-FLOOD-", n)
	b.start()
	require.Eventually(t, func() bool { return acme.calls.Load() >= 20 }, waitLong, pollEvery, "acme's flood is being worked")

	// beta's plugin is stuck while a burst arrives: over its cap.
	b.flood(t, "beta", "C-BURST-", burst)
	require.Eventually(t, func() bool { return b.overflowed(t, "beta") > 0 }, waitLong, pollEvery,
		"beta's backlog went to the overflow queue")
	close(beta.hold)

	require.Eventually(t, func() bool { return b.unfinished(t, "beta") == 0 }, waitLong, pollEvery, "beta's burst is served")
	require.Greater(t, b.unfinished(t, "acme"), n/2, "beta's burst did not wait behind acme's backlog")

	id := b.pay(t, "beta", "C-BETA-P", 1)
	b.waitFor(t, id, "completed")
	require.Greater(t, b.unfinished(t, "acme"), n/2, "beta's next fulfilment was served promptly")
	require.LessOrEqual(t, beta.maxConcurrent(), int64(cap), "beta never ran more than its cap at once")
	require.LessOrEqual(t, acme.maxConcurrent(), int64(cap), "acme never ran more than its cap at once")
}

// TestBreakerPausesFailingPlugin: after BreakerFailures failed calls in a
// row, the tenant environment's jobs wait out the cool-off snoozed, using
// up no attempt, while other tenants are served.
func TestBreakerPausesFailingPlugin(t *testing.T) {
	t.Parallel()
	b := setupWith(t, options{tune: func(c *jobs.Config) {
		c.TenantConcurrency, c.BreakerFailures, c.BreakerCoolOff = 1, 3, time.Hour
	}})
	b.start()
	var ids []int64
	for i := range 6 {
		ids = append(ids, b.pay(t, "acme", fmt.Sprintf("C-DOWN-%d-P", i), 3)) // the game backend is down
	}
	ctx := context.Background()
	require.Eventually(t, func() bool {
		var paused int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job
			WHERE kind = 'fulfil' AND args->>'partner_code' = 'acme' AND state = 'scheduled'
			  AND scheduled_at > now() + interval '50 minutes'`).Scan(&paused))
		return paused == len(ids)
	}, waitLong, pollEvery, "every acme job waits out the cool-off")

	var calls, errs int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT coalesce(sum(attempts), 0) FROM fulfilments`).Scan(&calls))
	require.Equal(t, 3, calls, "the breaker opened after three failed calls")
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT coalesce(sum(coalesce(array_length(errors, 1), 0)), 0)
		FROM river_job WHERE kind = 'fulfil'`).Scan(&errs))
	require.Equal(t, 3, errs, "waiting used up no attempt")

	ok := b.pay(t, "beta", "C-BETA-P", 1)
	s := b.waitFor(t, ok, "completed")
	require.Equal(t, payment.StateSucceeded, s.FState, "other tenants are served")
}
