package payment

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/tenant"
)

// Ingest is one verified Payment Webhook Event for IngestEventsTx, and,
// once it returns, what the event did.
type Ingest struct {
	Env      tenant.Env
	Delivery Delivery
	Event    pay1st.PaymentEvent
	Result   Ingested
	// Trace is the span of the request that brought the event, when the
	// transaction's ctx is not its own (a group commit): the jobs the
	// event queues continue that request's trace.
	Trace trace.SpanContext

	locked  lockedPayment
	verdict Transition
	flag    string // why a newer event is not applied (Flag)
	payload []byte
	fresh   bool    // the event was not recorded before
	payment Payment // read for a fulfil job
	// expect is the order partnerhub created for the event's
	// partnerReference, read in stage 2 when a hold may follow.
	expect orderExpect
}

// IngestEventsTx records events in the caller's transaction, each with the
// effect IngestEventTx gives it alone, in the order given. Callers that
// hold several transactions at once must pass events sorted by (tenant,
// environment, reference): payment rows are locked in that order.
//
// It runs in stages — deliveries and payment rows; history; duplicates,
// holds and statuses; jobs — and each stage sends the statements of every
// event in one round trip (a pgx pipeline), so a batch of N events costs a
// handful of round trips rather than about five per event. A statement's
// failure fails the call, and with it the transaction.
func (s *Service) IngestEventsTx(ctx context.Context, tx pgx.Tx, in []*Ingest) error {
	// Each round holds one event per payment: the stages of a payment's
	// second event must see its first one done. Under load nearly every
	// event is another payment's, so there is one round.
	for len(in) > 0 {
		round, later := splitRound(in)
		if err := s.ingestRound(ctx, tx, round); err != nil {
			return err
		}
		in = later
	}
	return nil
}

type paymentKey struct {
	tenantID       int64
	env, reference string
}

// splitRound returns the first event of each payment, in order, and the rest.
func splitRound(in []*Ingest) (round, later []*Ingest) {
	seen := make(map[paymentKey]bool, len(in))
	for _, it := range in {
		k := paymentKey{it.Env.TenantID, it.Env.Name, it.Event.Reference}
		if seen[k] {
			later = append(later, it)
			continue
		}
		seen[k] = true
		round = append(round, it)
	}
	return round, later
}

