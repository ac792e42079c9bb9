package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// OrderHandler serves orders, the payments partnerhub creates at the Pay1st
// Gateway for a tenant environment, at
// /v1/tenants/{partnerCode}/environments/{env}/orders.
type OrderHandler struct {
	tenants  *tenant.Service
	payments *payment.Service
	logger   *slog.Logger
}

// OrderPath names one tenant environment's orders.
type OrderPath struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	Env         string `path:"env" example:"staging" doc:"staging or production; any other name is not found."`
}

func (p OrderPath) base() string {
	return "/v1/tenants/" + p.PartnerCode + "/environments/" + p.Env + "/orders"
}

// OrderCustomer is who pays.
type OrderCustomer struct {
	ID int64 `json:"id" minimum:"1" example:"1001" doc:"The customer's id in the game (Pay1st's customerId); fulfilment credits this player."`
}

// OrderLine is one product asked for.
type OrderLine struct {
	SKU      string `json:"sku" pattern:"^[A-Za-z0-9._-]{1,64}$" example:"gold-100" doc:"A bundle's SKU in the environment's catalog."`
	Quantity int64  `json:"quantity" minimum:"1" maximum:"1000" example:"1" doc:"How many of the bundle."`
}

// OrderBody is create-order's request.
type OrderBody struct {
	PartnerReference string        `json:"partnerReference" pattern:"^[A-Za-z0-9._~:-]{1,128}$" example:"order-4a662291" doc:"Your own reference for the order, unique forever in the environment (Pay1st refuses a reused one). The same request with it again answers the stored order; another request with it is refused (409)."`
	Customer         OrderCustomer `json:"customer"`
	Products         []OrderLine   `json:"products" nullable:"false" minItems:"1" maxItems:"50" doc:"What the customer buys: each SKU once. Priced from the catalog, never from the request."`
	CountryCode      string        `json:"countryCode" pattern:"^[A-Z]{2}$" example:"ZA" doc:"ISO 3166-1 alpha-2 of the customer's country: every product must be sold and priced there."`
	CurrencyCode     string        `json:"currencyCode,omitempty" pattern:"^[A-Z]{3}$" example:"ZAR" doc:"ISO 4217. Optional when the products have prices in one currency only for the country."`
}

func (b OrderBody) request() payment.OrderRequest {
	r := payment.OrderRequest{PartnerReference: b.PartnerReference, CustomerID: b.Customer.ID,
		CountryCode: b.CountryCode, CurrencyCode: b.CurrencyCode}
	for _, l := range b.Products {
		r.Products = append(r.Products, payment.OrderLine{SKU: l.SKU, Quantity: l.Quantity})
	}
	return r
}

// OrderItem is one priced line of an order.
type OrderItem struct {
	SKU             string          `json:"sku" example:"gold-100" doc:"The bundle's SKU."`
	Title           string          `json:"title" example:"100 Gold coins" doc:"The bundle's name when the order was made."`
	Quantity        int64           `json:"quantity" example:"1" doc:"How many of the bundle."`
	Price           string          `json:"price" example:"1000.00" doc:"Price of one unit in the order's currency, exact, from the catalog when the order was made."`
	DigitalCurrency DigitalCurrency `json:"digitalCurrency"`
	DigitalAmount   string          `json:"digitalAmount" example:"100" doc:"Digital currency one unit credits."`
}

