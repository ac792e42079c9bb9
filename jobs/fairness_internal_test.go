package jobs

import (
	"context"
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

// TestGateHandsSlotsToWaiters: a job over the cap waits in process and is
// handed the slot of the next one to finish, without counting twice; when
// a cap's worth wait already, the next is told to snooze at once.
func TestGateHandsSlotsToWaiters(t *testing.T) {
	t.Parallel()
	g := newGate(1, 3, time.Minute)
	k := envKey{"acme", "staging"}
	v, _ := g.enter(k)
	require.Equal(t, admitted, v)

	got := make(chan verdict, 1)
	go func() {
		v, _ := g.acquire(t.Context(), k, 1, false, time.Hour)
		got <- v
	}()
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.state[k].waiting) == 1
	}, 5*time.Second, time.Millisecond)

	v, _ = g.acquire(t.Context(), k, 2, false, time.Hour)
	require.Equal(t, overCap, v, "the waiting room (one cap) is full of older jobs: snooze")

	g.release(k)
	require.Equal(t, admitted, <-got, "the slot was handed over")
	g.mu.Lock()
	require.Equal(t, 1, g.state[k].running, "handed over, not counted twice")
	g.mu.Unlock()
	g.release(k)
	require.Empty(t, g.state)
}

// TestGateWaitEnds: a wait that times out or is cancelled gives up its
// place and says overCap.
func TestGateWaitEnds(t *testing.T) {
	t.Parallel()
	g := newGate(1, 3, time.Minute)
	k := envKey{"acme", "staging"}
	v, _ := g.enter(k)
	require.Equal(t, admitted, v)
	v, _ = g.acquire(t.Context(), k, 1, false, time.Millisecond)
	require.Equal(t, overCap, v)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	v, _ = g.acquire(ctx, k, 2, false, time.Hour)
	require.Equal(t, overCap, v)
	g.mu.Lock()
	require.Empty(t, g.state[k].waiting)
	g.mu.Unlock()
}

// TestGateProbeKeepsTheCap (F5): a job past its horizon gets past an open
// breaker, but not past the cap.
func TestGateProbeKeepsTheCap(t *testing.T) {
	t.Parallel()
	g := newGate(1, 1, time.Hour)
	k := envKey{"acme", "staging"}
	v, _ := g.enter(k)
	require.Equal(t, admitted, v)
	require.True(t, g.failed(k))
	v, _ = g.enter(k)
	require.Equal(t, breakerOpen, v)
	v, _ = g.probe(t.Context(), k, 1, 0)
	require.Equal(t, overCap, v, "the cap holds for probes")
	g.release(k)
	v, _ = g.probe(t.Context(), k, 1, 0)
	require.Equal(t, admitted, v, "under the cap the probe runs despite the breaker")
}

// TestGateServesOldestFirst: waiters get slots oldest job first, whatever
// their arrival order, and a full waiting room turns away its youngest job —
// the one arriving, or a waiter an older arrival displaces. A job back from
// the overflow queue is older than those that arrived while it was away:
// it must not be snoozed again behind them.
func TestGateServesOldestFirst(t *testing.T) {
	t.Parallel()
	g := newGate(1, 3, time.Minute)
	g.room = 2
	k := envKey{"acme", "staging"}
	v, _ := g.enter(k)
	require.Equal(t, admitted, v)

	got := map[int64]chan verdict{}
	wait := func(age int64, waiting int) {
		t.Helper()
		c := make(chan verdict, 1)
		got[age] = c
		go func() {
			v, _ := g.acquire(t.Context(), k, age, false, time.Hour)
			c <- v
		}()
		require.Eventually(t, func() bool {
			g.mu.Lock()
			defer g.mu.Unlock()
			for _, w := range g.state[k].waiting {
				if w.age == age {
					return len(g.state[k].waiting) == waiting
				}
			}
			return false
		}, 5*time.Second, time.Millisecond)
	}
	wait(30, 1)
	wait(20, 2)
	v, _ = g.acquire(t.Context(), k, 40, false, time.Hour)
	require.Equal(t, overCap, v, "room full of older jobs: the youngest, arriving, is turned away")

	wait(10, 2) // back from the overflow queue: older than both waiting
	require.Equal(t, overCap, <-got[30], "the youngest waiter was displaced")
	g.mu.Lock()
	require.Equal(t, 1, g.state[k].running, "a displaced waiter never counted as running")
	g.mu.Unlock()

	g.release(k)
	require.Equal(t, admitted, <-got[10], "the oldest is served first")
	g.release(k)
	require.Equal(t, admitted, <-got[20])
	g.release(k)
	require.Empty(t, g.state)
}

