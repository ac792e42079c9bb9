package jobs_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/seal"
	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// Credentials of tenant "acme" at the simulator.
const (
	reportAPIKey     = "acme-api-key"
	reportAPISecret  = "acme-api-secret-0123456789"
	reportSigningKey = "acme-signing-key-0123456789"
)

// reportBundle is a database, the payment and tenant services, a River
// client with real workers and the Pay1st simulator behind switches for its
// fulfilment endpoint: down answers 500, hang holds the call until the
// client gives up (or hangRelease), and front, when set, answers instead
// of the simulator (frontMode).
type reportBundle struct {
	bundle
	sim    *sim.Simulator
	pay1st *pay1st.Client
	down   *atomic.Bool
	hang   *atomic.Bool
	front  *atomic.Value // frontMode
	// sentToken is the access token front404Token quoted back.
	sentToken *atomic.Value
	// orderGateway is the gateway gatewayPayment's order names; "pay1st"
	// when empty (the one configured).
	orderGateway string
	acme         tenant.Tenant
}

// frontMode is how the front answers the fulfilment endpoint.
type frontMode string

const (
	frontSim      frontMode = ""          // the simulator answers
	frontPadded   frontMode = "padded"    // the simulator's 2xx, its body padded past the client's limit
	front429      frontMode = "429"       // 429 Too Many Requests
	frontDrop     frontMode = "drop"      // the connection closes without an answer
	front404Token frontMode = "404-token" // 404 whose message quotes the access token sent
)

// Set by TestReportOutageDoesNotBlockFulfilment (not parallel):
// reportClientTimeout is the bundle client's per-try timeout (0: the
// default), hangRelease ends calls held by hang.
var (
	reportClientTimeout time.Duration
	hangRelease         = make(chan struct{})
)

// setupReport: tenant "acme" (no plugin: its fulfil jobs fail and retry,
// so the tests record fulfilments' success themselves) with its staging
// Pay1st credentials; workers start at once.
func setupReport(t *testing.T, tune func(*jobs.Config)) reportBundle {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t)
	box, err := seal.New(bytes.Repeat([]byte{6}, 32))
	require.NoError(t, err)
	logger := slog.New(slog.DiscardHandler)
	cfg := jobs.Config{Workers: 4, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond,
		MaxAttempts: 25, BreakerFailures: 1 << 30}
	if tune != nil {
		tune(&cfg)
	}
	b := reportBundle{bundle: bundle{pool: pool, tenants: tenant.NewService(pool, box)}, down: &atomic.Bool{},
		hang: &atomic.Bool{}, front: &atomic.Value{}, sentToken: &atomic.Value{}}
	b.front.Store(frontSim)
	b.enq, err = jobs.NewEnqueuer(pool, cfg, logger)
	require.NoError(t, err)
	b.payments = payment.NewService(pool, b.enq)
	created, err := b.tenants.Create(ctx, tenant.CreateParams{PartnerCode: "acme", PartnerID: 1, Name: "acme"})
	require.NoError(t, err)
	b.acme = created.Tenant
	b.setCredentials(t, reportSigningKey)

	b.sim, err = sim.New(sim.Options{Partners: []sim.Partner{{PartnerID: 1, PartnerCode: "acme",
		APIKey: reportAPIKey, APISecret: reportAPISecret, SigningKey: reportSigningKey}}})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == pay1st.PathFulfilments && b.answer(w, r) {
			return
		}
		if b.hang.Load() && r.URL.Path == pay1st.PathFulfilments {
			select {
			case <-r.Context().Done():
			case <-hangRelease:
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if b.down.Load() && r.URL.Path == pay1st.PathFulfilments {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"errorMessage":"try later","errorCode":"INTERNAL"}`))
			return
		}
		b.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	// One try per call: River, not the client, retries here.
	b.pay1st, err = pay1st.NewClient(pay1st.ClientConfig{BaseURL: srv.URL, MaxAttempts: 1, Timeout: reportClientTimeout})
	require.NoError(t, err)

	client, err := jobs.NewClient(jobs.Deps{Pool: pool, Tenants: b.tenants, Payments: b.payments, Logger: logger,
		Gateways: pay1st.NewGateways(b.pay1st, nil)}, cfg)
	require.NoError(t, err)
	b.client = client
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	})
	return b
}

// answer answers a fulfilment call as b.front says; false leaves it to
// the simulator.
func (b reportBundle) answer(w http.ResponseWriter, r *http.Request) bool {
	switch b.front.Load().(frontMode) {
	case frontPadded:
		rec := httptest.NewRecorder()
		b.sim.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		_, _ = w.Write(bytes.Repeat([]byte(" "), pay1st.DefaultMaxResponseBytes+1))
	case front429:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"errorMessage":"slow down","errorCode":"RATE_LIMITED"}`))
	case frontDrop:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	case front404Token:
		token := strings.TrimPrefix(r.Header.Get(pay1st.HeaderAccessToken), "Bearer ")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = fmt.Fprintf(w, `{"errorMessage":"no payment for token %s","errorCode":"NOT_FOUND"}`, token)
		b.sentToken.Store(token)
	default:
		return false
	}
	return true
}

