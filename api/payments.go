package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// PaymentHandler serves a tenant environment's payments as Pay1st reported
// them, each with its timeline: the events, the requests that carried them
// and what partnerhub did about them (fulfilments, reversals). Read-only:
// payments change only through Pay1st's events.
type PaymentHandler struct {
	tenants  *tenant.Service
	payments *payment.Service
	logger   *slog.Logger
}

// Payment is a payment's current state.
type Payment struct {
	Reference        string     `json:"reference" example:"C-1795274958-P" doc:"Pay1st's payment reference: the payment's identity."`
	PartnerReference string     `json:"partnerReference" example:"order-8812" doc:"The game's own order reference."`
	Status           string     `json:"status" example:"SUCCESSFUL" doc:"The current status: the newest event the transition table allowed (docs/payments.md)."`
	StatusUpdatedAt  time.Time  `json:"statusUpdatedAt" doc:"The updatedDate of the event that set the status."`
	Amount           string     `json:"amount" example:"1234.50" doc:"orderAmount of the first event, an exact decimal in major units."`
	CurrencyCode     string     `json:"currencyCode" example:"NGN" doc:"ISO 4217 of the amount."`
	CountryCode      string     `json:"countryCode" example:"NG" doc:"ISO 3166-1 alpha-2 of the customer's country."`
	CustomerID       int64      `json:"customerId" example:"77" doc:"Pay1st's customer id."`
	PaymentMethod    string     `json:"paymentMethod" example:"CARD" doc:"How the customer paid, as Pay1st names it."`
	CreatedDate      time.Time  `json:"createdDate" doc:"Pay1st's createdDate."`
	CreatedAt        time.Time  `json:"createdAt" doc:"When partnerhub first heard of the payment; from/to filter on it."`
	UpdatedAt        time.Time  `json:"updatedAt" doc:"When partnerhub last changed the payment."`
	OnHold           bool       `json:"onHold" doc:"Held for review: the amount or currency differed from what partnerhub expected. Nothing is fulfilled or reversed while held."`
	HoldReason       string     `json:"holdReason,omitempty" example:"amount 99 differs from the payment's first event (10)" doc:"Why it is held; absent when not held."`
	HeldAt           *time.Time `json:"heldAt,omitempty" doc:"When it was put on hold; absent when not held."`
}

func paymentOut(p payment.Payment) Payment {
	return Payment{Reference: p.Reference, PartnerReference: p.PartnerReference, Status: p.Status,
		StatusUpdatedAt: p.StatusUpdatedAt, Amount: p.Amount.String(), CurrencyCode: p.CurrencyCode,
		CountryCode: p.CountryCode, CustomerID: p.CustomerID, PaymentMethod: p.PaymentMethod,
		CreatedDate: p.CreatedDate, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
		OnHold: p.OnHold, HoldReason: p.HoldReason, HeldAt: p.HeldAt}
}

// TimelineEvent is one Payment Webhook Event in a timeline. (Not named
// PaymentEvent: that schema name is Pay1st's webhook body, webhookdoc.go.)
type TimelineEvent struct {
	Status      string    `json:"status" example:"SUCCESSFUL" doc:"The status the event carried."`
	UpdatedDate time.Time `json:"updatedDate" doc:"The event's updatedDate: what orders the events of one payment."`
	Applied     bool      `json:"applied" doc:"It became the payment's status when it arrived. An older event is kept but not applied."`
	Flagged     bool      `json:"flagged" doc:"Newer than the status, but a move the transition table forbids (e.g. PENDING after SUCCESSFUL): recorded, not applied."`
	FlagReason  string    `json:"flagReason,omitempty" example:"transition SUCCESSFUL -> PENDING is not allowed" doc:"Why it was flagged; absent when not flagged."`
	DeliveryID  int64     `json:"deliveryId,omitempty" example:"1207" doc:"The delivery that carried it; absent once retention deleted it."`
	ReceivedAt  time.Time `json:"receivedAt" doc:"When partnerhub received it."`
}

