package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/telemetry/telemetrytest"
)

func TestJobOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		attempt int
		err     error
		want    string
	}{
		{"done", 1, nil, OutcomeSucceeded},
		{"error, attempts left", 1, errors.New("plugin call timed out"), OutcomeRetry},
		{"error, last attempt", 5, errors.New("plugin call timed out"), OutcomeFailed},
		{"cancelled", 1, river.JobCancel(errors.New("rejected by plugin")), OutcomeCancelled},
		{"snoozed", 5, river.JobSnooze(time.Second), OutcomeSnoozed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := &rivertype.JobRow{Attempt: tt.attempt, MaxAttempts: 5}
			require.Equal(t, tt.want, jobOutcome(context.Background(), job, tt.err))
		})
	}
	t.Run("cancelled remotely", func(t *testing.T) {
		t.Parallel()
		// What River does to a running job cancelled from elsewhere: its
		// context ends with this cause, and the work returns ctx's error,
		// which River then records as a cancellation.
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(rivertype.ErrJobCancelledRemotely)
		job := &rivertype.JobRow{Attempt: 1, MaxAttempts: 5}
		require.Equal(t, OutcomeCancelled, jobOutcome(ctx, job, fmt.Errorf("plugin call: %w", ctx.Err())))
		require.Equal(t, OutcomeSucceeded, jobOutcome(ctx, job, nil), "it finished anyway")
	})
}

// TestMeteringCountsFulfilments: every run is counted by kind and outcome;
// fulfil and reverse runs also by tenant, with their latency from queueing
// on success.
func TestMeteringCountsFulfilments(t *testing.T) {
	t.Parallel()
	meter := telemetrytest.New(t)
	m := newMetering(meter)
	args, err := json.Marshal(FulfilArgs{PaymentID: 1, PartnerCode: "acme", Env: "staging", Reference: "C-SECRET-REF-P"})
	require.NoError(t, err)
	run := func(kind string, attempt int, result error) {
		job := &rivertype.JobRow{Kind: kind, EncodedArgs: args, Attempt: attempt, MaxAttempts: 3,
			CreatedAt: time.Now().Add(-time.Minute)}
		got := m.Work(context.Background(), job, func(context.Context) error { return result })
		require.Equal(t, result, got, "the job's result is passed on")
	}
	run("fulfil", 1, errors.New("plugin call timed out"))
	run("fulfil", 2, nil)
	run("reverse", 1, river.JobCancel(errors.New("rejected")))
	run("report_fulfilment", 1, nil)
	require.Panics(t, func() {
		job := &rivertype.JobRow{Kind: "fulfil", EncodedArgs: args, Attempt: 3, MaxAttempts: 3, CreatedAt: time.Now()}
		_ = m.Work(context.Background(), job, func(context.Context) error { panic("bug in a worker") })
	}, "the panic is River's to recover")

	values := meter.Values(t)
	require.Equal(t, map[string]float64{
		`partnerhub.fulfilment.attempts{env="staging",kind="fulfil",outcome="retry",tenant="acme"}`:      1,
		`partnerhub.fulfilment.attempts{env="staging",kind="fulfil",outcome="succeeded",tenant="acme"}`:  1,
		`partnerhub.fulfilment.attempts{env="staging",kind="reverse",outcome="cancelled",tenant="acme"}`: 1,
		`partnerhub.fulfilment.attempts{env="staging",kind="fulfil",outcome="failed",tenant="acme"}`:     1,
		`partnerhub.fulfilment.attempt.duration_count{kind="fulfil",tenant="acme"}`:                      3,
		`partnerhub.fulfilment.attempt.duration_count{kind="reverse",tenant="acme"}`:                     1,
		`partnerhub.fulfilment.duration_count{kind="fulfil",tenant="acme"}`:                              1,
		`partnerhub.jobs.runs{kind="fulfil",outcome="retry"}`:                                            1,
		`partnerhub.jobs.runs{kind="fulfil",outcome="succeeded"}`:                                        1,
		`partnerhub.jobs.runs{kind="fulfil",outcome="failed"}`:                                           1,
		`partnerhub.jobs.runs{kind="reverse",outcome="cancelled"}`:                                       1,
		`partnerhub.jobs.runs{kind="report_fulfilment",outcome="succeeded"}`:                             1,
		// The outcomes alerted on are there at 0 from the first run on,
		// so their first increase is seen.
		`partnerhub.fulfilment.attempts{env="staging",kind="fulfil",outcome="cancelled",tenant="acme"}`: 0,
		`partnerhub.fulfilment.attempts{env="staging",kind="reverse",outcome="failed",tenant="acme"}`:   0,
		`partnerhub.jobs.runs{kind="fulfil",outcome="cancelled"}`:                                       0,
		`partnerhub.jobs.runs{kind="reverse",outcome="failed"}`:                                         0,
		`partnerhub.jobs.runs{kind="report_fulfilment",outcome="cancelled"}`:                            0,
		`partnerhub.jobs.runs{kind="report_fulfilment",outcome="failed"}`:                               0,
	}, values)
	for series := range values {
		require.NotContains(t, series, "C-SECRET-REF-P", "no reference in a label")
	}
}

