package api

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// DeliveryHandler serves the deliveries log: every request that reached a
// Pay1st-facing endpoint, accepted or rejected, with why.
type DeliveryHandler struct {
	tenants  *tenant.Service
	payments *payment.Service
	logger   *slog.Logger
}

// Delivery is one recorded request.
type Delivery struct {
	ID            int64             `json:"id" example:"1207" doc:"The delivery's id: get-delivery takes it."`
	SessionID     string            `json:"sessionId" example:"c5a552942a9100b99686117d" doc:"The sessionId partnerhub answered with."`
	ReceivedAt    time.Time         `json:"receivedAt" doc:"When the request arrived."`
	PartnerCode   string            `json:"partnerCode" example:"acme-games" doc:"As received in the path (it may name no tenant)."`
	Env           string            `json:"env" example:"staging" doc:"As received in the path."`
	Kind          string            `json:"kind" enum:"payment_event,summary,user_info,return,reconcile" doc:"Which endpoint received it (reconcile: Pay1st's answer to a reconciliation query)."`
	RemoteAddr    string            `json:"remoteAddr" example:"203.0.113.9:41230" doc:"The TCP peer address (the one the IP allow-list checks)."`
	Verdict       string            `json:"verdict" enum:"accepted,duplicate,rejected" doc:"accepted: recorded and acted on; duplicate: already recorded, nothing changed; rejected: refused (reason says why)."`
	Reason        string            `json:"reason,omitempty" example:"signature does not match" doc:"Why it was rejected, or marked duplicate."`
	StatusCode    int               `json:"statusCode" example:"401" doc:"The HTTP status partnerhub answered."`
	Reference     string            `json:"reference,omitempty" example:"C-1795274958-P" doc:"The payment reference, once the body was read."`
	Headers       map[string]string `json:"headers" doc:"The recorded headers (never Authorization or cookies)."`
	BodyTruncated bool              `json:"bodyTruncated" doc:"Rejected bodies are kept up to 64 KiB; larger ones are cut."`
	// Body is only in get-delivery.
	Body         *string `json:"body,omitempty" doc:"The raw body as received (webhook tokens redacted); only in get-delivery."`
	BodyEncoding string  `json:"bodyEncoding,omitempty" enum:"utf-8,base64" doc:"base64 when the body is not valid UTF-8."`
}

func deliveryOut(d payment.Delivery, withBody bool) Delivery {
	out := Delivery{ID: d.ID, SessionID: d.SessionID, ReceivedAt: d.ReceivedAt, PartnerCode: d.PartnerCode, Env: d.Env,
		Kind: d.Kind, RemoteAddr: d.RemoteAddr, Verdict: d.Verdict, Reason: d.Reason, StatusCode: d.StatusCode,
		Reference: d.Reference, Headers: d.Headers, BodyTruncated: d.BodyTruncated}
	if out.Headers == nil {
		out.Headers = map[string]string{}
	}
	if withBody {
		body, enc := string(d.Body), "utf-8"
		if !utf8.Valid(d.Body) {
			body, enc = base64.StdEncoding.EncodeToString(d.Body), "base64"
		}
		out.Body, out.BodyEncoding = &body, enc
	}
	return out
}

// DeliverySearch are the filters of the delivery lists.
type DeliverySearch struct {
	Kind      string    `query:"kind" enum:"payment_event,summary,user_info,return,reconcile" doc:"Only this endpoint's deliveries (reconcile: Pay1st's answers to reconciliation's queries)."`
	Verdict   string    `query:"verdict" enum:"accepted,duplicate,rejected" doc:"Only deliveries with this verdict."`
	Reference string    `query:"reference" maxLength:"512" example:"C-1795274958-P" doc:"Only deliveries about this payment reference."`
	From      time.Time `query:"from" example:"2026-03-01T00:00:00Z" doc:"Received at or after (RFC 3339)."`
	To        time.Time `query:"to" example:"2026-04-01T00:00:00Z" doc:"Received before (RFC 3339)."`
	PageParams
}

func (s DeliverySearch) filter() payment.DeliveryFilter {
	return payment.DeliveryFilter{Kind: s.Kind, Verdict: s.Verdict, Reference: s.Reference, From: s.From, To: s.To,
		Limit: s.Limit, Cursor: s.Cursor}
}

func (s DeliverySearch) query() url.Values {
	v := url.Values{"kind": {s.Kind}, "verdict": {s.Verdict}, "reference": {s.Reference}}
	if !s.From.IsZero() {
		v.Set("from", s.From.Format(time.RFC3339Nano))
	}
	if !s.To.IsZero() {
		v.Set("to", s.To.Format(time.RFC3339Nano))
	}
	return v
}

// ListDeliveriesInput searches one tenant environment's deliveries.
type ListDeliveriesInput struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	Env         string `path:"env" example:"staging" doc:"The environment: staging or production."`
	DeliverySearch
}

