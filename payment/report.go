package payment

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// Fulfilment reports: Pay1st is Merchant of Record and must hear that a
// gateway payment — one partnerhub created as an order — was delivered
// (Fulfilment Completion, protocol §5). The report record is created, and
// its job queued, in the transaction that records the fulfilment's success
// (SucceedTx), so a success without its report cannot exist. The record,
// not the job, says whether Pay1st accepted it: a job that runs again after
// success does nothing. Shop (Summary) payments have no order and no report.

// MaxReportError bounds a report's last error (the column allows 1024).
const MaxReportError = 500

// ReportedProduct is one line of a fulfilment report: a SKU of the order and
// the quantity delivered.
type ReportedProduct struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// Report is the fulfilment report record of a gateway payment.
type Report struct {
	ID        int64
	TenantID  int64
	Env       string
	PaymentID int64
	Reference string
	// State is StatePending (to report, or being retried), StateSucceeded
	// (Pay1st accepted it; never reported again) or StateFailed (retries
	// ran out; RetryReport queues it again).
	State string
	// Attempts counts the calls made to Pay1st (counted just before each).
	Attempts  int
	LastError string // redacted and clipped: never credentials or tokens
	// FulfilledAt is when the game was credited: the fulfilmentTime sent.
	FulfilledAt time.Time
	// Products are the lines Pay1st accepted, once it did.
	Products   []ReportedProduct
	ReportedAt *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// ReportJob is what Enqueuer.RunReportNowTx found of a report's job.
type ReportJob int

const (
	// ReportJobNone: no job of the report waits or runs.
	ReportJobNone ReportJob = iota
	// ReportJobMoved: a job was waiting (scheduled, retryable, available)
	// and now runs at once.
	ReportJobMoved
	// ReportJobRunning: a job is running right now.
	ReportJobRunning
)

// ReasonReportNoOutcome is the last error of a report the sweeper marked
// failed (FailStuckReports).
const ReasonReportNoOutcome = "its job ended without an outcome"

// KindReport is the JobRef kind of a report's job (FailStuckReports).
const KindReport = "report"

// queueReportTx creates the report record of a fulfilment that just
// succeeded, and queues its job, when the fulfilment is a fulfil (not a
// reversal) of a payment partnerhub created as an order. Anything else
// queues nothing, at the cost of one statement.
func (s *Service) queueReportTx(ctx context.Context, tx pgx.Tx, fulfilmentID int64) error {
	r, created, err := s.store.insertReport(ctx, tx, fulfilmentID)
	if err != nil || !created {
		return err
	}
	if _, err := s.enq.EnqueueReportTx(ctx, tx, r); err != nil {
		return fmt.Errorf("enqueue fulfilment report: %w", err)
	}
	return nil
}

// Report returns the fulfilment report record of a payment; ErrNotFound
// when it has none (not a gateway payment, or not fulfilled yet).
func (s *Service) Report(ctx context.Context, paymentID int64) (Report, error) {
	return s.store.report(ctx, s.pool, paymentID)
}

// BeginReportAttempt counts a call to Pay1st reporting the payment's
// fulfilment, made right after it, and returns the record. A record that
// is not pending is returned as it is, uncounted: its State says why
// nothing is to be done.
func (s *Service) BeginReportAttempt(ctx context.Context, paymentID int64) (Report, error) {
	r, err := s.store.beginReportAttempt(ctx, s.pool, paymentID)
	if err != nil {
		return r, fmt.Errorf("begin report attempt: %w", err)
	}
	return r, nil
}

// ReportSucceeded records that Pay1st accepted the report with products;
// false when the record was not pending (already succeeded, say).
func (s *Service) ReportSucceeded(ctx context.Context, paymentID int64, products []ReportedProduct) (bool, error) {
	return s.store.reportSucceeded(ctx, s.pool, paymentID, products)
}

// ReportFailed keeps why an attempt failed (reason must already be
// redacted; it is clipped here); final marks the record failed.
func (s *Service) ReportFailed(ctx context.Context, paymentID int64, reason string, final bool) error {
	return s.store.reportFailed(ctx, s.pool, paymentID, clipReportError(reason), final)
}

// ErrReportNotRetryable: there is nothing to retry — the report succeeded
// (Pay1st has it), or a job of it is running right now.
var ErrReportNotRetryable = errors.New("payment: fulfilment report cannot be retried")

// RetryReport has a tenant environment's payment's report tried again now,
// keeping its attempts and last error; audit records who did it, in the
// same transaction. A report whose job waits (a refusal waits up to an
// hour between tries) has that job run at once, so a fixed credential is
// used without waiting; a failed report, or a pending one whose job ended
// without settling it, is put back to pending with a new job.
// ErrNotFound when the payment has no report; ErrReportNotRetryable
// (wrapped) when it succeeded or a job of it is running right now.
func (s *Service) RetryReport(ctx context.Context, tenantID int64, env, reference string,
	audit func(ctx context.Context, tx pgx.Tx, r Report) error) (Report, error) {
	if !knownEnv(env) || len(reference) > MaxFilterLen {
		return Report{}, ErrNotFound
	}
	var out Report
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := s.store.resetReport(ctx, tx, tenantID, env, text(reference))
		if err != nil {
			return err
		}
		job, err := s.enq.RunReportNowTx(ctx, tx, r.PaymentID)
		if err != nil {
			return fmt.Errorf("run fulfilment report job now: %w", err)
		}
		switch job {
		case ReportJobRunning:
			return fmt.Errorf("%w: its job is running right now; try again in a moment", ErrReportNotRetryable)
		case ReportJobNone:
			queued, err := s.enq.EnqueueReportTx(ctx, tx, r)
			if err != nil {
				return fmt.Errorf("enqueue fulfilment report: %w", err)
			}
			if !queued { // a job appeared since: it will report
				return fmt.Errorf("%w: its job is running right now; try again in a moment", ErrReportNotRetryable)
			}
		}
		if audit != nil {
			if err := audit(ctx, tx, r); err != nil {
				return err
			}
		}
		out = r
		return nil
	})
	return out, err
}

