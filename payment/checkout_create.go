package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/tenant"
)

// Checkout is what orders need besides the database: the catalog, the
// environments' credentials and URLs, and the Pay1st clients.
type Checkout struct {
	Tenants  *tenant.Service
	Gateways *pay1st.Gateways
	// PublicURL is where Pay1st and browsers reach partnerhub; the
	// webhook and callback URLs of each payment are built from it. Empty:
	// none are sent (Pay1st uses those set in its Console).
	PublicURL string
	// CallTimeout bounds the Pay1st calls of one create-order request, all
	// retries included: it must end before the HTTP server's write timeout,
	// or the caller never hears the answer. DefaultOrderCallTimeout when 0.
	CallTimeout time.Duration
	Logger      *slog.Logger
}

func (c *Checkout) lease() time.Duration { return c.CallTimeout + orderLeaseMargin }

// SetCheckout enables orders. Call it once at start-up, before serving.
func (s *Service) SetCheckout(c Checkout) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultOrderCallTimeout
	}
	s.checkout = &c
}

// CreateOrder creates a payment at Pay1st for t's environment env, priced
// from the catalog, and returns the order with its checkout link. created
// says this call created the payment at Pay1st; it is false when the order
// was created before (same partnerReference, same request): it is returned
// as stored. Pay1st is only called again for an order it has not
// confirmed and that cannot exist there (creating, failed). The order is
// stored before Pay1st is called, so whatever happens after leaves a
// trace. The whole request, reads included, runs under Checkout's
// CallTimeout.
//
// Errors: a *tenant.FieldError for bad input or a catalog problem (nothing
// stored); ErrOrderConflict; ErrOrderUnknown (the payment may exist: use
// a new partnerReference); ErrOrderFlagged; a *RetryLaterError (another
// request holds the order, or Pay1st rate limits); tenant.ErrNotFound;
// tenant.ErrCredentialsMissing and pay1st.ErrNoGateway (nothing stored);
// the client's pay1st errors (order kept, retryable with the same request
// unless refused).
func (s *Service) CreateOrder(ctx context.Context, t tenant.Tenant, env string, req OrderRequest) (o Order, created bool, err error) {
	co := s.checkout
	if co == nil {
		return Order{}, false, ErrOrdersDisabled
	}
	if !knownEnv(env) {
		return Order{}, false, tenant.ErrNotFound
	}
	if err := req.Validate(); err != nil {
		return Order{}, false, err
	}
	// The budget starts now: the answer must leave before the HTTP
	// server's write timeout, whatever the reads before Pay1st took.
	ctx, cancel := context.WithTimeout(ctx, co.CallTimeout)
	defer cancel()
	client, err := co.Gateways.Client(env, req.gateway())
	if err != nil {
		return Order{}, false, err
	}
	creds, err := co.Tenants.GatewayCredentials(ctx, t.PartnerCode, env)
	if err != nil {
		return Order{}, false, err
	}
	e, err := co.Tenants.Env(ctx, t.PartnerCode, env)
	if err != nil {
		return Order{}, false, err
	}
	pcreds := pay1st.Credentials(creds)
	hash := req.hash()
	var st orderStore

	stored, err := st.byPartnerReference(ctx, s.pool, t.ID, env, req.PartnerReference)
	fresh := false // this call stored the order (and holds it)
	switch {
	case errors.Is(err, ErrNotFound):
		stored, fresh, err = s.insertOrder(ctx, co, t, env, req, hash)
		if err != nil {
			return Order{}, false, err
		}
	case err != nil:
		return Order{}, false, err
	}
	if !stored.sameRequest(hash) {
		return Order{}, false, fmt.Errorf("%w (partnerReference %s)", ErrOrderConflict, req.PartnerReference)
	}
	if done, o, err := s.settled(ctx, client, pcreds, t, stored.Order); done {
		return o, false, err
	}
	mayExist := false
	if !fresh {
		c, err := st.claim(ctx, s.pool, stored.ID, co.lease())
		if err != nil {
			return Order{}, false, err
		}
		if !c.ok {
			// Another request holds it, or it was settled meanwhile.
			again, err := st.byPartnerReference(ctx, s.pool, t.ID, env, req.PartnerReference)
			if err != nil {
				return Order{}, false, err
			}
			if done, o, err := s.settled(ctx, client, pcreds, t, again.Order); done {
				return o, false, err
			}
			return Order{}, false, &RetryLaterError{After: max(c.busyFor.Round(time.Second), time.Second),
				Err: fmt.Errorf("%w (partnerReference %s): repeat the same request later", ErrOrderBusy, req.PartnerReference)}
		}
		mayExist = c.mayExist
	}
	o, err = s.callCreate(ctx, co, client, pcreds, t, e, stored.Order, mayExist)
	return o, err == nil, err
}

