package telemetry

import (
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// MaxCachedAttrs bounds an AttrCache by default; past its bound, options
// are built per measurement (correct, just slower).
const MaxCachedAttrs = MaxSeriesPerMetric

// AttrCache keeps the measurement option of each label combination seen
// (a key K of strings), so that recording a measurement does not hash and
// allocate its attribute set every time: that was most of the metrics'
// cost per webhook and per job. Safe for concurrent use.
type AttrCache[K comparable] struct {
	// Max bounds the entries; MaxCachedAttrs when 0.
	Max int64
	m   sync.Map // K → metric.MeasurementOption
	n   atomic.Int64
}

// Get returns k's option, building its attributes with attrs once.
func (c *AttrCache[K]) Get(k K, attrs func(K) []attribute.KeyValue) metric.MeasurementOption {
	if o, ok := c.m.Load(k); ok {
		return o.(metric.MeasurementOption)
	}
	o := metric.WithAttributeSet(attribute.NewSet(attrs(k)...))
	limit := c.Max
	if limit <= 0 {
		limit = MaxCachedAttrs
	}
	if c.n.Load() < limit {
		if _, loaded := c.m.LoadOrStore(k, o); !loaded {
			c.n.Add(1)
		}
	}
	return o
}