func (b reportBundle) setCredentials(t *testing.T, signingKey string) {
	t.Helper()
	k, s := reportAPIKey, reportAPISecret
	_, err := b.tenants.SetCredentials(context.Background(), b.acme, tenant.Staging,
		tenant.Credentials{APIKey: &k, APISecret: &s, SigningKey: &signingKey})
	require.NoError(t, err)
}

// gatewayPayment creates a payment at the simulator (2 × GEMS-100 at 5
// NGN) with its order, has the simulator mark it paid, records its
// SUCCESSFUL event and the fulfilment's success, as the fulfil job does:
// that queues the report. It returns the payment.
func (b reportBundle) gatewayPayment(t *testing.T, partnerRef string) payment.Payment {
	t.Helper()
	ctx := context.Background()
	creds := pay1st.Credentials{APIKey: reportAPIKey, APISecret: reportAPISecret, SigningKey: reportSigningKey}
	five := decimal.RequireFromString("5")
	cp, err := b.pay1st.CreatePayment(ctx, creds, pay1st.CreatePaymentRequest{CountryCode: "NG", CurrencyCode: "NGN",
		Amount: decimal.RequireFromString("10"), PartnerReference: partnerRef,
		Products: []pay1st.Product{{Title: "100 Gems", SKU: "GEMS-100", Price: five, Quantity: 2, CurrencyCode: "NGN"}}})
	require.NoError(t, err)
	require.NoError(t, b.sim.Pay(ctx, cp.Reference, sim.Lose())) // paid at Pay1st; the test delivers the event

	// The order as create-order stores it.
	var orderID int64
	require.NoError(t, b.pool.QueryRow(ctx, `INSERT INTO orders (tenant_id, environment, partner_reference, gateway,
		reference, status, country_code, currency_code, amount, customer_id, request_hash)
		VALUES ($1, 'staging', $2::text, $4, $3, 'created', 'NG', 'NGN', 10, 77, sha256(convert_to($2::text, 'UTF8')))
		RETURNING id`, b.acme.ID, partnerRef, cp.Reference, cmp.Or(b.orderGateway, pay1st.GatewayPay1st)).Scan(&orderID))
	_, err = b.pool.Exec(ctx, `INSERT INTO order_items (order_id, tenant_id, environment, sku, title, quantity, price,
		digital_currency_code, digital_currency_name, digital_amount)
		VALUES ($1, $2, 'staging', 'GEMS-100', '100 Gems', 2, 5, 'GEM', 'Gems', 100)`, orderID, b.acme.ID)
	require.NoError(t, err)

	env, err := b.tenants.Env(ctx, "acme", tenant.Staging)
	require.NoError(t, err)
	now := time.Now().UTC().Truncate(time.Millisecond)
	res, err := b.payments.IngestEvent(ctx, env, payment.Delivery{SessionID: "s", PartnerCode: "acme", Env: "staging",
		RemoteAddr: "t", Headers: map[string]string{}, Body: []byte("{}")}, pay1st.PaymentEvent{
		PartnerID: 1, PartnerCode: "acme", PartnerReference: partnerRef, Reference: cp.Reference,
		OrderAmount: decimal.RequireFromString("10"), CurrencyCode: "NGN", CountryCode: "NG", Source: "web",
		Platform: "WEB", IPAddress: "198.51.100.1", CreatedDate: now, UpdatedDate: now,
		Status: pay1st.StatusSuccessful, Message: "ok", CustomerID: 77, PaymentMethod: "CARD",
		TaxPercentage: decimal.Zero, PartnerWebhookURL: "https://x.example/"})
	require.NoError(t, err)
	require.False(t, res.Held, "the event matches the order")
	p, err := b.payments.Get(ctx, res.PaymentID)
	require.NoError(t, err)
	// The payment's own fulfil job (no plugin: it fails and retries) runs
	// meanwhile on the same record, so Postgres may abort this stand-in as
	// a deadlock's victim: it tries again, as a job would.
	for try := 1; ; try++ {
		f, err := b.payments.BeginAttempt(ctx, p, payment.KindFulfil,
			payment.IdempotencyKey("acme", "staging", p.Reference, payment.KindFulfil), 0)
		if err == nil {
			var ok bool
			ok, err = b.payments.Succeed(ctx, f.ID, "game-tx")
			if err == nil {
				require.True(t, ok)
				return p
			}
		}
		var pgErr *pgconn.PgError
		require.True(t, errors.As(err, &pgErr) && pgErr.Code == "40P01" && try < 5, "%v", err)
	}
}