// settled answers for an order Pay1st must not be asked about again:
// created (with a fresh checkout link), unknown or flagged. done is false
// for the others.
func (s *Service) settled(ctx context.Context, client *pay1st.Client, creds pay1st.Credentials, t tenant.Tenant, o Order) (done bool, _ Order, _ error) {
	switch o.Status {
	case OrderCreated:
		o, err := s.withCheckoutURL(ctx, client, creds, t, o)
		return true, o, err
	case OrderUnknown:
		return true, Order{}, unknownError(o)
	case OrderFlagged:
		return true, Order{}, fmt.Errorf("%w (partnerReference %s): %s", ErrOrderFlagged, o.PartnerReference, o.LastError)
	}
	return false, Order{}, nil
}

func unknownError(o Order) error {
	return fmt.Errorf("%w: order %s may or may not exist at Pay1st (an answer was lost, then Pay1st refused the "+
		"request), and nobody has its checkout link: create the order again with a new partnerReference. If a "+
		"webhook or reconciliation later learns its payment, this order becomes created and this request answers it",
		ErrOrderUnknown, o.PartnerReference)
}

// insertOrder prices the request and stores the order. When a concurrent
// request stored the same partnerReference first, it returns that order
// and fresh false.
func (s *Service) insertOrder(ctx context.Context, co *Checkout, t tenant.Tenant, env string, req OrderRequest, hash []byte) (storedOrder, bool, error) {
	skus := make([]string, len(req.Products))
	for i, l := range req.Products {
		skus[i] = l.SKU
	}
	bundles, err := co.Tenants.BundlesForSale(ctx, t.ID, env, skus)
	if err != nil {
		return storedOrder{}, false, err
	}
	items, currency, amount, err := price(req, bundles)
	if err != nil {
		return storedOrder{}, false, err
	}
	o := Order{TenantID: t.ID, Env: env, PartnerReference: req.PartnerReference, Gateway: req.gateway(),
		Status: OrderCreating, CountryCode: req.CountryCode, CurrencyCode: currency, Amount: amount,
		CustomerID: req.CustomerID, Items: items}
	var st orderStore
	var inserted bool
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		o.ID, inserted, err = st.insert(ctx, tx, o, hash, co.lease())
		return err
	})
	if err != nil {
		return storedOrder{}, false, err
	}
	// Read back either way: timestamps, and the winner's row on a race.
	stored, err := st.byPartnerReference(ctx, s.pool, t.ID, env, req.PartnerReference)
	return stored, inserted, err
}

