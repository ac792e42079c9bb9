package jobs

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Queues. River fetches a queue's available jobs by (priority,
// scheduled_at, id): one tenant's thousands of queued fulfilments would sit
// in front of every other tenant's. A tenant environment's jobs beyond its
// concurrency cap first wait in process for a slot (a few per slot, handed
// over the moment a job of it finishes: no snooze, no round trip), so a
// tenant alone at a rate its plugin sustains is never pushed back. Only
// when more are fetched than that — a real backlog — is its waiting
// backlog moved to QueueOverflow, a queue with a couple of caps' worth of
// workers, and QueueDefault stays free for everyone else. New jobs always
// go to QueueDefault, and a tenant's backlog moves back to it as soon as
// the tenant runs under its cap again, so a tenant over its cap for a
// moment is not left behind another tenant's flood.
const (
	QueueDefault  = "default"
	QueueOverflow = "overflow"
)

// Fairness defaults (Config).
const (
	DefaultTenantConcurrency = 10
	DefaultBreakerFailures   = 5
	DefaultBreakerCoolOff    = 30 * time.Second
	// overCapSnooze is how long a job over its tenant's cap, with the
	// tenant's waiting room full, waits in the overflow queue before it is
	// tried again (plus up to overCapJitter, and the overflow queue's
	// poll). Short: a burst past the waiting room is usually over in a
	// moment, and a flood's jobs in the overflow queue mostly wait in
	// process rather than snooze, so retrying soon costs little.
	overCapSnooze = 100 * time.Millisecond
	overCapJitter = 50 * time.Millisecond
	// slotWait bounds how long a job waits in process for its tenant's
	// slot (holding a River worker) before it is snoozed instead.
	slotWait = 5 * time.Second
	// aloneFor is how long no other tenant environment may have started a
	// job on this node for a tenant environment to count as alone, and run
	// up to its burst cap: a second, so that another tenant's stream of
	// short jobs (one at a time) keeps the cap in force between its jobs.
	aloneFor = time.Second
	// overflowPoll is how often the overflow queue looks for jobs due.
	overflowPoll = 100 * time.Millisecond
	// moveEvery throttles backlog moves of one tenant environment to the
	// overflow queue.
	moveEvery = time.Second
	// moveBackChunk jobs at most move back to the default queue at a
	// time, at most every moveBackEvery: a tenant under its cap gets its
	// oldest jobs back, a chunk at a time as they run, and a flood's
	// thousands are never shuffled back and forth.
	moveBackChunk = 20
	moveBackEvery = 100 * time.Millisecond
)

// envKey names a tenant environment: the unit of caps and breakers.
type envKey struct{ partnerCode, env string }

// gate holds, per tenant environment on this node, the jobs running and
// waiting and the plugin circuit breaker. Both are per node: with n nodes a
// tenant runs at most n × cap jobs at once (n × burst where it is alone).
type gate struct {
	cap int
	// burst is the cap of a tenant environment alone on the node (no other
	// has a job running or started one within aloneFor): the cap is there
	// to share the node, and a node serving one tenant has nothing to share.
	// cap when lower.
	burst int
	// room is how many jobs of one tenant environment may wait in process
	// for a slot (each holds a River worker); cap when zero.
	room      int
	threshold int
	coolOff   time.Duration
	now       func() time.Time

	mu    sync.Mutex
	state map[envKey]*envState
	// busy counts the tenant environments with jobs running.
	busy int
	// recent is the last admission's tenant environment and time, and
	// other the last admission of any other one: enough to tell whether
	// anyone but k started a job lately.
	recent, other admission
}

type admission struct {
	k  envKey
	at time.Time
}

type envState struct {
	running int
	// waiting: jobs over the cap waiting for a running one to hand them
	// its slot, oldest job first (release hands it to waiting[0]).
	waiting    []*waiter
	failures   int       // consecutive failed plugin calls
	openUntil  time.Time // breaker open (jobs wait) until then
	movedAt    time.Time // last backlog move to the overflow queue
	backAt     time.Time // last move back to the default queue
	overflowed bool      // jobs of it may be in the overflow queue
}

// waiter is a job waiting in process for its tenant's slot. Its slot is
// closed when it is handed a slot, or when an older job took its place in a
// full waiting room (displaced).
type waiter struct {
	age       int64 // the job's ID: lower is older
	slot      chan struct{}
	displaced bool
}

func newGate(cap, threshold int, coolOff time.Duration) *gate {
	return &gate{cap: cap, burst: cap, threshold: threshold, coolOff: coolOff, now: time.Now, state: map[envKey]*envState{}}
}

// limitLocked is how many jobs of k may run now: its burst cap while it is
// alone on the node, else its cap.
func (g *gate) limitLocked(k envKey, s *envState, now time.Time) int {
	if g.burst <= g.cap {
		return g.cap
	}
	self := 0
	if s.running > 0 {
		self = 1
	}
	last := g.recent
	if last.k == k {
		last = g.other
	}
	if g.busy > self || (!last.at.IsZero() && now.Sub(last.at) < aloneFor) {
		return g.cap
	}
	return g.burst
}