// PaymentDelivery is a request about the payment, without body or headers
// (get-delivery shows those).
type PaymentDelivery struct {
	ID         int64     `json:"id" example:"1207" doc:"The delivery's id: get-delivery shows its body and headers."`
	SessionID  string    `json:"sessionId" example:"c5a552942a9100b99686117d" doc:"The sessionId partnerhub answered with."`
	ReceivedAt time.Time `json:"receivedAt" doc:"When partnerhub received it."`
	Kind       string    `json:"kind" enum:"payment_event,summary,user_info,return,reconcile" doc:"Which endpoint received it (reconcile: Pay1st's answer to a reconciliation query)."`
	Verdict    string    `json:"verdict" enum:"accepted,duplicate,rejected" doc:"accepted: recorded and acted on; duplicate: already recorded; rejected: refused."`
	Reason     string    `json:"reason,omitempty" example:"event already recorded" doc:"Why it was rejected, or marked duplicate."`
	StatusCode int       `json:"statusCode" example:"200" doc:"The HTTP status partnerhub answered."`
}

// PaymentFulfilment is what partnerhub asked the game's plugin to do.
type PaymentFulfilment struct {
	Kind            string           `json:"kind" enum:"fulfil,reverse" doc:"fulfil credits the purchase; reverse takes it back after a refund or chargeback."`
	State           string           `json:"state" enum:"pending,succeeded,failed" doc:"failed: rejected by the plugin or out of attempts; an operator decides."`
	Attempts        int              `json:"attempts" example:"1" doc:"Plugin calls made."`
	LastError       string           `json:"lastError,omitempty" example:"plugin asked to retry: game backend down" doc:"Why the last attempt failed; plugin settings are redacted."`
	ResultReference string           `json:"resultReference,omitempty" example:"game-tx-91" doc:"The game's reference for the credit, as the plugin returned it."`
	SucceededAt     *time.Time       `json:"succeededAt,omitempty" doc:"When the plugin succeeded; absent until then."`
	History         []PaymentAttempt `json:"history" doc:"Every attempt, oldest first (the newest 100), kept across retries by hand."`
}

// PaymentAttempt is one try at a fulfilment or reversal.
type PaymentAttempt struct {
	Number     int        `json:"number" example:"1" doc:"1 for the first attempt, counting across retries by hand."`
	StartedAt  time.Time  `json:"startedAt" doc:"When the attempt began."`
	FinishedAt *time.Time `json:"finishedAt,omitempty" doc:"Absent while it runs (or if its node died; the sweeper then closes it as unknown)."`
	Outcome    string     `json:"outcome" enum:"running,succeeded,failed,released,unknown" doc:"released: put back without an outcome (shutdown, plugin host busy) and tried again; unknown: the job ended without recording one."`
	Reason     string     `json:"reason,omitempty" example:"plugin asked to retry: game backend down" doc:"Why it failed or was released; plugin settings are redacted."`
	PluginID   int64      `json:"pluginId,omitempty" example:"12" doc:"The plugin that was active; absent once deleted."`
}

// PaymentReport is the report of a gateway payment's fulfilment to Pay1st.
type PaymentReport struct {
	State       string            `json:"state" enum:"pending,succeeded,failed" doc:"pending: to be reported, or being retried; succeeded: Pay1st accepted it (never sent again); failed: retries ran out, an operator decides."`
	Attempts    int               `json:"attempts" example:"1" doc:"Calls to Pay1st's Fulfilment Completion, counting across retries by hand."`
	LastError   string            `json:"lastError,omitempty" example:"pay1st: complete fulfilment: HTTP 503" doc:"Why the last attempt failed; never credentials or tokens."`
	FulfilledAt time.Time         `json:"fulfilledAt" doc:"When the game was credited: the fulfilmentTime reported."`
	Products    []ReportedProduct `json:"products" doc:"The lines Pay1st accepted (FULFILLED), once it did."`
	ReportedAt  *time.Time        `json:"reportedAt,omitempty" doc:"When Pay1st accepted the report."`
}

// ReportedProduct is one line of a fulfilment report.
type ReportedProduct struct {
	SKU      string `json:"sku" example:"GEMS-100" doc:"The bundle's SKU."`
	Quantity int64  `json:"quantity" example:"2" doc:"How many were fulfilled."`
}

