package jobs

import (
	"context"
	"encoding/json"
	"errors"
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
			require.Equal(t, tt.want, jobOutcome(job, tt.err))
		})
	}
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

	values := meter.Values(t)
	require.Equal(t, map[string]float64{
		`partnerhub.fulfilment.attempts{env="staging",kind="fulfil",outcome="retry",tenant="acme"}`:      1,
		`partnerhub.fulfilment.attempts{env="staging",kind="fulfil",outcome="succeeded",tenant="acme"}`:  1,
		`partnerhub.fulfilment.attempts{env="staging",kind="reverse",outcome="cancelled",tenant="acme"}`: 1,
		`partnerhub.fulfilment.attempt.duration_count{kind="fulfil",tenant="acme"}`:                      2,
		`partnerhub.fulfilment.attempt.duration_count{kind="reverse",tenant="acme"}`:                     1,
		`partnerhub.fulfilment.duration_count{kind="fulfil",tenant="acme"}`:                              1,
		`partnerhub.jobs.runs{kind="fulfil",outcome="retry"}`:                                            1,
		`partnerhub.jobs.runs{kind="fulfil",outcome="succeeded"}`:                                        1,
		`partnerhub.jobs.runs{kind="reverse",outcome="cancelled"}`:                                       1,
		`partnerhub.jobs.runs{kind="report_fulfilment",outcome="succeeded"}`:                             1,
	}, values)
	for series := range values {
		require.NotContains(t, series, "C-SECRET-REF-P", "no reference in a label")
	}
}

// TestQueueStatsCached: the queue is read at most once per
// queueStatsMaxAge however often it is scraped, and every kind and state
// is reported, at 0 when empty.
func TestQueueStatsCached(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	now := time.Now()
	qs := &queueStats{pool: pool, now: func() time.Time { return now }}
	insert := func(state string, age time.Duration) {
		t.Helper()
		_, err := pool.Exec(ctx, `INSERT INTO river_job (kind, args, queue, state, max_attempts, priority, created_at, scheduled_at, finalized_at)
			VALUES ('fulfil', '{}', 'default', $1::river_job_state, 5, 1, now() - $2::interval, now(),
				CASE WHEN $1 = 'completed' THEN now() END)`, state, age.String())
		require.NoError(t, err)
	}
	byKey := func(rows []queueRow) map[string]queueRow {
		out := map[string]queueRow{}
		for _, r := range rows {
			out[r.kind+"/"+r.state] = r
		}
		return out
	}
	insert("available", time.Hour)
	insert("available", time.Minute)
	insert("completed", 24*time.Hour)

	first := byKey(qs.get(ctx))
	require.Len(t, first, len(queueKinds)*len(queueStates))
	require.EqualValues(t, 2, first["fulfil/available"].count)
	require.InDelta(t, time.Hour.Seconds(), first["fulfil/available"].oldest.Seconds(), 60, "the oldest job's age")
	require.Zero(t, first["reverse/retryable"].count)

	insert("retryable", time.Second)
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
