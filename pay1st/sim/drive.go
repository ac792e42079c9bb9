package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/pay1st"
)

// Errors of the driving methods.
var (
	ErrUnknownPayment    = errors.New("sim: unknown payment")
	ErrUnknownPartner    = errors.New("sim: unknown partner")
	ErrInvalidTransition = errors.New("sim: transition not allowed from the payment's status")
	ErrNoWebhookURL      = errors.New("sim: no webhook URL for this partner or payment")
)

// WebhookError is a webhook partnerhub answered with a non-2xx status.
type WebhookError struct {
	Kind   string
	Status int
	Body   string // the start of the answer
}

func (e *WebhookError) Error() string {
	return fmt.Sprintf("sim: %s webhook answered %d: %s", e.Kind, e.Status, e.Body)
}

// Option changes how a transition's webhooks are delivered.
type Option func(*delivery)

type delivery struct {
	duplicate, outOfOrder, lose bool
}

// Duplicate sends every webhook twice in a row: the same body, signed anew.
func Duplicate() Option { return func(d *delivery) { d.duplicate = true } }

// OutOfOrder sends the transition's events newest first. A transition of a
// single status (Refund, say) sends its event and then the payment's
// previous event again, so an older status arrives after a newer one.
func OutOfOrder() Option { return func(d *delivery) { d.outOfOrder = true } }

// Lose records the status change but sends nothing (the webhook was lost):
// only a payment query tells partnerhub. The log shows the webhook as Lost.
func Lose() Option { return func(d *delivery) { d.lose = true } }

// Pay takes a NEW or PENDING payment to SUCCESSFUL, through PENDING,
// sending an event for each status.
func (s *Simulator) Pay(ctx context.Context, reference string, opts ...Option) error {
	return s.Transition(ctx, reference, []pay1st.Status{pay1st.StatusPending, pay1st.StatusSuccessful}, opts...)
}

// Fail takes a NEW or PENDING payment to FAILED, through PENDING.
func (s *Simulator) Fail(ctx context.Context, reference string, opts ...Option) error {
	return s.Transition(ctx, reference, []pay1st.Status{pay1st.StatusPending, pay1st.StatusFailed}, opts...)
}

// Refund takes a SUCCESSFUL payment to REFUND.
func (s *Simulator) Refund(ctx context.Context, reference string, opts ...Option) error {
	return s.Transition(ctx, reference, []pay1st.Status{pay1st.StatusRefund}, opts...)
}

// Chargeback takes a SUCCESSFUL payment to CHARGEBACK.
func (s *Simulator) Chargeback(ctx context.Context, reference string, opts ...Option) error {
	return s.Transition(ctx, reference, []pay1st.Status{pay1st.StatusChargeback}, opts...)
}

// allowed says which statuses a transition may start from. A status already
// passed is skipped (Pay on a PENDING payment sends only SUCCESSFUL).
func allowed(from, to pay1st.Status) bool {
	switch to {
	case pay1st.StatusPending:
		return from == pay1st.StatusNew
	case pay1st.StatusSuccessful, pay1st.StatusFailed:
		return from == pay1st.StatusNew || from == pay1st.StatusPending
	case pay1st.StatusRefund, pay1st.StatusChargeback:
		return from == pay1st.StatusSuccessful
	}
	return true // anything else is the test's business
}