// PaymentTimeline is a payment and everything that happened to it.
type PaymentTimeline struct {
	Payment
	Events      []TimelineEvent     `json:"events" doc:"Oldest first, applied or not."`
	Deliveries  []PaymentDelivery   `json:"deliveries" doc:"Requests naming the reference, oldest first."`
	Fulfilments []PaymentFulfilment `json:"fulfilments" doc:"fulfil, then reverse."`
	Report      *PaymentReport      `json:"report,omitempty" doc:"The fulfilment report to Pay1st, for a payment partnerhub created as an order, once its fulfilment succeeded; absent otherwise (Shop payments have none)."`
	Truncated   bool                `json:"truncated" doc:"More than 500 events or deliveries: the newest are shown."`
}

// PaymentPath names a tenant environment.
type PaymentPath struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	Env         string `path:"env" example:"staging" doc:"staging or production; any other name is not found."`
}

// ListPaymentsInput filters list-payments.
type ListPaymentsInput struct {
	PaymentPath
	Status           string    `query:"status" enum:"ABANDONED,CANCELLED,CHARGEBACK,FAILED,NEW,PAY_OFFLINE,PENDING,PENDING_INVESTIGATION,READY,REFUND,SEND_BIRTHDAY,SEND_PHONE,SEND_PIN,SEND_OTP,SEND_VALIDATION_TOKEN,SUCCESSFUL,VALIDATED" doc:"Only payments whose current status is this."`
	From             time.Time `query:"from" example:"2026-03-01T00:00:00Z" doc:"First heard of (createdAt) at or after (RFC 3339)."`
	To               time.Time `query:"to" example:"2026-04-01T00:00:00Z" doc:"First heard of (createdAt) before (RFC 3339)."`
	Reference        string    `query:"reference" maxLength:"200" example:"C-1795274958-P" doc:"Only the payment with this Pay1st reference."`
	PartnerReference string    `query:"partnerReference" maxLength:"200" example:"order-8812" doc:"Only payments of the order with this partnerReference."`
	CustomerID       int64     `query:"customerId" minimum:"0" example:"77" doc:"Only this customer's payments; 0 or absent: all."`
	OnHold           string    `query:"onHold" enum:"true,false" doc:"true: only held payments; false: only payments not held."`
	PageParams
}

// PaymentList is a page of payments, newest first.
type PaymentList struct {
	Items      []Payment `json:"items" doc:"Newest first."`
	NextCursor string    `json:"nextCursor,omitempty" example:"MTI" doc:"Pass as cursor for the next (older) page; absent on the last page."`
}

// PaymentListOutput is list-payments' answer.
type PaymentListOutput struct {
	Link string `header:"Link" doc:"The next page, as <url>; rel=\"next\"; absent on the last page."`
	Body PaymentList
}

// GetPaymentInput names one payment.
type GetPaymentInput struct {
	PaymentPath
	Reference string `path:"reference" maxLength:"200" example:"C-1795274958-P" doc:"The payment's Pay1st reference."`
}

// PaymentOutput is get-payment's answer.
type PaymentOutput struct {
	Body PaymentTimeline
}

// ReleaseHoldInput names the held payment and says why it may proceed.
type ReleaseHoldInput struct {
	PaymentPath
	Reference string `path:"reference" maxLength:"200" example:"C-1795274958-P" doc:"The payment's Pay1st reference."`
	Body      struct {
		Note string `json:"note" minLength:"1" maxLength:"500" example:"Customer paid the promotional price; checked with finance." doc:"Why the payment may proceed; kept in the audit log."`
	}
}

// ReleaseHoldOutput is the released payment and what was queued.
type ReleaseHoldOutput struct {
	Body struct {
		Payment
		FulfilQueued  bool `json:"fulfilQueued" doc:"The payment is SUCCESSFUL: its fulfilment was queued."`
		ReverseQueued bool `json:"reverseQueued" doc:"The payment was refunded or charged back after its fulfilment started: a reversal was queued."`
	}
}

// RetryReportInput names the payment whose fulfilment report to try
// again now.
type RetryReportInput struct {
	PaymentPath
	Reference string `path:"reference" maxLength:"200" example:"C-1795274958-P" doc:"The payment's Pay1st reference."`
}

// RetryReportOutput is the report, pending.
type RetryReportOutput struct {
	Body PaymentReport
}

