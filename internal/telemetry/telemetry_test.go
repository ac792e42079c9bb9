package telemetry_test

import (
	"testing"

	"github.com/stretchr/testify/require"

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