// TestQueueStatsCached: the queue is read at most once per
// queueStatsMaxAge however often it is scraped, and every kind and state
// is reported, at 0 when empty. Ages are waits in the current state, not
// since first queued: every job here was queued a day ago and retried.
func TestQueueStatsCached(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	now := time.Now()
	qs := &queueStats{pool: pool, now: func() time.Time { return now }}
	// insert a job in state, due (scheduled_at) since due ago (negative:
	// due later), its current attempt begun ran ago.
	insert := func(state string, due, ran time.Duration) {
		t.Helper()
		_, err := pool.Exec(ctx, `INSERT INTO river_job (kind, args, queue, state, attempt, max_attempts, priority,
				created_at, scheduled_at, attempted_at, finalized_at)
			VALUES ('fulfil', '{}', 'default', $1::river_job_state, 3, 5, 1,
				now() - interval '24 hours', now() - $2::interval, now() - $3::interval,
				CASE WHEN $1 = 'completed' THEN now() END)`, state, due.String(), ran.String())
		require.NoError(t, err)
	}
	byKey := func(rows []queueRow) map[string]queueRow {
		out := map[string]queueRow{}
		for _, r := range rows {
			out[r.kind+"/"+r.state] = r
		}
		return out
	}
	insert("available", time.Hour, 2*time.Hour)
	insert("available", time.Minute, 2*time.Hour)
	insert("running", time.Hour, 30*time.Second)
	insert("scheduled", -time.Hour, 0)
	insert("completed", 24*time.Hour, 24*time.Hour)

	first := byKey(qs.get(ctx))
	require.Len(t, first, len(queueKinds)*len(queueStates))
	require.EqualValues(t, 2, first["fulfil/available"].count)
	require.InDelta(t, time.Hour.Seconds(), first["fulfil/available"].oldest.Seconds(), 60, "due an hour ago, not queued a day ago")
	require.InDelta(t, 30, first["fulfil/running"].oldest.Seconds(), 20, "running since its attempt began")
	require.EqualValues(t, 1, first["fulfil/scheduled"].count)
	require.Zero(t, first["fulfil/scheduled"].oldest, "not due yet")
	require.Zero(t, first["reverse/retryable"].count)

	insert("retryable", -time.Second, time.Second)
	require.Zero(t, byKey(qs.get(ctx))["fulfil/retryable"].count, "cached")
	now = now.Add(queueStatsMaxAge)
	require.EqualValues(t, 1, byKey(qs.get(ctx))["fulfil/retryable"].count, "read again once the cache is old")
}

// BenchmarkMetering is the metrics' cost per fulfil job run (the job
// itself does nothing here), off (a no-op provider) and on.
//
//	go test -run '^$' -bench Metering ./jobs
func BenchmarkMetering(b *testing.B) {
	args, err := json.Marshal(FulfilArgs{PaymentID: 1, PartnerCode: "acme", Env: "staging", Reference: "C-1-P"})
	require.NoError(b, err)
	for _, c := range []struct {
		name string
		mp   metric.MeterProvider
	}{
		{"metrics=off", noop.NewMeterProvider()},
		{"metrics=on", sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))},
	} {
		b.Run(c.name, func(b *testing.B) {
			m := newMetering(c.mp)
			job := &rivertype.JobRow{Kind: "fulfil", EncodedArgs: args, Attempt: 1, MaxAttempts: 3, CreatedAt: time.Now()}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_ = m.Work(ctx, job, func(context.Context) error { return nil })
			}
		})
	}
}
