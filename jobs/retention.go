package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// retentionBatch bounds one DELETE of the retention job.
const retentionBatch = 5000

// RetentionArgs asks for deliveries older than the retention period to be
// deleted. It runs hourly from River's leader, so once per cluster.
type RetentionArgs struct{}

// Kind is the River job kind.
func (RetentionArgs) Kind() string { return "retention" }

// InsertOpts keeps one retention job per hour however many nodes ask.
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
}

// RetentionWorker enforces PARTNERHUB_DELIVERY_RETENTION.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	deps Deps
	keep time.Duration
}

// Work deletes what is past the retention period, in bounded batches.
func (w *RetentionWorker) Work(ctx context.Context, job *river.Job[RetentionArgs]) error {
	cutoff := time.Now().Add(-w.keep)
	n, err := w.deps.Payments.PruneDeliveries(ctx, cutoff, retentionBatch)
	if err != nil {
		return fmt.Errorf("prune deliveries before %s: %w", cutoff.Format(time.RFC3339), err)
	}
	w.deps.Logger.InfoContext(ctx, "deliveries pruned", "deleted", n, "older_than", cutoff)
	return nil
}

// retentionPeriodic schedules the retention job hourly, and at start.
func retentionPeriodic() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}