// Register adds the payment operations to api.
func (h *PaymentHandler) Register(api huma.API) {
	tags := []string{"Payments"}
	huma.Register(api, huma.Operation{
		OperationID: "list-payments", Method: http.MethodGet,
		Path: "/v1/tenants/{partnerCode}/environments/{env}/payments", Tags: tags,
		Summary: "List payments",
		Description: "A tenant environment's payments, newest first, as Pay1st's events left them. " +
			"Filters combine; from/to bound when partnerhub first heard of the payment (createdAt). " +
			"Operators and the tenant's own keys.",
		Security: bearer,
		Errors:   []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, h.list)
	huma.Register(api, huma.Operation{
		OperationID: "get-payment", Method: http.MethodGet,
		Path: "/v1/tenants/{partnerCode}/environments/{env}/payments/{reference}", Tags: tags,
		Summary: "Get a payment's timeline",
		Description: "The payment with its events (applied, stale or flagged), the requests about it " +
			"(without bodies or signatures), its fulfilment and reversal with their attempts, and, for a payment " +
			"partnerhub created as an order, the report of its fulfilment to Pay1st.",
		Security: bearer,
		Errors:   []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, h.get)
	huma.Register(api, huma.Operation{
		OperationID: "release-payment-hold", Method: http.MethodPost,
		Path: "/v1/tenants/{partnerCode}/environments/{env}/payments/{reference}/release-hold", Tags: tags,
		Summary: "Release a held payment",
		Description: "Clears the hold of a payment whose amount or currency differed from what partnerhub expected, " +
			"and queues what its status implies: the fulfilment of a SUCCESSFUL payment, or the reversal of a " +
			"refunded one whose fulfilment started. Operator keys only; audited with the note.",
		Security: bearer,
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict,
			http.StatusUnprocessableEntity},
	}, h.release)
	huma.Register(api, huma.Operation{
		OperationID: "retry-payment-report", Method: http.MethodPost,
		Path: "/v1/tenants/{partnerCode}/environments/{env}/payments/{reference}/retry-report", Tags: tags,
		Summary: "Retry a fulfilment report now",
		Description: "Has the report of a gateway payment's fulfilment to Pay1st tried again now (after fixing what " +
			"Pay1st refused, e.g. the environment's credentials): a pending report whose job waits for its next try " +
			"(a refusal waits up to an hour) has that job run at once; a failed report, or a pending one whose job " +
			"ended without settling it, is put back to pending with a new job. Attempts and last error stay; " +
			"retrying twice still makes one job. A succeeded report, or one whose job is running right now, is 409; " +
			"a payment without a report is 404. Audited. Writable keys only.",
		Security: bearer,
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict,
			http.StatusUnprocessableEntity},
	}, h.retryReport)
}

func (h *PaymentHandler) retryReport(ctx context.Context, in *RetryReportInput) (*RetryReportOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	r, err := h.payments.RetryReport(ctx, t.ID, in.Env, in.Reference, func(ctx context.Context, tx pgx.Tx, r payment.Report) error {
		// No lastError: Pay1st's text does not belong in the audit log.
		return h.tenants.AuditTx(ctx, tx, "payment.retry_report", t.ID, "payment:"+strconv.FormatInt(r.PaymentID, 10),
			map[string]any{"env": r.Env, "reference": r.Reference, "attempts": r.Attempts})
	})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &RetryReportOutput{Body: *reportOut(r)}, nil
}

func (h *PaymentHandler) release(ctx context.Context, in *ReleaseHoldInput) (*ReleaseHoldOutput, error) {
	t, err := operatorTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	env, err := h.tenants.Env(ctx, t.PartnerCode, in.Env)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	rel, err := h.payments.ReleaseHold(ctx, env, in.Reference, func(ctx context.Context, tx pgx.Tx, p payment.Payment) error {
		return h.tenants.AuditTx(ctx, tx, "payment.release_hold", t.ID, "payment:"+strconv.FormatInt(p.ID, 10),
			map[string]any{"env": in.Env, "reference": p.Reference, "holdReason": p.HoldReason, "status": p.Status, "note": in.Body.Note})
	})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &ReleaseHoldOutput{}
	out.Body.Payment = paymentOut(rel.Payment)
	out.Body.FulfilQueued, out.Body.ReverseQueued = rel.Enqueued, rel.ReverseQueued
	return out, nil
}

