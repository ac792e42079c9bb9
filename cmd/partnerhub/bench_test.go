package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// BenchmarkWebhookToPlugin measures, through the real server and the real
// wallet plugin process, the time from the webhook's acknowledgement (the
// client has its 200) to the plugin's Fulfil call (the wallet's own
// timestamp of the credit), for events sent at a steady rate (100 and 500
// per second, each sent on its own goroutine at its tick so a slow answer
// does not slow the rate), after a second at the rate that is not
// measured (start-up is not steady state). At 100 events/s it also runs with River's
// default fetch cooldown (100ms) beside ours, for comparison.
//
//	go test -run '^$' -bench WebhookToPlugin -benchtime 2000x ./cmd/partnerhub
func BenchmarkWebhookToPlugin(b *testing.B) {
	for _, c := range []struct {
		rate     int
		cooldown string
	}{{100, "10ms"}, {100, "100ms"}, {500, "10ms"}} {
		b.Run(fmt.Sprintf("rate=%d/fetch-cooldown=%s", c.rate, c.cooldown), func(b *testing.B) {
			env := append([]string{"PARTNERHUB_JOB_FETCH_COOLDOWN=" + c.cooldown,
				"PARTNERHUB_LOG_LEVEL=warn", "PARTNERHUB_RATE_LIMIT_PER_TENANT=0"}, benchServerEnv()...)
			benchmarkWebhookToPlugin(b, c.rate, env...)
		})
	}
}

func benchmarkWebhookToPlugin(b *testing.B, rate int, env ...string) {
	s := startServer(b, env...)
	key := s.createTenant(b, "bench", 9001)
	s.activateWallet(b, "bench")

	// Warm up: the first event starts the plugin process.
	status, _ := s.sendEvent(b, "bench", 9001, key, "C-WARM-P")
	require.Equal(b, http.StatusOK, status)
	require.Eventually(b, func() bool { return s.fulfilmentState(b, "C-WARM-P") == payment.StateSucceeded },
		30*time.Second, 20*time.Millisecond)

	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()

	// Then a second at the rate, not measured: the server's database pool
	// and River's producers grow to the load, as a running node's have.
	var warm sync.WaitGroup
	for i := range rate {
		<-tick.C
		warm.Go(func() { s.sendEvent(b, "bench", 9001, key, "C-WARM-"+strconv.Itoa(i)+"-P") })
	}
	warm.Wait()
	last := "C-WARM-" + strconv.Itoa(rate-1) + "-P"
	require.Eventually(b, func() bool { return s.fulfilmentState(b, last) == payment.StateSucceeded },
		30*time.Second, 20*time.Millisecond)
	var mu sync.Mutex
	acked := make(map[string]time.Time, b.N)
	ackLatency := make([]float64, 0, b.N)
	var failed []string
	var wg sync.WaitGroup
	stopTrace := traceJobs(b, s)
	defer stopTrace()
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		wg.Go(func() {
			ref := "C-BENCH-" + strconv.Itoa(i) + "-P"
			start := time.Now()
			status, out := s.sendEvent(b, "bench", 9001, key, ref)
			done := time.Now()
			mu.Lock()
			defer mu.Unlock()
			if status != http.StatusOK {
				failed = append(failed, fmt.Sprintf("%s: %d %s", ref, status, out))
				return
			}
			acked[ref] = done
			ackLatency = append(ackLatency, float64(done.Sub(start).Microseconds())/1000)
		})
	}
	wg.Wait()
	b.StopTimer()
	require.Empty(b, failed)

	var toPlugin []float64
	require.Eventually(b, func() bool {
		w := s.wallet(b, "bench")
		toPlugin = toPlugin[:0]
		for ref, at := range acked {
			a, ok := w.Applied[payment.IdempotencyKey("bench", tenant.Staging, ref, payment.KindFulfil)]
			if !ok {
				return false
			}
			toPlugin = append(toPlugin, float64(a.At.Sub(at).Microseconds())/1000)
		}
		return true
	}, 60*time.Second, 100*time.Millisecond, "not every event was fulfilled")

	b.ReportMetric(percentile(ackLatency, 50), "ack-p50-ms")
	b.ReportMetric(percentile(ackLatency, 99), "ack-p99-ms")
	b.ReportMetric(percentile(toPlugin, 50), "ack-to-plugin-p50-ms")
	b.ReportMetric(percentile(toPlugin, 99), "ack-to-plugin-p99-ms")
}

// benchServerEnv is PARTNERHUB_BENCH_SERVER_ENV, NAME=value pairs
// separated by spaces, more for the server (e.g.
// "PARTNERHUB_JOB_TENANT_CONCURRENCY=30 PARTNERHUB_JOB_WORKERS=100"), to
// compare settings.
func benchServerEnv() []string {
	return strings.Fields(os.Getenv("PARTNERHUB_BENCH_SERVER_ENV"))
}

// traceJobs prints to stderr, every half second while the measured part
// runs and drains, where the fulfil jobs are (state, queue, snoozed, due in
// the future) when PARTNERHUB_BENCH_TRACE is set: where latency goes.
func traceJobs(b *testing.B, s *server) (stop func()) {
	if os.Getenv("PARTNERHUB_BENCH_TRACE") == "" {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			rows, err := s.pool.Query(context.Background(), `SELECT state, queue, count(*),
				count(*) FILTER (WHERE (metadata->>'snoozes') IS NOT NULL),
				count(*) FILTER (WHERE scheduled_at > now()),
				coalesce(max(attempt), 0)
				FROM river_job WHERE kind = 'fulfil' GROUP BY 1, 2 ORDER BY 1, 2`)
			if err != nil {
				b.Logf("trace: %v", err)
				continue
			}
			var line []string
			for rows.Next() {
				var state, queue string
				var n, snoozed, future, attempt int
				if err := rows.Scan(&state, &queue, &n, &snoozed, &future, &attempt); err != nil {
					b.Logf("trace: %v", err)
					break
				}
				line = append(line, fmt.Sprintf("%s/%s=%d(snoozed %d, future %d, max attempt %d)", state, queue, n, snoozed, future, attempt))
			}
			rows.Close()
			fmt.Fprintf(os.Stderr, "%s jobs: %s\n", time.Now().Format("15:04:05.000"), strings.Join(line, " "))
		}
	})
	return func() { close(done); wg.Wait() }
}

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}
