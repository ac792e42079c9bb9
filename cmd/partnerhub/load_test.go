package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// BenchmarkIngest measures how many signed payment events per second the
// real `partnerhub serve` process accepts (200 after commit) from C
// concurrent clients on loopback, for 1 and 10,000 tenants, and beside it,
// in the same run and on the same database server, the limit: C goroutines
// calling payment.Service.IngestEvent directly over pgx, one transaction
// per event (delivery, payment upsert, event, River job), no HTTP. Each
// concurrency level runs three ways:
//
//   - limit: the one-transaction-per-event pgx loop;
//   - batch=on: the server with its defaults (group commit);
//   - batch=off: the server with PARTNERHUB_INGEST_BATCH_MAX=1.
//
// The server modes report vs-limit, their events/s over the limit's.
// LOADTEST_SERVER_ENV adds settings to the batching server.
//
//	go test -run '^$' -bench Ingest -benchtime 20000x -count 3 ./cmd/partnerhub
func BenchmarkIngest(b *testing.B) {
	for _, tenants := range []int{1, 10_000} {
		b.Run("tenants="+strconv.Itoa(tenants), func(b *testing.B) {
			benchmarkIngest(b, tenants)
		})
	}
}

// loadConcurrency are the client concurrency levels.
var loadConcurrency = []int{32, 64}

// loadCounter numbers events across every run of the process, so every
// reference is new.
var loadCounter atomic.Int64

type loadTarget struct {
	s    *server
	envs []tenant.Env
	// sim is the Pay1st simulator that signs and sends the events, each
	// tenant registered with its staging Signing Key.
	sim *sim.Simulator
}

func benchmarkIngest(b *testing.B, tenants int) {
	common := []string{
		// Quiet logs: the server would otherwise write a line per event
		// into the test's memory.
		"PARTNERHUB_LOG_LEVEL=warn",
		"PARTNERHUB_DB_MAX_CONNS=" + strconv.Itoa(slicesMax(loadConcurrency)),
		// Ingest is measured, not the per-tenant rate limit.
		"PARTNERHUB_RATE_LIMIT_PER_TENANT=0",
		// Nor fulfilment: with no plugin active, workers would retry the
		// queued jobs on the same two cores while the clients send.
		"PARTNERHUB_JOB_WORKERS=1", "PARTNERHUB_JOB_FETCH_COOLDOWN=1s", "PARTNERHUB_JOB_FETCH_POLL_INTERVAL=1m",
	}
	// LOADTEST_SERVER_ENV tunes the batching server further, e.g.
	// "PARTNERHUB_INGEST_BATCH_WAIT=0s PARTNERHUB_INGEST_BATCH_MAX=32".
	on := newLoadTarget(b, tenants, append(common, strings.Fields(os.Getenv("LOADTEST_SERVER_ENV"))...)...)
	off := newLoadTarget(b, tenants, append(common, "PARTNERHUB_INGEST_BATCH_MAX=1")...)
	for _, c := range loadConcurrency {
		b.Run("c="+strconv.Itoa(c), func(b *testing.B) {
			var limit float64
			b.Run("limit", func(b *testing.B) { limit = runLimit(b, on, c) })
			b.Run("batch=on", func(b *testing.B) { runHTTP(b, on, c, limit) })
			b.Run("batch=off", func(b *testing.B) { runHTTP(b, off, c, limit) })
		})
	}
}

