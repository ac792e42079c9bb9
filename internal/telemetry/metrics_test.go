package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/partnerhub/partnerhub/internal/telemetry"
)

func TestNewMetricsOffIsNoop(t *testing.T) {
	t.Parallel()
	m, err := telemetry.NewMetrics(context.Background(), telemetry.MetricsConfig{Version: "test"})
	require.NoError(t, err)
	require.IsType(t, noop.MeterProvider{}, m.Provider, "nothing configured: instruments cost nothing")
	require.Nil(t, m.Handler())
	require.NoError(t, m.Shutdown(context.Background()))
}

// TestNewMetricsPrometheus: the handler serves the provider's instruments
// under Prometheus names (dots to underscores, unit and _total suffixes),
// with the Go runtime's, and no OpenTelemetry scope labels.
func TestNewMetricsPrometheus(t *testing.T) {
	t.Parallel()
	m, err := telemetry.NewMetrics(context.Background(), telemetry.MetricsConfig{Version: "test", Prometheus: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Shutdown(context.Background())) })
	meter := m.Provider.Meter("test")
	c, err := meter.Int64Counter("partnerhub.things.done", metric.WithUnit("{thing}"))
	require.NoError(t, err)
	c.Add(context.Background(), 2)
	h, err := meter.Float64Histogram("partnerhub.thing.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(telemetry.BucketsFast...))
	require.NoError(t, err)
	h.Record(context.Background(), 0.003)

	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), "\npartnerhub_things_done_total 2\n")
	require.Contains(t, string(body), "\npartnerhub_thing_duration_seconds_bucket{le=\"0.005\"} 1\n")
	require.Contains(t, string(body), "\ngo_goroutines ")
	require.Contains(t, string(body), `service_name="partnerhub"`)
	require.NotContains(t, string(body), "otel_scope_name")
}
