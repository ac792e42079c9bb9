package api

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRateLimiterBucket(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	l := newRateLimiter(2, 3, func() time.Time { return now })
	for range 3 {
		require.True(t, l.take("acme").allowed)
	}
	v := l.take("acme")
	require.False(t, v.allowed)
	require.Equal(t, 500*time.Millisecond, v.retryAfter)
	require.True(t, l.take("other").allowed, "buckets are per tenant")

	// At most refusalsRecordedPerSecond refusals a second are recorded; the
	// next recorded one says how many were not.
	recorded := 1
	for range 20 {
		if l.take("acme").record {
			recorded++
		}
	}
	require.Equal(t, refusalsRecordedPerSecond, recorded)
	now = now.Add(time.Second) // two tokens back
	require.True(t, l.take("acme").allowed)
	require.True(t, l.take("acme").allowed)
	v = l.take("acme")
	require.False(t, v.allowed)
	require.True(t, v.record)
	require.Equal(t, 16, v.unrecorded)

	require.Nil(t, newRateLimiter(0, 10, time.Now), "0 turns the limit off")
}

func TestRateLimiterMemoryIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	l := newRateLimiter(1, 1, func() time.Time { return now })
	l.max = 100
	require.True(t, l.take("busy").allowed)
	for i := range 1000 {
		l.take("k" + strconv.Itoa(i))
		if i%10 == 0 {
			l.take("busy") // recently used: kept, still empty
		}
	}
	require.Equal(t, 100, l.size())
	require.False(t, l.take("busy").allowed, "an active bucket survives eviction")
	require.True(t, l.take("k0").allowed, "an evicted idle bucket comes back full")
	require.Equal(t, 100, l.size())
}
