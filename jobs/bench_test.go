package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/jobs"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// signalPlugin reports the time of each Fulfil call.
type signalPlugin struct {
	sdk.Unimplemented
	called chan time.Time
}

func (p signalPlugin) Fulfil(_ context.Context, req sdk.FulfilRequest) (sdk.Result, error) {
	p.called <- time.Now()
	return sdk.Fulfilled("ok-" + req.Payment.Reference), nil
}

// BenchmarkFairness measures beta's latency — payment event recorded to
// its plugin's Fulfil called — alone, then while acme has 20,000
// fulfilments queued and draining through a 10 ms game backend at its
// cap. b.N samples per phase; reports p50 and p99 of both and the ratio.
//
//	go test -run '^$' -bench BenchmarkFairness -benchtime 200x ./jobs/
func BenchmarkFairness(b *testing.B) {
	acme := &fakePlugin{delay: 10 * time.Millisecond}
	beta := signalPlugin{called: make(chan time.Time, 1)}
	bb := setupWith(b, options{
		maxConns: 20,
		tune: func(c *jobs.Config) {
			// serve's defaults: 50 workers, cap 10, burst 16
			c.Workers, c.TenantConcurrency, c.TenantBurst = benchWorkers(), benchCap(), benchInt("PARTNERHUB_BENCH_TENANT_BURST", 16)
			c.FetchCooldown, c.FetchPollInterval = 10*time.Millisecond, time.Second // the defaults
		},
		host: func(jobs.PluginHost) jobs.PluginHost { return fakeHost{"acme": acme, "beta": beta} },
	})
	bb.start()
	sample := func(phase string) []time.Duration {
		out := make([]time.Duration, 0, b.N)
		for i := range b.N {
			bb.pay(b, "beta", fmt.Sprintf("C-%s-%d-P", phase, i), 1)
			sent := time.Now()
			select {
			case at := <-beta.called:
				out = append(out, at.Sub(sent))
			case <-time.After(time.Minute):
				b.Fatalf("%s: beta's fulfilment %d was not called within a minute", phase, i)
			}
		}
		slices.Sort(out)
		return out
	}
	b.ResetTimer()
	alone := sample("alone")
	b.StopTimer()
	const flood = 20000
	bb.flood(b, "acme", "C-FLOOD-", flood)
	require.Eventually(b, func() bool { return acme.calls.Load() >= 50 }, time.Minute, 5*time.Millisecond)
	b.StartTimer()
	flooded := sample("flood")
	b.StopTimer()
	left := bb.unfinished(b, "acme")
	require.Greater(b, left, 0, "acme's flood was still queued throughout")

	pct := func(d []time.Duration, p float64) float64 {
		return float64(d[min(len(d)-1, int(float64(len(d))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(alone, 0.5), "alone-p50-ms")
	b.ReportMetric(pct(alone, 0.99), "alone-p99-ms")
	b.ReportMetric(pct(flooded, 0.5), "flood-p50-ms")
	b.ReportMetric(pct(flooded, 0.99), "flood-p99-ms")
	b.ReportMetric(pct(flooded, 0.5)/pct(alone, 0.5), "p50-ratio")
	b.ReportMetric(pct(flooded, 0.99)/pct(alone, 0.99), "p99-ratio")
	b.ReportMetric(float64(left), "acme-left")
}

// noopArgs is River's own floor: a job that does nothing.
type noopArgs struct {
	N int `json:"n"`
}

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct{ river.WorkerDefaults[noopArgs] }

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

// BenchmarkThroughput works b.N no-op River jobs, then b.N fulfilments
// through the real scripted plugin process, then b.N through an in-process
// plugin (the engine without the process), and reports the three rates and
// the ratio of the first two (goal: fulfilments at 60% or more of the no-op
// rate). The comparison is like for like: one database and pool, the same
// worker count, fetch cooldown and poll interval on both clients, and
// completions counted the same way on both sides, from River's events in
// process (polling river_job for them would load the database under test).
// The fulfil client is partnerhub's own (jobs.NewClient): its overflow
// queue, middleware and periodic jobs are part of what it costs. One
// tenant, so its cap is the worker count.
//
// PARTNERHUB_BENCH_PHASE_FILE, when set, names a file the benchmark writes
// its phase to ("noop-N", "real-N", "inproc-N", "none"), so that a sampler
// outside the process can attribute CPU time (Postgres, this process, the
// plugin) to each phase (docs/benchmarks.md).
//
//	go test -run '^$' -bench Throughput -benchtime 5000x -count 3 ./jobs/
func BenchmarkThroughput(b *testing.B) {
	workers := benchWorkers()
	ctx := context.Background()
	// beta's plugin is in-process: its rate is the engine's without a
	// plugin process.
	bb := setupWith(b, options{maxConns: 20, tune: func(c *jobs.Config) {
		c.Workers, c.TenantConcurrency = workers, workers
		c.FetchCooldown, c.FetchPollInterval = 10*time.Millisecond, time.Second
	}, host: func(real jobs.PluginHost) jobs.PluginHost { return splitHost{real: real, beta: &fakePlugin{}} }})
	// Start the plugin process first: its start-up is not throughput.
	warm := bb.pay(b, "acme", "C-WARM-P", 1)
	bb.start()
	bb.waitFor(b, warm, "completed")
	require.NoError(b, bb.client.Stop(ctx))

	ws := river.NewWorkers()
	river.AddWorker(ws, noopWorker{})
	noop, err := river.NewClient(riverpgxv5.New(bb.pool), &river.Config{
		Queues:        map[string]river.QueueConfig{"bench_noop": {MaxWorkers: workers}},
		Workers:       ws,
		FetchCooldown: 10 * time.Millisecond, FetchPollInterval: time.Second,
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(b, err)
	params := make([]river.InsertManyParams, b.N)
	for i := range params {
		params[i] = river.InsertManyParams{Args: noopArgs{N: i}, InsertOpts: &river.InsertOpts{Queue: "bench_noop"}}
	}
	for rest := params; len(rest) > 0; {
		k := min(len(rest), 2000)
		_, err := noop.InsertMany(ctx, rest[:k])
		require.NoError(b, err)
		rest = rest[k:]
	}
	// Completions are counted from River's own events, in process, on both
	// sides: polling river_job for them would load the same database the
	// jobs run on, more so as the table grows.
	noopDone, cancelNoop := noop.SubscribeConfig(&river.SubscribeConfig{ChanSize: b.N + 100, Kinds: []river.EventKind{river.EventKindJobCompleted}})
	b.Cleanup(cancelNoop)
	b.ResetTimer()
	phaseMark(fmt.Sprintf("noop-%d", b.N))
	start := time.Now()
	require.NoError(b, noop.Start(ctx))
	awaitCompleted(b, noopDone, noopArgs{}.Kind(), b.N)
	noopRate := float64(b.N) / time.Since(start).Seconds()
	phaseMark("none")
	b.StopTimer()
	require.NoError(b, noop.Stop(ctx))

	// A client's subscriptions end when it stops.
	subscribe := func() <-chan *river.Event {
		events, cancel := bb.client.SubscribeConfig(&river.SubscribeConfig{ChanSize: b.N + 100, Kinds: []river.EventKind{river.EventKindJobCompleted}})
		b.Cleanup(cancel)
		return events
	}
	fulfilDone := subscribe()
	bb.flood(b, "acme", "C-TP-", b.N)
	b.StartTimer()
	phaseMark(fmt.Sprintf("real-%d", b.N))
	start = time.Now()
	require.NoError(b, bb.client.Start(ctx))
	awaitCompleted(b, fulfilDone, jobs.FulfilArgs{}.Kind(), b.N)
	fulfilRate := float64(b.N) / time.Since(start).Seconds()
	phaseMark("none")
	b.StopTimer()
	require.NoError(b, bb.client.Stop(ctx))

	bb.flood(b, "beta", "C-TPB-", b.N)
	fulfilDone = subscribe()
	phaseMark(fmt.Sprintf("inproc-%d", b.N))
	start = time.Now()
	require.NoError(b, bb.client.Start(ctx))
	awaitCompleted(b, fulfilDone, jobs.FulfilArgs{}.Kind(), b.N)
	inProcessRate := float64(b.N) / time.Since(start).Seconds()
	phaseMark("none")

	var succeeded int
	require.NoError(b, bb.pool.QueryRow(ctx, `SELECT count(*) FROM fulfilments WHERE state = 'succeeded'`).Scan(&succeeded))
	require.Equal(b, 2*b.N+1, succeeded, "every fulfilment succeeded once")
	b.ReportMetric(inProcessRate, "in-process-fulfils/s")
	b.ReportMetric(noopRate, "noop-jobs/s")
	b.ReportMetric(fulfilRate, "fulfils/s")
	b.ReportMetric(fulfilRate/noopRate, "ratio")
}

// benchWorkers is PARTNERHUB_BENCH_WORKERS, or 50 (the default of
// PARTNERHUB_JOB_WORKERS).
func benchWorkers() int { return benchInt("PARTNERHUB_BENCH_WORKERS", 50) }

// benchInt is the environment variable name as a positive number, or def.
func benchInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// splitHost runs beta's plugin in process and everyone else's for real.
type splitHost struct {
	real jobs.PluginHost
	beta sdk.Plugin
}

func (h splitHost) Get(ctx context.Context, key host.Key) (sdk.Plugin, error) {
	if key.PartnerCode == "beta" {
		return h.beta, nil
	}
	return h.real.Get(ctx, key)
}

// phaseMark writes the benchmark's phase to PARTNERHUB_BENCH_PHASE_FILE.
func phaseMark(p string) {
	if f := os.Getenv("PARTNERHUB_BENCH_PHASE_FILE"); f != "" {
		_ = os.WriteFile(f, []byte(p), 0o644)
	}
}

// awaitCompleted reads River events until n jobs of kind completed.
func awaitCompleted(b *testing.B, events <-chan *river.Event, kind string, n int) {
	b.Helper()
	deadline := time.After(10 * time.Minute)
	for seen := 0; seen < n; {
		select {
		case ev, ok := <-events:
			require.True(b, ok, "event subscription closed")
			if ev.Kind == river.EventKindJobCompleted && ev.Job.Kind == kind {
				seen++
			}
		case <-deadline:
			b.Fatalf("%d of %d %s jobs completed within 10 minutes", seen, n, kind)
		}
	}
}

// benchCap is PARTNERHUB_BENCH_TENANT_CONCURRENCY, or the default tenant
// cap.
func benchCap() int {
	return benchInt("PARTNERHUB_BENCH_TENANT_CONCURRENCY", jobs.DefaultTenantConcurrency)
}