// Order is an order as the API shows it.
type Order struct {
	PartnerReference string        `json:"partnerReference" example:"order-4a662291" doc:"Your reference for the order, as given at creation."`
	Environment      string        `json:"environment" enum:"staging,production" example:"staging" doc:"The environment the order was made in."`
	Gateway          string        `json:"gateway" enum:"pay1st,simulator" example:"pay1st" doc:"Where the payment was created: Pay1st, or partnerhub's simulator."`
	Status           string        `json:"status" enum:"creating,created,unknown,failed,flagged" example:"created" doc:"creating: Pay1st has not confirmed it yet (repeat the request to retry). created: Pay1st answered with its reference (or its webhook told it). unknown: an earlier call got no answer and Pay1st then refused the request: the payment may exist, but nobody has its checkout link; partnerhub never asks Pay1st again: use a new partnerReference (a webhook may still make it created). failed: Pay1st refused it (lastError says why); repeat to retry. flagged: Pay1st's answer and its webhook disagree on the reference; its payments are held for an operator."`
	Reference        string        `json:"reference,omitempty" example:"C-6f1c2a9b-P" doc:"Pay1st's payment reference, once created."`
	PaymentStatus    string        `json:"paymentStatus,omitempty" example:"SUCCESSFUL" doc:"The payment's status as Pay1st's webhooks told it; absent before the first."`
	Customer         OrderCustomer `json:"customer"`
	CountryCode      string        `json:"countryCode" example:"ZA" doc:"ISO 3166-1 alpha-2 of the customer's country."`
	CurrencyCode     string        `json:"currencyCode" example:"ZAR" doc:"ISO 4217 of the amount."`
	Amount           string        `json:"amount" example:"1000.00" doc:"The total, exact: the sum of price × quantity. A payment webhook with another amount or currency puts the payment on hold."`
	Items            []OrderItem   `json:"items" nullable:"false" doc:"The priced lines, one per SKU."`
	LastError        string        `json:"lastError,omitempty" example:"pay1st: create payment: HTTP 503" doc:"Why the last call to Pay1st failed, in Pay1st's words."`
	CreatedAt        time.Time     `json:"createdAt" doc:"When partnerhub stored the order (before calling Pay1st)."`
	UpdatedAt        time.Time     `json:"updatedAt" doc:"When the order last changed."`
}

