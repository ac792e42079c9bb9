package jobs_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/partnerhub/partnerhub/internal/telemetry"
	"github.com/partnerhub/partnerhub/jobs"
)

// TestRiverJobLinesCarryTheJobsTrace: River logs a job's outcome ("Job
// errored; retrying") after the job's span has ended, with a context of
// its own; that line still carries the trace and span IDs of the attempt
// it is about, the same as the worker's own line inside the attempt.
func TestRiverJobLinesCarryTheJobsTrace(t *testing.T) {
	// Not parallel: the tracer provider is the process's.
	tp := sdktrace.NewTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		_ = tp.Shutdown(context.Background())
	})
	logs := &syncBuffer{}
	b := setupWith(t, options{logger: slog.New(telemetry.LogHandler(slog.NewJSONHandler(logs, nil))),
		tune: func(c *jobs.Config) { c.MaxAttempts = 3 }})
	b.start()
	id := b.pay(t, "bare", "C-BARE-LOG-P", 1) // no plugin: the attempt fails
	b.waitFor(t, id, "retryable", "discarded")

	var worker, river map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), sc.Text())
		switch msg, _ := line["msg"].(string); {
		case msg == "fulfil attempt failed" && worker == nil:
			worker = line
		case strings.HasSuffix(msg, "Job errored; retrying") && river == nil:
			river = line
		}
	}
	require.NotNil(t, worker, "the worker logs the failed attempt:\n%s", logs)
	require.NotNil(t, river, "River logs the job's outcome:\n%s", logs)
	require.NotEmpty(t, worker[telemetry.LogTraceID], "inside the attempt: its span")
	require.Equal(t, worker["job_id"], river["job_id"])
	require.Equal(t, worker[telemetry.LogTraceID], river[telemetry.LogTraceID], "River's line: %v", river)
	require.Equal(t, worker[telemetry.LogSpanID], river[telemetry.LogSpanID], "the attempt's span, not a new one")
}
