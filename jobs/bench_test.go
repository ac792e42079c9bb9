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
			c.Workers, c.TenantConcurrency = 50, jobs.DefaultTenantConcurrency
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
// through the real scripted plugin process, on the same database with the
// same worker count, and reports both rates and their ratio (goal: the
// fulfilments at 60% or more of the no-op rate). One tenant, so its cap is
// the worker count.
//
//	go test -run '^$' -bench BenchmarkThroughput -benchtime 10000x ./jobs/
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
	done := func(kind string) func() bool {
		return func() bool {
			var n int
			require.NoError(b, bb.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = $1 AND state = 'completed'`, kind).Scan(&n))
			return n >= b.N
		}
	}
	b.ResetTimer()
	start := time.Now()
	require.NoError(b, noop.Start(ctx))
	require.Eventually(b, done("bench_noop"), 10*time.Minute, 10*time.Millisecond)
	noopRate := float64(b.N) / time.Since(start).Seconds()
	b.StopTimer()
	require.NoError(b, noop.Stop(ctx))

	bb.flood(b, "acme", "C-TP-", b.N)
	var before int
	require.NoError(b, bb.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'fulfil' AND state = 'completed'`).Scan(&before))
	completed := func() int {
		var n int
		require.NoError(b, bb.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'fulfil' AND state = 'completed'`).Scan(&n))
		return n
	}
	b.StartTimer()
	start = time.Now()
	require.NoError(b, bb.client.Start(ctx))
	require.Eventually(b, func() bool { return completed()-before >= b.N }, 10*time.Minute, 10*time.Millisecond)
	fulfilRate := float64(b.N) / time.Since(start).Seconds()
	b.StopTimer()
	require.NoError(b, bb.client.Stop(ctx))

	bb.flood(b, "beta", "C-TPB-", b.N)
	before = completed()
	start = time.Now()
	require.NoError(b, bb.client.Start(ctx))
	require.Eventually(b, func() bool { return completed()-before >= b.N }, 10*time.Minute, 10*time.Millisecond)
	inProcessRate := float64(b.N) / time.Since(start).Seconds()

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
func benchWorkers() int {
	if n, err := strconv.Atoi(os.Getenv("PARTNERHUB_BENCH_WORKERS")); err == nil && n > 0 {
		return n
	}
	return 50
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