// admitLocked counts a job of k as running.
func (g *gate) admitLocked(k envKey, s *envState, now time.Time) {
	if s.running == 0 {
		g.busy++
	}
	s.running++
	if g.recent.k != k {
		g.other = g.recent
	}
	g.recent = admission{k, now}
}

// verdict is what enter decided for a job.
type verdict int

const (
	admitted    verdict = iota
	overCap             // the tenant environment runs its cap of jobs already
	breakerOpen         // its plugin failed threshold times in a row: cooling off
)

// enter admits a job of k, counting it as running until release, or says
// why it must wait and until when. It never waits in process.
func (g *gate) enter(k envKey) (verdict, time.Time) {
	return g.acquire(context.Background(), k, 0, false, 0)
}

// acquire admits a job of k (age: its ID), counting it as running until
// release. Over the cap, it waits in process up to wait for a slot, oldest
// job first. A full waiting room turns away the youngest job, this one or
// a waiter it displaces: a job back from the overflow queue is older than
// the ones that arrived while it was away, so it is served before them
// instead of being snoozed again behind them. The one turned away, or one
// past its wait, is told overCap and until when to snooze. A probe is not
// held back by the breaker (a job past its retry horizon tries once more,
// to fail for good) but is by the cap: a tenant down for a day must not
// take every worker with its backlog.
func (g *gate) acquire(ctx context.Context, k envKey, age int64, probe bool, wait time.Duration) (verdict, time.Time) {
	g.mu.Lock()
	s := g.of(k)
	now := g.now()
	if !probe && now.Before(s.openUntil) {
		g.mu.Unlock()
		return breakerOpen, s.openUntil
	}
	g.handOverLocked(k, s, now) // its limit rose (alone now): waiters first
	if s.running < g.limitLocked(k, s, now) {
		g.admitLocked(k, s, now)
		g.mu.Unlock()
		return admitted, time.Time{}
	}
	if wait <= 0 {
		g.mu.Unlock()
		return overCap, now.Add(overCapSnooze)
	}
	if len(s.waiting) >= max(g.room, g.cap) {
		youngest := s.waiting[len(s.waiting)-1]
		if age >= youngest.age {
			g.mu.Unlock()
			return overCap, now.Add(overCapSnooze)
		}
		youngest.displaced = true
		close(youngest.slot)
		s.waiting = s.waiting[:len(s.waiting)-1]
	}
	w := &waiter{age: age, slot: make(chan struct{})}
	at, _ := slices.BinarySearchFunc(s.waiting, age, func(w *waiter, age int64) int { return cmp.Compare(w.age, age) })
	s.waiting = slices.Insert(s.waiting, at, w)
	g.mu.Unlock()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-w.slot:
	case <-ctx.Done():
	case <-timer.C:
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-w.slot:
		if w.displaced {
			break // an older job took its place: it was never counted
		}
		// Handed a slot (maybe just as the wait ended): it counts as running.
		if ctx.Err() == nil && (probe || !g.now().Before(s.openUntil)) {
			return admitted, time.Time{}
		}
		g.releaseLocked(k, s)
		if ctx.Err() == nil {
			return breakerOpen, s.openUntil // opened while this one waited
		}
	default:
		s.waiting = slices.DeleteFunc(s.waiting, func(o *waiter) bool { return o == w })
	}
	return overCap, g.now().Add(overCapSnooze)
}

// probe admits a job of k whatever its breaker says, within its cap.
func (g *gate) probe(ctx context.Context, k envKey, age int64, wait time.Duration) (verdict, time.Time) {
	return g.acquire(ctx, k, age, true, wait)
}

// release ends a job admitted by enter or acquire, handing its slot to the
// first job waiting for one.
func (g *gate) release(k envKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked(k, g.of(k))
}

func (g *gate) releaseLocked(k envKey, s *envState) {
	now := g.now()
	s.running--
	if s.running == 0 {
		g.busy--
	}
	g.handOverLocked(k, s, now)
	if s.running == 0 && s.failures == 0 && s.openUntil.IsZero() && !s.overflowed {
		delete(g.state, k) // forget quiet tenants: the map stays small
	}
}

// handOverLocked gives free slots to the oldest waiters: the one just
// freed, or more once k is alone and may run its burst, or none while it
// gives back a burst because another tenant appeared.
func (g *gate) handOverLocked(k envKey, s *envState, now time.Time) {
	for len(s.waiting) > 0 && s.running < g.limitLocked(k, s, now) {
		w := s.waiting[0]
		s.waiting = s.waiting[1:]
		g.admitLocked(k, s, now)
		close(w.slot) // handed over: it counts as running
	}
}

