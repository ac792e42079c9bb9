package pay1st

// Status is the status of a payment as carried by a Payment Webhook Event.
type Status string

// The 17 statuses Pay1st documents for Payment Webhook Events.
const (
	StatusAbandoned            Status = "ABANDONED"
	StatusCancelled            Status = "CANCELLED"
	StatusChargeback           Status = "CHARGEBACK"
	StatusFailed               Status = "FAILED"
	StatusNew                  Status = "NEW"
	StatusPayOffline           Status = "PAY_OFFLINE"
	StatusPending              Status = "PENDING"
	StatusPendingInvestigation Status = "PENDING_INVESTIGATION"
	StatusReady                Status = "READY"
	StatusRefund               Status = "REFUND"
	StatusSendBirthday         Status = "SEND_BIRTHDAY"
	StatusSendPhone            Status = "SEND_PHONE"
	StatusSendPIN              Status = "SEND_PIN"
	StatusSendOTP              Status = "SEND_OTP"
	StatusSendValidationToken  Status = "SEND_VALIDATION_TOKEN"
	StatusSuccessful           Status = "SUCCESSFUL"
	StatusValidated            Status = "VALIDATED"
)

// allStatuses is in the protocol table's order; Statuses hands out copies so
// callers cannot mutate it.
var allStatuses = [...]Status{
	StatusAbandoned,
	StatusCancelled,
	StatusChargeback,
	StatusFailed,
	StatusNew,
	StatusPayOffline,
	StatusPending,
	StatusPendingInvestigation,
	StatusReady,
	StatusRefund,
	StatusSendBirthday,
	StatusSendPhone,
	StatusSendPIN,
	StatusSendOTP,
	StatusSendValidationToken,
	StatusSuccessful,
	StatusValidated,
}

// Valid reports whether s is one of the 17 documented statuses. Matching is
// exact: Pay1st sends upper case, and anything else is not a status we know.
func (s Status) Valid() bool {
	for _, v := range allStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Statuses returns all documented statuses, in the protocol's order. The
// slice is a fresh copy on each call.
func Statuses() []Status {
	out := make([]Status, len(allStatuses))
	copy(out, allStatuses[:])
	return out
}
