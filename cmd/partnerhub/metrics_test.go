package main

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/payment"
)

// TestMetrics: a real server with /metrics on its own listener takes a
// good and a forged webhook and fulfils the good one; the scrape counts
// both with their labels, the fulfilment, the plugin and the queue, and
// holds no secret and no payment reference.
func TestMetrics(t *testing.T) {
	t.Parallel()
	metricsAddr := freeAddr(t)
	s := startServer(t, "PARTNERHUB_METRICS_LISTEN="+metricsAddr)
	key := s.createTenant(t, "metered", 2042)
	s.activateWallet(t, "metered")

	status, out := s.sendEvent(t, "metered", 2042, key, "C-MET-1-P")
	require.Equal(t, http.StatusOK, status, out)
	forgedKey := "forged-" + key[:8]
	status, out = s.send(t, "metered", forgedKey, sampleEvent("metered", 2042, "C-MET-2-P", 77))
	require.Equal(t, http.StatusUnauthorized, status, out)
	require.Eventually(t, func() bool { return s.fulfilmentState(t, "C-MET-1-P") == payment.StateSucceeded },
		20*time.Second, 50*time.Millisecond, "fulfilment did not succeed")

	// The job's run is counted once River's worker returns, just after the
	// record says succeeded.
	attempts := `partnerhub_fulfilment_attempts_total{env="staging",kind="fulfil",outcome="succeeded",tenant="metered"}`
	var raw string
	var series map[string]float64
	require.Eventually(t, func() bool {
		raw, series = scrape(t, "http://"+metricsAddr+"/metrics")
		return series[attempts] == 1
	}, 10*time.Second, 50*time.Millisecond, "fulfilment attempt not counted")

	for name, want := range map[string]float64{
		`partnerhub_webhooks_received_total{env="staging",kind="payment_event",outcome="accepted",tenant="metered"}`:     1,
		`partnerhub_webhooks_received_total{env="staging",kind="payment_event",outcome="rejected",tenant="metered"}`:     1,
		`partnerhub_webhooks_rejected_total{env="staging",kind="payment_event",reason="bad_signature",tenant="metered"}`: 1,
		`partnerhub_webhooks_ack_duration_seconds_count{env="staging",kind="payment_event",outcome="accepted"}`:          1,
		`partnerhub_webhooks_ack_duration_seconds_count{env="staging",kind="payment_event",outcome="rejected"}`:          1,
		attempts: 1,
		`partnerhub_fulfilment_duration_seconds_count{kind="fulfil",tenant="metered"}`:         1,
		`partnerhub_fulfilment_attempt_duration_seconds_count{kind="fulfil",tenant="metered"}`: 1,
		`partnerhub_jobs_runs_total{kind="fulfil",outcome="succeeded"}`:                        1,
		`partnerhub_plugin_starts_total{env="staging",result="ok",tenant="metered"}`:           1,
		`partnerhub_plugin_calls_total{method="fulfil",outcome="ok",tenant="metered"}`:         1,
		`partnerhub_plugin_call_duration_seconds_count{method="fulfil",tenant="metered"}`:      1,
		`partnerhub_queue_depth{kind="fulfil",state="available"}`:                              0,
		`partnerhub_queue_depth{kind="report_fulfilment",state="available"}`:                   0,
	} {
		got, ok := series[name]
		require.True(t, ok, "series %s missing from the scrape:\n%s", name, raw)
		require.Equal(t, want, got, name)
	}
	require.GreaterOrEqual(t, series["partnerhub_plugin_processes"], 1.0, "the wallet runs")
	_, ok := series[`partnerhub_queue_age_seconds{kind="fulfil",state="running"}`]
	require.True(t, ok, "queue age by kind and state")
	require.NotContains(t, raw, `outcome="rejected",tenant="unknown"`, "the forged event's tenant is known")

	for _, secret := range []string{key, forgedKey, s.operatorKey, "C-MET-1-P", "C-MET-2-P"} {
		require.NotContains(t, raw, secret, "no secret or reference in the scrape")
	}

	// Never on the public listener.
	resp, err := http.Get(s.url + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestMetricsShutdownCollectorDown: with the OTLP collector unreachable,
// the last push at shutdown fails within PARTNERHUB_SHUTDOWN_TIMEOUT, the
// failure is logged, and serve still exits cleanly.
func TestMetricsShutdownCollectorDown(t *testing.T) {
	t.Parallel()
	s := startServer(t, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://"+freeAddr(t)+"/v1/metrics",
		"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=http/protobuf", "PARTNERHUB_SHUTDOWN_TIMEOUT=2s")
	s.stop(t)
	require.Contains(t, s.logs.String(), "metrics shutdown", "the lost push is logged")
}

// scrape fetches a Prometheus text exposition and returns it with its
// samples by series (name{labels} as written, labels sorted by the
// exporter).
func scrape(t *testing.T, url string) (string, map[string]float64) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	series := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, "sample line %q", line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		series[line[:i]] = v
	}
	require.NoError(t, sc.Err())
	return string(body), series
}
