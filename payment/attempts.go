package payment

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// Outcomes of one attempt (fulfilment_attempts.outcome).
const (
	// OutcomeRunning: under way, or its node died before it ended.
	OutcomeRunning = "running"
	// OutcomeSucceeded: the plugin did it.
	OutcomeSucceeded = "succeeded"
	// OutcomeFailed: the plugin (or partnerhub) failed it; the reason says
	// how and the record whether it was final.
	OutcomeFailed = "failed"
	// OutcomeReleased: put back without an outcome (a shutdown, the plugin
	// host busy or replacing the process), to be tried again.
	OutcomeReleased = "released"
	// OutcomeUnknown: the job ended without recording an outcome; the
	// sweeper closed it.
	OutcomeUnknown = "unknown"
)

// ReasonNoOutcome is the last error of a record the sweeper marked failed:
// its job ended (node death on the last attempt, a cancel, an error before
// or after the plugin call) without recording an outcome. The plugin may
// or may not have acted, so a reversal still reverses it.
const ReasonNoOutcome = "job ended without an outcome"

// MayHaveActed reports whether the plugin may have acted on the record, so
// a reversal must take it back: it succeeded, or an attempt was made and
// is pending, or the sweeper failed it without knowing the outcome. A
// record rejected or given up credited nothing.
func (f Fulfilment) MayHaveActed() bool {
	return f.State != StateFailed || f.LastError == ReasonNoOutcome
}

// MaxTimelineAttempts bounds the attempts a timeline shows per record.
const MaxTimelineAttempts = 100

// Attempt is one try at a fulfilment or reversal, kept as history.
type Attempt struct {
	FulfilmentID int64
	Number       int
	StartedAt    time.Time
	FinishedAt   *time.Time
	Outcome      string
	Reason       string
	PluginID     int64
	Node         string // host name and pid; for operators, not tenants
}

// node names this process in the attempts it begins.
var node = sync.OnceValue(func() string {
	h, err := os.Hostname()
	if err != nil {
		h = "unknown"
	}
	return h + ":" + strconv.Itoa(os.Getpid())
})

// Released closes a fulfilment's open attempt without an outcome: the job
// was put back (shutdown, plugin host busy) and will try again.
func (s *Service) Released(ctx context.Context, fulfilmentID int64, reason string) error {
	return s.store.releaseAttempt(ctx, s.pool, fulfilmentID, reason)
}

// Attempts returns a fulfilment record's attempts, oldest first (the newest
// MaxTimelineAttempts).
func (s *Service) Attempts(ctx context.Context, fulfilmentID int64) ([]Attempt, error) {
	return s.store.attempts(ctx, s.pool, []int64{fulfilmentID}, MaxTimelineAttempts)
}

// JobRef names the job kind of a fulfilment record: one per payment and kind.
type JobRef struct {
	PaymentID int64
	Kind      string
}

// LiveJobsFunc reports, in tx, which of refs still have a job that may run
// (waiting, scheduled, retryable or running). The jobs package gives it:
// payment does not read River's tables.
type LiveJobsFunc func(ctx context.Context, tx pgx.Tx, refs []JobRef) (map[JobRef]bool, error)

// sweepBatch bounds the records one sweep transaction looks at.
const sweepBatch = 500

// FailStuck marks failed, with ReasonNoOutcome, every pending record
// untouched for at least grace that no job will ever settle — live says it
// has none — and whose payment still calls for it (not on hold, still paid
// or reversed), so an operator sees it in the failed list and can retry it.
// Records are locked while checked, so a concurrent retry or attempt waits
// or is skipped; it returns how many it marked.
func (s *Service) FailStuck(ctx context.Context, grace time.Duration, live LiveJobsFunc) (int, error) {
	total := 0
	for after := int64(0); ; {
		var n, seen int
		err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
			cands, err := s.store.stuckCandidates(ctx, tx, after, grace, sweepBatch)
			if err != nil {
				return err
			}
			seen = len(cands)
			refs := make([]JobRef, 0, len(cands))
			for _, c := range cands {
				after = max(after, c.id)
				if retryable(c.kind, Payment{Status: c.status, OnHold: c.onHold}) == nil {
					refs = append(refs, JobRef{PaymentID: c.paymentID, Kind: c.kind})
				}
			}
			if len(refs) == 0 {
				return nil
			}
			alive, err := live(ctx, tx, refs)
			if err != nil {
				return fmt.Errorf("live jobs: %w", err)
			}
			var ids []int64
			for _, c := range cands {
				ref := JobRef{PaymentID: c.paymentID, Kind: c.kind}
				if retryable(c.kind, Payment{Status: c.status, OnHold: c.onHold}) == nil && !alive[ref] {
					ids = append(ids, c.id)
				}
			}
			n, err = s.store.failNoOutcome(ctx, tx, ids)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("sweep stuck fulfilments: %w", err)
		}
		total += n
		if seen < sweepBatch {
			return total, nil
		}
	}
}
