package main

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
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
// does not slow the rate). At 100 events/s it also runs with River's
// default fetch cooldown (100ms) beside ours, for comparison.
//
//	go test -run '^$' -bench WebhookToPlugin -benchtime 2000x ./cmd/partnerhub
func BenchmarkWebhookToPlugin(b *testing.B) {
	for _, c := range []struct {
		rate     int
		cooldown string
	}{{100, "10ms"}, {100, "100ms"}, {500, "10ms"}} {
		b.Run(fmt.Sprintf("rate=%d/fetch-cooldown=%s", c.rate, c.cooldown), func(b *testing.B) {
			benchmarkWebhookToPlugin(b, c.rate, "PARTNERHUB_JOB_FETCH_COOLDOWN="+c.cooldown,
				"PARTNERHUB_LOG_LEVEL=warn", "PARTNERHUB_RATE_LIMIT_PER_TENANT=0")
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
	var mu sync.Mutex
	acked := make(map[string]time.Time, b.N)
	ackLatency := make([]float64, 0, b.N)
	var failed []string
	var wg sync.WaitGroup
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

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}