// ListAllDeliveriesInput searches every delivery (operators).
type ListAllDeliveriesInput struct {
	PartnerCode string `query:"partnerCode" maxLength:"100" example:"acme-games" doc:"As received in the path: finds calls for codes no tenant has."`
	Env         string `query:"env" maxLength:"20" example:"production" doc:"Only deliveries to this environment (staging or production)."`
	DeliverySearch
}

// DeliveryList is a page of deliveries, newest first.
type DeliveryList struct {
	Items      []Delivery `json:"items" doc:"Deliveries, newest first."`
	NextCursor string     `json:"nextCursor,omitempty" example:"MTIwNw" doc:"Pass as cursor for the next (older) page; absent on the last page."`
}

// DeliveryListOutput is a list's answer.
type DeliveryListOutput struct {
	Link string `header:"Link" doc:"The next page, as <url>; rel=\"next\"; absent on the last page."`
	Body DeliveryList
}

// GetDeliveryInput names one delivery.
type GetDeliveryInput struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	Env         string `path:"env" example:"staging" doc:"The environment: staging or production."`
	DeliveryID  int64  `path:"deliveryId" minimum:"1" example:"1207" doc:"The delivery's id, from a delivery list or the sessionId a webhook answer carried."`
}

// DeliveryOutput is one delivery with its body.
type DeliveryOutput struct {
	Body Delivery
}

// Register adds the deliveries log operations to api.
func (h *DeliveryHandler) Register(api huma.API) {
	tags := []string{"Deliveries"}
	huma.Register(api, huma.Operation{
		OperationID: "list-deliveries", Method: http.MethodGet, Path: "/v1/tenants/{partnerCode}/environments/{env}/deliveries", Tags: tags,
		Summary:     "Search a tenant environment's deliveries",
		Description: "Every request that reached this tenant's Pay1st-facing endpoints, accepted or rejected, newest first, without bodies. Kept for PARTNERHUB_DELIVERY_RETENTION.",
		Security:    bearer, Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, h.list)
	huma.Register(api, huma.Operation{
		OperationID: "get-delivery", Method: http.MethodGet, Path: "/v1/tenants/{partnerCode}/environments/{env}/deliveries/{deliveryId}", Tags: tags,
		Summary:     "Get a delivery with its body",
		Description: "The recorded request: headers, verdict, reason and raw body (webhook tokens redacted).",
		Security:    bearer, Errors: []int{http.StatusUnauthorized, http.StatusNotFound},
	}, h.get)
	huma.Register(api, huma.Operation{
		OperationID: "list-all-deliveries", Method: http.MethodGet, Path: "/v1/deliveries", Tags: tags,
		Summary:     "Search every delivery",
		Description: "Operators only: all tenants' deliveries, and calls for partnerCodes no tenant has.",
		Security:    bearer, Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity},
	}, h.listAll)
}

func (h *DeliveryHandler) list(ctx context.Context, in *ListDeliveriesInput) (*DeliveryListOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err == nil && !tenant.ValidEnv(in.Env) {
		err = tenant.ErrNotFound
	}
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	f := in.filter()
	f.TenantID, f.Env = t.ID, in.Env
	return h.page(ctx, f, "/v1/tenants/"+t.PartnerCode+"/environments/"+in.Env+"/deliveries", in.query())
}

func (h *DeliveryHandler) listAll(ctx context.Context, in *ListAllDeliveriesInput) (*DeliveryListOutput, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	f := in.filter()
	f.PartnerCode, f.Env = in.PartnerCode, in.Env
	q := in.query()
	q.Set("partnerCode", in.PartnerCode)
	q.Set("env", in.Env)
	return h.page(ctx, f, "/v1/deliveries", q)
}

func (h *DeliveryHandler) page(ctx context.Context, f payment.DeliveryFilter, path string, q url.Values) (*DeliveryListOutput, error) {
	page, err := h.payments.ListDeliveries(ctx, f)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &DeliveryListOutput{Body: DeliveryList{Items: make([]Delivery, 0, len(page.Deliveries)), NextCursor: page.NextCursor}}
	for _, d := range page.Deliveries {
		out.Body.Items = append(out.Body.Items, deliveryOut(d, false))
	}
	out.Link = nextLink(path, q, tenant.PageLimit(f.Limit), page.NextCursor)
	return out, nil
}

func (h *DeliveryHandler) get(ctx context.Context, in *GetDeliveryInput) (*DeliveryOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err == nil && !tenant.ValidEnv(in.Env) {
		err = tenant.ErrNotFound
	}
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	d, err := h.payments.GetDelivery(ctx, t.ID, in.Env, in.DeliveryID)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &DeliveryOutput{Body: deliveryOut(d, true)}, nil
}