// ingestRound runs the stages for events of distinct payments.
func (s *Service) ingestRound(ctx context.Context, tx pgx.Tx, in []*Ingest) error {
	// Stage 1: the deliveries, and each payment inserted or locked.
	b := &pgx.Batch{}
	for _, it := range in {
		d := &it.Delivery
		d.TenantID, d.Env = it.Env.TenantID, it.Env.Name
		if d.Kind != KindReconcile {
			// Reconciliation's answers keep their kind: the timeline shows
			// where a status came from.
			d.Kind = KindPaymentEvent
		}
		d.Verdict, d.Reference = VerdictAccepted, it.Event.Reference
		if d.StatusCode == 0 {
			// An accepted event (or a duplicate) is acknowledged with 200
			// once this transaction commits; if it does not, nothing is
			// recorded.
			d.StatusCode = http.StatusOK
		}
		// Compare and store at the database's precision (see Precision).
		it.Event.UpdatedDate = it.Event.UpdatedDate.Truncate(Precision)
		if err := s.store.queueInsertDelivery(b, *d, &it.Result.DeliveryID); err != nil {
			return err
		}
		s.store.queueUpsertPayment(b, it.Env.TenantID, it.Env.Name, it.Event, &it.locked)
	}
	if err := send(ctx, tx, b, "record deliveries and payments"); err != nil {
		return err
	}

	// Stage 2: each event in its payment's history. At-least-once and
	// unordered: an event that does not supersede the current status is
	// kept but changes nothing; a newer one the transition table forbids
	// is kept and flagged.
	b = &pgx.Batch{}
	for _, it := range in {
		it.Result.PaymentID, it.Result.Status = it.locked.id, it.locked.status
		it.verdict = Apply
		if !it.locked.inserted {
			it.verdict = Decide(it.Event.Status, it.Event.UpdatedDate, pay1st.Status(it.locked.status), it.locked.statusUpdatedAt)
		}
		if it.verdict == Flag {
			it.flag = fmt.Sprintf("transition %s -> %s is not allowed", it.locked.status, it.Event.Status)
		}
		// The history keeps the parsed event: the raw bytes stay in the
		// delivery, and jsonb refuses some valid JSON (\u0000) that unknown
		// fields may carry.
		var err error
		if it.payload, err = json.Marshal(it.Event); err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		s.store.queueInsertEvent(b, it.locked.id, it.Env.TenantID, it.Env.Name, it.Result.DeliveryID, it.Event,
			it.verdict == Apply, it.flag, it.payload, &it.fresh)
		// The order the event may be checked against (stage 3), in this
		// round trip: it needs only the event and its row above.
		if !it.locked.onHold && it.Event.PartnerReference != "" {
			orderStore{}.queueExpected(b, it)
		}
	}
	if err := send(ctx, tx, b, "record payment events"); err != nil {
		return err
	}

	// Stage 3: duplicates marked, holds, new statuses, and the payments
	// whose fulfilment this queues.
	b = &pgx.Batch{}
	var fulfil, reverse []*Ingest
	for _, it := range in {
		res, locked := &it.Result, &it.locked
		if !it.fresh {
			res.Duplicate = true
			s.store.queueMarkDuplicate(b, res.DeliveryID)
			continue
		}
		// Any new event, applied or not, may reveal a mismatch worth a hold.
		if !locked.onHold {
			if reason := holdReason(*locked, it.Event, it.expect); reason != "" {
				s.store.queueHold(b, locked.id, reason)
				locked.onHold, res.Held = true, true
			}
		}
		if it.verdict != Apply {
			res.Flagged = it.verdict == Flag
			continue
		}
		if !locked.inserted {
			s.store.queueApplyStatus(b, locked.id, it.Event)
		}
		res.Applied, res.Status = true, string(it.Event.Status)
		switch TriggerOf(pay1st.Status(locked.status), it.Event.Status, locked.inserted) {
		case TriggerFulfil:
			// Only the event that makes the payment SUCCESSFUL queues its
			// fulfilment: a later, unrelated event must not revive a
			// fulfilment that was rejected or ran out of attempts (an
			// operator's call), and a held payment queues nothing until it
			// is released.
			if !locked.onHold {
				s.store.queuePayment(b, locked.id, &it.payment)
				fulfil = append(fulfil, it)
			}
		case TriggerReverse:
			reverse = append(reverse, it)
		}
	}
	if err := send(ctx, tx, b, "apply payment events"); err != nil {
		return err
	}

	// Stage 4: the work the transitions trigger.
	if len(fulfil) > 0 {
		jobs := make([]FulfilJob, len(fulfil))
		for i, it := range fulfil {
			jobs[i] = FulfilJob{Env: it.Env, Payment: it.payment, Trace: it.Trace}
		}
		if err := s.enq.EnqueueFulfilManyTx(ctx, tx, jobs); err != nil {
			return fmt.Errorf("enqueue fulfilment: %w", err)
		}
		for _, it := range fulfil {
			it.Result.Enqueued = true
		}
	}
	// Refunds and chargebacks are rare: one at a time.
	for _, it := range reverse {
		ctx := ctx
		if it.Trace.IsValid() { // its request's trace for the reversal job
			ctx = trace.ContextWithSpanContext(ctx, it.Trace)
		}
		if err := s.reverseTx(ctx, tx, it.Env, it.locked, it.Event.Status, &it.Result); err != nil {
			return err
		}
	}
	return nil
}

// send runs a stage's statements in one round trip.
func send(ctx context.Context, tx pgx.Tx, b *pgx.Batch, stage string) error {
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("%s: %w", stage, err)
	}
	return nil
}
