package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func newTestTracing(t *testing.T) (*tracing, *tracetest.InMemoryExporter, trace.Tracer) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &tracing{tracer: tp.Tracer("jobs")}, exp, tp.Tracer("test")
}

// TestTracingCarriesEachJobsTrace: jobs inserted in one call each keep the
// trace they were given, the others get the inserting context's, and each
// job's span is the child of its own.
func TestTracingCarriesEachJobsTrace(t *testing.T) {
	t.Parallel()
	m, exp, tracer := newTestTracing(t)
	ctx, batch := tracer.Start(context.Background(), "batch")
	_, request := tracer.Start(context.Background(), "request")
	opts, err := traceOpts(ctx, request.SpanContext())
	require.NoError(t, err)
	none, err := traceOpts(ctx, trace.SpanContext{})
	require.NoError(t, err)
	require.Nil(t, none, "no trace of its own: the insert's")

	params := []*rivertype.JobInsertParams{
		{Kind: "fulfil", Metadata: opts.Metadata},
		{Kind: "fulfil", Metadata: []byte(`{"other":1}`)},
		{Kind: "fulfil"},
	}
	_, err = m.InsertMany(ctx, params, func(context.Context) ([]*rivertype.JobInsertResult, error) { return nil, nil })
	require.NoError(t, err)
	var other map[string]any
	require.NoError(t, json.Unmarshal(params[1].Metadata, &other))
	require.Equal(t, float64(1), other["other"], "metadata is kept")

	for i, want := range []trace.SpanContext{request.SpanContext(), batch.SpanContext(), batch.SpanContext()} {
		job := &rivertype.JobRow{ID: int64(i), Kind: "fulfil", Queue: river.QueueDefault, Attempt: 1, Metadata: params[i].Metadata}
		var inJob trace.SpanContext
		require.NoError(t, m.Work(context.Background(), job, func(ctx context.Context) error {
			inJob = trace.SpanContextFromContext(ctx)
			return nil
		}))
		spans := exp.GetSpans()
		s := spans[len(spans)-1]
		require.Equal(t, "river.work fulfil", s.Name)
		require.Equal(t, inJob, s.SpanContext, "the job runs inside its span")
		require.Equal(t, want.TraceID(), s.SpanContext.TraceID(), "job %d", i)
		require.Equal(t, want.SpanID(), s.Parent.SpanID(), "job %d", i)
	}
}

func TestTracingWithoutTrace(t *testing.T) {
	t.Parallel()
	m, exp, _ := newTestTracing(t)
	params := []*rivertype.JobInsertParams{{Kind: "sweep", Metadata: []byte(`{}`)}}
	_, err := m.InsertMany(context.Background(), params, func(context.Context) ([]*rivertype.JobInsertResult, error) { return nil, nil })
	require.NoError(t, err)
	require.JSONEq(t, `{}`, string(params[0].Metadata), "no span, nothing added")

	for name, metadata := range map[string]string{"none": `{}`, "malformed": `{"trace_context":"x"}`, "not json": `[`} {
		job := &rivertype.JobRow{Kind: "sweep", Metadata: []byte(metadata)}
		require.NoError(t, m.Work(context.Background(), job, func(context.Context) error { return nil }), name)
		spans := exp.GetSpans()
		require.False(t, spans[len(spans)-1].Parent.IsValid(), "%s: a trace of its own", name)
	}
}

func TestTracingJobOutcome(t *testing.T) {
	t.Parallel()
	m, exp, _ := newTestTracing(t)
	job := &rivertype.JobRow{Kind: "fulfil"}
	for _, tt := range []struct {
		err     error
		code    codes.Code
		snoozed bool
	}{
		{nil, codes.Unset, false},
		{errors.New("plugin call failed"), codes.Error, false},
		{river.JobSnooze(time.Second), codes.Unset, true},
	} {
		err := m.Work(context.Background(), job, func(context.Context) error { return tt.err })
		require.Equal(t, tt.err, err, "the job's error is River's to handle")
		spans := exp.GetSpans()
		s := spans[len(spans)-1]
		require.Equal(t, tt.code, s.Status.Code)
		snoozed := false
		for _, a := range s.Attributes {
			if a.Key == "river.job.snoozed" {
				snoozed = a.Value.AsBool()
			}
		}
		require.Equal(t, tt.snoozed, snoozed)
	}
}

// BenchmarkTracingPerJob is the middleware's cost per job with tracing
// on but not exported (the default): a job's trace context written at
// insert, read back and a span started and ended at work.
func BenchmarkTracingPerJob(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	m := &tracing{tracer: tp.Tracer("jobs")}
	ctx, span := tp.Tracer("test").Start(context.Background(), "batch")
	defer span.End()
	sc := span.SpanContext()
	noop := func(context.Context) ([]*rivertype.JobInsertResult, error) { return nil, nil }
	work := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		opts, err := traceOpts(ctx, sc)
		if err != nil {
			b.Fatal(err)
		}
		params := []*rivertype.JobInsertParams{{Kind: "fulfil", Metadata: opts.Metadata}}
		if _, err := m.InsertMany(ctx, params, noop); err != nil {
			b.Fatal(err)
		}
		if err := m.Work(context.Background(), &rivertype.JobRow{Kind: "fulfil", Metadata: params[0].Metadata}, work); err != nil {
			b.Fatal(err)
		}
	}
}