func (h *PaymentHandler) list(ctx context.Context, in *ListPaymentsInput) (*PaymentListOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	f := payment.ListFilter{TenantID: t.ID, Env: in.Env, Status: in.Status, From: in.From, To: in.To,
		Reference: in.Reference, PartnerReference: in.PartnerReference, CustomerID: in.CustomerID,
		Limit: in.Limit, Cursor: in.Cursor}
	if in.OnHold != "" {
		held := in.OnHold == "true"
		f.OnHold = &held
	}
	page, err := h.payments.List(ctx, f)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &PaymentListOutput{Body: PaymentList{Items: make([]Payment, 0, len(page.Payments)), NextCursor: page.NextCursor}}
	for _, p := range page.Payments {
		out.Body.Items = append(out.Body.Items, paymentOut(p))
	}
	q := url.Values{"status": {in.Status}, "reference": {in.Reference}, "partnerReference": {in.PartnerReference},
		"onHold": {in.OnHold}}
	if !in.From.IsZero() {
		q.Set("from", in.From.Format(time.RFC3339Nano))
	}
	if !in.To.IsZero() {
		q.Set("to", in.To.Format(time.RFC3339Nano))
	}
	if in.CustomerID != 0 {
		q.Set("customerId", strconv.FormatInt(in.CustomerID, 10))
	}
	out.Link = nextLink("/v1/tenants/"+t.PartnerCode+"/environments/"+url.PathEscape(in.Env)+"/payments", q,
		tenant.PageLimit(in.Limit), page.NextCursor)
	return out, nil
}

func (h *PaymentHandler) get(ctx context.Context, in *GetPaymentInput) (*PaymentOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	tl, err := h.payments.Timeline(ctx, t.ID, in.Env, in.Reference)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := PaymentTimeline{Payment: paymentOut(tl.Payment), Truncated: tl.Truncated,
		Events:      make([]TimelineEvent, 0, len(tl.Events)),
		Deliveries:  make([]PaymentDelivery, 0, len(tl.Deliveries)),
		Fulfilments: make([]PaymentFulfilment, 0, len(tl.Fulfilments))}
	for _, e := range tl.Events {
		out.Events = append(out.Events, TimelineEvent{Status: e.Status, UpdatedDate: e.UpdatedDate, Applied: e.Applied,
			Flagged: e.Flagged, FlagReason: e.FlagReason, DeliveryID: e.DeliveryID, ReceivedAt: e.ReceivedAt})
	}
	for _, d := range tl.Deliveries {
		out.Deliveries = append(out.Deliveries, PaymentDelivery{ID: d.ID, SessionID: d.SessionID, ReceivedAt: d.ReceivedAt,
			Kind: d.Kind, Verdict: d.Verdict, Reason: d.Reason, StatusCode: d.StatusCode})
	}
	for _, f := range tl.Fulfilments {
		pf := PaymentFulfilment{Kind: f.Kind, State: f.State, Attempts: f.Attempts, LastError: f.LastError,
			ResultReference: f.ResultReference, SucceededAt: f.SucceededAt, History: []PaymentAttempt{}}
		for _, a := range tl.Attempts {
			if a.FulfilmentID == f.ID {
				pf.History = append(pf.History, PaymentAttempt{Number: a.Number, StartedAt: a.StartedAt,
					FinishedAt: a.FinishedAt, Outcome: a.Outcome, Reason: a.Reason, PluginID: a.PluginID})
			}
		}
		out.Fulfilments = append(out.Fulfilments, pf)
	}
	r, err := h.payments.Report(ctx, tl.Payment.ID)
	switch {
	case err == nil:
		out.Report = reportOut(r)
	case !errors.Is(err, payment.ErrNotFound):
		return nil, problem(ctx, h.logger, err)
	}
	return &PaymentOutput{Body: out}, nil
}

func reportOut(r payment.Report) *PaymentReport {
	out := &PaymentReport{State: r.State, Attempts: r.Attempts, LastError: r.LastError, FulfilledAt: r.FulfilledAt,
		Products: make([]ReportedProduct, 0, len(r.Products)), ReportedAt: r.ReportedAt}
	for _, p := range r.Products {
		out.Products = append(out.Products, ReportedProduct{SKU: p.SKU, Quantity: p.Quantity})
	}
	return out
}
