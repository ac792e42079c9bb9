package jobs

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/partnerhub/partnerhub/payment"
)

// RequeueTx queues a new job for a failed fulfilment or reversal an
// operator retries (payment.Requeuer). The failed one's old job was
// cancelled or discarded, states River's default uniqueness leaves out, so
// it does not block the new one; a job still waiting or running does, and
// then queued is false. The reversal's reason is the payment's status.
func (e *Enqueuer) RequeueTx(ctx context.Context, tx pgx.Tx, partnerCode string, p payment.Payment, kind string) (bool, error) {
	var args river.JobArgs
	switch kind {
	case payment.KindFulfil:
		args = FulfilArgs{PaymentID: p.ID, PartnerCode: partnerCode, Env: p.Env, Reference: p.Reference}
	case payment.KindReverse:
		args = ReverseArgs{PaymentID: p.ID, PartnerCode: partnerCode, Env: p.Env, Reference: p.Reference, Reason: p.Status}
	default:
		return false, fmt.Errorf("jobs: requeue: unknown kind %q", kind)
	}
	res, err := e.client.InsertTx(ctx, tx, args, nil)
	if err != nil {
		return false, fmt.Errorf("jobs: requeue %s: %w", kind, err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}
