package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceMetadataKey is the job metadata key holding the W3C trace context
// (traceparent, tracestate) of the work that queued the job.
const traceMetadataKey = "trace_context"

// traceContext is the only propagator jobs use: the trace, never baggage,
// which a webhook's sender could fill.
var traceContext propagation.TextMapPropagator = propagation.TraceContext{}

// maxSpanStatus clips a job error kept as its span's status.
const maxSpanStatus = 500

// tracing carries a trace from where a job is queued to where it runs:
// at insert, the trace context goes into the job's metadata; at work, the
// job's span continues it. River's otelriver does the same but is not
// available to this build; this is the part partnerhub needs.
type tracing struct {
	river.MiddlewareDefaults
	tracer trace.Tracer
	// spans, when set, keeps each attempt's span for River's own log
	// lines about the job (tracelog.go).
	spans *recentSpans
}

var (
	_ rivertype.JobInsertMiddleware = (*tracing)(nil)
	_ rivertype.WorkerMiddleware    = (*tracing)(nil)
)

func newTracing(spans *recentSpans) *tracing {
	return &tracing{tracer: otel.Tracer("github.com/partnerhub/partnerhub/jobs"), spans: spans}
}

// InsertMany stamps ctx's trace context on jobs that carry none yet. A job
// may carry its own: a group commit inserts the jobs of several webhooks in
// one call, each in its own request's trace (traceOpts).
func (m *tracing) InsertMany(ctx context.Context, params []*rivertype.JobInsertParams, doInner func(context.Context) ([]*rivertype.JobInsertResult, error)) ([]*rivertype.JobInsertResult, error) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		for _, p := range params {
			md, err := withTraceContext(ctx, p.Metadata)
			if err != nil {
				return nil, err
			}
			p.Metadata = md
		}
	}
	return doInner(ctx)
}

// Work runs the job inside its span, the child of the span that queued it.
func (m *tracing) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	ctx = traceContext.Extract(ctx, jobCarrier(job.Metadata))
	ctx, span := m.tracer.Start(ctx, "river.work "+job.Kind,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "river"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", job.Queue),
			attribute.Int64("messaging.message.id", job.ID),
			attribute.String("river.job.kind", job.Kind),
			attribute.Int("river.job.attempt", job.Attempt),
		))
	defer span.End()
	m.spans.put(job.ID, span.SpanContext())
	err := doInner(ctx)
	var snooze *rivertype.JobSnoozeError
	switch {
	case err == nil:
	case errors.As(err, &snooze):
		span.SetAttributes(attribute.Bool("river.job.snoozed", true))
	default:
		// The same text River keeps in the job row: job errors are
		// redacted before they are returned (attempt.go).
		msg := err.Error()
		if len(msg) > maxSpanStatus {
			msg = msg[:maxSpanStatus]
		}
		span.SetStatus(codes.Error, msg)
	}
	return err
}

// traceOpts gives a job queued in a batch the trace of its own request,
// sc, rather than the batch's (nil when sc is not valid).
func traceOpts(ctx context.Context, sc trace.SpanContext) (*river.InsertOpts, error) {
	if !sc.IsValid() {
		return nil, nil
	}
	md, err := withTraceContext(trace.ContextWithSpanContext(ctx, sc), nil)
	if err != nil {
		return nil, err
	}
	return &river.InsertOpts{Metadata: md}, nil
}

// withTraceContext returns metadata (a JSON object, or empty) with ctx's
// trace context added, unless it holds one already.
func withTraceContext(ctx context.Context, metadata []byte) ([]byte, error) {
	m := map[string]json.RawMessage{}
	if len(metadata) > 0 {
		if err := json.Unmarshal(metadata, &m); err != nil {
			return nil, fmt.Errorf("jobs: job metadata: %w", err)
		}
	}
	if _, ok := m[traceMetadataKey]; ok {
		return metadata, nil
	}
	carrier := propagation.MapCarrier{}
	traceContext.Inject(ctx, carrier)
	if len(carrier) == 0 {
		return metadata, nil
	}
	raw, err := json.Marshal(carrier)
	if err != nil {
		return nil, fmt.Errorf("jobs: trace context: %w", err)
	}
	m[traceMetadataKey] = raw
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("jobs: job metadata: %w", err)
	}
	return out, nil
}

// jobCarrier reads the trace context from a job's metadata; empty when it
// has none or it is malformed (the job then starts a trace of its own).
func jobCarrier(metadata []byte) propagation.MapCarrier {
	var md struct { // the tag is traceMetadataKey
		Trace propagation.MapCarrier `json:"trace_context"`
	}
	if err := json.Unmarshal(metadata, &md); err != nil || md.Trace == nil {
		return propagation.MapCarrier{}
	}
	return md.Trace
}
