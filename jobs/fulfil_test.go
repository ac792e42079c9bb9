package jobs_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/plugintest"
	"github.com/partnerhub/partnerhub/tenant"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type bundle struct {
	pool     *pgxpool.Pool
	tenants  *tenant.Service
	payments *payment.Service
	enq      *jobs.Enqueuer
	client   *river.Client[pgx.Tx]
	registry *plugins.Registry
	start    func() // starts the workers
}

// setup runs real River workers against a private database, with the
// scripted test plugin active for tenants "acme" and "beta" and no plugin
// for "bare".
// Workers start when the test calls b.start.
func setup(t *testing.T, maxAttempts int) bundle {
	t.Helper()
	return setupWith(t, options{tune: func(c *jobs.Config) { c.MaxAttempts = maxAttempts }})
}

// options tune setupWith.
type options struct {
	tune func(*jobs.Config)
	// host, when set, replaces the real plugin host (given to it).
	host func(real jobs.PluginHost) jobs.PluginHost
	// maxConns sizes the pool as serve does (PARTNERHUB_DB_MAX_CONNS);
	// pgxpool's default (4 on a small machine) when zero.
	maxConns int32
	// logger, when set, receives the workers', host's and River's logs.
	logger *slog.Logger
}

// setupWith is setup with the jobs configuration tuned. The circuit breaker
// is off unless tune turns it on: outcome tests watch every retry. Tenant
// "beta" has the scripted plugin active too.
func setupWith(t testing.TB, o options) bundle {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t)
	if o.maxConns > 0 {
		pcfg, err := pgxpool.ParseConfig(pgtest.NewURL(t))
		require.NoError(t, err)
		pcfg.MaxConns = o.maxConns
		pool, err = pgxpool.NewWithConfig(ctx, pcfg)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
	}
	box, err := seal.New(bytes.Repeat([]byte{5}, 32))
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	if o.logger != nil {
		logger = o.logger
	}
	cfg := jobs.Config{Workers: 4, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond, MaxAttempts: 25,
		SettleDelay: 50 * time.Millisecond, BreakerFailures: 1 << 30}
	if o.tune != nil {
		o.tune(&cfg)
	}
	b := bundle{pool: pool, tenants: tenant.NewService(pool, box)}
	enq, err := jobs.NewEnqueuer(pool, cfg, logger)
	require.NoError(t, err)
	b.enq = enq
	b.payments = payment.NewService(pool, enq)
	registry := plugins.NewRegistry(pool, plugins.WithSealer(box))
	b.registry = registry

	for code, id := range map[string]int64{"acme": 1, "bare": 2, "beta": 3} {
		_, err := b.tenants.Create(ctx, tenant.CreateParams{PartnerCode: code, PartnerID: id, Name: code})
		require.NoError(t, err)
	}
	bin := plugintest.Build(t, "github.com/partnerhub/partnerhub/jobs/testdata/scriptplugin")
	for _, code := range []string{"acme", "beta"} {
		tn, err := b.tenants.Get(ctx, code)
		require.NoError(t, err)
		pl, err := registry.Register(ctx, plugins.RegisterParams{TenantID: tn.ID, Name: "script", Version: "1",
			OS: runtime.GOOS, Arch: runtime.GOARCH, Binary: bin.Bytes})
		require.NoError(t, err)
		require.NoError(t, db.InTx(ctx, pool, func(tx pgx.Tx) error {
			return b.tenants.SetActivePluginTx(ctx, tx, tn, tenant.Staging, pl.ID)
		}))
	}

	dir, err := os.MkdirTemp("", "partnerhub-jobs-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755)) // plugins run as nobody when tests run as root
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	h, err := host.New(host.Config{CacheDir: filepath.Join(dir, "cache"), WorkDir: filepath.Join(dir, "work"), Logger: logger}, registry)
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })

	var ph jobs.PluginHost = h
	if o.host != nil {
		ph = o.host(h)
	}
	client, err := jobs.NewClient(jobs.Deps{Pool: pool, Tenants: b.tenants, Payments: b.payments, Plugins: registry, Host: ph, Logger: logger}, cfg)
	require.NoError(t, err)
	b.client = client
	b.start = func() {
		require.NoError(t, client.Start(ctx))
		t.Cleanup(func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = client.Stop(stopCtx)
		})
	}
	return b
}

