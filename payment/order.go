package payment

import (
	"time"

	"github.com/partnerhub/partnerhub/pay1st"
)

// Precision is the resolution at which partnerhub compares and stores an
// event's updatedDate: Postgres timestamptz keeps microseconds, so anything
// finer would compare differently before and after a round trip.
const Precision = time.Microsecond

// rank orders statuses for events that carry the same updatedDate: an
// outcome beats a step on the way, a success beats a failure (the customer
// paid on a later try), and a refund or chargeback beats the success it
// undoes. Pay1st documents no ordering beyond updatedDate.
func rank(s pay1st.Status) int {
	switch s {
	case pay1st.StatusRefund, pay1st.StatusChargeback:
		return 3
	case pay1st.StatusSuccessful:
		return 2
	case pay1st.StatusFailed, pay1st.StatusCancelled, pay1st.StatusAbandoned:
		return 1
	default:
		return 0
	}
}

// supersedes reports whether an event (status, updated) replaces the
// payment's current status: it is newer, or as new and of higher rank. An
// older event never overwrites a newer one.
func supersedes(status pay1st.Status, updated time.Time, current pay1st.Status, currentUpdated time.Time) bool {
	updated, currentUpdated = updated.Truncate(Precision), currentUpdated.Truncate(Precision)
	if !updated.Equal(currentUpdated) {
		return updated.After(currentUpdated)
	}
	return rank(status) > rank(current)
}