// FailStuckReports marks failed, with ReasonReportNoOutcome, every pending
// report untouched for at least grace that no job will ever settle — live
// says it has none: a plain error or a crash on the job's last attempt, a
// job cancelled by hand, a failure that could not be recorded. An operator
// then sees it failed in the payment's timeline and can retry it. Reports
// are locked while checked, so a concurrent retry waits or is skipped; it
// returns how many it marked.
func (s *Service) FailStuckReports(ctx context.Context, grace time.Duration, live LiveJobsFunc) (int, error) {
	total := 0
	for after := int64(0); ; {
		var n, seen int
		err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
			ids, paymentIDs, err := s.store.stuckReports(ctx, tx, after, grace, sweepBatch)
			if err != nil || len(ids) == 0 {
				return err
			}
			seen, after = len(ids), ids[len(ids)-1]
			refs := make([]JobRef, len(ids))
			for i, pid := range paymentIDs {
				refs[i] = JobRef{PaymentID: pid, Kind: KindReport}
			}
			alive, err := live(ctx, tx, refs)
			if err != nil {
				return fmt.Errorf("live jobs: %w", err)
			}
			var dead []int64
			for i, id := range ids {
				if !alive[refs[i]] {
					dead = append(dead, id)
				}
			}
			n, err = s.store.failReports(ctx, tx, dead, ReasonReportNoOutcome)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("sweep stuck fulfilment reports: %w", err)
		}
		total += n
		if seen < sweepBatch {
			return total, nil
		}
	}
}

// ReportProducts are the lines a report sends for an order's items: one per
// SKU, in the order's order, quantities of a SKU listed twice added up.
func ReportProducts(items []ReportedProduct) []ReportedProduct {
	out := make([]ReportedProduct, 0, len(items))
	at := map[string]int{}
	for _, it := range items {
		if i, ok := at[it.SKU]; ok {
			out[i].Quantity += it.Quantity
			continue
		}
		at[it.SKU] = len(out)
		out = append(out, it)
	}
	return out
}

// clipReportError keeps at most MaxReportError bytes of printable text.
func clipReportError(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, text(s))
	if len(s) <= MaxReportError {
		return s
	}
	n := MaxReportError
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
