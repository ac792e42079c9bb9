package payment_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type bundle struct {
	pool     *pgxpool.Pool
	payments *payment.Service
	env      tenant.Env
}

func setup(t *testing.T) bundle {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t)
	box, err := seal.New(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	tenants := tenant.NewService(pool, box)
	_, err = tenants.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 42, Name: "Acme"})
	require.NoError(t, err)
	env, err := tenants.Env(ctx, "acme", tenant.Staging)
	require.NoError(t, err)
	enq, err := jobs.NewEnqueuer(pool, jobs.Config{FetchCooldown: 10 * time.Millisecond}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return bundle{pool: pool, payments: payment.NewService(pool, enq), env: env}
}

var t0 = time.Date(2026, 3, 17, 8, 10, 52, 544247000, time.UTC)

func event(reference string, status pay1st.Status, updated time.Time) pay1st.PaymentEvent {
	return pay1st.PaymentEvent{
		PartnerID: 42, PartnerCode: "acme", PartnerReference: "order-" + reference, Reference: reference,
		OrderAmount: decimal.RequireFromString("1234.56789012"), CurrencyCode: "NGN", CountryCode: "NG",
		Source: "web", Platform: "WEB", IPAddress: "203.0.113.9", CreatedDate: t0, UpdatedDate: updated,
		Status: status, Message: "ok", StatusCode: 0, CustomerID: 77, PaymentMethod: "CARD",
		TaxPercentage: decimal.RequireFromString("7.5"), PartnerWebhookURL: "https://hub.example.com/x",
	}
}

func (b bundle) ingest(t *testing.T, ev pay1st.PaymentEvent) payment.Ingested {
	t.Helper()
	body, err := json.Marshal(ev)
	require.NoError(t, err)
	res, err := b.payments.IngestEvent(context.Background(), b.env, payment.Delivery{
		SessionID: "s", PartnerCode: "acme", Env: "staging", RemoteAddr: "127.0.0.1:1", Headers: map[string]string{}, Body: body,
	}, ev)
	require.NoError(t, err)
	return res
}

func (b bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func TestIngestSuccessfulQueuesFulfilOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ev := event("C-1-P", pay1st.StatusSuccessful, t0)

	first := b.ingest(t, ev)
	require.False(t, first.Duplicate)
	require.True(t, first.Applied)
	require.True(t, first.Enqueued)
	require.Equal(t, "SUCCESSFUL", first.Status)

	again := b.ingest(t, ev)
	require.True(t, again.Duplicate)
	require.False(t, again.Enqueued)
	require.Equal(t, first.PaymentID, again.PaymentID)

	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payments`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payment_events`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM deliveries WHERE verdict = 'accepted'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM deliveries WHERE verdict = 'duplicate'`))

	p, err := b.payments.Get(context.Background(), first.PaymentID)
	require.NoError(t, err)
	require.Equal(t, "1234.56789012", p.Amount.String(), "amounts are exact")
	require.Equal(t, int64(77), p.CustomerID)
}

func TestIngestOlderEventNeverOverwrites(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.ingest(t, event("C-2-P", pay1st.StatusPending, t0))
	succ := b.ingest(t, event("C-2-P", pay1st.StatusSuccessful, t0.Add(time.Minute)))
	require.True(t, succ.Applied)
	require.True(t, succ.Enqueued)

	late := b.ingest(t, event("C-2-P", pay1st.StatusPending, t0.Add(-time.Minute)))
	require.False(t, late.Duplicate, "a new event, kept in the history")
	require.False(t, late.Applied, "older than the current status")
	require.Equal(t, "SUCCESSFUL", late.Status)

	p, err := b.payments.Get(context.Background(), succ.PaymentID)
	require.NoError(t, err)
	require.Equal(t, "SUCCESSFUL", p.Status)
	require.Equal(t, 3, b.count(t, `SELECT count(*) FROM payment_events WHERE payment_id = $1`, p.ID))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM payment_events WHERE payment_id = $1 AND NOT applied`, p.ID))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
}

