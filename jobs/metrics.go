package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/partnerhub/partnerhub/internal/telemetry"
)

// Outcomes of a job run, the outcome label.
const (
	OutcomeSucceeded = "succeeded" // done (or found done already)
	OutcomeRetry     = "retry"     // failed; River tries again with backoff
	OutcomeFailed    = "failed"    // failed on its last attempt
	// OutcomeCancelled: ended for good without success: the plugin rejected
	// the payment, the retry horizon passed, or the payment is no longer
	// due (refunded, on hold, tenant gone). The fulfilment record says which.
	OutcomeCancelled = "cancelled"
	// OutcomeSnoozed: waits without using an attempt (tenant over its
	// cap, circuit breaker open, plugin host busy).
	OutcomeSnoozed = "snoozed"
)

// alertedOutcomes are the outcomes docs/operations.md alerts on at their
// first occurrence.
var alertedOutcomes = []string{OutcomeFailed, OutcomeCancelled}

// metering is the River middleware that counts job runs and times them:
// every kind by outcome, and the fulfilments (fulfil and reverse) by
// tenant too. Its tenant labels come from the job's arguments, which
// partnerhub wrote from a resolved tenant environment.
type metering struct {
	river.MiddlewareDefaults
	on       bool // false: a no-op provider, and Work only runs the job
	runs     metric.Int64Counter
	attempts metric.Int64Counter
	duration metric.Float64Histogram
	latency  metric.Float64Histogram
	// attrs caches each label combination's attribute set: kinds,
	// outcomes and tenants are bounded.
	attrs *telemetry.AttrCache[jobLabels]
}

// jobLabels are one measurement's labels; empty ones are left out.
type jobLabels struct{ tenant, env, kind, outcome string }

func (l jobLabels) attrs() []attribute.KeyValue {
	kvs := make([]attribute.KeyValue, 0, 4)
	for _, kv := range []struct{ k, v string }{{"tenant", l.tenant}, {"env", l.env}, {"kind", l.kind}, {"outcome", l.outcome}} {
		if kv.v != "" {
			kvs = append(kvs, attribute.String(kv.k, kv.v))
		}
	}
	return kvs
}

var _ rivertype.WorkerMiddleware = (*metering)(nil)

func newMetering(mp metric.MeterProvider) *metering {
	_, off := mp.(noop.MeterProvider)
	on := mp != nil && !off
	m := telemetry.MeterProvider(mp).Meter("github.com/partnerhub/partnerhub/jobs")
	// Errors only come from invalid names, fixed here; the instruments are
	// usable regardless.
	runs, _ := m.Int64Counter("partnerhub.jobs.runs", metric.WithUnit("{run}"),
		metric.WithDescription("Job runs (attempts) of every kind, by kind and outcome."))
	attempts, _ := m.Int64Counter("partnerhub.fulfilment.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Fulfilment attempts (kind fulfil: crediting a payment; reverse: taking it back), by tenant, environment, kind and outcome."))
	duration, _ := m.Float64Histogram("partnerhub.fulfilment.attempt.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(telemetry.BucketsFast...),
		metric.WithDescription("Time one fulfilment attempt took (plugin call and recording), by tenant and kind."))
	latency, _ := m.Float64Histogram("partnerhub.fulfilment.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(telemetry.BucketsSlow...),
		metric.WithDescription("Time from a fulfilment's job being queued (its payment event committed) until it succeeded, by tenant and kind."))
	return &metering{on: on, attrs: &telemetry.AttrCache[jobLabels]{}, runs: runs, attempts: attempts, duration: duration, latency: latency}
}

// Work runs the job and records its outcome.
func (m *metering) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	if !m.on {
		return doInner(ctx)
	}
	start := time.Now()
	finished := false
	defer func() {
		// A panicking job (River recovers it and counts it as an error) is
		// counted too; the panic goes on unchanged.
		if !finished {
			m.record(ctx, job, jobOutcome(ctx, job, errPanicked), time.Since(start))
		}
	}()
	err := doInner(ctx)
	finished = true
	m.record(ctx, job, jobOutcome(ctx, job, err), time.Since(start))
	return err
}

// errPanicked stands for the error River makes of a job's panic.
var errPanicked = errors.New("jobs: job panicked")

