package jobs

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := newGate(2, 3, time.Minute)
	g.now = func() time.Time { return now }
	a, b := envKey{"acme", "staging"}, envKey{"beta", "staging"}

	steps := []struct {
		name string
		do   func() (verdict, time.Time)
		want verdict
	}{
		{"first of acme", func() (verdict, time.Time) { return g.enter(a) }, admitted},
		{"second of acme", func() (verdict, time.Time) { return g.enter(a) }, admitted},
		{"third of acme: over its cap", func() (verdict, time.Time) { return g.enter(a) }, overCap},
		{"beta is not capped by acme", func() (verdict, time.Time) { return g.enter(b) }, admitted},
		{"acme after one finished", func() (verdict, time.Time) { g.release(a); return g.enter(a) }, admitted},
		{"two failures: still closed", func() (verdict, time.Time) {
			g.release(a)
			g.failed(a)
			g.failed(a)
			return g.enter(a)
		}, admitted},
		{"third failure in a row opens it", func() (verdict, time.Time) {
			g.release(a)
			require.True(t, g.failed(a))
			return g.enter(a)
		}, breakerOpen},
		{"beta unaffected", func() (verdict, time.Time) { g.release(b); return g.enter(b) }, admitted},
		{"after the cool-off: half-open", func() (verdict, time.Time) {
			now = now.Add(time.Minute + time.Second)
			return g.enter(a)
		}, admitted},
		{"one more failure reopens it", func() (verdict, time.Time) {
			g.release(a)
			require.True(t, g.failed(a))
			return g.enter(a)
		}, breakerOpen},
		{"a success closes it", func() (verdict, time.Time) {
			g.succeeded(a)
			g.failed(a)
			return g.enter(a)
		}, admitted},
	}
	for _, s := range steps {
		got, until := s.do()
		require.Equal(t, s.want, got, s.name)
		switch got {
		case breakerOpen:
			require.Equal(t, now.Add(time.Minute), until, s.name)
		case overCap:
			require.Equal(t, now.Add(overCapSnooze), until, s.name)
		}
	}
}

func TestGateForgetsQuietTenants(t *testing.T) {
	t.Parallel()
	g := newGate(1, 3, time.Minute)
	k := envKey{"acme", "staging"}
	v, _ := g.enter(k)
	require.Equal(t, admitted, v)
	g.release(k)
	require.Empty(t, g.state)
	require.True(t, g.shouldMove(k))
	require.False(t, g.shouldMove(k), "moves are throttled")
}