// pay records a SUCCESSFUL event for the tenant; the customer id picks the
// scripted plugin's answer.
func (b bundle) pay(t testing.TB, code, reference string, customer int64) int64 {
	t.Helper()
	return b.payAt(t, code, reference, customer, 0)
}

// payAt is pay with the event's dates moved by offset.
func (b bundle) payAt(t testing.TB, code, reference string, customer int64, offset time.Duration) int64 {
	t.Helper()
	res := b.event(t, code, reference, customer, pay1st.StatusSuccessful, offset)
	require.True(t, res.Enqueued)
	return res.PaymentID
}

// event records an event of the given status for the tenant, dated
// 2026-01-01 plus offset.
func (b bundle) event(t testing.TB, code, reference string, customer int64, status pay1st.Status, offset time.Duration) payment.Ingested {
	t.Helper()
	ctx := context.Background()
	env, err := b.tenants.Env(ctx, code, tenant.Staging)
	require.NoError(t, err)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(offset)
	ev := pay1st.PaymentEvent{PartnerID: env.PartnerID, PartnerCode: code, PartnerReference: "o-" + reference,
		Reference: reference, OrderAmount: decimal.RequireFromString("10"), CurrencyCode: "ZAR", CountryCode: "ZA",
		Source: "web", Platform: "WEB", IPAddress: "198.51.100.1", CreatedDate: at, UpdatedDate: at,
		Status: status, Message: "ok", CustomerID: customer, PaymentMethod: "CARD",
		TaxPercentage: decimal.Zero, PartnerWebhookURL: "https://x.example/"}
	ev.CreatedDate = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	res, err := b.payments.IngestEvent(ctx, env, payment.Delivery{SessionID: "s", PartnerCode: code, Env: "staging",
		RemoteAddr: "t", Headers: map[string]string{}, Body: []byte("{}")}, ev)
	require.NoError(t, err)
	return res
}

type jobState struct {
	State    string
	Attempt  int
	Errors   int
	FState   string
	Attempts int
	LastErr  string
}

func (b bundle) state(t testing.TB, paymentID int64) jobState {
	t.Helper()
	return b.stateOf(t, payment.KindFulfil, paymentID)
}

// stateOf is the newest job of kind (fulfil or reverse) of a payment, with
// its fulfilment record.
func (b bundle) stateOf(t testing.TB, kind string, paymentID int64) jobState {
	t.Helper()
	var s jobState
	err := b.pool.QueryRow(context.Background(), `
		SELECT j.state::text, j.attempt, coalesce(array_length(j.errors, 1), 0),
		       coalesce(f.state, ''), coalesce(f.attempts, 0), coalesce(f.last_error, '')
		FROM river_job j LEFT JOIN fulfilments f ON f.payment_id = $1 AND f.kind = $2
		WHERE j.kind = $2 AND (j.args->>'payment_id')::bigint = $1
		ORDER BY j.id DESC LIMIT 1`, paymentID, kind).
		Scan(&s.State, &s.Attempt, &s.Errors, &s.FState, &s.Attempts, &s.LastErr)
	require.NoError(t, err)
	return s
}

func (b bundle) waitFor(t testing.TB, paymentID int64, jobStates ...string) jobState {
	t.Helper()
	return b.waitForKind(t, payment.KindFulfil, paymentID, jobStates...)
}

