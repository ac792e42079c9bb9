package jobs

import (
	"context"
	"log/slog"
	"sync"

	"go.opentelemetry.io/otel/trace"

	"github.com/partnerhub/partnerhub/internal/telemetry"
)

// recentSpansCap bounds the jobs whose span River's log lines can still
// be matched with: River logs a job's outcome right after its work
// returns, so the last few hundred jobs always cover it.
const recentSpansCap = 1024

// recentSpans remembers the span each recent job attempt ran in, by job
// ID. River logs a job's outcome ("Job errored; retrying", "Error
// completing job") with the context it fetched the job with, outside the
// tracing middleware's span, so those lines would have no trace; the
// River logger (riverLogger) looks the job's span up here instead.
type recentSpans struct {
	mu    sync.Mutex
	byJob map[int64]trace.SpanContext
	order []int64 // oldest first, at most recentSpansCap
}

func newRecentSpans() *recentSpans {
	return &recentSpans{byJob: make(map[int64]trace.SpanContext, recentSpansCap)}
}

// put records the span of job's latest attempt.
func (r *recentSpans) put(job int64, sc trace.SpanContext) {
	if r == nil || !sc.IsValid() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byJob[job]; !ok {
		if len(r.order) == recentSpansCap {
			delete(r.byJob, r.order[0])
			r.order = r.order[1:]
		}
		r.order = append(r.order, job)
	}
	r.byJob[job] = sc
}

func (r *recentSpans) get(job int64) (trace.SpanContext, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sc, ok := r.byJob[job]
	return sc, ok
}

// riverLogger is the logger River gets: a line that names a job (River's
// job_id attribute) and is logged outside any span carries the trace and
// span IDs of that job's latest attempt, as lines logged inside it do.
func riverLogger(log *slog.Logger, spans *recentSpans) *slog.Logger {
	if log == nil {
		return nil
	}
	return slog.New(jobSpanHandler{Handler: log.Handler(), spans: spans})
}

type jobSpanHandler struct {
	slog.Handler
	spans *recentSpans
}

func (h jobSpanHandler) Handle(ctx context.Context, r slog.Record) error {
	if trace.SpanContextFromContext(ctx).IsValid() {
		return h.Handler.Handle(ctx, r) // inside the job: the IDs come from ctx
	}
	var job int64
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "job_id" && a.Value.Kind() == slog.KindInt64 {
			job, found = a.Value.Int64(), true
			return false
		}
		return true
	})
	if found {
		if sc, ok := h.spans.get(job); ok {
			r = r.Clone()
			r.AddAttrs(slog.String(telemetry.LogTraceID, sc.TraceID().String()), slog.String(telemetry.LogSpanID, sc.SpanID().String()))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h jobSpanHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return jobSpanHandler{Handler: h.Handler.WithAttrs(as), spans: h.spans}
}

func (h jobSpanHandler) WithGroup(name string) slog.Handler {
	return jobSpanHandler{Handler: h.Handler.WithGroup(name), spans: h.spans}
}
