package api

import (
	"context"
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

// FulfilmentHandler serves a tenant's fulfilment records — what partnerhub
// asked its plugin to do for each payment — and retries, by hand, those
// that failed (rejected by the plugin or out of attempts).
type FulfilmentHandler struct {
	tenants  *tenant.Service
	payments *payment.Service
	logger   *slog.Logger
}

// Fulfilment is one fulfilment record.
type Fulfilment struct {
	ID              int64      `json:"id" example:"4411" doc:"The record's id: retry-fulfilment takes it."`
	Environment     string     `json:"environment" enum:"staging,production" doc:"The payment's environment."`
	Kind            string     `json:"kind" enum:"fulfil,reverse" doc:"fulfil credits the purchase; reverse takes it back after a refund or chargeback."`
	State           string     `json:"state" enum:"pending,succeeded,failed" doc:"failed: rejected by the plugin, out of attempts, or its job ended without an outcome (lastError says so); retry-fulfilment queues it again."`
	Reference       string     `json:"reference" example:"C-1795274958-P" doc:"The payment's Pay1st reference."`
	PaymentStatus   string     `json:"paymentStatus" example:"SUCCESSFUL" doc:"The payment's current status."`
	Attempts        int        `json:"attempts" example:"3" doc:"Plugin calls made, over every retry: retries keep the history."`
	LastError       string     `json:"lastError,omitempty" example:"rejected by plugin: player banned" doc:"Why the last attempt failed; plugin settings are redacted."`
	ResultReference string     `json:"resultReference,omitempty" example:"game-tx-91" doc:"The game's reference for the credit, as the plugin returned it."`
	SucceededAt     *time.Time `json:"succeededAt,omitempty" doc:"When the plugin succeeded; absent until then."`
	CreatedAt       time.Time  `json:"createdAt" doc:"When the record was created (the payment became SUCCESSFUL, or was refunded)."`
	UpdatedAt       time.Time  `json:"updatedAt" doc:"When the record last changed."`
}

func fulfilmentOut(f payment.FulfilmentRecord) Fulfilment {
	return Fulfilment{ID: f.ID, Environment: f.Env, Kind: f.Kind, State: f.State, Reference: f.Reference,
		PaymentStatus: f.PaymentStatus, Attempts: f.Attempts, LastError: f.LastError, ResultReference: f.ResultReference,
		SucceededAt: f.SucceededAt, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt}
}

// FulfilmentsPath names a tenant.
type FulfilmentsPath struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
}

// ListFulfilmentsInput filters list-fulfilments.
type ListFulfilmentsInput struct {
	FulfilmentsPath
	State       string `query:"state" enum:"pending,succeeded,failed" example:"failed" doc:"Only records in this state."`
	Kind        string `query:"kind" enum:"fulfil,reverse" doc:"Only fulfilments or only reversals."`
	Environment string `query:"environment" enum:"staging,production" doc:"Only this environment's records; both when absent."`
	PageParams
}

// FulfilmentList is a page of fulfilment records, newest first.
type FulfilmentList struct {
	Items      []Fulfilment `json:"items" doc:"Newest first."`
	NextCursor string       `json:"nextCursor,omitempty" example:"MTI" doc:"Pass as cursor for the next (older) page; absent on the last page."`
}

// ListFulfilmentsOutput is list-fulfilments' answer.
type ListFulfilmentsOutput struct {
	Link string `header:"Link" doc:"The next page, as <url>; rel=\"next\"; absent on the last page."`
	Body FulfilmentList
}

// RetryFulfilmentInput names one failed fulfilment record.
type RetryFulfilmentInput struct {
	FulfilmentsPath
	FulfilmentID int64 `path:"fulfilmentId" minimum:"1" example:"4411" doc:"The fulfilment record's id, from the fulfilment list."`
}

// RetryFulfilmentOutput is the record, pending again.
type RetryFulfilmentOutput struct {
	Body Fulfilment
}

// RetryFulfilmentsInput selects the failed records a bulk retry queues again.
type RetryFulfilmentsInput struct {
	FulfilmentsPath
	Body struct {
		IDs         []int64 `json:"ids,omitempty" maxItems:"1000" example:"[4411, 4412]" doc:"These records. When absent, every failed record matching environment and kind, oldest first, up to max."`
		Environment string  `json:"environment,omitempty" enum:"staging,production" doc:"With no ids: only this environment's failed records."`
		Kind        string  `json:"kind,omitempty" enum:"fulfil,reverse" doc:"With no ids: only failed fulfilments or only failed reversals."`
		Max         int     `json:"max" minimum:"1" maximum:"1000" example:"100" doc:"The most records this call retries; with ids, there may not be more ids than this."`
	}
}

// RetrySkipped is a record a bulk retry left alone.
type RetrySkipped struct {
	ID     int64  `json:"id" example:"4412" doc:"The fulfilment record left alone."`
	Reason string `json:"reason" example:"it is pending, not failed" doc:"Why it was not retried."`
}

