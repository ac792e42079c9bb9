package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/partnerhub/partnerhub/internal/telemetry"
)

func TestLogHandlerAddsTraceIDs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(telemetry.LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "jobs")
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "job")
	defer span.End()

	line := func(logf func()) map[string]any {
		buf.Reset()
		logf()
		var m map[string]any
		require.NoError(t, json.Unmarshal(buf.Bytes(), &m), buf.String())
		return m
	}
	in := line(func() { log.InfoContext(ctx, "inside", "k", "v") })
	require.Equal(t, span.SpanContext().TraceID().String(), in[telemetry.LogTraceID])
	require.Equal(t, span.SpanContext().SpanID().String(), in[telemetry.LogSpanID])
	require.Equal(t, "jobs", in["component"], "attributes from With stay")
	require.Equal(t, "v", in["k"])

	for name, logf := range map[string]func(){
		"no context":     func() { log.Info("outside") },
		"no span":        func() { log.InfoContext(context.Background(), "outside") },
		"from WithAttrs": func() { log.With("x", 1).InfoContext(context.Background(), "outside") },
	} {
		out := line(logf)
		require.NotContains(t, out, telemetry.LogTraceID, name)
		require.NotContains(t, out, telemetry.LogSpanID, name)
	}
	require.Contains(t, line(func() { log.With("x", 1).InfoContext(ctx, "inside") }), telemetry.LogTraceID,
		"a derived logger still adds the IDs")
	require.Equal(t, telemetry.LogHandler(log.Handler()), log.Handler(), "wrapping twice adds nothing")
}
