package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/partnerhub/partnerhub/payment"
)

// Sweeper defaults.
const (
	// DefaultSweepInterval is how often the sweeper looks for fulfilments
	// stuck pending with no job (Config.SweepInterval).
	DefaultSweepInterval = 5 * time.Minute
	// sweepGrace: a record touched this recently is left alone, so a job
	// being queued or finishing right now is never raced.
	sweepGrace = time.Minute
	// sweepTimeout bounds one sweep, which may page through many records.
	sweepTimeout = 5 * time.Minute
)

// SweepArgs asks for pending fulfilments, reversals and fulfilment reports
// whose job ended without recording an outcome to be marked failed. It runs periodically
// from River's leader, so once per cluster.
type SweepArgs struct{}

// Kind is the River job kind.
func (SweepArgs) Kind() string { return "sweep_fulfilments" }

// SweepWorker finds what no job will ever settle: a node that died on the
// last attempt (River's rescuer discards the job), an outcome that could
// not be recorded, an error before the plugin call on the last attempt, a
// job cancelled by hand while running. Each such record is marked failed
// with payment.ReasonNoOutcome, so it is listed at ?state=failed and can
// be retried by hand, instead of staying pending forever. Fulfilment
// reports to Pay1st get the same (payment.FailStuckReports, with
// payment.ReasonReportNoOutcome).
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	deps Deps
}

// Timeout lets a sweep page through many records, past the job timeout
// meant for plugin calls.
func (w *SweepWorker) Timeout(*river.Job[SweepArgs]) time.Duration { return sweepTimeout }

// Work runs one sweep.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	n, err := w.deps.Payments.FailStuck(ctx, sweepGrace, liveJobsTx)
	if err != nil {
		return err
	}
	if n > 0 {
		w.deps.Logger.WarnContext(ctx, "fulfilments whose job ended without an outcome marked failed", "count", n)
	}
	n, err = w.deps.Payments.FailStuckReports(ctx, sweepGrace, liveJobsTx)
	if err != nil {
		return err
	}
	if n > 0 {
		w.deps.Logger.WarnContext(ctx, "fulfilment reports whose job ended without an outcome marked failed", "count", n)
	}
	return nil
}

// liveJobsTx reports which of refs still have a fulfil, reverse or report
// job that may run: not finalized (waiting, scheduled, retryable or
// running). Containment (@>) uses River's GIN index on args.
func liveJobsTx(ctx context.Context, tx pgx.Tx, refs []payment.JobRef) (map[payment.JobRef]bool, error) {
	ids := make([]int64, len(refs))
	kinds := make([]string, len(refs))
	for i, r := range refs {
		ids[i], kinds[i] = r.PaymentID, jobKind(r.Kind)
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT r.payment_id, r.kind
		FROM unnest($1::bigint[], $2::text[]) AS r (payment_id, kind)
		JOIN river_job j ON j.kind = r.kind AND j.args @> jsonb_build_object('payment_id', r.payment_id)
		WHERE j.finalized_at IS NULL`, ids, kinds)
	if err != nil {
		return nil, fmt.Errorf("jobs: live jobs: %w", err)
	}
	live, err := pgx.CollectRows(rows, pgx.RowToStructByPos[payment.JobRef])
	if err != nil {
		return nil, fmt.Errorf("jobs: live jobs: %w", err)
	}
	out := make(map[payment.JobRef]bool, len(live))
	for _, r := range live {
		if r.Kind == (ReportArgs{}).Kind() {
			r.Kind = payment.KindReport
		}
		out[r] = true
	}
	return out, nil
}

// jobKind is the River job kind of a payment.JobRef kind: the fulfilment
// kinds are their jobs' kinds; a report's job is ReportArgs.
func jobKind(kind string) string {
	if kind == payment.KindReport {
		return ReportArgs{}.Kind()
	}
	return kind
}

// sweepPeriodic schedules the sweeper every interval, and at start. Only
// the leader inserts periodic jobs; uniqueness by period keeps one per
// interval through a change of leader.
func sweepPeriodic(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return SweepArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: interval}}
		},
		&river.PeriodicJobOpts{RunOnStart: true})
}