func TestIngestSameUpdatedDateRanksStatuses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Pay1st may send PENDING and SUCCESSFUL with one updatedDate (or
	// differing below a microsecond): the success must still count.
	b.ingest(t, event("C-5-P", pay1st.StatusPending, t0))
	succ := b.ingest(t, event("C-5-P", pay1st.StatusSuccessful, t0.Add(400*time.Nanosecond)))
	require.True(t, succ.Applied)
	require.True(t, succ.Enqueued)
	require.Equal(t, "SUCCESSFUL", succ.Status)

	late := b.ingest(t, event("C-5-P", pay1st.StatusPending, t0.Add(time.Microsecond-time.Nanosecond)))
	require.True(t, late.Duplicate, "same status and updatedDate at microsecond precision")

	// A refund at the same instant wins; an old SUCCESSFUL after it neither
	// applies nor queues anything.
	refund := b.ingest(t, event("C-5-P", pay1st.StatusRefund, t0))
	require.True(t, refund.Applied)
	old := b.ingest(t, event("C-5-P", pay1st.StatusSuccessful, t0.Add(-time.Hour)))
	require.False(t, old.Applied)
	require.False(t, old.Enqueued)
	require.Equal(t, "REFUND", old.Status)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM river_job WHERE kind = 'fulfil'`))
}

func TestIngestNonSuccessfulQueuesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i, s := range []pay1st.Status{pay1st.StatusNew, pay1st.StatusPending, pay1st.StatusFailed} {
		res := b.ingest(t, event("C-3-P", s, t0.Add(time.Duration(i)*time.Second)))
		require.False(t, res.Enqueued, s)
	}
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM river_job`))
}

func TestFulfilmentSucceedsOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	res := b.ingest(t, event("C-4-P", pay1st.StatusSuccessful, t0))
	p, err := b.payments.Get(ctx, res.PaymentID)
	require.NoError(t, err)
	key := payment.IdempotencyKey("acme", "staging", p.Reference, payment.KindFulfil)
	// The key is derived from identity only, and tells apart every part of it.
	require.Equal(t, `ph1:acme:staging:fulfil:"C-4-P"`, key)
	for _, other := range []string{
		payment.IdempotencyKey("acme", "staging", "C-4-P", payment.KindReverse),
		payment.IdempotencyKey("acme", "production", "C-4-P", payment.KindFulfil),
		payment.IdempotencyKey("acme2", "staging", "C-4-P", payment.KindFulfil),
		payment.IdempotencyKey("acme", "staging", "C-4-P:x", payment.KindFulfil),
	} {
		require.NotEqual(t, key, other)
	}

	f, err := b.payments.BeginAttempt(ctx, p, payment.KindFulfil, key, 0)
	require.NoError(t, err)
	require.Equal(t, payment.StatePending, f.State)
	require.Equal(t, 1, f.Attempts)
	require.NoError(t, b.payments.RecordError(ctx, f.ID, "plugin down", false))

	f, err = b.payments.BeginAttempt(ctx, p, payment.KindFulfil, key, 0)
	require.NoError(t, err)
	require.Equal(t, 2, f.Attempts)
	require.Equal(t, "plugin down", f.LastError)

	succeed := func() bool {
		var changed bool
		require.NoError(t, db.InTx(ctx, b.pool, func(tx pgx.Tx) error {
			var err error
			changed, err = b.payments.SucceedTx(ctx, tx, f.ID, "game-tx-1")
			return err
		}))
		return changed
	}
	require.True(t, succeed())
	require.False(t, succeed(), "a second success changes nothing")

	f, err = b.payments.BeginAttempt(ctx, p, payment.KindFulfil, key, 0)
	require.NoError(t, err)
	require.Equal(t, payment.StateSucceeded, f.State)
	require.Equal(t, 2, f.Attempts, "no attempt is counted after success")
	require.Equal(t, "game-tx-1", f.ResultReference)

	require.NoError(t, b.payments.RecordError(ctx, f.ID, "late error", true))
	f, err = b.payments.Fulfilment(ctx, p.ID, payment.KindFulfil)
	require.NoError(t, err)
	require.Equal(t, payment.StateSucceeded, f.State, "an error never undoes a success")
}
