package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Queues. River fetches a queue's available jobs by (priority,
// scheduled_at, id): one tenant's thousands of queued fulfilments would sit
// in front of every other tenant's. So a tenant environment found over its
// concurrency cap has its waiting backlog moved to QueueOverflow, a queue
// with only a cap's worth of workers, and QueueDefault stays free for
// everyone else. New jobs always go to QueueDefault; they move only while
// their tenant environment is over its cap.
const (
	QueueDefault  = "default"
	QueueOverflow = "overflow"
)

// Fairness defaults (Config).
const (
	DefaultTenantConcurrency = 10
	DefaultBreakerFailures   = 5
	DefaultBreakerCoolOff    = 30 * time.Second
	// overCapSnooze is how long a job fetched over its tenant's cap waits,
	// in the overflow queue, before it is tried again.
	overCapSnooze = 500 * time.Millisecond
	// moveEvery throttles backlog moves of one tenant environment.
	moveEvery = time.Second
)

// envKey names a tenant environment: the unit of caps and breakers.
type envKey struct{ partnerCode, env string }

// gate holds, per tenant environment on this node, the jobs running and the
// plugin circuit breaker. Both are per node: with n nodes a tenant runs at
// most n × cap jobs at once.
type gate struct {
	cap       int
	threshold int
	coolOff   time.Duration
	now       func() time.Time

	mu    sync.Mutex
	state map[envKey]*envState
}

type envState struct {
	running   int
	failures  int       // consecutive failed plugin calls
	openUntil time.Time // breaker open (jobs wait) until then
	movedAt   time.Time // last backlog move to the overflow queue
}

func newGate(cap, threshold int, coolOff time.Duration) *gate {
	return &gate{cap: cap, threshold: threshold, coolOff: coolOff, now: time.Now, state: map[envKey]*envState{}}
}

// verdict is what enter decided for a job.
type verdict int

const (
	admitted    verdict = iota
	overCap             // the tenant environment runs its cap of jobs already
	breakerOpen         // its plugin failed threshold times in a row: cooling off
)

// enter admits a job of k, counting it as running until release, or says
// why it must wait and until when.
func (g *gate) enter(k envKey) (verdict, time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.of(k)
	now := g.now()
	if now.Before(s.openUntil) {
		return breakerOpen, s.openUntil
	}
	if s.running >= g.cap {
		return overCap, now.Add(overCapSnooze)
	}
	s.running++
	return admitted, time.Time{}
}

// probe admits a job of k whatever its breaker says.
func (g *gate) probe(k envKey) verdict {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.of(k).running++
	return admitted
}

// release ends a job admitted by enter.
func (g *gate) release(k envKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.of(k)
	s.running--
	if s.running <= 0 && s.failures == 0 && s.openUntil.IsZero() {
		delete(g.state, k) // forget quiet tenants: the map stays small
	}
}

// succeeded records a plugin call that worked (fulfilled or rejected: the
// plugin answered), closing the breaker.
func (g *gate) succeeded(k envKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.of(k)
	s.failures, s.openUntil = 0, time.Time{}
}

// failed records a failed plugin call (error, retry answer, plugin not
// available). The threshold-th failure in a row opens the breaker for the
// cool-off; after it one failure opens it again (half-open).
func (g *gate) failed(k envKey) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.of(k)
	s.failures++
	if g.threshold > 0 && s.failures >= g.threshold {
		s.openUntil = g.now().Add(g.coolOff)
		return true
	}
	return false
}

// shouldMove reports whether k's backlog is due a move to the overflow
// queue, and notes the move.
func (g *gate) shouldMove(k envKey) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.of(k)
	now := g.now()
	if now.Sub(s.movedAt) < moveEvery {
		return false
	}
	s.movedAt = now
	return true
}

func (g *gate) of(k envKey) *envState {
	s := g.state[k]
	if s == nil {
		s = &envState{}
		g.state[k] = s
	}
	return s
}

// moveToOverflow moves a tenant environment's waiting fulfil and reverse
// jobs, and the job jobID being snoozed, to the overflow queue. Locked rows
// (being fetched right now) are skipped: they run or are snoozed anyway.
// Containment (@>) uses River's GIN index on args.
func moveToOverflow(ctx context.Context, pool *pgxpool.Pool, k envKey, jobID int64) (int64, error) {
	tag, err := pool.Exec(ctx, `UPDATE river_job SET queue = $4
		WHERE id IN (
			SELECT id FROM river_job
			WHERE (id = $3 OR (state = 'available' AND queue = $5))
			  AND kind IN ('fulfil', 'reverse')
			  AND args @> jsonb_build_object('partner_code', $1::text, 'env', $2::text)
			FOR UPDATE SKIP LOCKED)`,
		k.partnerCode, k.env, jobID, QueueOverflow, QueueDefault)
	if err != nil {
		return 0, fmt.Errorf("jobs: move %s/%s backlog to overflow: %w", k.partnerCode, k.env, err)
	}
	return tag.RowsAffected(), nil
}

// engine is what fulfil and reverse workers share beyond Deps: the retry
// schedule and the per-tenant gate.
type engine struct {
	pool  *pgxpool.Pool
	log   *slog.Logger
	retry *RetryPolicy
	gate  *gate
}

// admit lets a job of k run, returning the release to defer, or a River
// snooze: until the breaker's cool-off ends (a snooze does not use up an
// attempt in River 0.51), or briefly in the overflow queue when k runs its
// cap of jobs already — its waiting backlog moves there too, so it no
// longer stands in front of other tenants' jobs.
func (e *engine) admit(ctx context.Context, k envKey, job *rivertype.JobRow) (func(), error) {
	v, until := e.gate.enter(k)
	if v == breakerOpen && time.Since(job.CreatedAt) > e.retry.horizon {
		// Past its horizon: let it try once more and fail for good, rather
		// than wait out cool-offs forever.
		v, until = e.gate.probe(k), time.Time{}
	}
	switch v {
	case breakerOpen:
		// Spread the wake-ups of a large backlog over a second.
		wait := time.Until(until) + time.Duration(job.ID%1000)*time.Millisecond
		return nil, river.JobSnooze(max(wait, time.Millisecond))
	case overCap:
		if job.Queue != QueueOverflow {
			if e.gate.shouldMove(k) {
				n, err := moveToOverflow(ctx, e.pool, k, job.ID)
				if err != nil {
					e.log.WarnContext(ctx, "move backlog to overflow queue", "err", err)
				} else {
					e.log.InfoContext(ctx, "tenant over its concurrency cap: backlog moved to the overflow queue",
						"partner_code", k.partnerCode, "env", k.env, "jobs", n)
				}
			} else if _, err := moveJobToOverflow(ctx, e.pool, job.ID); err != nil {
				e.log.WarnContext(ctx, "move job to overflow queue", "err", err)
			}
		}
		return nil, river.JobSnooze(time.Until(until) + time.Duration(job.ID%100)*time.Millisecond)
	}
	return func() { e.gate.release(k) }, nil
}

func moveJobToOverflow(ctx context.Context, pool *pgxpool.Pool, jobID int64) (int64, error) {
	tag, err := pool.Exec(ctx, `UPDATE river_job SET queue = $2 WHERE id = $1`, jobID, QueueOverflow)
	if err != nil {
		return 0, fmt.Errorf("jobs: move job %d to overflow: %w", jobID, err)
	}
	return tag.RowsAffected(), nil
}