func orderOut(o payment.Order) Order {
	out := Order{PartnerReference: o.PartnerReference, Environment: o.Env, Gateway: o.Gateway, Status: o.Status,
		Reference: o.Reference, PaymentStatus: o.PaymentStatus, Customer: OrderCustomer{ID: o.CustomerID},
		CountryCode: o.CountryCode, CurrencyCode: o.CurrencyCode, Amount: tenant.DecimalString(o.Amount),
		Items: make([]OrderItem, 0, len(o.Items)), LastError: o.LastError, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
	for _, it := range o.Items {
		out.Items = append(out.Items, OrderItem{SKU: it.SKU, Title: it.Title, Quantity: it.Quantity,
			Price: tenant.DecimalString(it.Price), DigitalAmount: tenant.DecimalString(it.DigitalAmount),
			DigitalCurrency: DigitalCurrency{Name: it.DigitalCurrencyName, Code: it.DigitalCurrencyCode}})
	}
	return out
}

// CreatedOrder is create-order's answer: the order and the checkout link.
type CreatedOrder struct {
	Order
	CheckoutURL string `json:"checkoutUrl" example:"https://checkout.example.com/checkout?accessToken=...&channelId=7&reference=C-6f1c2a9b-P" doc:"Where to send the customer to pay. It carries a Pay1st access token: hand it to that customer only, do not log it. Valid while the token is (about an hour); the same request again answers a fresh one."`
}

// CreateOrderInput is create-order's.
type CreateOrderInput struct {
	OrderPath
	Body OrderBody
}

// CreateOrderOutput is create-order's answer: 201 for a new order, 200 for
// the same request again.
type CreateOrderOutput struct {
	Status   int
	Location string `header:"Location" doc:"The order's URL."`
	Body     CreatedOrder
}

// OrderIDInput names one order.
type OrderIDInput struct {
	OrderPath
	PartnerReference string `path:"partnerReference" pattern:"^[A-Za-z0-9._~:-]{1,128}$" example:"order-4a662291" doc:"The order's partnerReference, chosen by the caller when it was created."`
}

// OrderOutput is one order.
type OrderOutput struct {
	Body Order
}

// ListOrdersInput pages and filters list-orders.
type ListOrdersInput struct {
	OrderPath
	PageParams
	Status string `query:"status" enum:"creating,created,unknown,failed,flagged" doc:"Only orders in this status."`
}

// OrderList is a page of orders.
type OrderList struct {
	Items      []Order `json:"items" nullable:"false" doc:"Orders, newest first."`
	NextCursor string  `json:"nextCursor,omitempty" example:"MTI" doc:"Pass as cursor for the next page; absent on the last page."`
}

// OrderListOutput is list-orders' answer.
type OrderListOutput struct {
	Link string `header:"Link" doc:"The next page, as <url>; rel=\"next\"; absent on the last page."`
	Body OrderList
}

// Register adds the order operations to api.
func (h *OrderHandler) Register(api huma.API) {
	const orders = "/v1/tenants/{partnerCode}/environments/{env}/orders"
	tags := []string{"Orders"}
	read := []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity}
	huma.Register(api, huma.Operation{
		OperationID: "create-order", Method: http.MethodPost, Path: orders, Tags: tags,
		Summary: "Create an order (a payment at Pay1st)",
		Description: "Prices the products from the environment's catalog, stores the order, creates the payment at the " +
			"Pay1st Gateway with the environment's credentials (callbacks: partnerhub's return endpoints; webhook: the " +
			"environment's payment-events URL) and answers 201 with the customer's checkout link. Idempotent on " +
			"partnerReference: the same request again answers 200 with the stored order (Pay1st is called again only if " +
			"it had not confirmed it); another request with the same partnerReference is 409. An unknown SKU, a product " +
			"not sold or priced in the country, or a bad quantity is 422 naming the SKU, with nothing stored. When an " +
			"answer from Pay1st was lost (or it failed with a 5xx) and Pay1st then refuses the request, the outcome is " +
			"unknown: 409, the order shows status unknown, Pay1st is not asked again and no second payment is made: " +
			"use a new partnerReference (if a webhook later tells the payment, the same request answers it). A " +
			"flagged order is 409. Another request creating the same order right now, or Pay1st rate limiting, is " +
			"503 with Retry-After: repeat the same request then. Pay1st refusing the request is 422 (400) or " +
			"502 (other 4xx), with Pay1st's message; Pay1st unavailable is 502, too slow 504: repeat the same request. " +
			"No gateway configured for the environment is 503; missing Pay1st credentials 409. Operators, or the " +
			"tenant's admin keys (viewer keys get 403).",
		Security: bearer, DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict,
			http.StatusUnprocessableEntity, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout},
	}, h.create)
	huma.Register(api, huma.Operation{
		OperationID: "list-orders", Method: http.MethodGet, Path: orders, Tags: tags,
		Summary:     "List orders",
		Description: "The environment's orders, newest first, a page at a time; filter by status. No checkout links (they hold an access token). Operators and the tenant's keys; another tenant's orders are not found (404).",
		Security:    bearer, Errors: read,
	}, h.list)
	huma.Register(api, huma.Operation{
		OperationID: "get-order", Method: http.MethodGet, Path: orders + "/{partnerReference}", Tags: tags,
		Summary:     "Get an order",
		Description: "One order by partnerReference, with its items and its payment's status. No checkout link (it holds an access token): repeat create-order for one. Operators and the tenant's keys; another tenant's order is not found (404).",
		Security:    bearer, Errors: read,
	}, h.get)
}

func (h *OrderHandler) create(ctx context.Context, in *CreateOrderInput) (*CreateOrderOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	o, created, err := h.payments.CreateOrder(ctx, t, in.Env, in.Body.request())
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return &CreateOrderOutput{Status: status, Location: in.base() + "/" + url.PathEscape(o.PartnerReference),
		Body: CreatedOrder{Order: orderOut(o), CheckoutURL: o.CheckoutURL}}, nil
}

func (h *OrderHandler) get(ctx context.Context, in *OrderIDInput) (*OrderOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	o, err := h.payments.Order(ctx, t.ID, in.Env, in.PartnerReference)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &OrderOutput{Body: orderOut(o)}, nil
}

func (h *OrderHandler) list(ctx context.Context, in *ListOrdersInput) (*OrderListOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	page, err := h.payments.ListOrders(ctx, payment.OrderFilter{TenantID: t.ID, Env: in.Env, Status: in.Status,
		Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &OrderListOutput{Body: OrderList{Items: make([]Order, 0, len(page.Orders)), NextCursor: page.NextCursor}}
	for _, o := range page.Orders {
		out.Body.Items = append(out.Body.Items, orderOut(o))
	}
	out.Link = nextLink(in.base(), url.Values{"status": {in.Status}}, tenant.PageLimit(in.Limit), page.NextCursor)
	return out, nil
}
