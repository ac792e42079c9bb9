package payment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/tenant"
)

// ErrNotRetryable: the fulfilment is not failed (or its payment no longer
// calls for it), so it cannot be retried. Errors matching it are
// *NotRetryableError, whose Reason says why.
var ErrNotRetryable = errors.New("payment: fulfilment cannot be retried")

// NotRetryableError says why a fulfilment cannot be retried.
type NotRetryableError struct{ Reason string }

func (e *NotRetryableError) Error() string { return "fulfilment cannot be retried: " + e.Reason }

// Is makes errors.Is(err, ErrNotRetryable) true.
func (e *NotRetryableError) Is(target error) bool { return target == ErrNotRetryable }

func notRetryable(format string, args ...any) error {
	return &NotRetryableError{Reason: fmt.Sprintf(format, args...)}
}

// MaxBulkRetry bounds one bulk retry: more failed fulfilments than this are
// retried in several calls (RetryResult.More says so).
const MaxBulkRetry = 1000

// Requeuer queues a new job for a fulfilment an operator retries. The jobs
// Enqueuer implements it; Service finds it on its Enqueuer.
type Requeuer interface {
	// RequeueTx queues a new job of kind for the payment in tx. queued is
	// false when a job of the payment and kind is still waiting or running
	// (River's uniqueness kept it), so nothing new was queued.
	RequeueTx(ctx context.Context, tx pgx.Tx, partnerCode string, p Payment, kind string) (queued bool, err error)
}

// FulfilmentFilter selects fulfilment records of one tenant. Zero fields
// do not filter.
type FulfilmentFilter struct {
	TenantID int64
	Env      string
	State    string // pending, succeeded or failed
	Kind     string // fulfil or reverse
	Limit    int
	Cursor   string
}

// FulfilmentRecord is a fulfilment record with the payment it belongs to.
type FulfilmentRecord struct {
	Fulfilment
	Reference     string
	PaymentStatus string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// FulfilmentPage is a page of fulfilment records, newest first.
type FulfilmentPage struct {
	Items      []FulfilmentRecord
	NextCursor string
}

func (f FulfilmentFilter) check() error {
	if f.Env != "" && !knownEnv(f.Env) {
		return &tenant.FieldError{In: "query", Field: "environment", Problem: "is not staging or production"}
	}
	if f.State != "" && !slices.Contains([]string{StatePending, StateSucceeded, StateFailed}, f.State) {
		return &tenant.FieldError{In: "query", Field: "state", Problem: "is not pending, succeeded or failed"}
	}
	if f.Kind != "" && f.Kind != KindFulfil && f.Kind != KindReverse {
		return &tenant.FieldError{In: "query", Field: "kind", Problem: "is not fulfil or reverse"}
	}
	return nil
}

// ListFulfilments returns a page of a tenant's fulfilment records, newest
// first, cursor-paged like every list.
func (s *Service) ListFulfilments(ctx context.Context, f FulfilmentFilter) (FulfilmentPage, error) {
	if err := f.check(); err != nil {
		return FulfilmentPage{}, err
	}
	before, err := tenant.DecodeCursor(f.Cursor)
	if err != nil {
		return FulfilmentPage{}, err
	}
	limit := tenant.PageLimit(f.Limit)
	items, err := s.store.listFulfilments(ctx, s.pool, f, before, limit+1)
	if err != nil {
		return FulfilmentPage{}, err
	}
	page := FulfilmentPage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		page.NextCursor = tenant.EncodeCursor(items[limit-1].ID)
	}
	return page, nil
}

// RetryAudit records, in the retry's transaction, who retried a fulfilment.
type RetryAudit func(ctx context.Context, tx pgx.Tx, f FulfilmentRecord) error

