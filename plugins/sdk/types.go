package sdk

import (
	"github.com/shopspring/decimal"
)

// Capability is something a plugin can do, reported by Describe.
type Capability string

// Capabilities of protocol v1.
const (
	CapabilityLookupUser Capability = "lookup_user"
	CapabilityFulfil     Capability = "fulfil"
	CapabilityReverse    Capability = "reverse"
)

// Description is what Describe reports.
type Description struct {
	Name            string
	Version         string
	ProtocolVersion uint32
	Capabilities    []Capability
}

// ConfigureRequest carries the tenant's settings for this plugin.
type ConfigureRequest struct {
	Settings    map[string]string
	PartnerCode string
	Environment string // "staging" or "production"
}

// LookupUserRequest asks whether a player may pay.
type LookupUserRequest struct {
	PlayerID          string
	ProductBundleID   int64
	SKU               string
	ExternalReference string
	// Amount is invalid (Valid false) when Pay1st sent none.
	Amount       decimal.NullDecimal
	CurrencyCode string
	CountryCode  string
	Quantity     int64
}

// LookupUserResponse answers LookupUserRequest. Found false rejects the
// player, with ErrorCode and ErrorMessage passed on to Pay1st.
type LookupUserResponse struct {
	Found             bool
	UserID            string
	ExternalReference string
	Amount            decimal.NullDecimal
	CurrencyCode      string
	ErrorCode         string
	ErrorMessage      string
}

// Payment is the Pay1st payment being fulfilled or reversed.
type Payment struct {
	Reference        string
	PartnerReference string
	Status           string
	Amount           decimal.Decimal
	CurrencyCode     string
	CountryCode      string
	CustomerID       int64
	PaymentMethod    string
}

// Item is one line of the purchase.
type Item struct {
	SKU                 string
	Name                string
	Quantity            int64
	DigitalCurrencyCode string
	DigitalCurrencyName string
	// DigitalAmount is invalid (Valid false) when the item carries no
	// digital currency.
	DigitalAmount decimal.NullDecimal
}

// FulfilRequest asks the plugin to credit the player for a payment.
type FulfilRequest struct {
	// IdempotencyKey is stable across retries of this fulfilment.
	IdempotencyKey string
	PartnerCode    string
	Environment    string
	Payment        Payment
	PlayerID       string
	Items          []Item
}

// ReverseReason says why a fulfilment is reversed.
type ReverseReason string

// Reasons for a reversal.
const (
	ReasonRefund     ReverseReason = "REFUND"
	ReasonChargeback ReverseReason = "CHARGEBACK"
)

// ReverseRequest asks the plugin to take back a fulfilment. It carries the
// same payment as the fulfilment but its own IdempotencyKey.
type ReverseRequest struct {
	// IdempotencyKey is stable across retries of this reversal.
	IdempotencyKey string
	PartnerCode    string
	Environment    string
	Payment        Payment
	PlayerID       string
	Items          []Item
	Reason         ReverseReason
}

// Outcome is how a Fulfil or Reverse ended.
type Outcome string

// Outcomes. Anything else is a protocol error.
const (
	// OutcomeFulfilled: done, or already done for this idempotency key.
	OutcomeFulfilled Outcome = "fulfilled"
	// OutcomeRejected: permanent failure, Reason says why; never retried.
	OutcomeRejected Outcome = "rejected"
	// OutcomeRetry: transient failure; the host retries later, same key.
	OutcomeRetry Outcome = "retry"
)

// Valid reports whether o is one of the defined outcomes.
func (o Outcome) Valid() bool {
	switch o {
	case OutcomeFulfilled, OutcomeRejected, OutcomeRetry:
		return true
	}
	return false
}

// Result is the answer to Fulfil and Reverse.
type Result struct {
	Outcome Outcome
	// Reason explains a rejection or a retry.
	Reason string
	// Reference is the game's own reference for the operation, if any.
	Reference string
}

// Fulfilled is a successful Result carrying the game's reference.
func Fulfilled(reference string) Result {
	return Result{Outcome: OutcomeFulfilled, Reference: reference}
}

// Rejected is a permanent failure: the host will not retry.
func Rejected(reason string) Result {
	return Result{Outcome: OutcomeRejected, Reason: reason}
}

// Retry is a transient failure: the host retries later with the same key.
func Retry(reason string) Result {
	return Result{Outcome: OutcomeRetry, Reason: reason}
}