// RetryFulfilmentsOutput is what a bulk retry did.
type RetryFulfilmentsOutput struct {
	Body struct {
		Requeued []Fulfilment   `json:"requeued" doc:"Records put back to pending, each with a new job."`
		Skipped  []RetrySkipped `json:"skipped" doc:"Records left alone, and why (not found, not failed, payment no longer calls for it)."`
		More     bool           `json:"more" doc:"More failed records match than max: call again."`
	}
}

// Register adds the fulfilment operations to api.
func (h *FulfilmentHandler) Register(api huma.API) {
	tags := []string{"Fulfilments"}
	huma.Register(api, huma.Operation{
		OperationID: "list-fulfilments", Method: http.MethodGet,
		Path: "/v1/tenants/{partnerCode}/fulfilments", Tags: tags,
		Summary: "List fulfilments",
		Description: "A tenant's fulfilment and reversal records, newest first. `state=failed` lists what the plugin " +
			"rejected or what ran out of attempts: retry them with retry-fulfilment or retry-fulfilments. " +
			"Operators and the tenant's own keys.",
		Security: bearer,
		Errors:   []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, h.list)
	huma.Register(api, huma.Operation{
		OperationID: "retry-fulfilment", Method: http.MethodPost,
		Path: "/v1/tenants/{partnerCode}/fulfilments/{fulfilmentId}/retry", Tags: tags,
		Summary: "Retry a failed fulfilment",
		Description: "Puts a failed record back to pending and queues a new job for it; its attempts and last error " +
			"stay as history (get-payment shows every attempt), and the plugin gets the same idempotency key. A pending " +
			"record whose job ended without an outcome is queued again too. A succeeded record, or a pending one with a " +
			"job waiting or running — including one retried a moment ago — is 409, so retrying twice queues one job. " +
			"Audited. Writable keys only.",
		Security: bearer,
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict,
			http.StatusUnprocessableEntity},
	}, h.retry)
	huma.Register(api, huma.Operation{
		OperationID: "retry-fulfilments", Method: http.MethodPost,
		Path: "/v1/tenants/{partnerCode}/fulfilments/retry", Tags: tags,
		Summary: "Retry failed fulfilments in bulk",
		Description: "Retries the failed records named by ids, or up to max failed records matching environment and " +
			"kind, each as retry-fulfilment does, and reports which were queued again and which were skipped and why. " +
			"Audited per record. Writable keys only.",
		Security: bearer,
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, h.retryMany)
}

func (h *FulfilmentHandler) list(ctx context.Context, in *ListFulfilmentsInput) (*ListFulfilmentsOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	page, err := h.payments.ListFulfilments(ctx, payment.FulfilmentFilter{TenantID: t.ID, Env: in.Environment,
		State: in.State, Kind: in.Kind, Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &ListFulfilmentsOutput{Body: FulfilmentList{Items: make([]Fulfilment, 0, len(page.Items)), NextCursor: page.NextCursor}}
	for _, f := range page.Items {
		out.Body.Items = append(out.Body.Items, fulfilmentOut(f))
	}
	q := url.Values{"state": {in.State}, "kind": {in.Kind}, "environment": {in.Environment}}
	out.Link = nextLink("/v1/tenants/"+t.PartnerCode+"/fulfilments", q, tenant.PageLimit(in.Limit), page.NextCursor)
	return out, nil
}

// audit records a retry in its transaction.
func (h *FulfilmentHandler) audit(t tenant.Tenant, bulk bool) payment.RetryAudit {
	return func(ctx context.Context, tx pgx.Tx, f payment.FulfilmentRecord) error {
		return h.tenants.AuditTx(ctx, tx, "fulfilment.retry", t.ID, "fulfilment:"+strconv.FormatInt(f.ID, 10),
			// No lastError: plugin text does not belong in the audit log.
			map[string]any{"env": f.Env, "kind": f.Kind, "reference": f.Reference, "attempts": f.Attempts, "bulk": bulk})
	}
}

func (h *FulfilmentHandler) retry(ctx context.Context, in *RetryFulfilmentInput) (*RetryFulfilmentOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	f, err := h.payments.RetryFulfilment(ctx, t.PartnerCode, t.ID, in.FulfilmentID, h.audit(t, false))
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &RetryFulfilmentOutput{Body: fulfilmentOut(f)}, nil
}

func (h *FulfilmentHandler) retryMany(ctx context.Context, in *RetryFulfilmentsInput) (*RetryFulfilmentsOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	res, err := h.payments.RetryFulfilments(ctx, t.PartnerCode, payment.BulkRetry{TenantID: t.ID, IDs: in.Body.IDs,
		Env: in.Body.Environment, Kind: in.Body.Kind, Max: in.Body.Max}, h.audit(t, true))
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &RetryFulfilmentsOutput{}
	out.Body.Requeued = make([]Fulfilment, 0, len(res.Requeued))
	for _, f := range res.Requeued {
		out.Body.Requeued = append(out.Body.Requeued, fulfilmentOut(f))
	}
	out.Body.Skipped = make([]RetrySkipped, 0, len(res.Skipped))
	for _, s := range res.Skipped {
		out.Body.Skipped = append(out.Body.Skipped, RetrySkipped{ID: s.ID, Reason: s.Reason})
	}
	out.Body.More = res.More
	return out, nil
}