// record counts one run of job and, for a fulfilment, times it.
func (m *metering) record(ctx context.Context, job *rivertype.JobRow, outcome string, took time.Duration) {
	m.runs.Add(ctx, 1, m.attrs.Get(jobLabels{kind: job.Kind, outcome: outcome}, jobLabels.attrs))
	// The outcomes alerted on exist at 0 from a kind's (a tenant's) first
	// run, so that their first increase shows in increase() (a series born
	// at 1 does not); bounded like the others.
	for _, o := range alertedOutcomes {
		m.runs.Add(ctx, 0, m.attrs.Get(jobLabels{kind: job.Kind, outcome: o}, jobLabels.attrs))
	}
	if job.Kind != (FulfilArgs{}).Kind() && job.Kind != (ReverseArgs{}).Kind() {
		return
	}
	var args struct { // FulfilArgs and ReverseArgs alike
		PartnerCode string `json:"partner_code"`
		Env         string `json:"env"`
	}
	if json.Unmarshal(job.EncodedArgs, &args) != nil {
		return
	}
	m.attempts.Add(ctx, 1, m.attrs.Get(jobLabels{tenant: args.PartnerCode, env: args.Env, kind: job.Kind, outcome: outcome}, jobLabels.attrs))
	for _, o := range alertedOutcomes {
		m.attempts.Add(ctx, 0, m.attrs.Get(jobLabels{tenant: args.PartnerCode, env: args.Env, kind: job.Kind, outcome: o}, jobLabels.attrs))
	}
	byTenant := m.attrs.Get(jobLabels{tenant: args.PartnerCode, kind: job.Kind}, jobLabels.attrs)
	m.duration.Record(ctx, took.Seconds(), byTenant)
	if outcome == OutcomeSucceeded {
		m.latency.Record(ctx, time.Since(job.CreatedAt).Seconds(), byTenant)
	}
}

// jobOutcome classifies what a run returned, as River will act on it: a
// job cancelled remotely (River's JobCancel from another process) while it
// ran ends cancelled whatever error its cut-short work returned.
func jobOutcome(ctx context.Context, job *rivertype.JobRow, err error) string {
	var cancel *rivertype.JobCancelError
	var snooze *rivertype.JobSnoozeError
	switch {
	case err == nil:
		return OutcomeSucceeded
	case errors.As(err, &snooze):
		return OutcomeSnoozed
	case errors.As(err, &cancel), errors.Is(context.Cause(ctx), rivertype.ErrJobCancelledRemotely):
		return OutcomeCancelled
	case job.Attempt >= job.MaxAttempts:
		return OutcomeFailed
	default:
		return OutcomeRetry
	}
}

// registerQueueGauges reports the queue's depth and age by job kind and
// state from the river_job table, through queueStats' cache: a scrape
// costs at most one query per queueStatsMaxAge.
func registerQueueGauges(mp metric.MeterProvider, pool *pgxpool.Pool, log *slog.Logger) error {
	if pool == nil {
		return nil
	}
	m := telemetry.MeterProvider(mp).Meter("github.com/partnerhub/partnerhub/jobs")
	depth, err := m.Int64ObservableGauge("partnerhub.queue.depth", metric.WithUnit("{job}"),
		metric.WithDescription("Jobs in the queue by kind and state (available, running, retryable, scheduled); sampled at most every 10s."))
	if err != nil {
		return err
	}
	age, err := m.Float64ObservableGauge("partnerhub.queue.age", metric.WithUnit("s"),
		metric.WithDescription("Longest wait of a job in the queue by kind and state: a running job since its attempt began, any other since it was due (0 before; never since first queued, so retries do not add up); 0 when none; sampled at most every 10s."))
	if err != nil {
		return err
	}
	qs := &queueStats{pool: pool, log: log, now: time.Now}
	_, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		for _, r := range qs.get(ctx) {
			attrs := metric.WithAttributes(attribute.String("kind", r.kind), attribute.String("state", r.state))
			o.ObserveInt64(depth, r.count, attrs)
			o.ObserveFloat64(age, r.oldest.Seconds(), attrs)
		}
		return nil
	}, depth, age)
	return err
}
