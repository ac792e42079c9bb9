// Package payment owns what Pay1st tells partnerhub about payments: the raw
// inbound deliveries, each payment's current state and its event history,
// and the fulfilment records that make a credit happen at most once.
package payment

import (
	"errors"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// Errors the payment package returns.
var (
	ErrNotFound = errors.New("payment: not found")
)

// Delivery kinds: which Pay1st-facing endpoint a request reached.
const (
	KindPaymentEvent = "payment_event"
	KindSummary      = "summary"
	KindUserInfo     = "user_info"
	KindReturn       = "return"
	// KindReconcile is an answer to reconciliation's query of Pay1st
	// (payment/reconcile.go), fed to the state machine like a webhook.
	KindReconcile = "reconcile"
)

// Delivery verdicts.
const (
	VerdictAccepted  = "accepted"
	VerdictDuplicate = "duplicate"
	VerdictRejected  = "rejected"
)

// Delivery is one request that reached a tenant endpoint, as recorded.
type Delivery struct {
	ID            int64
	SessionID     string
	ReceivedAt    time.Time
	TenantID      int64 // 0 when the partnerCode matched no tenant
	PartnerCode   string
	Env           string
	Kind          string
	RemoteAddr    string
	Headers       map[string]string
	Body          []byte
	BodyTruncated bool
	Verdict       string
	Reason        string
	StatusCode    int
	Reference     string
}

// Payment is a payment's current state.
type Payment struct {
	ID               int64
	TenantID         int64
	Env              string
	Reference        string
	PartnerReference string
	Status           string
	Amount           decimal.Decimal
	CurrencyCode     string
	CountryCode      string
	CustomerID       int64
	PaymentMethod    string
	StatusUpdatedAt  time.Time
	CreatedDate      time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// OnHold: the amount or currency differed from what partnerhub
	// expected; nothing is fulfilled or reversed until an operator releases
	// it. HoldReason says what differed.
	OnHold     bool
	HoldReason string
	HeldAt     *time.Time
}

// Fulfilment kinds.
const (
	KindFulfil  = "fulfil"
	KindReverse = "reverse"
)

// Fulfilment states.
const (
	StatePending   = "pending"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
)

// Fulfilment records the effect of one payment on the game: one row per
// payment and kind, succeeded at most once.
type Fulfilment struct {
	ID              int64
	TenantID        int64
	Env             string
	PaymentID       int64
	Kind            string
	IdempotencyKey  string
	State           string
	PluginID        int64
	Attempts        int
	LastError       string
	ResultReference string
	SucceededAt     *time.Time
}

// IdempotencyKey is the key a plugin gets for a payment and kind. It is
// derived only from stable identity, so every retry, on any node, sends the
// same key.
func IdempotencyKey(partnerCode, env, reference, kind string) string {
	return "ph1:" + partnerCode + ":" + env + ":" + kind + ":" + strconv.Quote(reference)
}
