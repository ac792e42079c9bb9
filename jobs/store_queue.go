package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Limits of the queue gauges' query: a scrape (or many, or a scraper
// gone wild) costs at most one query per queueStatsMaxAge, each bounded by
// queueStatsTimeout; a failed query is not retried before the next period.
const (
	queueStatsMaxAge  = 10 * time.Second
	queueStatsTimeout = 2 * time.Second
)

// queueStates are the states of jobs not yet finished: the ones reported.
var queueStates = []string{"available", "running", "retryable", "scheduled"}

// queueKinds are partnerhub's job kinds, reported at 0 when none is
// queued so that a series does not vanish when its queue empties.
var queueKinds = []string{
	FulfilArgs{}.Kind(), ReverseArgs{}.Kind(), ReportArgs{}.Kind(), ReconcileArgs{}.Kind(),
	RetentionArgs{}.Kind(), SweepArgs{}.Kind(),
}

type queueRow struct {
	kind, state string
	count       int64
	oldest      time.Duration
}

// queueStats caches the queue's counts. get never waits for more than one
// query: concurrent callers wait on mu for the one in flight.
type queueStats struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	now  func() time.Time

	mu   sync.Mutex
	at   time.Time // when rows were read (or the read failed)
	rows []queueRow
}

func (q *queueStats) get(ctx context.Context) []queueRow {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.at.IsZero() && q.now().Sub(q.at) < queueStatsMaxAge {
		return q.rows
	}
	q.at = q.now()
	rows, err := q.read(ctx)
	if err != nil {
		// Stale counts would look healthy: report none until a read works.
		q.rows = nil
		if q.log != nil {
			q.log.WarnContext(ctx, "queue metrics: cannot read the queue", "err", err)
		}
		return nil
	}
	q.rows = rows
	return rows
}

// read counts unfinished jobs by kind and state, with the age of the
// oldest. It reads the jobs River's fetch index covers (unfinished ones),
// so its cost follows the backlog, not the table's history.
//
// The age is how long a job has been waiting in its current state, not
// since it was first queued (a job retried for hours is not a backlog): a
// running job since its attempt began (attempted_at), any other since it
// became due (scheduled_at: for available jobs when they became available
// again after a retry's backoff; retryable and scheduled ones are 0 until
// overdue, i.e. until River fails to move them on).
func (q *queueStats) read(ctx context.Context) ([]queueRow, error) {
	ctx, cancel := context.WithTimeout(ctx, queueStatsTimeout)
	defer cancel()
	rows, err := q.pool.Query(ctx, `
		SELECT kind, state::text, count(*), EXTRACT(EPOCH FROM now() - min(
			CASE WHEN state = 'running' THEN coalesce(attempted_at, scheduled_at) ELSE scheduled_at END))::float8
		FROM river_job WHERE state = ANY($1::river_job_state[])
		GROUP BY kind, state`, queueStates)
	if err != nil {
		return nil, fmt.Errorf("jobs: queue stats: %w", err)
	}
	defer rows.Close()
	seen := map[[2]string]bool{}
	var out []queueRow
	for rows.Next() {
		var r queueRow
		var secs float64
		if err := rows.Scan(&r.kind, &r.state, &r.count, &secs); err != nil {
			return nil, fmt.Errorf("jobs: queue stats: %w", err)
		}
		r.oldest = time.Duration(max(secs, 0) * float64(time.Second))
		seen[[2]string{r.kind, r.state}] = true
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobs: queue stats: %w", err)
	}
	for _, k := range queueKinds {
		for _, s := range queueStates {
			if !seen[[2]string{k, s}] {
				out = append(out, queueRow{kind: k, state: s})
			}
		}
	}
	return out, nil
}