// TestGateMovesBackUnderCap (F6): once jobs of a tenant went to the
// overflow queue, a job of it under the cap with none waiting says some are
// due back, throttled.
func TestGateMovesBackUnderCap(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := newGate(2, 3, time.Minute)
	g.now = func() time.Time { return now }
	k := envKey{"beta", "staging"}
	g.enter(k)
	g.enter(k)
	require.False(t, g.dueBack(k), "nothing in overflow")
	require.True(t, g.shouldMove(k))
	g.overflowed(k)
	require.False(t, g.dueBack(k), "still at its cap")
	g.release(k)
	require.True(t, g.dueBack(k), "under its cap: due back")
	g.overflowed(k) // a full chunk moved: more may wait
	require.False(t, g.dueBack(k), "throttled")
	g.release(k)
	require.NotEmpty(t, g.state, "remembered while jobs may wait in overflow")
	now = now.Add(moveBackEvery)
	require.True(t, g.dueBack(k))
	require.False(t, g.dueBack(k), "nothing moved there since")
}

// TestGateBurstsWhenAlone: a tenant environment alone on the node runs up
// to its burst cap; once another starts a job it gives the burst back
// (its slots are not handed on until it is within its cap), and only a
// second after the other's last start is it alone again.
func TestGateBurstsWhenAlone(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := newGate(2, 3, time.Minute)
	g.burst = 4
	g.now = func() time.Time { return now }
	a, b := envKey{"acme", "staging"}, envKey{"beta", "staging"}
	enter := func(k envKey, want verdict, msg string) {
		t.Helper()
		v, _ := g.enter(k)
		require.Equal(t, want, v, msg)
	}
	for range 4 {
		enter(a, admitted, "alone: up to its burst")
	}
	enter(a, overCap, "alone, at its burst")

	enter(b, admitted, "beta under its own cap")
	g.release(a)
	enter(a, overCap, "not alone: 3 running is over its cap of 2")
	g.release(b)
	now = now.Add(aloneFor / 2)
	enter(a, overCap, "beta started a job half a second ago")
	g.release(a)
	g.release(a)
	enter(a, admitted, "within its cap again")
	enter(a, overCap, "at its cap")

	now = now.Add(aloneFor)
	enter(a, admitted, "alone again a second after beta's last start")
	enter(a, admitted, "alone: 4 running")
	enter(a, overCap, "alone, at its burst")

	// A waiter is not handed a slot while its tenant gives back a burst.
	enter(b, admitted, "beta starts a job")
	got := make(chan verdict, 1)
	go func() {
		v, _ := g.acquire(t.Context(), a, 100, false, time.Hour)
		got <- v
	}()
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.state[a].waiting) == 1
	}, 5*time.Second, time.Millisecond)
	g.release(a) // 3 running: over the cap of 2
	g.release(a) // 2 running: at the cap
	select {
	case v := <-got:
		t.Fatalf("the waiter got %v while acme was at its cap", v)
	default:
	}
	g.release(a) // 1 running: the freed slot goes to the waiter
	require.Equal(t, admitted, <-got)
	g.mu.Lock()
	require.Equal(t, 2, g.state[a].running)
	require.Equal(t, 2, g.busy, "acme and beta run jobs")
	g.mu.Unlock()

	// Once acme is alone again, a waiter goes before a new arrival.
	waited := make(chan verdict, 1)
	go func() {
		v, _ := g.acquire(t.Context(), a, 200, false, time.Hour)
		waited <- v
	}()
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.state[a].waiting) == 1
	}, 5*time.Second, time.Millisecond)
	g.release(b)
	now = now.Add(aloneFor)
	enter(a, admitted, "alone: a new arrival within the burst")
	select {
	case v := <-waited:
		require.Equal(t, admitted, v, "the waiter went first")
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter was passed over by a new arrival")
	}
	g.mu.Lock()
	require.Equal(t, 4, g.state[a].running)
	g.mu.Unlock()
	for range 4 {
		g.release(a)
	}
	require.Empty(t, g.state)
	require.Zero(t, g.busy)
}