// shopPayment ingests a successful payment partnerhub did not create as an
// order (a Shop payment): its fulfilment queues no report.
func (b reportBundle) shopPayment(t *testing.T, session, partnerRef, reference string) payment.Ingested {
	t.Helper()
	ctx := context.Background()
	env, err := b.tenants.Env(ctx, "acme", tenant.Staging)
	require.NoError(t, err)
	now := time.Now().UTC()
	res, err := b.payments.IngestEvent(ctx, env, payment.Delivery{SessionID: session, PartnerCode: "acme", Env: "staging",
		RemoteAddr: "t", Headers: map[string]string{}, Body: []byte("{}")}, pay1st.PaymentEvent{
		PartnerID: 1, PartnerCode: "acme", PartnerReference: partnerRef, Reference: reference,
		OrderAmount: decimal.RequireFromString("3"), CurrencyCode: "NGN", CountryCode: "NG", Source: "web",
		Platform: "WEB", IPAddress: "198.51.100.1", CreatedDate: now, UpdatedDate: now,
		Status: pay1st.StatusSuccessful, Message: "ok", CustomerID: 77, PaymentMethod: "CARD",
		TaxPercentage: decimal.Zero, PartnerWebhookURL: "https://x.example/"})
	require.NoError(t, err)
	return res
}

func (b reportBundle) report(t *testing.T, paymentID int64) payment.Report {
	t.Helper()
	r, err := b.payments.Report(context.Background(), paymentID)
	require.NoError(t, err)
	return r
}

func (b reportBundle) waitReport(t *testing.T, paymentID int64, what string, cond func(payment.Report) bool) payment.Report {
	t.Helper()
	var r payment.Report
	require.Eventually(t, func() bool {
		r = b.report(t, paymentID)
		return cond(r)
	}, 60*time.Second, 20*time.Millisecond, "report never %s; last %+v", what, r)
	return r
}