func (b bundle) waitForKind(t testing.TB, kind string, paymentID int64, jobStates ...string) jobState {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // generous: CI machines run many packages at once
	for {
		s := b.stateOf(t, kind, paymentID)
		for _, want := range jobStates {
			if s.State == want {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s job of payment %d never reached %v; last %+v", kind, paymentID, jobStates, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFulfilOutcomes(t *testing.T) {
	t.Parallel()
	b := setup(t, 25)
	b.start()

	ok := b.pay(t, "acme", "C-OK-P", 1)
	s := b.waitFor(t, ok, "completed")
	require.Equal(t, payment.StateSucceeded, s.FState)
	require.Equal(t, 1, s.Attempts)
	f, err := b.payments.Fulfilment(context.Background(), ok, payment.KindFulfil)
	require.NoError(t, err)
	require.Equal(t, "game-C-OK-P", f.ResultReference)
	require.Equal(t, payment.IdempotencyKey("acme", "staging", "C-OK-P", payment.KindFulfil), f.IdempotencyKey)

	rejected := b.pay(t, "acme", "C-NO-P", 2)
	s = b.waitFor(t, rejected, "cancelled")
	require.Equal(t, payment.StateFailed, s.FState, "a rejection is final at once")
	require.Equal(t, 1, s.Attempts)
	require.Contains(t, s.LastErr, "player banned")

	// A later SUCCESSFUL event for the rejected payment is applied but queues
	// nothing (only entering SUCCESSFUL does): the rejection stands and the
	// plugin is not called again.
	again := b.event(t, "acme", "C-NO-P", 2, pay1st.StatusSuccessful, time.Hour)
	require.Equal(t, rejected, again.PaymentID)
	require.True(t, again.Applied)
	require.False(t, again.Enqueued)
	f, err = b.payments.Fulfilment(context.Background(), rejected, payment.KindFulfil)
	require.NoError(t, err)
	require.Equal(t, payment.StateFailed, f.State)
	require.Equal(t, 1, f.Attempts, "no second plugin call")

	for customer, want := range map[int64]string{3: "game backend down", 4: "exploded"} {
		id := b.pay(t, "acme", "C-LATER-"+string(rune('0'+customer))+"-P", customer)
		s := b.waitFor(t, id, "retryable")
		require.Equal(t, payment.StatePending, s.FState, "a transient failure is retried")
		require.GreaterOrEqual(t, s.Attempts, 1)
		require.Contains(t, s.LastErr, want)
	}

	bare := b.pay(t, "bare", "C-BARE-P", 1)
	s = b.waitFor(t, bare, "retryable")
	require.Equal(t, payment.StatePending, s.FState)
	require.Contains(t, s.LastErr, "no active plugin")
}

func TestFulfilExhaustedIsMarkedFailed(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	b.start()
	id := b.pay(t, "acme", "C-DOWN-P", 3)
	s := b.waitFor(t, id, "discarded")
	require.Equal(t, payment.StateFailed, s.FState, "out of attempts: listed as failed for an operator")
	require.Contains(t, s.LastErr, "game backend down")

	bare := b.pay(t, "bare", "C-BARE-P", 1)
	s = b.waitFor(t, bare, "discarded")
	require.Equal(t, payment.StateFailed, s.FState)
	require.Contains(t, s.LastErr, "no active plugin")
}

func TestFulfilSkipsPaymentNoLongerSuccessful(t *testing.T) {
	t.Parallel()
	b := setup(t, 25)
	ctx := context.Background()
	// The payment is refunded before any worker runs: its fulfil job must
	// not credit it.
	id := b.pay(t, "acme", "C-REFUND-P", 1)
	_, err := b.pool.Exec(ctx, `UPDATE payments SET status = 'REFUND' WHERE id = $1`, id)
	require.NoError(t, err)
	b.start()
	s := b.waitFor(t, id, "cancelled", "completed")
	require.Equal(t, "cancelled", s.State)
	require.Equal(t, "", s.FState, "no attempt was made")
}
