package telemetry_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"

	"github.com/partnerhub/partnerhub/internal/telemetry"
)

func TestEnabled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		env             map[string]string
		traces, metrics bool
	}{
		{"off by default", nil, false, false},
		{"otlp endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true, true},
		{"traces only", map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true, false},
		{"traces endpoint only", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true, false},
		{"exporter none wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_METRICS_EXPORTER": "none"}, true, false},
		{"sdk disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			traces, metrics := telemetry.Enabled(func(k string) string { return tt.env[k] })
			require.Equal(t, tt.traces, traces)
			require.Equal(t, tt.metrics, metrics)
		})
	}
}

// TestSetupWithoutExportGivesIDs: with tracing off, spans still get IDs
// (for the logs) but are not sampled, and an installed provider is kept.
func TestSetupWithoutExportGivesIDs(t *testing.T) {
	// Not parallel: the tracer provider is the process's.
	noEnv := func(string) string { return "" }
	shutdown, err := telemetry.Setup(context.Background(), "test", noEnv, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = shutdown(context.Background()) })
	installed := otel.GetTracerProvider()
	_, span := otel.Tracer("test").Start(context.Background(), "request")
	require.True(t, span.SpanContext().IsValid(), "a span has IDs")
	require.False(t, span.SpanContext().IsSampled(), "and is exported nowhere")
	span.End()

	again, err := telemetry.Setup(context.Background(), "test", noEnv, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, again(context.Background()))
	require.Same(t, installed, otel.GetTracerProvider(), "a provider already installed is kept")
}