// reportJob is the newest report job of a payment: id, state, errors.
func (b reportBundle) reportJob(t *testing.T, paymentID int64) (int64, string, int) {
	t.Helper()
	var id int64
	var state string
	var errs int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT id, state::text, coalesce(array_length(errors, 1), 0)
		FROM river_job WHERE kind = 'report_fulfilment' AND (args->>'payment_id')::bigint = $1 ORDER BY id DESC LIMIT 1`,
		paymentID).Scan(&id, &state, &errs))
	return id, state, errs
}

// noRejections: every request that reached the simulator was accepted — a
// bad signature or token would show as a 401 there.
func (b reportBundle) noRejections(t *testing.T) {
	t.Helper()
	for _, r := range b.sim.Requests() {
		require.Less(t, r.Status, 400, "%s %s answered %d %s", r.Method, r.Path, r.Status, r.ErrorCode)
	}
}

// TestReportRetriedUntilAccepted: while Pay1st answers 500 the report is
// retried with backoff and each failure is on the record; once Pay1st is
// back it is reported once, with the order's SKU, quantity and the time of
// the fulfilment, and running its job again reports nothing more.
func TestReportRetriedUntilAccepted(t *testing.T) {
	t.Parallel()
	b := setupReport(t, nil)
	ctx := context.Background()
	b.down.Store(true)
	p := b.gatewayPayment(t, "order-down-1")

	r := b.waitReport(t, p.ID, "retried", func(r payment.Report) bool { return r.Attempts >= 2 })
	require.Equal(t, payment.StatePending, r.State, "a 500 is retried, not failed")
	require.Contains(t, r.LastError, "HTTP 500")
	require.NotContains(t, r.LastError, reportAPISecret)
	require.NotContains(t, r.LastError, reportSigningKey)
	_, state, errs := b.reportJob(t, p.ID)
	require.Contains(t, []string{"retryable", "available", "running"}, state)
	require.GreaterOrEqual(t, errs, 1, "River keeps each failure")
	require.Empty(t, b.sim.Fulfilments(p.Reference))

	b.down.Store(false)
	r = b.waitReport(t, p.ID, "succeeded", func(r payment.Report) bool { return r.State == payment.StateSucceeded })
	require.Empty(t, r.LastError)
	require.NotNil(t, r.ReportedAt)
	require.Equal(t, []payment.ReportedProduct{{SKU: "GEMS-100", Quantity: 2}}, r.Products)
	fulfilment, err := b.payments.Fulfilment(ctx, p.ID, payment.KindFulfil)
	require.NoError(t, err)

	reports := b.sim.Fulfilments(p.Reference)
	require.Len(t, reports, 1)
	require.Len(t, reports[0].Products, 1)
	line := reports[0].Products[0]
	require.Equal(t, "GEMS-100", line.SKU)
	require.Equal(t, pay1st.FulfilmentStatusFulfilled, line.FulfilmentStatus)
	require.EqualValues(t, 2, line.Quantity)
	require.WithinDuration(t, *fulfilment.SucceededAt, line.FulfilmentTime, time.Microsecond)
	b.noRejections(t)

	// Running the completed job again does nothing: the record decides.
	var id int64
	require.Eventually(t, func() bool {
		var state string
		id, state, _ = b.reportJob(t, p.ID)
		return state == "completed"
	}, 30*time.Second, 20*time.Millisecond)
	jobAttempt := func() (string, int) {
		var attempt int
		var st string
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT state::text, attempt FROM river_job WHERE id = $1`, id).Scan(&st, &attempt))
		return st, attempt
	}
	_, before := jobAttempt()
	_, err = b.client.JobRetry(ctx, id)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, attempt := jobAttempt()
		return st == "completed" && attempt > before
	}, 60*time.Second, 20*time.Millisecond)
	require.Len(t, b.sim.Fulfilments(p.Reference), 1, "reported once")
	require.Equal(t, r.Attempts, b.report(t, p.ID).Attempts, "not counted again")

	// A payment partnerhub did not create as an order (a Shop payment)
	// queues no report.
	res := b.shopPayment(t, "s2", "shop-1", "C-SHOP-1-P")
	shop, err := b.payments.Get(ctx, res.PaymentID)
	require.NoError(t, err)
	f, err := b.payments.BeginAttempt(ctx, shop, payment.KindFulfil, payment.IdempotencyKey("acme", "staging", shop.Reference, payment.KindFulfil), 0)
	require.NoError(t, err)
	_, err = b.payments.Succeed(ctx, f.ID, "game-tx")
	require.NoError(t, err)
	_, err = b.payments.Report(ctx, shop.ID)
	require.ErrorIs(t, err, payment.ErrNotFound)
}