// RetryFulfilment puts a failed fulfilment record of the tenant back to
// pending and queues a new job for it, keeping its attempt count, last
// error and attempts (the old job keeps its errors too). A pending record
// whose job ended without an outcome is queued again the same way. A record
// that is succeeded, or pending with a job waiting or running — including
// one retried a moment ago, so retrying twice queues one job — is
// ErrNotRetryable, as is one whose payment no longer calls for it; another
// tenant's is ErrNotFound.
func (s *Service) RetryFulfilment(ctx context.Context, partnerCode string, tenantID, id int64, audit RetryAudit) (FulfilmentRecord, error) {
	rq, ok := s.enq.(Requeuer)
	if !ok {
		return FulfilmentRecord{}, errors.New("payment: the enqueuer cannot requeue fulfilments")
	}
	var out FulfilmentRecord
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		f, err := s.store.lockFulfilment(ctx, tx, tenantID, id)
		if err != nil {
			return err
		}
		// A pending record is retried only when no job of it is waiting or
		// running (River's uniqueness below decides): its job ended without
		// an outcome and the sweeper has not marked it failed yet.
		if f.State != StateFailed && f.State != StatePending {
			return notRetryable("it is %s, not failed", f.State)
		}
		p, err := s.store.payment(ctx, tx, f.PaymentID)
		if err != nil {
			return err
		}
		if err := retryable(f.Kind, p); err != nil {
			return err
		}
		if err := s.store.resetFulfilment(ctx, tx, f.ID); err != nil {
			return err
		}
		queued, err := rq.RequeueTx(ctx, tx, partnerCode, p, f.Kind)
		if err != nil {
			return fmt.Errorf("requeue %s of %s: %w", f.Kind, p.Reference, err)
		}
		if !queued {
			if f.State == StatePending {
				return notRetryable("it is pending, not failed")
			}
			return notRetryable("its last job is still finishing; try again in a moment")
		}
		f.State = StatePending
		if err := audit(ctx, tx, f); err != nil {
			return err
		}
		out = f
		return nil
	})
	return out, err
}

// retryable says why a payment no longer calls for a fulfilment of kind.
func retryable(kind string, p Payment) error {
	if p.OnHold {
		return notRetryable("payment %s is on hold: release the hold instead", p.Reference)
	}
	switch phase := PhaseOf(pay1st.Status(p.Status)); {
	case kind == KindFulfil && phase != PhasePaid:
		return notRetryable("payment %s is %s now, not SUCCESSFUL", p.Reference, p.Status)
	case kind == KindReverse && phase != PhaseReversed:
		return notRetryable("payment %s is %s, not refunded or charged back", p.Reference, p.Status)
	}
	return nil
}

// BulkRetry selects the failed fulfilments a bulk retry works on: the IDs
// given, or else every failed one matching Env and Kind. Max (at most
// MaxBulkRetry) bounds how many.
type BulkRetry struct {
	TenantID int64
	IDs      []int64
	Env      string
	Kind     string
	Max      int
}

// RetrySkip is a fulfilment a bulk retry left alone, and why.
type RetrySkip struct {
	ID     int64
	Reason string
}

// RetryResult is what a bulk retry did.
type RetryResult struct {
	Requeued []FulfilmentRecord
	Skipped  []RetrySkip
	// More: the filter matched more failed fulfilments than Max.
	More bool
}

// RetryFulfilments retries many failed fulfilments, each in its own
// transaction with its own audit entry, so one that cannot be retried does
// not hold back the others: it is reported skipped with the reason.
func (s *Service) RetryFulfilments(ctx context.Context, partnerCode string, r BulkRetry, audit RetryAudit) (RetryResult, error) {
	var res RetryResult
	if r.Max < 1 || r.Max > MaxBulkRetry {
		return res, &tenant.FieldError{In: "body", Field: "max", Problem: fmt.Sprintf("must be 1 to %d", MaxBulkRetry)}
	}
	if err := (FulfilmentFilter{Env: r.Env, Kind: r.Kind}).check(); err != nil {
		return res, err
	}
	ids := r.IDs
	if len(ids) > r.Max {
		return res, &tenant.FieldError{In: "body", Field: "ids", Problem: fmt.Sprintf("names more than max (%d) fulfilments", r.Max)}
	}
	if len(ids) == 0 {
		var err error
		if ids, err = s.store.failedIDs(ctx, s.pool, r.TenantID, r.Env, r.Kind, r.Max+1); err != nil {
			return res, err
		}
		if len(ids) > r.Max {
			ids, res.More = ids[:r.Max], true
		}
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		f, err := s.RetryFulfilment(ctx, partnerCode, r.TenantID, id, audit)
		var nr *NotRetryableError
		switch {
		case err == nil:
			res.Requeued = append(res.Requeued, f)
		case errors.Is(err, ErrNotFound):
			res.Skipped = append(res.Skipped, RetrySkip{ID: id, Reason: "not found"})
		case errors.As(err, &nr):
			res.Skipped = append(res.Skipped, RetrySkip{ID: id, Reason: nr.Reason})
		default:
			return res, err
		}
	}
	return res, nil
}

// Succeed marks a fulfilment succeeded with the plugin's reference, in a
// transaction of its own (SucceedTx: a gateway payment's report is queued
// with it); false if it already was. The record, not the job, is the
// authority: a job that runs again after this finds it succeeded and does
// nothing.
func (s *Service) Succeed(ctx context.Context, fulfilmentID int64, resultRef string) (bool, error) {
	var ok bool
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		ok, err = s.SucceedTx(ctx, tx, fulfilmentID, resultRef)
		return err
	})
	return ok, err
}
