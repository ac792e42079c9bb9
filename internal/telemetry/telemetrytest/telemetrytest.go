// Package telemetrytest gives tests a meter provider of their own and its
// values in a form a require.Equal can check, so that parallel tests never
// share metrics.
package telemetrytest

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Meter is a meter provider read on demand.
type Meter struct {
	*sdkmetric.MeterProvider
	reader *sdkmetric.ManualReader
}

// New returns a provider for one test; it is shut down at cleanup.
func New(t testing.TB) Meter {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return Meter{MeterProvider: mp, reader: reader}
}

// Values collects every instrument: sums and gauges by series, and
// histograms as their count (series name_count), each series written
// name{key="value",...} with keys sorted.
func (m Meter) Values(t testing.TB) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, m.reader.Collect(context.Background(), &rm))
	out := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			switch d := md.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[Series(md.Name, p.Attributes)] = float64(p.Value)
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					out[Series(md.Name, p.Attributes)] = p.Value
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[Series(md.Name, p.Attributes)] = float64(p.Value)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					out[Series(md.Name, p.Attributes)] = p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[Series(md.Name+"_count", p.Attributes)] = float64(p.Count)
				}
			}
		}
	}
	return out
}

// Series writes a series name the way Values keys it.
func Series(name string, attrs attribute.Set) string {
	kvs := attrs.ToSlice()
	if len(kvs) == 0 {
		return name
	}
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = string(kv.Key) + `="` + kv.Value.Emit() + `"`
	}
	sort.Strings(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

// Matching returns the values whose series start with prefix.
func Matching(values map[string]float64, prefix string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range values {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}
