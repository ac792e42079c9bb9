package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/partnerhub/partnerhub/internal/config"
	"github.com/partnerhub/partnerhub/internal/telemetry"
)

// TestLogFormatByMode: serve and migrate log JSON unless told otherwise,
// dev logs text; either way a line logged inside a span carries its trace
// and span IDs, and PARTNERHUB_LOG_FORMAT wins over dev's default.
func TestLogFormatByMode(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	defer span.End()
	traceID, spanID := span.SpanContext().TraceID().String(), span.SpanContext().SpanID().String()

	for _, tt := range []struct {
		cmd, format string // format: PARTNERHUB_LOG_FORMAT, if set
		json        bool
	}{
		{cmd: "serve", json: true},
		{cmd: "migrate", json: true},
		{cmd: "dev", json: false},
		{cmd: "dev", format: "json", json: true},
		{cmd: "serve", format: "text", json: false},
	} {
		env := map[string]string{"PARTNERHUB_LOG_FORMAT": tt.format}
		getenv := func(k string) string { return env[k] }
		if tt.cmd == "dev" {
			getenv = devEnv(getenv)
		}
		cfg, err := config.Load(tt.cmd, nil, getenv)
		require.NoError(t, err, tt.cmd)
		var buf bytes.Buffer
		newLogger(cfg, &buf).InfoContext(ctx, "inside", "k", "v")
		out := strings.TrimSpace(buf.String())
		var line map[string]any
		if tt.json {
			require.NoError(t, json.Unmarshal([]byte(out), &line), "%s %q: %s", tt.cmd, tt.format, out)
			require.Equal(t, traceID, line[telemetry.LogTraceID], out)
			require.Equal(t, spanID, line[telemetry.LogSpanID], out)
			continue
		}
		require.Error(t, json.Unmarshal([]byte(out), &line), "%s %q: text, not JSON: %s", tt.cmd, tt.format, out)
		require.Contains(t, out, "msg=inside", out)
		require.Contains(t, out, telemetry.LogTraceID+"="+traceID, out)
		require.Contains(t, out, telemetry.LogSpanID+"="+spanID, out)
	}
}
