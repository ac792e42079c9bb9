package payment

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/tenant"
)

// Limits of the read side: a timeline shows at most this many events and
// deliveries (newest kept); a payment with more is a sign of trouble anyway.
const (
	MaxTimelineEvents     = 500
	MaxTimelineDeliveries = 500
	// MaxFilterLen bounds the text filters of List.
	MaxFilterLen = 200
)

// ListFilter selects payments of one tenant environment. Zero fields do not
// filter. From and To bound CreatedAt — when partnerhub first heard of the
// payment — as [From, To).
type ListFilter struct {
	TenantID         int64
	Env              string
	Status           string
	From, To         time.Time
	Reference        string
	PartnerReference string
	CustomerID       int64
	OnHold           *bool
	Limit            int
	Cursor           string
}

// Page is a page of payments, newest first.
type Page struct {
	Payments   []Payment
	NextCursor string
}

// List returns a page of a tenant environment's payments, newest first
// (by id), cursor-paged like every list (tenant.PageLimit, tenant cursors).
func (s *Service) List(ctx context.Context, f ListFilter) (Page, error) {
	if !knownEnv(f.Env) {
		return Page{}, ErrNotFound
	}
	before, err := tenant.DecodeCursor(f.Cursor)
	if err != nil {
		return Page{}, err
	}
	if f.Status != "" && !pay1st.Status(f.Status).Valid() {
		return Page{}, &tenant.FieldError{In: "query", Field: "status", Problem: "is not a Pay1st payment status"}
	}
	for name, v := range map[string]string{"reference": f.Reference, "partnerReference": f.PartnerReference} {
		if len(v) > MaxFilterLen {
			return Page{}, &tenant.FieldError{In: "query", Field: name, Problem: fmt.Sprintf("is longer than %d bytes", MaxFilterLen)}
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return Page{}, &tenant.FieldError{In: "query", Field: "to", Problem: "must be after from"}
	}
	limit := tenant.PageLimit(f.Limit)
	ps, err := s.store.listPayments(ctx, s.pool, f, before, limit+1)
	if err != nil {
		return Page{}, err
	}
	page := Page{Payments: ps}
	if len(ps) > limit {
		page.Payments = ps[:limit]
		page.NextCursor = tenant.EncodeCursor(ps[limit-1].ID)
	}
	return page, nil
}

// Event is one Payment Webhook Event in a payment's history.
type Event struct {
	ID          int64
	Status      string
	UpdatedDate time.Time
	// Applied: the event became the payment's status when it arrived.
	Applied bool
	// Flagged: newer than the status, but a move the transition table
	// forbids; FlagReason says which.
	Flagged    bool
	FlagReason string
	DeliveryID int64 // 0 when the delivery was deleted by retention
	ReceivedAt time.Time
}

// DeliveryRecord is a delivery as a timeline shows it: never its body or
// headers (signatures), which only the deliveries log shows.
type DeliveryRecord struct {
	ID         int64
	SessionID  string
	ReceivedAt time.Time
	Kind       string
	Verdict    string
	Reason     string
	StatusCode int
}

// Timeline is a payment with everything that happened to it.
type Timeline struct {
	Payment     Payment
	Events      []Event          // oldest first
	Deliveries  []DeliveryRecord // oldest first, of every kind naming the reference
	Fulfilments []Fulfilment     // fulfil, then reverse
	Attempts    []Attempt        // of the fulfilments, oldest first per record (the newest MaxTimelineAttempts)
	Truncated   bool             // more events or deliveries than the limits; the newest are shown
}

// Timeline returns a tenant environment's payment by Pay1st reference with
// its events, deliveries and fulfilments.
func (s *Service) Timeline(ctx context.Context, tenantID int64, env, reference string) (Timeline, error) {
	if !knownEnv(env) || len(reference) > MaxFilterLen || strings.ContainsRune(reference, 0) {
		return Timeline{}, ErrNotFound
	}
	var tl Timeline
	var err error
	if tl.Payment, err = s.store.paymentByReference(ctx, s.pool, tenantID, env, reference); err != nil {
		return tl, err
	}
	var more bool
	if tl.Events, more, err = s.store.events(ctx, s.pool, tl.Payment.ID, MaxTimelineEvents); err != nil {
		return tl, err
	}
	tl.Truncated = more
	if tl.Deliveries, more, err = s.store.deliveriesOf(ctx, s.pool, tenantID, env, reference, MaxTimelineDeliveries); err != nil {
		return tl, err
	}
	tl.Truncated = tl.Truncated || more
	if tl.Fulfilments, err = s.store.fulfilments(ctx, s.pool, tl.Payment.ID); err != nil {
		return tl, err
	}
	ids := make([]int64, 0, len(tl.Fulfilments))
	for _, f := range tl.Fulfilments {
		ids = append(ids, f.ID)
	}
	if tl.Attempts, err = s.store.attempts(ctx, s.pool, ids, MaxTimelineAttempts); err != nil {
		return tl, err
	}
	return tl, nil
}

// knownEnv: an environment name other than staging or production names
// nothing, so reading under it is not found (not an empty list).
func knownEnv(env string) bool {
	return env == tenant.Staging || env == tenant.Production
}
