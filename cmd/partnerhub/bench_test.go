package main

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// BenchmarkWebhookToPlugin measures, through the real server and the real
// wallet plugin process, the time from the webhook's acknowledgement (the
// client has its 200) to the plugin's Fulfil call (the wallet's own
// timestamp of the credit), for events sent at a steady rate. It runs with
// the default job fetch cooldown and with River's own default (100ms), side
// by side.
//
//	go test -run '^$' -bench WebhookToPlugin -benchtime 400x ./cmd/partnerhub
func BenchmarkWebhookToPlugin(b *testing.B) {
	for _, cooldown := range []string{"10ms", "100ms"} {
		b.Run("fetch-cooldown="+cooldown, func(b *testing.B) {
			benchmarkWebhookToPlugin(b, "PARTNERHUB_JOB_FETCH_COOLDOWN="+cooldown)
		})
	}
}

func benchmarkWebhookToPlugin(b *testing.B, env ...string) {
	s := startServer(b, env...)
	key := s.createTenant(b, "bench", 9001)
	s.activateWallet(b, "bench")

	// Warm up: the first event starts the plugin process.
	status, _ := s.sendEvent(b, "bench", 9001, key, "C-WARM-P")
	require.Equal(b, http.StatusOK, status)
	require.Eventually(b, func() bool { return s.fulfilmentState(b, "C-WARM-P") == payment.StateSucceeded },
		30*time.Second, 20*time.Millisecond)

	const rate = 100 // events per second
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	acked := make(map[string]time.Time, b.N)
	ackLatency := make([]float64, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		ref := "C-BENCH-" + strconv.Itoa(i) + "-P"
		start := time.Now()
		status, out := s.sendEvent(b, "bench", 9001, key, ref)
		done := time.Now()
		require.Equal(b, http.StatusOK, status, out)
		acked[ref] = done
		ackLatency = append(ackLatency, float64(done.Sub(start).Microseconds())/1000)
	}
	b.StopTimer()

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