// callCreate asks Pay1st to create o's payment and records what it said.
// The order is ours (claimed) until finish releases it. mayExist says an
// earlier call may have reached Pay1st unanswered.
func (s *Service) callCreate(ctx context.Context, co *Checkout, client *pay1st.Client, creds pay1st.Credentials, t tenant.Tenant, e tenant.Env, o Order, mayExist bool) (Order, error) {
	req := pay1st.CreatePaymentRequest{CountryCode: o.CountryCode, CurrencyCode: o.CurrencyCode, Amount: o.Amount,
		PartnerReference: o.PartnerReference,
		Metadata:         []pay1st.Metadata{{Key: "customerId", Value: strconv.FormatInt(o.CustomerID, 10)}}}
	if co.PublicURL != "" {
		urls := map[string]string{}
		for _, u := range tenant.IntegrationURLs(co.PublicURL, t.PartnerCode, o.Env, e.AuthMode) {
			urls[u.Key] = u.URL
		}
		req.CallbackSuccessURL, req.CallbackFailureURL = urls["callbackSuccessUrl"], urls["callbackFailureUrl"]
		req.CallbackPendingURL, req.CallbackCancelURL = urls["callbackPendingUrl"], urls["callbackCancelUrl"]
		req.WebhookURL = tenant.WebhookURL(co.PublicURL, t.PartnerCode, o.Env)
		if e.AuthMode == tenant.AuthToken && e.WebhookToken != "" {
			req.WebhookURL += "?token=" + e.WebhookToken
		}
	}
	for _, it := range o.Items {
		req.Products = append(req.Products, pay1st.Product{Title: it.Title, SKU: it.SKU, Price: it.Price,
			Quantity: it.Quantity, CurrencyCode: o.CurrencyCode})
	}
	// Pay1st may quote the webhook URL we sent, token included: the client
	// scrubs it from its errors and logs, and so does redacted for any
	// other text on the way out.
	scope := &pay1st.CallScope{Secrets: []string{e.WebhookToken, e.PreviousWebhookToken}}
	got, err := client.CreatePayment(pay1st.WithCallScope(ctx, scope), creds, req)
	if err != nil {
		err = redacted(e, err)
	}
	mayExist = mayExist || scope.Ambiguous()
	var ae *pay1st.APIError
	switch {
	case err == nil:
		if !got.Amount.Equal(o.Amount) || got.CurrencyCode != o.CurrencyCode {
			// Its webhooks will be held (holdReason); say so now too.
			co.Logger.WarnContext(ctx, "Pay1st created the payment with another amount or currency", "order", o,
				"amount", got.Amount.String(), "currency", got.CurrencyCode)
		}
		f, err := s.finish(ctx, o, OrderCreated, got.Reference, "", false,
			"Pay1st's create answered reference "+got.Reference+", but an event had taught another")
		if err != nil {
			return Order{}, err
		}
		if f.status == OrderFlagged {
			co.Logger.ErrorContext(ctx, "Pay1st's create answered another reference than an event had taught; order flagged",
				"order", o, "answered", got.Reference, "earlier", f.earlier)
			return Order{}, fmt.Errorf("%w (partnerReference %s): Pay1st answered reference %s, an event had told %s",
				ErrOrderFlagged, o.PartnerReference, got.Reference, f.earlier)
		}
		o.Status, o.Reference, o.LastError = OrderCreated, got.Reference, ""
		if f.earlier != "" {
			o.Reference = f.earlier
		}
		return s.withCheckoutURL(ctx, client, creds, t, o)
	case errors.Is(err, pay1st.ErrRateLimited):
		// Pay1st did not take the request: nothing changes but the reason.
		s.release(ctx, o, err, mayExist)
		return Order{}, &RetryLaterError{After: RateLimitedRetryAfter,
			Err: fmt.Errorf("create payment for order %s: %w", o.PartnerReference, err)}
	case errors.Is(err, pay1st.ErrConflict), mayExist && errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500:
		// Pay1st knows the partnerReference, or refuses a request an
		// earlier, unanswered one may have made (it may say 400, not 409,
		// for a reused partnerReference). The payment may exist; a new
		// create would only be refused again, and another reference would
		// be a second payment. Its webhook may tell.
		f, ferr := s.finish(ctx, o, OrderUnknown, "", err.Error(), true, "")
		if ferr != nil {
			return Order{}, ferr
		}
		if f.status != OrderUnknown {
			return s.answerSettled(ctx, client, creds, t, o)
		}
		return Order{}, fmt.Errorf("%w (Pay1st: %w)", unknownError(o), err)
	case errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500:
		f, ferr := s.finish(ctx, o, OrderFailed, "", err.Error(), false, "")
		if ferr != nil {
			return Order{}, ferr
		}
		if f.status != OrderFailed {
			return s.answerSettled(ctx, client, creds, t, o)
		}
		return Order{}, fmt.Errorf("create payment for order %s: %w", o.PartnerReference, err)
	default:
		// 5xx, network, timeout, an unreadable answer: Pay1st may or may
		// not have it (unless the token request failed: nothing was
		// sent). The same request retries; a lost answer then shows as a
		// refusal, which makes the order unknown.
		s.release(ctx, o, err, mayExist || errors.Is(err, pay1st.ErrBadResponse) || errors.Is(err, pay1st.ErrResponseTooLarge))
		return Order{}, fmt.Errorf("create payment for order %s: %w", o.PartnerReference, err)
	}
}

// answerSettled answers for an order an event settled while Pay1st was
// being called (it learned its reference): as stored.
func (s *Service) answerSettled(ctx context.Context, client *pay1st.Client, creds pay1st.Credentials, t tenant.Tenant, o Order) (Order, error) {
	again, err := orderStore{}.byPartnerReference(ctx, s.pool, t.ID, o.Env, o.PartnerReference)
	if err != nil {
		return Order{}, err
	}
	if done, o, err := s.settled(ctx, client, creds, t, again.Order); done {
		return o, err
	}
	return Order{}, fmt.Errorf("order %s: status %s after a call to Pay1st", o.PartnerReference, again.Status)
}