// TestReportRefusedWaitsLonger: a refusal (bad signature: the tenant's
// Signing Key is wrong) is on the record and retried later, not in
// seconds; once the key is fixed the next try is accepted.
func TestReportRefusedWaitsLonger(t *testing.T) {
	t.Parallel()
	b := setupReport(t, nil)
	ctx := context.Background()
	b.setCredentials(t, "a-wrong-signing-key-0123")
	p := b.gatewayPayment(t, "order-refused-1")

	r := b.waitReport(t, p.ID, "refused", func(r payment.Report) bool { return r.LastError != "" })
	require.Equal(t, payment.StatePending, r.State)
	require.Equal(t, 1, r.Attempts)
	require.Contains(t, r.LastError, "HTTP 401")
	require.NotContains(t, r.LastError, "a-wrong-signing-key-0123")
	var wait time.Duration
	require.Eventually(t, func() bool {
		var st string
		var at time.Time
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT state::text, scheduled_at FROM river_job WHERE kind = 'report_fulfilment'`).Scan(&st, &at))
		wait = time.Until(at)
		return st == "scheduled"
	}, 30*time.Second, 20*time.Millisecond)
	require.Greater(t, wait, 30*time.Second, "a refusal waits about a minute")

	// Fixed; bring the next try forward rather than wait for it.
	b.setCredentials(t, reportSigningKey)
	_, err := b.pool.Exec(ctx, `UPDATE river_job SET scheduled_at = now() WHERE kind = 'report_fulfilment'`)
	require.NoError(t, err)
	r = b.waitReport(t, p.ID, "succeeded", func(r payment.Report) bool { return r.State == payment.StateSucceeded })
	require.Equal(t, 2, r.Attempts)
	require.Len(t, b.sim.Fulfilments(p.Reference), 1)
}

// TestReportFailsAtHorizonThenRetriedByHand: past the horizon a refused
// report is failed and its job cancelled; a retry by hand queues it again.
func TestReportFailsAtHorizonThenRetriedByHand(t *testing.T) {
	t.Parallel()
	b := setupReport(t, func(c *jobs.Config) { c.ReportHorizon = 30 * time.Second })
	ctx := context.Background()
	b.setCredentials(t, "a-wrong-signing-key-0123")
	p := b.gatewayPayment(t, "order-horizon-1")

	r := b.waitReport(t, p.ID, "failed", func(r payment.Report) bool { return r.State == payment.StateFailed })
	require.Contains(t, r.LastError, "HTTP 401")
	require.Eventually(t, func() bool {
		_, state, _ := b.reportJob(t, p.ID)
		return state == "cancelled"
	}, 30*time.Second, 20*time.Millisecond)

	b.setCredentials(t, reportSigningKey)
	_, err := b.payments.RetryReport(ctx, b.acme.ID, tenant.Staging, p.Reference, func(context.Context, pgx.Tx, payment.Report) error { return nil })
	require.NoError(t, err)
	r = b.waitReport(t, p.ID, "succeeded", func(r payment.Report) bool { return r.State == payment.StateSucceeded })
	require.Equal(t, 2, r.Attempts)
	require.Len(t, b.sim.Fulfilments(p.Reference), 1)
	var jobs int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'report_fulfilment'`).Scan(&jobs))
	require.Equal(t, 2, jobs)
}
