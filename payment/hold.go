package payment

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/tenant"
)

// Released is what releasing a hold queued.
type Released struct {
	Payment       Payment
	Enqueued      bool // a fulfilment was queued (the payment is SUCCESSFUL)
	ReverseQueued bool // a reversal was queued (refunded after a fulfilment started)
}

// ReleaseHold clears a payment's hold — an operator decided the amount or
// currency is fine — and queues what its current status implies, as if the
// event that set it arrived now: fulfil for SUCCESSFUL, a reversal for
// REFUND/CHARGEBACK when a fulfilment started. audit records who released
// it, in the same transaction. A payment not on hold is tenant.ErrConflict.
func (s *Service) ReleaseHold(ctx context.Context, env tenant.Env, reference string, audit func(ctx context.Context, tx pgx.Tx, p Payment) error) (Released, error) {
	var out Released
	if !knownEnv(env.Name) {
		return out, ErrNotFound
	}
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		p, err := s.store.lockByReference(ctx, tx, env.TenantID, env.Name, reference)
		if err != nil {
			return err
		}
		if !p.OnHold {
			return fmt.Errorf("%w: payment %s is not on hold", tenant.ErrConflict, reference)
		}
		if err := s.store.release(ctx, tx, p.ID); err != nil {
			return err
		}
		if err := audit(ctx, tx, p); err != nil {
			return err
		}
		switch PhaseOf(pay1st.Status(p.Status)) {
		case PhasePaid:
			if err := s.enq.EnqueueFulfilTx(ctx, tx, env, p); err != nil {
				return fmt.Errorf("enqueue fulfilment: %w", err)
			}
			out.Enqueued = true
		case PhaseReversed:
			locked := lockedPayment{id: p.ID, status: p.Status}
			var res Ingested
			if err := s.reverseTx(ctx, tx, env, locked, pay1st.Status(p.Status), &res); err != nil {
				return err
			}
			out.ReverseQueued = res.ReverseQueued
		}
		out.Payment, err = s.store.payment(ctx, tx, p.ID)
		return err
	})
	return out, err
}
