package jobs

import (
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
)

func TestRetrySchedule(t *testing.T) {
	t.Parallel()
	p := NewRetryPolicy(25, 24*time.Hour)
	for _, tc := range []struct {
		failure int
		want    time.Duration
	}{
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{6, 32 * time.Second},
		{7, 64 * time.Second}, // minutes from here
		{12, 2048 * time.Second},
		{13, 4096 * time.Second},
		{14, p.cap}, // capped from here
		{24, p.cap},
		{1000, p.cap},
	} {
		require.Equal(t, tc.want, p.Delay(tc.failure), "failure %d", tc.failure)
	}
	// The 24 retries of 25 attempts span the horizon, not much more.
	require.GreaterOrEqual(t, total(24, p.cap), 24*time.Hour)
	require.Less(t, total(24, p.cap), 24*time.Hour+p.cap)
	require.Greater(t, p.cap, time.Hour)
}

func TestRetryCap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		attempts int
		horizon  time.Duration
		want     time.Duration
	}{
		{"many attempts, short horizon: at least a minute", 100, time.Hour, minRetryCap},
		{"one attempt", 1, time.Hour, time.Hour},
		{"default horizon when zero", 25, 0, NewRetryPolicy(25, 24*time.Hour).cap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, NewRetryPolicy(tc.attempts, tc.horizon).cap)
		})
	}
}

func TestRetryNextAndHorizon(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewRetryPolicy(25, time.Hour)
	p.now = func() time.Time { return now }

	for _, tc := range []struct {
		id     int64
		errors int
		want   time.Duration
	}{
		{id: 100, errors: 0, want: time.Second},                       // no jitter for id%100 == 0
		{id: 150, errors: 0, want: time.Second + 50*time.Millisecond}, // 5%
		{id: 199, errors: 2, want: 4*time.Second + 396*time.Millisecond},
		{id: 200, errors: 30, want: p.cap},
	} {
		job := &rivertype.JobRow{ID: tc.id, Errors: make([]rivertype.AttemptError, tc.errors)}
		require.Equal(t, now.Add(tc.want), p.NextRetry(job), "id %d errors %d", tc.id, tc.errors)
	}

	created := now.Add(-58 * time.Minute)
	require.False(t, p.last(created, now, 1), "1 s later is inside the hour")
	require.Greater(t, p.Delay(20), 2*time.Minute)
	require.True(t, p.last(created, now, 20), "a capped delay lands past the horizon")
	require.True(t, p.last(now.Add(-2*time.Hour), now, 1), "past the horizon already")
}
