package jobs

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recordingRun answers each request with its double, fails a batch of
// several that holds a poison request (0) and a poison request alone, and
// records the batches it saw. The first batch waits for release, so that
// requests pile up behind it.
type recordingRun struct {
	mu      sync.Mutex
	batches [][]int
	release chan struct{}
	once    sync.Once
}

func (r *recordingRun) run(_ context.Context, reqs []int) ([]int, []error, error) {
	r.once.Do(func() { <-r.release })
	r.mu.Lock()
	r.batches = append(r.batches, append([]int(nil), reqs...))
	r.mu.Unlock()
	out, errs := make([]int, len(reqs)), make([]error, len(reqs))
	for i, q := range reqs {
		if q == 0 {
			return nil, nil, errors.New("poison")
		}
		if q < 0 {
			errs[i] = errors.New("negative")
		}
		out[i] = 2 * q
	}
	return out, errs, nil
}

// TestBatcher: concurrent requests share statements, each gets its own
// answer or error, a request's key is never twice in one batch, and a
// failing batch is retried one request at a time so that only the request
// at fault fails.
func TestBatcher(t *testing.T) {
	t.Parallel()
	r := &recordingRun{release: make(chan struct{})}
	b := &batcher[int, int]{run: r.run, key: func(q int) int64 { return int64(q) % 10 }}
	reqs := []int{1, 2, 3, 0, -4, 15, 25, 6, 7, 8}
	type answer struct {
		v   int
		err error
	}
	got := make([]answer, len(reqs))
	pending := func(n, running int) func() bool {
		return func() bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			return len(b.pending) == n && b.running == running
		}
	}
	var wg sync.WaitGroup
	var firstV int
	var firstErr error
	wg.Go(func() { firstV, firstErr = b.do(100) }) // takes the slot and blocks in run
	require.Eventually(t, pending(0, 1), 10*time.Second, time.Millisecond)
	for i, q := range reqs {
		wg.Go(func() { got[i].v, got[i].err = b.do(q) })
	}
	require.Eventually(t, pending(len(reqs), 1), 10*time.Second, time.Millisecond, "all queued behind the first")
	close(r.release)
	wg.Wait()
	require.NoError(t, firstErr)
	require.Equal(t, 200, firstV)

	for i, q := range reqs {
		switch {
		case q == 0:
			require.EqualError(t, got[i].err, "poison")
		case q < 0:
			require.EqualError(t, got[i].err, "negative")
		default:
			require.NoError(t, got[i].err, "request %d", q)
			require.Equal(t, 2*q, got[i].v)
		}
	}
	shared := false
	for _, batch := range r.batches {
		keys := map[int64]bool{}
		for _, q := range batch {
			require.False(t, keys[int64(q)%10], "key of %d twice in batch %v", q, batch)
			keys[int64(q)%10] = true
		}
		shared = shared || len(batch) > 1
	}
	require.True(t, shared, "requests shared statements: %v", r.batches)
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Zero(t, b.running, "the slot is free again")
	require.Empty(t, b.pending)
}