// Transition moves a payment through statuses, in order, and sends one
// Payment Webhook Event per status, each with a later updatedDate. A
// leading PENDING is skipped when the payment is already PENDING. The error
// joins every webhook that failed or was refused (*WebhookError); the
// status change stands either way, as at Pay1st.
func (s *Simulator) Transition(ctx context.Context, reference string, statuses []pay1st.Status, opts ...Option) error {
	var d delivery
	for _, o := range opts {
		o(&d)
	}
	s.mu.Lock()
	p := s.payments[reference]
	if p == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownPayment, reference)
	}
	if len(statuses) > 0 && statuses[0] == pay1st.StatusPending && p.Status == pay1st.StatusPending {
		statuses = statuses[1:]
	}
	from := p.Status
	for _, st := range statuses {
		if !st.Valid() || !allowed(from, st) {
			s.mu.Unlock()
			return fmt.Errorf("%w: %s → %s", ErrInvalidTransition, from, st)
		}
		from = st
	}
	previous := p.History[len(p.History)-1]
	var events []pay1st.PaymentEvent
	for _, st := range statuses {
		// updatedDate strictly increases, even within one clock tick, so
		// partnerhub can order the events.
		now := s.opts.Now().UTC()
		if last := p.UpdatedDate.Add(time.Millisecond); now.Before(last) {
			now = last
		}
		p.Status, p.UpdatedDate = st, now
		p.everPaid = p.everPaid || st == pay1st.StatusSuccessful
		ev := s.eventLocked(p)
		p.History = append(p.History, ev)
		events = append(events, ev)
	}
	partner := *s.byCode[p.PartnerCode]
	s.mu.Unlock()

	if d.outOfOrder {
		if len(events) == 1 {
			events = append(events, previous)
		} else {
			slices.Reverse(events)
		}
	}
	var errs []error
	for _, ev := range events {
		for range 1 + boolInt(d.duplicate) {
			if err := s.sendEvent(ctx, partner, ev, d.lose); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Redeliver sends the payment's latest event again (Pay1st retrying).
func (s *Simulator) Redeliver(ctx context.Context, reference string) error {
	s.mu.Lock()
	p := s.payments[reference]
	if p == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownPayment, reference)
	}
	ev := p.History[len(p.History)-1]
	partner := *s.byCode[p.PartnerCode]
	s.mu.Unlock()
	return s.sendEvent(ctx, partner, ev, false)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// eventLocked is the §1 event describing p now. Called with mu held.
// [sim] The PSP fields are fixed plausible values.
func (s *Simulator) eventLocked(p *payment) pay1st.PaymentEvent {
	webhookURL := p.WebhookURL
	if webhookURL == "" {
		if partner := s.byCode[p.PartnerCode]; partner != nil {
			webhookURL = partner.WebhookURL
		}
	}
	msg, code := "Awaiting payment", int64(0)
	switch p.Status {
	case pay1st.StatusSuccessful:
		msg, code = "Approved", 200
	case pay1st.StatusFailed:
		msg, code = "Declined", 400
	case pay1st.StatusRefund:
		msg, code = "Refunded", 200
	case pay1st.StatusChargeback:
		msg, code = "Charged back", 200
	}
	return pay1st.PaymentEvent{
		PartnerID: p.PartnerID, PartnerCode: p.PartnerCode, PartnerReference: p.PartnerReference,
		Reference: p.Reference, OrderAmount: p.Amount, CurrencyCode: p.CurrencyCode, CountryCode: p.CountryCode,
		Source: "GATEWAY", Platform: "WEB", IPAddress: "127.0.0.1",
		CreatedDate: p.CreatedDate, UpdatedDate: p.UpdatedDate, Status: p.Status,
		Message: msg, StatusCode: code, CustomerID: 1, PaymentMethod: "CARD",
		TaxPercentage: decimal.Zero, PartnerWebhookURL: webhookURL,
	}
}

// sendEvent posts one event signed as partnerhub verifies it (signature
// mode): X-TIMESTAMP now, X-SIGNATURE over it and the exact body with the
// partner's Signing Key. The event's partnerWebhookUrl is where it goes.
func (s *Simulator) sendEvent(ctx context.Context, partner Partner, ev pay1st.PaymentEvent, lose bool) error {
	body, err := ev.MarshalJSON()
	if err != nil {
		return fmt.Errorf("sim: marshal event: %w", err)
	}
	ts := s.opts.Now().UTC().Format(time.RFC3339Nano)
	h := Webhook{
		Kind: KindPaymentEvent, PartnerCode: partner.PartnerCode, Reference: ev.Reference, Status: ev.Status,
		UpdatedDate: ev.UpdatedDate, Body: body, Timestamp: ts,
		Signature: pay1st.SignRequest(partner.SigningKey, ts, body),
	}
	return s.post(ctx, ev.PartnerWebhookURL, h, lose)
}

// SendEvent sends an event the caller made up — a payment the simulator
// does not track, as a load generator sends — to partnerCode's WebhookURL
// (or, when the partner has none, the event's partnerWebhookUrl), signed
// like every other event. Duplicate and Lose apply; OutOfOrder does not.
func (s *Simulator) SendEvent(ctx context.Context, partnerCode string, ev pay1st.PaymentEvent, opts ...Option) error {
	partner, d, err := s.sender(partnerCode, opts)
	if err != nil {
		return err
	}
	if partner.WebhookURL != "" {
		ev.PartnerWebhookURL = partner.WebhookURL
	}
	var errs []error
	for range 1 + boolInt(d.duplicate) {
		if err := s.sendEvent(ctx, partner, ev, d.lose); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SendSummary sends a Summary Webhook (§4) for a Shop purchase to the
// partner's SummaryURL, signed with its Basic Auth credentials. An empty
// Reference is generated, an empty Status is SUCCESSFUL; the summary sent
// is returned. Duplicate and Lose apply; OutOfOrder does not.
func (s *Simulator) SendSummary(ctx context.Context, partnerCode string, sum pay1st.Summary, opts ...Option) (pay1st.Summary, error) {
	partner, d, err := s.sender(partnerCode, opts)
	if err != nil {
		return sum, err
	}
	if partner.BasicAuthUsername == "" || partner.BasicAuthPassword == "" {
		return sum, fmt.Errorf("sim: partner %s has no Basic Auth credentials to sign summaries with", partnerCode)
	}
	if sum.Reference == "" {
		sum.Reference = "C1st_" + randomHex(16)
	}
	if sum.Status == "" {
		sum.Status = pay1st.StatusSuccessful
	}
	body, err := sum.MarshalJSON()
	if err != nil {
		return sum, fmt.Errorf("sim: marshal summary: %w", err)
	}
	var errs []error
	for range 1 + boolInt(d.duplicate) {
		h := Webhook{
			Kind: KindSummary, PartnerCode: partnerCode, Reference: sum.Reference, Status: sum.Status, Body: body,
			Signature: pay1st.SignSummary(partner.BasicAuthUsername, partner.BasicAuthPassword, body),
		}
		if err := s.post(ctx, partner.SummaryURL, h, d.lose); err != nil {
			errs = append(errs, err)
		}
	}
	return sum, errors.Join(errs...)
}

// sender is what SendEvent and SendSummary start from: a copy of the
// partner (so no lock is held while sending) and the delivery options.
func (s *Simulator) sender(partnerCode string, opts []Option) (Partner, delivery, error) {
	var d delivery
	for _, o := range opts {
		o(&d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pp := s.byCode[partnerCode]
	if pp == nil {
		return Partner{}, d, fmt.Errorf("%w: %s", ErrUnknownPartner, partnerCode)
	}
	return *pp, d, nil
}

// post sends a webhook (or records it as lost) and logs it.
func (s *Simulator) post(ctx context.Context, target string, h Webhook, lose bool) error {
	h.Time, h.URL, h.Lost = s.opts.Now(), redactToken(target), lose
	defer func() {
		s.logWebhook(h)
		s.logger.Debug("sim webhook", "kind", h.Kind, "reference", h.Reference, "status", h.Status,
			"lost", h.Lost, "response_status", h.ResponseStatus, "err", h.Err)
	}()
	if lose {
		return nil
	}
	if target == "" {
		h.Err = ErrNoWebhookURL.Error()
		return fmt.Errorf("%w (%s)", ErrNoWebhookURL, h.Reference)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(h.Body))
	if err != nil {
		h.Err = "bad URL"
		return fmt.Errorf("sim: %s webhook: bad URL %s", h.Kind, h.URL)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pay1st-sim")
	req.Header.Set(pay1st.HeaderSignature, h.Signature)
	if h.Timestamp != "" {
		req.Header.Set(pay1st.HeaderTimestamp, h.Timestamp)
	}
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		// A *url.Error quotes the full URL, ?token= and all: keep only its
		// cause, beside the redacted URL.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		h.Err = err.Error()
		return fmt.Errorf("sim: %s webhook to %s: %w", h.Kind, h.URL, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	h.ResponseStatus = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &WebhookError{Kind: h.Kind, Status: resp.StatusCode, Body: string(answer)}
	}
	return nil
}

// redactToken hides a webhook token (?token=) so the log holds no secret.
func redactToken(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "(unparseable URL)"
	}
	q := u.Query()
	if q.Has("token") {
		q.Set("token", "REDACTED")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
