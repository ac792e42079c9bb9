package telemetry_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/partnerhub/partnerhub/internal/telemetry"
	"github.com/partnerhub/partnerhub/internal/telemetry/telemetrytest"
)

// TestAttrCache: cached or not (past its bound), every combination is
// recorded under its own labels.
func TestAttrCache(t *testing.T) {
	t.Parallel()
	meter := telemetrytest.New(t)
	c, err := meter.Meter("test").Int64Counter("n")
	require.NoError(t, err)
	cache := telemetry.AttrCache[string]{Max: 5}
	build := func(k string) []attribute.KeyValue { return []attribute.KeyValue{attribute.String("k", k)} }
	n := 15
	for i := range n {
		c.Add(context.Background(), 1, cache.Get(strconv.Itoa(i), build))
	}
	c.Add(context.Background(), 1, cache.Get("0", build))
	c.Add(context.Background(), 1, cache.Get(strconv.Itoa(n-1), build))
	values := meter.Values(t)
	require.Len(t, values, n)
	require.Equal(t, 2.0, values[`n{k="0"}`], "cached")
	require.Equal(t, 2.0, values[`n{k="`+strconv.Itoa(n-1)+`"}`], "past the bound")
	require.Equal(t, 1.0, values[`n{k="5"}`])
}
