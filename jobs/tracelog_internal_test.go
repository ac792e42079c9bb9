package jobs

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
)

func TestRecentSpansAreBounded(t *testing.T) {
	t.Parallel()
	span := func(n byte) trace.SpanContext {
		return trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, n}, SpanID: trace.SpanID{2, n}})
	}
	r := newRecentSpans()
	r.put(1, trace.SpanContext{})
	_, ok := r.get(1)
	require.False(t, ok, "no span, nothing kept")
	for id := int64(1); id <= recentSpansCap; id++ {
		r.put(id, span(1))
	}
	r.put(1, span(2)) // a retry: the latest attempt's span, no new slot
	got, ok := r.get(1)
	require.True(t, ok)
	require.Equal(t, span(2), got)
	r.put(recentSpansCap+1, span(3)) // full: the oldest job goes
	_, ok = r.get(1)
	require.False(t, ok)
	_, ok = r.get(recentSpansCap + 1)
	require.True(t, ok)
	require.Len(t, r.byJob, recentSpansCap)
	var none *recentSpans
	none.put(1, span(1)) // the insert-only client keeps none
}
