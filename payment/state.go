package payment

import (
	"time"

	"github.com/partnerhub/partnerhub/pay1st"
)

// Phase groups Pay1st's 17 statuses by what they mean for the money; the
// transition table (docs/payments.md) is written in phases, because Pay1st
// documents no order between the statuses inside one.
type Phase int

// Phases, in the order a payment normally moves through them.
const (
	// PhaseOpen: the payment is under way (NEW, READY, VALIDATED, PENDING,
	// PAY_OFFLINE, PENDING_INVESTIGATION, SEND_*). Nothing is owed yet.
	PhaseOpen Phase = iota
	// PhaseFailed: this try ended without money (FAILED, CANCELLED,
	// ABANDONED). The customer may still pay on a later try.
	PhaseFailed
	// PhasePaid: SUCCESSFUL. The game owes the customer the purchase.
	PhasePaid
	// PhaseReversed: REFUND or CHARGEBACK. The money went back; a
	// fulfilment that happened must be taken back.
	PhaseReversed
)

// PhaseOf returns the phase of a status. Unknown statuses never reach here
// (the parser refuses them); they count as open.
func PhaseOf(s pay1st.Status) Phase {
	switch s {
	case pay1st.StatusSuccessful:
		return PhasePaid
	case pay1st.StatusRefund, pay1st.StatusChargeback:
		return PhaseReversed
	case pay1st.StatusFailed, pay1st.StatusCancelled, pay1st.StatusAbandoned:
		return PhaseFailed
	default:
		return PhaseOpen
	}
}

// Transition is what the state machine decided about one event.
type Transition int

// Transitions.
const (
	// Stale: the event is older than (or ranks below, on a tie) the current
	// status. It is kept in the history and changes nothing. Not an error:
	// Pay1st delivers out of order.
	Stale Transition = iota
	// Apply: the event becomes the payment's current status.
	Apply
	// Flag: the event is newer but the table forbids the move (e.g. PENDING
	// after SUCCESSFUL). It is kept in the history, flagged for an
	// operator, and changes nothing — money that moved is never un-moved by
	// an event that contradicts it.
	Flag
)

// allowed is the transition table by phase: allowed[from][to]. Every move
// inside a phase is allowed (Pay1st's steps have no documented order).
//
//   - open → anything: the payment is still being decided.
//   - failed → anything: a customer may retry and pay on the same payment;
//     a refund/chargeback of a failed try is applied and reverses nothing.
//   - paid → reversed only: once SUCCESSFUL, only a refund or chargeback
//     changes the status; a newer open or failed event is flagged.
//   - reversed → reversed only: REFUND and CHARGEBACK are final; a newer
//     SUCCESSFUL (or anything else) is flagged and credits nothing again.
var allowed = [4][4]bool{
	PhaseOpen:     {PhaseOpen: true, PhaseFailed: true, PhasePaid: true, PhaseReversed: true},
	PhaseFailed:   {PhaseOpen: true, PhaseFailed: true, PhasePaid: true, PhaseReversed: true},
	PhasePaid:     {PhasePaid: true, PhaseReversed: true},
	PhaseReversed: {PhaseReversed: true},
}

// Allowed reports whether the table lets a payment in status from move to
// status to (when the event is newer).
func Allowed(from, to pay1st.Status) bool {
	return allowed[PhaseOf(from)][PhaseOf(to)]
}

// Decide applies the ordering rule (order.go) and then the transition table
// to an event for a payment whose current status is current, set at
// currentUpdated.
func Decide(status pay1st.Status, updated time.Time, current pay1st.Status, currentUpdated time.Time) Transition {
	if !supersedes(status, updated, current, currentUpdated) {
		return Stale
	}
	if !Allowed(current, status) {
		return Flag
	}
	return Apply
}

// Trigger is the work an applied transition queues.
type Trigger int

// Triggers.
const (
	TriggerNone Trigger = iota
	// TriggerFulfil: the payment became SUCCESSFUL; queue its fulfilment.
	TriggerFulfil
	// TriggerReverse: the payment became REFUND or CHARGEBACK; cancel a
	// fulfilment not yet started, and reverse one that started or is done.
	TriggerReverse
)

// TriggerOf returns what applying a move from → to queues. Only entering a
// phase triggers: REFUND after CHARGEBACK, or a newer SUCCESSFUL after
// SUCCESSFUL, queues nothing new.
func TriggerOf(from, to pay1st.Status, first bool) Trigger {
	fp, tp := PhaseOf(from), PhaseOf(to)
	if !first && fp == tp {
		return TriggerNone
	}
	switch tp {
	case PhasePaid:
		return TriggerFulfil
	case PhaseReversed:
		return TriggerReverse
	default:
		return TriggerNone
	}
}