func slicesMax(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// newLoadTarget starts a server and creates its tenants directly through
// the tenant service (the API would take minutes for 10,000), and a Pay1st
// simulator that knows them, to send the events.
func newLoadTarget(b *testing.B, tenants int, env ...string) *loadTarget {
	b.Helper()
	s := startServer(b, env...)
	c := slicesMax(loadConcurrency)
	simulator, err := sim.New(sim.Options{
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConns: c, MaxIdleConnsPerHost: c}, Timeout: 30 * time.Second},
		MaxLog:     1000,
	})
	require.NoError(b, err)
	t := &loadTarget{s: s, envs: make([]tenant.Env, tenants), sim: simulator}
	keys := make([]string, tenants)
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < tenants; i = int(next.Add(1) - 1) {
				c, err := s.tenants.Create(ctx, tenant.CreateParams{
					PartnerCode: loadCode(i), PartnerID: loadPartnerID(i), Name: "Load " + strconv.Itoa(i),
				})
				if err == nil {
					keys[i] = c.StagingSigningKey
					t.envs[i], err = s.tenants.Env(ctx, loadCode(i), tenant.Staging)
				}
				if err != nil {
					errs <- fmt.Errorf("tenant %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	require.NoError(b, <-errs)
	for i, key := range keys {
		require.NoError(b, simulator.AddPartner(sim.Partner{
			PartnerID: loadPartnerID(i), PartnerCode: loadCode(i), SigningKey: key,
			APIKey: "load-key-" + strconv.Itoa(i), APISecret: "load-secret",
			WebhookURL: s.url + "/pay1st/staging/" + loadCode(i) + "/payment-events",
		}))
	}
	return t
}

func loadCode(i int) string        { return fmt.Sprintf("load%05d", i) }
func loadPartnerID(i int) int64    { return 100_000 + int64(i) }
func loadReference(n int64) string { return "L-" + strconv.FormatInt(n, 10) + "-P" }

// loadEvent is event n's tenant and event: references are all distinct, and
// statuses mix so that half the events queue a fulfilment job.
func (t *loadTarget) loadEvent(n int64) (int, pay1st.PaymentEvent) {
	i := int(n % int64(len(t.envs)))
	ref := loadReference(n)
	return i, pay1st.PaymentEvent{
		PartnerID: loadPartnerID(i), PartnerCode: loadCode(i), PartnerReference: "order-" + ref, Reference: ref,
		OrderAmount: loadAmount, CurrencyCode: "NGN", CountryCode: "NG", Source: "web", Platform: "WEB",
		IPAddress: "203.0.113.9", CreatedDate: loadCreated, UpdatedDate: loadUpdated,
		Status:  [...]pay1st.Status{pay1st.StatusSuccessful, pay1st.StatusPending, pay1st.StatusSuccessful, pay1st.StatusFailed}[n%4],
		Message: "Approved", CustomerID: 77, PaymentMethod: "CARD", TaxPercentage: loadTax,
	}
}

var (
	loadAmount  = decimal.RequireFromString("100.50")
	loadTax     = decimal.RequireFromString("7.5")
	loadCreated = time.Date(2026, 3, 17, 8, 10, 52, 0, time.UTC)
	loadUpdated = time.Date(2026, 3, 17, 8, 11, 52, 544247000, time.UTC)
)

// drive runs b.N operations from c goroutines and reports events/s and the
// latency percentiles; op returns an error to fail the benchmark.
func drive(b *testing.B, c int, op func(n int64) error) float64 {
	b.Helper()
	lat := make([][]float64, c)
	var done atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range c {
		wg.Go(func() {
			for done.Add(1) <= int64(b.N) && failed.Load() == nil {
				n := loadCounter.Add(1)
				began := time.Now()
				if err := op(n); err != nil {
					failed.Store(&err)
					return
				}
				lat[w] = append(lat[w], float64(time.Since(began).Microseconds())/1000)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	var all []float64
	for _, l := range lat {
		all = append(all, l...)
	}
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(percentile(all, 50), "ack-p50-ms")
	b.ReportMetric(percentile(all, 99), "ack-p99-ms")
	return rate
}

// runLimit is the one-transaction-per-event limit: the service's own
// IngestEvent over a pool as large as the concurrency.
func runLimit(b *testing.B, t *loadTarget, c int) float64 {
	b.Helper()
	ctx := context.Background()
	pc, err := pgxpool.ParseConfig(t.s.pool.Config().ConnString())
	require.NoError(b, err)
	pc.MaxConns = int32(c)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	require.NoError(b, err)
	defer pool.Close()
	enq, err := jobs.NewEnqueuer(pool, jobs.Config{FetchCooldown: 10 * time.Millisecond}, slog.New(slog.DiscardHandler))
	require.NoError(b, err)
	svc := payment.NewService(pool, enq)
	return drive(b, c, func(n int64) error {
		i, ev := t.loadEvent(n)
		ev.PartnerWebhookURL = "https://hub.example.com/pay1st/staging/" + loadCode(i) + "/payment-events"
		body, err := ev.MarshalJSON()
		if err != nil {
			return err
		}
		_, err = svc.IngestEvent(ctx, t.envs[i], payment.Delivery{
			SessionID: strconv.FormatInt(n, 16), PartnerCode: loadCode(i), Env: tenant.Staging,
			RemoteAddr: "127.0.0.1:1", Headers: map[string]string{"Content-Type": "application/json"}, Body: body,
		}, ev)
		return err
	})
}

// runHTTP has the simulator send signed events to the server from c
// clients with kept-alive connections; only a 2xx counts.
func runHTTP(b *testing.B, t *loadTarget, c int, limit float64) {
	b.Helper()
	ctx := context.Background()
	rate := drive(b, c, func(n int64) error {
		i, ev := t.loadEvent(n)
		return t.sim.SendEvent(ctx, loadCode(i), ev)
	})
	if limit > 0 {
		b.ReportMetric(rate/limit, "vs-limit")
	}
}