// redactedError is an error whose text has an environment's webhook
// tokens scrubbed; the chain stays, so errors.Is and As still see Pay1st's
// error.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redacted is err without the environment's webhook tokens in its text:
// Pay1st may quote the webhook URL we sent, and the text reaches the API's
// answer, logs and the stored lastError. The client already removed the
// credentials and access tokens.
func redacted(e tenant.Env, err error) error {
	msg := err.Error()
	clean := string(e.RedactWebhookTokens([]byte(msg)))
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

// finish records an outcome even if the caller went away meanwhile: what
// Pay1st said must not be lost with the request.
func (s *Service) finish(ctx context.Context, o Order, status, reference, lastError string, mayExist bool, flagReason string) (finished, error) {
	return orderStore{}.finish(context.WithoutCancel(ctx), s.pool, o.ID, status, reference, lastError, mayExist, flagReason)
}

// release gives the order back, still creating, after a failure that
// leaves it retryable.
func (s *Service) release(ctx context.Context, o Order, cause error, mayExist bool) {
	if _, err := s.finish(ctx, o, OrderCreating, "", cause.Error(), mayExist, ""); err != nil && s.checkout != nil {
		s.checkout.Logger.WarnContext(ctx, "could not release order", "order", o, "err", err)
	}
}

// withCheckoutURL adds the customer's checkout link. The channel is the
// tenant's Pay1st partner id; the token is the environment's current
// access token (cached by the client).
func (s *Service) withCheckoutURL(ctx context.Context, client *pay1st.Client, creds pay1st.Credentials, t tenant.Tenant, o Order) (Order, error) {
	token, err := client.AccessToken(ctx, creds)
	if err != nil {
		return Order{}, fmt.Errorf("checkout link for order %s: %w", o.PartnerReference, err)
	}
	o.CheckoutURL = client.CheckoutURL(o.Reference, strconv.FormatInt(t.PartnerID, 10), token)
	return o, nil
}

// Order returns a tenant environment's order by partnerReference (without
// checkout link). ErrNotFound when none.
func (s *Service) Order(ctx context.Context, tenantID int64, env, partnerReference string) (Order, error) {
	if !knownEnv(env) {
		return Order{}, ErrNotFound
	}
	o, err := orderStore{}.byPartnerReference(ctx, s.pool, tenantID, env, partnerReference)
	return o.Order, err
}

// OrderByReference returns a tenant environment's order by Pay1st
// reference. ErrNotFound when none.
func (s *Service) OrderByReference(ctx context.Context, tenantID int64, env, reference string) (Order, error) {
	return s.OrderByReferenceTx(ctx, nil, tenantID, env, reference)
}

// OrderByReferenceTx is OrderByReference inside the caller's transaction
// (the pool when tx is nil).
func (s *Service) OrderByReferenceTx(ctx context.Context, tx pgx.Tx, tenantID int64, env, reference string) (Order, error) {
	var q db.Querier = s.pool
	if tx != nil {
		q = tx
	}
	o, err := orderStore{}.byReference(ctx, q, tenantID, env, reference)
	return o.Order, err
}

// OrderFilter selects orders of one tenant environment.
type OrderFilter struct {
	TenantID int64
	Env      string
	Status   string // "" for all
	Limit    int
	Cursor   string
}

// ListOrders returns a page of orders, newest first, cursor-paged like
// every list.
func (s *Service) ListOrders(ctx context.Context, f OrderFilter) (OrderPage, error) {
	if !knownEnv(f.Env) {
		return OrderPage{}, ErrNotFound
	}
	switch f.Status {
	case "", OrderCreating, OrderCreated, OrderUnknown, OrderFailed, OrderFlagged:
	default:
		return OrderPage{}, &tenant.FieldError{In: "query", Field: "status", Problem: "must be creating, created, unknown, failed or flagged"}
	}
	before, err := tenant.DecodeCursor(f.Cursor)
	if err != nil {
		return OrderPage{}, err
	}
	limit := tenant.PageLimit(f.Limit)
	rows, err := orderStore{}.list(ctx, s.pool, f.TenantID, f.Env, f.Status, before, limit+1)
	if err != nil {
		return OrderPage{}, err
	}
	page := OrderPage{Orders: make([]Order, 0, len(rows))}
	for _, r := range rows {
		page.Orders = append(page.Orders, r.Order)
	}
	if len(page.Orders) > limit {
		page.Orders = page.Orders[:limit]
		page.NextCursor = tenant.EncodeCursor(page.Orders[limit-1].ID)
	}
	return page, nil
}
