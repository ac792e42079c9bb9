package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/tenant"
)

// Kinds and verdicts a delivery search accepts.
var (
	deliveryKinds    = []string{KindPaymentEvent, KindSummary, KindUserInfo, KindReturn, KindReconcile}
	deliveryVerdicts = []string{VerdictAccepted, VerdictDuplicate, VerdictRejected}
)

// DeliveryFilter selects deliveries, newest first. TenantID 0 searches every
// tenant (operators), PartnerCode then matching the path as received, which
// finds calls for codes no tenant has.
type DeliveryFilter struct {
	TenantID    int64
	PartnerCode string
	Env         string
	Kind        string
	Verdict     string
	Reference   string
	From, To    time.Time // received at, inclusive from, exclusive to; zero = open
	Limit       int
	Cursor      string
}

// Validate checks the filter's values; errors name the query parameter.
func (f DeliveryFilter) Validate() error {
	bad := func(field, problem string) error {
		return &tenant.FieldError{In: "query", Field: field, Problem: problem}
	}
	switch {
	case f.Kind != "" && !contains(deliveryKinds, f.Kind):
		return bad("kind", "must be one of "+strings.Join(deliveryKinds, ", "))
	case f.Verdict != "" && !contains(deliveryVerdicts, f.Verdict):
		return bad("verdict", "must be one of "+strings.Join(deliveryVerdicts, ", "))
	case len(f.Reference) > 512:
		return bad("reference", "must be at most 512 bytes")
	case !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To):
		return bad("to", "must be after from")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// DeliveryPage is one page of deliveries; NextCursor is "" on the last.
type DeliveryPage struct {
	Deliveries []Delivery
	NextCursor string
}

// ListDeliveries searches the deliveries log, newest first. Bodies are left
// out of lists; GetDelivery returns one with its body.
func (s *Service) ListDeliveries(ctx context.Context, f DeliveryFilter) (DeliveryPage, error) {
	if err := f.Validate(); err != nil {
		return DeliveryPage{}, err
	}
	before, err := tenant.DecodeCursor(f.Cursor)
	if err != nil {
		return DeliveryPage{}, err
	}
	limit := tenant.PageLimit(f.Limit)
	ds, err := s.store.listDeliveries(ctx, s.pool, f, before, limit+1)
	if err != nil {
		return DeliveryPage{}, err
	}
	page := DeliveryPage{Deliveries: ds}
	if len(ds) > limit {
		page.Deliveries = ds[:limit]
		page.NextCursor = tenant.EncodeCursor(ds[limit-1].ID)
	}
	return page, nil
}

// GetDelivery returns one delivery of a tenant environment, body included.
func (s *Service) GetDelivery(ctx context.Context, tenantID int64, env string, id int64) (Delivery, error) {
	return s.store.delivery(ctx, s.pool, tenantID, env, id)
}

// PruneDeliveries deletes deliveries received before cutoff, at most batch
// rows per statement so no delete holds locks for long, and returns how
// many went. Payment events keep their history (their delivery link is
// cleared).
func (s *Service) PruneDeliveries(ctx context.Context, cutoff time.Time, batch int) (int64, error) {
	var total int64
	for {
		n, err := s.store.pruneDeliveries(ctx, s.pool, cutoff, batch)
		total += n
		if err != nil || n < int64(batch) {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

const deliveryColumns = `id, session_id, received_at, coalesce(tenant_id, 0), partner_code, environment, kind, remote_addr,
	headers, body_truncated, verdict, reason, status_code, coalesce(reference, '')`

func scanDelivery(row pgx.Row, withBody bool) (Delivery, error) {
	var d Delivery
	var headers []byte
	dest := []any{&d.ID, &d.SessionID, &d.ReceivedAt, &d.TenantID, &d.PartnerCode, &d.Env, &d.Kind, &d.RemoteAddr,
		&headers, &d.BodyTruncated, &d.Verdict, &d.Reason, &d.StatusCode, &d.Reference}
	if withBody {
		dest = append(dest, &d.Body)
	}
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return d, ErrNotFound
		}
		return d, fmt.Errorf("scan delivery: %w", err)
	}
	if err := json.Unmarshal(headers, &d.Headers); err != nil {
		return d, fmt.Errorf("delivery %d headers: %w", d.ID, err)
	}
	return d, nil
}