// dueBack reports whether some of k's backlog is due back in the default
// queue: jobs of it were moved to the overflow queue, and it runs under its
// cap with none waiting. Noted: the next is not due before moveBackEvery.
// A flood draining from the overflow queue dips under its cap now and then
// between fetches: that moves a chunk of its oldest jobs back, which then
// run from the default queue or, over the cap, return — a bounded cost.
func (g *gate) dueBack(k envKey) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.state[k]
	if !ok {
		return false
	}
	now := g.now()
	if !s.overflowed || s.running >= g.cap || len(s.waiting) > 0 || now.Sub(s.backAt) < moveBackEvery {
		return false
	}
	s.backAt, s.overflowed = now, false
	return true
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

// overflowed notes that jobs of k were moved to the overflow queue: noted
// after the move, so that a move back racing it is followed by another.
func (g *gate) overflowed(k envKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.of(k).overflowed = true
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

// moveBack returns up to limit of a tenant environment's oldest jobs
// waiting in the overflow queue to the default queue, due now: the over-cap
// snooze was only a pause, and they go back among other tenants' jobs by
// their age. Running ones move too: a job just snoozed over the cap is
// still running in the table until River records the snooze, a moment
// later, and would otherwise stay behind.
func moveBack(ctx context.Context, pool *pgxpool.Pool, k envKey, limit int) (int64, error) {
	tag, err := pool.Exec(ctx, `UPDATE river_job SET queue = $4,
			scheduled_at = CASE WHEN state = 'available' THEN least(scheduled_at, now()) ELSE scheduled_at END
		WHERE id IN (
			SELECT id FROM river_job
			WHERE state IN ('available', 'scheduled', 'running') AND queue = $3
			  AND kind IN ('fulfil', 'reverse')
			  AND args @> jsonb_build_object('partner_code', $1::text, 'env', $2::text)
			ORDER BY id LIMIT $5
			FOR UPDATE SKIP LOCKED)`,
		k.partnerCode, k.env, QueueOverflow, QueueDefault, limit)
	if err != nil {
		return 0, fmt.Errorf("jobs: move %s/%s backlog back to default: %w", k.partnerCode, k.env, err)
	}
	return tag.RowsAffected(), nil
}

// engine is what fulfil and reverse workers share beyond Deps: the retry
// schedule, the per-tenant gate and the plugin keys resolved lately.
type engine struct {
	pool  *pgxpool.Pool
	log   *slog.Logger
	retry *RetryPolicy
	gate  *gate
	keys  *keyCache
}

// admit lets a job of k run, returning the release to defer, or a River
// snooze: until the breaker's cool-off ends (a snooze does not use up an
// attempt in River 0.51), or briefly in the overflow queue when k runs its
// cap of jobs and has its cap waiting already — its waiting backlog moves
// there too, so it no longer stands in front of other tenants' jobs.
func (e *engine) admit(ctx context.Context, k envKey, job *rivertype.JobRow) (func(), error) {
	v, until := e.gate.acquire(ctx, k, job.ID, false, slotWait)
	if v == breakerOpen && time.Since(job.CreatedAt) > e.retry.horizon {
		// Past its horizon: let it try once more and fail for good, rather
		// than wait out cool-offs forever; still within the cap.
		v, until = e.gate.probe(ctx, k, job.ID, slotWait)
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
			e.gate.overflowed(k)
		}
		return nil, river.JobSnooze(max(time.Until(until), time.Millisecond) + time.Duration(job.ID)%overCapJitter)
	}
	if e.gate.dueBack(k) {
		e.moveBack(ctx, k)
	}
	return func() {
		e.gate.release(k)
		if e.gate.dueBack(k) {
			e.moveBack(ctx, k)
		}
	}, nil
}

// moveBack returns a chunk of k's overflow backlog to the default queue,
// logging a failure: the jobs still run from the overflow queue, only later.
func (e *engine) moveBack(ctx context.Context, k envKey) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	n, err := moveBack(ctx, e.pool, k, moveBackChunk)
	if err != nil || n == moveBackChunk {
		e.gate.overflowed(k) // more (may) wait there: the next one under the cap moves them
	}
	if err != nil {
		e.log.WarnContext(ctx, "move backlog back to the default queue", "err", err)
		return
	}
	if n > 0 {
		e.log.InfoContext(ctx, "tenant under its concurrency cap again: backlog moved back to the default queue",
			"partner_code", k.partnerCode, "env", k.env, "jobs", n)
	}
}

func moveJobToOverflow(ctx context.Context, pool *pgxpool.Pool, jobID int64) (int64, error) {
	tag, err := pool.Exec(ctx, `UPDATE river_job SET queue = $2 WHERE id = $1`, jobID, QueueOverflow)
	if err != nil {
		return 0, fmt.Errorf("jobs: move job %d to overflow: %w", jobID, err)
	}
	return tag.RowsAffected(), nil
}
